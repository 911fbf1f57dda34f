"""Small status servers for testing the contract suite: one conforming base, and variants that
each break exactly one rule (or differ only in undocumented details, and still conform).

Each variant answers over the same few tasks; :data:`TASK_IDS` lists them as the suite's
``--camb-task-id`` values. Served on a free port by ``tests/test_contract_suite``: with waitress
(a WSGI app), or, for the variants that break HTTP framing (which a WSGI server would repair),
by :class:`RawServer`, which writes the answer's bytes as the variant says.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import random
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask

from mockcamb.serve.waitress import Server

API_KEY = "broken-server-key-5f3c9a1e7d"
PREFIX = "/apis/"

#: The tasks every variant holds: bodies per answered poll, the last one repeating for ever.
TASKS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("story", "t-pending"): [{"status": "PENDING"}],
    ("story", "t-done"): [{"status": "PENDING"}, {"status": "SUCCESS", "run_id": 501}],
    ("story", "t-failed"): [{"status": "FAILED", "message": "could not narrate"}],
    ("project-setup", "p-pending"): [{"status": "PENDING"}],
    ("project-setup", "p-done"): [{"status": "SUCCESS", "run_id": 601}],
    (
        "project-setup",
        "p-error",
    ): [{"status": "ERROR", "message": {"detail": "x"}, "exception_reason": "PROCESSING_ERROR"}],
}
TASK_IDS = [f"{kind}:{task_id}" for kind, task_id in TASKS]

Body = Any
Headers = Mapping[str, str] | list[tuple[str, str]]
Answer = tuple[int, Headers, bytes]
#: A non-ASCII failure message (UTF-8 on the wire) for the variants that must show encodings.
ACCENTED = "la narración falló: échec"
REASONS = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many"}


def _json(status: int, body: Any, content_type: str = "application/json") -> Answer:
    return status, {"Content-Type": content_type}, json.dumps(body).encode()


def _pairs(headers: Headers) -> list[tuple[str, str]]:
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers)


@dataclass
class Variant:
    """How a server differs from the conforming base."""

    name: str
    #: The rule the suite must name (None: a conforming variant, the suite must pass).
    rule: str | None
    #: Turn a conforming body into the answer (status body of task ``kind``/``task_id``, the
    #: poll number); ``None`` keeps it.
    body: Callable[[str, str, int, dict[str, Any]], Answer | None] | None = None
    auth: str = "strict"  # strict | none | any-key | forbidden
    unknown: Callable[[str, str], Answer] | None = None
    #: True if the suite must only fail on project-setup tests.
    only_project_setup: bool = False
    #: The key check, given the x-api-key value (None: no header); default: exact comparison.
    key_check: Callable[[str | None], bool] | None = None
    #: Asked first on every request (its number from 1, the environ, a dict the server keeps
    #: for it): an answer replaces the server's.
    before: Callable[[int, dict[str, Any], dict[str, Any]], Answer | None] | None = None
    #: Turns every answer (status and errors alike) into the one sent.
    after: Callable[[dict[str, Any], Answer], Answer] | None = None
    #: Writes an answer's bytes, and says whether to close the connection after them; set,
    #: the variant is served by :class:`RawServer` instead of waitress.
    wire: Callable[[Answer], tuple[bytes, bool]] | None = None
    #: The suite's modules to run (default: the rule's module, or all of it when conforming).
    modules: tuple[str, ...] = ()
    #: The task ids to give the suite (default: all of :data:`TASK_IDS`).
    task_ids: tuple[str, ...] = ()


def _lowercase(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    return _json(200, {**body, "status": body["status"].lower()})


def _string_run_id(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    if "run_id" in body:
        body = {**body, "run_id": str(body["run_id"])}
    return _json(200, body)


def _boolean_run_id(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    if "run_id" in body:
        body = {**body, "run_id": True}  # Python's bool is an int; JSON's true is no number
    return _json(200, body)


def _unknown_200(kind: str, task_id: str) -> Answer:
    return _json(200, {"status": "PENDING"})  # "auto-creates" every id it is asked about


def _no_run_id(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    return _json(200, {k: v for k, v in body.items() if k != "run_id"})


def _reverts(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    if body["status"] == "SUCCESS" and poll >= 3:
        return _json(200, {"status": "PENDING"})
    return _json(200, body)


def _final_changes(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    if body["status"] == "FAILED" and poll >= 2:
        return _json(200, {"status": "ERROR", "message": "now an error"})
    return _json(200, body)


def _text_plain(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    return _json(200, body, "text/plain; charset=utf-8")


def _list(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    return _json(200, [body])


def _outside(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    return _json(200, {**body, "status": "DONE" if body["status"] == "SUCCESS" else "RUNNING"})


def _run_id_changes(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    if body["status"] == "SUCCESS":
        return _json(200, {**body, "run_id": 1000 + poll})
    return _json(200, body)


def _missing_status(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    return _json(200, {"state": body["status"], **{k: v for k, v in body.items() if k != "status"}})


def _not_json(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    return 200, {"Content-Type": "application/json"}, f"status={body['status']}".encode()


def _echoes_key(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    """Not JSON, and it repeats the caller's key: the suite's report must not."""
    return (
        200,
        {"Content-Type": "application/json"},
        f"status={body['status']} key={API_KEY}".encode(),
    )


def _project_setup_only(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    if kind == "project-setup" and "run_id" in body:
        return _json(200, {**body, "run_id": f"run-{body['run_id']}"})
    return _json(200, body)


def _extra_fields(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    out = {"message": None, "exception_reason": None, "run_id": None, **body}
    out.update({"progress": 42, "created_at": "2026-01-01T00:00:00Z", "meta": {"x": [1, 2]}})
    return _json(200, out)


def _html_404(kind: str, task_id: str) -> Answer:
    return 404, {"Content-Type": "text/html"}, b"<html><body><h1>Not Found</h1></body></html>"


def _error_500(kind: str, task_id: str) -> Answer:
    return _json(500, {"detail": "Internal Server Error"})


def _unprocessable(kind: str, task_id: str) -> Answer:
    return _json(
        422,
        {"detail": [{"loc": ["path", "task_id"], "msg": "unknown task", "type": "value_error"}]},
    )


def _crash_on_odd(kind: str, task_id: str) -> Answer:
    if not task_id.replace("-", "").isalnum() or not task_id.isascii():
        raise RuntimeError(f"cannot look up {task_id!r}")
    return _json(404, {"detail": "Not Found"})


# --- answers as real clients read them -------------------------------------------------------


def _accented(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer | None:
    """The failed task's message in UTF-8 with accents (the rest is ASCII either way)."""
    if body["status"] == "FAILED":
        payload = json.dumps({**body, "message": ACCENTED}, ensure_ascii=False).encode("utf-8")
        return 200, {"Content-Type": "application/json"}, payload
    return None


