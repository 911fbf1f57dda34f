"""The client-conformance harness: CAMB's documented pollers, the official SDK and deliberately
broken clients, each reported with the property it breaks and the smallest failing life."""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from pollers import broken

from mockcamb import cli
from mockcamb.conformance import (
    PROPERTIES,
    ConformanceConfig,
    FaultSpec,
    Harness,
    Life,
    Report,
    Wait,
    check_client,
    cmd_conform,
    configure_parser,
    judge_politeness,
    life_values,
    load_client,
    property_named,
    relax,
)
from mockcamb.conformance.judges import JUDGES
from mockcamb.core.errors import ConfigError
from mockcamb.core.scenario import parse_scenario
from mockcamb.virtual_time import patched

REAL_PERF = time.perf_counter
FAST = {"examples": 15, "seed": 20260101, "shrink_seconds": 20.0}
NAMES = [p.name for p in PROPERTIES]


def _check(target: str, *props: str, **kw: Any) -> Report:
    cfg = ConformanceConfig(**{**FAST, **kw, "properties": props or tuple(NAMES)})
    return check_client(target, cfg)


def _message(report: Report, prop: str) -> str:
    finding = report.results[prop]
    assert finding is not None, f"{prop} should fail:\n{report.format()}"
    return finding.format()


# --- CAMB's documented pollers -------------------------------------------------------------


@pytest.fixture(scope="module")
def doc_story() -> Report:
    return _check("pollers.doc_story:poll", endpoints=("story",))


@pytest.fixture(scope="module")
def doc_project_setup() -> Report:
    # give-up-within=3600: its 15 s polls reach an hour in 240 requests, not 1000
    return _check(
        "pollers.doc_project_setup:poll", endpoints=("project-setup",), give_up_within=3600.0
    )


def test_doc_story_poller_is_reported_with_its_reasons(doc_story: Report) -> None:
    assert not doc_story.ok
    assert set(doc_story.failed) == {
        "success",
        "politeness",
        "permanent-errors",
        "unknown-status",
        "timeouts",
    }
    success = _message(doc_story, "success")
    assert "NameError: name 'current_substatus' is not defined" in success
    assert "smallest failing life: story: SUCCESS (run_id 1)" in success
    assert '"steps":[{"status":"SUCCESS","run_id":1}]' in success
    assert "Retry-After: 4" in _message(doc_story, "politeness")  # it always waits 3 s
    assert "kept retrying after a permanent" in _message(doc_story, "permanent-errors")
    assert "NameError" in _message(doc_story, "unknown-status")
    assert "waits for its answer with no timeout" in _message(doc_story, "timeouts")
    text = doc_story.format()
    assert "DOES NOT CONFORM: 5 of 10 properties failed" in text
    assert "PASS  1 api-key" in text and "PASS  3 final-status" in text
    # it crashes on its first answer, so it never gets to poll for ever or too often
    assert "PASS  7 gives-up" in text and "PASS  8 backoff" in text


def test_doc_project_setup_poller_is_reported_with_its_reasons(doc_project_setup: Report) -> None:
    assert set(doc_project_setup.failed) == {
        "success",
        "final-status",
        "permanent-errors",
        "gives-up",
        "timeouts",
    }
    success = _message(doc_project_setup, "success")
    assert "returned None" in success
    assert "faults: request 1:" in success  # one transient fault loses the task
    final = _message(doc_project_setup, "final-status")
    assert "kept polling after FAILED was answered" in final
    assert "sent poll #2 30 s later" in final
    assert "returned None after a" in _message(doc_project_setup, "permanent-errors")
    gives_up = _message(doc_project_setup, "gives-up")
    assert "polled a task that never finishes for 3600 s (1 h)" in gives_up
    assert "(241 requests) without giving up" in gives_up
    assert "past the 3600 s (1 h) allowed" in gives_up
    # a fixed 15 s is 40 polls in ten minutes: at the backoff limit, not over it
    assert doc_project_setup.results["backoff"] is None


# --- the official SDK --------------------------------------------------------------------


def test_sdk_poller_on_story_keeps_every_promise_but_politeness() -> None:
    # (gives-up, backoff and timely judge this poller's own loop, not the SDK: left out)
    own = {"gives-up", "backoff", "timely"}
    sdk = tuple(name for name in NAMES if name not in own)
    report = _check("pollers.sdk_poller:poll", *sdk, endpoints=("story",))
    assert set(report.failed) <= {"politeness"}, report.format()
    assert report.results["timeouts"] is None  # the httpx client's 30 s timeout


