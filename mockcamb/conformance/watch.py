"""The watch kept on the run in progress (:class:`RunState`): it counts the client's requests
against the budget, notes every answer's Retry-After, is the client's virtual sleep, holds the
requests a life stalls, and stops a client that breaks the budget or the property being
checked."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

from ..core.emulator import Emulator
from ..core.faults import http_now
from ..core.routes import status_family
from ..core.text import retry_after_seconds
from ..virtual_time import VirtualTime
from .config import ConformanceConfig
from .properties import BACKOFF_WINDOW, EPS, PERMANENT_CODES
from .records import Exchange, Run, Stall
from .text import duration
from .threads import Stop, inject_stop

AFTER_FINAL_POLLS = 5  # polls after a final status before any run is stopped
PERMANENT_STREAK = 10  # permanent errors in a row (401/403/404/422) before any run is stopped
HOLD_SLACK = 5.0  # real seconds a held request outlives the watchdog, at most


class RunState:
    """The harness's live view of the run in progress (shared with the WSGI gate, and with
    the client's virtual time as its :class:`~mockcamb.virtual_time.Stalls`)."""

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
        self.vt: VirtualTime | None = None
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
        self.retry_after: dict[int, tuple[float, str]] = {}
        self.status_codes: dict[int, int] = {}
        self.unserved: list[tuple[int, str, str, float, str, bool]] = []
        self.virtual = 0.0
        self.status_requests = 0
        self.recent_polls: deque[float] = deque()
        self.held: dict[int, threading.Event] = {}
        self.stalled_ports: dict[int, Stall] = {}
        self.final_at = run.life.final_at()
        self.kind = status_family(run.life.endpoint).name

    def epoch(self) -> float:
        """What the client's ``time.time()`` reads at the start: the emulator's HTTP "now"."""
        clock = self.emu.clock
        return http_now(clock.kind, clock.now())

    # --- stopping the client ------------------------------------------------------------

    def stop(self, reason: str) -> None:
        with self.lock:
            if self.stop_reason is None:
                self.stop_reason = reason
            self._interrupt()

    def _interrupt(self) -> None:
        """Raise :class:`Stop` in every thread of the client but the calling one (holding
        the lock)."""
        if self.closed:
            return
        me = threading.get_ident()
        threads = set(self.vt.threads()) if self.vt is not None else set()
        if self.thread is not None:
            threads.add(self.thread)
        for ident in threads - {me}:
            inject_stop(ident)

    def _halt(self, prop: str, reason: str) -> NoReturn:
        """Stop the client at once from one of its own threads (holding the lock): what it
        was about to do breaks ``prop``."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self.run.findings.setdefault(prop, reason)
        self._interrupt()
        raise Stop

    def advance(self, seconds: float) -> None:
        """The virtual sleep: move the emulator's clock, or stop a client past its budget (or
        sleeping past what the property being checked allows)."""
        with self.lock:
            if self.closed or self.stop_reason is not None:
                raise Stop
            if self.virtual + seconds > self.config.max_virtual_seconds:
                self.stop_reason = (
                    f"asked to sleep {seconds:g} s with {self.virtual:g} virtual seconds used; "
                    f"the budget is {self.config.max_virtual_seconds:g} s"
                )
                self._interrupt()
                raise Stop
            self._watch_sleep(seconds)
            self.virtual += seconds
        self.emu.advance(seconds)

    def _watch_sleep(self, seconds: float) -> None:
        cfg = self.config
        prop = self.run.prop
        if prop == "gives-up" and self.virtual + seconds > cfg.give_up_within + EPS:
            self._halt(
                prop,
                f"still waiting after {duration(self.virtual)} of virtual time and "
                f"{self.count} requests, on a task that never finishes; it asked to sleep "
                f"{seconds:g} s more, past the {duration(cfg.give_up_within)} allowed",
            )
        final = self.final_at
        if prop != "timely" or final is None:
            return
        if self.last_poll_clock is not None and self.last_poll_clock >= final - EPS:
            return  # it has polled since the task finished
        now = self.emu.clock.now()
        allowed = timely_allowance(final, cfg)
        if now + seconds > final + allowed + EPS:
            self._halt(
                prop,
                f"at t={now:g} it asked to sleep {seconds:g} s: its next poll would come at "
                f"t={now + seconds:g}, {now + seconds - final:g} s after the task finished",
            )

    # --- the gate's calls -------------------------------------------------------------------

    def on_request(
        self, method: str, path: str, key_state: str, port: int | None
    ) -> tuple[int, str]:
        """Count a request and decide what becomes of it: ``serve``, ``refuse`` (the client
        is being stopped) or ``stall`` (hold it unanswered); may stop the client."""
        with self.lock:
            self.count += 1
            seq = self.count
            now = self.emu.clock.now()
            self._moved_on(now)
            if self.stop_reason is not None or self.closed:
                self.unserved.append((seq, method, path, now, key_state, False))
                return seq, "refuse"
            verdict = "serve"
            self._watch(path, now)
            if path == self.run.status_path:
                self.status_requests += 1
                if self.status_requests in self.run.life.stalls and self.stop_reason is None:
                    verdict = "stall"
                    stall = Stall(seq, port or 0, now)
                    self.run.stalls.append(stall)
                    self.held[seq] = threading.Event()
                    if port is not None:
                        self.stalled_ports[port] = stall
                    self.unserved.append((seq, method, path, now, key_state, True))
            if self.stop_reason is not None:
                self._interrupt()
            return seq, verdict

    def hold(self, seq: int) -> None:
        """The gate's wait on a stalled request: until the client moves on or its call ends."""
        event = self.held.get(seq)
        if event is not None:
            event.wait(self.config.wall_timeout + HOLD_SLACK)

    def _moved_on(self, now: float) -> None:
        """The client sent another request (or its call ended): it gave up waiting on every
        stalled one (holding the lock)."""
        for stall in self.stalled_ports.values():
            if stall.end is None:
                stall.end = now
        self.stalled_ports.clear()
        for event in self.held.values():
            event.set()

    def end_stalls(self) -> None:
        """The client's call is over: release what the gate still holds."""
        with self.lock:
            for stall in self.run.stalls:
                if stall.end is None:
                    stall.end = self.emu.clock.now()
            self._moved_on(self.emu.clock.now())

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
                    ra = retry_after_seconds(value, now=self.epoch())
                    if ra is not None:
                        self.retry_after[seq] = (ra, value)
                        if status == 429 or status >= 500:
                            self.retry_until = self.emu.clock.now() + ra
            if status in PERMANENT_CODES and self.after_permanent is None:
                self.after_permanent = 0

    # --- the client's virtual time: a stalled request -------------------------------------

    def active(self) -> bool:
        return bool(self.stalled_ports)

    def stalled(self, port: int) -> bool:
        return port in self.stalled_ports

    def gave_up(self, port: int) -> None:
        with self.lock:
            stall = self.stalled_ports.get(port)
            if stall is not None and stall.end is None:
                stall.end = self.emu.clock.now()

    def waiting(self, port: int, timeout: float | None) -> None:
        """The client waits up to ``timeout`` s (``None``: for ever) for a held answer."""
        with self.lock:
            stall = self.stalled_ports.get(port)
            if stall is None or self.closed:
                return
            stall.timeouts.append(timeout)
            cfg = self.config
            now = self.emu.clock.now()
            what = f"request #{stall.seq} was stalled (accepted, never answered)"
            if timeout is None:
                self._halt(
                    "timeouts",
                    f"{what} and the client waits for its answer with no timeout: it would "
                    "hang for ever",
                )
            if now + timeout - stall.start > cfg.max_stall_wait + EPS:
                already = (
                    f" on top of the {now - stall.start:g} s waited" if now > stall.start else ""
                )
                self._halt(
                    "timeouts",
                    f"{what} and the client is set to wait {timeout:g} s for its answer{already}, "
                    f"more than the {cfg.max_stall_wait:g} s allowed",
                )

    # --- the budget and the property being checked -------------------------------------------

    def _watch(self, path: str, now: float) -> None:
        self._watch_budget(now)
        if path == self.run.status_path:
            self._watch_poll(now)

    def _watch_budget(self, now: float) -> None:
        """The limits of every run: requests, hot loops, permanent errors in a row."""
        cfg = self.config
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

    def _watch_poll(self, now: float) -> None:
        """A poll of the run's task: stop at once what breaks the property being checked."""
        cfg = self.config
        run = self.run
        task = self.emu.get_task(self.kind, run.task_id)
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
        if run.prop == "backoff" and self.after_final == 0:
            self._watch_backoff(now)
        if self.after_permanent is not None:
            self.after_permanent += 1
            if run.prop == "permanent-errors" and self.after_permanent > cfg.permanent_retries:
                self.stop_reason = (
                    f"kept retrying a permanent error: {self.after_permanent} requests after it"
                )
        self.last_poll_clock = now
        self.retry_until = None

    def _watch_backoff(self, now: float) -> None:
        recent = self.recent_polls
        recent.append(now)
        while now - recent[0] >= BACKOFF_WINDOW - EPS:
            recent.popleft()
        limit = self.config.backoff_polls
        if len(recent) > limit:
            reason = (
                f"{len(recent)} polls from t={recent[0]:g} to t={now:g} of a long PENDING, "
                f"more than the {limit} allowed in any {BACKOFF_WINDOW / 60:g} minutes"
            )
            self.stop_reason = reason
            self.run.findings.setdefault("backoff", reason)

    # --- afterwards -----------------------------------------------------------------------

    def exchanges(self, journal: Iterable[Mapping[str, Any]]) -> list[Exchange]:
        """Every request of this run, in order: those the emulator journaled (tagged by the
        gate) and those the gate turned away or held."""
        out: list[Exchange] = []
        for entry in journal:
            headers = entry["headers"]
            if headers.get("x-mockcamb-run") != self.tag:
                continue  # e.g. a late request from a client abandoned in an earlier run
            seq = headers.get("x-mockcamb-seq")
            if seq is None or not seq.isdigit():
                continue
            n = int(seq)
            ra, header = self.retry_after.get(n, (None, None))
            out.append(
                Exchange(
                    n,
                    entry["method"],
                    entry["path"],
                    entry["clock"],
                    entry["status_code"],
                    entry["task_status"],
                    entry["dropped"],
                    headers.get("x-mockcamb-key", "ok"),
                    ra,
                    retry_after_header=header,
                )
            )
        for seq, method, path, clock, key_state, stalled in self.unserved:
            code = 0 if stalled else 503
            out.append(
                Exchange(
                    seq,
                    method,
                    path,
                    clock,
                    code,
                    None,
                    False,
                    key_state,
                    served=False,
                    stalled=stalled,
                )
            )
        out.sort(key=lambda e: e.seq)
        return out


def timely_allowance(final_at: float, config: ConformanceConfig) -> float:
    """How long after a task finishing at ``final_at`` its next poll may come."""
    return max(config.timely_lag, config.timely_fraction * final_at)
