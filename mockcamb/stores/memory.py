"""The embedded store: plain dicts and a deque in this process, each method under one lock
(a plain Lock: no method calls another public one while holding it)."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Any

from ..core import machine
from ..core.clock import Clock
from ..core.journal import Request, entry_bytes, page
from ..core.machine import Poll, TaskState
from ..core.scenario import Scenario
from ..core.settings import Settings

Key = tuple[str, str]


class MemoryStore:
    """A :class:`~mockcamb.stores.base.Store` for one process; bounded by the settings
    (``max_tasks``, ``finished_ttl``, ``journal_size``, ``journal_bytes``,
    ``history_limit``)."""

    shared = False

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._lock = threading.Lock()
        self.clock = clock
        self.settings = settings
        # in the order they were created: an OrderedDict finds its first key in O(1), where a
        # dict scans past the holes that evicting from its front leaves
        self._tasks: OrderedDict[Key, TaskState] = OrderedDict()
        self._finished: OrderedDict[Key, float] = OrderedDict()  # in the order they finished
        self._runs: dict[int, Key] = {}
        self._journal: deque[tuple[int, dict[str, Any]]] = deque()  # (entry_bytes, entry)
        self._journal_bytes = 0
        self._journal_seq = 0
        self._next_run_id = machine.FIRST_RUN_ID
        self._created = 0

    def set_settings(self, settings: Settings) -> None:
        with self._lock:
            self.settings = settings
            self._trim_journal()

    def refresh(self) -> bool:
        return False

    def health(self) -> dict[str, Any]:
        return {"kind": "memory", "state": "ok"}

    def now(self) -> float:
        return self.clock.now()

    def reset(self) -> None:
        with self._lock:
            self._tasks.clear()
            self._finished.clear()
            self._runs.clear()
            self._journal.clear()
            self._journal_bytes = 0
            self._journal_seq = 0
            self._next_run_id = machine.FIRST_RUN_ID
            self._created = 0
            self.clock.reset()

    # --- tasks --------------------------------------------------------------------------

    def next_created(self) -> int:
        with self._lock:
            self._created += 1
            return self._created

    def add(self, task: TaskState) -> bool:
        with self._lock:
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

    def _forget(self, key: Key) -> None:
        task = self._tasks.pop(key, None)
        self._finished.pop(key, None)
        if task is not None and task.run_id is not None and self._runs.get(task.run_id) == key:
            del self._runs[task.run_id]

    def _expire(self, now: float) -> None:
        """Forget the finished tasks whose ``finished_ttl`` is up, oldest first."""
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
        with self._lock:
            now = self.clock.now()
            key = (task.kind, task.task_id)
            if self._tasks.get(key) is task:  # kept: settled as a poll settles it
                self._keep(key, machine.settle(task, now, self._next_run_id), task.run_id, now)
            else:  # gone meanwhile: its steps only
                task.settle(now)
            return task.copy()

    def _keep(self, key: Key, s: machine.Settled | Poll, run_id: int | None, now: float) -> None:
        """Index what settling a task gave it: a drawn run id, its run, its finish."""
        if s.drew_run_id:
            self._next_run_id += 1
        if s.run_assigned and run_id is not None:
            self._runs[run_id] = key
        if s.finished:
            self._finished[key] = now

    def count(self) -> int:
        return len(self._tasks)

    def all(self, kind: str | None, limit: int) -> list[TaskState]:
        with self._lock:
            chosen = [t for t in self._tasks.values() if kind is None or t.kind == kind]
            return chosen[-limit:]

    def run_task(self, run_id: int) -> TaskState | None:
        key = self._runs.get(run_id)
        return self._tasks.get(key) if key is not None else None

    def poll(
        self, kind: str, task_id: str, auto: Scenario | None, request: Request
    ) -> Poll | None:
        with self._lock:
            now = self.clock.now()
            key = (kind, task_id)
            task = self._tasks.get(key)
            if task is None:
                scenario = machine.created_with(auto, task_id)
                if scenario is None:
                    return None
                task = machine.new_task(kind, task_id, scenario, now, self.settings.seed)
                self._insert(task)
            if task.finished_at is not None:
                self._expire(now)  # this task too, if its time is up: answered, then gone
            p = machine.poll(task, now, self.settings, self._next_run_id)
            self._keep(key, p, task.run_id, now)
            return p

    # --- journal ------------------------------------------------------------------------

    def peek_seq(self) -> int:
        return self._journal_seq

    def record(self, entry: dict[str, Any], cost: int | None = None) -> None:
        if cost is None:
            cost = entry_bytes(entry)
        with self._lock:
            if self.settings.journal_size == 0:
                return
            self._journal_seq += 1
            entry["seq"] = self._journal_seq
            journal = self._journal
            journal.append((cost, entry))
            self._journal_bytes += cost
            s = self.settings
            if len(journal) > s.journal_size or self._journal_bytes > s.journal_bytes:
                self._trim_journal()

    def _trim_journal(self) -> None:
        """Drop the oldest entries while there are more than ``journal_size`` of them or
        they cost more than ``journal_bytes`` (as poll.lua's journal_trim does)."""
        size, budget = self.settings.journal_size, self.settings.journal_bytes
        journal = self._journal
        while journal and (len(journal) > size or self._journal_bytes > budget):
            self._journal_bytes -= journal.popleft()[0]

    def journal(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e for _, e in self._journal]

    def journal_page(
        self, limit: int, after_seq: int | None, before_seq: int | None
    ) -> tuple[list[dict[str, Any]], bool]:
        return page(self.journal(), limit, after_seq, before_seq)

    def clear_journal(self) -> None:
        with self._lock:
            self._journal.clear()
            self._journal_bytes = 0

    def close(self) -> None:
        pass
