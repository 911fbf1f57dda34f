"""Serving the Flask app over HTTP on waitress, in the foreground or in a background thread.

:func:`serve_emulator` is how an emulator is put behind a server in this process
(``mockcamb.testing.serve_in_thread``, hence the pytest fixture and the contract suite)."""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server

from ..core.emulator import Emulator
from ..http.app import create_app
from ..http.wsgi import MAX_BODY, WSGIApp
from .ports import check_port_free
from .threaded import ThreadedServer
from .workers import STOP_TIMEOUT

DEFAULT_THREADS = 64
#: The most threads the pool grows to while injected latencies sleep.
MAX_THREADS = 2048
#: Threads kept free for other requests on top of those sleeping out a latency.
POOL_HEADROOM = 16
_real_sleep = time.sleep  # captured at import: a patched (virtual) sleep never shortens latency
log = logging.getLogger("mockcamb")
# waitress warns at every queued task while the elastic pool grows: noise, not news.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


class Server(ThreadedServer):
    """The emulator's HTTP server (waitress): bind at once, then serve here or in a thread.

    With ``sock`` (from :func:`listen_socket`) it serves on that socket instead of binding
    ``host:port``: several worker processes can then accept on one port."""

    def __init__(
        self,
        app: Flask,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = DEFAULT_THREADS,
        *,
        sock: socket.socket | None = None,
    ) -> None:
        where: dict[str, Any]
        if sock is None:
            check_port_free(host, port)
            where = {"host": host, "port": port}
        else:
            host = str(sock.getsockname()[0])
            where = {"sockets": [sock]}
        self.app = app
        server = create_server(
            app,
            **where,
            threads=threads,
            ident="mockcamb",
            backlog=2048,
            connection_limit=4096,
            channel_timeout=120,
            # above Flask's limit, so oversized bodies get Flask's JSON 413, not waitress's text
            max_request_body_size=2 * MAX_BODY,
            max_request_header_size=64 * 1024,
            asyncore_use_poll=True,
            clear_untrusted_proxy_headers=True,
        )
        self._init_serving(server, host)
        app.config["MOCKCAMB_DROP_CONNECTION"] = self._drop_connection
        app.config["MOCKCAMB_DELAY"] = self._delay
        self._threads = threads
        self._pool_size = threads
        self._sleepers = 0
        self._pool_lock = threading.Lock()

    def _delay(self, seconds: float) -> None:
        """Sleep out an injected latency without holding a worker others need: the pool
        grows so that at least ``POOL_HEADROOM`` threads are free (up to ``MAX_THREADS``).
        It keeps its high-water mark: shrinking between bursts left the next burst queued
        behind a pool that had to grow again one request at a time (idle threads cost only
        memory)."""
        with self._pool_lock:
            self._sleepers += 1
            want = min(MAX_THREADS, max(self._threads, self._sleepers + POOL_HEADROOM))
            if want > self._pool_size:
                self._server.task_dispatcher.set_thread_count(want)
                self._pool_size = want
        try:
            _real_sleep(seconds)
        finally:
            with self._pool_lock:
                self._sleepers -= 1

    def _drop_connection(self, environ: dict[str, Any]) -> bool:
        """Shut the socket of the request in ``environ``: the client gets no answer at all."""
        peer = (environ.get("REMOTE_ADDR"), environ.get("REMOTE_PORT"))
        for channel in list(self._server._map.values()):
            addr = getattr(channel, "addr", None)
            if isinstance(addr, tuple) and (addr[0], str(addr[1])) == peer:
                with contextlib.suppress(OSError):
                    channel.socket.shutdown(socket.SHUT_RDWR)
                return True
        return False

    @property
    def base_url(self) -> str:
        """The API base a client is given, ending in ``/apis``."""
        return f"{self.url}/apis"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close idle keep-alive connections at once, let requests in flight
        finish (up to ``timeout`` seconds; each answered with ``Connection: close`` when its
        headers are not out yet, and no further request read on its connection), then close
        every connection and wait for the loop to end. Safe from any thread."""
        if self._stopped.is_set() or self._stopping.is_set():
            return
        self._stopping.set()
        server = self._server
        deadline = time.monotonic() + timeout
        busy = -1
        try:
            first = True
            while busy != 0 and time.monotonic() < deadline:
                swept = threading.Event()
                counted: list[int] = []
                server.trigger.pull_trigger(
                    functools.partial(_sweep, server, first, counted, swept)
                )
                first = False
                if not swept.wait(max(0.0, deadline - time.monotonic())):
                    break
                busy = counted[0]
                if busy:
                    time.sleep(0.01)
            if busy > 0:
                log.warning(
                    "stopped waiting for %d request(s) in flight after %g s", busy, timeout
                )
            server.trigger.pull_trigger(functools.partial(_close_all, server))
        except OSError:  # the loop is gone already
            _close_all(server)
        if self._thread is not None:
            self._thread.join(timeout)

    def stop_soon(self) -> None:
        """Begin :meth:`stop` (with :data:`STOP_TIMEOUT`) in another thread, for signal
        handlers in the serving thread."""
        threading.Thread(
            target=self.stop, args=(STOP_TIMEOUT,), name="mockcamb-stop", daemon=True
        ).start()

    def __enter__(self) -> Server:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _never() -> bool:
    return False


def _sweep(server: Any, first: bool, counted: list[int], swept: threading.Event) -> None:
    """In the server's loop thread, while stopping: (the first time) close the listening
    socket; close every connection with no request received and nothing left to send (an idle
    keep-alive connection: the client retries on a new one); on the others, answer the
    requests received with ``Connection: close`` and read no more. Counts those in
    ``counted``, then sets ``swept``."""
    try:
        if first:
            with contextlib.suppress(OSError):
                wasyncore.dispatcher.close(server)  # the listening socket only, not the trigger
        busy = 0
        for channel in list(server._map.values()):
            if not isinstance(channel, HTTPChannel):
                continue
            if channel.requests or channel.total_outbufs_len:
                busy += 1
                channel.readable = _never
                for request in list(channel.requests):
                    request.headers["CONNECTION"] = "close"
            else:
                channel.handle_close()
        counted.append(busy)
    finally:
        swept.set()


def _close_all(server: Any) -> None:
    """Close every connection (as waitress does: under its output lock, so that a request
    still writing sees a closed client, not a closed file), the listener and the trigger."""
    for dispatcher in list(server._map.values()):
        with contextlib.suppress(Exception):
            if isinstance(dispatcher, HTTPChannel):
                dispatcher.handle_close()
            else:
                dispatcher.close()


def serve_emulator(
    emulator: Emulator,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    admin_token: str | None = None,
    threads: int = DEFAULT_THREADS,
    middleware: Callable[[WSGIApp], WSGIApp] | None = None,
) -> Server:
    """A :class:`Server` for ``emulator``'s app, bound to ``host:port`` (0: a free port) but
    not serving yet: call :meth:`Server.start`, or use it as a context manager (which starts
    it and stops it). ``middleware`` wraps ``app.wsgi_app``: the server still serves the Flask
    app, on which it sets its hooks (drop a connection, sleep out a latency)."""
    app = create_app(emulator, admin_token=admin_token)
    if middleware is not None:
        app.wsgi_app = middleware(app.wsgi_app)  # type: ignore[method-assign,assignment]
    return Server(app, host, port, threads)
