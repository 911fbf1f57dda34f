"""Faults: the misbehaviours a scenario (or the settings) injects, and their parser.

Rendered by :mod:`mockcamb.core.faults`; picked for a request by
:func:`mockcamb.core.machine.pick_fault`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

from .parsing import (
    Found,
    describe,
    is_int,
    is_number,
    mapping,
    no_unknown,
    positive_int,
    suggest,
    utf8,
)
from .problems import FieldPath

FaultType = Literal[
    "http_error", "non_json", "empty_body", "truncated_json", "malformed_json", "drop_connection"
]
#: Every fault type, in the order the documents list them (from :data:`FaultType` alone).
FAULT_TYPES: tuple[FaultType, ...] = get_args(FaultType)
#: Faults whose ``body`` may be a string: the exact text sent instead of the generated one.
TEXT_BODY_FAULTS: tuple[FaultType, ...] = ("non_json", "truncated_json", "malformed_json")
MAX_TEXT_BODY = 1024 * 1024
#: How a fault's ``retry_after`` is sent: delta-seconds (``Retry-After: 5``) or an HTTP date
#: (``Retry-After: Thu, 01 Jan 1970 00:00:05 GMT``; see :func:`mockcamb.core.faults.http_now`).
RetryAfterFormat = Literal["seconds", "date"]
RETRY_AFTER_FORMATS: tuple[RetryAfterFormat, ...] = get_args(RetryAfterFormat)
#: A window of clock time since a task was created: [start, end), end ``inf`` for ever.
Window = tuple[float, float]
MAX_WINDOWS = 1_000
MAX_WINDOW_SECONDS = 1e12


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected misbehaviour: on given request numbers (``polls``), on the requests that
    come within given windows of clock time since the task was created (``windows``), or
    with a probability."""

    type: FaultType
    polls: frozenset[int] = frozenset()
    probability: float | None = None
    http_status: int = 503
    retry_after: float | None = None
    body: Any = None
    retry_after_format: RetryAfterFormat = "seconds"
    windows: tuple[Window, ...] = ()

    def strikes(self, n: int, age: float) -> bool:
        """Whether this fault (not a probability one) meets request ``n``, which came
        ``age`` seconds after its task was created."""
        return n in self.polls or any(a <= age < b for a, b in self.windows)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type != "drop_connection":  # a dropped answer has no status code
            out["http_status"] = self.http_status
        if self.probability is not None:
            out["probability"] = self.probability
        elif self.windows:
            spans = [[a, None if b == math.inf else b] for a, b in self.windows]
            out["seconds"] = spans[0] if len(spans) == 1 else spans
        else:
            ps = sorted(self.polls)
            out["poll"] = ps[0] if len(ps) == 1 else ps
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        if self.retry_after_format != "seconds":
            out["retry_after_format"] = self.retry_after_format
        if self.body is not None:
            out["body"] = self.body
        return out


_FAULT_FIELDS = (
    "poll",
    "seconds",
    "probability",
    "type",
    "http_status",
    "retry_after",
    "retry_after_format",
    "body",
)


