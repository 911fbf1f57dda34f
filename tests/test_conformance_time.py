"""Virtual time for the conformance harness: clients polling from worker threads, the HTTP-date
form of Retry-After under the manual clock, and the client's clock agreeing with it."""

from __future__ import annotations

import email.utils
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from pollers import broken

from mockcamb.conformance import (
    ConformanceConfig,
    FaultSpec,
    Harness,
    Life,
    Wait,
    check_client,
    judge_politeness,
    load_client,
)
from mockcamb.core import faults
from mockcamb.core.clock import ManualClock
from mockcamb.core.emulator import Emulator
from mockcamb.core.errors import ScenarioError
from mockcamb.core.scenario import Fault, parse_scenario
from mockcamb.core.text import retry_after_seconds
from mockcamb.virtual_time import VirtualTime, is_virtual, patched

REAL_PERF = time.perf_counter
THREADED = ["careful_in_pool", "careful_to_thread", "careful_in_thread"]

# --- clients that poll on a worker thread -------------------------------------------------


@pytest.mark.parametrize("client", THREADED)
def test_a_careful_client_polling_from_a_worker_thread_conforms_fast(client: str) -> None:
    report = check_client(
        f"pollers.broken:{client}", ConformanceConfig(examples=2, seed=7, endpoints=("story",))
    )
    assert report.ok, report.format()
    assert report.seconds < 30  # no 20 s watchdog on any life


@pytest.mark.parametrize("client", THREADED)
def test_a_worker_threads_sleeps_are_virtual(client: str) -> None:
    life = Life("story", (Wait("PENDING", seconds=1200),), "SUCCESS", 4)
    with patched(), Harness(load_client(f"pollers.broken:{client}"), ConformanceConfig()) as h:
        run = h.run(life, "backoff")
    assert run.value == {"status": "SUCCESS", "run_id": 4}
    assert run.stop_reason is None and run.outcome == "returned"
    assert 1200 <= run.virtual_seconds < 1260
    assert run.wall_seconds < 5


def test_a_runaway_in_a_pool_thread_is_stopped() -> None:
    def pooled_hot_loop(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(broken.hot_loop, base_url, api_key, endpoint, task_id).result()

    life = Life("story", (Wait("PENDING", seconds=60),), "SUCCESS", 1)
    started = REAL_PERF()
    with patched(), Harness(load_client(pooled_hot_loop), ConformanceConfig()) as harness:
        run = harness.run(life, "success")
    assert run.outcome == "stopped"
    assert "hot loop: 101 requests in a row" in (run.stop_reason or "")
    assert REAL_PERF() - started < 10


def test_a_thread_sleeping_past_the_budget_is_stopped() -> None:
    def sleepy(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
        worker = threading.Thread(target=time.sleep, args=(10**9,))
        worker.start()
        worker.join()

    with patched(), Harness(sleepy, ConformanceConfig(max_virtual_seconds=3600)) as harness:
        run = harness.run(Life("story", run_id=1), "success")
    assert "the budget is 3600 s" in (run.stop_reason or "")
    assert run.wall_seconds < 5


def test_threads_follow_the_clock_only_when_asked() -> None:
    clock = ManualClock()
    seen: dict[str, bool] = {}

    def look(name: str) -> None:
        seen[name] = is_virtual()
        time.sleep(5 if seen[name] else 0.001)

    with VirtualTime(clock.advance):
        plain = threading.Thread(target=look, args=("plain",))
        plain.start()
        plain.join()
    assert seen["plain"] is False and clock.now() == 0
    with VirtualTime(clock.advance, follow_threads=True):
        followed = threading.Thread(target=look, args=("thread",))
        followed.start()
        followed.join()
    assert seen["thread"] is True and clock.now() == 5


def test_a_pool_worker_keeps_the_clock_only_for_the_call() -> None:
    clock = ManualClock()
    pool = ThreadPoolExecutor(1)
    try:
        with VirtualTime(clock.advance, follow_threads=True):
            assert pool.submit(is_virtual).result() is True  # the worker starts here...
            pool.submit(time.sleep, 7).result()
        assert clock.now() == 7
        assert pool.submit(is_virtual).result() is False  # ...and serves others in real time
    finally:
        pool.shutdown()


def test_release_all_gives_threads_left_running_their_real_time() -> None:
    vt = VirtualTime(ManualClock().advance, follow_threads=True)
    go, done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def lingers() -> None:
        go.wait(5)
        seen.append(is_virtual())
        done.set()

    with vt:
        threading.Thread(target=lingers, daemon=True).start()
    assert len(vt.threads()) == 1
    vt.release_all()
    go.set()
    done.wait(5)
    assert seen == [False] and vt.threads() == frozenset()


# --- Retry-After as an HTTP date ------------------------------------------------------------


def _retry_after_header(emu: Emulator, fault: dict[str, Any]) -> str:
    emu.configure({"api_keys": ["k"]})
    emu.create_task("story", "t", {"steps": [{"status": "SUCCESS"}], "faults": [fault]})
    return emu.status("story", "t", "k").headers["Retry-After"]


def test_the_date_form_counts_from_the_manual_clock_and_rounds_up() -> None:
    emu = Emulator()
    emu.advance(3.5)
    fault = {"poll": 1, "http_status": 429, "retry_after": 7, "retry_after_format": "date"}
    header = _retry_after_header(emu, fault)
    assert header == "Thu, 01 Jan 1970 00:00:11 GMT"  # 3.5 + 7 s after clock 0, rounded up
    assert retry_after_seconds(header, now=faults.http_now("manual", 3.5)) == 7.5


def test_the_date_form_under_the_real_clock_is_the_wall_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(faults, "wall_time", lambda: 1_780_000_000.2)
    emu = Emulator(clock=ManualClock())
    assert faults.http_now("real", 999.0) == 1_780_000_000.2
    fault = Fault("http_error", frozenset({1}), None, 503, 30, None, "date")
    value = faults.retry_after_value(fault, faults.http_now("real", emu.clock.now()))
    assert value == email.utils.formatdate(1_780_000_031, usegmt=True)


def test_seconds_and_zero_stay_delta_seconds() -> None:
    assert _retry_after_header(Emulator(), {"poll": 1, "http_status": 503, "retry_after": 0}) == "0"
    fault = {"poll": 1, "http_status": 429, "retry_after": 2.5, "retry_after_format": "seconds"}
    assert _retry_after_header(Emulator(), fault) == "3"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"retry_after": 5, "retry_after_format": "http-date"}, "must be one of seconds, date"),
        ({"retry_after_format": "date"}, "needs retry_after"),
        ({"retry_after": None, "retry_after_format": "seconds"}, "needs retry_after"),
    ],
)
def test_a_bad_retry_after_format_is_named(fault: dict[str, Any], error: str) -> None:
    doc = {"steps": [{"status": "SUCCESS"}], "faults": [{"poll": 1, "http_status": 429, **fault}]}
    with pytest.raises(ScenarioError, match=error):
        parse_scenario(doc)


