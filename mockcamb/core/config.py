"""Config files for ``mockcamb serve --config``: settings and tasks to preload, YAML or JSON.

A scenario file a config names (a task's ``scenario``, ``settings.default_scenario``) is
found relative to the config file's folder, as an include would be."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..stores.base import TaskGone
from .emulator import Emulator
from .errors import ConfigError, MockCambError, ScenarioError, prefix_lines
from .problems import FieldPath, LineMap, Problem, field_name, plural
from .scenario import (
    Scenario,
    check_scenario_file,
    is_file_spec,
    library_name,
    parse_scenario,
    read_document,
    resolve_scenario,
    scenario_warnings,
)
from .spelling import closest

CONFIG_FIELDS = (
    "settings",
    "tasks",
    "clock",
    "time_scale",
    "host",
    "port",
    "admin_token",
    "store",
    "store_prefix",
)


class _Located:
    """Where the fields of one config file are: ``FILE:LINE:`` prefixes, lines found lazily."""

    def __init__(self, path: Path, text: str) -> None:
        self.file = str(path)
        self._text = text
        self._lines: LineMap | None = None

    def lines(self) -> LineMap:
        if self._lines is None:
            self._lines = LineMap.of(self._text)
        return self._lines

    def place(self, path: FieldPath) -> str:
        line = self.lines().line(path)
        return self.file if line is None else f"{self.file}:{line}"

    def problems(
        self, problems: tuple[Problem, ...], path: FieldPath, label: str = "", more: int = 0
    ) -> list[str]:
        """``problems`` of a document held at ``path`` in this file, a line each."""
        located = self.lines().locate(problems, path)
        where = field_name("", path)
        out = [p.describe(where, self.file, label) for p in located]
        if more:
            out.append(f"{self.place(path)}: {where}: and {plural(more, 'more problem')}")
        return out


def load_config(
    path: str | Path, *, on_warning: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Read and shape-check a config file (safe YAML loader).

    The scenarios its tasks and ``settings.default_scenario`` name are resolved here (files
    relative to the config's folder) and come back as :class:`Scenario` objects, so every
    problem is reported as ``FILE:LINE: field: problem``; each warning (a near-miss status)
    goes to ``on_warning``, one line each."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--config: no such file: {p}")
    try:
        text, doc = read_document(p)
    except MockCambError as exc:
        raise ConfigError(f"--config: {exc}") from None
    if doc is None:
        return {}
    here = _Located(p, text)
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{p}: must be a mapping with keys {', '.join(CONFIG_FIELDS)}")
    for key in doc:
        if key not in CONFIG_FIELDS:
            guess = closest(key, CONFIG_FIELDS) if isinstance(key, str) else None
            hint = f" did you mean {guess}?" if guess else ""
            raise ConfigError(
                f"{here.place((str(key),))}: {key}: unknown key;{hint} expected one of "
                f"{', '.join(CONFIG_FIELDS)}"
            )
    for key in ("store", "store_prefix", "admin_token", "host", "clock"):
        if key in doc and not isinstance(doc[key], str):
            raise ConfigError(f"{here.place((key,))}: {key}: must be a string, got {doc[key]!r}")
    tasks = doc.get("tasks", [])
    if not isinstance(tasks, list):
        raise ConfigError(f"{p}: tasks: must be a list of {{kind, task_id, scenario}}")
    out = dict(doc)
    warn = on_warning or (lambda line: None)
    settings = doc.get("settings")
    if isinstance(settings, Mapping) and "default_scenario" in settings:
        out["settings"] = dict(settings)
        out["settings"]["default_scenario"] = _scenario(
            settings["default_scenario"], ("settings", "default_scenario"), here, warn
        )
    if isinstance(settings, Mapping) and "scenarios" in settings:
        out["settings"] = {
            **out.get("settings", settings),
            "scenarios": _library(settings, here, warn),
        }
    if tasks:
        out["tasks"] = [
            {**item, "scenario": _scenario(item["scenario"], ("tasks", i, "scenario"), here, warn)}
            if isinstance(item, Mapping) and item.get("scenario") is not None
            else item
            for i, item in enumerate(tasks)
        ]
    return out


def _scenario(
    spec: Any, path: FieldPath, here: _Located, warn: Callable[[str], None]
) -> Scenario | str:
    """The scenario a config names at ``path``: a preset, a document in the config, or a file
    relative to the config's folder. Problems are located in the config (and in the file).
    A ``recorded/<name>`` of the library stays a name, found once the settings are set."""
    where = field_name("", path)
    if library_name(spec) is not None:
        return str(spec)
    if isinstance(spec, str) and is_file_spec(spec):
        file = Path(spec) if Path(spec).is_absolute() else Path(here.file).parent / spec
        try:
            scenario, warnings = check_scenario_file(file)
        except ScenarioError as exc:
            raise ConfigError(prefix_lines(here.place(path), exc.within(where))) from None
        for problem in warnings:
            warn(f"{here.place(path)}: {where}: {problem.describe('', str(file), 'warning')}")
        return scenario
    if isinstance(spec, Mapping):
        try:
            scenario = parse_scenario(spec, where=where)
        except ScenarioError as exc:
            raise ConfigError("\n".join(here.problems(exc.problems, path, more=exc.more))) from None
        for line in here.problems(scenario_warnings(scenario), path, "warning"):
            warn(line)
        return scenario
    try:
        return resolve_scenario(spec)
    except ScenarioError as exc:
        raise ConfigError(prefix_lines(here.place(path), exc.within(where))) from None


def _library(settings: Mapping[str, Any], here: _Located, warn: Callable[[str], None]) -> Any:
    """``settings.scenarios`` of a config: a directory (relative to the config's folder) or
    ``{name: scenario}``, each found as :func:`_scenario` finds one."""
    value = settings["scenarios"]
    if isinstance(value, str):
        return str(Path(value) if Path(value).is_absolute() else Path(here.file).parent / value)
    if not isinstance(value, Mapping):
        return value  # update_settings names the problem
    return {
        name: _scenario(spec, ("settings", "scenarios", str(name)), here, warn)
        for name, spec in value.items()
    }


def _held(emu: Emulator, kind: str, task_id: str) -> bool:
    """True if the store holds the task already (one it found without its scenario is
    forgotten, so not held)."""
    try:
        return emu.get_task(kind, task_id) is not None
    except TaskGone:
        return False


def preload(emu: Emulator, config: Mapping[str, Any], where: str = "config") -> None:
    """Apply a config's ``settings`` and create its ``tasks`` on ``emu``.

    On a shared store (Redis) a task that exists already is left as it is, so a restarted
    worker, or a second host with the same config, does not fail on its own preload."""
    shared = emu.store.shared
    try:
        if config.get("settings") is not None:
            emu.configure(config["settings"], allow_files=True)
        for i, item in enumerate(config.get("tasks") or []):
            if not isinstance(item, Mapping):
                raise ConfigError(f"tasks[{i}]: must be a mapping with kind, task_id, scenario")
            extra = set(item) - {"kind", "task_id", "scenario"}
            if extra:
                raise ConfigError(f"tasks[{i}].{sorted(extra)[0]}: unknown field")
            kind, task_id = item.get("kind", ""), item.get("task_id")
            if shared and isinstance(task_id, str) and _held(emu, kind, task_id):
                continue
            try:
                emu.create_task(
                    kind,
                    task_id,
                    item.get("scenario"),
                    allow_files=True,
                )
            except ScenarioError as exc:
                raise ConfigError(exc.within(f"tasks[{i}].scenario")) from None
            except MockCambError as exc:
                raise ConfigError(f"tasks[{i}].{exc}") from None
    except MockCambError as exc:
        raise ConfigError(prefix_lines(where, str(exc))) from None
