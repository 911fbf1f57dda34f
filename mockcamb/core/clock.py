"""Clocks the domain reads instead of the system time.

The domain only ever calls ``clock.now()``; this module is the one place that touches the
system time, so tests can swap in a :class:`ManualClock` and move time by hand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from .errors import ConfigError


class Clock(Protocol):
    """Seconds since the clock's origin; never goes backwards."""

    kind: str

    def now(self) -> float: ...

    def advance(self, seconds: float) -> float: ...

    def reset(self) -> None: ...


#: The furthest a clock may go (about 31,700 years): beyond, float seconds lose precision.
MAX_CLOCK = 1e12


def check_advance(seconds: float, now: float) -> float:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise ConfigError("seconds: must be a number")
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        raise ConfigError(f"seconds: must be a finite number >= 0, got {seconds!r}")
    if now + seconds > MAX_CLOCK:
        raise ConfigError(
            f"seconds: the clock would pass its limit of {MAX_CLOCK:g} s (now {now:g} s)"
        )
    return float(seconds)


class ManualClock:
    """Time moves only when :meth:`advance` is called."""

    kind = "manual"

    def __init__(self, start: float = 0.0) -> None:
        self._start = float(start)
        self._now = self._start
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += check_advance(seconds, self._now)
            return self._now

    def reset(self) -> None:
        with self._lock:
            self._now = self._start


class RealClock:
    """Wall time (monotonic) since creation or reset, optionally sped up by ``time_scale``.

    :meth:`advance` still works: it jumps ahead on top of the running time.
    """

    kind = "real"

    def __init__(
        self, time_scale: float = 1.0, source: Callable[[], float] = time.monotonic
    ) -> None:
        if not isinstance(time_scale, (int, float)) or not time_scale > 0:
            raise ConfigError(f"time_scale: must be a number > 0, got {time_scale!r}")
        self.time_scale = float(time_scale)
        self._source = source
        self._origin = source()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return (self._source() - self._origin) * self.time_scale + self._offset

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += check_advance(seconds, self.now())
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._origin = self._source()
            self._offset = 0.0


def make_clock(kind: str, time_scale: float = 1.0) -> Clock:
    """Build a clock from its command-line name."""
    if kind == "manual":
        return ManualClock()
    if kind == "real":
        return RealClock(time_scale=time_scale)
    raise ConfigError(f"clock: must be 'real' or 'manual', got {kind!r}")


#: Wall-clock time for journal stamps; the only other system-time read in the package.
wall_time: Callable[[], float] = time.time
