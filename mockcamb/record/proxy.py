"""The recording proxy: forwards every request to a target as the client sent it, answers
with what came back, and hands each exchange to a :class:`~mockcamb.record.recording.Recorder`.

Live-safe by construction: the method, path, query, body and end-to-end headers go to the
target unchanged (``Host`` names the target; hop-by-hop headers such as ``Connection`` stay
between the client and the proxy); nothing is added, no request is retried, redirects are
not followed, and ``max_rps`` spaces out what is forwarded. When the target gives no answer
the client gets ``502`` (connection reset, refused, TLS or DNS failure) or ``504`` (timeout)
with a JSON ``detail`` and an ``X-Mockcamb-Record-Error`` header naming what happened.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import SKIP_HEADER
from waitress import wasyncore
from waitress.server import create_server

from ..core.errors import ConfigError
from ..ratelimit import RateLimiter
from ..serve.threaded import ThreadedServer
from .recording import Exchange, Recorder
from .redact import Redactor, redact_query, secret_values

#: Headers that belong to one connection, never forwarded (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
#: Larger bodies are streamed through instead of held in memory (and recorded in part).
MAX_BUFFERED = 16 * 1024 * 1024
ERROR_HEADER = "X-Mockcamb-Record-Error"
_real_sleep = time.sleep  # captured at import: virtual time in a client never shortens waits
log = logging.getLogger("mockcamb.record")
logging.getLogger("waitress.queue").setLevel(logging.ERROR)

StartResponse = Callable[..., Any]


class Target:
    """Where requests go: ``http(s)://host[:port][/base]``."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"--target: must be an http:// or https:// URL such as "
                f"https://client.camb.ai/apis, got {redact_query(url)!r}"
            )
        if parts.username or parts.password:
            raise ConfigError("--target: must not carry a user or password")
        if parts.query or parts.fragment:
            raise ConfigError("--target: must not have a query or fragment")
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"--target: bad port in {url!r}") from None
        self.scheme = parts.scheme
        self.hostname = parts.hostname
        self.port = port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        default = (parts.scheme == "https" and self.port == 443) or (
            parts.scheme == "http" and self.port == 80
        )
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        self.host_header = host if default else f"{host}:{self.port}"
        self.url = f"{self.scheme}://{self.host_header}{self.base_path}"

    def route_path(self, path: str) -> str:
        """``path`` relative to the API base, to tell which route it is: a client whose base
        URL ends in ``/apis`` while the target's does not sends ``/apis/story/...``."""
        if not self.base_path.endswith("/apis") and (path == "/apis" or path.startswith("/apis/")):
            return path[len("/apis") :] or "/"
        return path


def _client_headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if not value:
                continue
            name = key.replace("_", "-").title()
        else:
            continue
        headers.append((name, value.encode("latin-1").decode("utf-8", "surrogateescape")))
    return headers


