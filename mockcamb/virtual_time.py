"""Virtual time for polling clients: ``time.sleep`` moves a clock instead of waiting.

Inside ``with virtual_time(emulator.advance):`` the *current thread* (and any thread attached
with :meth:`VirtualTime.attach`) sees a virtual clock: ``time.sleep(30)`` and
``await asyncio.sleep(30)`` return at once after calling ``advance(30)``, and
``time.monotonic``/``time.time``/``time.perf_counter`` (and their ``_ns`` forms) move by exactly
the seconds slept, so a client's own deadline works in virtual time. Every other thread (the
emulator's server threads, pytest, waitress) keeps real time: the patched functions look up the
calling thread and fall through to the originals.

With ``follow_threads=True`` the clock also follows the client's work into other threads: a
thread it starts (``threading.Thread.start``) runs in the same virtual time for its whole life,
and a callable it hands to a ``ThreadPoolExecutor`` (``submit``, ``map``,
``loop.run_in_executor``, ``asyncio.to_thread``) runs in it for the duration of the call. All of
them share one clock: a sleep in any of them moves it for all.

With ``stalls`` (see :class:`Stalls`) a server that holds a request unanswered can be waited out
in virtual time: a blocking read of that answer (``socket.recv``/``recv_into``, which
``requests``, ``urllib3``, ``http.client`` and ``httpx`` use) waits the socket's timeout in
virtual time and raises ``TimeoutError`` as the real read would, and an asyncio event loop
waiting on that socket moves the clock to its next timer (where ``asyncio.timeout``,
``wait_for`` and httpx/anyio deadlines live). A read with no timeout is reported to
:meth:`Stalls.waiting` with ``None``, which may stop the client.

The module functions are patched while at least one :class:`VirtualTime` is active (or inside
:func:`patched`); code that did ``from time import sleep`` *before* that keeps the original and
is not virtualised, so load clients inside :func:`patched` when that matters. ``datetime.now()``
is not patched (it reads the system clock in C), nor are timed waits on locks, events,
conditions and queues (``Event.wait(5)``, ``Queue.get(timeout=5)``), which wait in real time.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import select
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

__all__ = [
    "Stalls",
    "VirtualTime",
    "current",
    "install",
    "is_installed",
    "is_virtual",
    "patched",
    "real_asyncio_sleep",
    "real_sleep",
    "uninstall",
    "virtual_time",
]

T = TypeVar("T")

# The real functions, captured before anything is patched.
_real_sleep = time.sleep
_real_monotonic = time.monotonic
_real_monotonic_ns = time.monotonic_ns
_real_time = time.time
_real_time_ns = time.time_ns
_real_perf_counter = time.perf_counter
_real_perf_counter_ns = time.perf_counter_ns
_real_asyncio_sleep = asyncio.sleep
_real_thread_start = threading.Thread.start
_real_submit = ThreadPoolExecutor.submit
_real_recv = socket.socket.recv
_real_recv_into = socket.socket.recv_into
_SELECTORS: tuple[type[selectors.BaseSelector], ...] = tuple(
    getattr(selectors, name)
    for name in (
        "SelectSelector",
        "PollSelector",
        "EpollSelector",
        "DevpollSelector",
        "KqueueSelector",
    )
    if hasattr(selectors, name)
)
#: Real seconds a read or an event loop waits at a time while a stall may be in progress.
STALL_SLICE = 0.005

#: The real ``time.sleep`` and ``asyncio.sleep``, whatever is patched when they are called:
#: for waits that must take real time even in a thread that runs in virtual time.
real_sleep = _real_sleep
real_asyncio_sleep = _real_asyncio_sleep

_registry_lock = threading.Lock()
# thread ident -> stack of active VirtualTime objects (innermost last)
_active: dict[int, list[VirtualTime]] = {}
_install_count = 0
_local = threading.local()  # .submitting: inside ThreadPoolExecutor.submit on this thread


class Stalls(Protocol):
    """What a server holding requests unanswered tells the virtual clock (see the module
    docstring). A request is known by the client's local port (its connection)."""

    def active(self) -> bool:
        """True while any request of the client is held unanswered."""

    def stalled(self, port: int) -> bool:
        """True while a request sent from local port ``port`` is held unanswered."""

    def waiting(self, port: int, timeout: float | None) -> None:
        """The client is about to wait up to ``timeout`` seconds (``None``: for ever) for the
        answer to that request; raise to stop it."""

    def gave_up(self, port: int) -> None:
        """The client's read of that answer timed out (after the virtual wait)."""


