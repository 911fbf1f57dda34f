"""From a transport-neutral :class:`~mockcamb.core.replies.Reply` to an HTTP answer: the
pieces the Flask views and the status fast path share (latency, dropped connections, status
lines, header names), and the hooks a server plugs in through the app's config:

- ``MOCKCAMB_DELAY(seconds)``: wait out an injected latency (a server may grow its pool);
- ``MOCKCAMB_DEFER_DELAY(environ, seconds) -> bool``: the server waits the latency out
  itself, after the app has answered, holding no thread meanwhile; ``True`` if it will
  (the ASGI server marks the request and sleeps on its event loop);
- ``MOCKCAMB_DROP_CONNECTION(environ) -> bool``: shut the client's connection, ``True`` if
  done (waitress reaches the socket; the in-process adapters mark the environ instead).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any, Final

from flask import Response, current_app, request

from ..core.emulator import Emulator
from ..core.replies import Reply

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: The largest request body the app reads (a 413 beyond).
MAX_BODY: Final = 16 * 1024 * 1024
#: The admin API's prefix.
ADMIN_PREFIX: Final = "/__admin"
#: WSGI environ key: when the request reached the app (the start of its injected latency).
START_KEY: Final = "mockcamb.start"

_sleep = time.sleep  # captured at import: virtual sleep in a client never speeds up latency
_clock = time.perf_counter  # likewise: latency is measured on the real clock


def emulator() -> Emulator:
    """The emulator behind the current Flask app."""
    emu: Emulator = current_app.extensions["mockcamb"]
    return emu


class CutShort:
    """An empty response body sent under a ``Content-Length`` that promises a megabyte: the
    server must close the connection without finishing the answer (granian closes it before
    the status line or right after the headers). The ``drop_connection`` fault where the
    socket is out of reach."""

    def __iter__(self) -> CutShort:
        return self

    def __next__(self) -> bytes:
        raise StopIteration


def wait_out(
    config: Mapping[str, Any],
    seconds: float,
    since: float | None = None,
    environ: dict[str, Any] | None = None,
) -> None:
    """Wait out an injected latency: handed to the server when it defers it (given the
    request's ``environ``), else through the server's hook when it has one (it grows the
    worker pool so a sleeping request never holds a worker others need), else sleep.
    With ``since`` (a ``perf_counter`` reading when the request arrived) the time already
    spent answering counts toward the latency, so the answer leaves ``seconds`` after the
    request came in, not later."""
    if since is not None:
        seconds -= _clock() - since
        if seconds <= 0:
            return
    defer = config.get("MOCKCAMB_DEFER_DELAY")
    if environ is not None and defer is not None and defer(environ, seconds):
        return
    hook = config.get("MOCKCAMB_DELAY")
    if hook is not None:
        hook(seconds)
    else:
        _sleep(seconds)


def arrived(environ: dict[str, Any]) -> None:
    """Mark when a request reached the app (its latency counts from here)."""
    environ[START_KEY] = _clock()


def drop(config: Mapping[str, Any], environ: dict[str, Any]) -> bool:
    """Shut the client's connection through the server's hook; ``True`` if it was shut."""
    dropper = config.get("MOCKCAMB_DROP_CONNECTION")
    return bool(dropper is not None and dropper(environ))


def to_response(reply: Reply) -> Response:
    """Turn a transport-neutral reply into a Flask response, waiting out its latency."""
    if reply.delay > 0:
        environ = request.environ
        wait_out(current_app.config, reply.delay, environ.get(START_KEY), environ)
    payload = reply.payload()
    resp = Response(payload, status=reply.status_code, content_type=reply.content_type)
    for name, value in reply.headers.items():
        resp.headers[name] = value
    if reply.drop:
        if drop(current_app.config, request.environ):
            return resp  # the socket is shut already: the client sees no answer at all
        # No socket access (granian, another WSGI server): promise more than we send, so the
        # server must close the connection mid-answer (the client sees IncompleteRead).
        resp = Response(CutShort(), status=200, content_type=reply.content_type)
        resp.headers["Content-Length"] = "1048576"
        resp.direct_passthrough = True
    return resp


def json_error(status: int, detail: Any) -> Response:
    """A ``{"detail": ...}`` JSON error response."""
    return to_response(Reply(status, {"detail": detail}))


def status_line(code: int) -> str:
    """``200 OK``: the WSGI status line of a code."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


_HEADER_NAMES: dict[str, str] = {}


def header_name(key: str) -> str:
    """``HTTP_X_API_KEY`` -> ``X-Api-Key``, remembered for the usual few hundred names."""
    name = _HEADER_NAMES.get(key)
    if name is None:
        name = key[5:].replace("_", "-").title()
        if len(_HEADER_NAMES) < 512:  # hostile clients may send endless new names
            _HEADER_NAMES[key] = name
    return name


__all__ = [
    "ADMIN_PREFIX",
    "MAX_BODY",
    "START_KEY",
    "CutShort",
    "WSGIApp",
    "arrived",
    "drop",
    "emulator",
    "header_name",
    "json_error",
    "status_line",
    "to_response",
    "wait_out",
]
