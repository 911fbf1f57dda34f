"""Unknown and hostile task ids: always a 4xx with a JSON body, never a 5xx and never a 200."""

from __future__ import annotations

import uuid

from hypothesis import example, given

from mockcamb.strategies import hostile_task_ids

from ._checks import check_error_answer, no_answer, violations
from ._client import TransportError
from ._target import Target

#: Front proxies may refuse a long URL before the API sees it; such answers need not be JSON.
TOO_LONG_CODES = (414, 431)


def test_unknown_task_id_is_4xx(camb: Target, kind: str) -> None:
    camb.need_key()
    task_id = f"contract-unknown-{uuid.uuid4()}"
    where = f"GET /{kind}/{task_id}"
    fix = "answer a task id that does not exist with 404 (or 422) and a JSON body"
    try:
        resp = camb.client.get_status(kind, task_id)
    except TransportError as exc:
        raise no_answer(exc, where, "unknown-id-4xx", fix) from None
    violations(
        check_error_answer(
            resp,
            where,
            "unknown-id-4xx",
            None,
            fix=fix,
        )
    )


@given(wire=hostile_task_ids())
@example(wire="%00")
@example(wire="%E2%98%83%2F..%2Fx")
@example(wire="x//y")
def test_hostile_task_id_is_4xx(camb: Target, kind: str, wire: str) -> None:
    camb.need_key()
    path = camb.client.status_path(kind, wire)
    shown = path if len(path) <= 100 else path[:97] + "..."
    try:
        resp = camb.client.get(path)
    except TransportError as exc:
        raise no_answer(
            exc, f"GET {shown}", "hostile-id-4xx", "answer odd task ids with a 4xx, never crash"
        ) from None
    violations(
        check_error_answer(
            resp,
            f"GET {shown}",
            "hostile-id-4xx",
            None,
            fix="validate the task id and answer 404/422 with a JSON body; never crash (5xx) "
            "and never answer 200 for an id no task can have",
            json_exempt=TOO_LONG_CODES,
        )
    )
