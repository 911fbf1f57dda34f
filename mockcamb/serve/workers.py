"""Process supervision for ``mockcamb serve``: the stop signals, forked workers sharing one
listening socket, the wait for them, and the orphan watch that stops a worker whose main
process is gone. The servers themselves live in :mod:`.waitress` and :mod:`.granian`."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import NoReturn, Protocol

#: The signals that stop ``mockcamb serve`` and every worker it started.
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
#: How long a server stopped by a signal waits for requests in flight (granian: before it
#: kills a worker; waitress: before it closes their connections).
STOP_TIMEOUT = 10

log = logging.getLogger("mockcamb")


class Serving(Protocol):
    """A server a worker runs: serves until told to stop, from a signal handler."""

    def serve_forever(self) -> None: ...

    def stop_soon(self) -> None: ...


def on_stop_signal(handler: Callable[[], None]) -> None:
    """Call ``handler`` (in the main thread) on SIGTERM and on SIGINT."""

    def _handle(signum: int, frame: FrameType | None) -> None:
        handler()

    for signum in STOP_SIGNALS:
        signal.signal(signum, _handle)


def _stop_this_process() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def start_orphan_watch(stop: Callable[[], None] = _stop_this_process) -> None:
    """In a worker: once the main process is gone (killed outright, so it could not stop its
    workers), call ``stop`` (by default: SIGTERM to this process) rather than serve on alone,
    holding the port. Watches from a daemon thread, once a second."""
    parent = os.getppid()

    def _watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        stop()

    threading.Thread(target=_watch, name="mockcamb-orphan-watch", daemon=True).start()


def serve_here(make: Callable[[], Serving], announce: Callable[[], None]) -> int:
    """Serve ``make()`` in this process until SIGTERM or SIGINT; exit code 0."""
    server = make()
    on_stop_signal(server.stop_soon)
    announce()
    server.serve_forever()
    return 0


def serve_forked(
    make: Callable[[], Serving], workers: int, sock: socket.socket, announce: Callable[[], None]
) -> int:
    """Serve ``make()`` in ``workers`` forked processes that accept on ``sock`` (made
    inheritable); SIGTERM or SIGINT here stops them all. A worker that dies unasked is
    replaced by a new one (one line on stderr), unless it died within :data:`CRASH_LOOP_S` of
    its start: then every worker is stopped. ``announce`` runs once every worker is started.
    Exit code 0 when stopped, 1 after such a crash loop."""
    flock = _Flock(make, sock)
    on_stop_signal(flock.stop)
    for _ in range(workers):
        flock.start_one()
    announce()
    return flock.wait()


#: A worker that dies sooner than this after it started is not replaced (it would only die
#: again: a broken store, a port taken away...); every worker is stopped instead.
CRASH_LOOP_S = 5.0


class _Flock:
    """The forked workers, seen from the main process, which keeps its copy of the listening
    socket open (for the workers it may start later) until it stops."""

    def __init__(self, make: Callable[[], Serving], sock: socket.socket) -> None:
        self.make = make
        self.sock = sock
        self.children: dict[int, float] = {}  # pid -> when it started (monotonic)
        self.stopping = False

    def start_one(self) -> int:
        """Fork one more worker, with the stop signals held until it has its handlers."""
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                _worker(self.make)
            self.children[pid] = time.monotonic()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        return pid

    def stop(self) -> None:
        """Pass SIGTERM on to every worker still running; accept no more connections."""
        self.stopping = True
        with contextlib.suppress(OSError):
            self.sock.close()
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def wait(self) -> int:
        """Reap the workers until none is left, replacing each that dies unasked."""
        failed = False
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries os.wait
                continue
            started = self.children.pop(pid, None)
            if started is None or self.stopping:
                continue
            how = _how_it_ended(status)
            if time.monotonic() - started < CRASH_LOOP_S:
                log.error(
                    "worker %d %s %.1f s after it started; stopping every worker",
                    pid,
                    how,
                    time.monotonic() - started,
                )
                failed = True
                self.stop()
                continue
            log.warning("worker %d %s; started worker %d in its place", pid, how, self.start_one())
        with contextlib.suppress(OSError):
            self.sock.close()
        return 1 if failed else 0


def _how_it_ended(status: int) -> str:
    """``was killed by SIGKILL`` or ``exited with code 3``, from an ``os.wait`` status."""
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _worker(make: Callable[[], Serving]) -> NoReturn:
    """One forked worker: serve ``make()`` until SIGTERM/SIGINT, then exit."""
    box: list[Serving] = []

    def _stop() -> None:
        if box:
            box[0].stop_soon()
        else:
            os._exit(0)

    on_stop_signal(_stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    code = 1
    try:
        start_orphan_watch(_stop)
        box.append(make())
        box[0].serve_forever()
        code = 0
    except BaseException:  # pragma: no cover - reported, then the worker ends
        log.exception("worker %d failed", os.getpid())
    finally:
        sys.stderr.flush()
        os._exit(code)
