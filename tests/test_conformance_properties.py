"""The conformance properties of issue 14 (gives-up, backoff, timely, timeouts, Retry-After in
every form) and the pollers on record for them: the community ``cambai`` 0.1.8 client and the
official SDK README's loop, each reported with the properties it breaks."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from mockcamb.conformance import (
    PROPERTIES,
    ConformanceConfig,
    Harness,
    Life,
    Report,
    Wait,
    check_client,
    config_from_args,
    configure_parser,
    judge_backoff,
    judge_gives_up,
    judge_timely,
    judge_timeouts,
    load_client,
    relax,
)
from mockcamb.virtual_time import patched

FAST = {"examples": 15, "seed": 20260101, "shrink_seconds": 20.0}
NAMES = [p.name for p in PROPERTIES]


def _check(target: str, *props: str, **kw: Any) -> Report:
    cfg = ConformanceConfig(**{**FAST, **kw, "properties": props or tuple(NAMES)})
    return check_client(target, cfg)


def _message(report: Report, prop: str) -> str:
    finding = report.results[prop]
    assert finding is not None, f"{prop} should fail:\n{report.format()}"
    return finding.format()


# --- the pollers on record ---------------------------------------------------------------


@pytest.fixture(scope="module")
def cambai() -> Report:
    # give-up-within=3600: its 30 s polls reach an hour in 120 requests, not 1000
    return _check(
        "pollers.cambai_018:poll", examples=6, give_up_within=3600.0
    )  # it declares dub and tts (poll.families)


def test_cambai_018_is_reported_with_the_properties_it_breaks(cambai: Report) -> None:
    assert set(cambai.failed) == {"success", "politeness", "unknown-status", "gives-up", "timeouts"}
    success = _message(cambai, "success")
    assert "raised SystemExit: 1 instead of returning the SUCCESS body" in success
    assert "faults: request 1: 503" in success  # sys.exit(1) on the first transient fault
    assert "Kindly fix the issue and try again." in success
    # after SUCCESS it asks once more, at once, for the run id
    assert "poll #2 came 0 s after poll #1" in _message(cambai, "politeness")
    assert "Issue: PROCESSING for Run ID: None" in _message(cambai, "unknown-status")
    gives_up = _message(cambai, "gives-up")
    assert "without giving up" in gives_up and "past the 3600 s (1 h) allowed" in gives_up
    assert "waits for its answer with no timeout" in _message(cambai, "timeouts")
    # what it gets right: it raises on a failure status and on permanent errors (exiting)
    assert cambai.results["final-status"] is None
    assert cambai.results["permanent-errors"] is None


@pytest.fixture(scope="module")
def sdk_readme() -> Report:
    return _check("pollers.sdk_readme:poll", examples=5, give_up_within=1800.0)  # declares dub


def test_the_sdk_readme_loop_is_reported_with_the_properties_it_breaks(sdk_readme: Report) -> None:
    assert set(sdk_readme.failed) == {"success", "final-status", "gives-up", "backoff"}
    success = _message(sdk_readme, "success")
    assert "raised ApiError" in success and "status_code: 503" in success
    assert "faults: request 1: 503, request 2: 503, request 3: 503" in success  # SDK retries 2
    final = _message(sdk_readme, "final-status")
    assert "kept polling after FAILED was answered (request #1): sent poll #2 5 s later" in final
    assert "more than the 40 allowed; it waited 5 s every time" in _message(sdk_readme, "backoff")
    assert "without giving up" in _message(sdk_readme, "gives-up")
    assert sdk_readme.results["timeouts"] is None  # the SDK's httpx client: 300 s


# --- each new property: a careful client passes, a broken one fails ------------------------


@pytest.mark.parametrize(
    ("client", "prop", "settings"),
    [
        ("no_deadline", "gives-up", {"give_up_within": 3600.0}),
        ("every_second", "backoff", {}),
        ("uncapped_backoff", "timely", {}),
        ("no_timeout", "timeouts", {}),
        ("long_timeout", "timeouts", {}),
        ("requests_with_default_timeout", "timeouts", {}),
        ("async_no_timeout", "timeouts", {}),
    ],
)
def test_a_broken_client_fails_the_new_property(
    client: str, prop: str, settings: dict[str, Any]
) -> None:
    report = _check(f"pollers.broken:{client}", prop, **settings)
    message = _message(report, prop)
    assert "smallest failing life:" in message and "requests (t = virtual seconds):" in message


@pytest.mark.parametrize(
    ("client", "prop", "settings"),
    [
        ("careful", "gives-up", {}),
        ("careful", "backoff", {}),
        ("careful", "timely", {}),
        ("careful", "timeouts", {}),
        ("urllib_with_default_timeout", "timeouts", {}),
        ("careful_async", "timeouts", {}),
        # relaxed on purpose: each broken client passes with its own setting
        ("only_success_is_final", "backoff", {"backoff_polls": 120}),  # every 5 s
        ("uncapped_backoff", "timely", {"timely_fraction": 1.1}),
        ("long_timeout", "timeouts", {"max_stall_wait": 900.0}),
    ],
)
def test_a_careful_or_relaxed_client_passes_the_new_property(
    client: str, prop: str, settings: dict[str, Any]
) -> None:
    report = _check(f"pollers.broken:{client}", prop, examples=4, **settings)
    assert report.ok, report.format()


def test_a_long_timeout_is_named_with_the_limit() -> None:
    report = _check("pollers.broken:long_timeout", "timeouts")
    message = _message(report, "timeouts")
    assert "the client is set to wait 900 s for its answer, more than the 600 s allowed" in message
    assert "Give every request a timeout: requests.get(url, timeout=30)" in message


def test_an_asyncio_client_without_a_timeout_is_stopped_at_once() -> None:
    client = load_client("pollers.broken:async_no_timeout")
    life = Life("story", (), "SUCCESS", 1, stalls=(1,))
    with patched(), Harness(client, ConformanceConfig()) as harness:
        run = harness.run(life, "timeouts")
    assert run.outcome == "stopped" and run.wall_seconds < 5
    assert run.stalls[0].timeouts == [None]
    message = judge_timeouts(run, harness.config)
    assert message is not None and "waits for its answer with no timeout" in message


@pytest.mark.parametrize("client", ["careful", "careful_async", "careful_to_thread"])
def test_a_stalled_request_is_waited_out_in_virtual_time(client: str) -> None:
    life = Life("project-setup", (Wait("PENDING", polls=1),), "SUCCESS", 5, stalls=(1, 3))
    with patched(), Harness(load_client(f"pollers.broken:{client}"), ConformanceConfig()) as h:
        run = h.run(life, "timeouts")
    assert run.value == {"status": "SUCCESS", "run_id": 5}
    assert [s.timeouts for s in run.stalls] == [[pytest.approx(10.0)]] * 2  # its read timeout...
    assert [e.clock for e in run.exchanges] == pytest.approx([0, 15, 22.5, 43.75])
    # a sync read is seen to time out; an asyncio client is seen to move on at its next poll
    ends = [15, 43.75] if client == "careful_async" else [10, 32.5]
    assert [s.end for s in run.stalls] == pytest.approx(ends)
    assert run.wall_seconds < 5  # ...waited in virtual time, not real
    described = [e.describe() for e in run.exchanges]
    assert described[0].endswith("-> stalled: accepted and never answered")
    assert judge_timeouts(run, h.config) is None


def test_the_timely_lag_grows_with_the_time_the_task_took() -> None:
    # a 30-minute task allows 900 s: a client waiting 10 minutes between polls is in time
    def sparse(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
        import time

        import requests

        while True:
            body = requests.get(
                f"{base_url}/{endpoint}/{task_id}", headers={"x-api-key": api_key}, timeout=10
            ).json()
            if body["status"] != "PENDING":
                return body
            time.sleep(600)

    cfg = ConformanceConfig()
    with patched(), Harness(load_client(sparse), cfg) as harness:
        long = harness.run(Life("story", (Wait("PENDING", seconds=1801),), "SUCCESS", 1), "timely")
        short = harness.run(Life("story", (Wait("PENDING", seconds=61),), "SUCCESS", 1), "timely")
    assert judge_timely(long, cfg) is None
    message = judge_timely(short, cfg)
    assert (
        message is not None
        and "the task finished at t=61; at t=0 it asked to sleep 600 s" in message
    )


def test_gives_up_accepts_a_raise_or_a_last_status_but_not_success() -> None:
    def returns_pending(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
        return {"status": "PENDING", "run_id": None}

    def claims_success(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
        return {"status": "SUCCESS", "run_id": 1}

    cfg = ConformanceConfig()
    never = Life("story", (), None)
    with patched(), Harness(load_client(returns_pending), cfg) as harness:
        assert judge_gives_up(harness.run(never, "gives-up"), cfg) is None
        harness.client = load_client(claims_success)
        message = judge_gives_up(harness.run(never, "gives-up"), cfg)
    assert message == "returned a SUCCESS body for a task that never finished"


def test_backoff_counts_polls_in_any_ten_minutes_not_from_the_start() -> None:
    # slow at first, then every 10 s: the busiest ten minutes are at the end
    def speeds_up(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
        import time

        import requests

        waits = [300.0] * 2 + [10.0] * 100
        for wait in waits:
            body = requests.get(
                f"{base_url}/{endpoint}/{task_id}", headers={"x-api-key": api_key}, timeout=10
            ).json()
            if body["status"] != "PENDING":
                return body
            time.sleep(wait)
        raise TimeoutError

    cfg = ConformanceConfig()
    life = Life("story", (Wait("PENDING", seconds=1200),), "SUCCESS", 1)
    with patched(), Harness(load_client(speeds_up), cfg) as harness:
        run = harness.run(life, "backoff")
    message = judge_backoff(run, cfg)
    assert message is not None
    assert "sent 41 polls in the 10 minutes from t=600 (#3 to #43)" in message
    assert run.outcome == "stopped"  # stopped at the 41st poll, not at the end of the task


# --- settings ----------------------------------------------------------------------------


def test_the_new_settings_are_relaxable_and_flags() -> None:
    cfg = relax(
        ConformanceConfig(),
        [
            "gives-up",
            "give-up-within=3600",
            "backoff-polls=60",
            "timely-lag=120",
            "timely-fraction=0.25",
            "max-stall-wait=900",
        ],
    )
    assert "gives-up" not in cfg.properties
    assert (cfg.give_up_within, cfg.backoff_polls, cfg.timely_lag) == (3600.0, 60, 120.0)
    assert (cfg.timely_fraction, cfg.max_stall_wait) == (0.25, 900.0)
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    flags = "--backoff-polls 30 --give-up-within 7200 --timely-lag 90 --timely-fraction 0.3"
    args = parser.parse_args(["mockcamb.client:poll", *flags.split(), "--max-stall-wait", "120"])
    cfg = config_from_args(args)
    assert (cfg.backoff_polls, cfg.give_up_within, cfg.timely_lag) == (30, 7200.0, 90.0)
    assert (cfg.timely_fraction, cfg.max_stall_wait) == (0.3, 120.0)
