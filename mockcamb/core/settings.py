"""Emulator-wide settings: defaults, and partial updates from the admin API or a config file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import ConfigError, ScenarioError
from .problems import plural
from .scenario import (
    MAX_LIBRARY,
    MAX_PROBLEMS,
    Fault,
    Latency,
    Scenario,
    check_library_name,
    in_library,
    load_preset,
    load_scenario_dir,
    parse_fault,
    parse_latency,
    resolve_scenario,
    scenario_warnings,
)
from .spelling import closest

UNKNOWN_TASK_POLICIES = ("404", "auto")
#: The journal's bounds: entries (``journal_size``) and bytes (``journal_bytes``, as
#: :func:`mockcamb.core.journal.entry_bytes` counts them); whichever binds first.
MAX_JOURNAL_SIZE = 1_000_000
DEFAULT_JOURNAL_BYTES = 64 * 1024 * 1024
MIN_JOURNAL_BYTES = 64 * 1024
MAX_JOURNAL_BYTES = 16 * 1024 * 1024 * 1024
SETTING_FIELDS = (
    "api_keys",
    "unknown_task",
    "default_scenario",
    "latency",
    "faults",
    "seed",
    "journal_size",
    "journal_bytes",
    "max_tasks",
    "finished_ttl",
    "history_limit",
    "scenarios",
)


def _default_scenario() -> Scenario:
    return load_preset("happy_path")


@dataclass(frozen=True)
class Settings:
    """Everything that is not per task. ``api_keys=None`` accepts any non-empty key."""

    api_keys: frozenset[str] | None = None
    unknown_task: str = "404"
    default_scenario: Scenario = field(default_factory=_default_scenario)
    latency: Latency | None = None
    faults: tuple[Fault, ...] = ()
    seed: int = 0
    journal_size: int = 10_000
    journal_bytes: int = DEFAULT_JOURNAL_BYTES
    max_tasks: int = 200_000
    finished_ttl: float | None = None
    history_limit: int = 50
    #: The library: named scenarios new tasks may run as ``recorded/<name>``.
    scenarios: Mapping[str, Scenario] = field(default_factory=dict)

    def scenario_for(self, spec: Any, *, allow_files: bool = False) -> Scenario:
        """The scenario a create asks for (a preset, ``recorded/<name>`` of the library, a
        document; a file path if ``allow_files``), or the default one when ``spec`` is None."""
        if spec is None:
            return self.default_scenario
        return resolve_scenario(spec, allow_files=allow_files, library=self.scenarios)

    def to_dict(self) -> dict[str, Any]:
        """A JSON view; accepted keys are counted, never shown."""
        return {
            "api_keys": None if self.api_keys is None else {"count": len(self.api_keys)},
            "unknown_task": self.unknown_task,
            "default_scenario": self.default_scenario.to_dict(),
            "latency": None if self.latency is None else self.latency.to_dict(),
            "faults": [f.to_dict() for f in self.faults],
            "seed": self.seed,
            "journal_size": self.journal_size,
            "journal_bytes": self.journal_bytes,
            "max_tasks": self.max_tasks,
            "finished_ttl": self.finished_ttl,
            "history_limit": self.history_limit,
            "scenarios": {name: sc.to_dict() for name, sc in self.scenarios.items()},
        }


def _int_field(doc: Mapping[str, Any], name: str, lo: int, hi: int) -> int:
    value = doc[name]
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"settings.{name}: must be an integer from {lo} to {hi}, got {value!r}")
    return value


def _faults(docs: list[Any]) -> tuple[Fault, ...]:
    """``settings.faults``, with the problems of every bad fault (the first few dozen)."""
    parsed: list[Fault] = []
    problems: list[str] = []
    for i, doc in enumerate(docs):
        try:
            parsed.append(parse_fault(doc, f"settings.faults[{i}]"))
        except ScenarioError as exc:
            problems.extend(exc.lines())
    if problems:
        more = len(problems) - MAX_PROBLEMS
        tail = [f"settings.faults: and {plural(more, 'more problem')}"] if more > 0 else []
        raise ConfigError("\n".join(problems[:MAX_PROBLEMS] + tail))
    return tuple(parsed)


def update_settings(base: Settings, doc: Any, *, allow_files: bool = False) -> Settings:
    """Return ``base`` with the fields named in ``doc`` changed; unknown fields are errors."""
    if not isinstance(doc, Mapping):
        raise ConfigError("settings: must be a JSON object")
    for key in doc:
        if key not in SETTING_FIELDS:
            guess = closest(key, SETTING_FIELDS) if isinstance(key, str) else None
            hint = f" did you mean {guess}?" if guess else ""
            raise ConfigError(
                f"settings.{key}: unknown setting;{hint} expected one of: "
                f"{', '.join(SETTING_FIELDS)}"
            )
    changes: dict[str, Any] = {}
    if "scenarios" in doc:
        changes["scenarios"] = parse_library(doc["scenarios"], allow_files=allow_files)
    library = changes.get("scenarios", base.scenarios)
    try:
        if "api_keys" in doc:
            keys = doc["api_keys"]
            if keys is None:
                changes["api_keys"] = None
            elif (
                isinstance(keys, list)
                and keys
                and all(isinstance(k, str) and k and len(k) <= 4096 for k in keys)
            ):
                changes["api_keys"] = frozenset(keys)
            else:
                raise ConfigError(
                    "settings.api_keys: must be null (any key) or a non-empty list of "
                    "non-empty strings"
                )
        if "unknown_task" in doc:
            policy = str(doc["unknown_task"]) if isinstance(doc["unknown_task"], (str, int)) else ""
            if policy not in UNKNOWN_TASK_POLICIES:
                raise ConfigError(
                    f"settings.unknown_task: must be '404' or 'auto', got {doc['unknown_task']!r}"
                )
            changes["unknown_task"] = policy
        if "default_scenario" in doc:
            try:
                changes["default_scenario"] = resolve_scenario(
                    doc["default_scenario"], allow_files=allow_files, library=library
                )
            except ScenarioError as exc:
                raise ConfigError(exc.within("settings.default_scenario")) from None
        if "latency" in doc:
            changes["latency"] = parse_latency(doc["latency"], "settings.latency")
        if "faults" in doc:
            faults = doc["faults"]
            if not isinstance(faults, list) or len(faults) > 1000:
                raise ConfigError("settings.faults: must be a list of at most 1000 faults")
            changes["faults"] = _faults(faults)
        if "seed" in doc:
            changes["seed"] = _int_field(doc, "seed", -(2**63), 2**63 - 1)
        if "journal_size" in doc:
            changes["journal_size"] = _int_field(doc, "journal_size", 0, MAX_JOURNAL_SIZE)
        if "journal_bytes" in doc:
            changes["journal_bytes"] = _int_field(
                doc, "journal_bytes", MIN_JOURNAL_BYTES, MAX_JOURNAL_BYTES
            )
        if "max_tasks" in doc:
            changes["max_tasks"] = _int_field(doc, "max_tasks", 1, 100_000_000)
        if "history_limit" in doc:
            changes["history_limit"] = _int_field(doc, "history_limit", 0, 100_000)
        if "finished_ttl" in doc:
            ttl = doc["finished_ttl"]
            if ttl is not None and (
                not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or not 0 <= ttl < 1e12
            ):
                raise ConfigError(
                    f"settings.finished_ttl: must be null or seconds >= 0, got {ttl!r}"
                )
            changes["finished_ttl"] = None if ttl is None else float(ttl)
    except ScenarioError as exc:  # latency and faults, parsed under their settings.* names
        raise ConfigError(str(exc)) from None
    return replace(base, **changes)


def parse_library(value: Any, *, allow_files: bool = False) -> dict[str, Scenario]:
    """``settings.scenarios``: ``{name: scenario}`` (a preset name, a document, or with
    ``allow_files`` a file), or with ``allow_files`` a directory of scenario files. Replaces
    the whole library; ``PUT /__admin/scenarios/<name>`` changes one entry."""
    where = "settings.scenarios"
    library: dict[str, Scenario] = {}
    try:
        if isinstance(value, str) and allow_files:
            library = load_scenario_dir(value)
        elif isinstance(value, Mapping):
            for name, spec in value.items():
                check_library_name(name, f"{where} key")
                try:
                    scenario = resolve_scenario(spec, allow_files=allow_files)
                except ScenarioError as exc:
                    raise ConfigError(exc.within(f"{where}.{name}")) from None
                library[name] = in_library(scenario, name)
        else:
            form = "an object of {name: scenario}" + (" or a directory" if allow_files else "")
            raise ConfigError(f"{where}: must be {form}, got {type(value).__name__}")
    except ScenarioError as exc:
        raise ConfigError(exc.within(where)) from None
    if len(library) > MAX_LIBRARY:
        raise ConfigError(f"{where}: has {len(library)} scenarios; at most {MAX_LIBRARY}")
    return library


def with_scenario(base: Settings, name: str, scenario: Scenario | None) -> Settings:
    """``base`` with the library's entry ``name`` set to ``scenario`` (None: removed)."""
    check_library_name(name)
    library = dict(base.scenarios)
    if scenario is None:
        library.pop(name, None)
    else:
        library[name] = in_library(scenario, name)
        if len(library) > MAX_LIBRARY:
            raise ConfigError(f"scenarios: the library holds at most {MAX_LIBRARY}")
    return replace(base, scenarios=library)


def settings_warnings(doc: Mapping[str, Any], settings: Settings) -> list[str]:
    """The warnings of a change ``doc`` that :func:`update_settings` accepted into
    ``settings``: a near-miss status in the default scenario it set."""
    if "default_scenario" not in doc:
        return []
    return [
        p.describe("settings.default_scenario")
        for p in scenario_warnings(settings.default_scenario)
    ]
