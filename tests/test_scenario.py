"""Scenario documents: what parses, what is refused and how the refusal names the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mockcamb.core.errors import ScenarioError
from mockcamb.core.scenario import (
    MAX_PROBLEMS,
    Latency,
    check_scenario_file,
    load_preset,
    load_scenario_file,
    parse_fault,
    parse_scenario,
    preset_names,
    resolve_scenario,
    scenario_warnings,
)

ISSUE_EXAMPLE = {
    "steps": [
        {"status": "PENDING", "polls": 2},
        {"status": "PENDING", "seconds": 30},
        {"status": "SUCCESS", "run_id": 123},
    ],
    "faults": [
        {"poll": 1, "http_status": 503},
        {"poll": 3, "http_status": 429, "retry_after": 5},
        {"probability": 0.05, "http_status": 500},
    ],
    "latency": {"fixed_ms": 200},
}


def test_the_issue_example_parses_and_round_trips() -> None:
    sc = parse_scenario(ISSUE_EXAMPLE)
    assert [s.status for s in sc.steps] == ["PENDING", "PENDING", "SUCCESS"]
    assert sc.steps[0].polls == 2 and sc.steps[1].seconds == 30.0 and sc.steps[2].run_id == 123
    assert sc.faults[1].retry_after == 5 and sc.faults[2].probability == 0.05
    assert sc.latency == Latency("fixed", 200.0)
    assert parse_scenario(sc.to_dict()) == sc


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        ([], "scenario", "must be an object"),
        ({}, "scenario.steps", "non-empty list"),
        ({"steps": []}, "scenario.steps", "non-empty list"),
        ({"stpes": []}, "scenario.stpes", "unknown field"),
        ({"steps": [{"polls": 1}, {"status": "SUCCESS"}]}, "scenario.steps[0].status", "string"),
        ({"steps": [{"status": ""}]}, "scenario.steps[0].status", "non-empty"),
        ({"steps": [{"status": "PENDING"}, {"status": "SUCCESS"}]}, "scenario.steps[0]", "'polls'"),
        (
            {"steps": [{"status": "PENDING", "polls": 0}, {"status": "SUCCESS"}]},
            "scenario.steps[0].polls",
            ">= 1",
        ),
        (
            {"steps": [{"status": "PENDING", "polls": True}, {"status": "SUCCESS"}]},
            "scenario.steps[0].polls",
            "integer",
        ),
        (
            {"steps": [{"status": "PENDING", "seconds": -1}, {"status": "SUCCESS"}]},
            "scenario.steps[0].seconds",
            "> 0",
        ),
        (
            {"steps": [{"status": "PENDING", "polls": 1, "seconds": 1}, {"status": "SUCCESS"}]},
            "scenario.steps[0]",
            "both",
        ),
        (
            {"steps": [{"status": "SUCCESS", "polls": 1}, {"status": "PENDING"}]},
            "scenario.steps[0].status",
            "final",
        ),
        ({"steps": [{"status": "SUCCESS", "polls": 1}]}, "scenario.steps[0]", "last step"),
        ({"steps": [{"status": "SUCCESS", "run_id": "7"}]}, "scenario.steps[0].run_id", "integer"),
        ({"steps": [{"status": "SUCCESS", "run_id": -1}]}, "scenario.steps[0].run_id", "integer"),
        ({"steps": [{"status": "FAILED", "message": 3}]}, "scenario.steps[0].message", "string"),
        (
            {"steps": [{"status": "ERROR", "exception_reason": 1}]},
            "scenario.steps[0].exception_reason",
            "string",
        ),
        (
            {"steps": [{"status": "SUCCESS", "extra": {"status": "x"}}]},
            "scenario.steps[0].extra.status",
            "on the step itself",
        ),
        ({"steps": [{"status": "SUCCESS"}], "faults": {}}, "scenario.faults", "list"),
        (
            {"steps": [{"status": "SUCCESS"}], "faults": [{"http_status": 500}]},
            "scenario.faults[0]",
            "exactly one of 'poll'",
        ),
        (
            {"steps": [{"status": "SUCCESS"}], "faults": [{"poll": 1}]},
            "scenario.faults[0].http_status",
            "required",
        ),
        (
            {"steps": [{"status": "SUCCESS"}], "faults": [{"poll": 1, "http_status": 200}]},
            "scenario.faults[0].http_status",
            "400 to 599",
        ),
        (
            {"steps": [{"status": "SUCCESS"}], "faults": [{"poll": 0, "http_status": 500}]},
            "scenario.faults[0].poll",
            ">= 1",
        ),
        (
            {"steps": [{"status": "SUCCESS"}], "faults": [{"poll": [], "http_status": 500}]},
            "scenario.faults[0].poll",
            "empty",
        ),
        (
            {
                "steps": [{"status": "SUCCESS"}],
                "faults": [{"probability": 1.5, "http_status": 500}],
            },
            "scenario.faults[0].probability",
            "0 to 1",
        ),
        (
            {"steps": [{"status": "SUCCESS"}], "faults": [{"poll": 1, "type": "explode"}]},
            "scenario.faults[0].type",
            "drop_connection",
        ),
        (
            {
                "steps": [{"status": "SUCCESS"}],
                "faults": [{"poll": 1, "http_status": 429, "retry_after": -2}],
            },
            "scenario.faults[0].retry_after",
            "seconds",
        ),
        (
            {
                "steps": [{"status": "SUCCESS"}],
                "faults": [{"poll": 1, "type": "non_json", "body": {}}],
            },
            "scenario.faults[0].body",
            "http_error",
        ),
        (
            {
                "steps": [{"status": "SUCCESS"}],
                "faults": [{"poll": 1, "type": "empty_body", "body": "x"}],
            },
            "scenario.faults[0].body",
            "only allowed",
        ),
        (
            {
                "steps": [{"status": "SUCCESS"}],
                "faults": [{"poll": 1, "type": "truncated_json", "body": "\ud800"}],
            },
            "scenario.faults[0].body",
            "exact text",
        ),
        ({"steps": [{"status": "SUCCESS"}], "latency": {}}, "scenario.latency", "exactly one"),
        (
            {"steps": [{"status": "SUCCESS"}], "latency": {"fixed_ms": -5}},
            "scenario.latency.fixed_ms",
            "milliseconds",
        ),
        (
            {"steps": [{"status": "SUCCESS"}], "latency": {"fixed_ms": 10**9}},
            "scenario.latency.fixed_ms",
            "60000",
        ),
        (
            {"steps": [{"status": "SUCCESS"}], "latency": {"uniform_ms": [50, 10]}},
            "scenario.latency.uniform_ms",
            "below",
        ),
        (
            {"steps": [{"status": "SUCCESS"}], "latency": {"lognormal": {"sigma": 1}}},
            "scenario.latency.lognormal.median_ms",
            "required",
        ),
        ({"steps": [{"status": "SUCCESS"}], "seed": "x"}, "scenario.seed", "integer"),
    ],
)
def test_bad_scenarios_name_the_field(doc: Any, field: str, words: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(doc)
    assert info.value.field == field
    assert words in info.value.problem


def test_custom_statuses_are_allowed_and_not_final() -> None:
    sc = parse_scenario(
        {
            "steps": [
                {"status": "PROCESSING", "polls": 1},
                {"status": "DUBBING", "seconds": 5},
                {"status": "CANCELLED"},
            ]
        }
    )
    assert [s.status for s in sc.steps] == ["PROCESSING", "DUBBING", "CANCELLED"]


def test_every_preset_loads_and_is_shared() -> None:
    names = preset_names()
    for required in (
        "happy_path",
        "slow_success",
        "fails_after_3_polls",
        "error",
        "timeout",
        "payment_required",
        "flaky_network",
        "never_finishes",
        "unknown_status",
    ):
        assert required in names
    for name in names:
        sc = load_preset(name)
        assert sc.name == name and sc.description
        assert load_preset(name) is sc


def test_fixtures_folder_holds_the_presets() -> None:
    folder = Path(__file__).parent.parent / "fixtures" / "scenarios"
    assert sorted(p.stem for p in folder.glob("*.yaml")) == preset_names()


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ScenarioError, match=r"no preset named .*happy_path"):
        resolve_scenario("no-such-preset")
    with pytest.raises(ScenarioError, match="no preset named"):
        resolve_scenario("../../etc/passwd")


def test_files_load_only_when_allowed(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("steps:\n  - {status: PENDING, polls: 1}\n  - {status: SUCCESS}\n")
    assert len(resolve_scenario(str(path), allow_files=True).steps) == 2
    with pytest.raises(ScenarioError):
        resolve_scenario(str(path))


def test_file_errors_are_scenario_errors(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("steps: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid"):
        load_scenario_file(bad_yaml)
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("!!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ScenarioError, match="not valid"):
        load_scenario_file(unsafe)
    with pytest.raises(ScenarioError, match="cannot be read"):
        load_scenario_file(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "latency",
    [Latency("fixed", 200.0), Latency("uniform", 10.0, 30.0), Latency("lognormal", 100.0, 0.5)],
)
def test_latency_samples_stay_in_range(latency: Latency) -> None:
    draws = [latency.sample(i / 101, (i * 37 % 101) / 101) for i in range(101)]
    assert all(0 <= d <= 60 for d in draws)
    if latency.kind == "fixed":
        assert set(draws) == {0.2}
    if latency.kind == "uniform":
        assert min(draws) >= 0.010 and max(draws) <= 0.030
    if latency.kind == "lognormal":
        assert sorted(draws)[50] == pytest.approx(0.1, rel=0.2)


def test_every_problem_of_a_document_is_reported_one_a_line() -> None:
    doc = {
        "steps": [{"status": "SUCCESS", "polls": 1}, {"status": "PENDING", "polls": 0}],
        "faults": [{"poll": 0, "http_status": 503, "retry_afer": 5}],
        "latency": {"fixed_ms": -1},
        "seed": "x",
    }
    with pytest.raises(ScenarioError) as info:
        parse_scenario(doc)
    exc = info.value
    fields = [p.field("scenario") for p in exc.problems]
    assert fields == [
        "scenario.steps[0].status",
        "scenario.steps[1].polls",
        "scenario.steps[1]",
        "scenario.faults[0].retry_afer",
        "scenario.faults[0].poll",
        "scenario.latency.fixed_ms",
        "scenario.seed",
    ]
    assert exc.field == "scenario.steps[0].status" and "final" in exc.problem  # the first
    lines = str(exc).splitlines()
    assert len(lines) == 7 and all(line.startswith("scenario.") for line in lines)
    assert lines[4] == "scenario.faults[0].poll: must be an integer >= 1, got 0"


def test_the_report_of_a_huge_bad_document_stays_bounded() -> None:
    doc = {"steps": [{"status": 1, "polls": 1} for _ in range(900)] + [{"status": "SUCCESS"}]}
    with pytest.raises(ScenarioError) as info:
        parse_scenario(doc)
    assert len(info.value.problems) == MAX_PROBLEMS
    assert info.value.more == 900 - MAX_PROBLEMS
    assert str(info.value).splitlines()[-1] == "scenario: and 850 more problems"


def test_a_poll_list_names_the_bad_item() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_fault({"poll": [1, "two", 0], "http_status": 503}, "fault")
    assert [p.field("fault") for p in info.value.problems] == ["fault.poll[1]", "fault.poll[2]"]


@pytest.mark.parametrize(
    ("status", "meant"),
    [("SUCESS", "SUCCESS"), ("success", "SUCCESS"), ("Failed", "FAILED"), ("TIMED_OUT", "TIMEOUT")],
)
def test_a_near_miss_status_is_a_warning_not_an_error(status: str, meant: str) -> None:
    sc = parse_scenario({"steps": [{"status": "PENDING", "polls": 1}, {"status": status}]})
    (warning,) = scenario_warnings(sc)
    assert warning.warning and warning.field("scenario") == "scenario.steps[1].status"
    assert f"did you mean {meant}?" in warning.message and "never finishes" in warning.message


def test_custom_statuses_far_from_the_documented_ones_and_presets_warn_of_nothing() -> None:
    sc = parse_scenario(
        {
            "steps": [
                {"status": "PROCESSING", "polls": 1},
                {"status": "PENDNG", "polls": 1},
                {"status": "CANCELLED"},
            ]
        }
    )
    (warning,) = scenario_warnings(sc)
    assert warning.path == ("steps", 1, "status") and "did you mean PENDING?" in warning.message
    assert "still running" in warning.message
    for name in preset_names():
        assert scenario_warnings(load_preset(name)) == (), name


@pytest.mark.parametrize(
    ("doc", "field", "meant"),
    [
        (
            {
                "steps": [{"status": "SUCCESS"}],
                "faults": [{"poll": 1, "http_status": 429, "retry_afer": 5}],
            },
            "scenario.faults[0].retry_afer",
            "retry_after",
        ),
        ({"step": [{"status": "SUCCESS"}]}, "scenario.step", "steps"),
        ({"steps": [{"Status": "SUCCESS"}]}, "scenario.steps[0].Status", "status"),
        (
            {"steps": [{"status": "SUCCESS"}], "faults": [{"poll": 1, "type": "drop_conection"}]},
            "scenario.faults[0].type",
            "drop_connection",
        ),
    ],
)
def test_near_miss_field_names_are_errors_that_say_what_was_meant(
    doc: Any, field: str, meant: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(doc)
    assert info.value.field == field
    assert f"did you mean {meant}?" in info.value.problem


def test_unknown_presets_suggest_the_near_miss() -> None:
    with pytest.raises(ScenarioError, match=r"did you mean happy_path\?"):
        resolve_scenario("happy_pth")


def test_file_reports_name_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "steps:\n"
        "  - {status: PENDING}\n"
        "  - status: SUCCESS\n"
        "    run_id: -1\n"
        "faults:\n"
        "  - {poll: 0, http_status: 503}\n"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario_file(path)
    assert str(info.value).splitlines() == [
        f"{path}:2: steps[0]: needs 'polls' or 'seconds' (only the last step may omit them)",
        f"{path}:4: steps[1].run_id: must be a non-negative integer, got -1",
        f"{path}:6: faults[0].poll: must be an integer >= 1, got 0",
    ]
    assert info.value.field == "steps[0]"  # the path no longer glued to the file name
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("steps:\n  - {status: PENDING\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario_file(bad_yaml)
    assert str(info.value).startswith(f"{bad_yaml}:3: is not valid YAML: ")
    assert "<unicode string>" not in str(info.value)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"steps": [\n  {"status": "SUCCESS"},\n]}')
    with pytest.raises(ScenarioError, match=r"bad\.json:3: is not valid JSON: Expecting value"):
        load_scenario_file(bad_json)


def test_file_warnings_carry_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("steps:\n  - {status: PENDING, polls: 1}\n  - {status: SUCESS}\n")
    scenario, warnings = check_scenario_file(path)
    assert [s.status for s in scenario.steps] == ["PENDING", "SUCESS"]
    assert [w.describe("", "typo.yaml", "warning") for w in warnings] == [
        'typo.yaml:3: warning: steps[1].status: "SUCESS" is a custom status, so the task '
        "never finishes; did you mean SUCCESS?"
    ]


def test_a_dropped_connection_fault_shows_no_status_code() -> None:
    fault = parse_scenario(
        {"steps": [{"status": "SUCCESS"}], "faults": [{"type": "drop_connection", "poll": 1}]}
    ).faults[0]
    assert fault.to_dict() == {"type": "drop_connection", "poll": 1}
    assert (
        parse_scenario({"steps": [{"status": "SUCCESS"}], "faults": [fault.to_dict()]}).faults[0]
        == fault
    )


@pytest.mark.parametrize(
    ("ftype", "content_type"),
    [
        ("non_json", "text/html; charset=utf-8"),
        ("truncated_json", "application/json"),
        ("malformed_json", "application/json"),
    ],
)
def test_text_bodies_are_sent_exactly(ftype: str, content_type: str) -> None:
    from mockcamb.core.emulator import Emulator

    text = '<p>Bad gateway</p> {"status":"PEND \u00e9'
    doc = {
        "steps": [{"status": "PENDING"}],
        "faults": [{"poll": 1, "type": ftype, "http_status": 502, "body": text}],
    }
    scenario = parse_scenario(doc)
    assert parse_scenario(scenario.to_dict()) == scenario
    emu = Emulator()
    emu.create_task("story", "t", scenario)
    reply = emu.status("story", "t", "k")
    assert (reply.status_code, reply.payload(), reply.content_type) == (
        502,
        text.encode(),
        content_type,
    )
    assert emu.status("story", "t", "k").body == {"status": "PENDING", "run_id": None}
