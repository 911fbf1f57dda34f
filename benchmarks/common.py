"""Shared helpers for the benchmark and soak scripts: processes, wrk, RSS, machine facts.

Everything here talks to 127.0.0.1 only and every load run is bounded in time.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
API_KEY = "bench-key-0123456789"


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def http_get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    """One GET on a fresh connection; (status, body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def http_json(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, Any]:
    """One JSON request on a fresh connection; (status, decoded body or None)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"content-type": "application/json", **(headers or {})}
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, None
    finally:
        conn.close()


def wait_until_answers(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> float:
    """Poll until ``path`` answers anything over HTTP; seconds waited. Raises on timeout."""
    start = time.perf_counter()
    deadline = start + timeout
    while True:
        try:
            http_get(port, path, headers, timeout=2.0)
            return time.perf_counter() - start
        except OSError as exc:
            if time.perf_counter() > deadline:
                raise TimeoutError(
                    f"nothing answered on {HOST}:{port}{path} in {timeout}s"
                ) from exc
            time.sleep(0.005)


@dataclass
class Proc:
    """A server process we started (and only we stop)."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def rss_kb(self) -> int:
        return rss_kb(self.pid)

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)


def start_process(
    name: str,
    argv: Sequence[str],
    port: int,
    logdir: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Proc:
    """Start ``argv`` in its own process group (with ``env``, if given, as its whole
    environment), output to ``logdir/name.log``."""
    logdir.mkdir(parents=True, exist_ok=True)
    log = logdir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    return Proc(name, popen, port, log)


def start_redis(port: int, logdir: Path, name: str = "redis") -> Proc:
    """A throwaway redis-server on ``port``: no periodic RDB, no AOF, its directory
    ``logdir`` (a ``SHUTDOWN SAVE`` writes its data there, and a restart in the same
    directory loads it again); returns once it answers PING."""
    argv = ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly"]
    argv += ["no", "--dir", str(logdir)]
    proc = start_process(name, argv, port, logdir, cwd=logdir)
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(OSError):
            if redis_command(port, "PING") == b"+PONG":
                return proc
        if time.monotonic() > deadline or proc.popen.poll() is not None:
            proc.stop()
            raise TimeoutError(f"redis-server did not start (log {proc.log})")
        time.sleep(0.05)


def redis_command(port: int, *words: str) -> bytes:
    """Send one inline command to the Redis on ``port``; its first reply line (b"" if
    the server closed the connection without one, as SHUTDOWN does)."""
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.sendall(" ".join(words).encode() + b"\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.split(b"\r\n", 1)[0]


def start_answering(
    name: str,
    argv: Sequence[str],
    port: int,
    logdir: Path,
    path: str,
    *,
    cwd: Path | None = None,
    timeout: float = 30.0,
) -> Proc:
    """:func:`start_process`, then wait until ``path`` answers; the process is stopped if it
    never does (or the wait is interrupted)."""
    proc = start_process(name, argv, port, logdir, cwd)
    try:
        wait_until_answers(port, path, timeout=timeout)
    except BaseException:
        proc.stop()
        raise
    return proc


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (from /proc), 0 if it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    m = re.search(r"^VmRSS:\s+(\d+)\s+kB", text, re.M)
    return int(m.group(1)) if m else 0


def tree_rss_kb(pid: int) -> int:
    """RSS of ``pid`` and its direct children (node servers may fork)."""
    total = rss_kb(pid)
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            total += rss_kb(int(child))
    return total


def self_rss_kb() -> int:
    return rss_kb(os.getpid())


# --- wrk -----------------------------------------------------------------------------


@dataclass
class WrkResult:
    """What one wrk run printed, parsed."""

    command: str
    rps: float = 0.0
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float | None = None
    p75_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    socket_errors: dict[str, int] = field(default_factory=dict)
    non_2xx: int = 0
    raw: str = ""

    def brief(self) -> str:
        errs = {k: v for k, v in self.socket_errors.items() if v}
        extra = f" errors={errs}" if errs else ""
        extra += f" non2xx={self.non_2xx}" if self.non_2xx else ""
        return (
            f"{self.rps:9.1f} req/s  p50 {fmt_ms(self.p50_ms)}  p99 {fmt_ms(self.p99_ms)}  "
            f"max {fmt_ms(self.max_ms)}  n={self.requests}{extra}"
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("raw")
        return d


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "   n/a"
    if ms < 1:
        return f"{ms * 1000:5.0f}us"
    return f"{ms:6.2f}ms"


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


def parse_wrk(output: str, command: str) -> WrkResult:
    r = WrkResult(command=command, raw=output)
    if m := re.search(r"Requests/sec:\s+([\d.]+)", output):
        r.rps = float(m.group(1))
    if m := re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output):
        r.requests = int(m.group(1))
        r.seconds = _to_ms(m.group(2) + m.group(3)) / 1000
    for pct, attr in (("50", "p50_ms"), ("75", "p75_ms"), ("90", "p90_ms"), ("99", "p99_ms")):
        if m := re.search(rf"^\s+{pct}%\s+(\S+)", output, re.M):
            setattr(r, attr, _to_ms(m.group(1)))
    if m := re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", output):
        r.max_ms = _to_ms(m.group(1))
    if m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        r.socket_errors = dict(
            zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True)
        )
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        r.non_2xx = int(m.group(1))
    return r


def ensure_wrk() -> str | None:
    """Path to wrk, installing Debian's package when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get install -y wrk", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, env=env)
    return shutil.which("wrk")


def run_wrk(
    url: str,
    *,
    threads: int = 2,
    connections: int = 32,
    seconds: float = 10.0,
    headers: dict[str, str] | None = None,
    timeout_s: float = 5.0,
) -> WrkResult:
    """One bounded wrk run with latency percentiles."""
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s:g}s",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    command = " ".join(a if " " not in a else repr(a) for a in argv)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=False)
    return parse_wrk(out.stdout + out.stderr, command)


# --- machine and versions --------------------------------------------------------------


def _cmd_version(argv: Sequence[str]) -> str:
    try:
        out = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if text else "?"


def _pkg(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def mockcamb_source() -> str:
    """Where ``mockcamb`` is imported from, and its git commit (``+dirty`` if modified)."""
    spec = importlib.util.find_spec("mockcamb")
    where = Path(spec.origin).parent if spec and spec.origin else None
    if where is None:
        return "not importable"
    try:
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return str(where)
    return f"{where} (commit {head}{'+dirty' if dirty else ''})"


def machine_info() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        m = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        if m:
            mem = f"{int(m.group(1)) / 1024 / 1024:.1f} GiB"
    load = "?"
    with contextlib.suppress(OSError):
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "loadavg_at_start": load,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "mockcamb_source": mockcamb_source(),
        "bytecode": bytecode_state(),
        "packages": {
            n: _pkg(n)
            for n in (
                "mockcamb",
                "flask",
                "werkzeug",
                "waitress",
                "granian",
                "a2wsgi",
                "uvloop",
                "hypothesis",
            )
        },
        "wrk": _cmd_version(["wrk", "-v"]),
        "node": _cmd_version(["node", "--version"]),
        "npm": _cmd_version(["npm", "--version"]),
        "java": _cmd_version(["java", "-version"]),
    }


def group_cpu_seconds(pgid: int) -> float:
    """The CPU time (user and system) used so far by every process of group ``pgid``."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()  # after the command name
            if int(fields[2]) == pgid:  # state, ppid, pgrp, ... utime (11), stime (12)
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def settle(proc: Proc, *, share: float = 0.05, window: float = 0.5, most: float = 10.0) -> float:
    """Wait until ``proc`` (its process group) uses less than ``share`` of a core over
    ``window`` seconds, at most ``most`` seconds; return the seconds waited. A JVM keeps
    compiling and collecting for seconds after its warm-up: measured at once, it and any
    server measured beside it would share the machine with that work."""
    started = time.monotonic()
    while time.monotonic() - started < most:
        before = group_cpu_seconds(proc.pid)
        time.sleep(window)
        if group_cpu_seconds(proc.pid) - before < share * window:
            break
    return time.monotonic() - started


def bytecode_state() -> str:
    """Whether the package's modules have current bytecode (``make install`` and ``make
    bench`` write it, as a wheel install does): without it every server start compiles
    them again, and the start-up figure counts that."""
    import mockcamb

    sources = sorted(Path(mockcamb.__file__).parent.rglob("*.py"))
    current = 0
    for src in sources:
        pyc = Path(importlib.util.cache_from_source(str(src)))
        with contextlib.suppress(OSError):
            current += pyc.stat().st_mtime >= src.stat().st_mtime
    env = " (PYTHONDONTWRITEBYTECODE set)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""
    return f"{current} of {len(sources)} modules compiled and current{env}"


def print_machine(info: dict[str, Any]) -> None:
    print(f"date        {info['date']}")
    print(f"machine     {info['nproc']} CPUs, {info['cpu']}, {info['memory']}, {info['kernel']}")
    print(f"load        {info['loadavg_at_start']} (1/5/15 min, at start)")
    print(f"python      {info['python']} ({info['python_executable']})")
    print(f"mockcamb    {info['mockcamb_source']}")
    print(f"bytecode    {info['bytecode']}")
    print("packages    " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))
    print(f"tools       {info['wrk']}; node {info['node']}; npm {info['npm']}; {info['java']}")
