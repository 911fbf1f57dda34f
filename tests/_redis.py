"""A throwaway ``redis-server`` for the Redis store tests: started once per test run on a
free port, without persistence, and stopped at exit (:func:`redis_url`); or one of a test's
own to kill, stall and restart (:class:`PrivateRedis`). Skips when Redis cannot be had."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
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


class PrivateRedis:
    """A ``redis-server`` of one test's own, on a port it keeps across restarts, to kill
    (SIGKILL), stall (SIGSTOP/SIGCONT) and start again, with its data (``persist``:
    append-only file, fsync on every write) or empty. Skips when Redis cannot be had."""

    def __init__(self, *, persist: bool = True) -> None:
        binary = _binary()
        if binary is None:
            pytest.skip(INSTALL_HINT)
        self.binary = binary
        self.persist = persist
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="mockcamb-redis-private-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, empty: bool = False) -> None:
        """Start the server (again), with the data it had unless ``empty``."""
        if empty:
            shutil.rmtree(self.dir, ignore_errors=True)
            os.makedirs(self.dir)
        keep = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else []
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + (keep or ["--appendonly", "no"]),
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: gone at once, connections reset; the port refuses connections."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def restart(self, *, empty: bool = False) -> None:
        self.kill()
        self.start(empty=empty)

    def stall(self) -> None:
        """SIGSTOP: connections are accepted by the kernel but nothing is answered."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
