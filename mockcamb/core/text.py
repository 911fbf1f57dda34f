"""Small text rules used everywhere: one truncation, one Retry-After parser."""

from __future__ import annotations

import email.utils
import time
from datetime import timezone


def shorten(text: str, n: int = 80) -> str:
    """``text`` cut to ``n`` characters, marked with '...' when cut."""
    return text if len(text) <= n else text[: n - 3] + "..."


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value: delta-seconds (``0`` included) or
    an HTTP date (RFC 9110 section 10.2.3), counted from ``now`` (the wall clock by default).
    ``None`` for a missing or illegal value; never negative."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


__all__ = ["retry_after_seconds", "shorten"]