def current() -> VirtualTime | None:
    """The :class:`VirtualTime` governing the calling thread, or ``None`` (real time)."""
    stack = _active.get(threading.get_ident())
    return stack[-1] if stack else None


def is_virtual() -> bool:
    """True when the calling thread runs in virtual time."""
    return current() is not None


def _check_seconds(seconds: Any) -> float:
    """Validate like :func:`time.sleep` does: a real number, not negative, not NaN."""
    kind = type(seconds)
    if not isinstance(seconds, (int, float)) and not (
        hasattr(kind, "__float__") or hasattr(kind, "__index__")
    ):
        raise TypeError(f"'{kind.__name__}' object cannot be interpreted as an integer")
    value = float(seconds)
    if math.isnan(value):
        raise ValueError("Invalid value NaN (not a number)")
    if value < 0:
        raise ValueError("sleep length must be non-negative")
    return value


class VirtualTime:
    """A virtual clock for the threads that enter or attach to it.

    ``advance(seconds)`` is called for every virtual sleep, in the sleeping thread, before the
    sleep returns (e.g. ``Emulator.advance`` or ``ManualClock.advance``); whatever it raises
    propagates out of ``time.sleep``, which is how a harness can stop a runaway client.
    ``elapsed`` is the total virtual seconds slept; ``sleeps`` lists each sleep.

    ``epoch`` is what ``time.time()`` reads before any sleep (default: the real time now):
    give the emulator's :func:`~mockcamb.core.faults.http_now` so that a client's own clock
    agrees with the HTTP dates it is sent. ``follow_threads`` and ``stalls``: see the module
    docstring.
    """

    def __init__(
        self,
        advance: Callable[[float], object] | None = None,
        *,
        epoch: float | None = None,
        follow_threads: bool = False,
        stalls: Stalls | None = None,
    ) -> None:
        self._advance = advance
        self._lock = threading.Lock()
        self.elapsed = 0.0
        self.sleeps: list[float] = []
        self._threads: set[int] = set()
        self.follow_threads = follow_threads
        self.stalls = stalls
        self._base_monotonic = _real_monotonic()
        self._base_time = _real_time() if epoch is None else float(epoch)
        self._base_perf = _real_perf_counter()

    # --- the virtual clock --------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        """Advance virtual time by ``seconds`` without waiting (validated like time.sleep)."""
        value = _check_seconds(seconds)
        if self._advance is not None:
            self._advance(value)
        with self._lock:
            self.elapsed += value
            self.sleeps.append(value)

    def monotonic(self) -> float:
        return self._base_monotonic + self.elapsed

    def time(self) -> float:
        return self._base_time + self.elapsed

    def perf_counter(self) -> float:
        return self._base_perf + self.elapsed

    # --- which threads see it -----------------------------------------------------------

    def attach(self, ident: int | None = None) -> None:
        """Make thread ``ident`` (default: the calling thread) run in this virtual time."""
        tid = threading.get_ident() if ident is None else ident
        with _registry_lock:
            _active.setdefault(tid, []).append(self)
            self._threads.add(tid)

    def detach(self, ident: int | None = None) -> None:
        """Give thread ``ident`` (default: the calling thread) its real time back."""
        tid = threading.get_ident() if ident is None else ident
        with _registry_lock:
            stack = _active.get(tid, [])
            if self in stack:
                # remove the innermost occurrence
                for i in range(len(stack) - 1, -1, -1):
                    if stack[i] is self:
                        del stack[i]
                        break
            if not stack:
                _active.pop(tid, None)
            if self not in stack:
                self._threads.discard(tid)

    def threads(self) -> frozenset[int]:
        """The threads running in this virtual time now."""
        with _registry_lock:
            return frozenset(self._threads)

    def release_all(self, keep: frozenset[int] = frozenset()) -> None:
        """Give every thread still attached but those in ``keep`` its real time back (e.g.
        threads a client started and left running once its call is over)."""
        for tid in self.threads() - keep:
            while True:
                with _registry_lock:
                    if self not in _active.get(tid, []):
                        break
                self.detach(tid)

    def bind(self, func: Callable[..., T]) -> Callable[..., T]:
        """``func`` wrapped to run in this virtual time in whichever thread calls it."""

        @functools.wraps(func)
        def bound(*args: Any, **kwargs: Any) -> T:
            self.attach()
            try:
                return func(*args, **kwargs)
            finally:
                self.detach()

        return bound

    # --- a stalled answer ---------------------------------------------------------------

    def before_read(self, sock: socket.socket) -> None:
        """Called before a blocking read of ``sock`` in this virtual time (with ``stalls``):
        wait, in real time, until it is readable; if the server holds the answer, wait the
        socket's timeout in virtual time instead and raise ``TimeoutError``."""
        stalls = self.stalls
        timeout = sock.gettimeout()
        if stalls is None or (timeout is not None and timeout <= 0):
            return
        port = _local_port(sock)
        if port is None:
            return
        started = _real_monotonic()
        told = False
        while not _readable(sock, STALL_SLICE):
            if stalls.stalled(port):
                if not told:
                    told = True
                    stalls.waiting(port, timeout)
                if timeout is not None:
                    self.sleep(timeout)
                    stalls.gave_up(port)
                    raise TimeoutError("timed out")
            elif timeout is not None and _real_monotonic() - started >= timeout:
                raise TimeoutError("timed out")

    def select(
        self,
        selector: selectors.BaseSelector,
        real: Callable[[selectors.BaseSelector, float | None], Any],
        timeout: float | None,
    ) -> Any:
        """An event loop's wait (``selector.select(timeout)``) in this virtual time while a
        stall is in progress: if it waits on a held answer, move the clock to the loop's next
        timer (``timeout``) instead of waiting."""
        stalls = self.stalls
        if stalls is None or (timeout is not None and timeout <= 0):
            return real(selector, timeout)
        # in slices: the server may begin to hold a request while the loop waits
        deadline = None if timeout is None else _real_monotonic() + timeout
        told: set[int] = set()
        while True:
            left = STALL_SLICE if deadline is None else deadline - _real_monotonic()
            ready = real(selector, max(0.0, min(STALL_SLICE, left)))
            if ready:
                return ready
            if stalls.active():
                held = [p for p in _selector_ports(selector) if stalls.stalled(p)]
                for port in held:
                    if port not in told:
                        told.add(port)
                        stalls.waiting(port, timeout)
                if held and timeout is not None:
                    self.sleep(timeout)
                    return ready
            if deadline is not None and _real_monotonic() >= deadline:
                return ready

    def __enter__(self) -> VirtualTime:
        install()
        self.attach()
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()
        uninstall()

    def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call ``func(*args, **kwargs)`` in virtual time on the calling thread."""
        with self:
            return func(*args, **kwargs)


def virtual_time(advance: Callable[[float], object] | None = None) -> VirtualTime:
    """``with virtual_time(emulator.advance) as vt:`` runs the block in virtual time.

    The calling thread's ``time.sleep``/``asyncio.sleep`` call ``advance(seconds)`` and return
    at once; its ``time.monotonic``/``time.time``/``time.perf_counter`` move by the seconds
    slept. Other threads keep real time. ``vt.elapsed`` is the virtual time slept.
    """
    return VirtualTime(advance)


# --- the patched functions: virtual for registered threads, real for all others --------


def _sleep(seconds: float) -> None:
    vt = current()
    if vt is None:
        _real_sleep(seconds)
    else:
        vt.sleep(seconds)


def _monotonic() -> float:
    vt = current()
    return _real_monotonic() if vt is None else vt.monotonic()


def _monotonic_ns() -> int:
    vt = current()
    return _real_monotonic_ns() if vt is None else int(vt.monotonic() * 1e9)


def _time() -> float:
    vt = current()
    return _real_time() if vt is None else vt.time()


def _time_ns() -> int:
    vt = current()
    return _real_time_ns() if vt is None else int(vt.time() * 1e9)


def _perf_counter() -> float:
    vt = current()
    return _real_perf_counter() if vt is None else vt.perf_counter()


def _perf_counter_ns() -> int:
    vt = current()
    return _real_perf_counter_ns() if vt is None else int(vt.perf_counter() * 1e9)


async def _asyncio_sleep(delay: float, result: T | None = None) -> T | None:
    vt = current()
    if vt is None:
        return await _real_asyncio_sleep(delay, result)
    vt.sleep(delay)
    await _real_asyncio_sleep(0)
    return result


def _thread_start(self: threading.Thread) -> None:
    vt = current()
    if vt is not None and vt.follow_threads and not getattr(_local, "submitting", 0):
        self.run = vt.bind(self.run)  # type: ignore[method-assign]
    _real_thread_start(self)


def _submit(
    self: ThreadPoolExecutor, fn: Callable[..., T], /, *args: Any, **kwargs: Any
) -> Future[T]:
    vt = current()
    if vt is None or not vt.follow_threads:
        return _real_submit(self, fn, *args, **kwargs)
    # the pool's worker threads outlive the call: only the call runs in virtual time
    _local.submitting = getattr(_local, "submitting", 0) + 1
    try:
        return _real_submit(self, vt.bind(fn), *args, **kwargs)
    finally:
        _local.submitting -= 1


def _recv(self: socket.socket, *args: Any, **kwargs: Any) -> bytes:
    vt = current()
    if vt is not None and vt.stalls is not None:
        vt.before_read(self)
    return _real_recv(self, *args, **kwargs)


def _recv_into(self: socket.socket, *args: Any, **kwargs: Any) -> int:
    vt = current()
    if vt is not None and vt.stalls is not None:
        vt.before_read(self)
    return _real_recv_into(self, *args, **kwargs)


def _virtual_select(
    real: Callable[[selectors.BaseSelector, float | None], Any],
) -> Callable[..., Any]:
    @functools.wraps(real)
    def select(self: selectors.BaseSelector, timeout: float | None = None) -> Any:
        vt = current()
        if vt is None or vt.stalls is None:
            return real(self, timeout)
        return vt.select(self, real, timeout)

    return select


def _readable(sock: socket.socket, seconds: float) -> bool:
    """True when ``sock`` has data (or an error or EOF) within ``seconds`` of real time."""
    try:
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
        return bool(poller.poll(seconds * 1000.0))
    except (OSError, ValueError):  # closed: let the real read say what is wrong
        return True


def _local_port(sock: socket.socket) -> int | None:
    try:
        name = sock.getsockname()
    except OSError:
        return None
    return name[1] if isinstance(name, tuple) and len(name) >= 2 else None


def _selector_ports(selector: selectors.BaseSelector) -> list[int]:
    """The local ports of the TCP sockets ``selector`` watches."""
    ports = []
    for key in list(selector.get_map().values()):
        obj = key.fileobj
        port = _local_port(obj) if isinstance(obj, socket.socket) else _fd_port(key.fd)
        if port is not None:
            ports.append(port)
    return ports


def _fd_port(fd: int) -> int | None:
    try:
        dup = os.dup(fd)
    except OSError:
        return None
    try:
        sock = socket.socket(fileno=dup)
    except OSError:  # not a socket
        os.close(dup)
        return None
    with sock:
        return _local_port(sock)


_PATCHES: tuple[tuple[Any, str, Any, Any], ...] = (
    (time, "sleep", _real_sleep, _sleep),
    (time, "monotonic", _real_monotonic, _monotonic),
    (time, "monotonic_ns", _real_monotonic_ns, _monotonic_ns),
    (time, "time", _real_time, _time),
    (time, "time_ns", _real_time_ns, _time_ns),
    (time, "perf_counter", _real_perf_counter, _perf_counter),
    (time, "perf_counter_ns", _real_perf_counter_ns, _perf_counter_ns),
    (asyncio, "sleep", _real_asyncio_sleep, _asyncio_sleep),
    (threading.Thread, "start", _real_thread_start, _thread_start),
    (ThreadPoolExecutor, "submit", _real_submit, _submit),
    (socket.socket, "recv", _real_recv, _recv),
    (socket.socket, "recv_into", _real_recv_into, _recv_into),
    *((cls, "select", cls.select, _virtual_select(cls.select)) for cls in _SELECTORS),
)
#: The patched names each class defined itself (the others are inherited: deleted, not set,
#: when the real ones come back).
_OWN = frozenset((id(owner), name) for owner, name, _r, _f in _PATCHES if name in vars(owner))


def install() -> None:
    """Put the thread-dispatching functions in place (reference-counted; see uninstall)."""
    global _install_count
    with _registry_lock:
        _install_count += 1
        if _install_count == 1:
            for module, name, _real, fake in _PATCHES:
                setattr(module, name, fake)


def uninstall() -> None:
    """Undo one :func:`install`; the last one restores the real functions (unless someone
    else has replaced them in the meantime, e.g. a test's monkeypatch)."""
    global _install_count
    with _registry_lock:
        if _install_count == 0:
            return
        _install_count -= 1
        if _install_count == 0:
            for owner, name, real, fake in _PATCHES:
                if getattr(owner, name) is fake:
                    if isinstance(owner, type) and (id(owner), name) not in _OWN:
                        delattr(owner, name)
                    else:
                        setattr(owner, name, real)


def is_installed() -> bool:
    """True while the time functions are patched."""
    return _install_count > 0


@contextmanager
def patched() -> Iterator[None]:
    """Keep the patches installed for the block, e.g. while importing a client module so that
    its ``from time import sleep`` captures the virtualisable function."""
    install()
    try:
        yield
    finally:
        uninstall()
