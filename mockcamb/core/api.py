"""The work of the emulated API's non-status handlers: create, result, bulk results and
result files, for any family of the route table.

Each function takes the store (its lock held by the caller, auth already checked) and the
request's parts, and gives the :class:`~.replies.Reply` and the task it concerns (for the
journal). :class:`~.emulator.Emulator` wraps them in the one sequence every handler shares
(refresh, lock, auth, work, latency, journal).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..stores.base import TaskGone
from .bodies import create_problems
from .errors import MockCambError
from .families import Family, Result
from .media import file_bytes
from .replies import Reply, error_reply, validation_reply
from .results import BadQuery, Media, Run, result_body
from .routes import family as family_named
from .scenario import Scenario
from .text import shorten

if TYPE_CHECKING:
    from ..stores.base import Store
    from .machine import TaskState

Work = tuple[Reply, "TaskState | None"]
NewTask = Callable[[str, Scenario], "TaskState"]


def finished_run(store: Store, run_id: str, families: tuple[str, ...]) -> TaskState | None:
    """The finished task whose run is ``run_id`` (digits), if it is of one of ``families``."""
    if not (run_id.isascii() and run_id.isdigit() and len(run_id) <= 18):
        return None
    task = store.run_task(int(run_id))
    return task if task is not None and task.kind in families else None


def _source_problem(store: Store, fam: Family, params: Mapping[str, str]) -> Reply | None:
    """For a family that starts from a finished run: a 4xx naming what is wrong with it."""
    if fam.starts_from is None:
        return None
    run_id = params.get("run_id", "")
    if not (run_id.isascii() and run_id.isdigit()):
        loc: list[Any] = ["path", "run_id"]
        msg = "Input should be a valid integer, unable to parse string as an integer"
        return validation_reply([(loc, msg, "int_parsing")])
    if finished_run(store, run_id, (fam.starts_from,)) is None:
        other = store.run_task(int(run_id)) if len(run_id) <= 18 else None
        why = f" (it is a {other.kind} run)" if other is not None else ""
        return error_reply(
            404,
            f"No finished {fam.starts_from} run with id {shorten(run_id)!r}{why}: "
            f"a {fam.name} task starts from one",
        )
    return None


def create(
    store: Store,
    fam: Family,
    fields: Any,
    files: frozenset[str],
    scenario: str | None,
    params: Mapping[str, str],
    new_task: NewTask,
) -> Work:
    """``POST`` a family's create path: check the source run, the fields (FastAPI 422s),
    the scenario header; then add the task."""
    reply = _source_problem(store, fam, params)
    if reply is not None:
        return reply, None
    problems = create_problems(fam, fields, files)
    if problems:
        return validation_reply(problems), None
    try:
        settings = store.settings
        sc = settings.scenario_for(scenario)
    except MockCambError as exc:
        return error_reply(400, f"x-mockcamb-scenario: {exc}"), None
    task = new_task(fam.name, sc)
    while not store.add(task):
        task = new_task(fam.name, sc)
    body: dict[str, Any] = {"task_id": task.task_id}
    if fam.create_message is not None:
        body = {"message": fam.create_message, **body}
    return Reply(200, body), task


def _run(
    task: TaskState, base_url: str, params: Mapping[str, str], query: Mapping[str, str]
) -> Run:
    assert task.run_id is not None  # only finished runs are found by run id
    return Run(task.kind, task.run_id, task.task_id, base_url, params, query)


def _body(route: Result, task: TaskState, run: Run) -> Any:
    """A result route's body: the scenario's ``result`` for a route with the builder of the
    family's first result route, else the builder's."""
    override = task.scenario.result
    if override is not None:
        first = next((r for r in family_named(task.kind).results if not r.bulk), None)
        if first is not None and route.builder == first.builder:
            return copy.deepcopy(dict(override))
    return result_body(route.builder, run)


def _answer(body: Any) -> Reply:
    if isinstance(body, Media):
        return Reply(200, None, raw=body.data, content_type=body.content_type)
    return Reply(200, body)


def result(
    store: Store,
    fam: Family,
    route: Result,
    run_id: str,
    base_url: str,
    params: Mapping[str, str],
    query: Mapping[str, str],
) -> Work:
    """``GET`` one finished run's result (404 for a run that did not finish)."""
    task = finished_run(store, run_id, (fam.name, *route.also))
    if task is None:
        return error_reply(404, f"No finished {fam.name} run with id {shorten(run_id)!r}"), None
    try:
        return _answer(_body(route, task, _run(task, base_url, params, query))), task
    except BadQuery as exc:
        return validation_reply([exc.problem]), task


def _run_ids(body: Any) -> list[int] | Reply:
    if not isinstance(body, Mapping):
        msg = "Input should be a valid dictionary or object to extract fields from"
        return validation_reply([(["body"], msg, "model_attributes_type")])
    ids = body.get("run_ids")
    if ids is None:
        return validation_reply([(["body", "run_ids"], "Field required", "missing")])
    if not isinstance(ids, list):
        return validation_reply(
            [(["body", "run_ids"], "Input should be a valid list", "list_type")]
        )
    bad = [
        (["body", "run_ids", i], "Input should be a valid integer", "int_type")
        for i, v in enumerate(ids)
        if isinstance(v, bool) or not isinstance(v, int)
    ]
    return validation_reply(bad) if bad else [int(v) for v in ids]


def bulk(
    store: Store,
    fam: Family,
    route: Result,
    body: Any,
    base_url: str,
    query: Mapping[str, str],
) -> Work:
    """``POST {"run_ids": [...]}``: each finished run's result keyed by its run id (runs
    that did not finish are left out); project-setup answers a list, as its SDK types it."""
    ids = _run_ids(body)
    if isinstance(ids, Reply):
        return ids, None
    out: dict[str, Any] = {}
    for run_id in dict.fromkeys(ids):
        try:
            task = finished_run(store, str(run_id), (fam.name, *route.also))
        except TaskGone:  # forgotten by the store (its scenario was gone): left out too
            continue
        if task is None:
            continue
        try:
            out[str(run_id)] = _body(route, task, _run(task, base_url, {}, query))
        except BadQuery as exc:
            return validation_reply([exc.problem]), None
    if fam.name == "project-setup":
        return Reply(200, list(out.values())), None
    return Reply(200, out), None


def result_file(store: Store, family: str, run_id: str, name: str) -> Work:
    """``GET /__files/{family}/{run_id}/{name}``: a file a finished run's result links to."""
    try:
        fam = family_named(family)
    except MockCambError:
        fam = None
    task = finished_run(store, run_id, (fam.name,)) if fam is not None else None
    made = file_bytes(name, int(run_id)) if task is not None else None
    if made is None:
        return error_reply(
            404, f"No file {shorten(name)!r} for {family} run {shorten(run_id)!r}"
        ), task
    data, content_type = made
    return Reply(200, None, raw=data, content_type=content_type), task


__all__ = ["bulk", "create", "finished_run", "result", "result_file"]
