"""The emulated CAMB.AI API, independent of any transport.

:class:`Emulator` owns the tasks, the journal, the settings and a clock. The Flask app and the
``responses`` adapter translate requests into calls on it and turn its :class:`Reply` into
their own responses, so both modes answer exactly alike.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..stores.base import StaleSettings, Store, TaskGone
from ..stores.memory import MemoryStore
from . import api, machine, rand
from .clock import Clock, ManualClock
from .errors import ConfigError
from .families import Result
from .faults import fault_reply
from .hints import placeholder_hint, route_hint
from .journal import Request, detached, entry, page
from .machine import Poll, TaskState, valid_task_id
from .replies import Reply, error_reply
from .routes import API_PREFIX, allowed_methods, family
from .scenario import Scenario, resolve_scenario
from .settings import Settings, update_settings, with_scenario
from .text import shorten


class Emulator:
    """The whole emulated service: thread-safe, bounded in memory, driven by ``clock``.

    State lives in ``store``: a :class:`MemoryStore` by default, or a shared one such as
    :class:`mockcamb.stores.redis.store.RedisStore` so that several workers serve one set of tasks.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        clock: Clock | None = None,
        *,
        store: Store | None = None,
    ) -> None:
        if store is None:
            store = MemoryStore(settings or Settings(), clock or ManualClock())
        elif settings is not None:
            store.set_settings(settings)
        self.store: Store = store
        self._configuring = threading.Lock()  # settings changes are read-modify-write

    @property
    def settings(self) -> Settings:
        """The current settings (for a shared store: as the store holds them now)."""
        self.store.refresh()
        return self.store.settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self.store.set_settings(value)

    @property
    def clock(self) -> Clock:
        return self.store.clock

    # --- configuration ------------------------------------------------------------------

    def configure(self, doc: Mapping[str, Any], *, allow_files: bool = False) -> Settings:
        """Apply a partial settings document (admin ``PUT /settings`` or a config file)."""
        store = self.store
        with self._configuring:
            store.refresh()
            new = update_settings(store.settings, doc, allow_files=allow_files)
            store.set_settings(new)
            return new

    def put_scenario(self, name: str, scenario: Any) -> Scenario:
        """Set the library's scenario ``name`` (run by new tasks as ``recorded/<name>``): a
        preset name, a document or a :class:`Scenario`. Shared with every worker."""
        store = self.store
        with self._configuring:
            store.refresh()
            new = with_scenario(store.settings, name, resolve_scenario(scenario))
            store.set_settings(new)
            return new.scenarios[name]

    def add_scenarios(self, scenarios: Mapping[str, Scenario]) -> None:
        """Add (or replace) several library scenarios at once."""
        store = self.store
        with self._configuring:
            store.refresh()
            new = store.settings
            for name, scenario in scenarios.items():
                new = with_scenario(new, name, scenario)
            store.set_settings(new)

    def delete_scenario(self, name: str) -> bool:
        """Remove the library's scenario ``name``; False if there was none."""
        store = self.store
        with self._configuring:
            store.refresh()
            if name not in store.settings.scenarios:
                return False
            store.set_settings(with_scenario(store.settings, name, None))
            return True

    def close(self) -> None:
        """Release the store's connections (a no-op for the memory store)."""
        self.store.close()

    def reset(self) -> None:
        """Forget every task, the journal and the clock; settings stay."""
        self.store.reset()

    # --- tasks --------------------------------------------------------------------------

    def _new_task_id(self) -> str:
        created = self.store.next_created()
        seed = self.store.settings.seed
        return str(uuid.UUID(int=rand.uuid4_int(seed, created)))

    def create_task(
        self,
        kind: str,
        task_id: str | None = None,
        scenario: Any = None,
        *,
        allow_files: bool = False,
    ) -> TaskState:
        """Create a task running ``scenario`` (a preset name, a document or ``None`` for the
        default). Raises :class:`MockCambError` for a bad kind, id or scenario."""
        family(kind)
        if task_id is not None:
            check_task_id(task_id)
        store = self.store
        store.refresh()
        settings = store.settings
        sc = settings.scenario_for(scenario, allow_files=allow_files)
        if task_id is not None:
            task = self._make(kind, task_id, sc)
            if not store.add(task):
                raise ConfigError(f"task_id: a {kind} task {task_id!r} exists already")
            return task
        while True:
            task = self._make(kind, self._new_task_id(), sc)
            if store.add(task):
                return task

    def _make(self, kind: str, task_id: str, scenario: Scenario) -> TaskState:
        store = self.store
        return machine.new_task(kind, task_id, scenario, store.now(), store.settings.seed)

    def get_task(self, kind: str, task_id: str) -> TaskState | None:
        return self.store.get(kind, task_id)

    def task_count(self) -> int:
        return self.store.count()

    def snapshot(self, task: TaskState) -> dict[str, Any]:
        """The admin view of a task, settled to the current clock (not counted as a poll)."""
        task = self.store.fresh(task)
        step = task.current
        history = [
            {"request": n, "clock": t, "http_status": code, "status": status, "fault": fault}
            for n, t, code, status, fault in (task.history or ())
        ]
        return {
            "kind": task.kind,
            "task_id": task.task_id,
            "status": step.status,
            "step": task.step,
            "finished": task.finished,
            "run_id": task.run_id if task.run_id is not None else step.run_id,
            "requests": task.requests,
            "polls_answered": task.answered,
            "created_at": task.created_at,
            "finished_at": task.finished_at,
            "scenario": task.scenario.to_dict(),
            "history": history,
        }

    def tasks(self, kind: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        return [self.snapshot(t) for t in self.store.all(kind, limit)]

    def advance(self, seconds: float) -> float:
        """Move the clock forward (works on the real clock too)."""
        return self.store.clock.advance(seconds)

    # --- the emulated API ---------------------------------------------------------------

    def _auth(self, api_key: str | None) -> Reply | None:
        if not api_key:
            return error_reply(401, "Missing API key: send it in the x-api-key header")
        keys = self.store.settings.api_keys
        if keys is not None and api_key not in keys:
            return error_reply(401, "Invalid API key")
        return None

    def _checked_auth(self, api_key: str | None) -> Reply | None:
        """Auth, re-checked against fresh settings before a rejection is answered."""
        reply = self._auth(api_key)
        if reply is not None and self.store.refresh():
            raise StaleSettings
        return reply

    def status(
        self,
        kind: str,
        task_id: str,
        api_key: str | None,
        *,
        method: str = "GET",
        path: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> Reply:
        """Answer ``GET /{kind}/{task_id}``: auth, lookup, state machine, faults, latency."""
        while True:
            try:
                return self._status(kind, task_id, api_key, method, path, headers)
            except StaleSettings:  # a shared store reloaded its settings: answer afresh
                continue

    def _status(
        self,
        kind: str,
        task_id: str,
        api_key: str | None,
        method: str,
        path: str | None,
        headers: Iterable[tuple[str, str]],
    ) -> Reply:
        store = self.store
        settings = store.settings
        request = Request(method, path or f"/{kind}/{task_id}", headers)
        p: Poll | None = None
        keys = settings.api_keys
        if api_key and (keys is None or api_key in keys):
            reply = None
        else:
            reply = self._checked_auth(api_key)
        if reply is None:
            auto = settings.default_scenario if settings.unknown_task == "auto" else None
            gone: TaskGone | None = None
            try:
                p = store.poll(kind, task_id, auto, request)
            except TaskGone as exc:
                gone = exc
            if p is None:
                now = store.now()
                reply = _no_task(store, kind, task_id, gone)
            else:
                now = p.now
                reply = self._answer(p, settings)
        else:
            now = store.now()
        if p is None and settings.latency is not None:
            reply.delay = self._delay(settings.latency, 0, store.peek_seq() + 1)
        if settings.journal_size and not (p is not None and p.journaled):
            if p is None:
                self._record(request, kind, None, reply, now)
            else:
                self._record(request, kind, p.task, reply, now, p.n)
        return reply

    def _answer(self, p: Poll, settings: Settings) -> Reply:
        step = p.step
        body: dict[str, Any] = {"status": step.status, "run_id": p.run_id}
        if step.message is not None:
            body["message"] = step.message
        if step.exception_reason is not None:
            body["exception_reason"] = step.exception_reason
        if step.extra:
            body.update(step.extra)
        reply = (
            Reply(200, body)
            if p.fault is None
            else fault_reply(p.fault, body, clock_kind=self.clock.kind, clock_now=p.now)
        )
        latency = p.task.scenario.latency or settings.latency
        if latency is not None:
            reply.delay = self._delay(latency, p.task.seed_key, p.n)
        return reply

    def _delay(self, latency: Any, key: int, n: int) -> float:
        return float(latency.sample(rand.uniform(key, n, 101), rand.uniform(key, n, 102)))

    def _handle(
        self,
        kind: str | None,
        method: str,
        path: str,
        api_key: str | None,
        headers: Iterable[tuple[str, str]],
        work: Callable[[], tuple[Reply, TaskState | None]],
        *,
        latency: bool = False,
        auth: bool = True,
    ) -> Reply:
        """The sequence every non-status handler shares: fresh settings, auth, the work, the
        global latency, the journal entry."""
        self.store.refresh()
        store = self.store
        now = store.now()
        task = None
        reply = self._auth(api_key) if auth else None
        if reply is None:
            try:
                reply, task = work()
            except TaskGone as exc:  # a run's task found without its scenario
                reply = error_reply(404, str(exc))
        if latency and store.settings.latency is not None:
            reply.delay = self._delay(store.settings.latency, 0, store.peek_seq() + 1)
        self._record(Request(method, path, headers), kind, task, reply, now)
        return reply

    def create(
        self,
        kind: str,
        api_key: str | None,
        fields: Mapping[str, Any] | None,
        *,
        has_file: bool = False,
        files: Iterable[str] = (),
        scenario: str | None = None,
        params: Mapping[str, str] | None = None,
        path: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> Reply:
        """Answer a family's create ``POST``: ``fields`` is its JSON document or its multipart
        form, ``files`` the names of the uploaded files (``has_file``: a ``file`` one),
        ``params`` the path's placeholders (the run a family starts from)."""
        fam = family(kind)
        uploaded = frozenset(files) | ({"file"} if has_file else set())

        def work() -> tuple[Reply, TaskState | None]:
            return api.create(
                self.store, fam, fields, uploaded, scenario, params or {}, self._new_task
            )

        where = path or fam.create
        return self._handle(kind, "POST", where, api_key, headers, work, latency=True)

    def _new_task(self, kind: str, scenario: Scenario) -> TaskState:
        return self._make(kind, self._new_task_id(), scenario)

    def result(
        self,
        kind: str,
        run_id: str,
        api_key: str | None,
        *,
        base_url: str = "http://127.0.0.1/apis",
        path: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        result: Result | None = None,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Reply:
        """Answer a result ``GET`` of a finished run: ``result`` is the route (the family's
        first by default), ``params`` its further placeholders, ``query`` its query."""
        fam = family(kind)
        route = result or next(r for r in fam.results if not r.bulk)

        def work() -> tuple[Reply, TaskState | None]:
            return api.result(self.store, fam, route, run_id, base_url, params or {}, query or {})

        where = path or route.path.replace("{run_id}", run_id)
        return self._handle(kind, "GET", where, api_key, headers, work)

    def bulk_results(
        self,
        kind: str,
        api_key: str | None,
        body: Any,
        *,
        base_url: str = "http://127.0.0.1/apis",
        path: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        result: Result | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Reply:
        """Answer a bulk results ``POST`` (``{"run_ids": [...]}``)."""
        fam = family(kind)
        route = result or next(r for r in fam.results if r.bulk)

        def work() -> tuple[Reply, TaskState | None]:
            return api.bulk(self.store, fam, route, body, base_url, query or {})

        return self._handle(kind, "POST", path or route.path, api_key, headers, work)

    def result_file(
        self,
        family_name: str,
        run_id: str,
        name: str,
        *,
        path: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> Reply:
        """Serve a file a result links to; no key needed (as for pre-signed URLs)."""

        def work() -> tuple[Reply, TaskState | None]:
            return api.result_file(self.store, family_name, run_id, name)

        where = path or f"/__files/{family_name}/{run_id}/{name}"
        return self._handle(None, "GET", where, None, headers, work, auth=False)

    def unknown_route(
        self,
        method: str,
        path: str,
        api_key: str | None,
        headers: Iterable[tuple[str, str]] = (),
        *,
        route_path: str | None = None,
    ) -> Reply:
        """Any other request under the API prefix: 401 without a key; 405 with ``Allow`` for
        a path some route takes with other methods; else a 404 naming the closest route.
        ``route_path`` is the path under the app's root (``path`` as journaled, by default)."""

        def work() -> tuple[Reply, TaskState | None]:
            return _no_route(method, route_path or path), None

        return self._handle(None, method, path, api_key, headers, work)

    # --- journal ------------------------------------------------------------------------

    def _record(
        self,
        request: Request,
        kind: str | None,
        task: TaskState | None,
        reply: Reply,
        now: float,
        n: int | None = None,
    ) -> None:
        """Journal one answered request; ``n``, a status poll's request number, defaults to
        the task's count of requests."""
        settings = self.store.settings
        if settings.journal_size == 0:
            return
        task_id = None
        if task is not None:
            task_id = task.task_id
            n = task.requests if n is None else n
        self.store.record(
            *entry(
                request,
                kind,
                task_id,
                n,
                reply.status_code,
                reply.body,
                dropped=reply.drop,
                delay=reply.delay,
                clock=now,
                hint=reply.hint,
                keys=settings.api_keys,
            )
        )

    def journal(
        self,
        kind: str | None = None,
        task_id: str | None = None,
        limit: int | None = None,
        *,
        hinted: bool | None = None,
    ) -> list[dict[str, Any]]:
        """Journal entries, oldest first, filtered by kind, task id and whether they carry
        a near-miss hint; the last ``limit`` of them."""
        out = self._matching(kind, task_id, hinted)
        return [detached(e) for e in (out[-limit:] if limit else out)]

    def journal_page(
        self,
        kind: str | None = None,
        task_id: str | None = None,
        *,
        limit: int = 1000,
        after_seq: int | None = None,
        before_seq: int | None = None,
        hinted: bool | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of the entries :meth:`journal` filters (:func:`.journal.page`), oldest
        first, as detached copies; and whether more match beyond it. Unfiltered, the store
        cuts the page itself."""
        if kind is None and task_id is None and hinted is None:
            got, more = self.store.journal_page(limit, after_seq, before_seq)
        else:
            got, more = page(self._matching(kind, task_id, hinted), limit, after_seq, before_seq)
        return [detached(e) for e in got], more

    def _matching(
        self, kind: str | None, task_id: str | None, hinted: bool | None
    ) -> list[dict[str, Any]]:
        return [
            e
            for e in self.store.journal()
            if (kind is None or e["kind"] == kind)
            and (task_id is None or e["task_id"] == task_id)
            and (hinted is None or (e.get("hint") is not None) == hinted)
        ]

    def clear_journal(self) -> None:
        self.store.clear_journal()


# --- helpers ---------------------------------------------------------------------------


def check_task_id(task_id: Any) -> str:
    """A task id an admin may create: 1-200 printable characters, no slash."""
    if not isinstance(task_id, str) or not valid_task_id(task_id):
        raise ConfigError(
            "task_id: must be a string of 1 to 200 printable characters without '/', "
            f"got {shorten(repr(task_id))}"
        )
    return task_id


def _no_route(method: str, path: str) -> Reply:
    allowed = allowed_methods(path)
    if allowed:
        return error_reply(405, "Method Not Allowed", Allow=", ".join(allowed))
    hint = route_hint(method, path)
    detail = f"No route {method} {shorten(path)}"
    reply = error_reply(404, f"{detail}; {hint}" if hint else detail)
    reply.hint = hint
    return reply


def _no_task(store: Store, kind: str, task_id: str, gone: TaskGone | None = None) -> Reply:
    """The 404 of a poll for a task that does not exist, with what was probably meant: a
    client-side placeholder instead of an id, or a run id where the task id belongs; or why
    the store found it ``gone``."""
    detail = f"No {kind} task with id {shorten(task_id)!r}"
    hint = placeholder_hint(task_id) if gone is None else gone.why
    if hint is None and task_id.isascii() and task_id.isdigit() and len(task_id) <= 18:
        try:
            run = store.run_task(int(task_id))
        except TaskGone:
            run = None
        if run is not None:
            results = family(run.kind).results
            where = f"; its result is at {API_PREFIX}{results[0].path}" if results else ""
            hint = (
                f"{task_id} is the run id of {run.kind} task {shorten(run.task_id)!r}: poll "
                f"with the task_id{where.replace('{run_id}', task_id)}"
            )
    if hint is None and (lost_at := store.health().get("lost_at")):
        hint = (
            f"the store was lost at {lost_at} (Redis came back empty), and tasks created "
            "before then with it; create the task again"
        )
    reply = error_reply(404, f"{detail}: {hint}" if hint else detail)
    reply.hint = hint
    return reply
