"""In-process mode for httpx: requests to the API, sync and async, are answered by an
:class:`Emulator`, with no server and no port. The official CAMB SDKs (``CambAI``,
``AsyncCambAI``) are built on httpx, so code that uses them needs no change.

:func:`intercept` patches httpx at the transport level (``HTTPTransport.handle_request`` and
``AsyncHTTPTransport.handle_async_request``), so every client is covered: one the code under
test builds itself, one built before the intercept started, a proxy's transport (a mount) and
``httpx.get(...)``. Requests under the base URL are answered through the real WSGI app
(:class:`~mockcamb.http.inprocess.InProcessApp`), so routing, faults and answers are those of
``mockcamb serve``; requests to other hosts go on untouched, and any other request to the CAMB
host is refused (:mod:`mockcamb.leaks`). For code that takes an ``httpx_client``,
:func:`transport` and :func:`async_transport` answer everything sent through them.

As over the network: a dropped connection raises ``httpx.RemoteProtocolError`` (what httpx
raises against ``mockcamb serve`` on granian and on waitress), non-JSON and truncated bodies
arrive as the bytes the server sends, and an injected latency is waited out before the answer:
``latency="real"`` (the default) waits in real time even in virtual time; ``"virtual"`` waits
with the caller's own ``time.sleep`` / ``asyncio.sleep``, so under ``mockcamb_virtual_sleep``
the wait moves the virtual clock (and the emulator's) instead. The async transport waits with
``asyncio.sleep``: it never blocks the event loop. A request the app holds unanswered (the
conformance harness's stalls) is waited on for the request's read timeout, with the caller's
sleep, and then raises ``httpx.ReadTimeout``, as on a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, Literal

import httpx

from . import leaks, virtual_time
from .core.emulator import Emulator
from .http.inprocess import Answer, InProcessApp
from .http.wsgi import WSGIApp
from .testing import CAMB_BASE_URL, DEFAULT_API_KEY, MockCamb, build_emulator
from .virtual_time import STALL_SLICE, real_asyncio_sleep, real_sleep

Latency = Literal["real", "virtual"]
LATENCIES: Final[tuple[str, ...]] = ("real", "virtual")

#: What httpx says when a server closes the connection before answering.
DROPPED_MESSAGE: Final = (
    "Server disconnected without sending a response. "
    "(mockcamb: connection dropped by the scenario, an injected fault)"
)


def check_latency(latency: str) -> Latency:
    """``latency`` as a :data:`Latency`; a ``ValueError`` naming the choices otherwise."""
    if latency not in LATENCIES:
        raise ValueError(f"latency: must be 'real' or 'virtual', got {latency!r}")
    return latency  # type: ignore[return-value]


class HttpxMode:
    """Answers httpx requests under ``base_url`` from ``emulator`` through the real WSGI app.

    :meth:`handle` and :meth:`handle_async` turn one ``httpx.Request`` into the response (or
    the exception) the network would give; ``latency`` (``"real"`` or ``"virtual"``) says how
    an injected latency is waited out, and may be changed at any time.
    """

    def __init__(
        self,
        emulator: Emulator,
        base_url: str = CAMB_BASE_URL,
        *,
        latency: Latency = "real",
        middleware: Callable[[WSGIApp], WSGIApp] | None = None,
    ) -> None:
        self.app = InProcessApp(emulator, base_url, defer_latency=True, middleware=middleware)
        self.emulator = emulator
        self.base_url = self.app.base_url
        self.latency: Latency = check_latency(latency)
        url = httpx.URL(self.base_url)
        # Compared with the raw (bytes) parts of each request's URL: cheap, no IDNA decoding.
        self._origin = (url.raw_scheme, url.raw_host.lower(), url.port or _default_port(url.scheme))
        self._path = url.raw_path.split(b"?", 1)[0].rstrip(b"/")

    def __repr__(self) -> str:
        return f"<HttpxMode {self.base_url} latency={self.latency}>"

    def matches(self, url: httpx.URL) -> bool:
        """True for a URL under the base URL (same origin, path at or below its path)."""
        scheme = url.raw_scheme
        port = url.port or (443 if scheme == b"https" else 80)
        if (scheme, url.raw_host.lower(), port) != self._origin:
            return False
        raw = url.raw_path
        if not raw.startswith(self._path):
            return False
        rest = raw[len(self._path) :]
        return not rest or rest[:1] in (b"/", b"?")

    def _answer(self, request: httpx.Request, body: bytes) -> Answer:
        url = request.url
        # The path exactly as it goes on the wire (raw_path), as a server would read it.
        wire = f"{url.scheme}://{self.app.netloc}{url.raw_path.decode('ascii', 'replace')}"
        return self.app.call(request.method, wire, request.headers.multi_items(), body)

    def _response(self, request: httpx.Request, answer: Answer) -> httpx.Response:
        if answer.dropped:
            raise httpx.RemoteProtocolError(DROPPED_MESSAGE, request=request)
        return httpx.Response(
            answer.status_code,
            headers=answer.headers,
            content=answer.body,
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer a request of a sync client (waits out the latency in this thread)."""
        answer = self._answer(request, request.read())
        if answer.delay > 0:
            (time.sleep if self.latency == "virtual" else real_sleep)(answer.delay)
        if answer.stalled:
            timeout, stalls = _stall_begins(request, answer)
            if timeout is None:  # no read timeout: wait as long as the answer is held
                while stalls is not None and stalls.stalled(answer.port):
                    real_sleep(STALL_SLICE)
            else:
                time.sleep(timeout)
                _stall_timed_out(request, answer, stalls)
        return self._response(request, answer)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        """Answer a request of an async client (waits out the latency on the event loop)."""
        answer = self._answer(request, await request.aread())
        if answer.delay > 0:
            sleep = asyncio.sleep if self.latency == "virtual" else real_asyncio_sleep
            await sleep(answer.delay)
        if answer.stalled:
            timeout, stalls = _stall_begins(request, answer)
            if timeout is None:
                while stalls is not None and stalls.stalled(answer.port):
                    await real_asyncio_sleep(STALL_SLICE)
            else:
                await asyncio.sleep(timeout)
                _stall_timed_out(request, answer, stalls)
        return self._response(request, answer)


