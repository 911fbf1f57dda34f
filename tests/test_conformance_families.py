"""The conformance harness over families: a client declares the families it supports
(``poll.families``), ``--endpoint`` restricts them, an undeclared client runs over the
default; the report (text and JSON) names the families each property ran over and why the
others were skipped."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

import pytest
from pollers import declared

from mockcamb.conformance import (
    DEFAULT_ENDPOINTS,
    ConformanceConfig,
    Report,
    check_client,
    cmd_conform,
    configure_parser,
    plan_families,
)
from mockcamb.core.errors import ConfigError
from mockcamb.core.routes import KINDS

FAST = {"examples": 4, "seed": 20261201, "properties": ("api-key", "success", "final-status")}
KNOWN = "known families: " + ", ".join(KINDS)


@pytest.fixture(autouse=True)
def called() -> Iterator[list[str]]:
    declared.CALLED.clear()
    yield declared.CALLED
    declared.CALLED.clear()


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return parser.parse_args(list(argv))


def _check(target: Any, **kw: Any) -> Report:
    return check_client(target, ConformanceConfig(**{**FAST, **kw}))


def test_a_client_that_declares_dub_and_tts_is_run_over_those_only(called: list[str]) -> None:
    report = _check("pollers.declared:dub_and_tts")
    assert report.ok, report.format()
    assert set(called) == {"dub", "tts"}  # never story or project-setup
    for prop in FAST["properties"]:
        assert set(report.lives_by_family[prop]) == {"dub", "tts"}
        assert all(n >= 1 for n in report.lives_by_family[prop].values())
        assert sum(report.lives_by_family[prop].values()) == report.examples[prop]
    text = report.format()
    assert "  families: dub, tts (declared by the client's families attribute)" in text
    skipped = [line for line in text.splitlines() if line.startswith("  skipped: ")]
    assert skipped == [
        "  skipped: story, project-setup, dub-alt-format, translated-tts, translation, "
        "transcription, subtitles, text-to-sound, text-to-voice, audio-separation, "
        "translated-story: not declared by the client"
    ]
    assert "      run over dub (2 lives), tts (2 lives)" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["families"]["run"] == ["dub", "tts"]
    assert data["families"]["declared"] == ["dub", "tts"] and not data["families"]["default"]
    assert data["families"]["skipped"]["story"] == "not declared by the client"
    assert "dub" not in data["families"]["skipped"]
    checked = [p for p in data["properties"] if p["result"] != "skip"]
    assert [p["name"] for p in checked] == list(FAST["properties"])
    assert all(set(p["families"]) == {"dub", "tts"} for p in checked)


def test_an_undeclared_client_is_run_over_the_default_and_the_report_says_so(
    called: list[str],
) -> None:
    report = _check("pollers.declared:undeclared")
    assert set(called) == set(DEFAULT_ENDPOINTS) == {"story", "project-setup"}
    text = report.format()
    assert "  families: story, project-setup (the default: the client declares no families" in text
    assert (
        "dub, dub-alt-format, tts" in text and "not in the default (story, project-setup)" in text
    )
    data = report.to_dict()
    assert data["families"]["default"] is True and data["families"]["declared"] is None
    assert data["families"]["run"] == ["story", "project-setup"]
    assert data["families"]["skipped"]["dub"] == "not in the default (story, project-setup)"


def test_endpoint_restricts_what_the_client_declares(called: list[str]) -> None:
    report = _check("pollers.declared:dub_and_tts", endpoints=("tts",))
    assert set(called) == {"tts"}
    assert report.families is not None and report.families.run == ("tts",)
    assert report.families.skipped["dub"] == "declared by the client, left out by --endpoint"
    assert "restricted by --endpoint" in report.format()


def test_a_family_name_stands_for_its_status_path_and_an_object_may_declare(
    called: list[str],
) -> None:
    report = _check(declared.POLLER.poll, properties=("api-key",))
    assert report.ok, report.format()
    assert set(called) == {"transcribe", "discord/dub"}
    assert "families: transcription [transcribe], dub [discord/dub]" in report.format()
    # an --endpoint family name too
    declared.CALLED.clear()
    _check("pollers.declared:undeclared", endpoints=("transcription",), properties=("api-key",))
    assert set(called) == {"transcribe"}


def test_the_families_after_a_failing_one_are_named_as_not_searched(called: list[str]) -> None:
    report = _check("pollers.declared:keyless_dub_and_tts", properties=("api-key",))
    assert report.failed == ["api-key"]
    assert set(called) == {"dub"}
    assert report.not_run["api-key"] == {"tts": "not searched: the property failed on dub"}
    assert "; tts not searched: the property failed on dub" in report.format()
    prop = report.to_dict()["properties"][0]
    assert prop["result"] == "fail" and prop["not_run"] == report.not_run["api-key"]


@pytest.mark.parametrize(
    "argv",
    [
        ("pollers.declared:misspelt",),
        ("pollers.declared:undeclared", "--endpoint", "dubbing"),
        ("pollers.declared:undeclared", "--relax", "endpoint=dubbing"),
    ],
)
def test_a_bad_family_name_exits_2_with_the_known_families(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cmd_conform(_args(*argv)) == 2
    err = capsys.readouterr().err
    assert "unknown family 'dubbing'" in err and KNOWN in err
    assert "(or a status path: story, project-setup, dub, discord/dub" in err


def test_an_endpoint_the_client_does_not_declare_leaves_nothing_to_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cmd_conform(_args("pollers.declared:dub_and_tts", "--endpoint", "story")) == 2
    err = capsys.readouterr().err
    assert "the client declares dub, tts; --endpoint names story: nothing to run" in err


def test_conform_json_names_the_families(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ("pollers.declared:dub_and_tts", "--only", "api-key", "--examples", "2", "--json")
    assert cmd_conform(_args(*argv, "--seed", "5")) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True and data["seed"] == 5
    assert data["families"]["run"] == ["dub", "tts"]
    api_key = data["properties"][0]
    assert api_key["result"] == "pass" and api_key["families"] == {"dub": 1, "tts": 1}
    assert data["properties"][1]["result"] == "skip"


@pytest.mark.parametrize(
    ("families", "error"),
    [
        (42, "must be a family name or a tuple of them"),
        ((), "declares no family"),
        (("tts", 7), "unknown family 7"),
    ],
)
def test_a_bad_declaration_is_a_config_error(families: object, error: str) -> None:
    def client(base_url: str, api_key: str, endpoint: str, task_id: str) -> None:
        return None

    client.families = families  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=error):
        plan_families(client)


def test_a_declared_string_is_one_family() -> None:
    def client(base_url: str, api_key: str, endpoint: str, task_id: str) -> None:
        return None

    client.families = "text-to-sound"  # type: ignore[attr-defined]
    plan = plan_families(client, ())
    assert plan.run == ("text-to-sound",) and len(plan.skipped) == len(KINDS) - 1
