"""The request journal's entry, defined once: its members, how an answer fills them, its
bounds and its cost against the byte budget, and the redaction of request headers and of
the API keys in a path (the names: :mod:`.redaction`).

Every store keeps entries of this shape. The memory store is given whole entries built by
:func:`entry`; the Redis poll script writes an entry in the same step as the poll, from the
members known before the poll (:func:`known_members`) and the :data:`POLL_FIELDS` it fills
itself by the rules of :func:`entry` (``mockcamb/stores/redis/poll.lua`` says where).
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .clock import wall_time
from .redaction import REDACTED, credentials, is_secret_header, scrub_target, scrub_text
from .text import shorten

MAX_JOURNAL_HEADERS = 32
MAX_HEADER_NAME = 64
MAX_HEADER_VALUE = 256
#: The most header text (names and values) an entry keeps; the rest is counted under
#: :data:`MORE_HEADERS`.
MAX_HEADERS_TEXT = 4096
MORE_HEADERS = "..."
MAX_PATH = 512
MAX_HINT = 512
MAX_METHOD = 16
#: What an entry costs against the ``journal_bytes`` budget: about its JSON size, counted as
#: :func:`entry_bytes` counts it (the same in every store): the fixed members, then the text
#: of the variable ones, each header :data:`HEADER_BYTES` more.
ENTRY_BYTES = 256
HEADER_BYTES = 6
#: The most one entry can cost (every member at its bound).
MAX_ENTRY_BYTES = (
    ENTRY_BYTES
    + MAX_METHOD
    + MAX_PATH
    + 32  # kind
    + 200  # task_id (machine.valid_task_id)
    + MAX_HINT
    + MAX_HEADERS_TEXT
    + (MAX_JOURNAL_HEADERS + 1) * (HEADER_BYTES + MAX_HEADER_NAME)
)

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
    "hint",
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
    """Request headers as the journal keeps them: lower-cased, secrets redacted, bounded
    (:data:`MAX_JOURNAL_HEADERS` of them, names and values cut with a '...' marker, at most
    :data:`MAX_HEADERS_TEXT` of text; how many more there were under :data:`MORE_HEADERS`)."""
    return _headers(headers)[0]


def _headers(headers: Iterable[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """:func:`journal_headers`, and the secrets the redacted ones carried, found in every
    header, kept or not (one pass: this is every request's hot path)."""
    hdrs: dict[str, str] = {}
    sent: list[str] = []
    text = left_out = 0
    for name, value in headers:
        low = name.lower()
        if is_secret_header(low):  # remembered there for the usual few hundred names
            sent.extend(credentials(value))
            value = REDACTED
        if left_out or len(hdrs) >= MAX_JOURNAL_HEADERS:
            left_out += 1
            continue
        if len(low) > MAX_HEADER_NAME:
            low = low[: MAX_HEADER_NAME - 3] + "..."
        if len(value) > MAX_HEADER_VALUE:
            value = value[: MAX_HEADER_VALUE - 3] + "..."
        text += len(low) + len(value)
        if text > MAX_HEADERS_TEXT:
            left_out += 1
            continue
        hdrs[low] = value
    if left_out:
        hdrs[MORE_HEADERS] = f"{left_out} more header{'s' if left_out > 1 else ''} not kept"
    return hdrs, sent


def journal_target(path: str, keys: Container[str] | None, sent: Sequence[str] = ()) -> str:
    """A request's path (and query) as the journal keeps it: without the API keys in it (an
    accepted key of ``keys``, or a secret header's value ``sent`` with the request; see
    :func:`mockcamb.core.redaction.scrub_target`), cut to :data:`MAX_PATH`."""
    return shorten(scrub_target(path, keys, sent), MAX_PATH)


def journal_hint(hint: str, keys: Container[str] | None, sent: Sequence[str] = ()) -> str:
    """A near-miss 404's hint as the journal keeps it: without the API keys in it (as
    :func:`journal_target`), cut to :data:`MAX_HINT`."""
    return shorten(scrub_text(hint, keys, sent), MAX_HINT)


def journal_task_id(task_id: str, keys: Container[str] | None) -> str:
    """A task id as the journal keeps it: redacted if it is an accepted API key."""
    return REDACTED if keys is not None and task_id in keys else task_id


def entry_bytes(e: Mapping[str, Any]) -> int:
    """What an entry costs against ``journal_bytes`` (see :data:`ENTRY_BYTES`)."""
    text = e["method"] + e["path"] + (e["kind"] or "") + (e["task_id"] or "") + (e["hint"] or "")
    return _cost(len(text), e["headers"])


def _cost(text: int, headers: Mapping[str, str]) -> int:
    """:func:`entry_bytes` of an entry with ``text`` characters of method, path, kind, task
    id and hint, and these ``headers``."""
    return (
        ENTRY_BYTES
        + text
        + sum(map(len, headers))
        + sum(map(len, headers.values()))
        + HEADER_BYTES * len(headers)
    )


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
    hint: str | None = None,
    keys: Container[str] | None = None,
) -> dict[str, Any]:
    """One journal entry, ``seq`` 0 (the store numbers it). The task's request number ``n``
    is kept when the answer has a JSON ``body``; ``task_status`` only from a 200 JSON answer;
    a ``dropped`` answer has no status code. ``hint``: what a 404 said the client probably
    meant; ``keys``: the accepted API keys, scrubbed from the path and the task id."""
    status = body.get("status") if isinstance(body, dict) and status_code == 200 else None
    headers, sent = _headers(request.headers)
    return {
        "seq": 0,
        "method": shorten(request.method, MAX_METHOD),
        "path": journal_target(request.path, keys, sent),
        "kind": kind,
        "task_id": None if task_id is None else journal_task_id(task_id, keys),
        "request": n if body is not None else None,
        "status_code": None if dropped else status_code,
        "task_status": status if isinstance(status, str) and not dropped else None,
        "dropped": dropped,
        "delay_ms": round(delay * 1000, 3),
        "clock": clock,
        "wall": wall_time(),
        "headers": headers,
        "hint": None if hint is None else journal_hint(hint, keys, sent),
    }


