"""The ASGI app ``mockcamb serve`` runs on granian: status GETs answered on the event loop,
every other request handed to the Flask app through a2wsgi.

A status GET (every status route of the route table) is answered here, without a thread:
the same :meth:`Emulator.status <mockcamb.core.emulator.Emulator.status>` call as the WSGI
fast path (auth, state, journal, history), then ``await asyncio.sleep`` for what is left of
an injected latency. A thousand delayed requests are a thousand sleeping coroutines on one
loop, not a thousand threads waking together and queueing for the GIL.

The in-memory store answers in microseconds and never waits on I/O, so its call runs on the
loop itself. Any other store (Redis) does network I/O: its call runs in a thread pool
(``loop.run_in_executor``) and only the wait for the latency stays on the loop.

Everything else (create, result, the admin API, the dashboard, the OpenAPI document,
unknown paths) goes to the unchanged Flask app through :class:`a2wsgi.WSGIMiddleware`, on a
pool of up to ``threads`` threads. README.md, "Which server", says why a2wsgi. A Flask
view's latency is waited out here too: the app's ``MOCKCAMB_DEFER_DELAY`` hook marks the
request's scope with the time its answer may leave, the view returns at once and frees its
thread, and the answer waits on the loop before it is sent.

A dropped connection (the ``drop_connection`` fault): ASGI gives no handle on the socket,
and granian answers 500 to an app that raises or ends before its response starts. What
does drop it: a streamed response whose framing contradicts itself (``Content-Length`` and
``Transfer-Encoding: chunked``). granian's HTTP layer refuses to write it and closes the
connection before a byte of the answer: ``requests`` raises ConnectionError, httpx
RemoteProtocolError, as for a server that went away (``tests/test_asgi.py`` checks it
against a real server). The Flask views reach the same through the app's
``MOCKCAMB_DROP_CONNECTION`` hook, which marks the ASGI scope a2wsgi puts in the environ.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import Executor, Future
from typing import Any, Final, TypeVar

from a2wsgi import WSGIMiddleware
from flask import Flask

from ..core.emulator import Emulator
from ..core.journal import HEADER_SETS_KEPT
from ..core.replies import Reply, json_bytes
from ..core.routes import STATUS_PREFIXES
from ..stores.base import StoreUnavailable, unavailable_reply
from .wsgi import WSGIApp

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = tuple[tuple[str, str], ...]

#: ASGI scope key the drop hook sets: the client must see a dropped connection.
DROPPED_KEY: Final = "mockcamb.dropped"
#: ASGI scope key the delay hook sets: the ``perf_counter`` time the answer may leave.
SEND_AT_KEY: Final = "mockcamb.send_at"
#: The response start of a dropped answer: framed two ways at once, so it is never written.
_UNFRAMEABLE: Final = [(b"content-length", b"1048576"), (b"transfer-encoding", b"chunked")]
#: Request headers the WSGI fast path never sees as ``HTTP_*`` (CONTENT_TYPE/LENGTH instead).
_NOT_HTTP: Final = frozenset({"content-type", "content-length"})
_JSON: Final = b"application/json"

_clock = time.perf_counter  # the real clock: a client's virtual time never shortens latency
log = logging.getLogger("mockcamb")


def mark_dropped(environ: dict[str, Any]) -> bool:
    """``MOCKCAMB_DROP_CONNECTION`` under a2wsgi: mark the request's ASGI scope (a2wsgi
    puts it in the environ) so that :class:`LoopApp` cuts the answer short; ``False`` when
    the request did not come through a2wsgi."""
    scope = environ.get("asgi.scope")
    if not isinstance(scope, MutableMapping):
        return False
    scope[DROPPED_KEY] = True
    return True


def defer_delay(environ: dict[str, Any], seconds: float) -> bool:
    """``MOCKCAMB_DEFER_DELAY`` under a2wsgi: the answer leaves ``seconds`` from now,
    waited out on the loop (:class:`LoopApp`); ``False`` when the request did not come
    through a2wsgi (the view then sleeps)."""
    scope = environ.get("asgi.scope")
    if not isinstance(scope, MutableMapping):
        return False
    scope[SEND_AT_KEY] = _clock() + seconds
    return True


_HEADER_NAMES: dict[bytes, str] = {}


def _header_name(raw: bytes) -> str:
    """``b"x-api-key"`` -> ``X-Api-Key``, the name the WSGI fast path gives the header
    (``HTTP_X_API_KEY``: underscores read as dashes), remembered for a few hundred names."""
    name = _HEADER_NAMES.get(raw)
    if name is None:
        name = raw.decode("latin-1").replace("_", "-").title()
        if len(_HEADER_NAMES) < 512:  # hostile clients may send endless new names
            _HEADER_NAMES[raw] = name
    return name


@functools.lru_cache(maxsize=HEADER_SETS_KEPT)
def _request(raw: tuple[tuple[bytes, bytes], ...]) -> tuple[str | None, Headers]:
    """The API key and the headers of a request as the WSGI fast path sees them, remembered
    for the last few sets (a client sends the same on each poll; the journal remembers what
    it keeps of them by the same tuple)."""
    headers = _request_headers(raw)
    return headers.get("X-Api-Key"), tuple(headers.items())


def _request_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The request headers as the WSGI fast path sees them: without Content-Type and
    Content-Length, repeated ones joined with commas."""
    out: dict[str, str] = {}
    for name_b, value_b in raw:
        name = _header_name(name_b)
        if name.lower() in _NOT_HTTP:
            continue
        value = value_b.decode("latin-1")
        out[name] = f"{out[name]},{value}" if name in out else value
    return out


