"""A throwaway ``redis-server`` for the Redis store tests: started once per test run on a
free port, without persistence, and stopped at exit. Skips when Redis cannot be had."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

INSTALL_HINT = (
    "redis-server is not installed; install it (Debian/Ubuntu: apt-get install -y "
    "redis-server) to run the Redis store tests"
)
_url: str | None = None
_skip: str | None = None


def _binary() -> str | None:
    path = shutil.which("redis-server")
    if path is None and os.geteuid() == 0 and os.environ.get("CI") == "true":
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "redis-server"]):
            subprocess.run(cmd, env=env, capture_output=True, timeout=600, check=False)
        path = shutil.which("redis-server")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_url() -> str:
    """``redis://127.0.0.1:PORT/0`` of the test run's server (started on first use)."""
    global _url, _skip
    if _url is not None:
        return _url
    if _skip is not None:
        pytest.skip(_skip)
    binary = _binary()
    if binary is None:
        _skip = INSTALL_HINT
        pytest.skip(_skip)
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="mockcamb-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def _stop() -> None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(_stop)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    _url = f"redis://127.0.0.1:{port}/0"
                    return _url
        except OSError:
            time.sleep(0.05)
    _skip = f"redis-server did not start on port {port}"
    pytest.skip(_skip)