def test_sdk_retries_a_5xx_sooner_than_a_second() -> None:
    # The SDK's own retry waits 1 s with +-10% jitter: with random.seed(1) the first draw
    # gives 0.927 s, below the 1 s minimum between polls.
    client = load_client("pollers.sdk_poller:poll")
    life = Life("story", run_id=1, fault_groups=((FaultSpec("http_error", 503),),))
    with patched(), Harness(client, ConformanceConfig()) as harness:
        random.seed(1)
        run = harness.run(life, "politeness")
    message = judge_politeness(run, harness.config)
    assert message is not None
    assert re.search(r"poll #2 came 0\.9\d* s after poll #1; at least 1 s are required", message)


def test_sdk_poller_cannot_read_the_documented_project_setup_body() -> None:
    report = _check(
        "pollers.sdk_poller:poll",
        "success",
        "unknown-status",
        endpoints=("project-setup",),
    )
    success = _message(report, "success")
    assert "raised ValidationError" in success
    assert "list[GetCreateProjectSetupResponse]" in success
    assert "Input should be a valid list" in success
    assert "smallest failing life: project-setup: SUCCESS (run_id 1)" in success
    assert report.results["unknown-status"] is not None


# --- deliberately broken clients -----------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "prop", "expected"),
    [
        ("no_api_key", "api-key", "was sent without an x-api-key header"),
        ("hard_coded_key", "api-key", "with an x-api-key other than the one it was given"),
        ("raises_on_transient", "success", "raised HTTPError"),
        ("wrong_run_id", "success", "returned run_id 0, but the task's run_id is 1"),
        ("hot_loop", "politeness", "came 0 s after poll #1; at least 1 s are required"),
        ("ignores_retry_after", "politeness", "after a 429 with Retry-After: 6"),
        ("failed_is_success", "final-status", "reported SUCCESS for a task that ended FAILED"),
        ("polls_after_final", "final-status", "kept polling after FAILED was answered"),
        ("only_success_is_final", "final-status", "kept polling after FAILED was answered"),
        ("retries_404_forever", "permanent-errors", "kept retrying after a permanent 401"),
        ("crashes_on_unknown", "unknown-status", "raised ValueError: unexpected status"),
        (
            "every_second",
            "backoff",
            (
                "sent 41 polls in the 10 minutes from t=0 (#1 to #41) of a long PENDING",
                "more than the 40 allowed; it waited 1 s every time",
            ),
        ),
        (
            "uncapped_backoff",
            "timely",
            (
                "the task finished at t=63; at t=62 it asked to sleep 64 s",
                "the larger of 60 s and 0.5 of the 63 s the task took",
            ),
        ),
        (
            "no_timeout",
            "timeouts",
            (
                "request #1 was stalled (accepted, never answered)",
                "waits for its answer with no timeout: it would hang for ever",
                "-> stalled: accepted and never answered",
            ),
        ),
        (
            "integer_retry_after",
            "success",
            (
                "raised ValueError: could not convert string to float: 'Thu, 01 Jan 1970",
                "was answered 429 with Retry-After: Thu, 01 Jan 1970 00:00:00 GMT (0 s)",
            ),
        ),
        (
            "digits_only_retry_after",
            "politeness",
            "came 5 s after a 429 with Retry-After: Thu, 01 Jan 1970 00:00:06 GMT (6 s)",
        ),
    ],
)
def test_a_broken_client_is_reported(
    client: str, prop: str, expected: str | tuple[str, ...]
) -> None:
    report = _check(f"pollers.broken:{client}", prop)
    message = _message(report, prop)
    for text in (expected,) if isinstance(expected, str) else expected:
        assert text in message
    number = property_named(prop).number
    assert message.startswith(f"property {number} ({prop}) failed:")
    assert "smallest failing life:" in message and "scenario: {" in message
    assert "requests (t = virtual seconds):" in message


def test_the_careful_core_of_the_broken_clients_conforms() -> None:
    report = _check("pollers.broken:careful", examples=5)
    assert report.ok, report.format()


