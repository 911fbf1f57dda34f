"""`mockcamb serve --workers N --store redis://...`: several processes on one port serve one
set of tasks with exact poll counts, and stop together on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from _redis import redis_url
from _serve import BANNER, children, serve

THREADS = 8
POLLS_PER_THREAD = 30
PENDING_POLLS = 100
SERVE = [sys.executable, "-m", "mockcamb", "serve", "--port", "0"]


@pytest.fixture(params=["granian", "waitress"])
def workers(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Two workers of ``--server granian`` (granian forks them) or ``--server waitress``
    (mockcamb forks them onto one inherited socket)."""
    store = f"{redis_url()}?prefix=workers-{uuid.uuid4().hex[:10]}:"
    options = ["--workers", "2", "--store", store, "--clock", "manual", "--threads", "8"]
    with serve(*options, "--server", request.param, banner=BANNER + " .*2 workers") as served:
        yield served


def test_two_workers_share_tasks_with_exact_poll_counts(
    workers: tuple[subprocess.Popen[str], str],
) -> None:
    proc, url = workers
    assert len(children(proc.pid)) == 2 or not Path("/proc").exists()
    steps = [{"status": "PENDING", "polls": PENDING_POLLS}, {"status": "SUCCESS", "run_id": 7}]
    r = requests.post(
        f"{url}/__admin/tasks",
        json={"kind": "story", "task_id": "shared", "scenario": {"steps": steps}},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    seen: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def poller() -> None:
        local: Counter[str] = Counter()
        try:
            # a new connection per request, so the kernel spreads them over both workers
            start.wait()
            for _ in range(POLLS_PER_THREAD):
                got = requests.get(
                    f"{url}/apis/story/shared",
                    headers={"x-api-key": "k", "Connection": "close"},
                    timeout=10,
                )
                local[got.json()["status"]] += 1
        except BaseException as exc:  # reported below
            errors.append(exc)
        with lock:
            seen.update(local)

    threads = [threading.Thread(target=poller) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    total = THREADS * POLLS_PER_THREAD
    assert seen == {"PENDING": PENDING_POLLS, "SUCCESS": total - PENDING_POLLS}
    snap = requests.get(f"{url}/__admin/tasks/story/shared", timeout=10).json()
    assert snap["requests"] == total and snap["status"] == "SUCCESS"
    journal = requests.get(f"{url}/__admin/requests?task_id=shared", timeout=10).json()
    assert sorted(e["request"] for e in journal["requests"]) == list(range(1, total + 1))

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert proc.stderr is not None and "stopped" in proc.stderr.read()


def test_sigint_stops_every_worker(workers: tuple[subprocess.Popen[str], str]) -> None:
    proc, url = workers
    kids = children(proc.pid)
    assert requests.get(f"{url}/__admin/health", timeout=10).json()["status"] == "ok"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(15) == 0
    for pid in kids:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/__admin/health", timeout=2)


def test_killing_the_main_process_stops_every_worker(
    workers: tuple[subprocess.Popen[str], str],
) -> None:
    proc, url = workers
    kids = children(proc.pid)
    assert requests.get(f"{url}/__admin/health", timeout=10).json()["status"] == "ok"
    proc.kill()  # SIGKILL: the workers get no signal, they only lose their parent
    proc.wait(5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in kids):
        time.sleep(0.2)
    survivors = [pid for pid in kids if _alive(pid)]
    for pid in survivors:  # do not leave them serving after a failure
        os.kill(pid, signal.SIGKILL)
    assert not survivors, "a worker outlived its main process by 10 s"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/__admin/health", timeout=2)


def _alive(pid: int) -> bool:
    """The process runs (not gone, not a zombie waiting for its reaper)."""
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2"], "more than one worker needs a shared store"),
        (["--workers", "0"], "--workers: must be 1 to 256"),
        (["--store", "redis://127.0.0.1:1/0"], "cannot reach Redis at redis://127.0.0.1:1/0"),
        (["--store", "redis://:hunter2@127.0.0.1:1/0"], "cannot reach Redis"),
        (["--store", "http://x"], "--store: must be 'memory' or a redis://"),
        (["--store-prefix", "p:"], "--store-prefix: only applies with --store redis://"),
    ],
)
def test_bad_store_and_worker_options_exit_2_with_one_line(args: list[str], message: str) -> None:
    done = subprocess.run(
        [*SERVE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert "hunter2" not in done.stderr


def test_one_worker_on_redis_serves_like_memory() -> None:
    store = f"{redis_url()}?prefix=one-{uuid.uuid4().hex[:10]}:"
    args = ["--store", store, "--unknown-task", "auto", "--default-scenario", "never_finishes"]
    with serve(*args, banner=BANNER + " .*store redis://") as (proc, url):
        with requests.Session() as s:
            s.headers["x-api-key"] = "k"
            bodies = [s.get(f"{url}/apis/story/abc", timeout=10).json() for _ in range(3)]
        assert bodies == [{"status": "PENDING", "run_id": None}] * 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
