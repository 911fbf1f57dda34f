"""One request-rate bound, shared by the recording proxy and the contract suite."""

from __future__ import annotations

import threading
import time

_real_sleep = time.sleep  # captured at import: virtual time in a client never shortens waits


class RateLimiter:
    """At most ``rps`` request starts per second, evenly spaced across threads: each caller
    waits for its slot. ``None`` or 0: no limit."""

    def __init__(self, rps: float | None) -> None:
        self.interval = 1.0 / rps if rps else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            _real_sleep(slot - now)

    def hold(self, seconds: float) -> None:
        """Let no request start for ``seconds`` (the target said Retry-After)."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


__all__ = ["RateLimiter"]
