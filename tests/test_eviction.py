"""Task creation at the ``max_tasks`` cap costs the same at any cap (issue 17): evicting the
oldest task is O(1), not a scan past the holes that earlier evictions left at the front of a
dict (up to about 1.2 x the cap of them before the dict compacts)."""

from __future__ import annotations

import time

from mockcamb.core.clock import ManualClock
from mockcamb.core.emulator import Emulator

SMALL_CAP = 500
BIG_CAP = 50_000
#: More than one compaction cycle of a dict holding BIG_CAP tasks.
ADDS = 70_000


def _at_cap(cap: int) -> Emulator:
    emu = Emulator(clock=ManualClock())
    emu.configure({"max_tasks": cap, "journal_size": 0})
    for i in range(cap):
        emu.create_task("story", f"a{i}", "never_finishes")
    return emu


def _create_seconds(emu: Emulator, prefix: str, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        emu.create_task("story", f"{prefix}{i}", "never_finishes")
    return time.perf_counter() - t0


def test_creating_at_the_cap_costs_the_same_at_a_big_cap() -> None:
    small, big = _at_cap(SMALL_CAP), _at_cap(BIG_CAP)
    cost_small = cost_big = 0.0
    for part in range(7):  # interleaved, so that a busy spell of the machine falls on both
        cost_small += _create_seconds(small, f"b{part}-", ADDS // 7)
        cost_big += _create_seconds(big, f"b{part}-", ADDS // 7)
    assert (small.task_count(), big.task_count()) == (SMALL_CAP, BIG_CAP)
    assert big.get_task("story", f"a{BIG_CAP - 1}") is None  # every old task evicted, in order
    assert big.get_task("story", f"b6-{ADDS // 7 - 1}") is not None
    # O(1) eviction: about 1.2x; the scan from the front of a dict made it 5x and more
    assert cost_big < 2.5 * cost_small, (cost_big, cost_small)
