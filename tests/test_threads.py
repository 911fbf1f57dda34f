"""Thread safety: many pollers on the same poll-driven tasks see each step exactly as often
as the scenario says, in total, and never see a final status revert."""

from __future__ import annotations

import threading
from collections import Counter

import requests

from mockcamb.core.emulator import Emulator
from mockcamb.serve.waitress import Server

THREADS = 16
TASKS = 8
PENDING_POLLS = 25
POLLS_PER_THREAD = 40


def test_sixteen_threads_over_http(server: Server, emu: Emulator) -> None:
    for i in range(TASKS):
        emu.create_task(
            "story",
            f"t{i}",
            {
                "steps": [
                    {"status": "PENDING", "polls": PENDING_POLLS},
                    {"status": "PROCESSING", "polls": 10},
                    {"status": "SUCCESS"},
                ]
            },
        )
    counts: Counter[tuple[str, str]] = Counter()
    reverted: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        local: Counter[tuple[str, str]] = Counter()
        seen_final: set[str] = set()
        try:
            with requests.Session() as s:
                s.headers["x-api-key"] = "k"
                start.wait()
                for j in range(POLLS_PER_THREAD):
                    tid = f"t{(n + j) % TASKS}"
                    status = s.get(f"{server.base_url}/story/{tid}", timeout=10).json()["status"]
                    local[(tid, status)] += 1
                    if tid in seen_final and status != "SUCCESS":
                        reverted.append(f"{tid}: SUCCESS then {status}")
                    if status == "SUCCESS":
                        seen_final.add(tid)
        except BaseException as exc:  # reported below
            errors.append(exc)
        with lock:
            counts.update(local)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and not reverted
    total_per_task = THREADS * POLLS_PER_THREAD // TASKS
    for i in range(TASKS):
        tid = f"t{i}"
        assert counts[(tid, "PENDING")] == PENDING_POLLS
        assert counts[(tid, "PROCESSING")] == 10
        assert counts[(tid, "SUCCESS")] == total_per_task - PENDING_POLLS - 10
        task = emu.get_task("story", tid)
        assert task is not None and task.requests == total_per_task


def test_sixteen_threads_in_process_with_faults(emu: Emulator) -> None:
    """The same promise straight on the domain, with faults interleaved, many more polls."""
    emu.create_task(
        "project-setup",
        "x",
        {
            "steps": [{"status": "PENDING", "polls": 500}, {"status": "SUCCESS"}],
            "faults": [{"probability": 0.2, "http_status": 503}],
        },
    )
    results: list[list[str]] = [[] for _ in range(THREADS)]

    def worker(n: int) -> None:
        for _ in range(100):
            r = emu.status("project-setup", "x", "k")
            if r.status_code == 200:
                results[n].append(r.body["status"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    flat = [s for r in results for s in r]
    assert flat.count("PENDING") == 500
    for r in results:  # per thread, once SUCCESS is seen it stays
        if "SUCCESS" in r:
            assert set(r[r.index("SUCCESS") :]) == {"SUCCESS"}
    task = emu.get_task("project-setup", "x")
    assert task is not None and task.requests == THREADS * 100
    assert task.answered == len(flat)
