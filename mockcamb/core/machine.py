"""The state machine of one task, written once: what one poll does to a task's state.

Pure: no storage, no lock, no clock of its own. A store finds (or creates) the task, calls
:func:`poll` with the time and settings (or :func:`settle` alone, for an admin read), and
keeps what it says in its own indexes (run ids, finished tasks). The Redis store runs the
same rules as a Lua mirror (``mockcamb/stores/redis/poll.lua``); each rule there names the
function here it mirrors, and ``tests/test_store_differential.py`` holds the two to the same
answers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from . import rand
from .scenario import Fault, Scenario, Step
from .settings import Settings
from .statuses import SUCCESS, is_final

#: The run id the first task to succeed without a run id of its own gets (then +1 each).
FIRST_RUN_ID = 1000
MAX_TASK_ID = 200

#: One history entry: (request number, clock, HTTP status, task status, fault type).
HistoryEntry = tuple[int, float, int, "str | None", "str | None"]


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
        self.history: deque[HistoryEntry] | None = None

    def copy(self) -> TaskState:
        """A detached copy (the history too), safe to read while the task is polled."""
        twin = TaskState.__new__(TaskState)
        for name in TaskState.__slots__:
            setattr(twin, name, getattr(self, name))
        if self.history is not None:
            twin.history = deque(self.history, self.history.maxlen)
        return twin

    def settle(self, now: float) -> None:
        """Move through every time-driven step whose time is up (the steps only: a store
        settles a task it keeps with :func:`settle`, which also gives the run id and the
        finish time)."""
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


@dataclass(slots=True)
class Settled:
    """What settling a task to the clock came to, and what the store must keep of it."""

    drew_run_id: bool = False  # the task took the store's spare run id: count it as used
    run_assigned: bool = False  # the task got its run id now: index it
    finished: bool = False  # the task finished now: its finished_ttl starts now


@dataclass(slots=True)
class Poll:
    """What one counted request to a task came to, and what the store must keep of it
    (the fields of :class:`Settled`, for the settling this request did)."""

    task: TaskState
    n: int
    now: float
    step: Step
    fault: Fault | None
    run_id: int | None
    journaled: bool = False  # the store wrote the journal entry itself
    drew_run_id: bool = False
    run_assigned: bool = False
    finished: bool = False


def valid_task_id(task_id: str) -> bool:
    """An id a poll may auto-create: 1-200 printable characters, no slash."""
    return 0 < len(task_id) <= MAX_TASK_ID and task_id.isprintable() and "/" not in task_id


def created_with(auto: Scenario | None, task_id: str) -> Scenario | None:
    """The scenario a poll of a missing task creates it with: ``auto`` (the default scenario
    when ``unknown_task`` is 'auto', else None) if the id is valid, else None."""
    return auto if auto is not None and valid_task_id(task_id) else None


def seed_key(kind: str, task_id: str, scenario: Scenario, seed: int) -> int:
    """The key of every draw a task makes: the scenario's own seed, else one derived from
    the settings' seed and the task's kind and id."""
    if scenario.seed is not None:
        return scenario.seed
    return seed * 1_000_003 + rand.key_of(f"{kind}/{task_id}")


def new_task(kind: str, task_id: str, scenario: Scenario, now: float, seed: int) -> TaskState:
    """A task created at ``now``, before its first poll."""
    return TaskState(kind, task_id, scenario, now, seed_key(kind, task_id, scenario, seed))


def pick_fault(
    scenario: Scenario, faults: tuple[Fault, ...], key: int, n: int, age: float
) -> Fault | None:
    """The fault request ``n`` meets, ``age`` seconds after its task was created: the
    scenario's faults, then the settings' ``faults``, each in order; the first that names
    ``n``, has a window holding ``age``, or is a probability fault drawn, wins."""
    for source, listed in ((1, scenario.faults), (2, faults)):
        for i, fault in enumerate(listed):
            if fault.probability is None:
                if fault.strikes(n, age):
                    return fault
            elif rand.uniform(key, n, source * 1000 + i) < fault.probability:
                return fault
    return None


def settle(task: TaskState, now: float, spare_run_id: int) -> Settled:
    """Settle ``task`` to the clock, as every poll and every admin read does (the read not
    counted as a poll): through every time-driven step whose time is up; on SUCCESS, its
    run id (``spare_run_id`` unless the step names one); at a final last step, its finish
    time (``now``, the first time it is settled there). So an admin read shows the run id
    and finish time the next poll answers."""
    task.settle(now)
    out = Settled()
    step = task.current
    if step.status == SUCCESS and task.run_id is None:
        out.drew_run_id = step.run_id is None
        task.run_id = spare_run_id if step.run_id is None else step.run_id
        out.run_assigned = True
    if task.finished_at is None and task.finished:
        task.finished_at = now
        out.finished = True
    return out


def poll(task: TaskState, now: float, settings: Settings, spare_run_id: int) -> Poll:
    """Count one request to ``task`` at ``now``: :func:`settle` it, pick the request's
    fault, advance it if the request is answered, record its history."""
    task.requests += 1
    n = task.requests
    s = settle(task, now, spare_run_id)
    step = task.current
    run_id = task.run_id if step.status == SUCCESS else step.run_id
    p = Poll(
        task,
        n,
        now,
        step,
        None,
        run_id,
        drew_run_id=s.drew_run_id,
        run_assigned=s.run_assigned,
        finished=s.finished,
    )
    p.fault = pick_fault(task.scenario, settings.faults, task.seed_key, n, now - task.created_at)
    if p.fault is None:
        _advance(task, step, now)
    _remember(task, p, settings.history_limit)
    return p


def _advance(task: TaskState, step: Step, now: float) -> None:
    """An answered poll: the step holds one poll more, and ends after its ``polls``; the
    last step holds for ever."""
    task.answered += 1
    task.step_polls += 1
    if task.step < len(task.scenario.steps) - 1 and (
        step.polls is not None and task.step_polls >= step.polls
    ):
        task.step += 1
        task.step_polls = 0
        task.step_started = now


def _remember(task: TaskState, p: Poll, limit: int) -> None:
    """Append the poll to the task's history, the last ``limit`` kept (0: none added)."""
    if not limit:
        return
    if task.history is None or task.history.maxlen != limit:
        task.history = deque(task.history or (), maxlen=limit)
    if p.fault is None:
        task.history.append((p.n, p.now, 200, p.step.status, None))
    else:
        task.history.append((p.n, p.now, p.fault.http_status, None, p.fault.type))
