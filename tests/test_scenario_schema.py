"""The published JSON Schema for scenario files agrees with parse_scenario.

Editors validate ``fixtures/scenarios/*.yaml`` with ``mockcamb/scenario.schema.json``, so a
file mockcamb accepts must never be flagged, and a file the schema accepts must run, except
for the few rules JSON Schema cannot state (named in INEXPRESSIBLE below).
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mockcamb.core.errors import ScenarioError
from mockcamb.core.scenario import (
    FAULT_TYPES,
    MAX_LATENCY_MS,
    MAX_STEP_SECONDS,
    parse_scenario,
    preset_names,
)
from mockcamb.core.statuses import DOCUMENTED_STATUSES, FINAL_STATUSES
from mockcamb.strategies import scenarios

SCHEMA: dict[str, Any] = json.loads(
    resources.files("mockcamb").joinpath("scenario.schema.json").read_text(encoding="utf-8")
)
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "scenarios"

#: Parser rules no JSON Schema can state: which step is last, and lo <= hi in uniform_ms.
INEXPRESSIBLE = (
    "is the last step, which holds for ever",
    "needs 'polls' or 'seconds' (only the last step may omit them)",
    "is below lo",
    "before it starts",
)


def parse_problem(doc: Any) -> str | None:
    try:
        parse_scenario(doc)
    except ScenarioError as exc:
        return str(exc)
    return None


def schema_ok(doc: Any) -> bool:
    return VALIDATOR.is_valid(doc)


def check_agreement(doc: Any) -> None:
    problem = parse_problem(doc)
    if problem is None:
        errors = [e.message for e in VALIDATOR.iter_errors(doc)]
        assert not errors, f"parse_scenario accepts {doc!r} but the schema says {errors}"
    elif schema_ok(doc):
        assert any(rule in problem for rule in INEXPRESSIBLE), (
            f"the schema accepts {doc!r} but parse_scenario says: {problem}"
        )


def test_the_schema_is_a_valid_draft7_schema_and_ships_in_the_package() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_the_schema_names_the_same_vocabularies_as_the_code() -> None:
    defs = SCHEMA["definitions"]
    assert tuple(defs["fault"]["properties"]["type"]["enum"]) == FAULT_TYPES
    final_rule = defs["step"]["allOf"][1]["if"]["properties"]["status"]["enum"]
    assert set(final_rule) == FINAL_STATUSES
    assert defs["step"]["properties"]["status"]["examples"] == list(DOCUMENTED_STATUSES)
    assert defs["step"]["properties"]["seconds"]["maximum"] == MAX_STEP_SECONDS
    assert defs["latency"]["properties"]["fixed_ms"]["maximum"] == MAX_LATENCY_MS


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_validates(name: str) -> None:
    doc = yaml.safe_load((SCENARIO_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(doc)]
    assert errors == []
    assert parse_problem(doc) is None


def test_a_dollar_schema_key_is_allowed_so_files_can_point_editors_at_the_schema() -> None:
    doc = {"$schema": "../../mockcamb/scenario.schema.json", "steps": [{"status": "SUCCESS"}]}
    assert schema_ok(doc)
    assert parse_problem(doc) is None


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"steps": []},
        {"steps": [{"status": "PENDING", "polls": 0}, {"status": "SUCCESS"}]},
        {"steps": [{"status": "PENDING", "polls": 1, "seconds": 2}, {"status": "SUCCESS"}]},
        {"steps": [{"status": "SUCCESS", "polls": 1}, {"status": "ERROR"}]},
        {"steps": [{"status": "PENDING", "polls": 1}]},
        {"steps": [{"status": "   "}]},
        {"steps": [{"status": "SUCCESS", "extra": {"status": "X"}}]},
        {"steps": [{"status": "SUCCESS"}], "faults": [{"poll": 1}]},
        {"steps": [{"status": "SUCCESS"}], "faults": [{"poll": 1, "http_status": 302}]},
        {"steps": [{"status": "SUCCESS"}], "faults": [{"poll": 1, "probability": 0.5}]},
        {"steps": [{"status": "SUCCESS"}], "faults": [{"seconds": [1, 2], "poll": 1}]},
        {"steps": [{"status": "SUCCESS"}], "faults": [{"seconds": 5, "http_status": 500}]},
        {"steps": [{"status": "SUCCESS"}], "faults": [{"seconds": [-1, 2], "http_status": 500}]},
        {"steps": [{"status": "SUCCESS"}], "faults": [{"seconds": [], "type": "empty_body"}]},
        {"steps": [{"status": "SUCCESS"}], "faults": [{"type": "non_json", "probability": 2}]},
        {"steps": [{"status": "SUCCESS"}], "faults": [{"type": "empty_body", "poll": [], "x": 1}]},
        {
            "steps": [{"status": "SUCCESS"}],
            "faults": [{"type": "drop_connection", "poll": 1, "body": {"a": 1}}],
        },
        {"steps": [{"status": "SUCCESS"}], "latency": {"fixed_ms": 1, "uniform_ms": [1, 2]}},
        {"steps": [{"status": "SUCCESS"}], "latency": {"lognormal": {"sigma": 1}}},
        {"steps": [{"status": "SUCCESS"}], "seed": "7"},
        {"steps": [{"status": "SUCCESS"}], "surprise": True},
    ],
)
def test_documents_both_reject(doc: dict[str, Any]) -> None:
    assert parse_problem(doc) is not None
    assert not schema_ok(doc)


# --- hypothesis: documents near every boundary, valid and invalid -------------------------

_fractional = st.floats(-10, 10, allow_nan=False).filter(lambda x: not float(x).is_integer())
_junk = st.one_of(
    st.none(), st.booleans(), st.text(max_size=5), st.lists(st.integers(), max_size=2)
)


def _either(valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any]) -> Any:
    """Mostly a valid value, one time in twelve an invalid one."""
    return st.integers(0, 11).flatmap(lambda i: invalid if i == 6 else valid)


_bad_statuses = st.one_of(st.just(""), st.just(" \t"), st.text(min_size=101, max_size=102), _junk)
_last_statuses = _either(
    st.one_of(st.sampled_from(DOCUMENTED_STATUSES), st.text(min_size=1, max_size=12)),
    _bad_statuses,
)
_running_statuses = _either(
    st.sampled_from(["PENDING", "QUEUED", "Rendering 50%"]),
    st.one_of(st.sampled_from(sorted(FINAL_STATUSES)), _bad_statuses),
)
_polls = _either(st.integers(1, 5), st.one_of(st.integers(-2, 0), _fractional, _junk))
_seconds = _either(
    st.one_of(st.integers(1, 100), st.floats(0.001, MAX_STEP_SECONDS)),
    st.one_of(st.just(0), st.floats(-5, 0), st.just(MAX_STEP_SECONDS * 2), _junk),
)
_run_ids = _either(
    st.one_of(st.none(), st.integers(0, 2**63 - 1)),
    st.one_of(st.integers(-5, -1), st.just(2**63), _fractional, st.text(max_size=3)),
)
_messages = _either(
    st.one_of(st.none(), st.text(max_size=5), st.dictionaries(st.text(max_size=3), st.integers())),
    st.one_of(st.integers(), st.lists(st.integers(), max_size=1)),
)
_reasons = _either(st.one_of(st.none(), st.just("PROCESSING_ERROR")), st.integers())
_extras = _either(
    st.dictionaries(st.sampled_from(["progress", "eta", "note"]), st.integers(), max_size=2),
    st.one_of(st.none(), st.just({"status": "X"}), st.just({"run_id": 1}), st.just([1])),
)


def rare(draw: st.DrawFn, n: int) -> bool:
    """True about once in ``n + 1`` draws (a middle value: hypothesis favours the ends)."""
    return bool(draw(st.integers(0, n)) == n // 2)


@st.composite
def steps(draw: st.DrawFn) -> list[Any]:
    n = draw(st.integers(1, 4))
    out: list[Any] = []
    for i in range(n):
        last = i == n - 1
        step: dict[str, Any] = {"status": draw(_last_statuses if last else _running_statuses)}
        timing = draw(
            st.sampled_from(
                ["none", "polls", "seconds", "both"]
                if rare(draw, 5)
                else (["none"] if last else ["polls", "seconds"])
            )
        )
        if timing in ("polls", "both"):
            step["polls"] = draw(_polls)
        if timing in ("seconds", "both"):
            step["seconds"] = draw(_seconds)
        for key, values in (
            ("run_id", _run_ids),
            ("message", _messages),
            ("exception_reason", _reasons),
            ("extra", _extras),
        ):
            if rare(draw, 3):
                step[key] = draw(values)
        if rare(draw, 20):
            del step["status"]
        if rare(draw, 20):
            step["unknown"] = 1
        out.append(step)
    return out


_ms = _either(
    st.floats(0, MAX_LATENCY_MS),
    st.one_of(st.floats(-5, -0.01), st.just(MAX_LATENCY_MS + 1), _junk),
)


@st.composite
def latencies(draw: st.DrawFn) -> Any:
    kinds = draw(
        st.lists(
            st.sampled_from(["fixed_ms", "uniform_ms", "lognormal"]),
            min_size=1 if not rare(draw, 9) else 0,
            max_size=2,
            unique=True,
        )
    )
    doc: dict[str, Any] = {}
    for kind in kinds:
        if kind == "fixed_ms":
            doc[kind] = draw(_ms)
        elif kind == "uniform_ms":
            doc[kind] = draw(
                st.lists(
                    _ms,
                    min_size=1 if rare(draw, 9) else 2,
                    max_size=2 if not rare(draw, 9) else 3,
                )
            )
        else:
            ln: dict[str, Any] = {}
            if not rare(draw, 9):
                ln["median_ms"] = draw(_ms)
            if draw(st.booleans()):
                ln["sigma"] = draw(
                    _either(
                        st.floats(0, 5), st.one_of(st.floats(5.01, 9), st.floats(-2, -0.01), _junk)
                    )
                )
            doc[kind] = ln
    return doc if not rare(draw, 9) else draw(st.one_of(st.none(), _junk))


_window = st.tuples(
    st.one_of(st.integers(0, 100), st.floats(0, 1e12)),
    st.one_of(st.none(), st.integers(1, 100), st.floats(0.001, 1e3)),
).map(lambda w: [w[0], None if w[1] is None else w[0] + w[1]])
_windows = st.one_of(_window, st.lists(_window, min_size=1, max_size=3))
_bad_windows = st.one_of(
    st.just([]),
    st.just([5, 3]),
    st.just([-1, 2]),
    st.just([1]),
    st.just([[1, 2], [3]]),
    st.just([1, 2e12]),
    st.integers(0, 5),
    _junk,
)


@st.composite
def faults(draw: st.DrawFn) -> Any:
    doc: dict[str, Any] = {}
    if not rare(draw, 5):
        doc["type"] = draw(_either(st.sampled_from(FAULT_TYPES), st.one_of(st.just("boom"), _junk)))
    which = draw(
        st.sampled_from(["poll", "probability", "poll", "probability", "seconds", "both", "none"])
    )
    if which == "seconds" or (which == "both" and draw(st.booleans())):
        doc["seconds"] = draw(_either(_windows, _bad_windows))
    if which in ("poll", "both"):
        doc["poll"] = draw(
            _either(
                st.one_of(st.integers(1, 9), st.lists(st.integers(1, 9), min_size=1, max_size=3)),
                st.one_of(
                    st.integers(-1, 0),
                    st.just([]),
                    st.lists(_fractional, min_size=1, max_size=1),
                    _junk,
                ),
            )
        )
    if which in ("probability", "both"):
        doc["probability"] = draw(
            _either(st.floats(0, 1), st.one_of(st.floats(1.01, 3), st.floats(-1, -0.01), _junk))
        )
    if not rare(draw, 4):
        doc["http_status"] = draw(
            _either(
                st.integers(200, 599),
                st.one_of(st.integers(100, 199), st.integers(600, 700), _fractional, _junk),
            )
        )
    if rare(draw, 3):
        doc["retry_after"] = draw(
            _either(
                st.one_of(st.none(), st.floats(0, 86400)),
                st.one_of(st.floats(-3, -0.1), st.just(86401), _junk),
            )
        )
    if rare(draw, 3):
        doc["body"] = draw(
            st.one_of(st.none(), st.just({"detail": "x"}), st.integers(), st.text(max_size=5))
        )
    if rare(draw, 20):
        doc["unknown"] = 1
    return doc


@st.composite
def documents(draw: st.DrawFn) -> Any:
    doc: dict[str, Any] = {"steps": draw(steps())}
    if rare(draw, 30):
        doc["steps"] = draw(st.one_of(st.just([]), _junk))
    if draw(st.booleans()):
        doc["faults"] = draw(st.lists(faults(), max_size=3) if not rare(draw, 20) else _junk)
    if rare(draw, 2):
        doc["latency"] = draw(latencies())
    for key, values in (
        (
            "seed",
            _either(
                st.one_of(st.none(), st.integers()), st.one_of(_fractional, st.text(max_size=2))
            ),
        ),
        ("name", _either(st.one_of(st.none(), st.text(max_size=8)), st.integers())),
        ("description", _either(st.text(max_size=8), st.integers())),
        (
            "result",
            _either(
                st.one_of(st.none(), st.dictionaries(st.text(max_size=3), st.integers())),
                st.one_of(st.lists(st.integers(), max_size=2), st.text(max_size=3)),
            ),
        ),
    ):
        if rare(draw, 3):
            doc[key] = draw(values)
    if rare(draw, 30):
        doc["surprise"] = True
    return doc


@given(documents())
def test_schema_and_parser_agree_on_generated_documents(doc: Any) -> None:
    check_agreement(doc)


@given(scenarios(custom=True, with_faults=True, probabilistic_faults=True, with_latency=True))
def test_every_scenario_the_strategies_draw_validates(doc: dict[str, Any]) -> None:
    assert schema_ok(doc)
    assert parse_problem(doc) is None


_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 700),
        st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer()),
        st.text(max_size=6),
        st.sampled_from(["steps", "PENDING", "SUCCESS", "polls", "http_error"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "steps",
                    "status",
                    "polls",
                    "seconds",
                    "faults",
                    "poll",
                    "type",
                    "http_status",
                    "latency",
                    "fixed_ms",
                    "seed",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


@given(_json)
def test_schema_and_parser_agree_on_arbitrary_json(doc: Any) -> None:
    check_agreement(doc)


def test_the_inexpressible_rules_are_really_the_only_gaps() -> None:
    not_last = {"steps": [{"status": "PENDING"}, {"status": "SUCCESS"}]}
    assert schema_ok(not_last)
    assert "needs 'polls' or 'seconds'" in (parse_problem(not_last) or "")
    backwards = {"steps": [{"status": "SUCCESS"}], "latency": {"uniform_ms": [9, 1]}}
    assert schema_ok(backwards)
    assert "is below lo" in (parse_problem(backwards) or "")
    assert math.isfinite(SCHEMA["definitions"]["step"]["properties"]["seconds"]["maximum"])