def _stall_begins(
    request: httpx.Request, answer: Answer
) -> tuple[float | None, virtual_time.Stalls | None]:
    """The read timeout the client waits on a held answer, told to whoever holds it."""
    timeouts = request.extensions.get("timeout") or {}
    read = timeouts.get("read")
    timeout = None if read is None else float(read)
    vt = virtual_time.current()
    stalls = vt.stalls if vt is not None else None
    if stalls is not None:
        stalls.waiting(answer.port, timeout)
    return timeout, stalls


def _stall_timed_out(
    request: httpx.Request, answer: Answer, stalls: virtual_time.Stalls | None
) -> None:
    if stalls is not None:
        stalls.gave_up(answer.port)
    raise httpx.ReadTimeout("timed out", request=request)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


# --- the transports a client can be given --------------------------------------------------


class Transport(httpx.BaseTransport):
    """A sync httpx transport that answers every request sent through it from the emulator."""

    def __init__(self, mode: HttpxMode) -> None:
        self.mode = mode

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.mode.handle(request)


class AsyncTransport(httpx.AsyncBaseTransport):
    """An async httpx transport that answers every request sent through it from the emulator."""

    def __init__(self, mode: HttpxMode) -> None:
        self.mode = mode

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.mode.handle_async(request)


def transport(
    emulator: Emulator, base_url: str = CAMB_BASE_URL, *, latency: Latency = "real"
) -> Transport:
    """``httpx.Client(transport=transport(emu))``: every request through that client is
    answered by ``emu`` (paths are taken as under ``base_url``); nothing is patched."""
    return Transport(HttpxMode(emulator, base_url, latency=latency))