def page(
    entries: Sequence[dict[str, Any]],
    limit: int,
    after_seq: int | None = None,
    before_seq: int | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """One page of ``entries`` (oldest first): the first ``limit`` after ``after_seq``, else
    the last ``limit`` before ``before_seq`` (the newest without a cursor); and whether
    more are left beyond it, in the direction of paging (newer after ``after_seq``, older
    otherwise)."""
    if after_seq is not None:
        out = [e for e in entries if e["seq"] > after_seq]
        return out[:limit], len(out) > limit
    out = list(entries) if before_seq is None else [e for e in entries if e["seq"] < before_seq]
    return out[-limit:], len(out) > limit


def known_members(
    request: Request, kind: str, task_id: str, keys: Container[str] | None = None
) -> tuple[str, str, int]:
    """The members of a status poll's entry known before the poll, as JSON text without
    braces: those of :data:`HEAD_FIELDS` and those of :data:`TAIL_FIELDS`, valued as
    :func:`entry` values them (a task that answers has no hint), and the entry's
    :func:`entry_bytes`. Written out, not through ``json.dumps``: it is on the Redis store's
    hot path (tests/test_store_differential.py compares the entries)."""
    headers, sent = _headers(request.headers)
    path, tid = journal_target(request.path, keys, sent), journal_task_id(task_id, keys)
    method = shorten(request.method, MAX_METHOD)
    hdrs = ",".join(f"{_q(k)}:{_q(v)}" for k, v in headers.items())
    head = f'"method":{_q(method)},"path":{_q(path)},"kind":{_q(kind)},"task_id":{_q(tid)}'
    tail = f'"wall":{wall_time()!r},"headers":{{{hdrs}}},"hint":null'
    return head, tail, _cost(len(method) + len(path) + len(kind) + len(tid), headers)


#: A string as JSON text, escaped to ASCII as ``json.dumps`` writes it.
_q: Callable[[str], str] = json.encoder.encode_basestring_ascii
