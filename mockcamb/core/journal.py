"""The request journal's entry, defined once: its members, how an answer fills them, and the
redaction of request headers.

Every store keeps entries of this shape. The memory store is given whole entries built by
:func:`entry`; the Redis poll script writes an entry in the same step as the poll, from the
members known before the poll (:func:`known_members`) and the :data:`POLL_FIELDS` it fills
itself by the rules of :func:`entry` (``mockcamb/stores/redis/poll.lua`` says where).
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .clock import wall_time
from .text import shorten

REDACTED = "[redacted]"
SECRET_HEADERS = frozenset(
    {"x-api-key", "authorization", "proxy-authorization", "cookie", "x-admin-token"}
)
MAX_JOURNAL_HEADERS = 32
MAX_HEADER_VALUE = 256
MAX_PATH = 512

#: The members of an entry, in order.
FIELDS = (
    "seq",
    "method",
    "path",
    "kind",
    "task_id",
    "request",
    "status_code",
    "task_status",
    "dropped",
    "delay_ms",
    "clock",
    "wall",
    "headers",
)
#: Known before the request is answered, in the order of :data:`FIELDS`: the members before
#: and after the ones an answer fills.
HEAD_FIELDS = FIELDS[1:5]
TAIL_FIELDS = FIELDS[11:]
#: Filled from the answer (``seq`` by the store that appends the entry).
POLL_FIELDS = FIELDS[5:11]


@dataclass(frozen=True, slots=True)
class Request:
    """A request as the journal sees it before its answer (``headers`` as received)."""

    method: str
    path: str
    headers: Iterable[tuple[str, str]] = ()


def journal_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Request headers as the journal keeps them: lower-cased, bounded, secrets redacted."""
    hdrs: dict[str, str] = {}
    for name, value in headers:
        if len(hdrs) >= MAX_JOURNAL_HEADERS:
            break
        low = name.lower()
        hdrs[low] = REDACTED if low in SECRET_HEADERS else value[:MAX_HEADER_VALUE]
    return hdrs


def entry(
    request: Request,
    kind: str | None,
    task_id: str | None,
    n: int | None,
    status_code: int,
    body: Any,
    *,
    dropped: bool = False,
    delay: float = 0.0,
    clock: float = 0.0,
) -> dict[str, Any]:
    """One journal entry, ``seq`` 0 (the store numbers it). The task's request number ``n``
    is kept when the answer has a JSON ``body``; ``task_status`` only from a 200 JSON answer."""
    status = body.get("status") if isinstance(body, dict) and status_code == 200 else None
    return {
        "seq": 0,
        "method": request.method,
        "path": shorten(request.path, MAX_PATH),
        "kind": kind,
        "task_id": task_id,
        "request": n if body is not None else None,
        "status_code": status_code,
        "task_status": status if isinstance(status, str) else None,
        "dropped": dropped,
        "delay_ms": round(delay * 1000, 3),
        "clock": clock,
        "wall": wall_time(),
        "headers": journal_headers(request.headers),
    }


def known_members(request: Request, kind: str, task_id: str) -> tuple[str, str]:
    """The members of a status poll's entry known before the poll, as JSON text without
    braces: those of :data:`HEAD_FIELDS` and those of :data:`TAIL_FIELDS`, valued as
    :func:`entry` values them. Written out, not through ``json.dumps``: it is on the Redis
    store's hot path (tests/test_store_differential.py compares the entries)."""
    hdrs = ",".join(f"{_q(k)}:{_q(v)}" for k, v in journal_headers(request.headers).items())
    head = (
        f'"method":{_q(request.method)},"path":{_q(shorten(request.path, MAX_PATH))},'
        f'"kind":{_q(kind)},"task_id":{_q(task_id)}'
    )
    return head, f'"wall":{wall_time()!r},"headers":{{{hdrs}}}'


#: A string as JSON text, escaped to ASCII as ``json.dumps`` writes it.
_q: Callable[[str], str] = json.encoder.encode_basestring_ascii
