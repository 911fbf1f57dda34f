"""Config files for ``mockcamb serve --config``: settings and tasks to preload, YAML or JSON."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .emulator import Emulator
from .errors import ConfigError, MockCambError
from .scenario import load_document

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


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and shape-check a config file (safe YAML loader)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--config: no such file: {p}")
    try:
        doc = load_document(p)
    except MockCambError as exc:
        raise ConfigError(f"--config: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{p}: must be a mapping with keys {', '.join(CONFIG_FIELDS)}")
    for key in doc:
        if key not in CONFIG_FIELDS:
            raise ConfigError(
                f"{p}: {key}: unknown key; expected one of {', '.join(CONFIG_FIELDS)}"
            )
    for key in ("store", "store_prefix", "admin_token", "host", "clock"):
        if key in doc and not isinstance(doc[key], str):
            raise ConfigError(f"{p}: {key}: must be a string, got {doc[key]!r}")
    tasks = doc.get("tasks", [])
    if not isinstance(tasks, list):
        raise ConfigError(f"{p}: tasks: must be a list of {{kind, task_id, scenario}}")
    return dict(doc)


def preload(emu: Emulator, config: Mapping[str, Any], where: str = "config") -> None:
    """Apply a config's ``settings`` and create its ``tasks`` on ``emu``.

    On a shared store (Redis) a task that exists already is left as it is, so a restarted
    worker, or a second host with the same config, does not fail on its own preload."""
    from .emulator import MemoryStore

    shared = not isinstance(emu.store, MemoryStore)
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
            if shared and isinstance(task_id, str) and emu.get_task(kind, task_id) is not None:
                continue
            try:
                emu.create_task(
                    kind,
                    task_id,
                    item.get("scenario"),
                    allow_files=True,
                )
            except MockCambError as exc:
                raise ConfigError(f"tasks[{i}].{exc}") from None
    except MockCambError as exc:
        raise ConfigError(f"{where}: {exc}") from None
