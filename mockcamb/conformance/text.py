"""What a client returned or printed, on one line of the report."""

from __future__ import annotations

import json
from typing import Any

from ..core.text import shorten


def short(value: Any, n: int = 200) -> str:
    """``value`` as JSON (a dict or list) or its repr, on one line of at most ``n`` characters."""
    try:
        text = json.dumps(value, default=repr) if isinstance(value, (dict, list)) else repr(value)
    except (TypeError, ValueError):
        text = repr(value)
    return one_line(text, n)


def one_line(text: str, n: int) -> str:
    """``text`` on one line (its lines joined by `` / ``), cut to ``n`` characters."""
    return shorten(
        " / ".join(line.strip() for line in text.strip().splitlines() if line.strip()), n
    )


def duration(seconds: float) -> str:
    """``5400 s (1.5 h)``: seconds, and hours or minutes when that reads better."""
    if seconds >= 3600:
        return f"{seconds:g} s ({seconds / 3600:.3g} h)"
    if seconds >= 120:
        return f"{seconds:g} s ({seconds / 60:.3g} min)"
    return f"{seconds:g} s"
