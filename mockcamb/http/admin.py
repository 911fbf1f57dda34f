"""The admin API under ``/__admin``: tasks, the clock, the journal, settings, presets, the
library of named scenarios.

Every view is a thin call on :class:`~mockcamb.core.emulator.Emulator`; user errors raise
:class:`~mockcamb.core.errors.MockCambError`, which the app answers as a JSON 400.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from ..core.bodies import json_body
from ..core.emulator import check_task_id
from ..core.errors import ConfigError, ScenarioError
from ..core.routes import family
from ..core.scenario import (
    LIBRARY_PREFIX,
    Scenario,
    check_library_name,
    library_scenario,
    load_preset,
    parse_scenario,
    preset_names,
    scenario_warnings,
)
from ..core.settings import settings_warnings
from ..core.text import shorten
from .auth import check_admin_token
from .wsgi import ADMIN_PREFIX, emulator, json_error

admin = Blueprint("admin", __name__, url_prefix=ADMIN_PREFIX)


@admin.before_request
def _guard() -> Response | None:
    return check_admin_token()


def _body() -> dict[str, Any]:
    data = request.get_data(cache=True)
    if not data:
        return {}
    doc = json_body(data)
    if not isinstance(doc, dict):
        raise ConfigError("body: must be a JSON object")
    return doc


def _int_arg(name: str, default: int | None, lo: int = 1, hi: int = 1_000_000) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19) or not lo <= int(raw) <= hi:
        raise ConfigError(f"{name}: must be an integer from {lo} to {hi}, got {shorten(raw)!r}")
    return int(raw)


def _bool_arg(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise ConfigError(f"{name}: must be true or false, got {shorten(raw)!r}")
    return raw == "true"


@admin.get("/health")
def health() -> dict[str, Any]:
    """Ready, with the store's state (a shared store that cannot be reached answers 503)."""
    emu = emulator()
    emu.store.refresh()  # a loss of the shared store another process found is seen here
    return {
        "status": "ok",
        "tasks": emu.task_count(),
        "clock": emu.clock.kind,
        "store": emu.store.health(),
    }


@admin.post("/tasks")
def admin_create_task() -> tuple[dict[str, Any], int]:
    doc = _body()
    unknown_fields = set(doc) - {"kind", "task_id", "scenario"}
    if unknown_fields:
        raise ConfigError(
            f"{sorted(unknown_fields)[0]}: unknown field; expected kind, task_id, scenario"
        )
    kind = family(doc.get("kind")).name
    task_id = doc.get("task_id")
    if task_id is not None:
        check_task_id(task_id)
    emu = emulator()
    task = emu.create_task(kind, task_id, doc.get("scenario"))
    named = doc.get("scenario") is not None
    return {**emu.snapshot(task), "warnings": _warnings(task.scenario) if named else []}, 201


@admin.get("/tasks")
def admin_tasks() -> dict[str, Any]:
    kind = request.args.get("kind")
    if kind is not None:
        family(kind)
    limit = _int_arg("limit", 1000) or 1000
    return {"tasks": emulator().tasks(kind, limit)}


@admin.get("/tasks/<kind>/<path:task_id>")
def admin_task(kind: str, task_id: str) -> Response | dict[str, Any]:
    emu = emulator()
    task = emu.get_task(family(kind).name, task_id)
    if task is None:
        return json_error(404, f"No {kind} task with id {task_id[:80]!r}")
    return emu.snapshot(task)


@admin.get("/clock")
def admin_clock() -> dict[str, Any]:
    clock = emulator().clock
    return {"now": clock.now(), "kind": clock.kind}


@admin.post("/clock/advance")
def admin_advance() -> dict[str, Any]:
    doc = _body()
    if "seconds" not in doc:
        raise ConfigError('seconds: is required, e.g. {"seconds": 30}')
    emu = emulator()
    return {"now": emu.advance(doc["seconds"]), "kind": emu.clock.kind}


#: The journal's pages: entries per page by default, and at most.
JOURNAL_PAGE = 1000
MAX_JOURNAL_PAGE = 10_000
_CURSORS = ("after_seq", "before_seq")


