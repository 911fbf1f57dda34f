"""Task lives: what one task does while a client polls it (:class:`Life`), as a scenario
document the emulator runs, and the hypothesis strategies that generate lives per property."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st

from ..core.errors import ConfigError
from ..core.statuses import FAILURE_STATUSES, PENDING, SUCCESS
from .config import ConformanceConfig
from .families import DEFAULT_ENDPOINTS
from .properties import PERMANENT_CODES

#: Statuses CAMB does not document, which a client must treat as "still running".
UNKNOWN_STATUSES = ("PROCESSING", "QUEUED", "RUNNING", "IN_PROGRESS", "STARTED", "UPLOADING")
#: The messages a failed task may carry.
MESSAGES = ("Task failed", "Source file could not be processed", "Insufficient credits")


@dataclass(frozen=True)
class Wait:
    """A non-final status held for ``polls`` answered polls or ``seconds`` of virtual time."""

    status: str
    polls: int | None = None
    seconds: int | None = None

    def describe(self) -> str:
        if self.polls is not None:
            return f"{self.status} x{self.polls}"
        return f"{self.status} for {self.seconds} s"


@dataclass(frozen=True)
class FaultSpec:
    """One transient fault: an HTTP error, a bad body or a dropped connection."""

    type: str  # http_error, non_json, truncated_json, drop_connection
    http_status: int = 200
    retry_after: int | None = None
    retry_after_format: str = "seconds"  # or "date": Retry-After as an HTTP date

    def to_dict(self, poll: int | list[int]) -> dict[str, Any]:
        out: dict[str, Any] = {"poll": poll, "type": self.type, "http_status": self.http_status}
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
            if self.retry_after_format != "seconds":
                out["retry_after_format"] = self.retry_after_format
        return out

    def describe(self) -> str:
        if self.type == "http_error":
            ra = ""
            if self.retry_after is not None and self.retry_after_format == "date":
                ra = f" (Retry-After: an HTTP date {self.retry_after} s ahead)"
            elif self.retry_after is not None:
                ra = f" (Retry-After: {self.retry_after})"
            return f"{self.http_status}{ra}"
        if self.type == "drop_connection":
            return "dropped connection"
        what = "non-JSON body" if self.type == "non_json" else "truncated JSON body"
        return f"{self.http_status} with a {what}"


FaultGroups = tuple[tuple[FaultSpec, ...], ...]


@dataclass(frozen=True)
class Life:
    """The life of one task, as generated: what the client meets, in order."""

    endpoint: str
    waits: tuple[Wait, ...] = ()
    final: str | None = SUCCESS  # None: the task never finishes (permanent-error lives)
    run_id: int | None = None
    message: str | None = None
    exception_reason: str | None = None
    fault_groups: FaultGroups = ()
    """faults before the 1st, 2nd, ... answered poll"""
    permanent: tuple[int, int] | None = None
    """(http_status, first request) of a permanent error"""
    permanent_span: int = 0
    stalls: tuple[int, ...] = ()
    """polls (1-based, every request to the status path counted) the harness holds
    unanswered: the connection is accepted and never answered (not part of the scenario)"""

    def final_at(self) -> float | None:
        """The virtual time the task reaches its final status when only time decides it
        (every wait is time-driven), else ``None``."""
        if self.final is None or any(w.seconds is None for w in self.waits):
            return None
        return float(sum(w.seconds or 0 for w in self.waits))

    def faults(self) -> list[tuple[int, FaultSpec]]:
        """(request number, fault) pairs; faulted requests do not count as answered polls."""
        out: list[tuple[int, FaultSpec]] = []
        n = 0
        for group in self.fault_groups:
            for fault in group:
                n += 1
                out.append((n, fault))
            n += 1
        return out

    def scenario(self) -> dict[str, Any]:
        """The scenario document the emulator runs (usable with ``mockcamb serve``)."""
        doc: dict[str, Any] = {"steps": [*map(_step, self.waits), self._last_step()]}
        faults = [f.to_dict(n) for n, f in self.faults()]
        if self.permanent is not None:
            code, first = self.permanent
            faults.append(
                {
                    "poll": list(range(first, first + self.permanent_span)),
                    "type": "http_error",
                    "http_status": code,
                }
            )
        if faults:
            doc["faults"] = faults
        return doc

    def _last_step(self) -> dict[str, Any]:
        last: dict[str, Any] = {"status": self.final or PENDING}
        if self.run_id is not None:
            last["run_id"] = self.run_id
        if self.message is not None:
            last["message"] = self.message
        if self.exception_reason is not None:
            last["exception_reason"] = self.exception_reason
        return last

    def describe(self) -> str:
        """One line a person can read: the steps, then the faults by request number."""
        parts = [w.describe() for w in self.waits]
        if self.final is not None:
            final = self.final
            if self.run_id is not None:
                final += f" (run_id {self.run_id})"
            parts.append(final)
        else:
            parts.append(f"{PENDING} for ever")
        text = f"{self.endpoint}: " + " -> ".join(parts)
        faults = [f"request {n}: {f.describe()}" for n, f in self.faults()]
        if self.permanent is not None:
            faults.append(f"request {self.permanent[1]} onwards: {self.permanent[0]}")
        if faults:
            text += "; faults: " + ", ".join(faults)
        if self.stalls:
            polls = ", ".join(map(str, self.stalls))
            text += f"; stalled by the harness (accepted, never answered): poll {polls}"
        return text


def _step(wait: Wait) -> dict[str, Any]:
    step: dict[str, Any] = {"status": wait.status}
    if wait.polls is not None:
        step["polls"] = wait.polls
    else:
        step["seconds"] = wait.seconds
    return step


# --- strategies ------------------------------------------------------------------------------


def _wait_values(
    statuses: st.SearchStrategy[str], max_step_seconds: int
) -> st.SearchStrategy[Wait]:
    by_polls = st.builds(Wait, statuses, polls=st.integers(1, 5))
    by_time = st.builds(Wait, statuses, seconds=st.integers(1, max(1, max_step_seconds)))
    return st.one_of(by_polls, by_time)


def fault_values(config: ConformanceConfig) -> st.SearchStrategy[FaultSpec]:
    """The transient faults of property 2: 429 (with and without Retry-After), 5xx, non-JSON
    and truncated bodies, dropped connections. Retry-After comes in every legal form: whole
    seconds, ``0`` and an HTTP date."""
    plain = st.sampled_from(
        [
            FaultSpec("http_error", 503),
            FaultSpec("http_error", 500),
            FaultSpec("http_error", 502),
            FaultSpec("http_error", 504),
            FaultSpec("http_error", 429),
            FaultSpec("non_json", 200),
            FaultSpec("non_json", 502),
            FaultSpec("truncated_json", 200),
            FaultSpec("drop_connection", 200),
        ]
    )
    throttled = st.builds(
        FaultSpec,
        st.just("http_error"),
        st.sampled_from((429, 503)),
        st.integers(0, config.max_retry_after),
        st.sampled_from(("seconds", "date")),
    )
    return st.one_of(plain, throttled)


def _fault_groups(config: ConformanceConfig) -> st.SearchStrategy[FaultGroups]:
    group = st.lists(fault_values(config), max_size=config.max_faults_in_row).map(tuple)
    return st.lists(group, max_size=8).map(tuple)


def _waits(config: ConformanceConfig, statuses: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    max_steps = 4
    per_step = int(config.max_task_seconds // max_steps)
    return st.lists(_wait_values(statuses, per_step), max_size=max_steps).map(tuple)


_PENDING = st.just(PENDING)
_RUN_IDS = st.integers(1, 2**31 - 1)
Endpoints = st.SearchStrategy[str]


def _api_key_lives(endpoint: Endpoints, config: ConformanceConfig) -> st.SearchStrategy[Life]:
    return st.builds(
        Life,
        endpoint,
        _waits(config, _PENDING),
        st.sampled_from((SUCCESS, *FAILURE_STATUSES)),
        fault_groups=_fault_groups(config),
    ).map(lambda life: replace(life, run_id=1) if life.final == SUCCESS else life)


def _success_lives(endpoint: Endpoints, config: ConformanceConfig) -> st.SearchStrategy[Life]:
    return st.builds(
        Life,
        endpoint,
        _waits(config, _PENDING),
        st.just(SUCCESS),
        _RUN_IDS,
        fault_groups=_fault_groups(config),
    )


def _final_status_lives(endpoint: Endpoints, config: ConformanceConfig) -> st.SearchStrategy[Life]:
    no_faults: st.SearchStrategy[FaultGroups] = st.just(())
    return st.builds(
        Life,
        endpoint,
        _waits(config, _PENDING),
        st.sampled_from(FAILURE_STATUSES),
        st.none(),
        st.one_of(st.none(), st.sampled_from(MESSAGES)),
        st.one_of(st.none(), st.sampled_from(("PROCESSING_ERROR", "PAYMENT_REQUIRED"))),
        fault_groups=no_faults,
    )


def _permanent_lives(endpoint: Endpoints, config: ConformanceConfig) -> st.SearchStrategy[Life]:
    span = config.permanent_retries + 2
    return st.builds(
        lambda ep, code, first: Life(ep, final=None, permanent=(code, first), permanent_span=span),
        endpoint,
        st.sampled_from(PERMANENT_CODES),
        st.integers(1, 4),
    )


def _unknown_status_lives(
    endpoint: Endpoints, config: ConformanceConfig
) -> st.SearchStrategy[Life]:
    unknown = st.sampled_from(UNKNOWN_STATUSES)
    return st.builds(
        lambda ep, before, odd, after, rid: Life(ep, (*before, odd, *after), SUCCESS, rid),
        endpoint,
        st.lists(_wait_values(_PENDING, 60), max_size=1).map(tuple),
        _wait_values(unknown, 120),
        st.lists(_wait_values(st.one_of(_PENDING, unknown), 60), max_size=2).map(tuple),
        _RUN_IDS,
    )


def _gives_up_lives(endpoint: Endpoints, config: ConformanceConfig) -> st.SearchStrategy[Life]:
    """A task that never finishes: PENDING for ever (after an unknown status, perhaps), with
    a transient fault or two on the way."""
    unknown = st.lists(_wait_values(st.sampled_from(UNKNOWN_STATUSES), 60), max_size=1)
    faults = st.lists(st.lists(fault_values(config), max_size=1).map(tuple), max_size=2)
    return st.builds(
        lambda ep, before, groups: Life(ep, before, None, fault_groups=groups),
        endpoint,
        unknown.map(tuple),
        faults.map(tuple),
    )


#: How long the PENDING of a backoff life lasts: longer than the 10-minute window, and long
#: enough for a backoff to reach its cap.
BACKOFF_PENDING = (11 * 60, 20 * 60)
#: The longest task of a timely life: long enough for an uncapped backoff to wait too long.
TIMELY_MAX_SECONDS = 1800
#: Lives at most per property, whatever ``examples`` says: a task that never finishes has few
#: shapes, and a careful client polls each one until its own deadline.
MAX_LIVES = {"gives-up": 10}


def _backoff_lives(endpoint: Endpoints, config: ConformanceConfig) -> st.SearchStrategy[Life]:
    """A long PENDING (11 to 20 virtual minutes), then SUCCESS."""
    return st.builds(
        lambda ep, seconds, rid: Life(ep, (Wait(PENDING, seconds=seconds),), SUCCESS, rid),
        endpoint,
        st.integers(*BACKOFF_PENDING),
        _RUN_IDS,
    )


def _timely_lives(endpoint: Endpoints, config: ConformanceConfig) -> st.SearchStrategy[Life]:
    """PENDING for a while (a second to half an hour of virtual time), then a final status."""
    return st.builds(
        lambda ep, seconds, final: Life(
            ep, (Wait(PENDING, seconds=seconds),), final, 1 if final == SUCCESS else None
        ),
        endpoint,
        st.integers(1, TIMELY_MAX_SECONDS),
        st.sampled_from((SUCCESS, *FAILURE_STATUSES)),
    )


def _timeouts_lives(endpoint: Endpoints, config: ConformanceConfig) -> st.SearchStrategy[Life]:
    """A short task with one or two polls the harness holds unanswered."""
    return st.builds(
        lambda ep, waits, stalls, rid: Life(ep, waits, SUCCESS, rid, stalls=stalls),
        endpoint,
        st.lists(st.builds(Wait, _PENDING, polls=st.integers(1, 3)), max_size=1).map(tuple),
        st.lists(st.integers(1, 4), min_size=1, max_size=2, unique=True).map(
            lambda ns: tuple(sorted(ns))
        ),
        _RUN_IDS,
    )


_LIVES: dict[str, Callable[[Endpoints, ConformanceConfig], st.SearchStrategy[Life]]] = {
    "api-key": _api_key_lives,
    "success": _success_lives,
    "final-status": _final_status_lives,
    "politeness": _success_lives,
    "permanent-errors": _permanent_lives,
    "unknown-status": _unknown_status_lives,
    "gives-up": _gives_up_lives,
    "backoff": _backoff_lives,
    "timely": _timely_lives,
    "timeouts": _timeouts_lives,
}


def life_values(
    prop: str, config: ConformanceConfig, endpoints: Sequence[str] = ()
) -> st.SearchStrategy[Life]:
    """Task lives that exercise property ``prop``, polled at one of ``endpoints`` (status
    paths; by default the config's ``endpoints``, else story and project-setup)."""
    lives = _LIVES.get(prop)
    if lives is None:
        raise ConfigError(f"property: unknown property {prop!r}")
    paths = tuple(endpoints) or config.endpoints or DEFAULT_ENDPOINTS
    return lives(st.sampled_from(paths), config)
