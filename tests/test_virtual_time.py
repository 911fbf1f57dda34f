"""Virtual time: sleeps advance a clock instead of waiting, for the chosen threads only."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import pytest

from mockcamb.core.clock import ManualClock
from mockcamb.virtual_time import (
    VirtualTime,
    current,
    install,
    is_installed,
    is_virtual,
    patched,
    uninstall,
    virtual_time,
)

REAL_SLEEP = time.sleep
REAL_MONOTONIC = time.monotonic


def test_sleep_advances_the_clock_without_waiting() -> None:
    clock = ManualClock()
    started = REAL_MONOTONIC()
    with virtual_time(clock.advance) as vt:
        time.sleep(3600)
        time.sleep(0.5)
    assert REAL_MONOTONIC() - started < 5  # an hour and a half-second, not slept
    assert clock.now() == 3600.5
    assert vt.elapsed == 3600.5
    assert vt.sleeps == [3600.0, 0.5]


def test_the_time_functions_move_by_exactly_the_seconds_slept() -> None:
    with virtual_time() as vt:
        m0, t0, p0 = time.monotonic(), time.time(), time.perf_counter()
        n0 = time.monotonic_ns()
        REAL_SLEEP(0.02)  # real time passing is not seen in virtual time
        assert time.monotonic() == m0
        time.sleep(30)
        assert time.monotonic() - m0 == pytest.approx(30)
        assert time.time() - t0 == pytest.approx(30)
        assert time.perf_counter() - p0 == pytest.approx(30)
        assert time.monotonic_ns() - n0 == pytest.approx(30e9, rel=1e-6)
        assert time.time_ns() == pytest.approx(time.time() * 1e9, rel=1e-12)
        assert vt.monotonic() == time.monotonic()


def test_a_client_deadline_expires_in_virtual_time() -> None:
    polls = 0
    with virtual_time():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            polls += 1
            time.sleep(7)
    assert polls == 9  # 0, 7, ..., 56


def test_asyncio_sleep_is_virtual_too() -> None:
    clock = ManualClock()

    async def waits() -> str:
        await asyncio.sleep(12)
        return await asyncio.sleep(3, result="done")

    started = REAL_MONOTONIC()
    with virtual_time(clock.advance):
        assert asyncio.run(waits()) == "done"
    assert clock.now() == 15
    assert REAL_MONOTONIC() - started < 5


def test_other_threads_keep_real_time() -> None:
    seen: dict[str, float | bool] = {}

    def other() -> None:
        seen["virtual"] = is_virtual()
        t0 = time.monotonic()
        time.sleep(0.02)
        seen["slept"] = time.monotonic() - t0

    clock = ManualClock()
    with virtual_time(clock.advance):
        time.sleep(100)
        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
        assert is_virtual()
    assert seen["virtual"] is False
    assert 0.015 < float(seen["slept"]) < 5
    assert clock.now() == 100  # the other thread's sleep did not move the clock


def test_attach_puts_another_thread_in_virtual_time() -> None:
    clock = ManualClock()
    vt = VirtualTime(clock.advance)
    ready = threading.Event()
    go = threading.Event()

    def worker() -> None:
        ready.set()
        go.wait(5)
        time.sleep(42)

    thread = threading.Thread(target=worker)
    install()
    try:
        thread.start()
        ready.wait(5)
        assert thread.ident is not None
        vt.attach(thread.ident)
        go.set()
        thread.join(5)
        vt.detach(thread.ident)
    finally:
        uninstall()
    assert clock.now() == 42
    assert not thread.is_alive()


@pytest.mark.parametrize(
    ("value", "error"),
    [(-1, ValueError), (math.nan, ValueError), ("5", TypeError), (None, TypeError)],
)
def test_bad_sleeps_fail_like_time_sleep(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        REAL_SLEEP(value)  # type: ignore[arg-type]
    with virtual_time() as vt, pytest.raises(error):
        time.sleep(value)  # type: ignore[arg-type]
    assert vt.elapsed == 0


def test_what_advance_raises_comes_out_of_sleep() -> None:
    class Budget(BaseException):
        pass

    def advance(seconds: float) -> None:
        if seconds > 10:
            raise Budget

    with virtual_time(advance) as vt:
        time.sleep(5)
        with pytest.raises(Budget):
            time.sleep(11)
    assert vt.elapsed == 5


def test_nested_blocks_use_the_innermost_clock() -> None:
    outer_clock, inner_clock = ManualClock(), ManualClock()
    with virtual_time(outer_clock.advance) as outer:
        time.sleep(1)
        with virtual_time(inner_clock.advance) as inner:
            assert current() is inner
            time.sleep(2)
        assert current() is outer
        time.sleep(3)
    assert (outer_clock.now(), inner_clock.now()) == (4, 2)
    assert current() is None


def test_the_real_functions_come_back_afterwards() -> None:
    with virtual_time():
        assert time.sleep is not REAL_SLEEP
        assert is_installed()
    assert time.sleep is REAL_SLEEP
    assert time.monotonic is REAL_MONOTONIC
    assert not is_installed()


def test_uninstall_leaves_a_foreign_patch_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(seconds: float) -> None:
        return None

    install()
    monkeypatch.setattr(time, "sleep", fake)
    uninstall()
    assert time.sleep is fake


def test_sleep_imported_inside_patched_is_virtualised_later() -> None:
    with patched():
        from time import sleep  # what a client module does at import

    clock = ManualClock()
    with virtual_time(clock.advance):
        sleep(9)
    assert clock.now() == 9
    started = REAL_MONOTONIC()
    sleep(0.01)  # outside any block: a real sleep
    assert REAL_MONOTONIC() - started >= 0.009
