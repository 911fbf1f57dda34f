"""One client call in a thread of its own, in virtual time, under a wall-clock watchdog; and
the means to take control back from it (an exception raised inside the thread)."""

from __future__ import annotations

import contextlib
import ctypes
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from ..virtual_time import VirtualTime

#: Real time, captured at import: the watchdog waits in real time even while time is patched.
real_sleep = time.sleep
real_perf = time.perf_counter


class Stop(BaseException):
    """Raised inside a runaway client to take control back (a BaseException, so that a
    client's ``except Exception`` does not swallow it)."""


def inject_stop(ident: int | None) -> None:
    """Raise :class:`Stop` in thread ``ident`` at its next Python instruction."""
    if ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(Stop))


def clear_stop(ident: int) -> None:
    """Drop a :class:`Stop` still pending for thread ``ident``."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)


class Stoppable(Protocol):
    """The run a client thread belongs to, as the stop machinery sees it: stops are sent to
    ``thread`` (and the other threads of its virtual time) under ``lock`` until ``closed``."""

    lock: threading.Lock
    thread: int | None
    closed: bool


@dataclass
class Outcome:
    """How one client call ended: ``returned`` (with ``value``), ``raised`` (``error``),
    ``stopped`` by a :class:`Stop`, or ``hung`` (abandoned by the watchdog)."""

    kind: str = "stopped"
    value: Any = None
    error: BaseException | None = None
    traceback: str = ""


def call_in_thread(
    call: Callable[[], Any],
    run: Stoppable,
    vt: VirtualTime,
    *,
    name: str,
    wall_timeout: float,
    on_timeout: Callable[[], object],
) -> Outcome:
    """Run ``call`` in a daemon thread in the virtual time ``vt`` (whose sleeps go to the
    run's budget), and the threads the client starts or hands work to with it.

    After ``wall_timeout`` real seconds ``on_timeout`` is called (it stops the client) and the
    thread gets a little longer; a thread still alive then is left behind as ``hung``. Threads
    of the client still running when the call ends go back to real time."""
    with _quiet_stops():
        outcome = Outcome()
        started = threading.Event()
        thread = threading.Thread(
            target=_work, args=(call, run, vt, started, outcome), name=name, daemon=True
        )
        thread.start()
        started.wait()
        thread.join(wall_timeout)
        if thread.is_alive():
            on_timeout()
            thread.join(min(2.0, wall_timeout))
        with run.lock:
            run.closed = True
        # helper threads still running (a library's background thread, say) go back to real
        # time; a client thread left behind stays, so that its next sleep stops it
        vt.release_all(keep=frozenset({thread.ident or 0}))
        if thread.is_alive():  # blocked in C, or swallowing every stop: leave it behind
            outcome.kind = "hung"
        return outcome


@contextlib.contextmanager
def _quiet_stops() -> Iterator[None]:
    """A thread of the client ended by a :class:`Stop` is no error to report."""
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not None and issubclass(args.exc_type, Stop):
            return
        previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        if threading.excepthook is hook:
            threading.excepthook = previous


def _work(
    call: Callable[[], Any],
    run: Stoppable,
    vt: VirtualTime,
    started: threading.Event,
    outcome: Outcome,
) -> None:
    """The client thread: call the client, record how it ended, then take no more stops."""
    ident = threading.get_ident()
    vt.attach()
    run.thread = ident
    started.set()
    try:
        try:
            outcome.value = call()
            outcome.kind = "returned"
        except Stop:
            outcome.kind = "stopped"
        except BaseException as exc:  # the client's own failure, whatever it is
            outcome.kind = "raised"
            outcome.error = exc
            outcome.traceback = traceback.format_exc()
        with run.lock:
            run.closed = True  # no more stops for this thread...
        clear_stop(ident)  # ...and none pending
    except Stop:  # a stop that arrived after the client was done
        clear_stop(ident)
    finally:
        vt.detach(ident)
