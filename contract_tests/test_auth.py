"""Auth: no key, or a wrong one, is refused with 401 or 403 and a JSON body."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from mockcamb.strategies import api_keys

from ._checks import check_error_answer, describe, violations
from ._client import Secret
from ._target import Target, wire_id

AUTH_CODES = (401, 403)


def _probe_id(camb: Target, kind: str) -> str:
    """An existing task when the suite knows one (so only the key can be wrong), else a
    random id."""
    return camb.some_task_id(kind) or f"contract-{uuid.uuid4()}"


def test_missing_key_is_rejected(camb: Target, kind: str) -> None:
    task_id = _probe_id(camb, kind)
    resp = camb.client.get_status(kind, wire_id(task_id), key=None)
    violations(
        check_error_answer(
            resp,
            f"{describe(kind, task_id)} without x-api-key",
            "auth-missing-key",
            AUTH_CODES,
            fix="check x-api-key on every request and answer 401 (or 403) when it is missing",
        )
    )


@given(data=st.data())
def test_wrong_key_is_rejected(camb: Target, kind: str, data: st.DataObject) -> None:
    real = camb.api_key.reveal() if camb.api_key is not None else None
    wrong = data.draw(api_keys().filter(lambda k: k != real), label="wrong key")
    task_id = _probe_id(camb, kind)
    resp = camb.client.get_status(kind, wire_id(task_id), key=Secret(wrong))
    violations(
        check_error_answer(
            resp,
            f"{describe(kind, task_id)} with the wrong key {wrong!r}",
            "auth-wrong-key",
            AUTH_CODES,
            fix="accept only issued keys; answer 401 (or 403) to any other key",
        )
    )
