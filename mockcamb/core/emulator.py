"""The emulated CAMB.AI API, independent of any transport.

:class:`Emulator` owns the tasks, the journal, the settings and a clock. The Flask app and the
``responses`` adapter translate requests into calls on it and turn its :class:`Reply` into
their own responses, so both modes answer exactly alike.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from . import api, rand
from .clock import Clock, ManualClock, wall_time
from .errors import ConfigError
from .families import Result
from .faults import fault_reply
from .hints import placeholder_hint, route_hint
from .replies import Reply, error_reply
from .routes import API_PREFIX, allowed_methods, family
from .scenario import Fault, Scenario, Step, resolve_scenario
from .settings import Settings, update_settings
from .statuses import SUCCESS, is_final
from .text import shorten

REDACTED = "[redacted]"
SECRET_HEADERS = frozenset(
    {"x-api-key", "authorization", "proxy-authorization", "cookie", "x-admin-token"}
)
MAX_TASK_ID = 200
MAX_JOURNAL_HEADERS = 32
MAX_HEADER_VALUE = 256


class TaskState:
    """The mutable life of one task. Slotted: idle tasks must stay small."""

    __slots__ = (
        "answered",
        "created_at",
        "finished_at",
        "history",
        "kind",
        "requests",
        "run_id",
        "scenario",
        "seed_key",
        "step",
        "step_polls",
        "step_started",
        "task_id",
    )

    def __init__(
        self, kind: str, task_id: str, scenario: Scenario, now: float, seed_key: int
    ) -> None:
        self.kind = kind
        self.task_id = task_id
        self.scenario = scenario
        self.seed_key = seed_key
        self.created_at = now
        self.step = 0
        self.step_started = now
        self.step_polls = 0
        self.requests = 0
        self.answered = 0
        self.run_id: int | None = None
        self.finished_at: float | None = None
        self.history: deque[tuple[int, float, int, str | None, str | None]] | None = None

    def copy(self) -> TaskState:
        """A detached copy (the history too), safe to read while the task is polled."""
        twin = TaskState.__new__(TaskState)
        for name in TaskState.__slots__:
            setattr(twin, name, getattr(self, name))
        if self.history is not None:
            twin.history = deque(self.history, self.history.maxlen)
        return twin

    def settle(self, now: float) -> None:
        """Move through every time-driven step whose time is up."""
        steps = self.scenario.steps
        last = len(steps) - 1
        while self.step < last:
            seconds = steps[self.step].seconds
            if seconds is None or now - self.step_started < seconds:
                return
            self.step_started += seconds
            self.step += 1
            self.step_polls = 0

    @property
    def current(self) -> Step:
        return self.scenario.steps[self.step]

    @property
    def finished(self) -> bool:
        return self.step == len(self.scenario.steps) - 1 and is_final(self.current.status)


class StaleSettings(Exception):
    """A shared store saw settings newer than the ones this request was checked against;
    the store has reloaded them and the request is answered again from the start."""


@dataclass(slots=True)
class Poll:
    """What one counted request to a task came to, as a store reports it."""

    task: TaskState
    n: int
    now: float
    step: Step
    fault: Fault | None
    run_id: int | None
    journaled: bool = False  # the store wrote the journal entry itself


PickFault = Callable[[TaskState, int], "Fault | None"]
SeedKey = Callable[[str, str, Scenario], int]


class Store(Protocol):
    """Where an :class:`Emulator` keeps its state: tasks, the finished and run indexes, the
    journal, the counters, the settings and the clock. Every method is atomic on its own;
    ``lock`` is held around a whole request where that is cheap (in memory) and is a no-op
    where the store is shared by processes (Redis makes each operation atomic instead)."""

    lock: AbstractContextManager[Any]

    @property
    def clock(self) -> Clock: ...

    @property
    def settings(self) -> Settings:
        """The settings as last seen (no round trip)."""

    def set_settings(self, settings: Settings) -> None: ...

    def refresh(self) -> bool:
        """Reload shared settings if another worker changed them; True if they changed."""

    def now(self) -> float: ...

    def poll(
        self,
        kind: str,
        task_id: str,
        auto: Scenario | None,
        seed_key: SeedKey,
        pick_fault: PickFault,
        method: str,
        path: str | None,
        headers: Iterable[tuple[str, str]],
    ) -> Poll | None:
        """Count one request to a task (creating it with ``auto`` if it is missing, ``auto``
        is set and the id is valid, see :func:`valid_task_id`), settle it, pick its fault,
        advance it if answered, record its history; a store may also journal the request
        (``Poll.journaled``, given ``method``, ``path`` and ``headers``). ``None`` if there
        is no such task. Called with ``lock`` held."""

    def add(self, task: TaskState) -> bool:
        """Insert a new task (evicting and expiring as the settings say); False if a task
        with its kind and id exists already."""

    def get(self, kind: str, task_id: str) -> TaskState | None: ...

    def fresh(self, task: TaskState) -> TaskState:
        """The current state of ``task``, settled to the clock (not counted as a poll), as a
        detached copy: polls that follow never change it under the caller."""

    def count(self) -> int: ...

    def all(self, kind: str | None, limit: int) -> list[TaskState]: ...

    def run_task(self, run_id: int) -> TaskState | None: ...

    def next_created(self) -> int:
        """The next number for a generated task id (1, 2, ...)."""

    def peek_seq(self) -> int:
        """The journal sequence number of the last request recorded."""

    def record(self, entry: dict[str, Any]) -> None:
        """Append to the journal, numbering the entry (``seq``). Called with ``lock`` held."""

    def journal(self) -> list[dict[str, Any]]:
        """Every journal entry, oldest first."""

    def clear_journal(self) -> None: ...

    def reset(self) -> None:
        """Forget every task, the journal, the counters and the clock; settings stay."""

    def close(self) -> None:
        """Release connections (a shared store reopens them on next use)."""


class MemoryStore:
    """The embedded store: plain dicts and a deque in this process, under one lock."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.lock: AbstractContextManager[Any] = threading.RLock()
        self.clock = clock
        self.settings = settings
        self._tasks: dict[tuple[str, str], TaskState] = {}
        self._finished: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._runs: dict[int, tuple[str, str]] = {}
        self._journal: deque[dict[str, Any]] = deque(maxlen=settings.journal_size)
        self._journal_seq = 0
        self._next_run_id = 1000
        self._created = 0

    def set_settings(self, settings: Settings) -> None:
        with self.lock:
            if settings.journal_size != self._journal.maxlen:
                self._journal = deque(self._journal, maxlen=settings.journal_size)
            self.settings = settings

    def refresh(self) -> bool:
        return False

    def now(self) -> float:
        return self.clock.now()

    def reset(self) -> None:
        with self.lock:
            self._tasks.clear()
            self._finished.clear()
            self._runs.clear()
            self._journal.clear()
            self._journal_seq = 0
            self._next_run_id = 1000
            self._created = 0
            self.clock.reset()

    # --- tasks --------------------------------------------------------------------------

    def next_created(self) -> int:
        with self.lock:
            self._created += 1
            return self._created

    def add(self, task: TaskState) -> bool:
        with self.lock:
            key = (task.kind, task.task_id)
            if key in self._tasks:
                return False
            self._insert(task)
            return True

    def _insert(self, task: TaskState) -> None:
        self._expire(task.created_at)
        while len(self._tasks) >= self.settings.max_tasks:
            self._forget(next(iter(self._finished or self._tasks)))
        self._tasks[(task.kind, task.task_id)] = task

    def _forget(self, key: tuple[str, str]) -> None:
        task = self._tasks.pop(key, None)
        self._finished.pop(key, None)
        if task is not None and task.run_id is not None and self._runs.get(task.run_id) == key:
            del self._runs[task.run_id]

    def _expire(self, now: float) -> None:
        ttl = self.settings.finished_ttl
        if ttl is None:
            return
        while self._finished:
            key, at = next(iter(self._finished.items()))
            if now - at < ttl:
                return
            self._forget(key)

    def get(self, kind: str, task_id: str) -> TaskState | None:
        return self._tasks.get((kind, task_id))

    def fresh(self, task: TaskState) -> TaskState:
        with self.lock:
            task.settle(self.clock.now())
            return task.copy()

    def count(self) -> int:
        return len(self._tasks)

    def all(self, kind: str | None, limit: int) -> list[TaskState]:
        with self.lock:
            chosen = [t for t in self._tasks.values() if kind is None or t.kind == kind]
            return chosen[-limit:]

    def run_task(self, run_id: int) -> TaskState | None:
        key = self._runs.get(run_id)
        return self._tasks.get(key) if key is not None else None

    def poll(
        self,
        kind: str,
        task_id: str,
        auto: Scenario | None,
        seed_key: SeedKey,
        pick_fault: PickFault,
        method: str,
        path: str | None,
        headers: Iterable[tuple[str, str]],
    ) -> Poll | None:
        # called with self.lock held (see Store.poll)
        now = self.clock.now()
        task = self._tasks.get((kind, task_id))
        if task is None:
            if auto is None or not valid_task_id(task_id):
                return None
            task = TaskState(kind, task_id, auto, now, seed_key(kind, task_id, auto))
            self._insert(task)
        task.requests += 1
        n = task.requests
        task.settle(now)
        if task.finished_at is not None:
            self._expire(now)
        steps = task.scenario.steps
        step = steps[task.step]
        run_id = step.run_id
        if step.status == SUCCESS:
            if task.run_id is None:
                if run_id is None:
                    run_id = self._next_run_id
                    self._next_run_id += 1
                task.run_id = run_id
                self._runs[run_id] = (kind, task.task_id)
            run_id = task.run_id
        fault = pick_fault(task, n)
        if fault is None:
            task.answered += 1
            task.step_polls += 1
            if task.step == len(steps) - 1:
                if task.finished_at is None and is_final(step.status):
                    task.finished_at = now
                    self._finished[(kind, task.task_id)] = now
            elif step.polls is not None and task.step_polls >= step.polls:
                task.step += 1
                task.step_polls = 0
                task.step_started = now
        limit = self.settings.history_limit
        if limit:
            if task.history is None or task.history.maxlen != limit:
                task.history = deque(task.history or (), maxlen=limit)
            if fault is None:
                task.history.append((n, now, 200, step.status, None))
            else:
                task.history.append((n, now, fault.http_status, None, fault.type))
        return Poll(task, n, now, step, fault, run_id)

    # --- journal ------------------------------------------------------------------------

    def peek_seq(self) -> int:
        return self._journal_seq

    def record(self, entry: dict[str, Any]) -> None:
        # called with self.lock held (see Store.record)
        if self._journal.maxlen == 0:
            return
        self._journal_seq += 1
        entry["seq"] = self._journal_seq
        self._journal.append(entry)

    def journal(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._journal)

    def clear_journal(self) -> None:
        with self.lock:
            self._journal.clear()

    def close(self) -> None:
        pass


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
        self._seed_key_fn: SeedKey = self._seed_key
        self._pick_fault_fn: PickFault = self._pick_fault

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
        with store.lock:
            store.refresh()
            new = update_settings(store.settings, doc, allow_files=allow_files)
            store.set_settings(new)
            return new

    def close(self) -> None:
        """Release the store's connections (a no-op for the memory store)."""
        self.store.close()

    def reset(self) -> None:
        """Forget every task, the journal and the clock; settings stay."""
        self.store.reset()

    # --- tasks --------------------------------------------------------------------------

    def _seed_key(self, kind: str, task_id: str, scenario: Scenario) -> int:
        if scenario.seed is not None:
            return scenario.seed
        return self.store.settings.seed * 1_000_003 + rand.key_of(f"{kind}/{task_id}")

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
        sc = (
            store.settings.default_scenario
            if scenario is None
            else resolve_scenario(scenario, allow_files=allow_files)
        )
        with store.lock:
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
        return TaskState(
            kind, task_id, scenario, self.store.now(), self._seed_key(kind, task_id, scenario)
        )

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
        with store.lock:
            settings = store.settings
            task: TaskState | None = None
            p: Poll | None = None
            keys = settings.api_keys
            if api_key and (keys is None or api_key in keys):
                reply = None
            else:
                reply = self._checked_auth(api_key)
            if reply is None:
                auto = settings.default_scenario if settings.unknown_task == "auto" else None
                p = store.poll(
                    kind,
                    task_id,
                    auto,
                    self._seed_key_fn,
                    self._pick_fault_fn,
                    method,
                    path,
                    headers,
                )
                if p is None:
                    now = store.now()
                    reply = error_reply(404, _no_task(store, kind, task_id))
                else:
                    task = p.task
                    now = p.now
                    reply = self._answer(p, settings)
            else:
                now = store.now()
            if task is None and settings.latency is not None:
                reply.delay = self._delay(settings.latency, 0, store.peek_seq() + 1)
            if settings.journal_size and not (p is not None and p.journaled):
                self._record(method, path or f"/{kind}/{task_id}", kind, task, reply, now, headers)
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

    def _pick_fault(self, task: TaskState, n: int) -> Fault | None:
        for source, faults in ((1, task.scenario.faults), (2, self.store.settings.faults)):
            for i, fault in enumerate(faults):
                if fault.probability is None:
                    if n in fault.polls:
                        return fault
                elif rand.uniform(task.seed_key, n, source * 1000 + i) < fault.probability:
                    return fault
        return None

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
        """The sequence every non-status handler shares: fresh settings, the store's lock,
        auth, the work, the global latency, the journal entry."""
        self.store.refresh()
        store = self.store
        with store.lock:
            now = store.now()
            task = None
            reply = self._auth(api_key) if auth else None
            if reply is None:
                reply, task = work()
            if latency and store.settings.latency is not None:
                reply.delay = self._delay(store.settings.latency, 0, store.peek_seq() + 1)
            self._record(method, path, kind, task, reply, now, headers)
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
        method: str,
        path: str,
        kind: str | None,
        task: TaskState | None,
        reply: Reply,
        now: float,
        headers: Iterable[tuple[str, str]],
    ) -> None:
        if self.store.settings.journal_size == 0:
            return
        hdrs = journal_headers(headers)
        status = (
            reply.body.get("status")
            if isinstance(reply.body, dict) and reply.status_code == 200
            else None
        )
        self.store.record(
            {
                "seq": 0,
                "method": method,
                "path": shorten(path, 512),
                "kind": kind,
                "task_id": task.task_id if task is not None else None,
                "request": task.requests if task is not None and reply.body is not None else None,
                "status_code": reply.status_code,
                "task_status": status if isinstance(status, str) else None,
                "dropped": reply.drop,
                "delay_ms": round(reply.delay * 1000, 3),
                "clock": now,
                "wall": wall_time(),
                "headers": hdrs,
            }
        )

    def journal(
        self, kind: str | None = None, task_id: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Journal entries, oldest first, filtered by kind and task id."""
        out = [
            dict(e)
            for e in self.store.journal()
            if (kind is None or e["kind"] == kind) and (task_id is None or e["task_id"] == task_id)
        ]
        return out[-limit:] if limit else out

    def clear_journal(self) -> None:
        self.store.clear_journal()


# --- helpers ---------------------------------------------------------------------------


def journal_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Request headers as the journal keeps them: lower-cased, bounded, secrets redacted."""
    hdrs: dict[str, str] = {}
    for name, value in headers:
        if len(hdrs) >= MAX_JOURNAL_HEADERS:
            break
        low = name.lower()
        hdrs[low] = REDACTED if low in SECRET_HEADERS else value[:MAX_HEADER_VALUE]
    return hdrs


def valid_task_id(task_id: str) -> bool:
    """An id a poll may auto-create: 1-200 printable characters, no slash."""
    return 0 < len(task_id) <= MAX_TASK_ID and task_id.isprintable() and "/" not in task_id


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
    return error_reply(404, f"{detail}; {hint}" if hint else detail)


def _no_task(store: Store, kind: str, task_id: str) -> str:
    """The 404 of a poll for a task that does not exist, with what was probably meant: a
    client-side placeholder instead of an id, or a run id where the task id belongs."""
    detail = f"No {kind} task with id {shorten(task_id)!r}"
    hint = placeholder_hint(task_id)
    if hint is None and task_id.isascii() and task_id.isdigit() and len(task_id) <= 18:
        run = store.run_task(int(task_id))
        if run is not None:
            results = family(run.kind).results
            where = f"; its result is at {API_PREFIX}{results[0].path}" if results else ""
            hint = (
                f"{task_id} is the run id of {run.kind} task {shorten(run.task_id)!r}: poll "
                f"with the task_id{where.replace('{run_id}', task_id)}"
            )
    return f"{detail}: {hint}" if hint else detail
