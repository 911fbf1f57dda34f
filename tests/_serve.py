"""Run ``mockcamb`` as a user runs it: a real process, real signals, real HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

CMD = [sys.executable, "-m", "mockcamb"]


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CMD, *args], capture_output=True, text=True, timeout=timeout)


@contextmanager
def serve(
    *args: str, env: dict[str, str] | None = None, argv: list[str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``mockcamb serve --port 0 ARGS`` (or the command ``argv``), with ``env`` added
    to the environment, and yield (process, root URL) once it listens."""
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
        match = re.search(r"listening on (http://\S+)/apis", line)
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
            proc.terminate()  # SIGTERM lets the server stop its workers too
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
