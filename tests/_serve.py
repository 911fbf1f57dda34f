"""Run ``mockcamb`` as a user runs it: a real process, real signals, real HTTP."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CMD = [sys.executable, "-m", "mockcamb"]
#: The start-up banner, the root URL in its group 1.
BANNER = r"listening on (http://\S+)/apis"


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CMD, *args], capture_output=True, text=True, timeout=timeout)


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (a server's workers); none where there is no /proc."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@contextmanager
def serve(
    *args: str,
    env: dict[str, str] | None = None,
    argv: list[str] | None = None,
    banner: str = BANNER,
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``mockcamb serve --port 0 ARGS`` (or the command ``argv``), with ``env`` added
    to the environment, and yield (process, root URL) once it prints a line ``banner``
    matches (its group 1 the root URL). Afterwards the server is stopped with SIGTERM; one
    that has not stopped within 15 s is killed, and its workers with it."""
    proc = subprocess.Popen(
        argv or [*CMD, "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stderr is not None
    line = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        match = re.search(banner, line)
        if match:
            break
        if not line and proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {proc.stderr.read()}")
    else:
        proc.kill()
        raise AssertionError("serve printed no banner")
    try:
        yield proc, match.group(1)
    finally:
        if proc.poll() is None:
            workers = children(proc.pid)
            proc.terminate()  # SIGTERM lets the server stop its workers too
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                for pid in [proc.pid, *workers]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
