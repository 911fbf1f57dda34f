"""The status fast path: WSGI middleware that answers status GETs (every status route of the
route table) straight from the emulator, without Flask's request machinery; every other
request goes to Flask. Same replies as the Flask views, several times faster."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from ..core.emulator import Emulator
from ..core.routes import STATUS_PREFIXES
from ..stores.base import StoreUnavailable, unavailable_reply
from .wsgi import START_KEY, CutShort, WSGIApp, arrived, drop, header_name, status_line, wait_out

_JSON_HEADERS = [("Content-Type", "application/json")]


class StatusFastPath:
    """Answers ``GET /apis/<status path>/<task_id>`` itself; hands everything else on."""

    def __init__(self, wsgi_app: WSGIApp, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.emu: Emulator = app.extensions["mockcamb"]

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        arrived(environ)
        if environ.get("REQUEST_METHOD") == "GET":
            path: str = environ.get("PATH_INFO", "")
            for prefix, family in STATUS_PREFIXES:
                if path.startswith(prefix) and len(path) > len(prefix):
                    return self._status(environ, start_response, path, prefix, family.name)
        return self.wsgi_app(environ, start_response)

    def _status(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        path: str,
        prefix: str,
        kind: str,
    ) -> Iterable[bytes]:
        # PEP 3333 hands the path over as latin-1; decode as UTF-8 like werkzeug does.
        path = path.encode("latin-1", "replace").decode("utf-8", "replace")
        headers = [
            (header_name(key), value) for key, value in environ.items() if key[:5] == "HTTP_"
        ]
        try:
            reply = self.emu.status(
                kind,
                path[len(prefix) :],
                environ.get("HTTP_X_API_KEY"),
                path=environ.get("SCRIPT_NAME", "") + path,
                headers=headers,
            )
        except StoreUnavailable as exc:  # logged once by the store
            reply = unavailable_reply(exc)
        # Everything is ready before the wait, so that little is left to do once it ends.
        body: Iterable[bytes]
        if reply.drop:  # cut short where the server cannot shut the socket (see CutShort)
            status, body = "200 OK", CutShort()
            out = [("Content-Type", "application/json"), ("Content-Length", "1048576")]
        else:
            payload = reply.payload()
            status, body = status_line(reply.status_code), [payload]
            out = (
                _JSON_HEADERS
                if reply.content_type == "application/json"
                else [("Content-Type", reply.content_type)]
            ) + [("Content-Length", str(len(payload))), *reply.headers.items()]
        if reply.delay > 0:
            wait_out(self.app.config, reply.delay, environ[START_KEY], environ)
        if reply.drop and drop(self.app.config, environ):  # the socket is shut: no answer
            start_response("500 Internal Server Error", [("Content-Length", "0")])
            return [b""]
        start_response(status, out)
        return body


__all__ = ["StatusFastPath"]
