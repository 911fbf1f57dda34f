"""mockcamb.strategies: every drawn value is what it claims (scenarios parse, faults parse,
hostile ids stay inside their path segment, keys are well-formed)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from mockcamb import strategies as ms
from mockcamb.core.scenario import (
    RETRY_AFTER_FORMATS,
    parse_fault,
    parse_latency,
    parse_scenario,
)
from mockcamb.core.statuses import DOCUMENTED_STATUSES, FINAL_STATUSES, PENDING, is_final


@given(ms.statuses())
def test_statuses_are_documented(status: str) -> None:
    assert status in DOCUMENTED_STATUSES


@given(ms.statuses(custom=True))
def test_custom_statuses_are_non_empty_strings(status: str) -> None:
    assert isinstance(status, str) and status.strip()


@given(ms.custom_statuses())
def test_custom_statuses_are_undocumented(status: str) -> None:
    assert status not in DOCUMENTED_STATUSES and not is_final(status)


@given(ms.final_statuses())
def test_final_statuses_are_final(status: str) -> None:
    assert status in FINAL_STATUSES


@given(ms.failure_statuses())
def test_failure_statuses_are_final_but_not_success(status: str) -> None:
    assert is_final(status) and status != "SUCCESS"


@given(
    ms.scenarios(
        custom=True, with_faults=True, probabilistic_faults=True, with_latency=True, max_steps=6
    )
)
def test_scenarios_parse(doc: dict[str, Any]) -> None:
    scenario = parse_scenario(doc)
    assert len(scenario.steps) == len(doc["steps"])
    assert scenario.to_dict()["steps"][0]["status"] == doc["steps"][0]["status"]


@given(ms.scenarios(custom=True))
def test_scenarios_never_move_backwards(doc: dict[str, Any]) -> None:
    statuses = [s["status"] for s in doc["steps"]]
    left_pending = False
    for status in statuses:
        assert not (left_pending and status == PENDING), statuses
        left_pending = left_pending or status != PENDING
    assert not any(is_final(s) for s in statuses[:-1])


@pytest.mark.parametrize("final", [True, False])
@given(data=st.data())
def test_scenarios_honour_final(final: bool, data: st.DataObject) -> None:
    doc = data.draw(ms.scenarios(final=final))
    assert is_final(doc["steps"][-1]["status"]) is final


@given(ms.scenarios())
def test_scenarios_have_no_faults_or_latency_unless_asked(doc: dict[str, Any]) -> None:
    assert "faults" not in doc and "latency" not in doc


@given(ms.faults(max_poll=5))
def test_faults_parse(doc: dict[str, Any]) -> None:
    fault = parse_fault(doc, "fault")
    assert fault.probability is not None or max(fault.polls) <= 5


@pytest.mark.parametrize("ra_format", RETRY_AFTER_FORMATS)
def test_faults_draw_every_retry_after_format(ra_format: str) -> None:
    doc = find(
        ms.faults(),
        lambda d: d.get("retry_after_format") == ra_format,
        # no shrinking: any such fault will do (shrinking it hung once, late in a full run)
        settings=settings(database=None, max_examples=2000, phases=[Phase.generate]),
    )
    fault = parse_fault(doc, "fault")
    assert fault.retry_after is not None and fault.retry_after_format == ra_format


@given(ms.faults(probabilistic=False, types=("http_error",)))
def test_faults_can_be_restricted(doc: dict[str, Any]) -> None:
    assert doc["type"] == "http_error" and "poll" in doc


def test_faults_reject_unknown_types() -> None:
    with pytest.raises(ValueError, match="subset"):
        ms.faults(types=("teleport",))


@given(ms.latencies(max_ms=20))
def test_latencies_parse_and_stay_small(doc: dict[str, Any]) -> None:
    latency = parse_latency(doc)
    assert latency is not None and latency.sample(0.5, 0.5) <= 20 / 1000 * 30


@given(ms.api_keys())
def test_api_keys_are_well_formed(key: str) -> None:
    assert 8 <= len(key) <= 64 and set(key) <= set(ms.API_KEY_ALPHABET)


@given(ms.hostile_task_ids())
def test_hostile_ids_are_sendable_and_stay_in_their_segment(wire: str) -> None:
    assert wire.isascii() and wire.isprintable()
    assert not set(wire) & set(" ?#")
    assert 0 < len(wire) <= ms.MAX_HOSTILE_ID_BYTES
    depth = 0
    for segment in unquote(unquote(wire)).split("/"):
        if segment in ("", "."):
            continue
        depth += -1 if segment == ".." else 1
        assert depth >= 1, wire
    assert depth >= 1


def test_hostile_ids_cover_the_odd_cases() -> None:
    """Unicode, very long, encoded slashes and dots, NUL and empty segments all turn up."""
    seen: list[str] = []

    @settings(max_examples=300, derandomize=True, database=None)
    @given(ms.hostile_task_ids())
    def collect(wire: str) -> None:
        seen.append(wire)

    collect()
    joined = "\n".join(seen)
    for marker in ("%00", "%2F", "%2e%2e", "//", "%E2"):
        assert marker.lower() in joined.lower(), marker
    assert any(len(w) >= 300 for w in seen)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        ms.scenarios(max_steps=0)