def fault_from(value: Any, path: FieldPath, found: Found) -> Fault | None:
    doc = mapping(value, path, found)
    if doc is None:
        return None
    before = found.count
    no_unknown(doc, _FAULT_FIELDS, path, found)
    ftype = doc.get("type", "http_error")
    type_ok = ftype in FAULT_TYPES
    if not type_ok:
        found.add(
            (*path, "type"),
            f"must be one of {', '.join(FAULT_TYPES)}, got {describe(ftype)}"
            + suggest(ftype, FAULT_TYPES),
        )
    if sum(name in doc for name in ("poll", "seconds", "probability")) != 1:
        found.add(
            path,
            "needs exactly one of 'poll' (request numbers), 'seconds' (a window of clock "
            "time since the task was created, [from, to)) or 'probability'",
        )
    polls: frozenset[int] = frozenset()
    probability: float | None = None
    if "poll" in doc:
        raw = doc["poll"]
        if isinstance(raw, list):
            if not raw:
                found.add((*path, "poll"), "must not be empty")
            items = [((*path, "poll", i), p) for i, p in enumerate(raw)]
        else:
            items = [((*path, "poll"), raw)]
        numbers = [positive_int(p, where, found) for where, p in items]
        polls = frozenset(n for n in numbers if n is not None)
    windows = _windows(doc["seconds"], (*path, "seconds"), found) if "seconds" in doc else ()
    if "probability" in doc:
        p = doc["probability"]
        if not is_number(p) or not 0 <= p <= 1:
            found.add((*path, "probability"), f"must be a number from 0 to 1, got {describe(p)}")
        else:
            probability = float(p)
    low = 400 if ftype == "http_error" else 200
    status = doc.get("http_status", 200)
    if "http_status" in doc:
        if not is_int(status) or not low <= status <= 599:
            found.add(
                (*path, "http_status"),
                f"must be an integer from {low} to 599, got {describe(status)}",
            )
    elif ftype == "http_error":
        found.add((*path, "http_status"), "is required for an http_error fault")
    retry_after = doc.get("retry_after")
    if retry_after is not None and (not is_number(retry_after) or not 0 <= retry_after <= 86_400):
        found.add(
            (*path, "retry_after"),
            f"must be a number of seconds from 0 to 86400, got {describe(retry_after)}",
        )
    ra_format = doc.get("retry_after_format", "seconds")
    if ra_format not in RETRY_AFTER_FORMATS:
        found.add(
            (*path, "retry_after_format"),
            f"must be one of {', '.join(RETRY_AFTER_FORMATS)}, got {describe(ra_format)}"
            + suggest(ra_format, RETRY_AFTER_FORMATS),
        )
    elif "retry_after_format" in doc and retry_after is None:
        found.add((*path, "retry_after_format"), "needs retry_after (the seconds)")
    body = doc.get("body")
    if body is not None and type_ok and ftype != "http_error":
        if ftype not in TEXT_BODY_FAULTS:
            found.add(
                (*path, "body"), f"is only allowed on http_error and {', '.join(TEXT_BODY_FAULTS)}"
            )
        elif not isinstance(body, str) or len(body) > MAX_TEXT_BODY or not utf8(body):
            found.add(
                (*path, "body"),
                f"on a {ftype} fault must be a string of at most {MAX_TEXT_BODY} characters "
                "(the exact text sent; a JSON body goes on an http_error fault), "
                f"got {describe(body)}",
            )
    if found.count > before:
        return None
    return Fault(ftype, polls, probability, int(status), retry_after, body, ra_format, windows)


_WINDOW_FORM = (
    "must be a window [from, to) of seconds since the task was created (to may be null: "
    "for ever), e.g. [10, 20], or a non-empty list of such windows"
)


def _windows(raw: Any, path: FieldPath, found: Found) -> tuple[Window, ...]:
    """``seconds`` of a fault: one window ``[a, b]`` or a list of them."""
    if not isinstance(raw, list) or not raw:
        found.add(path, f"{_WINDOW_FORM}, got {describe(raw)}")
        return ()
    if not isinstance(raw[0], list):  # one window
        window = _window(raw, path, found)
        return () if window is None else (window,)
    if len(raw) > MAX_WINDOWS:
        found.add(path, f"has {len(raw)} windows; at most {MAX_WINDOWS}")
        return ()
    out = [_window(w, (*path, i), found) for i, w in enumerate(raw)]
    return tuple(sorted(w for w in out if w is not None))


def _window(raw: Any, path: FieldPath, found: Found) -> Window | None:
    if not isinstance(raw, list) or len(raw) != 2:
        found.add(path, f"{_WINDOW_FORM}, got {describe(raw)}")
        return None
    a, b = raw
    limit = f"a number of seconds from 0 to {MAX_WINDOW_SECONDS:g}"
    if not is_number(a) or not 0 <= a <= MAX_WINDOW_SECONDS:
        found.add((*path, 0), f"must be {limit}, got {describe(a)}")
        return None
    if b is None:
        return (float(a), math.inf)
    if not is_number(b) or not 0 <= b <= MAX_WINDOW_SECONDS:
        found.add((*path, 1), f"must be {limit} or null (for ever), got {describe(b)}")
        return None
    if not b > a:
        found.add(path, f"ends ({b:g}) before it starts ({a:g}): 'to' must be above 'from'")
        return None
    return (float(a), float(b))


def parse_fault(value: Any, where: str) -> Fault:
    """Parse one entry of ``faults``; raises :class:`ScenarioError` with every problem."""
    found = Found()
    fault = fault_from(value, (), found)
    found.raise_any(where)
    assert fault is not None
    return fault
