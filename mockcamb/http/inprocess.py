"""Run the real WSGI app in process: the base of the in-process modes (``responses``, httpx).

:class:`InProcessApp` turns one client request (method, URL, headers, body) into a WSGI
environ, calls the same app ``mockcamb serve`` runs (route table, fast path, Flask views,
error handlers) and hands back the status, headers and body, so the in-process modes never
re-implement routing. Latency is waited out by the app itself (a real sleep taken at
import: a client's virtual sleep never skips it), or with ``defer_latency`` handed back in
:attr:`Answer.delay` for the adapter to wait out its own way (an event loop must not block);
a dropped connection reaches the app's ``MOCKCAMB_DROP_CONNECTION`` hook, which marks the
request, and the adapter raises what its client library raises for a dropped connection.

Middleware that would hold a request unanswered (the conformance harness's stalls) must not
block here, where the app runs in the client's own thread: under :data:`IN_PROCESS_KEY` it
sets :data:`STALLED_KEY` instead, and the adapter waits as the client would on a socket. Each
request gets a ``REMOTE_PORT`` of its own (:attr:`Answer.port`), as on a connection.
"""

from __future__ import annotations

import io
import itertools
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote_to_bytes, urlsplit

from ..core.emulator import Emulator
from ..core.routes import API_PREFIX
from .app import create_app
from .wsgi import WSGIApp

#: WSGI environ key the drop hook sets: the client must see a dropped connection.
DROPPED_KEY: Final = "mockcamb.dropped"
#: WSGI environ key present (``True``) when the request is answered in process.
IN_PROCESS_KEY: Final = "mockcamb.in_process"
#: WSGI environ key a middleware sets in process for a request it holds unanswered.
STALLED_KEY: Final = "mockcamb.stalled"
_PORTS: Final = itertools.count()  # the ephemeral ports the requests seem to come from
_SKIPPED: Final = frozenset({"content-length", "content-type", "transfer-encoding"})


def _mark_dropped(environ: dict[str, Any]) -> bool:
    environ[DROPPED_KEY] = True
    return True


@dataclass(slots=True)
class Answer:
    """What the app answered: ``dropped`` when the connection must look cut; ``delay``: the
    seconds of injected latency still to wait before the answer (or the cut) arrives, when the
    app was told to defer them."""

    status_code: int
    headers: list[tuple[str, str]]
    body: bytes
    dropped: bool = False
    delay: float = 0.0
    #: True when a middleware holds the request unanswered (see the module docstring).
    stalled: bool = False
    #: The ``REMOTE_PORT`` the request came from.
    port: int = 0


class InProcessApp:
    """The emulator's WSGI app mounted at ``base_url`` (an http(s) URL ending in the API
    prefix the client is given, ``https://client.camb.ai/apis`` for the real service).

    ``defer_latency``: the app does not sleep; :meth:`call` returns the wait in
    :attr:`Answer.delay`. ``middleware`` wraps the app's WSGI callable (it sees every request
    first), as :func:`mockcamb.testing.serve_in_thread` does.
    """

    def __init__(
        self,
        emulator: Emulator,
        base_url: str,
        *,
        defer_latency: bool = False,
        middleware: Callable[[WSGIApp], WSGIApp] | None = None,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url: must be an http(s) URL, got {base_url!r}")
        self.emulator = emulator
        self.base_url = base_url.rstrip("/")
        self.scheme = parts.scheme
        self.netloc = parts.netloc
        self.host = parts.hostname or ""
        self.port = str(parts.port or (443 if parts.scheme == "https" else 80))
        prefix = parts.path
        # The app serves /apis; whatever the base URL puts before it is the mount point.
        self.script_name = prefix.removesuffix(API_PREFIX)
        self.api_path = prefix
        config: dict[str, Any] = {"MOCKCAMB_DROP_CONNECTION": _mark_dropped}
        self._deferred = threading.local()  # the latency of the call in progress, per thread
        if defer_latency:
            config["MOCKCAMB_DELAY"] = self._defer
        self.app = create_app(emulator, config=config)
        self.wsgi: WSGIApp = middleware(self.app) if middleware is not None else self.app

    def _defer(self, seconds: float) -> None:
        self._deferred.seconds = getattr(self._deferred, "seconds", 0.0) + seconds

    def _path_info(self, path: str) -> str:
        """The WSGI PATH_INFO of a request path under the base URL (PEP 3333: the raw bytes
        of the unquoted path, as latin-1)."""
        rest = path[len(self.api_path) :] if path.startswith(self.api_path) else path
        return (API_PREFIX + rest).encode("utf-8", "surrogateescape").decode("latin-1")

    def environ(
        self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> dict[str, Any]:
        """The WSGI environ a server would build for this request."""
        parts = urlsplit(url)
        raw_path = unquote_to_bytes(parts.path or "/").decode("utf-8", "surrogateescape")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method.upper(),
            "SCRIPT_NAME": self.script_name,
            "PATH_INFO": self._path_info(raw_path),
            "QUERY_STRING": parts.query,
            "SERVER_NAME": self.host,
            "SERVER_PORT": self.port,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": self.netloc,
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": str(49152 + next(_PORTS) % 16384),
            IN_PROCESS_KEY: True,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": self.scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if body:  # a server sets it for a request with a body (or a Content-Length header)
            environ["CONTENT_LENGTH"] = str(len(body))
        for name, value in headers:
            low = name.lower()
            if low == "content-type":
                environ["CONTENT_TYPE"] = value
            elif low == "content-length":
                environ["CONTENT_LENGTH"] = str(len(body))
            elif low not in _SKIPPED and low != "host":
                key = "HTTP_" + low.upper().replace("-", "_")
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def call(
        self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> Answer:
        """Answer one request through the app."""
        environ = self.environ(method, url, headers, body)
        started: list[Any] = []

        def start_response(status: str, response_headers: list[tuple[str, str]], *_: Any) -> Any:
            started[:] = [status, response_headers]
            return lambda data: None

        self._deferred.seconds = 0.0
        result = self.wsgi(environ, start_response)
        try:
            payload = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        delay = self._deferred.seconds
        port = int(environ["REMOTE_PORT"])
        if environ.get(DROPPED_KEY) or not started:
            return Answer(0, [], b"", dropped=True, delay=delay, port=port)
        status, response_headers = started
        code = int(status.split(" ", 1)[0])
        stalled = bool(environ.get(STALLED_KEY))
        return Answer(code, list(response_headers), payload, False, delay, stalled, port)


__all__ = ["DROPPED_KEY", "IN_PROCESS_KEY", "STALLED_KEY", "Answer", "InProcessApp"]
