"""Workers that die are replaced (issue 17): ``mockcamb serve --workers 2 --store redis://``
with one worker SIGKILLed keeps answering from the other, starts a new worker, says so in one
line, and still stops with exit code 0 on SIGTERM. A worker that dies again right after its
start stops the server (exit code 1) instead of looping."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from _redis import redis_url
from _serve import children, serve

from mockcamb.serve.workers import CRASH_LOOP_S

#: granian's own window: a worker that dies within 5.5 s of its respawn is a crash loop.
GRANIAN_CRASH_LOOP_S = 5.5
PENDING_POLLS = 10_000
#: How many answers at most may be lost when a worker is killed between two sequential
#: requests: none here, but granian's worker may hold a connection it accepted ahead.
LOST = 1


def _children(pid: int) -> set[int]:
    return set(children(pid))


@contextmanager
def _serving(server: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    store = f"{redis_url()}?prefix=respawn-{uuid.uuid4().hex[:10]}:"
    options = ["--workers", "2", "--store", store, "--clock", "manual", "--threads", "4"]
    with serve(*options, "--server", server) as served:
        yield served


def _answered_by(url: str, main: int) -> int:
    """The worker that answers one keep-alive request to ``url``: the process holding the
    server's end of the connection (found by its socket inode in /proc/net/tcp)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("GET", "/__admin/health")
        assert conn.getresponse().read()
        assert conn.sock is not None
        client = conn.sock.getsockname()[1]
        inode = ""
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1].split(":"), fields[2].split(":")
            if int(local[1], 16) == parts.port and int(remote[1], 16) == client:
                inode = fields[9]
        assert inode, "no server socket for the connection"
        for pid in _children(main):
            with suppress(OSError):
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    with suppress(OSError):
                        if os.readlink(fd) == f"socket:[{inode}]":
                            return pid
        raise AssertionError("no worker holds the connection")
    finally:
        conn.close()


def _wait_out_the_crash_loop_window(server: str) -> None:
    time.sleep((GRANIAN_CRASH_LOOP_S if server == "granian" else CRASH_LOOP_S) + 0.7)


def _kill_and_poll(proc: subprocess.Popen[str], victim: int, status: str) -> set[int]:
    """SIGKILL ``victim``, poll ``status`` on new connections until a new worker is there and
    50 answers came; return the new worker's pid."""
    before = _children(proc.pid)
    os.kill(victim, signal.SIGKILL)
    headers = {"x-api-key": "k", "Connection": "close"}  # a new connection each time
    answers: list[str] = []
    lost = 0
    replaced: set[int] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not replaced or len(answers) < 50):
        try:
            reply = requests.get(status, headers=headers, timeout=10)
            answers.append(f"{reply.status_code} {reply.json()['status']}")
        except requests.ConnectionError:
            lost += 1
        replaced = _children(proc.pid) - before
    assert proc.poll() is None, "the main process stopped"
    assert len(replaced) == 1, "no new worker was started"
    assert _children(proc.pid) == (before - {victim}) | replaced
    assert lost <= LOST and set(answers) == {"200 PENDING"}, (lost, set(answers))
    return replaced


@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_a_killed_worker_is_replaced_while_the_other_answers(server: str) -> None:
    with _serving(server) as (proc, url):
        steps = [{"status": "PENDING", "polls": PENDING_POLLS}, {"status": "SUCCESS"}]
        task = {"kind": "story", "task_id": "kept", "scenario": {"steps": steps}}
        assert requests.post(f"{url}/__admin/tasks", json=task, timeout=10).status_code == 201
        status = f"{url}/apis/story/kept"
        _wait_out_the_crash_loop_window(server)
        first = min(_children(proc.pid))
        (new,) = _kill_and_poll(proc, first, status)
        # the new worker serves: some keep-alive connection is answered by it
        assert new in {_answered_by(url, proc.pid) for _ in range(200)}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert proc.stderr is not None
        log = proc.stderr.read()
    about = [line for line in log.splitlines() if "worker" in line.lower()]
    if server == "waitress":
        assert about == [
            f"mockcamb: worker {first} was killed by SIGKILL; started worker {new} in its place"
        ]
    else:  # (granian may also warn that it killed a worker at the stop: a race of its own
        # between two threads reaping one process, the worker being gone already)
        (died,) = [line for line in about if "refused to gracefully stop" not in line]
        assert re.fullmatch(
            r"mockcamb \(granian\): \[ERROR\] Unexpected exit from worker-[12]", died
        )
    assert "Traceback" not in log


@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_a_worker_that_dies_right_after_its_start_stops_the_server(server: str) -> None:
    with _serving(server) as (proc, _url):
        _wait_out_the_crash_loop_window(server)
        before = _children(proc.pid)
        os.kill(min(before), signal.SIGKILL)
        deadline = time.monotonic() + 20
        replaced: set[int] = set()
        while time.monotonic() < deadline and not replaced:
            replaced = _children(proc.pid) - before
            time.sleep(0.02)
        assert replaced
        os.kill(replaced.pop(), signal.SIGKILL)  # at once: it dies within the window
        assert proc.wait(20) == 1
        assert proc.stderr is not None
        log = proc.stderr.read()
    if server == "waitress":
        assert "s after it started; stopping every worker" in log
    else:
        assert "Worker crash loop detected, exiting" in log
    assert "Traceback" not in log