def async_transport(
    emulator: Emulator, base_url: str = CAMB_BASE_URL, *, latency: Latency = "real"
) -> AsyncTransport:
    """``httpx.AsyncClient(transport=async_transport(emu))``: the async twin of
    :func:`transport`."""
    return AsyncTransport(HttpxMode(emulator, base_url, latency=latency))


# --- the patch on httpx's own transports ---------------------------------------------------

_lock = threading.Lock()
_modes: tuple[HttpxMode, ...] = ()  # active intercepts, innermost last; replaced under _lock
_users = 0  # intercepts and guards that need the patch
_original_sync = httpx.HTTPTransport.handle_request
_original_async = httpx.AsyncHTTPTransport.handle_async_request


def _mode_for(url: httpx.URL) -> HttpxMode | None:
    for mode in reversed(_modes):
        if mode.matches(url):
            return mode
    return None


def _handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
    mode = _mode_for(request.url)
    if mode is not None:
        return mode.handle(request)
    leaks.check_url(str(request.url), "httpx")
    return _original_sync(self, request)


async def _handle_async_request(
    self: httpx.AsyncHTTPTransport, request: httpx.Request
) -> httpx.Response:
    mode = _mode_for(request.url)
    if mode is not None:
        return await mode.handle_async(request)
    leaks.check_url(str(request.url), "httpx")
    return await _original_async(self, request)


@contextlib.contextmanager
def patched_transports(mode: HttpxMode | None = None) -> Iterator[None]:
    """Keep httpx's transports patched for the block, answering under ``mode``'s base URL
    (``None``: answer nothing, only refuse what :mod:`mockcamb.leaks` guards)."""
    global _modes, _users
    with _lock:
        _users += 1
        if _users == 1:
            httpx.HTTPTransport.handle_request = _handle_request  # type: ignore[method-assign]
            httpx.AsyncHTTPTransport.handle_async_request = (  # type: ignore[method-assign]
                _handle_async_request
            )
        if mode is not None:
            _modes = (*_modes, mode)
    try:
        yield
    finally:
        with _lock:
            if mode is not None:
                rest = list(_modes)
                rest.remove(mode)
                _modes = tuple(rest)
            _users -= 1
            if _users == 0:
                if httpx.HTTPTransport.handle_request is _handle_request:
                    httpx.HTTPTransport.handle_request = _original_sync  # type: ignore[method-assign]
                if httpx.AsyncHTTPTransport.handle_async_request is _handle_async_request:
                    httpx.AsyncHTTPTransport.handle_async_request = (  # type: ignore[method-assign]
                        _original_async
                    )


@contextlib.contextmanager
def intercept(
    emulator: Emulator | None = None,
    *,
    base_url: str = CAMB_BASE_URL,
    api_key: str = DEFAULT_API_KEY,
    settings: Mapping[str, Any] | None = None,
    latency: Latency = "real",
    middleware: Callable[[WSGIApp], WSGIApp] | None = None,
) -> Iterator[MockCamb]:
    """Answer httpx requests (sync and async) under ``base_url`` in process for the block.

    ``with intercept() as mock:`` gives a :class:`MockCamb` over a fresh manual-clock
    emulator (or ``emulator``, with ``settings`` applied); ``mock.httpx`` is the
    :class:`HttpxMode` (its ``latency`` may be switched). Requests to other hosts pass
    through; other requests to the CAMB host, by any client library, are refused.
    ``middleware`` wraps the app's WSGI callable (it sees every request first).
    """
    emu = emulator if emulator is not None else build_emulator(settings)
    if emulator is not None and settings:
        emu.configure(settings)
    mode = HttpxMode(emu, base_url, latency=latency, middleware=middleware)
    with leaks.guard(mode.base_url, "mockcamb_httpx"), patched_transports(mode):
        yield MockCamb(emu, mode.base_url, api_key, httpx=mode)


__all__ = [
    "DROPPED_MESSAGE",
    "LATENCIES",
    "AsyncTransport",
    "HttpxMode",
    "Latency",
    "Transport",
    "async_transport",
    "check_latency",
    "intercept",
    "patched_transports",
    "transport",
]
