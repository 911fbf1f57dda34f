"""The contract suite's HTTP client: exact paths, rate-limited, honours Retry-After, and only
ever sends GET requests to the two status endpoints of a named target.

Built on sockets rather than requests because requests (urllib3) rewrites odd paths (``%00``
becomes ``%2500``, ``%2e`` becomes ``.``): the hostile-id checks must send the bytes they mean.
Answers are read by :mod:`._wire`, strictly, as the HTTP specification has a client read them.
"""

from __future__ import annotations

import datetime
import email.utils
import http.client
import json
import math
import re
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from mockcamb.core.routes import KINDS, STATUS_PATHS, family
from mockcamb.ratelimit import RateLimiter

from ._wire import ACCEPT_ENCODING, Defect, NoAnswer, TransportError, Wire, decode_content

__all__ = [
    "AdminClient",
    "Client",
    "Defect",
    "RateLimiter",
    "Response",
    "Secret",
    "TransportError",
    "redact",
]

API_KEY_HEADER = "x-api-key"
USER_AGENT = "mockcamb-contract-suite/0.1"
DEFAULT_TIMEOUT = 30.0
#: Longest Retry-After the suite waits out; beyond it the answer is judged as it is.
MAX_RETRY_AFTER = 60.0
MAX_RETRIES = 3
MAX_REDIRECTS = 3
#: Requests a run under the ``live`` hypothesis profile may send a named target for each
#: family it checks, beyond the ``--camb-polls`` polls of each task id (the README gives the
#: measured count: 32 a family).
LIVE_REQUEST_BUDGET = 50
#: What http.client also refuses to put in a request line: controls, spaces, non-ASCII.
_NOT_IN_REQUEST_LINE = re.compile(r"[^\x21-\x7e]")
#: The paths under the base a named target may be sent: the two status endpoints.
STATUS_PREFIXES: tuple[str, ...] = tuple(f"/{path}/" for path in STATUS_PATHS)


_TRACKED: set[str] = set()


