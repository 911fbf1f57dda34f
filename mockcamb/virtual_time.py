"""Virtual time for polling clients: ``time.sleep`` moves a clock instead of waiting.

Inside ``with virtual_time(emulator.advance):`` the *current thread* (and any thread attached
with :meth:`VirtualTime.attach`) sees a virtual clock: ``time.sleep(30)`` and
``await asyncio.sleep(30)`` return at once after calling ``advance(30)``, and
``time.monotonic``/``time.time``/``time.perf_counter`` (and their ``_ns`` forms) move by exactly
the seconds slept, so a client's own deadline works in virtual time. Every other thread (the
emulator's server threads, pytest, waitress) keeps real time: the patched functions look up the
calling thread and fall through to the originals.

The module functions are patched while at least one :class:`VirtualTime` is active (or inside
:func:`patched`); code that did ``from time import sleep`` *before* that keeps the original and
is not virtualised, so load clients inside :func:`patched` when that matters. ``datetime.now()``
is not patched (it reads the system clock in C).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = [
    "VirtualTime",
    "current",
    "install",
    "is_installed",
    "is_virtual",
    "patched",
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

_registry_lock = threading.Lock()
# thread ident -> stack of active VirtualTime objects (innermost last)
_active: dict[int, list[VirtualTime]] = {}
_install_count = 0


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
    """

    def __init__(self, advance: Callable[[float], object] | None = None) -> None:
        self._advance = advance
        self._lock = threading.Lock()
        self.elapsed = 0.0
        self.sleeps: list[float] = []
        self._threads: set[int] = set()
        self._base_monotonic = _real_monotonic()
        self._base_time = _real_time()
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


_PATCHES: tuple[tuple[Any, str, Any, Any], ...] = (
    (time, "sleep", _real_sleep, _sleep),
    (time, "monotonic", _real_monotonic, _monotonic),
    (time, "monotonic_ns", _real_monotonic_ns, _monotonic_ns),
    (time, "time", _real_time, _time),
    (time, "time_ns", _real_time_ns, _time_ns),
    (time, "perf_counter", _real_perf_counter, _perf_counter),
    (time, "perf_counter_ns", _real_perf_counter_ns, _perf_counter_ns),
    (asyncio, "sleep", _real_asyncio_sleep, _asyncio_sleep),
)


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
            for module, name, real, fake in _PATCHES:
                if getattr(module, name) is fake:
                    setattr(module, name, real)


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
