"""The reference poller (mockcamb.client): behaviour over real HTTP in virtual time, and a
clean bill from the conformance harness."""

from __future__ import annotations

import email.utils
import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mockcamb.client import PermanentError, PollTimeout, TransientError, poll
from mockcamb.conformance import (
    PROPERTIES,
    ConformanceConfig,
    FaultSpec,
    Harness,
    Life,
    Wait,
    check_client,
    judge_politeness,
    judge_success,
    load_client,
)
from mockcamb.core.emulator import Emulator
from mockcamb.core.text import retry_after_seconds as _retry_after
from mockcamb.serve.waitress import Server
from mockcamb.virtual_time import VirtualTime, patched, virtual_time

KEY = "reference-key"
REAL_PERF = time.perf_counter  # captured before any virtual time


@pytest.fixture
def vt(emu: Emulator) -> Iterator[VirtualTime]:
    emu.configure({"api_keys": [KEY]})
    with virtual_time(emu.advance) as clock:
        yield clock


def _poll_times(emu: Emulator, kind: str, task_id: str) -> list[float]:
    return [e["clock"] for e in emu.journal(kind, task_id)]


def _run(server: Server, emu: Emulator, scenario: dict[str, Any], kind: str = "story") -> Any:
    emu.create_task(kind, "t1", scenario)
    return poll(server.base_url, KEY, kind, "t1")


@pytest.mark.parametrize("kind", ["story", "project-setup"])
def test_returns_the_success_body(
    server: Server, emu: Emulator, vt: VirtualTime, kind: str
) -> None:
    body = _run(
        server, emu, {"steps": [{"status": "PENDING", "seconds": 60}, {"status": "SUCCESS"}]}, kind
    )
    assert body["status"] == "SUCCESS"
    assert body["run_id"] == emu.snapshot(emu.get_task(kind, "t1"))["run_id"]  # type: ignore[arg-type]
    assert 60 <= vt.elapsed < 120


@pytest.mark.parametrize("final", ["FAILED", "ERROR", "TIMEOUT", "PAYMENT_REQUIRED"])
def test_returns_every_failure_status_and_stops(
    server: Server, emu: Emulator, vt: VirtualTime, final: str
) -> None:
    body = _run(
        server,
        emu,
        {"steps": [{"status": "PENDING", "polls": 2}, {"status": final, "message": "no"}]},
    )
    assert body["status"] == final
    assert body["message"] == "no"
    assert len(emu.journal()) == 3  # two PENDING, the final one, nothing after


def test_backs_off_exponentially_with_positive_jitter(
    server: Server, emu: Emulator, vt: VirtualTime
) -> None:
    _run(server, emu, {"steps": [{"status": "PENDING", "polls": 9}, {"status": "SUCCESS"}]})
    times = _poll_times(emu, "story", "t1")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    expected = [min(2.0 * 1.5**i, 30.0) for i in range(len(gaps))]
    for gap, base in zip(gaps, expected, strict=True):
        assert base <= gap <= base * 1.2 + 1e-9


def test_honours_retry_after_exactly(server: Server, emu: Emulator, vt: VirtualTime) -> None:
    _run(
        server,
        emu,
        {
            "steps": [{"status": "SUCCESS"}],
            "faults": [{"poll": 1, "http_status": 429, "retry_after": 45}],
        },
    )
    times = _poll_times(emu, "story", "t1")
    assert times == [0.0, 45.0]


@pytest.mark.parametrize(
    "fault",
    [
        {"http_status": 503},
        {"http_status": 500},
        {"type": "non_json", "http_status": 200},
        {"type": "truncated_json", "http_status": 200},
        {"type": "drop_connection"},
    ],
)
def test_retries_transient_faults(
    server: Server, emu: Emulator, vt: VirtualTime, fault: dict[str, Any]
) -> None:
    body = _run(
        server,
        emu,
        {"steps": [{"status": "SUCCESS", "run_id": 77}], "faults": [{"poll": [1, 2, 3], **fault}]},
    )
    assert body == {"status": "SUCCESS", "run_id": 77}
    assert len(_poll_times(emu, "story", "t1")) == 4


