"""Memory bounds as sizes, not timings: idle tasks stay small, the journal is a bounded ring,
finished tasks expire. Deterministic (tracemalloc counts bytes, not wall time)."""

from __future__ import annotations

import gc
import tracemalloc

from mockcamb.core.clock import ManualClock
from mockcamb.core.emulator import Emulator

TASKS = 20_000
HEADERS = [("Host", "127.0.0.1:8080"), ("x-api-key", "k"), ("User-Agent", "test")]


def _traced(fn: object) -> int:
    """Bytes still allocated after calling ``fn`` (tracemalloc, after a collection)."""
    assert callable(fn)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        keep = fn()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del keep
    return after - before


def test_an_idle_task_costs_under_1_kb() -> None:
    emu = Emulator(clock=ManualClock())
    emu.create_task("story")  # parse the default preset and warm the id generator first

    def create() -> Emulator:
        # ids as long as generated ones (a UUID is 36 characters), without drawing them
        for i in range(TASKS):
            emu.create_task("story" if i % 2 else "project-setup", f"{i:036d}")
        return emu

    per_task = _traced(create) / TASKS
    assert emu.task_count() == TASKS + 1
    assert per_task <= 1024, f"{per_task:.0f} bytes per idle task"


def test_the_journal_is_a_bounded_ring() -> None:
    emu = Emulator(clock=ManualClock())
    emu.configure({"journal_size": 1000, "history_limit": 10})
    ids = [emu.create_task("story", f"t{i}", "never_finishes").task_id for i in range(100)]

    def poll(n: int) -> None:
        for i in range(n):
            emu.status(
                "story", ids[i % 100], "k", path=f"/apis/story/{ids[i % 100]}", headers=HEADERS
            )

    gc.collect()
    tracemalloc.start()
    try:
        poll(2000)  # fill the journal ring and every task's history ring with traced entries
        gc.collect()
        full = tracemalloc.get_traced_memory()[0]
        poll(10_000)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - full
    finally:
        tracemalloc.stop()
    assert len(emu.journal()) == 1000
    assert all(len(t["history"]) == 10 for t in emu.tasks())
    # An unbounded journal would keep ~10,000 x 500 B = 5 MB more; a ring keeps nothing.
    assert grown < 256 * 1024, f"{grown} bytes grown over 10,000 requests"


def test_finished_tasks_expire_after_the_ttl() -> None:
    emu = Emulator(clock=ManualClock())
    emu.configure({"finished_ttl": 60})
    ids = [emu.create_task("story", None, "instant_success").task_id for _ in range(1000)]
    running = emu.create_task("story", "running", "never_finishes").task_id
    for task_id in [*ids, running]:
        emu.status("story", task_id, "k")
    emu.advance(59)
    emu.create_task("story", "probe-1")
    assert emu.task_count() == 1002
    emu.advance(2)
    emu.create_task("story", "probe-2")  # expiry runs on the next create or poll
    assert emu.get_task("story", ids[0]) is None
    assert emu.get_task("story", running) is not None
    assert emu.task_count() == 3  # running, probe-1, probe-2
