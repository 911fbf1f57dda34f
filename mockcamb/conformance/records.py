"""What happened when a client met one life: each request (:class:`Exchange`) and the whole
call (:class:`Run`), which the judges read and the report prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .lives import Life
from .text import one_line, short


@dataclass
class Exchange:
    """One request the client sent, as the emulator saw and answered it."""

    seq: int
    method: str
    path: str
    clock: float
    status_code: int | None  # None: the connection was dropped
    task_status: str | None
    dropped: bool
    key: str  # ok, missing, wrong
    retry_after: float | None = None
    served: bool = True
    retry_after_header: str | None = None
    """the Retry-After header as sent (``retry_after`` is its value in seconds)"""
    stalled: bool = False

    def describe(self, origin: float = 0.0) -> str:
        if self.stalled:
            answer = "stalled: accepted and never answered"
        elif not self.served:
            answer = "not served (stopped by the harness)"
        elif self.dropped:
            answer = "connection dropped"
        elif self.task_status is not None:
            answer = f"{self.status_code} {self.task_status}"
        else:
            answer = str(self.status_code)
            if self.retry_after is not None:
                answer += f" ({self.retry_after_text()})"
        key = "" if self.key == "ok" else f"  [x-api-key {self.key}]"
        t = self.clock - origin
        return f"#{self.seq:<3} t={t:<9.6g} {self.method} {self.path} -> {answer}{key}"

    def retry_after_text(self) -> str:
        """``Retry-After: 6``, or ``Retry-After: <date> (6 s)`` for an HTTP date."""
        header = self.retry_after_header
        seconds = f"{self.retry_after:g}" if self.retry_after is not None else "?"
        if header is None or header.strip() == seconds:
            return f"Retry-After: {seconds}"
        return f"Retry-After: {header} ({seconds} s)"


@dataclass
class Stall:
    """A request the harness held unanswered (a timeouts life), and how the client waited."""

    seq: int
    port: int
    start: float
    """virtual time it arrived"""
    end: float | None = None
    """virtual time the client gave up on it: its read timed out, or (when that is not seen)
    its next request or the end of its call"""
    timeouts: list[float | None] = field(default_factory=list)
    """what the client was seen to wait for the answer, in seconds (``None``: for ever)"""

    @property
    def waited(self) -> float:
        return (self.end if self.end is not None else self.start) - self.start


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
    stalls: list[Stall] = field(default_factory=list)
    findings: dict[str, str] = field(default_factory=dict)
    """what the harness saw while it ran, by property (e.g. why it stopped the client)"""

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
            return f"returned {short(self.value)}{flagged}"
        if self.outcome == "raised":
            return f"raised {self.error_type}: {one_line(self.error, 300)}{flagged}"
        if self.outcome == "hung":
            return f"hung, and was abandoned by the harness: {self.stop_reason}"
        return f"was stopped by the harness: {self.stop_reason}"