def test_the_date_form_round_trips_through_a_scenario() -> None:
    doc = {
        "steps": [{"status": "SUCCESS"}],
        "faults": [{"poll": 1, "http_status": 429, "retry_after": 9, "retry_after_format": "date"}],
    }
    fault = parse_scenario(doc).faults[0]
    assert fault.retry_after_format == "date"
    assert fault.to_dict()["retry_after_format"] == "date"


def test_the_clients_clock_agrees_with_the_emulators_dates() -> None:
    # time.time() in the client reads the emulator's HTTP "now": the Unix epoch plus the clock
    def clock_reader(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
        first = time.time()
        time.sleep(12.25)
        resp = requests.get(
            f"{base_url}/{endpoint}/{task_id}", headers={"x-api-key": api_key}, timeout=5
        )
        when = email.utils.parsedate_to_datetime(resp.headers["Retry-After"]).timestamp()
        return {"first": first, "then": time.time(), "retry_at": when}

    fault = FaultSpec("http_error", 429, 20, "date")
    life = Life("story", (), "SUCCESS", 1, fault_groups=((fault,),))
    with patched(), Harness(load_client(clock_reader), ConformanceConfig()) as harness:
        run = harness.run(life, "politeness")
    assert run.value == {"first": 0.0, "then": 12.25, "retry_at": 33.0}  # ceil(12.25 + 20)


def test_the_reference_poller_waits_exactly_until_the_date() -> None:
    fault = FaultSpec("http_error", 503, 45, "date")
    life = Life("story", (Wait("PENDING", polls=2),), "SUCCESS", 3, fault_groups=((), (fault,)))
    with patched(), Harness(load_client("mockcamb.client:poll"), ConformanceConfig()) as h:
        run = h.run(life, "politeness")
    assert run.value == {"status": "SUCCESS", "run_id": 3}
    throttled = next(e for e in run.exchanges if e.status_code == 503)
    after = next(e for e in run.exchanges if e.seq == throttled.seq + 1)
    assert throttled.retry_after is not None and 45 <= throttled.retry_after < 46
    assert after.clock - throttled.clock == pytest.approx(throttled.retry_after)
    assert "GMT (" in throttled.describe()
    assert judge_politeness(run, h.config) is None