def test_gives_up_after_too_many_transient_faults(
    server: Server, emu: Emulator, vt: VirtualTime
) -> None:
    emu.create_task(
        "story",
        "t1",
        {
            "steps": [{"status": "SUCCESS"}],
            "faults": [{"poll": list(range(1, 50)), "http_status": 503}],
        },
    )
    with pytest.raises(TransientError, match="9 transient faults in a row"):
        poll(server.base_url, KEY, "story", "t1", max_errors=8)
    assert len(emu.journal()) == 9


@pytest.mark.parametrize("code", [401, 403, 404, 422, 400])
def test_raises_at_once_on_a_permanent_error(
    server: Server, emu: Emulator, vt: VirtualTime, code: int
) -> None:
    emu.create_task(
        "story",
        "t1",
        {"steps": [{"status": "PENDING"}], "faults": [{"poll": [1, 2], "http_status": code}]},
    )
    with pytest.raises(PermanentError) as info:
        poll(server.base_url, KEY, "story", "t1")
    assert info.value.status_code == code
    assert len(emu.journal()) == 1


def test_an_unknown_task_raises_404(server: Server, emu: Emulator, vt: VirtualTime) -> None:
    with pytest.raises(PermanentError, match="HTTP 404"):
        poll(server.base_url, KEY, "project-setup", "no-such-task")


def test_keeps_polling_through_unknown_statuses(
    server: Server, emu: Emulator, vt: VirtualTime
) -> None:
    body = _run(
        server,
        emu,
        {
            "steps": [
                {"status": "PROCESSING", "polls": 2},
                {"status": "queued", "seconds": 30},
                {"status": "SUCCESS", "run_id": 5},
            ]
        },
    )
    assert body == {"status": "SUCCESS", "run_id": 5}


def test_gives_up_at_its_deadline_in_virtual_time(
    server: Server, emu: Emulator, vt: VirtualTime
) -> None:
    emu.create_task("story", "t1", {"steps": [{"status": "PENDING"}]})
    started = REAL_PERF()
    with pytest.raises(PollTimeout, match="not final after 600 s"):
        poll(server.base_url, KEY, "story", "t1", deadline=600)
    assert vt.elapsed <= 600
    assert REAL_PERF() - started < 10  # ten virtual minutes, no real waiting


def test_rejects_an_unknown_endpoint() -> None:
    with pytest.raises(ValueError, match="endpoint"):
        poll("http://127.0.0.1:1/apis", KEY, "dubbing", "t1")


def test_parses_retry_after_seconds_and_dates() -> None:
    assert _retry_after("7") == 7.0
    assert _retry_after(" 2.5 ") == 2.5
    assert _retry_after("-3") == 0.0
    assert _retry_after(None) is None
    assert _retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert 100 < (_retry_after(later) or 0) <= 120


@pytest.mark.parametrize("seed", [11, 12])
def test_passes_every_conformance_property(seed: int) -> None:
    report = check_client("mockcamb.client:poll", ConformanceConfig(examples=15, seed=seed))
    assert report.ok, report.format()
    assert set(report.results) == {p.name for p in PROPERTIES}


def test_passes_the_longest_life_the_harness_generates() -> None:
    # Every wait the generator can stack up, one after another: four steps of five polls
    # (each up to 36 s apart) and eight groups of three 429s with the largest Retry-After
    # (time-driven steps would overlap with these waits). It must fit in the reference
    # poller's deadline of an hour.
    cfg = ConformanceConfig()
    throttle = FaultSpec("http_error", 429, cfg.max_retry_after)
    life = Life(
        "project-setup",
        tuple(Wait("PENDING", polls=5) for _ in range(4)),
        "SUCCESS",
        1,
        fault_groups=tuple((throttle,) * cfg.max_faults_in_row for _ in range(8)),
    )
    with patched(), Harness(load_client("mockcamb.client:poll"), cfg) as harness:
        run = harness.run(life, "politeness")
    assert judge_success(run, cfg) is None
    assert judge_politeness(run, cfg) is None
    assert 1800 < run.virtual_seconds < 3600
