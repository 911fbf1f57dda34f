"""How each injected fault is answered: one renderer per fault type.

To add a fault type: name it in :data:`mockcamb.core.scenario.FAULT_TYPES` (the scenario
parser and schema take it from there), render it here in :data:`RENDERERS`, and make the
transports honour anything new it needs from :class:`~.replies.Reply` (``drop`` is the one
example today).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

from .replies import Reply, json_bytes, phrase
from .scenario import FAULT_TYPES, Fault

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


def fault_reply(fault: Fault, body: dict[str, Any]) -> Reply:
    """The answer a poll gets when ``fault`` strikes; ``body`` is the status body the poll
    would have had (the truncated and malformed faults mangle it)."""
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(math.ceil(fault.retry_after))
    return RENDERERS[fault.type](fault, body, headers)


__all__ = ["RENDERERS", "default_error_body", "fault_reply"]
