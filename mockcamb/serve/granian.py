"""Serving the Flask app on granian, the default server of ``mockcamb serve``.

granian is a production HTTP server written in Rust (hyper and tokio) that runs WSGI apps:
the sockets, HTTP parsing and keep-alive live outside the GIL, and Python only runs the app,
on an elastic pool of blocking threads. BENCHMARKS.md compares it with waitress.

What differs from the waitress server (:mod:`mockcamb.serve.waitress`, still used by the
pytest fixture, ``serve_in_thread`` and ``mockcamb serve --server waitress``):

- granian cannot run in a thread: it forks worker processes and owns the signals.
- WSGI gives no handle on the connection, so the ``drop_connection`` fault answers with an
  empty body under a ``Content-Length`` that promises more: granian then closes the
  connection before the status line or right after the headers (``requests`` raises
  ConnectionError or ChunkedEncodingError). waitress shuts the socket before any byte.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ..http.wsgi import WSGIApp
from .workers import start_orphan_watch

#: The most Python threads per worker; they start on demand and end after 30 s idle. A
#: request sleeping out an injected latency holds one, so this bounds the delayed requests
#: answered at once (the rest wait in granian's queue, not on a thread).
DEFAULT_THREADS = 512
#: granian's read buffer: request line and headers up to this always fit (as on waitress);
#: beyond it (somewhere up to twice as much, as reads fall) the answer is 431.
MAX_HEADER_BYTES = 64 * 1024
#: How long a stopping worker waits for requests in flight before it is killed.
STOP_TIMEOUT = 10

_APP: WSGIApp | None = None  # built in the parent; forked workers inherit it


class _QuietFilter(logging.Filter):
    """Keep granian's own log to what a mockcamb user needs: drop the warning about many
    blocking threads (intended: a sleeping latency holds one) and start-up chatter."""

    _NOISE = ("Configuration allows spawning", "Websockets are not supported")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self._NOISE)


def log_config() -> dict[str, Any]:
    """granian's logging, to stderr, at WARNING, through :class:`_QuietFilter`."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"quiet": {"()": _QuietFilter}},
        "formatters": {"generic": {"format": "mockcamb (granian): [%(levelname)s] %(message)s"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "generic",
                "stream": "ext://sys.stderr",
                "filters": ["quiet"],
            }
        },
        "loggers": {"_granian": {"handlers": ["console"], "propagate": False}},
    }


def numeric_host(host: str) -> str:
    """``host`` as the IP address granian binds (it takes no names such as ``localhost``)."""
    return str(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][4][0])


def _worker_app(build: Callable[[], WSGIApp]) -> WSGIApp:
    """Runs in each worker before it serves: the app, without ``HTTP_*`` variables in the
    environment (granian copies ``os.environ`` into every WSGI environ, where ``HTTP_PROXY``
    would pass for a request header: "httpoxy")."""
    for name in [name for name in os.environ if name.upper().startswith("HTTP_")]:
        del os.environ[name]
    start_orphan_watch()
    return _APP if _APP is not None else build()


def wait_until_listening(host: str, port: int, timeout: float = 20.0) -> bool:
    """True once ``host:port`` accepts a connection, False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.005)
    return False


def serve(
    app: WSGIApp,
    build: Callable[[], WSGIApp],
    *,
    host: str,
    port: int,
    workers: int = 1,
    threads: int = DEFAULT_THREADS,
    on_ready: Callable[[], None] | None = None,
) -> int:
    """Serve ``app`` on granian until SIGTERM or SIGINT; return the exit code (0 when
    stopped by a signal, 1 when a worker died).

    ``app`` is handed to forked workers as is; ``build`` (picklable, e.g. a
    :func:`functools.partial` of a module function) rebuilds it where workers are spawned
    instead of forked (macOS, Python 3.14). ``on_ready`` runs once the port accepts
    connections. The caller checks that the port is free first."""
    from granian.constants import HTTPModes, Interfaces, RuntimeModes
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server as Granian

    global _APP
    _APP = app

    class _Server(Granian):  # type: ignore[misc,valid-type]
        def startup(self, *args: Any, **kwargs: Any) -> None:
            super().startup(*args, **kwargs)
            # Every worker is forked by now: a thread started earlier could hold a lock
            # (import, stderr) across the fork and hang a worker.
            if on_ready is not None:
                threading.Thread(target=_announce, name="mockcamb-ready", daemon=True).start()

    def _announce() -> None:
        if on_ready is not None and wait_until_listening(host, port):
            on_ready()

    server = _Server(
        "mockcamb",  # a label only: the app comes from the loader below
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        http=HTTPModes.http1,
        # the request line and headers must fit (as waitress's 64 KiB); bodies stream past it
        http1_settings=HTTP1Settings(max_buffer_size=MAX_HEADER_BYTES),
        websockets=False,
        runtime_mode=RuntimeModes.st,
        workers=workers,
        blocking_threads=threads,
        backlog=2048,
        log_level=LogLevels.warning,
        log_dictconfig=log_config(),
        workers_kill_timeout=STOP_TIMEOUT,
    )
    try:
        server.serve(target_loader=functools.partial(_worker_app, build), wrap_loader=False)
    except SystemExit as exc:  # granian exits 1 when a worker died
        return exc.code if isinstance(exc.code, int) else 1
    return 0
