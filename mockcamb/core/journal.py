"""The request journal's entry, defined once: its members, how an answer fills them, its
bounds and its cost against the byte budget, and the redaction of request headers and of
the API keys in a path (the names: :mod:`.redaction`).

Every store keeps entries of this shape. The memory store is given whole entries built by
:func:`entry`; the Redis poll script writes an entry in the same step as the poll, from the
members known before the poll (:func:`known_members`) and the :data:`POLL_FIELDS` it fills
itself by the rules of :func:`entry` (``mockcamb/stores/redis/poll.lua`` says where).
"""

from __future__ import annotations

import functools
import json
import json.encoder
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

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


class Request(NamedTuple):
    """A request as the journal sees it before its answer (``headers`` as received; a
    tuple of them is what :func:`_headers` remembers by). A named tuple: one is made for
    every request, at a third of a frozen dataclass's cost."""

    method: str
    path: str
    headers: Iterable[tuple[str, str]] = ()


def journal_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Request headers as the journal keeps them: lower-cased, secrets redacted, bounded
    (:data:`MAX_JOURNAL_HEADERS` of them, names and values cut with a '...' marker, at most
    :data:`MAX_HEADERS_TEXT` of text; how many more there were under :data:`MORE_HEADERS`)."""
    return dict(_headers(headers).kept)


#: How many distinct header sets :func:`_headers` remembers. A client sends the same headers
#: on each of its polls, so a few serve every request; each one kept holds at most a request's
#: header text (the servers refuse more than 64 KiB), and no more than this many are kept.
HEADER_SETS_KEPT = 64


class _Headers(NamedTuple):
    """A request's headers as the journal keeps them (:func:`_headers`)."""

    kept: dict[str, str]  # shared by every entry of these headers: never to be changed
    sent: tuple[str, ...]  # the secrets the redacted ones carried, kept or not
    cost: int  # their share of the entry's cost (_headers_cost)
    json: str  # ``kept`` as JSON text, as json.dumps writes it


def _headers(headers: Iterable[tuple[str, str]]) -> _Headers:
    """:func:`journal_headers` and what else an entry needs of the headers, found in one
    pass. The same headers give the same answer, remembered for the last
    :data:`HEADER_SETS_KEPT` sets: this is every request's hot path."""
    return _headers_of(headers if isinstance(headers, tuple) else tuple(headers))


@functools.lru_cache(maxsize=HEADER_SETS_KEPT)
def _headers_of(headers: tuple[tuple[str, str], ...]) -> _Headers:
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
    members = ",".join(f"{_q(k)}:{_q(v)}" for k, v in hdrs.items())
    return _Headers(hdrs, tuple(sent), _headers_cost(hdrs), f"{{{members}}}")


def journal_target(path: str, keys: Container[str] | None, sent: Sequence[str] = ()) -> str:
    """A request's path (and query) as the journal keeps it: without the API keys in it (an
    accepted key of ``keys``, or a secret header's value ``sent`` with the request; see
    :func:`mockcamb.core.redaction.scrub_target`), cut to :data:`MAX_PATH`. Remembered for
    the last :data:`TARGETS_KEPT` targets where ``keys`` is a frozenset (as settings keep
    them): a client polls the same path again and again."""
    if keys is None or isinstance(keys, frozenset):
        return _target(path, keys, sent if isinstance(sent, tuple) else tuple(sent))
    return shorten(scrub_target(path, keys, sent), MAX_PATH)


#: How many request targets :func:`journal_target` remembers (each at most a request line).
TARGETS_KEPT = 1024


@functools.lru_cache(maxsize=TARGETS_KEPT)
def _target(path: str, keys: frozenset[str] | None, sent: tuple[str, ...]) -> str:
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
    return ENTRY_BYTES + len(text) + _headers_cost(e["headers"])


def _headers_cost(headers: Mapping[str, str]) -> int:
    """The share of :func:`entry_bytes` an entry's ``headers`` cost."""
    return sum(map(len, headers)) + sum(map(len, headers.values())) + HEADER_BYTES * len(headers)


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
) -> tuple[dict[str, Any], int]:
    """One journal entry, ``seq`` 0 (the store numbers it), and its :func:`entry_bytes`
    (counted as it is made: the headers' share is remembered with them). The task's request
    number ``n`` is kept when the answer has a JSON ``body``; ``task_status`` only from a
    200 JSON answer; a ``dropped`` answer has no status code. ``hint``: what a 404 said the
    client probably meant; ``keys``: the accepted API keys, scrubbed from the path and the
    task id."""
    status = body.get("status") if isinstance(body, dict) and status_code == 200 else None
    headers, sent, headers_cost, _ = _headers(request.headers)
    method = shorten(request.method, MAX_METHOD)
    path = journal_target(request.path, keys, sent)
    tid = None if task_id is None else journal_task_id(task_id, keys)
    hint = None if hint is None else journal_hint(hint, keys, sent)
    e = {
        "seq": 0,
        "method": method,
        "path": path,
        "kind": kind,
        "task_id": tid,
        "request": n if body is not None else None,
        "status_code": None if dropped else status_code,
        "task_status": status if isinstance(status, str) and not dropped else None,
        "dropped": dropped,
        "delay_ms": round(delay * 1000, 3),
        "clock": clock,
        "wall": wall_time(),
        "headers": headers,
        "hint": hint,
    }
    text = len(method) + len(path) + len(kind or "") + len(tid or "") + len(hint or "")
    return e, ENTRY_BYTES + text + headers_cost


def detached(e: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a stored entry its reader may change (its headers too: entries of the same
    headers share them)."""
    return {**e, "headers": dict(e["headers"])}


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
    headers = _headers(request.headers)
    path = journal_target(request.path, keys, headers.sent)
    tid = journal_task_id(task_id, keys)
    method = shorten(request.method, MAX_METHOD)
    head = f'"method":{_q(method)},"path":{_q(path)},"kind":{_q(kind)},"task_id":{_q(tid)}'
    tail = f'"wall":{wall_time()!r},"headers":{headers.json},"hint":null'
    text = len(method) + len(path) + len(kind) + len(tid)
    return head, tail, ENTRY_BYTES + text + headers.cost


#: A string as JSON text, escaped to ASCII as ``json.dumps`` writes it.
_q: Callable[[str], str] = json.encoder.encode_basestring_ascii
