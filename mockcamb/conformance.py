"""Client conformance: run any polling client against mockcamb through generated task lives.

A client is ``poll(base_url, api_key, endpoint, task_id) -> dict`` (``endpoint`` is ``story``
or ``project-setup``). :func:`check_client` serves an in-process emulator on a free port, and for
each property lets hypothesis generate task lives (scenarios), runs the client through each one
over real HTTP in virtual time (see :mod:`mockcamb.virtual_time`) and judges what it did from the
emulator's journal. A failing property is reported with the smallest life hypothesis finds.

A client that never stops is stopped by a budget (requests, virtual seconds, requests without
any virtual time passing) and a wall-clock watchdog, so a run never hangs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import functools
import importlib
import inspect
import io
import itertools
import json
import math
import os
import random
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky

from .core.clock import ManualClock
from .core.emulator import Emulator
from .core.errors import ConfigError
from .core.routes import KINDS
from .core.statuses import FAILURE_STATUSES, PENDING, SUCCESS
from .http.app import create_app
from .serve.waitress import Server
from .virtual_time import VirtualTime, patched

__all__ = [
    "PROPERTIES",
    "ConformanceConfig",
    "Exchange",
    "FaultSpec",
    "Finding",
    "Harness",
    "Life",
    "Property",
    "Report",
    "Run",
    "Wait",
    "check_client",
    "cmd_conform",
    "config_from_args",
    "configure_parser",
    "fault_values",
    "judge_api_key",
    "judge_final_status",
    "judge_permanent",
    "judge_politeness",
    "judge_success",
    "judge_unknown_status",
    "life_values",
    "load_client",
    "property_named",
    "relax",
]

Client = Callable[[str, str, str, str], Any]

_real_sleep = time.sleep  # the watchdog waits in real time even if a test patches time.sleep
_real_perf = time.perf_counter
EPS = 1e-6
PERMANENT_CODES = (401, 403, 404, 422)
UNKNOWN_STATUSES = ("PROCESSING", "QUEUED", "RUNNING", "IN_PROGRESS", "STARTED", "UPLOADING")
AFTER_FINAL_POLLS = 5  # polls after a final status before any run is stopped
PERMANENT_STREAK = 10  # permanent errors in a row (401/403/404/422) before any run is stopped
STALE_DELAY = 0.5  # real seconds a request from an abandoned client is held
_REAL_SLEEP_HINT = (
    " and never slept in virtual time; if it waits with a sleep it imported before the harness "
    "patched time (`from time import sleep` in a module loaded earlier) or in a thread of its "
    "own, that wait is real"
)
MESSAGES = ("Task failed", "Source file could not be processed", "Insufficient credits")


# --- properties ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Property:
    """One conformance property: a number, a short name (for options) and what it demands."""

    number: int
    name: str
    title: str


PROPERTIES: tuple[Property, ...] = (
    Property(1, "api-key", "every request carries the x-api-key it was given"),
    Property(
        2,
        "success",
        "returns the SUCCESS body with the task's run_id despite PENDING answers and "
        "transient faults (429, 5xx, bad bodies, dropped connections)",
    ),
    Property(
        3,
        "final-status",
        "on FAILED, ERROR, TIMEOUT or PAYMENT_REQUIRED it returns that status or raises, "
        "never reports SUCCESS, and polls no more",
    ),
    Property(
        4,
        "politeness",
        "waits between polls, honours Retry-After and stays within the request budget",
    ),
    Property(5, "permanent-errors", "raises on 401, 403, 404 and 422 within a few requests"),
    Property(6, "unknown-status", "keeps polling through a status it has never heard of"),
)
_BY_NAME = {p.name: p for p in PROPERTIES}


def property_named(name: str) -> Property:
    """Look a property up by name (``politeness``) or number (``4``)."""
    key = name.strip().lower().replace("_", "-")
    if key.isdigit() and 1 <= int(key) <= len(PROPERTIES):
        return PROPERTIES[int(key) - 1]
    if key in _BY_NAME:
        return _BY_NAME[key]
    raise ConfigError(
        f"property: unknown property {name!r}; expected one of "
        f"{', '.join(p.name for p in PROPERTIES)} (or 1-{len(PROPERTIES)})"
    )


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class ConformanceConfig:
    """What to check and how hard. Every field can be set from the command line."""

    examples: int = 100
    """task lives generated per property (hypothesis max_examples)"""
    seed: int | None = None
    """hypothesis seed; None picks one (printed in the report, for reproduction)"""
    properties: tuple[str, ...] = tuple(p.name for p in PROPERTIES)
    endpoints: tuple[str, ...] = KINDS
    min_interval: float = 1.0
    """minimum virtual seconds between two polls"""
    max_requests: int = 1000
    """request budget per client call; a careful client stays far below"""
    max_virtual_seconds: float = 7 * 86_400.0
    """virtual-time budget per client call"""
    max_burst: int = 100
    """requests in a row without any virtual time passing before the client counts as a hot
    loop"""
    permanent_retries: int = 3
    """requests allowed after a permanent error (401/403/404/422) before it must raise"""
    max_faults_in_row: int = 3
    """transient faults generated in a row at most"""
    max_task_seconds: float = 900.0
    """virtual seconds a generated task stays PENDING at most (sum of time-driven steps)"""
    max_retry_after: int = 60
    """largest Retry-After generated, in seconds"""
    wall_timeout: float = 20.0
    """real seconds one client call may take before the watchdog stops it"""
    shrink: bool = True
    shrink_seconds: float = 15.0
    """real seconds spent shrinking one failing property at most"""
    capture_output: bool = True
    """hide what the client prints (the report shows the failing run's output)"""

    def __post_init__(self) -> None:
        for name in ("examples", "max_requests", "max_burst", "max_retry_after"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be at least 1, got {getattr(self, name)!r}")
        for name in ("permanent_retries", "max_faults_in_row"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must be at least 0, got {getattr(self, name)!r}")
        for name in (
            "min_interval",
            "max_virtual_seconds",
            "max_task_seconds",
            "wall_timeout",
            "shrink_seconds",
        ):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name}: must be a finite number >= 0, got {value!r}")
        if self.wall_timeout <= 0:
            raise ConfigError("wall_timeout: must be > 0")
        for name in self.properties:
            property_named(name)
        for ep in self.endpoints:
            if ep not in KINDS:
                raise ConfigError(f"endpoint: must be 'story' or 'project-setup', got {ep!r}")
        if not self.endpoints:
            raise ConfigError("endpoint: give at least one endpoint")


_NUMERIC = {
    "examples": int,
    "seed": int,
    "max_requests": int,
    "max_burst": int,
    "permanent_retries": int,
    "max_faults_in_row": int,
    "max_retry_after": int,
    "min_interval": float,
    "max_virtual_seconds": float,
    "max_task_seconds": float,
    "wall_timeout": float,
    "shrink_seconds": float,
}
_TUNABLES = {name.replace("_", "-"): name for name in _NUMERIC}


def relax(config: ConformanceConfig, items: Iterable[str]) -> ConformanceConfig:
    """Apply ``--relax`` items: a property name (or number) drops that property;
    ``name=value`` changes a setting (``min-interval=0.5``, ``permanent-retries=10``,
    ``examples=20``, ``seed=3``, ``endpoint=story``)."""
    props = list(config.properties)
    changes: dict[str, Any] = {}
    for raw in items:
        item = raw.strip()
        if "=" in item:
            name, _, value = item.partition("=")
            if name.strip().lower() in ("endpoint", "endpoints"):
                eps = tuple(v.strip() for v in value.split(",") if v.strip())
                changes["endpoints"] = eps
                continue
            key = _TUNABLES.get(name.strip().lower().replace("_", "-"))
            if key is None:
                raise ConfigError(
                    f"relax: unknown setting {name!r}; expected one of endpoint, "
                    f"{', '.join(sorted(_TUNABLES))}"
                )
            try:
                changes[key] = _NUMERIC[key](value.strip())
            except ValueError:
                raise ConfigError(f"relax: {name} needs a number, got {value!r}") from None
        else:
            prop = property_named(item)
            if prop.name in props:
                props.remove(prop.name)
    return replace(config, properties=tuple(props), **changes)


# --- task lives ----------------------------------------------------------------------------


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

    def to_dict(self, poll: int | list[int]) -> dict[str, Any]:
        out: dict[str, Any] = {"poll": poll, "type": self.type, "http_status": self.http_status}
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        return out

    def describe(self) -> str:
        if self.type == "http_error":
            ra = f" (Retry-After: {self.retry_after})" if self.retry_after is not None else ""
            return f"{self.http_status}{ra}"
        if self.type == "drop_connection":
            return "dropped connection"
        what = "non-JSON body" if self.type == "non_json" else "truncated JSON body"
        return f"{self.http_status} with a {what}"


@dataclass(frozen=True)
class Life:
    """The life of one task, as generated: what the client meets, in order."""

    endpoint: str
    waits: tuple[Wait, ...] = ()
    final: str | None = SUCCESS  # None: the task never finishes (permanent-error lives)
    run_id: int | None = None
    message: str | None = None
    exception_reason: str | None = None
    fault_groups: tuple[tuple[FaultSpec, ...], ...] = ()
    """faults before the 1st, 2nd, ... answered poll"""
    permanent: tuple[int, int] | None = None
    """(http_status, first request) of a permanent error"""
    permanent_span: int = 0

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
        steps: list[dict[str, Any]] = []
        for w in self.waits:
            step: dict[str, Any] = {"status": w.status}
            if w.polls is not None:
                step["polls"] = w.polls
            else:
                step["seconds"] = w.seconds
            steps.append(step)
        last: dict[str, Any] = {"status": self.final or PENDING}
        if self.run_id is not None:
            last["run_id"] = self.run_id
        if self.message is not None:
            last["message"] = self.message
        if self.exception_reason is not None:
            last["exception_reason"] = self.exception_reason
        steps.append(last)
        doc: dict[str, Any] = {"steps": steps}
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
        return text


def _wait_values(
    statuses: st.SearchStrategy[str], max_step_seconds: int
) -> st.SearchStrategy[Wait]:
    by_polls = st.builds(Wait, statuses, polls=st.integers(1, 5))
    by_time = st.builds(Wait, statuses, seconds=st.integers(1, max(1, max_step_seconds)))
    return st.one_of(by_polls, by_time)


def fault_values(config: ConformanceConfig) -> st.SearchStrategy[FaultSpec]:
    """The transient faults of property 2: 429 (with and without Retry-After), 5xx, non-JSON
    and truncated bodies, dropped connections."""
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
        st.just(429),
        st.integers(1, config.max_retry_after),
    )
    return st.one_of(plain, throttled)


def _fault_groups(
    config: ConformanceConfig,
) -> st.SearchStrategy[tuple[tuple[FaultSpec, ...], ...]]:
    group = st.lists(fault_values(config), max_size=config.max_faults_in_row).map(tuple)
    return st.lists(group, max_size=8).map(tuple)


def _waits(config: ConformanceConfig, statuses: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    max_steps = 4
    per_step = int(config.max_task_seconds // max_steps)
    return st.lists(_wait_values(statuses, per_step), max_size=max_steps).map(tuple)


def life_values(prop: str, config: ConformanceConfig) -> st.SearchStrategy[Life]:
    """Task lives that exercise property ``prop``."""
    endpoint = st.sampled_from(config.endpoints)
    pending = st.just(PENDING)
    no_faults: st.SearchStrategy[tuple[tuple[FaultSpec, ...], ...]] = st.just(())
    run_ids = st.integers(1, 2**31 - 1)
    if prop == "api-key":
        return st.builds(
            Life,
            endpoint,
            _waits(config, pending),
            st.sampled_from((SUCCESS, *FAILURE_STATUSES)),
            fault_groups=_fault_groups(config),
        ).map(lambda life: replace(life, run_id=1) if life.final == SUCCESS else life)
    if prop in ("success", "politeness"):
        return st.builds(
            Life,
            endpoint,
            _waits(config, pending),
            st.just(SUCCESS),
            run_ids,
            fault_groups=_fault_groups(config),
        )
    if prop == "final-status":
        return st.builds(
            Life,
            endpoint,
            _waits(config, pending),
            st.sampled_from(FAILURE_STATUSES),
            st.none(),
            st.one_of(st.none(), st.sampled_from(MESSAGES)),
            st.one_of(st.none(), st.sampled_from(("PROCESSING_ERROR", "PAYMENT_REQUIRED"))),
            fault_groups=no_faults,
        )
    if prop == "permanent-errors":
        span = config.permanent_retries + 2
        return st.builds(
            lambda ep, code, first: Life(
                ep, final=None, permanent=(code, first), permanent_span=span
            ),
            endpoint,
            st.sampled_from(PERMANENT_CODES),
            st.integers(1, 4),
        )
    if prop == "unknown-status":
        unknown = st.sampled_from(UNKNOWN_STATUSES)
        return st.builds(
            lambda ep, before, odd, after, rid: Life(ep, (*before, odd, *after), SUCCESS, rid),
            endpoint,
            st.lists(_wait_values(pending, 60), max_size=1).map(tuple),
            _wait_values(unknown, 120),
            st.lists(_wait_values(st.one_of(pending, unknown), 60), max_size=2).map(tuple),
            run_ids,
        )
    raise ConfigError(f"property: unknown property {prop!r}")


# --- one client call --------------------------------------------------------------------


class _Stop(BaseException):
    """Raised inside a runaway client to take control back (a BaseException, so that a
    client's ``except Exception`` does not swallow it)."""


def _inject_stop(ident: int | None) -> None:
    """Raise :class:`_Stop` in thread ``ident`` at its next Python instruction."""
    if ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(_Stop))


def _clear_stop(ident: int) -> None:
    """Drop a :class:`_Stop` still pending for thread ``ident``."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)


@dataclass
class Exchange:
    """One request the client sent, as the emulator saw and answered it."""

    seq: int
    method: str
    path: str
    clock: float
    status_code: int
    task_status: str | None
    dropped: bool
    key: str  # ok, missing, wrong
    retry_after: float | None = None
    served: bool = True

    def describe(self, origin: float = 0.0) -> str:
        if not self.served:
            answer = "not served (stopped by the harness)"
        elif self.dropped:
            answer = "connection dropped"
        elif self.task_status is not None:
            answer = f"{self.status_code} {self.task_status}"
        else:
            answer = str(self.status_code)
            if self.retry_after is not None:
                answer += f" (Retry-After: {self.retry_after:g})"
        key = "" if self.key == "ok" else f"  [x-api-key {self.key}]"
        t = self.clock - origin
        return f"#{self.seq:<3} t={t:<9.6g} {self.method} {self.path} -> {answer}{key}"


@dataclass
class Run:
    """What happened when the client met one life."""

    life: Life
    prop: str
    task_id: str
    outcome: str = "returned"  # returned, raised, stopped, hung
    value: Any = None
    error: str = ""
    error_type: str = ""
    traceback: str = ""
    stop_reason: str | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    output: str = ""
    virtual_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def status_path(self) -> str:
        return f"/apis/{self.life.endpoint}/{self.task_id}"

    def polls(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.path == self.status_path]

    def what_client_did(self) -> str:
        flagged = (
            f" (after the harness had called for a stop: {self.stop_reason})"
            if self.stop_reason
            else ""
        )
        if self.outcome == "returned":
            return f"returned {_short(self.value)}{flagged}"
        if self.outcome == "raised":
            return f"raised {self.error_type}: {_shorten(self.error, 300)}{flagged}"
        if self.outcome == "hung":
            return f"hung, and was abandoned by the harness: {self.stop_reason}"
        return f"was stopped by the harness: {self.stop_reason}"


class _RunState:
    """The harness's live view of the run in progress (shared with the WSGI gate)."""

    def __init__(
        self, run: Run, tag: str, key: str, config: ConformanceConfig, emu: Emulator
    ) -> None:
        self.run = run
        self.tag = tag
        self.key = key
        self.config = config
        self.emu = emu
        self.lock = threading.Lock()
        self.count = 0
        self.thread: int | None = None
        self.closed = False
        self.stop_reason: str | None = None
        self.last_poll_clock: float | None = None
        self.retry_until: float | None = None
        self.burst = 0
        self.last_clock: float | None = None
        self.after_permanent: int | None = None
        self.after_final = 0
        self.permanent_streak = 0
        self.last_permanent = ""
        self.retry_after: dict[int, float] = {}
        self.status_codes: dict[int, int] = {}
        self.unserved: list[tuple[int, str, str, float, str]] = []
        self.virtual = 0.0

    def stop(self, reason: str) -> None:
        with self.lock:
            if self.stop_reason is None:
                self.stop_reason = reason
            if not self.closed:
                _inject_stop(self.thread)

    def advance(self, seconds: float) -> None:
        """The virtual sleep: move the emulator's clock, or stop a client past its budget."""
        with self.lock:
            if self.closed or self.stop_reason is not None:
                raise _Stop
            if self.virtual + seconds > self.config.max_virtual_seconds:
                self.stop_reason = (
                    f"asked to sleep {seconds:g} s with {self.virtual:g} virtual seconds used; "
                    f"the budget is {self.config.max_virtual_seconds:g} s"
                )
                raise _Stop
            self.virtual += seconds
        self.emu.advance(seconds)

    def on_request(self, method: str, path: str, key_state: str) -> tuple[int, bool]:
        """Count a request and decide whether to serve it; may stop the client."""
        with self.lock:
            self.count += 1
            seq = self.count
            now = self.emu.clock.now()
            if self.stop_reason is not None or self.closed:
                self.unserved.append((seq, method, path, now, key_state))
                serve = False
            else:
                serve = True
                self._watch(path, now)
            if self.stop_reason is not None and not self.closed:
                _inject_stop(self.thread)
            return seq, serve

    def _watch(self, path: str, now: float) -> None:
        cfg = self.config
        run = self.run
        if self.count >= cfg.max_requests:
            self.stop_reason = f"sent {self.count} requests, the budget for one task"
        if self.last_clock is not None and now - self.last_clock < EPS:
            self.burst += 1
        else:
            self.burst = 0
        self.last_clock = now
        if self.burst >= cfg.max_burst:
            self.stop_reason = (
                f"hot loop: {self.burst + 1} requests in a row without any virtual time passing"
            )
        if self.permanent_streak > max(cfg.permanent_retries, PERMANENT_STREAK):
            self.stop_reason = (
                f"kept sending requests after {self.permanent_streak} permanent errors in a row "
                f"(last: {self.last_permanent})"
            )
        if path != run.status_path:
            return
        task = self.emu.get_task(run.life.endpoint, run.task_id)
        if task is not None and task.finished_at is not None:
            # polling on after a final status: a property-3 failure whatever is checked now;
            # stop at once when it is, else after a few polls (no runaway burns the budget)
            self.after_final += 1
            if run.prop == "final-status" or self.after_final > AFTER_FINAL_POLLS:
                self.stop_reason = (
                    f"polled {self.after_final} time(s) after {task.current.status} was answered"
                )
        if run.prop == "politeness" and self.last_poll_clock is not None:
            gap = now - self.last_poll_clock
            if self.retry_until is not None and now < self.retry_until - EPS:
                self.stop_reason = "polled before Retry-After had elapsed"
            elif gap < cfg.min_interval - EPS:
                self.stop_reason = f"polled {gap:g} s after the previous poll"
        if self.after_permanent is not None:
            self.after_permanent += 1
            if run.prop == "permanent-errors" and self.after_permanent > cfg.permanent_retries:
                self.stop_reason = (
                    f"kept retrying a permanent error: {self.after_permanent} requests after it"
                )
        self.last_poll_clock = now
        self.retry_until = None

    def on_response(
        self, seq: int, path: str, status: int, headers: Sequence[tuple[str, str]]
    ) -> None:
        with self.lock:
            self.status_codes[seq] = status
            if status in PERMANENT_CODES:
                self.permanent_streak += 1
                self.last_permanent = f"{status} on {path}"
            else:
                self.permanent_streak = 0
            if path != self.run.status_path:
                return
            for name, value in headers:
                if name.lower() == "retry-after":
                    ra = _retry_after_seconds(value)
                    if ra is not None:
                        self.retry_after[seq] = ra
                        if status == 429 or status >= 500:
                            self.retry_until = self.emu.clock.now() + ra
            if status in PERMANENT_CODES and self.after_permanent is None:
                self.after_permanent = 0


def _retry_after_seconds(value: str) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class _Gate:
    """WSGI middleware in front of the emulator: checks the key, tags each request with its
    sequence number, counts requests against the budget and turns away stale clients."""

    def __init__(self, app: Callable[..., Any], harness: Harness) -> None:
        self.app = app
        self.harness = harness

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        state = self.harness.state
        given = environ.get("HTTP_X_API_KEY")
        path = environ.get("PATH_INFO", "")
        if state is None or (
            given is not None and given != state.key and given in self.harness.old_keys
        ):
            # a client from an earlier run (abandoned by the watchdog): hold it back, so a
            # runaway thread that outlives its run cannot spin the CPU
            _real_sleep(STALE_DELAY)
            return _busy(start_response, "no conformance run is waiting for this request")
        key_state = "ok" if given == state.key else ("missing" if not given else "wrong")
        seq, serve = state.on_request(environ.get("REQUEST_METHOD", "GET"), path, key_state)
        if not serve:
            return _busy(start_response, "stopped by the conformance harness")
        tagged = {
            "HTTP_X_MOCKCAMB_RUN": state.tag,
            "HTTP_X_MOCKCAMB_SEQ": str(seq),
            "HTTP_X_MOCKCAMB_KEY": key_state,
        }
        tagged.update(environ)

        def _start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            state.on_response(seq, path, int(status[:3]), headers)
            return start_response(status, headers, exc_info)

        return self.app(tagged, _start)


def _busy(start_response: Callable[..., Any], detail: str) -> list[bytes]:
    body = json.dumps({"detail": detail}).encode()
    start_response(
        "503 Service Unavailable",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


class Harness:
    """An in-process emulator on a free port plus the machinery to run a client through lives.

    Use as a context manager; :meth:`run` runs one life, :meth:`search` one property.
    """

    def __init__(self, client: Client, config: ConformanceConfig | None = None) -> None:
        self.client = client
        self.config = config or ConformanceConfig()
        self.emu = Emulator(clock=ManualClock())
        app = create_app(self.emu)
        app.wsgi_app = _Gate(app.wsgi_app, self)  # type: ignore[method-assign]
        self.server = Server(app, threads=8)
        self.state: _RunState | None = None
        self.old_keys: set[str] = set()
        self._runs = 0
        self._rand = random.Random()
        self.abandoned = 0
        self.examples_run: dict[str, int] = {}

    def __enter__(self) -> Harness:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(timeout=1.0)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    # --- running one life ---------------------------------------------------------------

    def run(self, life: Life, prop: str) -> Run:
        """Run the client through ``life`` and record everything it did."""
        self._runs += 1
        tag = f"{self._runs}-{self._rand.getrandbits(40):010x}"
        task_id = f"conformance-{tag}"
        key = f"mockcamb-key-{tag}"
        emu = self.emu
        emu.reset()
        emu.configure({"api_keys": [key]})
        emu.create_task(life.endpoint, task_id, life.scenario())
        run = Run(life, prop, task_id)
        state = _RunState(run, tag, key, self.config, emu)
        self.state = state
        self.old_keys.add(key)
        result: dict[str, Any] = {}
        vt = VirtualTime(state.advance)
        started = threading.Event()

        def work() -> None:
            ident = threading.get_ident()
            vt.attach()
            state.thread = ident
            started.set()
            try:
                try:
                    result["value"] = self.client(self.base_url, key, life.endpoint, task_id)
                    result["outcome"] = "returned"
                except _Stop:
                    result["outcome"] = "stopped"
                except BaseException as exc:  # the client's own failure, whatever it is
                    result["outcome"] = "raised"
                    result["error"] = exc
                    result["traceback"] = traceback.format_exc()
                with state.lock:
                    state.closed = True  # no more stops for this thread...
                _clear_stop(ident)  # ...and none pending
            except _Stop:  # a stop that arrived after the client was done
                _clear_stop(ident)
            finally:
                vt.detach(ident)

        out = io.StringIO()
        t0 = _real_perf()
        thread = threading.Thread(target=work, name=f"mockcamb-client-{tag}", daemon=True)
        redirect = _redirect_output(out) if self.config.capture_output else contextlib.nullcontext()
        with redirect:
            thread.start()
            started.wait()
            thread.join(self.config.wall_timeout)
            if thread.is_alive():
                state.stop(
                    f"did not return within {self.config.wall_timeout:g} s of real time"
                    + (_REAL_SLEEP_HINT if state.count <= 2 and state.virtual == 0 else "")
                )
                thread.join(min(2.0, self.config.wall_timeout))
        with state.lock:
            state.closed = True
        if thread.is_alive():  # blocked in C, or swallowing every stop: leave it behind
            self.abandoned += 1
            result["outcome"] = "hung"
        run.wall_seconds = _real_perf() - t0
        run.virtual_seconds = state.virtual
        run.output = out.getvalue()
        run.outcome = result.get("outcome", "stopped")
        run.value = result.get("value")
        error = result.get("error")
        if error is not None:
            run.error_type = type(error).__name__
            run.error = str(error)
            run.traceback = result.get("traceback", "")
        run.stop_reason = state.stop_reason
        if run.outcome == "hung" and run.stop_reason is None:
            run.stop_reason = f"did not return within {self.config.wall_timeout:g} s"
        run.exchanges = self._exchanges(state)
        self.state = None
        return run

    def _exchanges(self, state: _RunState) -> list[Exchange]:
        out: list[Exchange] = []
        for entry in self.emu.journal():
            if entry["headers"].get("x-mockcamb-run") != state.tag:
                continue  # e.g. a late request from a client abandoned in an earlier run
            seq = entry["headers"].get("x-mockcamb-seq")
            if seq is None or not seq.isdigit():
                continue
            n = int(seq)
            out.append(
                Exchange(
                    n,
                    entry["method"],
                    entry["path"],
                    entry["clock"],
                    entry["status_code"],
                    entry["task_status"],
                    entry["dropped"],
                    entry["headers"].get("x-mockcamb-key", "ok"),
                    state.retry_after.get(n),
                )
            )
        for seq, method, path, clock, key_state in state.unserved:
            out.append(
                Exchange(seq, method, path, clock, 503, None, False, key_state, served=False)
            )
        out.sort(key=lambda e: e.seq)
        return out

    # --- searching one property ----------------------------------------------------------

    def search(self, prop: str, seed: int) -> Finding | None:
        """Let hypothesis look for the smallest life on which the client breaks ``prop``."""
        cfg = self.config
        judge = _JUDGES[prop]
        cache: dict[Life, Finding] = {}
        first_failure: list[float] = []
        count = [0]

        @settings(
            max_examples=cfg.examples,
            deadline=None,
            database=None,
            derandomize=False,
            phases=[Phase.explicit, Phase.generate] + ([Phase.shrink] if cfg.shrink else []),
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            report_multiple_bugs=False,
            print_blob=False,
        )
        @hypothesis_seed(seed)
        @given(life_values(prop, cfg))
        def check(life: Life) -> None:
            finding = cache.get(life)
            if finding is None:
                if first_failure and _real_perf() - first_failure[0] > cfg.shrink_seconds:
                    return  # out of shrinking time: only known failures fail from now on
                count[0] += 1
                run = self.run(life, prop)
                message = judge(run, cfg)
                if message is not None:
                    finding = Finding(_BY_NAME[prop], message, run)
                    cache[life] = finding
                    if not first_failure:
                        first_failure.append(_real_perf())
            if finding is not None:
                raise _PropertyFailed(finding)

        try:
            check()
        except _PropertyFailed as exc:
            exc.finding.examples_run = count[0]
            return exc.finding
        except Flaky:
            if cache:
                smallest = min(cache.values(), key=lambda f: _size(f.run.life))
                smallest.note = (
                    "hypothesis could not reproduce this failure on replay: the client behaves "
                    "differently on the same life (randomness not seeded from `random`?)"
                )
                smallest.examples_run = count[0]
                return smallest
            raise
        self.examples_run[prop] = count[0]
        return None


def _size(life: Life) -> int:
    return len(json.dumps(life.scenario()))


@contextlib.contextmanager
def _redirect_output(buffer: io.StringIO) -> Iterator[None]:
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield


class _PropertyFailed(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


# --- judging ------------------------------------------------------------------------------


def _short(value: Any, n: int = 200) -> str:
    try:
        text = json.dumps(value, default=repr) if isinstance(value, (dict, list)) else repr(value)
    except (TypeError, ValueError):
        text = repr(value)
    return _shorten(text, n)


def _shorten(text: str, n: int) -> str:
    text = " / ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return text if len(text) <= n else text[: n - 3] + "..."


def _not_finished(run: Run) -> str | None:
    if run.outcome in ("stopped", "hung"):
        return f"it never finished; the harness stopped it: {run.stop_reason}"
    return None


def _body_status(value: Any) -> tuple[Mapping[str, Any] | None, str]:
    if isinstance(value, Mapping):
        return value, ""
    hint = ""
    if hasattr(value, "model_dump") or hasattr(value, "dict"):
        hint = " (a client returns a dict: call .model_dump() on a pydantic model)"
    return None, f"returned {_short(value)}, not a status body (a dict){hint}"


def judge_api_key(run: Run, config: ConformanceConfig) -> str | None:
    """Property 1: every request carries the given key."""
    for ex in run.exchanges:
        if ex.key != "ok":
            how = (
                "without an x-api-key header"
                if ex.key == "missing"
                else ("with an x-api-key other than the one it was given")
            )
            return f"request #{ex.seq} ({ex.method} {ex.path}) was sent {how}"
    return None


def _judge_success(run: Run, what: str) -> str | None:
    stopped = _not_finished(run)
    if stopped:
        return stopped
    if run.outcome == "raised":
        return f"raised {run.error_type}: {_shorten(run.error, 300)} instead of returning {what}"
    body, problem = _body_status(run.value)
    if body is None:
        return f"{problem}; expected {what}"
    status = body.get("status")
    if status != SUCCESS:
        return f"returned a body with status {status!r}; expected {what}"
    if body.get("run_id") != run.life.run_id:
        return f"returned run_id {body.get('run_id')!r}, but the task's run_id is {run.life.run_id}"
    return None


def judge_success(run: Run, config: ConformanceConfig) -> str | None:
    """Property 2: the SUCCESS body comes back through PENDING answers and transient faults."""
    return _judge_success(run, "the SUCCESS body")


def judge_unknown_status(run: Run, config: ConformanceConfig) -> str | None:
    """Property 6: an unknown status is 'still running'."""
    odd = sorted({w.status for w in run.life.waits if w.status != PENDING})
    message = _judge_success(run, "the SUCCESS body")
    if message is None:
        return None
    return f"after the unknown status {', '.join(odd)}: {message}"


def judge_final_status(run: Run, config: ConformanceConfig) -> str | None:
    """Property 3: a failure status is final: report it (or raise), never SUCCESS, poll no more."""
    final = run.life.final
    polls = run.polls()
    first = next((i for i, e in enumerate(polls) if e.task_status == final and not e.dropped), None)
    extra = polls[first + 1 :] if first is not None else []
    if run.outcome == "returned":
        body, problem = _body_status(run.value)
        if body is None:
            return f"{problem}; expected a body with status {final!r} or an exception"
        if body.get("status") == SUCCESS:
            return f"reported SUCCESS for a task that ended {final}"
        if body.get("status") != final:
            return f"returned a body with status {body.get('status')!r}; expected {final!r}"
    if first is not None and extra:
        answered = polls[first]
        more = "the harness stopped it there" if run.outcome == "stopped" else "then it ended"
        return (
            f"kept polling after {final} was answered (request #{answered.seq}): "
            f"sent poll #{extra[0].seq} {extra[0].clock - answered.clock:g} s later; {more}"
        )
    return _not_finished(run)


def judge_politeness(run: Run, config: ConformanceConfig) -> str | None:
    """Property 4: min interval between polls, Retry-After honoured, within the budget."""
    polls = [e for e in run.polls() if e.served]
    for prev, cur in itertools.pairwise(polls):
        gap = cur.clock - prev.clock
        throttled = prev.status_code == 429 or prev.status_code >= 500
        if prev.retry_after is not None and throttled and gap < prev.retry_after - EPS:
            return (
                f"poll #{cur.seq} came {gap:g} s after a {prev.status_code} with "
                f"Retry-After: {prev.retry_after:g} (request #{prev.seq})"
            )
        if gap < config.min_interval - EPS:
            return (
                f"poll #{cur.seq} came {gap:g} s after poll #{prev.seq}; at least "
                f"{config.min_interval:g} s are required"
            )
    if run.stop_reason is not None:
        return f"the harness had to stop it: {run.stop_reason}"
    return None


def judge_permanent(run: Run, config: ConformanceConfig) -> str | None:
    """Property 5: 401/403/404/422 end the client with an exception within a few requests."""
    assert run.life.permanent is not None
    code = run.life.permanent[0]
    polls = run.polls()
    first = next((i for i, e in enumerate(polls) if e.status_code in PERMANENT_CODES), None)
    after = len(polls) - first - 1 if first is not None else 0
    if after > config.permanent_retries:
        return (
            f"kept retrying after a permanent {code}: {after} more request(s) "
            f"(at most {config.permanent_retries} allowed)"
            + ("; the harness stopped it" if run.outcome == "stopped" else "")
        )
    stopped = _not_finished(run)
    if stopped:
        return stopped
    if run.outcome == "returned" and first is not None:
        return f"returned {_short(run.value)} after a {code} instead of raising"
    return None


_JUDGES: dict[str, Callable[[Run, ConformanceConfig], str | None]] = {
    "api-key": judge_api_key,
    "success": judge_success,
    "final-status": judge_final_status,
    "politeness": judge_politeness,
    "permanent-errors": judge_permanent,
    "unknown-status": judge_unknown_status,
}


# --- findings and the report --------------------------------------------------------------


@dataclass
class Finding:
    """A property the client breaks, with the smallest failing life found and what it did."""

    prop: Property
    message: str
    run: Run
    note: str = ""
    examples_run: int = 0

    def format(self, indent: str = "  ") -> str:
        run = self.run
        lines = [
            f"property {self.prop.number} ({self.prop.name}) failed: {self.message}",
            f"{indent}smallest failing life: {run.life.describe()}",
            f"{indent}scenario: {json.dumps(run.life.scenario(), separators=(',', ':'))}",
            f"{indent}the client {run.what_client_did()}",
        ]
        if run.exchanges:
            lines.append(f"{indent}requests (t = virtual seconds):")
            shown = (
                run.exchanges
                if len(run.exchanges) <= 12
                else (run.exchanges[:6] + run.exchanges[-5:])
            )
            for i, ex in enumerate(shown):
                if len(run.exchanges) > 12 and i == 6:
                    lines.append(f"{indent}  ... {len(run.exchanges) - 11} more ...")
                lines.append(f"{indent}  {ex.describe()}")
        else:
            lines.append(f"{indent}requests: none")
        if run.outcome == "raised" and run.traceback:
            tail = run.traceback.strip().splitlines()[-4:]
            lines.append(f"{indent}traceback (last lines):")
            lines += [f"{indent}  {t}" for t in tail]
        if run.output.strip():
            out = run.output.strip().splitlines()[-6:]
            lines.append(f"{indent}client output (last lines):")
            lines += [f"{indent}  {_shorten(t, 160)}" for t in out]
        if self.note:
            lines.append(f"{indent}note: {self.note}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


@dataclass
class Report:
    """The outcome of a conformance run: one entry per property checked."""

    target: str
    config: ConformanceConfig
    seed: int
    results: dict[str, Finding | None]
    examples: dict[str, int]
    seconds: float
    skipped: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(f is None for f in self.results.values())

    @property
    def failed(self) -> list[str]:
        return [name for name, f in self.results.items() if f is not None]

    def format(self) -> str:
        lines = [
            f"mockcamb conform {self.target}",
            f"  seed {self.seed}, up to {self.config.examples} task lives per property, "
            f"endpoints {', '.join(self.config.endpoints)}",
            "",
        ]
        for prop in PROPERTIES:
            if prop.name in self.results:
                finding = self.results[prop.name]
                mark = "PASS" if finding is None else "FAIL"
                lines.append(f"{mark}  {prop.number} {prop.name}: {prop.title}")
                if finding is not None:
                    body = finding.format("      ")
                    lines += [
                        "      " + line if i == 0 else line
                        for i, line in enumerate(body.splitlines())
                    ]
            elif prop.name in self.skipped:
                lines.append(
                    f"SKIP  {prop.number} {prop.name}: not checked (left out by --only or --relax)"
                )
        lines.append("")
        total = sum(self.examples.values())
        if self.ok:
            lines.append(
                f"CONFORMS: {len(self.results)} properties held over {total} task lives "
                f"in {self.seconds:.1f} s"
            )
        else:
            lines.append(
                f"DOES NOT CONFORM: {len(self.failed)} of {len(self.results)} properties failed "
                f"({', '.join(self.failed)}); {total} task lives in {self.seconds:.1f} s"
            )
            lines.append(
                f"  reproduce with --seed {self.seed}; relax a property on purpose with "
                "--relax NAME"
            )
        return "\n".join(lines)


# --- the client -----------------------------------------------------------------------------


def load_client(target: str | Client) -> Client:
    """Resolve ``package.module:function`` (or a callable) into a client; async functions are
    wrapped to run with ``asyncio.run``. Raises :class:`ConfigError` with the fix."""
    if callable(target):
        return _wrap_async(target)
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"client: must look like package.module:function, got {target!r}")
    with patched():  # so that `from time import sleep` in the client is virtualisable
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # ImportError, or the module itself failing
            raise ConfigError(
                f"client: cannot import {module_name!r}: {type(exc).__name__}: {exc}"
            ) from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"client: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"client: {target!r} is not callable")
    return _wrap_async(obj)


def _wrap_async(func: Callable[..., Any]) -> Client:
    if not inspect.iscoroutinefunction(func):
        return func

    @functools.wraps(func)
    def run_async(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
        return asyncio.run(func(base_url, api_key, endpoint, task_id))

    return run_async


def _target_name(target: str | Client) -> str:
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", "?")
    return f"{module}:{getattr(target, '__qualname__', repr(target))}"


def check_client(
    target: str | Client,
    config: ConformanceConfig | None = None,
    *,
    on_result: Callable[[str, Finding | None], object] | None = None,
) -> Report:
    """Check a client against every chosen property and return the :class:`Report`."""
    cfg = config or ConformanceConfig()
    client = load_client(target)
    seed = cfg.seed if cfg.seed is not None else random.SystemRandom().randrange(2**32)
    results: dict[str, Finding | None] = {}
    examples: dict[str, int] = {}
    t0 = _real_perf()
    chosen = [
        p.name for p in PROPERTIES if p.name in {property_named(n).name for n in cfg.properties}
    ]
    with patched(), Harness(client, cfg) as harness:
        for name in chosen:
            finding = harness.search(name, seed)
            results[name] = finding
            examples[name] = (
                finding.examples_run if finding is not None else harness.examples_run.get(name, 0)
            )
            if on_result is not None:
                on_result(name, finding)
    skipped = tuple(p.name for p in PROPERTIES if p.name not in chosen)
    return Report(_target_name(target), cfg, seed, results, examples, _real_perf() - t0, skipped)


# --- command line --------------------------------------------------------------------------


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``mockcamb conform`` arguments to ``p``."""
    p.add_argument("target", help="the client to check, as package.module:function")
    p.add_argument(
        "--examples", type=int, default=100, help="task lives per property (default 100)"
    )
    p.add_argument("--seed", type=int, default=None, help="seed, to reproduce a run")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PROPERTY",
        help="check only this property (name or number; repeatable)",
    )
    p.add_argument(
        "--relax",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="skip a property (e.g. politeness) or change a setting (e.g. min-interval=0.5, "
        "permanent-retries=10); repeatable",
    )
    p.add_argument(
        "--endpoint",
        action="append",
        choices=KINDS,
        default=[],
        help="check only this endpoint (repeatable; default both)",
    )
    d = ConformanceConfig()
    p.add_argument(
        "--min-interval",
        type=float,
        default=d.min_interval,
        metavar="S",
        help=f"minimum virtual seconds between polls (default {d.min_interval:g})",
    )
    p.add_argument(
        "--max-requests",
        type=int,
        default=d.max_requests,
        metavar="N",
        help=f"request budget per task (default {d.max_requests})",
    )
    p.add_argument(
        "--max-virtual-seconds",
        type=float,
        default=d.max_virtual_seconds,
        metavar="S",
        help="virtual-time budget per task (default 7 days)",
    )
    p.add_argument(
        "--permanent-retries",
        type=int,
        default=d.permanent_retries,
        metavar="N",
        help=f"requests allowed after a 401/403/404/422 (default {d.permanent_retries})",
    )
    p.add_argument(
        "--max-faults-in-row",
        type=int,
        default=d.max_faults_in_row,
        metavar="N",
        help=f"transient faults in a row at most (default {d.max_faults_in_row})",
    )
    p.add_argument(
        "--max-task-seconds",
        type=float,
        default=d.max_task_seconds,
        metavar="S",
        help=f"virtual seconds a task stays PENDING at most (default {d.max_task_seconds:g})",
    )
    p.add_argument(
        "--wall-timeout",
        type=float,
        default=d.wall_timeout,
        metavar="S",
        help=f"real seconds per client call before it is stopped (default {d.wall_timeout:g})",
    )
    p.add_argument(
        "--no-shrink",
        action="store_true",
        help="report the first failing life found, without shrinking it",
    )
    p.add_argument(
        "--show-output",
        action="store_true",
        help="let the client print to the terminal instead of capturing it",
    )


def config_from_args(args: argparse.Namespace) -> ConformanceConfig:
    """Build the configuration from parsed ``mockcamb conform`` arguments."""
    props = (
        tuple(property_named(n).name for n in args.only)
        if args.only
        else tuple(p.name for p in PROPERTIES)
    )
    cfg = ConformanceConfig(
        examples=args.examples,
        seed=args.seed,
        properties=props,
        endpoints=tuple(dict.fromkeys(args.endpoint)) or KINDS,
        min_interval=args.min_interval,
        max_requests=args.max_requests,
        max_virtual_seconds=args.max_virtual_seconds,
        permanent_retries=args.permanent_retries,
        max_faults_in_row=args.max_faults_in_row,
        max_task_seconds=args.max_task_seconds,
        wall_timeout=args.wall_timeout,
        shrink=not args.no_shrink,
        capture_output=not args.show_output,
    )
    return relax(cfg, args.relax)


def cmd_conform(args: argparse.Namespace) -> int:
    """Run ``mockcamb conform``: 0 when the client conforms, 1 when not, 2 on bad usage
    (130 when interrupted)."""
    try:
        cfg = config_from_args(args)
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())
        client = load_client(args.target)
    except ConfigError as exc:
        print(f"mockcamb conform: error: {exc}", file=sys.stderr)
        return 2

    def progress(name: str, finding: Finding | None) -> None:
        mark = "ok" if finding is None else "FAIL"
        print(f"  checked {name}: {mark}", file=sys.stderr, flush=True)

    try:
        report = check_client(client, cfg, on_result=progress)
    except KeyboardInterrupt:
        print("mockcamb conform: interrupted", file=sys.stderr)
        return 130
    report.target = args.target
    print(report.format())
    return 0 if report.ok else 1
