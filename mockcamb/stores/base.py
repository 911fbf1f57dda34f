"""What an :class:`~mockcamb.core.emulator.Emulator` needs of the place its state lives.

Storage only: the rules of a task's life are :mod:`mockcamb.core.machine`, the shape of a
journal entry :mod:`mockcamb.core.journal`. Every method is atomic on its own, whichever
thread or process calls it; a caller holds no lock across calls.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..core.clock import Clock
from ..core.journal import Request
from ..core.machine import Poll, TaskState
from ..core.replies import Reply, error_reply
from ..core.scenario import Scenario
from ..core.settings import Settings
from ..core.text import shorten


class StaleSettings(Exception):
    """A shared store saw settings newer than the ones this request was checked against;
    the store has reloaded them and the request is answered again from the start."""


class StoreUnavailable(Exception):
    """A shared store cannot be reached (down, stalled past its socket timeout, loading its
    data): the request is answered with :func:`unavailable_reply`, and may be retried."""

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


class TaskGone(LookupError):
    """A task a shared store held but cannot answer, because its scenario is gone from the
    store and this process cannot write it again (a reset racing the task's creation, keys
    deleted by hand): the store forgets the task, and the request is answered 404 with
    ``why``, the likely cause."""

    def __init__(self, kind: str, task_id: str, why: str) -> None:
        super().__init__(f"The {kind} task {shorten(task_id)!r} is gone: {why}")
        self.why = why


def unavailable_reply(exc: StoreUnavailable) -> Reply:
    """The answer to any request while the store is unavailable, whichever HTTP layer
    serves it: a JSON 503 with ``Retry-After``."""
    return error_reply(503, exc.detail, **{"Retry-After": str(exc.retry_after)})


class Store(Protocol):
    """Tasks, the finished and run indexes, the journal, the counters, the settings and the
    clock of one emulated service."""

    @property
    def clock(self) -> Clock: ...

    @property
    def settings(self) -> Settings:
        """The settings as last seen (no round trip)."""

    @property
    def shared(self) -> bool:
        """True if the state lives outside this process: other processes may hold it (a
        preloaded task may exist already) and a call may wait on the network."""

    def set_settings(self, settings: Settings) -> None: ...

    def health(self) -> dict[str, Any]:
        """The store's kind and state as this process last saw it (no round trip):
        ``state`` is ``ok``, or ``recovered`` once it was found lost and re-seeded
        (``lost_at``: when, ISO 8601 UTC). A store that cannot be reached raises
        :class:`StoreUnavailable` from its other methods instead."""

    def refresh(self) -> bool:
        """Reload shared settings if another worker changed them; True if they changed."""

    def now(self) -> float: ...

    def poll(
        self, kind: str, task_id: str, auto: Scenario | None, request: Request
    ) -> Poll | None:
        """Count one request to a task and apply :func:`mockcamb.core.machine.poll` to it,
        creating it first if it is missing and :func:`mockcamb.core.machine.created_with`
        gives a scenario; keep its run id, finish time and expiry. ``None`` if there is no
        such task. A store may journal the request itself (then ``Poll.journaled``)."""

    def add(self, task: TaskState) -> bool:
        """Insert a new task (evicting and expiring as the settings say); False if a task
        with its kind and id exists already."""

    def get(self, kind: str, task_id: str) -> TaskState | None: ...

    def fresh(self, task: TaskState) -> TaskState:
        """The current state of ``task``, settled to the clock as a poll settles it
        (:func:`mockcamb.core.machine.settle`: its run id and finish time too, kept in the
        store's indexes) but not counted as a poll, as a detached copy: polls that follow
        never change it under the caller."""

    def count(self) -> int: ...

    def all(self, kind: str | None, limit: int) -> list[TaskState]: ...

    def run_task(self, run_id: int) -> TaskState | None: ...

    def next_created(self) -> int:
        """The next number for a generated task id (1, 2, ...)."""

    def peek_seq(self) -> int:
        """The journal sequence number of the last request recorded."""

    def record(self, entry: dict[str, Any], cost: int | None = None) -> None:
        """Append a :func:`mockcamb.core.journal.entry` to the journal, numbering it;
        ``cost``: its :func:`~mockcamb.core.journal.entry_bytes`, if already counted."""

    def journal(self) -> list[dict[str, Any]]:
        """Every journal entry, oldest first."""

    def journal_page(
        self, limit: int, after_seq: int | None, before_seq: int | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """:func:`mockcamb.core.journal.page` of :meth:`journal`, without reading it all."""

    def clear_journal(self) -> None: ...

    def reset(self) -> None:
        """Forget every task, the journal, the counters and the clock; settings stay."""

    def close(self) -> None:
        """Release connections (a shared store reopens them on next use)."""


__all__ = ["StaleSettings", "Store", "StoreUnavailable", "TaskGone", "unavailable_reply"]
