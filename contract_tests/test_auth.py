"""Auth: no key, a wrong one, or a near miss of the real one is refused with 401 or 403 and a
JSON body."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockcamb.strategies import api_keys

from ._checks import (
    AUTH_CODES,
    NEAR_MISSES,
    check_error_answer,
    describe,
    near_misses,
    no_answer,
    violations,
    wrong_keys,
)
from ._client import Response, Secret, TransportError
from ._target import Target, wire_id


def _probe_id(camb: Target, kind: str) -> str:
    """An existing task when the suite knows one (so only the key can be wrong), else a
    random id."""
    return camb.some_task_id(kind) or f"contract-{uuid.uuid4()}"


def _get(camb: Target, kind: str, task_id: str, key: Secret | None, where: str) -> Response:
    try:
        return camb.client.get_status(kind, wire_id(task_id), key=key)
    except TransportError as exc:
        raise no_answer(exc, where) from None


def test_missing_key_is_rejected(camb: Target, kind: str) -> None:
    task_id = _probe_id(camb, kind)
    where = f"{describe(kind, task_id)} without x-api-key"
    resp = _get(camb, kind, task_id, None, where)
    violations(
        check_error_answer(
            resp,
            where,
            "auth-missing-key",
            AUTH_CODES,
            fix="check x-api-key on every request and answer 401 (or 403) when it is missing",
        )
    )


@given(data=st.data())
def test_wrong_key_is_rejected(
    camb: Target, pytestconfig: pytest.Config, kind: str, data: st.DataObject
) -> None:
    real = camb.api_key.reveal() if camb.api_key is not None else None
    wrong = data.draw(api_keys().filter(lambda k: k != real), label="wrong key")
    task_id = _probe_id(camb, kind)
    where = f"{describe(kind, task_id)} with the wrong key {wrong!r}"
    resp = _get(camb, kind, task_id, Secret(wrong), where)
    wrong_keys(pytestconfig).record(resp)
    violations(
        check_error_answer(
            resp,
            where,
            "auth-wrong-key",
            AUTH_CODES,
            fix="accept only issued keys; answer 401 (or 403) to any other key (a server that "
            "accepts any non-empty key, as `mockcamb serve` does without --api-key, fails this)",
        )
    )


@pytest.mark.parametrize("miss", list(NEAR_MISSES))
def test_near_miss_key_is_rejected(
    camb: Target, pytestconfig: pytest.Config, kind: str, miss: str
) -> None:
    """Wrong keys close to the real one, as broken key checks let them through: each must be
    refused like any other wrong key. The report describes the near miss, never shows it."""
    key = camb.need_key()
    near = near_misses(key.reveal()).get(miss)
    if near is None:
        pytest.skip(f"the key has no {miss} near miss (no letters, or too short)")
    task_id = _probe_id(camb, kind)
    where = f"{describe(kind, task_id)} with {near.what}"
    resp = _get(camb, kind, task_id, near.key, where)
    if near.key.reveal():  # "any non-empty key" servers refuse the empty one
        wrong_keys(pytestconfig).record(resp, near_miss=True)
    violations(
        check_error_answer(
            resp,
            where,
            "auth-near-miss-key",
            AUTH_CODES,
            fix="compare the whole key exactly (hmac.compare_digest(sent, key)): "
            f"{near.accepted_by} lets this one through",
        )
    )