def test_a_hot_loop_is_stopped_within_seconds() -> None:
    started = REAL_PERF()
    report = _check("pollers.broken:hot_loop", "success", shrink_seconds=8.0)
    message = _message(report, "success")
    assert "hot loop: 101 requests in a row without any virtual time passing" in message
    assert "PENDING for 1 s" in message  # a time-driven step never ends without sleeping
    assert REAL_PERF() - started < 30


def test_a_careful_client_giving_up_after_300_polls_is_no_runaway() -> None:
    client = load_client("pollers.broken:only_success_is_final")
    life = Life("story", (Wait("PENDING", polls=500),), "SUCCESS", 1)
    with patched(), Harness(client, ConformanceConfig()) as harness:
        run = harness.run(life, "success")
    assert run.outcome == "raised" and run.error_type == "TimeoutError"
    assert run.stop_reason is None
    assert len(run.exchanges) == 300
    assert run.virtual_seconds == 1500


@pytest.fixture
def release_clients() -> Iterator[None]:
    broken.RELEASE.clear()
    yield
    broken.RELEASE.set()


@pytest.mark.usefixtures("release_clients")
# A hung client is abandoned by design, and the socket it held is collected later.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    ("client", "outcome"),
    [("busy_wait", "stopped"), ("blocks_forever", "hung"), ("swallows_everything", "hung")],
)
def test_a_client_that_never_returns_is_stopped_by_the_watchdog(client: str, outcome: str) -> None:
    target = load_client(f"pollers.broken:{client}")
    cfg = ConformanceConfig(wall_timeout=0.3)
    started = REAL_PERF()
    with patched(), Harness(target, cfg) as harness:
        run = harness.run(Life("story", run_id=1), "success")
        assert run.outcome == outcome
        assert run.stop_reason is not None
        # the next run is not disturbed by a client left behind
        harness.client = load_client("mockcamb.client:poll")
        clean = harness.run(Life("story", run_id=1), "success")
    assert clean.outcome == "returned" and clean.value["status"] == "SUCCESS"
    assert all(e.key == "ok" for e in clean.exchanges) and len(clean.exchanges) == 1
    assert REAL_PERF() - started < 10