@admin.get("/requests")
def admin_requests() -> dict[str, Any]:
    """A page of the journal, oldest first: the newest ``limit`` entries, the first after
    ``after_seq`` or the last before ``before_seq``; ``next`` links the following page in
    the same direction (``null`` when none is left), ``last_seq`` is the newest entry's."""
    args = request.args
    kind = args.get("kind")
    if kind is not None:
        family(kind)
    limit = _int_arg("limit", JOURNAL_PAGE, 1, MAX_JOURNAL_PAGE) or JOURNAL_PAGE
    after, before = (_int_arg(name, None, 0, 2**63 - 1) for name in _CURSORS)
    if after is not None and before is not None:
        raise ConfigError("after_seq, before_seq: give one cursor, not both")
    emu = emulator()
    page, more = emu.journal_page(
        kind,
        args.get("task_id"),
        limit=limit,
        after_seq=after,
        before_seq=before,
        hinted=_bool_arg("hinted"),
    )
    link = None
    if more and page:
        forward = after is not None
        name, seq = ("after_seq", page[-1]["seq"]) if forward else ("before_seq", page[0]["seq"])
        query = {k: v for k, v in args.items() if k not in _CURSORS}
        query.update({name: str(seq), "limit": str(limit)})
        link = f"{ADMIN_PREFIX}/requests?{urlencode(query)}"
    return {"requests": page, "next": link, "last_seq": emu.store.peek_seq()}


@admin.delete("/requests")
def admin_clear_requests() -> dict[str, Any]:
    emulator().clear_journal()
    return {"cleared": True}


@admin.get("/settings")
def admin_get_settings() -> dict[str, Any]:
    return emulator().settings.to_dict()


@admin.put("/settings")
def admin_put_settings() -> dict[str, Any]:
    doc = _body()
    settings = emulator().configure(doc)
    return {**settings.to_dict(), "warnings": settings_warnings(doc, settings)}


@admin.post("/reset")
def admin_reset() -> dict[str, Any]:
    emulator().reset()
    return {"reset": True}


@admin.get("/presets")
def admin_presets() -> dict[str, Any]:
    return {"presets": {name: load_preset(name).to_dict() for name in preset_names()}}


@admin.post("/scenarios/validate")
def admin_validate() -> dict[str, Any]:
    scenario = parse_scenario(_body())
    return {"valid": True, "scenario": scenario.to_dict(), "warnings": _warnings(scenario)}


# --- the library: named scenarios new tasks run as recorded/<name> -------------------------


@admin.get("/scenarios")
def admin_library() -> dict[str, Any]:
    library = emulator().settings.scenarios
    return {"scenarios": {name: sc.to_dict() for name, sc in sorted(library.items())}}


@admin.get("/scenarios/<name>")
def admin_library_get(name: str) -> Response | dict[str, Any]:
    library = emulator().settings.scenarios
    try:
        scenario = library_scenario(check_library_name(name), library)
    except ScenarioError as exc:
        return json_error(404, exc.problems[0].message)
    return {"name": name, "use": LIBRARY_PREFIX + name, "scenario": scenario.to_dict()}


@admin.put("/scenarios/<name>")
def admin_library_put(name: str) -> dict[str, Any]:
    check_library_name(name)
    scenario = emulator().put_scenario(name, parse_scenario(_body()))
    return {
        "name": name,
        "use": LIBRARY_PREFIX + name,
        "scenario": scenario.to_dict(),
        "warnings": _warnings(scenario),
    }


@admin.delete("/scenarios/<name>")
def admin_library_delete(name: str) -> Response | dict[str, Any]:
    check_library_name(name)
    if not emulator().delete_scenario(name):
        return json_error(404, f"No scenario named {LIBRARY_PREFIX}{name} in the library")
    return {"deleted": name}


def _warnings(scenario: Scenario) -> list[str]:
    """A scenario's warnings (near-miss statuses), ``scenario.steps[1].status: ...``."""
    return [p.describe("scenario") for p in scenario_warnings(scenario)]


__all__ = ["admin"]