def redact(text: str) -> str:
    """``text`` with every tracked key replaced by ``***`` (a server may echo the key back);
    the longest first, so that a near miss of the key never uncovers part of it."""
    for value in sorted(_TRACKED, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


class Secret:
    """An API key that never shows itself: not in repr, str, f-strings or tracebacks.
    ``track=True`` also blanks it out of every failure message (see :func:`redact`)."""

    __slots__ = ("_value",)

    def __init__(self, value: str, *, track: bool = False) -> None:
        self._value = value
        if track and len(value) >= 4:
            _TRACKED.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:  # never pickled into a hypothesis database or a report
        raise TypeError("a Secret is not picklable")


@dataclass
class Response:
    """A complete HTTP answer, as a client that follows the HTTP specification reads it."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    path: str
    elapsed: float
    redirects: list[str] = field(default_factory=list)
    #: Every field line as sent, in order, duplicates kept (``headers`` joins them).
    fields: list[tuple[str, str]] = field(default_factory=list)
    #: What the answer breaks though it arrived whole (see :mod:`._wire`).
    defects: list[Defect] = field(default_factory=list)
    #: The answers before this one to the same call: waited-out 429/503s, followed redirects.
    history: list[Response] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def media_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The decoded JSON body; raises ValueError when it is not JSON. Strict JSON: UTF-8,
        and no NaN or Infinity (Python reads them, JSON.parse in the TypeScript SDK does not)."""
        return json.loads(self.body.decode("utf-8"), parse_constant=_not_json)

    def preview(self, n: int = 120) -> str:
        text = self.body[:n].decode("utf-8", "replace")
        return repr(text + ("..." if len(self.body) > n else ""))


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse Retry-After (delta-seconds or an HTTP date) into seconds from now; leniently,
    to wait politely whatever the target sends (``_checks`` judges the value strictly)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # the asctime form names no zone: HTTP-dates are in GMT
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


class Client:
    """GETs the status endpoints of one target.

    ``allowed_prefixes`` are the path prefixes (under the base path) this client may request;
    a named target gets only the two status endpoints, and any other request is a bug in the
    suite that raises before anything is sent. ``resend_on_stale`` sends a request again when
    a kept-alive connection turns out closed before any answer; the emulator-only checks turn
    it off, since a request mockcamb dropped on purpose must not be sent twice.
    """

    def __init__(
        self,
        base_url: str,
        api_key: Secret | None,
        limiter: RateLimiter,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        allowed_prefixes: tuple[str, ...] = STATUS_PREFIXES,
        sleep: Any = time.sleep,
        resend_on_stale: bool = True,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base URL must be http(s)://host[:port]/path, got {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.base_path = parts.path.rstrip("/")
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.api_key = api_key
        self.limiter = limiter
        self.timeout = timeout
        self.allowed_prefixes = allowed_prefixes
        self._sleep = sleep
        self.resend_on_stale = resend_on_stale
        self._wire: Wire | None = None
        self._lock = threading.Lock()
        self.sent = 0
        default_port = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._host_header = host if self.port in (None, default_port) else f"{host}:{self.port}"

    def __repr__(self) -> str:
        return f"Client({self.origin}{self.base_path})"

    # --- connections ------------------------------------------------------------------------

    def _connect(self) -> Wire:
        port = self.port or (443 if self.scheme == "https" else 80)
        try:
            sock = socket.create_connection((self.host, port), timeout=self.timeout)
            if self.scheme == "https":
                context = ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=self.host)
        except OSError as exc:
            raise TransportError(f"could not connect to {self.origin}: {_describe(exc)}") from None
        return Wire(sock, self.timeout)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _request(self, path: str, headers: Mapping[str, str]) -> bytes:
        if _NOT_IN_REQUEST_LINE.search(path):
            raise ValueError(f"contract suite bug: {path!r} cannot go in a request line as is")
        lines = [f"GET {path} HTTP/1.1", f"Host: {self._host_header}"]
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                raise ValueError(f"contract suite bug: a line break in the {name} header")
            lines.append(f"{name}: {value}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send_once(self, path: str, headers: Mapping[str, str]) -> Response:
        """One GET of ``path`` (exact bytes), reusing the connection when it is still open."""
        request = self._request(path, headers)
        with self._lock:
            for attempt in (1, 2):
                reused = self._wire is not None and self.resend_on_stale
                wire = self._wire or self._connect()
                self._wire = wire
                started = time.monotonic()
                try:
                    wire.send(request)
                except OSError as exc:
                    self._drop()
                    if reused and attempt == 1:
                        continue  # a stale keep-alive connection: nothing reached the server
                    raise TransportError(f"could not send GET {path}: {_describe(exc)}") from None
                try:
                    answer = wire.read_answer()
                except NoAnswer as exc:
                    self._drop()
                    if reused and attempt == 1:
                        continue  # closed before it read our request: safe to send again
                    self.sent += 1
                    raise TransportError(f"GET {path}: {exc}") from None
                except TransportError as exc:
                    self._drop()
                    self.sent += 1
                    raise TransportError(
                        f"GET {path}: {exc}", exc.rule, exc.fix, exc.detail
                    ) from None
                except OSError as exc:
                    self._drop()
                    self.sent += 1
                    raise TransportError(f"GET {path}: {_describe(exc)}") from None
                if not answer.keep_alive:
                    self._drop()
                body, decoding = decode_content(answer.fields, answer.body)
                joined: dict[str, str] = {}
                for name, value in answer.fields:  # repeated fields joined, as clients do
                    key = name.lower()
                    joined[key] = f"{joined[key]}, {value}" if key in joined else value
                self.sent += 1
                return Response(
                    answer.status,
                    answer.reason,
                    joined,
                    body,
                    path,
                    time.monotonic() - started,
                    fields=answer.fields,
                    defects=answer.defects + decoding,
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _drop(self) -> None:
        if self._wire is not None:
            self._wire.close()
            self._wire = None

    # --- requests ----------------------------------------------------------------------------

    def status_path(self, kind: str, wire_id: str) -> str:
        """The exact request path of a status poll; ``wire_id`` is sent as it is."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        return f"{self.base_path}/{family(kind).status_path}/{wire_id}"

    def _check_allowed(self, path: str) -> None:
        rel = path[len(self.base_path) :] if path.startswith(self.base_path) else None
        if rel is None or not rel.startswith(self.allowed_prefixes):
            raise RuntimeError(
                f"contract suite bug: refusing to request {path!r}; this target only gets GET "
                f"{', '.join(self.base_path + p + '...' for p in self.allowed_prefixes)}"
            )

    def get(
        self,
        path: str,
        *,
        key: Secret | str | None = "default",
        retry: bool = True,
        follow: bool = True,
    ) -> Response:
        """GET ``path`` (absolute, exact). ``key="default"`` sends the target's key, ``None``
        sends none, a :class:`Secret` sends that one. With ``retry`` a 429 (or a 503 that says
        Retry-After) is waited out and sent again, up to :data:`MAX_RETRIES` times; with
        ``follow`` redirects to other status-endpoint paths on the same origin are followed.
        """
        self._check_allowed(path)
        chosen = self.api_key if key == "default" else key
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        if isinstance(chosen, Secret):
            headers[API_KEY_HEADER] = chosen.reveal()
        redirects: list[str] = []
        history: list[Response] = []
        tries = 0
        while True:
            self.limiter.wait()
            resp = self._send_once(path, headers)
            resp.redirects = redirects
            resp.history = list(history)
            history.append(resp)
            wait = retry_after_seconds(resp.headers.get("retry-after"))
            throttled = resp.status == 429 or (resp.status == 503 and wait is not None)
            if retry and throttled and tries < MAX_RETRIES:
                tries += 1
                pause = min(wait if wait is not None else 2.0**tries, MAX_RETRY_AFTER)
                if wait is not None and wait > MAX_RETRY_AFTER:
                    return resp
                self.limiter.hold(pause)
                self._sleep(pause)
                continue
            location = resp.headers.get("location")
            if follow and resp.status in (301, 302, 303, 307, 308) and location:
                target = self._same_status_path(location)
                if target is not None and len(redirects) < MAX_REDIRECTS:
                    redirects.append(f"{resp.status} -> {target}")
                    path = target
                    continue
            return resp

    def _same_status_path(self, location: str) -> str | None:
        """The path of ``location`` if it is on this origin and under a status endpoint."""
        absolute = urljoin(f"{self.origin}{self.base_path}/", location)
        parts = urlsplit(absolute)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            return None
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            self._check_allowed(path)
        except RuntimeError:
            return None
        return path

    def get_status(self, kind: str, wire_id: str, **kwargs: Any) -> Response:
        return self.get(self.status_path(kind, wire_id), **kwargs)


class AdminClient:
    """The emulator's admin API (only ever used against the suite's own emulator)."""

    def __init__(self, root_url: str, token: str | None, timeout: float = 10.0) -> None:
        parts = urlsplit(root_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port
        self.token = token
        self.timeout = timeout

    def request(
        self, method: str, path: str, body: Any = None, *, token: str | bool | None = True
    ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"Content-Type": "application/json"}
        chosen = self.token if token is True else (token or None)
        if chosen:
            headers["x-admin-token"] = chosen
        try:
            payload = None if body is None else json.dumps(body)
            conn.request(method, f"/__admin{path}", body=payload, headers=headers)
            raw = conn.getresponse()
            data = raw.read()
        finally:
            conn.close()
        try:
            return raw.status, json.loads(data) if data else None
        except ValueError:
            return raw.status, data.decode("utf-8", "replace")

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        code, doc = self.request(method, path, body)
        if code >= 300:
            raise RuntimeError(f"admin {method} {path} answered {code}: {doc}")
        return doc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text