def test_a_client_sleeping_past_the_virtual_budget_is_stopped() -> None:
    def sleepy(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
        time.sleep(10**9)

    with patched(), Harness(sleepy, ConformanceConfig(max_virtual_seconds=3600)) as harness:
        run = harness.run(Life("story", run_id=1), "success")
    assert run.outcome == "stopped"
    assert "the budget is 3600 s" in (run.stop_reason or "")


def test_the_request_budget_stops_a_slow_runaway() -> None:
    def forever(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
        while True:
            requests.get(f"{base_url}/{endpoint}/{task_id}", headers={"x-api-key": api_key})
            time.sleep(5)

    cfg = ConformanceConfig(max_requests=50)
    with patched(), Harness(forever, cfg) as harness:
        run = harness.run(Life("story", (Wait("PENDING", polls=10**6),), "SUCCESS", 1), "success")
    assert run.outcome == "stopped"
    assert run.stop_reason == "sent 50 requests, the budget for one task"
    assert len([e for e in run.exchanges if e.served]) == 50


def test_an_async_client_runs_in_virtual_time() -> None:
    async def apoll(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
        while True:
            resp = await asyncio.to_thread(
                requests.get, f"{base_url}/{endpoint}/{task_id}", headers={"x-api-key": api_key}
            )
            body = resp.json()
            if body["status"] != "PENDING":
                return body
            await asyncio.sleep(30)

    client = load_client(apoll)
    life = Life("story", (Wait("PENDING", seconds=90),), "SUCCESS", 9)
    with patched(), Harness(client, ConformanceConfig()) as harness:
        run = harness.run(life, "success")
    assert run.value == {"status": "SUCCESS", "run_id": 9}
    assert [e.clock for e in run.exchanges] == [0, 30, 60, 90]


# --- the pieces ----------------------------------------------------------------------------


@pytest.mark.parametrize("prop", NAMES)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_every_generated_life_is_a_valid_scenario(prop: str, data: st.DataObject) -> None:
    cfg = ConformanceConfig()
    life = data.draw(life_values(prop, cfg))
    scenario = parse_scenario(life.scenario())
    assert scenario.steps[-1].status == (life.final or "PENDING")
    assert life.describe().startswith(life.endpoint)
    runs = _in_a_row(life)
    assert runs <= cfg.max_faults_in_row


def test_every_property_has_lives_and_a_judge() -> None:
    cfg = ConformanceConfig()
    assert set(JUDGES) == set(NAMES)
    for name in NAMES:
        assert life_values(name, cfg) is not None
    with pytest.raises(ConfigError, match="unknown property 'nope'"):
        life_values("nope", cfg)


def _in_a_row(life: Life) -> int:
    return max((len(g) for g in life.fault_groups), default=0)


def test_relax_drops_properties_and_changes_settings() -> None:
    cfg = relax(
        ConformanceConfig(),
        ["politeness", "5", "min-interval=0.5", "permanent_retries=10", "endpoint=story"],
    )
    assert "politeness" not in cfg.properties and "permanent-errors" not in cfg.properties
    assert cfg.min_interval == 0.5 and cfg.permanent_retries == 10
    assert cfg.endpoints == ("story",)


@pytest.mark.parametrize(
    ("item", "error"),
    [
        ("speed", "unknown property 'speed'"),
        ("11", "unknown property '11'"),
        ("backoff-polls=many", "needs a number"),
        ("give-up-within=-1", "give_up_within: must be a finite number >= 0"),
        ("colour=red", "unknown setting 'colour'"),
        ("min-interval=fast", "needs a number"),
        ("endpoint=dubbing", "endpoint: unknown family .dubbing.; known families: story"),
        ("examples=0", "examples: must be at least 1"),
    ],
)
def test_relax_names_a_bad_item(item: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        relax(ConformanceConfig(), [item])


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("pollers.broken", "must look like package.module:function"),
        ("no_such_module_xyz:poll", "cannot import 'no_such_module_xyz'"),
        ("pollers.broken:nothing", "has no attribute 'nothing'"),
        ("pollers.broken:FINAL", "is not callable"),
    ],
)
def test_load_client_names_the_problem(target: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        load_client(target)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return parser.parse_args(list(argv))


def test_cmd_conform_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_conform(_args("mockcamb.client:poll", "--examples", "5", "--seed", "3")) == 0
    out = capsys.readouterr().out
    assert "CONFORMS: 10 properties held" in out
    code = cmd_conform(_args("pollers.broken:no_api_key", "--only", "api-key", "--examples", "5"))
    assert code == 1
    out = capsys.readouterr().out
    assert "FAIL  1 api-key" in out and "without an x-api-key header" in out
    assert "reproduce with --seed" in out
    assert cmd_conform(_args("nonsense")) == 2
    assert "must look like package.module:function" in capsys.readouterr().err
    assert cmd_conform(_args("mockcamb.client:poll", "--only", "speed")) == 2
    assert cmd_conform(_args("mockcamb.client:poll", "--relax", "x=1")) == 2


def test_mockcamb_conform_command(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        [
            "conform",
            "pollers.doc_project_setup:poll",
            "--endpoint",
            "project-setup",
            "--only",
            "final-status",
            "--examples",
            "5",
            "--relax",
            "seed=4",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  3 final-status" in out and "seed 4" in out
    assert "SKIP  4 politeness: not checked" in out
    assert cli.main(["conform", "pollers.broken:nothing"]) == 2


def test_a_relaxed_property_is_not_checked() -> None:
    report = check_client(
        "pollers.doc_project_setup:poll",
        relax(
            ConformanceConfig(**FAST, endpoints=("project-setup",)),
            # (and the slow ones it passes: each life polls every 15 s to the end)
            ["success", "final-status", "permanent-errors", "gives-up", "timeouts", "8", "9"],
        ),
    )
    assert report.ok, report.format()
    assert "SKIP  2 success" in report.format()


_CAPTURED_SLEEP = time.sleep  # like `from time import sleep` in a module loaded too early


def test_a_real_sleep_is_named_in_the_report() -> None:
    def sleeper(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
        _CAPTURED_SLEEP(1.5)

    with patched(), Harness(sleeper, ConformanceConfig(wall_timeout=0.3)) as harness:
        run = harness.run(Life("story", run_id=1), "success")
    assert run.outcome == "hung"
    assert "`from time import sleep`" in (run.stop_reason or "")
