"""Response shape and lifecycle of every given task id, polled at least three times."""

from __future__ import annotations

import pytest

from ._checks import (
    ContractViolation,
    check_lifecycle,
    check_status_answer,
    describe,
    no_answer,
    violations,
)
from ._target import Target


def _first_per_rule(errors: list[ContractViolation]) -> list[ContractViolation]:
    """One violation per rule (the first), noting on which other polls it recurred."""
    by_rule: dict[str, list[ContractViolation]] = {}
    for err in errors:
        by_rule.setdefault(err.rule, []).append(err)
    out = []
    for same in by_rule.values():
        first = same[0]
        if len(same) > 1:
            first = ContractViolation(
                first.rule,
                first.where,
                f"{first.problem} (and {len(same) - 1} more time(s) on later polls)",
                first.fix,
            )
        out.append(first)
    return out


def test_status_answer_shape(camb: Target, task_ref: tuple[str, str]) -> None:
    """Readable as a client reads it (framing, coding, Content-Type, charset, Retry-After),
    200, application/json, a JSON object with a string status from the vocabulary, an integer
    run_id whenever SUCCESS, message/exception_reason of the right types."""
    kind, task_id = task_ref
    polls = camb.polls(kind, task_id)
    errors: list[ContractViolation] = []
    for poll in polls:
        where = describe(kind, task_id, poll.number, len(polls))
        if poll.error is not None or poll.response is None:
            assert poll.error is not None
            errors.append(no_answer(poll.error, where))
            continue
        errs, _ = check_status_answer(poll.response, where, camb.allowed)
        errors += errs
    violations(_first_per_rule(errors))


def test_lifecycle_never_goes_back(camb: Target, task_ref: tuple[str, str]) -> None:
    """Over repeated polls a final status never reverts or changes, a SUCCESS keeps its run_id
    and a task never returns to PENDING."""
    kind, task_id = task_ref
    observed: list[tuple[int, str, object]] = []
    for poll in camb.polls(kind, task_id):
        if poll.response is None or poll.response.status != 200:
            continue
        try:
            body = poll.response.json()
        except ValueError:
            continue
        if isinstance(body, dict) and isinstance(body.get("status"), str):
            run_id = body.get("run_id")
            observed.append((poll.number, body["status"], run_id))
    if len(observed) < 2:
        pytest.skip(
            f"{describe(kind, task_id)}: fewer than 2 readable status answers, nothing to "
            "compare (see test_status_answer_shape for why)"
        )
    violations(check_lifecycle(observed, kind, task_id))
