"""mockcamb.core.schemas: the one JSON Schema of the status body, and the worded validator that must
agree with it."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockcamb.core.emulator import Emulator
from mockcamb.core.schemas import (
    CREATE_TASK_RESPONSE_SCHEMA,
    DOCUMENTED_STATUS_BODY_SCHEMA,
    ERROR_BODY_SCHEMA,
    STATUS_BODY_RULES,
    STATUS_BODY_SCHEMA,
    VALIDATION_ERROR_SCHEMA,
    is_json_integer,
    status_body_problems,
    status_body_schema,
    validate_status_body,
)
from mockcamb.core.statuses import DOCUMENTED_STATUSES
from mockcamb.strategies import scenarios

ALL_SCHEMAS = [
    STATUS_BODY_SCHEMA,
    DOCUMENTED_STATUS_BODY_SCHEMA,
    ERROR_BODY_SCHEMA,
    VALIDATION_ERROR_SCHEMA,
    CREATE_TASK_RESPONSE_SCHEMA,
]


@pytest.mark.parametrize("schema", ALL_SCHEMAS, ids=lambda s: s["title"])
def test_every_schema_is_valid_json_schema(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)


def test_documented_examples_conform() -> None:
    for body in (
        {"status": "SUCCESS", "run_id": 123},
        {"status": "PENDING", "run_id": None},
        {"status": "ERROR", "message": "bad source", "exception_reason": "SOURCE_NOT_FOUND"},
        {"status": "FAILED", "message": {"detail": "x"}, "exception_reason": None},
        {"status": "PENDING", "progress": 40},  # extra fields are allowed
    ):
        assert validate_status_body(body) == []
        jsonschema.validate(body, DOCUMENTED_STATUS_BODY_SCHEMA)


@pytest.mark.parametrize(
    ("body", "rule", "words"),
    [
        ([{"status": "SUCCESS"}], "object-body", "JSON object, got array"),
        ("SUCCESS", "object-body", "got string"),
        ({"state": "SUCCESS"}, "status-field", "'status' is missing (fields present: state)"),
        ({"status": 1}, "status-field", "must be a string, got number"),
        ({"status": ""}, "status-field", "empty"),
        ({"status": "success", "run_id": 1}, "status-vocabulary", "upper case: 'SUCCESS'"),
        ({"status": "DONE"}, "status-vocabulary", "not in the vocabulary PENDING"),
        ({"status": "SUCCESS", "run_id": "123"}, "run-id-integer", 'got string: "123"'),
        ({"status": "PENDING", "run_id": True}, "run-id-integer", "got boolean"),
        ({"status": "SUCCESS"}, "success-run-id", "no run_id at all"),
        ({"status": "SUCCESS", "run_id": None}, "success-run-id", "got null"),
        ({"status": "ERROR", "message": 5}, "message-type", "got number: 5"),
        ({"status": "ERROR", "exception_reason": ["x"]}, "exception-reason-type", "got array"),
    ],
)
def test_each_broken_rule_is_named_in_words(body: Any, rule: str, words: str) -> None:
    problems = status_body_problems(body)
    assert [r for r, _ in problems] == [rule]
    assert words in problems[0][1]
    assert rule in STATUS_BODY_RULES
    assert not jsonschema.Draft202012Validator(DOCUMENTED_STATUS_BODY_SCHEMA).is_valid(body)


def test_open_vocabulary_accepts_any_non_empty_status() -> None:
    assert validate_status_body({"status": "QUEUED"}, allowed=None) == []
    jsonschema.validate({"status": "QUEUED"}, STATUS_BODY_SCHEMA)
    assert validate_status_body({"status": "QUEUED"}) != []
    assert (
        validate_status_body({"status": "QUEUED"}, allowed=[*DOCUMENTED_STATUSES, "QUEUED"]) == []
    )
    enum = status_body_schema(["PENDING", "QUEUED", "PENDING"])["properties"]["status"]["enum"]
    assert enum == ["PENDING", "QUEUED"]


def test_json_integers_follow_json_schema() -> None:
    assert is_json_integer(3) and is_json_integer(3.0)
    assert not any(is_json_integer(v) for v in (True, 3.5, "3", None, float("inf")))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_bodies = st.one_of(
    _json,
    st.fixed_dictionaries(
        {},
        optional={
            "status": st.sampled_from([*DOCUMENTED_STATUSES, "pending", "", "QUEUED"]) | _json,
            "run_id": st.none() | st.integers() | st.floats(allow_nan=False) | _json,
            "message": _json,
            "exception_reason": st.none() | st.text(max_size=5) | _json,
            "extra": _json,
        },
    ),
)


@given(body=_bodies, open_set=st.booleans())
def test_worded_validator_agrees_with_the_schema(body: Any, open_set: bool) -> None:
    """The sentences and the schema are two views of one contract: never one without the
    other."""
    allowed = None if open_set else DOCUMENTED_STATUSES
    schema = status_body_schema(allowed)
    assert (validate_status_body(body, allowed) == []) == jsonschema.Draft202012Validator(
        schema
    ).is_valid(body)


@given(
    scenario=scenarios(custom=True, with_faults=False),
    kind=st.sampled_from(["story", "project-setup"]),
)
def test_every_emulator_status_body_validates(scenario: dict[str, Any], kind: str) -> None:
    """The emulator's own bodies, whatever the scenario, match the shared schema."""
    emu = Emulator()
    emu.configure({"api_keys": ["k"]})
    emu.create_task(kind, "t", scenario)
    for _ in range(6):
        emu.advance(600)
        reply = emu.status(kind, "t", "k")
        assert reply.status_code == 200
        jsonschema.validate(reply.body, STATUS_BODY_SCHEMA)
        assert validate_status_body(reply.body, allowed=None) == []


def test_error_bodies_match_their_schemas() -> None:
    emu = Emulator()
    emu.configure({"api_keys": ["k"]})
    jsonschema.validate(emu.status("story", "nope", "k").body, ERROR_BODY_SCHEMA)
    jsonschema.validate(emu.status("story", "nope", None).body, ERROR_BODY_SCHEMA)
    invalid = emu.create("project-setup", "k", {"media_url": 3})
    assert invalid.status_code == 422
    jsonschema.validate(invalid.body, VALIDATION_ERROR_SCHEMA)
    created = emu.create(
        "project-setup", "k", {"media_url": "u", "source_language": 1, "target_languages": [2]}
    )
    jsonschema.validate(created.body, CREATE_TASK_RESPONSE_SCHEMA)


def test_openapi_document_uses_the_same_schema() -> None:
    openapi = pytest.importorskip("mockcamb.http.openapi")
    doc = openapi.openapi_document()
    component = doc["components"]["schemas"]["TaskStatus"]
    core = {k: v for k, v in STATUS_BODY_SCHEMA.items() if k != "$schema"}
    assert {k: v for k, v in component.items() if k != "$schema"} == core
