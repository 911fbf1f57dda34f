"""The watch kept on the run in progress (:class:`RunState`): it counts the client's requests
against the budget, notes every answer's Retry-After, is the client's virtual sleep, and stops
a client that breaks the budget or the property being checked."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..core.emulator import Emulator
from ..core.text import retry_after_seconds
from .config import ConformanceConfig
from .properties import EPS, PERMANENT_CODES
from .records import Exchange, Run
from .threads import Stop, inject_stop

AFTER_FINAL_POLLS = 5  # polls after a final status before any run is stopped
PERMANENT_STREAK = 10  # permanent errors in a row (401/403/404/422) before any run is stopped


class RunState:
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
                inject_stop(self.thread)

    def advance(self, seconds: float) -> None:
        """The virtual sleep: move the emulator's clock, or stop a client past its budget."""
        with self.lock:
            if self.closed or self.stop_reason is not None:
                raise Stop
            if self.virtual + seconds > self.config.max_virtual_seconds:
                self.stop_reason = (
                    f"asked to sleep {seconds:g} s with {self.virtual:g} virtual seconds used; "
                    f"the budget is {self.config.max_virtual_seconds:g} s"
                )
                raise Stop
            self.virtual += seconds
        self.emu.advance(seconds)

    # --- the gate's calls -------------------------------------------------------------------

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
                inject_stop(self.thread)
            return seq, serve

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
                    ra = retry_after_seconds(value)
                    if ra is not None:
                        self.retry_after[seq] = ra
                        if status == 429 or status >= 500:
                            self.retry_until = self.emu.clock.now() + ra
            if status in PERMANENT_CODES and self.after_permanent is None:
                self.after_permanent = 0

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

    # --- afterwards -----------------------------------------------------------------------

    def exchanges(self, journal: Iterable[Mapping[str, Any]]) -> list[Exchange]:
        """Every request of this run, in order: those the emulator journaled (tagged by the
        gate) and those the gate turned away."""
        out: list[Exchange] = []
        for entry in journal:
            headers = entry["headers"]
            if headers.get("x-mockcamb-run") != self.tag:
                continue  # e.g. a late request from a client abandoned in an earlier run
            seq = headers.get("x-mockcamb-seq")
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
                    headers.get("x-mockcamb-key", "ok"),
                    self.retry_after.get(n),
                )
            )
        for seq, method, path, clock, key_state in self.unserved:
            out.append(
                Exchange(seq, method, path, clock, 503, None, False, key_state, served=False)
            )
        out.sort(key=lambda e: e.seq)
        return out