async def _sleep_until(when: float) -> None:
    left = when - _clock()
    if left > 0:
        await asyncio.sleep(left)


async def _send_reply(send: Send, reply: Reply, payload: bytes) -> None:
    ctype = reply.content_type
    headers = [
        (b"content-type", _JSON if ctype == "application/json" else ctype.encode("latin-1")),
        (b"content-length", str(len(payload)).encode()),
    ]
    for name, value in reply.headers.items():
        headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": reply.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def send_dropped(send: Send) -> None:
    """Make the server close the connection before any byte of an answer (see the module)."""
    await send({"type": "http.response.start", "status": 200, "headers": _UNFRAMEABLE})
    await send({"type": "http.response.body", "body": b"", "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def input_terminated(app: WSGIApp) -> WSGIApp:
    """``app`` told that its input ends where the request body does (a2wsgi's does): so
    werkzeug reads a chunked body (no Content-Length) instead of taking it as empty, up to
    the app's limit (413 beyond), as it does on granian's WSGI interface."""

    def with_terminated_input(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        environ["wsgi.input_terminated"] = True
        return app(environ, start_response)

    return with_terminated_input


_T = TypeVar("_T")


class DaemonPool(Executor):
    """Up to ``threads`` daemon threads, started as needed and kept: the pool a2wsgi (and
    the shared store's calls) run on. A :class:`~concurrent.futures.ThreadPoolExecutor`'s
    threads are joined when the process exits; a worker stopped while one of a2wsgi's
    threads still waits to hand its answer to the loop (the loop no longer runs) would then
    never exit, and granian kills it after its timeout. A daemon thread does not hold the
    exit; a request under way when the worker stops ends with the process."""

    def __init__(self, threads: int, name: str) -> None:
        self._work: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._idle = threading.Semaphore(0)
        self._threads = 0
        self._most = threads
        self._name = name
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        future: Future[_T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new calls after shutdown")
            self._work.put((future, lambda: fn(*args, **kwargs)))
            if not self._idle.acquire(blocking=False) and self._threads < self._most:
                self._threads += 1
                name = f"{self._name}_{self._threads}"
                threading.Thread(target=self._serve, name=name, daemon=True).start()
        return future

    def _serve(self) -> None:
        while (item := self._work.get()) is not None:
            future, call = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as exc:  # handed to whoever waits on the future
                    future.set_exception(exc)
            del future, call, item
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            for _ in range(self._threads):
                self._work.put(None)


class LoopApp:
    """The ASGI app over a Flask app made by :func:`~mockcamb.http.app.create_app`: status
    GETs on the loop, the rest through a2wsgi on up to ``threads`` threads. It sets the
    app's drop and delay hooks (``MOCKCAMB_DROP_CONNECTION``, ``MOCKCAMB_DEFER_DELAY``)."""

    def __init__(self, app: Flask, *, threads: int = 512) -> None:
        self.emu: Emulator = app.extensions["mockcamb"]
        app.config["MOCKCAMB_DROP_CONNECTION"] = mark_dropped
        app.config["MOCKCAMB_DEFER_DELAY"] = defer_delay
        self.flask = WSGIMiddleware(input_terminated(app), workers=1)  # type: ignore[arg-type]
        self.flask.executor.shutdown(wait=False)  # its pool is replaced (see DaemonPool)
        self.flask.executor = DaemonPool(threads, "WSGI")  # type: ignore[assignment]
        #: Where the emulator's call runs: on the loop (memory) or in this pool (Redis).
        self.store_pool: DaemonPool | None = (
            None if not self.emu.store.shared else DaemonPool(threads, "mockcamb-store")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = _clock()
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            for prefix, family in STATUS_PREFIXES:
                if path.startswith(prefix) and len(path) > len(prefix):
                    await self._status(scope, send, path, path[len(prefix) :], family.name, started)
                    return
        if scope["type"] != "http":  # lifespan (websockets are off): a2wsgi answers it
            await self.flask(scope, receive, send)  # type: ignore[arg-type]
            return

        async def receive_coroutine() -> Message:
            # a2wsgi's threads need a coroutine; granian's receive() is a Rust awaitable
            return await receive()

        async def send_or_drop(message: Message) -> None:
            if message["type"] == "http.response.start":
                send_at = scope.get(SEND_AT_KEY)
                if send_at is not None:  # a latency the view handed over
                    await _sleep_until(send_at)
            if not scope.get(DROPPED_KEY):
                await send(message)
            elif message["type"] == "http.response.start":
                await send_dropped(send)  # and nothing of the answer Flask made

        await self.flask(scope, receive_coroutine, send_or_drop)  # type: ignore[arg-type]

    async def _status(
        self, scope: Scope, send: Send, path: str, task_id: str, kind: str, started: float
    ) -> None:
        key, headers = _request(tuple(scope["headers"]))
        full_path = scope.get("root_path", "") + path
        try:
            if self.store_pool is None:
                reply = self.emu.status(kind, task_id, key, path=full_path, headers=headers)
            else:
                reply = await asyncio.get_running_loop().run_in_executor(
                    self.store_pool,
                    lambda: self.emu.status(kind, task_id, key, path=full_path, headers=headers),
                )
        except StoreUnavailable as exc:  # logged once by the store
            reply = unavailable_reply(exc)
        except Exception as exc:  # pragma: no cover - a bug
            log.exception("internal error in mockcamb")
            body = json_bytes({"detail": f"mockcamb internal error: {type(exc).__name__}"})
            await _send_reply(send, Reply(500, raw=body), body)
            return
        # Everything is ready before the wait, so that little is left to do once it ends.
        payload = b"" if reply.drop else reply.payload()
        if reply.delay > 0:
            await _sleep_until(started + reply.delay)
        if reply.drop:
            await send_dropped(send)
        else:
            await _send_reply(send, reply, payload)


__all__ = [
    "DROPPED_KEY",
    "SEND_AT_KEY",
    "LoopApp",
    "defer_delay",
    "input_terminated",
    "mark_dropped",
    "send_dropped",
]
