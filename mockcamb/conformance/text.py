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
