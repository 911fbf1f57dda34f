"""How each injected fault is answered: one renderer per fault type.

To add a fault type: name it in :data:`mockcamb.core.fault_spec.FAULT_TYPES` (the scenario
parser and schema take it from there), render it here in :data:`RENDERERS`, and make the
transports honour anything new it needs from :class:`~.replies.Reply` (``drop`` is the one
example today).
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable
from typing import Any, Final

from .clock import wall_time
from .fault_spec import FAULT_TYPES, Fault
from .replies import Reply, json_bytes, phrase

#: The Unix time of manual-clock 0: under the manual clock an HTTP date is the clock's
#: reading counted from the Unix epoch (see :func:`http_now`).
MANUAL_CLOCK_EPOCH: Final = 0.0

Renderer = Callable[[Fault, dict[str, Any], dict[str, str]], Reply]


def default_error_body(code: int) -> dict[str, Any]:
    """The body the real API gives for an error ``code`` when the scenario sets none: a
    FastAPI validation list for 422 (the SDK parses it as ``HttpValidationError``), else
    ``{"detail": "<reason> (injected by mockcamb)"}``."""
    text = f"{phrase(code)} (injected by mockcamb)"
    if code == 422:
        return {"detail": [{"loc": ["body"], "msg": text, "type": "value_error"}]}
    return {"detail": text}


def _http_error(fault: Fault, body: dict[str, Any], headers: dict[str, str]) -> Reply:
    code = fault.http_status
    payload = fault.body if fault.body is not None else default_error_body(code)
    return Reply(code, payload, headers=headers)


def _text(fault: Fault) -> bytes | None:
    """The exact text a scenario gives for a non-JSON fault (a recorded answer), if any."""
    return fault.body.encode() if isinstance(fault.body, str) else None


def _non_json(fault: Fault, body: dict[str, Any], headers: dict[str, str]) -> Reply:
    code = fault.http_status
    html = _text(fault)
    if html is None:
        html = f"<html><body><h1>{code} {phrase(code)}</h1></body></html>".encode()
    return Reply(code, None, raw=html, content_type="text/html; charset=utf-8", headers=headers)


def _empty_body(fault: Fault, body: dict[str, Any], headers: dict[str, str]) -> Reply:
    return Reply(fault.http_status, None, raw=b"", headers=headers)


def _truncated_json(fault: Fault, body: dict[str, Any], headers: dict[str, str]) -> Reply:
    text = _text(fault)
    if text is None:
        full = json_bytes(body)
        text = full[: max(1, len(full) // 2)]
    return Reply(fault.http_status, None, raw=text, headers=headers)


def _malformed_json(fault: Fault, body: dict[str, Any], headers: dict[str, str]) -> Reply:
    text = _text(fault)
    return Reply(
        fault.http_status, None, raw=str(body).encode() if text is None else text, headers=headers
    )


def _drop_connection(fault: Fault, body: dict[str, Any], headers: dict[str, str]) -> Reply:
    return Reply(fault.http_status, None, raw=b"", headers=headers, drop=True)


#: The renderer of each fault type; every type in ``FAULT_TYPES`` has one.
RENDERERS: Final[dict[str, Renderer]] = {
    "http_error": _http_error,
    "non_json": _non_json,
    "empty_body": _empty_body,
    "truncated_json": _truncated_json,
    "malformed_json": _malformed_json,
    "drop_connection": _drop_connection,
}
assert set(RENDERERS) == set(FAULT_TYPES), "every fault type needs a renderer"


def http_now(clock_kind: str, clock_now: float) -> float:
    """The Unix time the emulator's HTTP dates are counted from, at clock reading
    ``clock_now``.

    Under the real clock it is the wall clock: the client lives in real time, and a jump of
    the clock (``advance``) moves the emulator's tasks, not the client's clock. Under the
    manual clock time stands still between advances, so it is the clock itself, counted from
    :data:`MANUAL_CLOCK_EPOCH`: a client in virtual time whose ``time.time()`` reads the same
    (the conformance harness sets it so) computes from ``Retry-After: <date>`` exactly the
    seconds the fault asked for; the date is the same on every worker sharing a store, and the
    same when a scenario is replayed."""
    return wall_time() if clock_kind == "real" else MANUAL_CLOCK_EPOCH + clock_now


def retry_after_value(fault: Fault, now: float) -> str:
    """The ``Retry-After`` header of ``fault`` (which has ``retry_after``): whole seconds,
    rounded up, or the HTTP date (IMF-fixdate) that many seconds after the Unix time ``now``,
    rounded up to the second (a date has no fractions), so a client never waits less."""
    assert fault.retry_after is not None
    if fault.retry_after_format == "date":
        return email.utils.formatdate(math.ceil(now + fault.retry_after), usegmt=True)
    return str(math.ceil(fault.retry_after))


def fault_reply(
    fault: Fault, body: dict[str, Any], *, clock_kind: str = "manual", clock_now: float = 0.0
) -> Reply:
    """The answer a poll gets when ``fault`` strikes; ``body`` is the status body the poll
    would have had (the truncated and malformed faults mangle it). ``clock_kind`` and
    ``clock_now`` (the emulator's clock) date a ``Retry-After`` sent as an HTTP date."""
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = retry_after_value(fault, http_now(clock_kind, clock_now))
    return RENDERERS[fault.type](fault, body, headers)


__all__ = [
    "MANUAL_CLOCK_EPOCH",
    "RENDERERS",
    "default_error_body",
    "fault_reply",
    "http_now",
    "retry_after_value",
]
