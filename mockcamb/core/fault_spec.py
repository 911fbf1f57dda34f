"""Faults: the misbehaviours a scenario (or the settings) injects, and their parser.

Rendered by :mod:`mockcamb.core.faults`; picked for a request by
:func:`mockcamb.core.machine.pick_fault`.
"""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected misbehaviour, on given request numbers or with a probability."""

    type: FaultType
    polls: frozenset[int] = frozenset()
    probability: float | None = None
    http_status: int = 503
    retry_after: float | None = None
    body: Any = None
    retry_after_format: RetryAfterFormat = "seconds"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type != "drop_connection":  # a dropped answer has no status code
            out["http_status"] = self.http_status
        if self.probability is not None:
            out["probability"] = self.probability
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
    if ("poll" in doc) == ("probability" in doc):
        found.add(path, "needs exactly one of 'poll' (request numbers) or 'probability'")
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
    return Fault(ftype, polls, probability, int(status), retry_after, body, ra_format)


def parse_fault(value: Any, where: str) -> Fault:
    """Parse one entry of ``faults``; raises :class:`ScenarioError` with every problem."""
    found = Found()
    fault = fault_from(value, (), found)
    found.raise_any(where)
    assert fault is not None
    return fault