def _end_to_end(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` without hop-by-hop ones (those listed in ``Connection`` included)."""
    items = list(headers)
    listed = {
        token.strip().lower()
        for name, value in items
        if name.lower() == "connection"
        for token in value.split(",")
    }
    return [(n, v) for n, v in items if n.lower() not in HOP_BY_HOP and n.lower() not in listed]


def _climbs(path: str) -> bool:
    return any(unquote(seg) in ("..", ".") for seg in path.split("?", 1)[0].split("/"))


def _json_answer(
    start_response: StartResponse, code: int, detail: str, error: str | None = None
) -> list[bytes]:
    payload = json.dumps({"detail": detail}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    if error is not None:
        headers.append((ERROR_HEADER, error))
    start_response(f"{code} {HTTPStatus(code).phrase}", headers)
    return [payload]


def transport_kind(exc: BaseException) -> tuple[str, int]:
    """What a failure to get an answer was (``reset``, ``timeout``, ``refused``, ``dns``,
    ``tls``, ``error``) and the code the client is answered with (502, or 504 for a timeout)."""
    if isinstance(exc, NameResolutionError):
        return "dns", 502
    if isinstance(exc, NewConnectionError):
        refused = isinstance(exc.__cause__ or exc.__context__, ConnectionRefusedError) or (
            "refused" in str(exc).lower()
        )
        return ("refused" if refused else "connect"), 502
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError, socket.timeout, TimeoutError)):
        return "timeout", 504
    if isinstance(exc, SSLError):
        return "tls", 502
    if isinstance(exc, (ProtocolError, ConnectionError, http.client.HTTPException)):
        return "reset", 502
    return "error", 502


class RecordingProxy:
    """The WSGI app: forward, answer, record."""

    def __init__(
        self,
        target: str | Target,
        recorder: Recorder,
        *,
        max_rps: float | None = None,
        timeout: float = 300.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.target = target if isinstance(target, Target) else Target(target)
        self.recorder = recorder
        if max_rps is not None and not max_rps > 0:
            raise ConfigError(f"--max-rps: must be a number > 0, got {max_rps!r}")
        self.limiter = RateLimiter(max_rps)
        if not timeout > 0:
            raise ConfigError(f"--timeout: must be a number > 0, got {timeout!r}")
        kwargs: dict[str, Any] = {}
        if self.target.scheme == "https":
            with contextlib.suppress(ImportError):
                import certifi

                kwargs["ca_certs"] = certifi.where()
        self._pool = urllib3.connectionpool.connection_from_url(
            self.target.url,
            maxsize=32,
            block=False,
            retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=timeout),
            **kwargs,
        )
        self.forwarded = 0

    def close(self) -> None:
        self._pool.close()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        raw = str(environ.get("REQUEST_URI") or "")
        if not raw.startswith("/"):  # absolute form (GET http://host/...): keep the path only
            query = environ.get("QUERY_STRING")
            raw = quote(str(environ.get("PATH_INFO") or "/"), safe="/%:@!$&'()*+,;=~")
            raw += f"?{query}" if query else ""
        if method == "CONNECT":
            return _json_answer(start_response, 405, "mockcamb record: CONNECT is not forwarded")
        if _climbs(raw):
            return _json_answer(
                start_response,
                400,
                "mockcamb record: a path with '.' or '..' segments could leave the target's "
                "base path; not forwarded",
            )
        headers = _client_headers(environ)
        body, stream = self._request_body(environ, method)
        forward = [(n, v) for n, v in _end_to_end(headers) if n.lower() != "host"]
        self.limiter.wait()
        sent = self.recorder.clock()
        began = time.perf_counter()
        ex = Exchange(method, raw, headers, body, sent, 0.0)
        try:
            answer = self._forward(method, raw, forward, body if stream is None else stream)
        except (HTTPError, OSError, http.client.HTTPException) as exc:
            kind, code = transport_kind(exc)
            ex.elapsed = time.perf_counter() - began
            ex.transport = kind
            ex.error = f"{type(exc).__name__}: {exc}"
            self.recorder.record(ex, self.target.route_path(raw))
            redactor = Redactor(secret_values(headers))
            detail = redactor.text(
                f"mockcamb record: no answer from {self.target.url} ({kind}): {ex.error}"
            )
            return _json_answer(start_response, code, detail[:1000], kind)
        resp, data, rest = answer
        ex.elapsed = time.perf_counter() - began
        ex.status_code = resp.status
        ex.response_headers = list(resp.headers.items())
        ex.response_body = data
        ex.response_truncated = rest is not None
        self.recorder.record(ex, self.target.route_path(raw))
        out = [(n, v) for n, v in _end_to_end(ex.response_headers) if n.lower() != "content-length"]
        if rest is None:
            if method == "HEAD":
                length = resp.headers.get("content-length")
                if length is not None:
                    out.append(("Content-Length", length))
            else:
                out.append(("Content-Length", str(len(data))))
        elif resp.headers.get("content-length") is not None:
            out.append(("Content-Length", resp.headers["content-length"]))
        reason = resp.reason or _phrase(resp.status)
        start_response(f"{resp.status} {reason}", out)
        if rest is None:
            return [data]
        return _chain(data, rest)

    def _request_body(self, environ: dict[str, Any], method: str) -> tuple[bytes | None, Any]:
        """The body as bytes (``None`` and a stream when it is too big to hold)."""
        stream = environ.get("wsgi.input")
        length_text = str(environ.get("CONTENT_LENGTH") or "")
        if stream is None:
            return (b"" if method in ("POST", "PUT", "PATCH") else None), None
        if length_text.isdigit():
            length = int(length_text)
            if length > MAX_BUFFERED:
                return None, stream
            return stream.read(length), None
        data = stream.read()
        return (data if data or method in ("POST", "PUT", "PATCH") else None), None

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: Any
    ) -> tuple[Any, bytes, Iterator[bytes] | None]:
        names = {n.lower() for n, _ in headers}
        fwd = urllib3.HTTPHeaderDict()
        fwd.add("Host", self.target.host_header)
        for name, value in headers:
            fwd.add(name, value)
        for name in ("User-Agent", "Accept-Encoding"):
            if name.lower() not in names:
                fwd.add(name, SKIP_HEADER)  # urllib3 would add its own; add nothing
        self.forwarded += 1
        resp = self._pool.urlopen(
            method,
            self.target.base_path + path,
            body=body,
            headers=fwd,
            retries=False,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            chunked=False,
        )
        chunks = resp.stream(65_536, decode_content=False)
        buffered = bytearray()
        try:
            for chunk in chunks:
                buffered += chunk
                if len(buffered) > MAX_BUFFERED:
                    return resp, bytes(buffered), _drain(resp, chunks)
        except BaseException:
            resp.close()
            raise
        resp.release_conn()
        return resp, bytes(buffered), None


def _drain(resp: Any, chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from chunks
    finally:
        resp.release_conn()


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


class ProxyServer(ThreadedServer):
    """The proxy on waitress: binds at once, serves here or in a background thread."""

    thread_name = "mockcamb-record"

    def __init__(
        self, app: RecordingProxy, host: str = "127.0.0.1", port: int = 0, threads: int = 32
    ) -> None:
        self.app = app
        try:
            server = create_server(
                app,
                host=host,
                port=port,
                threads=threads,
                ident="mockcamb-record",
                backlog=1024,
                channel_timeout=600,
                max_request_body_size=4 * 1024**3,
                max_request_header_size=64 * 1024,
                asyncore_use_poll=True,
                clear_untrusted_proxy_headers=False,
            )
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise ConfigError(
                    f"--port: port {port} on {host} is already in use; choose another"
                ) from None
            raise ConfigError(f"--host: cannot listen on {host}:{port}: {exc.strerror}") from None
        self._init_serving(server, host)  # url (the base URL to give the client), start

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, let exchanges in flight finish (and be recorded), then close."""
        if self._stopped.is_set() or self._stopping.is_set():
            return
        self._stopping.set()
        server = self._server
        closed = threading.Event()

        def _close_listener() -> None:
            with contextlib.suppress(OSError):
                wasyncore.dispatcher.close(server)
            closed.set()

        def _close_all() -> None:
            for dispatcher in list(server._map.values()):
                with contextlib.suppress(Exception):
                    dispatcher.close()

        try:
            server.trigger.pull_trigger(_close_listener)
            closed.wait(timeout)
            tasks = server.task_dispatcher
            deadline = time.monotonic() + timeout
            while (tasks.active_count or tasks.queue) and time.monotonic() < deadline:
                _real_sleep(0.01)
            server.trigger.pull_trigger(_close_all)
        except OSError:
            _close_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self.app.close()

    def stop_soon(self) -> None:
        """Begin :meth:`stop` in another thread (for signal handlers in the serving thread)."""
        threading.Thread(target=self.stop, name="mockcamb-record-stop", daemon=True).start()


class Recording:
    """A running recording proxy (what :func:`recording_proxy` yields)."""

    def __init__(self, server: ProxyServer, recorder: Recorder) -> None:
        self.server = server
        self.recorder = recorder

    @property
    def url(self) -> str:
        """The base URL to give the client in place of the target's."""
        return self.server.url

    @property
    def directory(self) -> Path:
        return self.recorder.directory


@contextlib.contextmanager
def recording_proxy(
    target: str,
    out: str | Path = "recordings",
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_rps: float | None = None,
    timeout: float = 300.0,
    clock: Callable[[], float] = time.time,
    durable: bool = True,
    flush_interval: float = 0.2,
) -> Iterator[Recording]:
    """Record for the ``with`` block: ``with recording_proxy(url, "recordings") as rec:``
    serves a proxy to ``target`` at ``rec.url`` (a free port unless ``port`` is given) and
    writes what passes through to ``out``: what changed, every ``flush_interval`` seconds
    (``0``: before each answer goes back), and the rest when the block ends. ``clock`` gives
    the seconds timings are measured in: the wall clock, or a test's virtual clock
    (``mock.now``)."""
    from .scenario import render_yaml

    recorder = Recorder(
        out,
        target,
        clock=clock,
        durable=durable,
        render=render_yaml,
        flush_interval=flush_interval,
    ).open()
    try:
        app = RecordingProxy(target, recorder, max_rps=max_rps, timeout=timeout)
        server = ProxyServer(app, host, port).start()
    except BaseException:
        recorder.close()
        raise
    try:
        yield Recording(server, recorder)
    finally:
        server.stop()
        recorder.close()
