"""Serving the Flask app on granian, the default server of ``mockcamb serve``.

granian is a production HTTP server written in Rust (hyper and tokio): the sockets, HTTP
parsing and keep-alive live outside the GIL. With the in-memory store it serves the app
through ASGI, on one event loop per worker (uvloop where installed):
:class:`mockcamb.http.asgi.LoopApp` answers status GETs on the loop (an injected latency is
an ``asyncio.sleep``, not a sleeping thread) and hands every other request to the Flask app
through a2wsgi, on a pool of threads. With a shared store (Redis) it serves the Flask app
through WSGI, on up to ``threads`` blocking threads (:func:`on_the_loop` says why).
BENCHMARKS.md compares it with waitress, with the bare server and with the peers.

What differs from the waitress server (:mod:`mockcamb.serve.waitress`, still used by the
pytest fixture, ``serve_in_thread`` and ``mockcamb serve --server waitress``):

- granian cannot run in a thread: it forks worker processes and owns the signals.
- Neither ASGI nor WSGI gives a handle on the connection. On the loop, the
  ``drop_connection`` fault sends a response start framed two ways at once, which granian
  refuses to write: it closes the connection before any byte (``requests`` raises
  ConnectionError). On WSGI it promises a body it never sends: granian closes the
  connection before the status line or right after the headers (ChunkedEncodingError).
  waitress shuts the socket before any byte.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib.util
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask

from ..http.asgi import LoopApp
from .workers import STOP_SIGNALS, STOP_TIMEOUT, start_orphan_watch

#: The most Python threads per worker; they start on demand. On the loop they run the Flask
#: views, and no injected latency holds one (it is waited out on the loop). On WSGI (a
#: shared store) a request sleeping out its latency holds one, so this bounds the delayed
#: requests answered at once (the rest wait in granian's queue, not on a thread).
DEFAULT_THREADS = 512
#: granian's read buffer: request line and headers up to this always fit (as on waitress);
#: beyond it (somewhere up to twice as much, as reads fall) the answer is 431.
MAX_HEADER_BYTES = 64 * 1024

_APP: Flask | None = None  # built in the parent; forked workers inherit it


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


def _freeze_heap() -> None:
    """Take what lives from start-up on (modules, Flask, preloaded tasks) out of the garbage
    collector's view: a full collection then scans only what serving made since, so it
    never stalls the event loop (and every request asleep on it) for tens of milliseconds.
    Done before the fork, it also keeps those pages shared with the workers. (No collection
    first: start-up leaves little garbage, and a collection would delay the first answer.)"""
    gc.freeze()


def on_the_loop(app: Flask) -> bool:
    """Whether granian serves ``app`` through ASGI, on an event loop: with the in-memory
    store. A shared store (Redis) answers each status GET after a network round trip; on
    the loop that call would need a thread hop each way, which cost a quarter of the
    throughput (BENCHMARKS.md, section 2), so it keeps granian's WSGI interface."""
    return not app.extensions["mockcamb"].store.shared


def _worker_app(build: Callable[[], Flask], threads: int, asgi: bool) -> Any:
    """Runs in each worker before it serves: the app (:class:`LoopApp` over the Flask app
    when ``asgi``, its threads starting here, after the fork; else the Flask app), without
    ``HTTP_*`` variables in the environment (granian's WSGI copies ``os.environ`` into every
    environ, where ``HTTP_PROXY`` would pass for a request header: "httpoxy").

    On the loop, granian installs the worker's signal handlers only after this returns, and
    the loop reacts to them only once it runs: SIGTERM and SIGINT are held until then, so
    that one sent meanwhile (a server stopped as soon as it listens) still stops it."""
    if asgi:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    for name in [name for name in os.environ if name.upper().startswith("HTTP_")]:
        del os.environ[name]
    start_orphan_watch()
    flask = _APP
    if flask is None:  # spawned, not forked: the app is built here, after the parent froze
        flask = build()
        _freeze_heap()
    if not asgi:
        return flask
    # granian made the loop current; its first turn delivers any signal held
    asyncio.get_event_loop().call_soon(signal.pthread_sigmask, signal.SIG_UNBLOCK, STOP_SIGNALS)
    return LoopApp(flask, threads=threads)


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
    app: Flask,
    build: Callable[[], Flask],
    *,
    host: str,
    port: int,
    workers: int = 1,
    threads: int = DEFAULT_THREADS,
    on_ready: Callable[[], None] | None = None,
) -> int:
    """Serve the Flask ``app`` on granian, behind :class:`~mockcamb.http.asgi.LoopApp`,
    until SIGTERM or SIGINT; return the exit code (0 when stopped by a signal, 1 when a
    worker died: on a shared store, only one that died again soon after granian replaced it).
    ``threads``: the most threads per worker for the Flask app.

    ``app`` is handed to forked workers as is; ``build`` (picklable, e.g. a
    :func:`functools.partial` of a module function) rebuilds it where workers are spawned
    instead of forked (macOS, Python 3.14). ``on_ready`` runs once the port accepts
    connections. The caller checks that the port is free first."""
    from granian.constants import HTTPModes, Interfaces, Loops, RuntimeModes
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server as Granian

    global _APP
    _APP = app
    asgi = on_the_loop(app)

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
        # ASGI without the lifespan protocol (nothing to start), or WSGI for a shared store
        interface=Interfaces.ASGINL if asgi else Interfaces.WSGI,
        http=HTTPModes.http1,
        # the request line and headers must fit (as waitress's 64 KiB); bodies stream past it
        http1_settings=HTTP1Settings(max_buffer_size=MAX_HEADER_BYTES),
        websockets=False,
        runtime_mode=RuntimeModes.st,
        workers=workers,
        **({} if asgi else {"blocking_threads": threads}),
        loop=Loops.uvloop if importlib.util.find_spec("uvloop") else Loops.asyncio,
        backlog=2048,
        log_level=LogLevels.warning,
        log_dictconfig=log_config(),
        workers_kill_timeout=STOP_TIMEOUT,
        # on a shared store the state outlives a worker: one that dies is replaced (unless it
        # dies again within 5.5 s of its start: then granian stops, exit code 1); on the
        # memory store its tasks died with it, so the server stops rather than forget them
        respawn_failed_workers=not asgi,
    )
    try:
        _freeze_heap()  # the workers fork from here
        loader = functools.partial(_worker_app, build, threads, asgi)
        server.serve(target_loader=loader, wrap_loader=False)
    except SystemExit as exc:  # granian exits 1 when a worker died
        return exc.code if isinstance(exc.code, int) else 1
    return 0
