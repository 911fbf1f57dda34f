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
    inheritable); SIGTERM or SIGINT here stops them all, and so does one dying. ``announce``
    runs once every worker is started. Exit code 0 when stopped, 1 if a worker died."""
    flock = _Flock()
    on_stop_signal(flock.stop)
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # held until every worker runs
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            _worker(make)
        flock.children.add(pid)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    sock.close()  # every worker holds its own copy now
    announce()
    return flock.wait()


class _Flock:
    """The forked workers, seen from the main process."""

    def __init__(self) -> None:
        self.children: set[int] = set()
        self.stopping = False

    def stop(self) -> None:
        """Pass SIGTERM on to every worker still running."""
        self.stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def wait(self) -> int:
        """Reap the workers until none is left; one that fails unasked stops the others."""
        failed = False
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries os.wait
                continue
            self.children.discard(pid)
            if os.waitstatus_to_exitcode(status) != 0 and not self.stopping:
                failed = True
                self.stop()
        return 1 if failed else 0


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