def _charset(charset: str) -> Callable[[str, str, int, dict[str, Any]], Answer]:
    def answer(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
        out = {**body, "message": ACCENTED} if body["status"] == "FAILED" else body
        payload = json.dumps(out, ensure_ascii=False).encode("utf-8")
        return 200, {"Content-Type": f"application/json; charset={charset}"}, payload

    return answer


def _gzip_declared_only(environ: dict[str, Any], answer: Answer) -> Answer:
    status, headers, payload = answer
    return status, [*_pairs(headers), ("Content-Encoding", "gzip")], payload


def _gzip_undeclared(environ: dict[str, Any], answer: Answer) -> Answer:
    status, headers, payload = answer
    return status, headers, gzip.compress(payload, mtime=0)


def _gzip_when_asked(environ: dict[str, Any], answer: Answer) -> Answer:
    status, headers, payload = answer
    if "gzip" not in environ.get("HTTP_ACCEPT_ENCODING", ""):
        return answer
    pairs = [*_pairs(headers), ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
    return status, pairs, gzip.compress(payload)


def _two_content_types(environ: dict[str, Any], answer: Answer) -> Answer:
    status, headers, payload = answer
    return status, [*_pairs(headers), ("Content-Type", "text/html; charset=utf-8")], payload


def _extra_headers(environ: dict[str, Any], answer: Answer) -> Answer:
    status, headers, payload = answer
    extra = [
        ("X-Request-Id", f"req-{random.getrandbits(48):012x}"),
        ("Cache-Control", "no-store"),
        ("Vary", "Accept"),
        ("Vary", "Origin"),  # a list field may repeat
        ("Set-Cookie", "session=abc; Path=/; HttpOnly"),
        ("Set-Cookie", "region=eu; Path=/"),
        ("X-RateLimit-Limit", "100"),
        ("X-RateLimit-Remaining", "99"),
        ("Strict-Transport-Security", "max-age=31536000"),
        ("Access-Control-Allow-Origin", "*"),
        ("Retry-After", "120") if status >= 500 else ("X-Served-By", "edge-7"),
        ("Link", '</docs>; rel="help"'),
    ]
    return status, [*_pairs(headers), *extra], payload


def _slow(environ: dict[str, Any], answer: Answer) -> Answer:
    time.sleep(random.uniform(0.5, 1.0))
    return answer


def _message_object(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer | None:
    if body["status"] in ("FAILED", "ERROR"):
        message = {"detail": "could not narrate", "code": 17, "hints": ["retry later"]}
        return _json(200, {**body, "message": message})
    return None


def _null_fields(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    out: dict[str, Any] = {"run_id": None, "message": None, "exception_reason": None, **body}
    return _json(200, out)


Before = Callable[[int, dict[str, Any], dict[str, Any]], Answer | None]


def _throttle(every: int, code: int, retry_after: Callable[[int], str]) -> Before:
    """Every ``every``-th request answered ``code`` with ``Retry-After: retry_after(n)``."""

    def before(n: int, environ: dict[str, Any], state: dict[str, Any]) -> Answer | None:
        if n % every:
            return None
        status, headers, payload = _json(code, {"detail": "slow down"})
        return status, {**dict(_pairs(headers)), "Retry-After": retry_after(n)}, payload

    return before


def _first_poll_throttled(code: int, retry_after: str | Callable[[], str]) -> Before:
    """The first request for story t-done answered ``code`` with that Retry-After."""

    def before(n: int, environ: dict[str, Any], state: dict[str, Any]) -> Answer | None:
        if not environ.get("PATH_INFO", "").endswith("/story/t-done") or state:
            return None
        state["throttled"] = n
        value = retry_after if isinstance(retry_after, str) else retry_after()
        status, headers, payload = _json(code, {"detail": "slow down"})
        return status, {**dict(_pairs(headers)), "Retry-After": value}, payload

    return before


#: The three forms of an HTTP-date a client must read (RFC 9110 5.6.7).
HTTP_DATE_FORMS = ("%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y")


def _http_date(seconds: float, form: int = 0) -> str:
    return time.strftime(HTTP_DATE_FORMS[form], time.gmtime(time.time() + seconds))


# --- framing on the wire (RawServer) --------------------------------------------------------


def _head(status: int, headers: Headers, *extra: tuple[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
    lines += [f"{name}: {value}" for name, value in [*_pairs(headers), *extra]]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _well_framed(answer: Answer) -> tuple[bytes, bool]:
    status, headers, payload = answer
    return _head(status, headers, ("Content-Length", str(len(payload)))) + payload, False


def _counts_characters(answer: Answer) -> tuple[bytes, bool]:
    """Content-Length as len() of the text, not of its UTF-8 bytes: short on accents."""
    status, headers, payload = answer
    chars = len(payload.decode("utf-8", "replace"))
    return _head(status, headers, ("Content-Length", str(chars))) + payload, False


def _promises_more(answer: Answer) -> tuple[bytes, bool]:
    """Content-Length ten bytes more than the body, then the connection closes."""
    status, headers, payload = answer
    return _head(status, headers, ("Content-Length", str(len(payload) + 10))) + payload, True


def _chunks(payload: bytes, size: int = 7) -> list[bytes]:
    return [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]


def _chunked(answer: Answer, chunk: Callable[[bytes], bytes], end: bytes) -> bytes:
    status, headers, payload = answer
    head = _head(status, headers, ("Transfer-Encoding", "chunked"))
    return head + b"".join(chunk(c) for c in _chunks(payload) if c) + end


def _chunked_well(answer: Answer) -> tuple[bytes, bool]:
    """Chunked as RFC 9112 7.1 has it, with a chunk extension and a trailer field."""
    first = [True]

    def chunk(data: bytes) -> bytes:
        ext = b';note="first chunk"' if first[0] else b""
        first[0] = False
        return b"%X%s\r\n%s\r\n" % (len(data), ext, data)

    return _chunked(answer, chunk, b"0\r\nX-Checksum: none\r\n\r\n"), False


def _chunk_size_off_by_one(answer: Answer) -> tuple[bytes, bool]:
    def chunk(data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data) - 1, data)

    return _chunked(answer, chunk, b"0\r\n\r\n"), True


def _chunk_without_crlf(answer: Answer) -> tuple[bytes, bool]:
    def chunk(data: bytes) -> bytes:
        return b"%x\r\n%s" % (len(data), data)

    return _chunked(answer, chunk, b"0\r\n\r\n"), True


def _no_last_chunk(answer: Answer) -> tuple[bytes, bool]:
    def chunk(data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data)

    return _chunked(answer, chunk, b""), True


def _chunked_and_length(answer: Answer) -> tuple[bytes, bool]:
    status, headers, payload = answer
    head = _head(
        status,
        headers,
        ("Transfer-Encoding", "chunked"),
        ("Content-Length", str(len(payload))),
    )
    return head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload), False


# --- near-miss key checks -------------------------------------------------------------------


def _startswith(key: str | None) -> bool:
    return bool(key) and key is not None and key.startswith(API_KEY)


def _is_prefix(key: str | None) -> bool:
    return bool(key) and key is not None and API_KEY.startswith(key)


def _first_eight(key: str | None) -> bool:
    return key is not None and key[:8] == API_KEY[:8]


def _casefold(key: str | None) -> bool:
    return key is not None and key.lower() == API_KEY.lower()


def _all_but_last(key: str | None) -> bool:
    return key is not None and len(key) == len(API_KEY) and key[:-1] == API_KEY[:-1]


def _contains(key: str | None) -> bool:
    return key is not None and API_KEY in key  # "Bearer <key>" tolerated, and much more


def _same_length(key: str | None) -> bool:
    return key is not None and len(key) == len(API_KEY)


def _suffix(key: str | None) -> bool:
    return key is not None and key.endswith(API_KEY[-10:])


def _empty_is_default(key: str | None) -> bool:
    return key is not None and (key or API_KEY) == API_KEY


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("lowercase_status", "status-vocabulary", body=_lowercase),
        Variant("string_run_id", "run-id-integer", body=_string_run_id),
        Variant("success_without_run_id", "success-run-id", body=_no_run_id),
        Variant("boolean_run_id", "run-id-integer", body=_boolean_run_id),
        Variant("unknown_id_200", "unknown-id-4xx", unknown=_unknown_200),
        Variant("no_auth_check", "auth-missing-key", auth="none"),
        Variant("any_key_accepted", "auth-wrong-key", auth="any-key"),
        Variant("unknown_id_5xx", "unknown-id-4xx", unknown=_error_500),
        Variant("unknown_id_html", "error-json-body", unknown=_html_404),
        Variant("final_status_reverts", "final-never-reverts", body=_reverts),
        Variant("final_status_changes", "final-never-reverts", body=_final_changes),
        Variant("wrong_content_type", "json-content-type", body=_text_plain),
        Variant("list_body", "object-body", body=_list),
        Variant("status_outside_vocabulary", "status-vocabulary", body=_outside),
        Variant("run_id_changes", "run-id-stable", body=_run_id_changes),
        Variant("crash_on_odd_ids", "hostile-id-4xx", unknown=_crash_on_odd),
        Variant("missing_status_field", "status-field", body=_missing_status),
        Variant("body_not_json", "json-body", body=_not_json),
        Variant("body_echoes_the_key", "json-body", body=_echoes_key),
        Variant(
            "one_endpoint_wrong",
            "run-id-integer",
            body=_project_setup_only,
            only_project_setup=True,
        ),
        # Near misses of the key, each let through by a key check written badly.
        Variant("key_startswith", "auth-near-miss-key", key_check=_startswith),
        Variant("key_is_prefix_of_real", "auth-near-miss-key", key_check=_is_prefix),
        Variant("key_first_8_characters", "auth-near-miss-key", key_check=_first_eight),
        Variant("key_case_insensitive", "auth-near-miss-key", key_check=_casefold),
        Variant("key_ignores_last_character", "auth-near-miss-key", key_check=_all_but_last),
        Variant("key_as_substring", "auth-near-miss-key", key_check=_contains),
        Variant("key_length_only", "auth-near-miss-key", key_check=_same_length),
        Variant("key_suffix_only", "auth-near-miss-key", key_check=_suffix),
        Variant("key_empty_is_default", "auth-near-miss-key", key_check=_empty_is_default),
        # Answers a real client cannot read, or misreads.
        Variant(
            "content_length_counts_characters",
            "content-length",
            body=_accented,
            wire=_counts_characters,
        ),
        Variant("content_length_promises_more", "content-length", wire=_promises_more),
        Variant("chunked_and_content_length", "content-length", wire=_chunked_and_length),
        Variant("chunk_size_off_by_one", "chunked-framing", wire=_chunk_size_off_by_one),
        Variant("chunk_without_crlf", "chunked-framing", wire=_chunk_without_crlf),
        Variant("chunked_without_last_chunk", "chunked-framing", wire=_no_last_chunk),
        Variant("gzip_declared_not_applied", "content-encoding", after=_gzip_declared_only),
        Variant("gzip_without_content_encoding", "content-encoding", after=_gzip_undeclared),
        Variant("charset_latin1_on_utf8", "charset", body=_charset("iso-8859-1")),
        Variant("charset_unknown", "charset", body=_charset("utf-8-unknown")),
        Variant("two_content_types", "single-content-type", after=_two_content_types),
        Variant("retry_after_fraction", "retry-after", before=_first_poll_throttled(429, "0.5")),
        Variant(
            "retry_after_iso_8601",
            "retry-after",
            before=_first_poll_throttled(503, "2020-01-01T00:00:00Z"),
        ),
        Variant(
            "retry_after_not_gmt",
            "retry-after",
            before=_first_poll_throttled(503, lambda: email.utils.formatdate(time.time() + 1)),
        ),
        # Conforming: undocumented details differ.
        Variant("conforming_base", None),
        Variant("forbidden_403", None, auth="forbidden"),
        Variant("unknown_422", None, unknown=_unprocessable),
        Variant("extra_fields", None, body=_extra_fields),
        Variant(
            "charset_utf8", None, body=_charset("utf-8"), modules=("test_status_endpoints.py",)
        ),
        Variant(
            "message_object", None, body=_message_object, modules=("test_status_endpoints.py",)
        ),
        Variant("null_fields", None, body=_null_fields, modules=("test_status_endpoints.py",)),
        Variant("extra_headers", None, after=_extra_headers),
        Variant("gzip_when_asked", None, after=_gzip_when_asked),
        Variant("chunked_well_framed", None, body=_accented, wire=_chunked_well),
        Variant("content_length_well_framed", None, body=_accented, wire=_well_framed),
        Variant(
            "occasional_429_retry_after_seconds",
            None,
            before=_throttle(9, 429, lambda n: "1" if n == 9 else "0"),
        ),
        Variant(
            "occasional_503_retry_after_http_date",
            None,
            # IMF-fixdate a second ahead, then the obsolete RFC 850 and asctime forms, past
            before=_throttle(
                11, 503, lambda n: _http_date(1, 0) if n == 11 else _http_date(-30, n // 11 % 3)
            ),
        ),
        Variant(
            "slow_answers",
            None,
            after=_slow,
            modules=("test_status_endpoints.py", "test_auth.py::test_missing_key_is_rejected"),
            task_ids=("story:t-done", "project-setup:p-error"),
        ),
    ]
}


class StatusServer:
    """A WSGI app answering ``GET /apis/{story,project-setup}/{task_id}`` as ``variant`` says."""

    def __init__(self, variant: Variant) -> None:
        self.variant = variant
        self.polls: dict[tuple[str, str], int] = {}
        self.requests = 0
        self.state: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        status, headers, payload = self.respond(environ)
        pairs = [*_pairs(headers), ("Content-Length", str(len(payload)))]
        start_response(f"{status} {REASONS.get(status, 'Error')}", pairs)
        return [payload]

    def respond(self, environ: dict[str, Any]) -> Answer:
        """The answer to one request, as the variant has it."""
        with self._lock:
            self.requests += 1
            n = self.requests
        try:
            answer = None
            if self.variant.before is not None:
                answer = self.variant.before(n, environ, self.state)
            if answer is None:
                answer = self.answer(environ)
        except Exception:  # a crash, as a careless server would have it
            answer = (500, {"Content-Type": "text/html"}, b"<h1>Internal Server Error</h1>")
        if self.variant.after is not None:
            answer = self.variant.after(environ, answer)
        return answer

    def answer(self, environ: dict[str, Any]) -> Answer:
        v = self.variant
        if environ["REQUEST_METHOD"] != "GET":
            return _json(405, {"detail": "Method Not Allowed"})
        # waitress gives PATH_INFO percent-decoded, as latin-1 text of the UTF-8 bytes.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        if not path.startswith(PREFIX):
            return _json(404, {"detail": "Not Found"})
        kind, _, task_id = path[len(PREFIX) :].partition("/")
        if kind not in ("story", "project-setup") or not task_id:
            return _json(404, {"detail": "Not Found"})
        key = environ.get("HTTP_X_API_KEY")
        if v.auth != "none":
            if v.key_check is not None:
                bad = not v.key_check(key)
            else:
                bad = not key if v.auth == "any-key" else key != API_KEY
            if bad:
                code = 403 if v.auth == "forbidden" else 401
                return _json(code, {"detail": "Not authenticated"})
        bodies = TASKS.get((kind, task_id))
        if bodies is None:
            return v.unknown(kind, task_id) if v.unknown else _json(404, {"detail": "Not Found"})
        with self._lock:
            poll = self.polls.get((kind, task_id), 0) + 1
            self.polls[(kind, task_id)] = poll
        body = dict(bodies[min(poll, len(bodies)) - 1])
        if v.body is not None:
            answer = v.body(kind, task_id, poll, body)
            if answer is not None:
                return answer
        return _json(200, body)


def make_app(variant: Variant) -> Flask:
    """A Flask shell around the variant (so ``mockcamb.serve.waitress.Server`` can serve it); every
    request goes straight to the :class:`StatusServer`."""
    app = Flask(f"broken-{variant.name}")
    app.wsgi_app = StatusServer(variant)  # type: ignore[method-assign]
    return app


class _RawHandler(socketserver.BaseRequestHandler):
    """Reads requests off one connection and writes each answer's bytes as the variant says."""

    server: RawServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                data, close = self.server.answer_bytes(head)
                sock.sendall(data)
                if close:
                    return
        except OSError:  # the client went away, or stalled past the timeout
            return


class RawServer(socketserver.ThreadingTCPServer):
    """A server of a variant's bytes: parses a request head as waitress would present it to
    WSGI, answers it with :class:`StatusServer`, and writes the answer with ``variant.wire``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, variant: Variant) -> None:
        super().__init__(("127.0.0.1", 0), _RawHandler)
        self.app = StatusServer(variant)
        assert variant.wire is not None
        self.wire = variant.wire
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/apis"

    def answer_bytes(self, head: bytes) -> tuple[bytes, bool]:
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": unquote_to_bytes(target.split("?", 1)[0]).decode("latin-1"),
        }
        for line in lines[1:]:
            name, _, value = line.partition(":")
            environ["HTTP_" + name.strip().upper().replace("-", "_")] = value.strip()
        return self.wire(self.app.respond(environ))

    def start(self) -> RawServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)


class Served:
    """A variant on a free port: ``base_url`` to give the suite, ``stop()`` when done."""

    def __init__(self, variant: Variant) -> None:
        self.raw: RawServer | None = None
        self.wsgi: Server | None = None
        if variant.wire is not None:
            self.raw = RawServer(variant).start()
            self.base_url = self.raw.base_url
        else:
            self.wsgi = Server(make_app(variant), threads=4).start()
            self.base_url = self.wsgi.base_url

    def stop(self) -> None:
        if self.raw is not None:
            self.raw.stop()
        if self.wsgi is not None:
            self.wsgi.stop()
