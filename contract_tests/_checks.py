"""The contract's rules as plain functions: each raises :class:`ContractViolation` naming the
rule it saw broken, the request that broke it and what to change."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from mockcamb.core.schemas import STATUS_BODY_RULES, status_body_problems, status_body_schema
from mockcamb.core.statuses import FINAL_STATUSES, PENDING, SUCCESS

from ._client import Response, TransportError, redact

#: Every rule the suite checks, by the name that failure messages start with.
RULES: dict[str, str] = {
    "transport": "the target answers with a complete HTTP response",
    "http-200": "a status poll of an existing task answers 200",
    "json-content-type": "a status answer has Content-Type: application/json",
    "json-body": "a status answer's body is JSON",
    **STATUS_BODY_RULES,
    "schema": "the body validates against mockcamb.schemas.status_body_schema",
    "final-never-reverts": "once a task reports a final status it reports that status for ever",
    "run-id-stable": "a SUCCESS keeps the same run_id on every poll",
    "never-backwards": "a task never moves back to PENDING once it has left it",
    "auth-missing-key": "a request without x-api-key is answered 401 or 403",
    "auth-wrong-key": "a request with a wrong x-api-key is answered 401 or 403",
    "error-json-body": "an error answer carries a JSON body",
    "unknown-id-4xx": "an unknown task id is answered with a 4xx (404, 422...), never 5xx or 2xx",
    "hostile-id-4xx": "an odd or malicious task id is answered with a 4xx, never 5xx or 2xx",
    "follows-scenario": "mockcamb answers exactly as the task's scenario says",
    "fault-as-documented": "mockcamb injects a fault exactly as documented",
    "latency-as-documented": "mockcamb delays an answer by the scenario's latency",
    "admin-as-documented": "mockcamb's admin API behaves as documented",
}


class ContractViolation(AssertionError):
    """A broken rule: the message starts with ``[rule]`` and the rule in words."""

    def __init__(self, rule: str, where: str, problem: str, fix: str = "") -> None:
        self.rule = rule
        self.where = where = redact(where)
        self.problem = problem = redact(problem)
        text = f"[{rule}] {RULES.get(rule, rule)}: broken by {where}: {problem}"
        if fix:
            text += f". Fix: {fix}"
        super().__init__(text)


def violations(errors: Sequence[ContractViolation]) -> None:
    """Raise one violation for several: the first names the rule, the rest follow."""
    if not errors:
        return
    if len(errors) == 1:
        raise errors[0]
    first = errors[0]
    rest = "\n".join(f"  also {e}" for e in errors[1:])
    raise ContractViolation(first.rule, first.where, f"{first.problem}\n{rest}")


@dataclass
class Poll:
    """One poll of a task: the answer, or the transport error instead of one."""

    number: int
    response: Response | None = None
    error: TransportError | None = None

    @property
    def body(self) -> Any:
        assert self.response is not None
        return self.response.json()


def describe(kind: str, task_id: str, poll: int | None = None, total: int | None = None) -> str:
    where = f"GET /{kind}/{_short(task_id)}"
    if poll is not None:
        where += f" (poll {poll}" + (f" of {total})" if total else ")")
    return where


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def is_json_media_type(media_type: str) -> bool:
    return media_type == "application/json"


# --- the status body ------------------------------------------------------------------------


def check_status_answer(
    resp: Response, where: str, allowed: Iterable[str] | None
) -> tuple[list[ContractViolation], Any]:
    """Every rule one status answer breaks, and its decoded body (None if it has none)."""
    errors: list[ContractViolation] = []
    if resp.status != 200:
        errors.append(
            ContractViolation(
                "http-200",
                where,
                f"answered {resp.status} {resp.reason} with body {resp.preview()}",
                "a task that exists must be answered 200; check the task id and that the key "
                "may read it",
            )
        )
        return errors, None
    if not is_json_media_type(resp.media_type):
        errors.append(
            ContractViolation(
                "json-content-type",
                where,
                f"Content-Type is {resp.content_type or 'missing'!r}",
                "send 'Content-Type: application/json'",
            )
        )
    try:
        body = resp.json()
    except ValueError as exc:
        errors.append(
            ContractViolation(
                "json-body",
                where,
                f"the body is not JSON ({exc}): {resp.preview()}",
                'answer a JSON object such as {"status": "PENDING"}',
            )
        )
        return errors, None
    vocab = None if allowed is None else list(allowed)
    problems = status_body_problems(body, vocab)
    for rule, sentence in problems:
        errors.append(ContractViolation(rule, where, sentence))
    if not problems:
        validator = jsonschema.Draft202012Validator(status_body_schema(vocab))
        for err in validator.iter_errors(body):
            errors.append(ContractViolation("schema", where, err.message))
    return errors, body


# --- the lifecycle --------------------------------------------------------------------------


def _rank(status: str) -> int:
    if status == PENDING:
        return 0
    return 2 if status in FINAL_STATUSES else 1


def check_lifecycle(
    observed: Sequence[tuple[int, str, Any]], kind: str, task_id: str
) -> list[ContractViolation]:
    """Rules over a task's successive ``(poll, status, run_id)``: final never reverts, SUCCESS
    keeps its run_id, PENDING never comes back after the task left it."""
    errors: list[ContractViolation] = []
    final: tuple[int, str] | None = None
    success_run: tuple[int, Any] | None = None
    best: tuple[int, str] | None = None
    for poll, status, run_id in observed:
        where = describe(kind, task_id, poll)
        if final is not None and status != final[1]:
            errors.append(
                ContractViolation(
                    "final-never-reverts",
                    where,
                    f"poll {final[0]} said {final[1]} (final), poll {poll} says {status}",
                    "never change a task's status after it reached SUCCESS, FAILED, ERROR, "
                    "TIMEOUT or PAYMENT_REQUIRED",
                )
            )
        elif best is not None and _rank(status) < _rank(best[1]):
            errors.append(
                ContractViolation(
                    "never-backwards",
                    where,
                    f"poll {best[0]} said {best[1]}, poll {poll} is back at {status}",
                    "a task only moves forward: PENDING, then a final status",
                )
            )
        if status == SUCCESS:
            if success_run is None:
                success_run = (poll, run_id)
            elif run_id != success_run[1]:
                errors.append(
                    ContractViolation(
                        "run-id-stable",
                        where,
                        f"poll {success_run[0]} said run_id {success_run[1]!r}, poll {poll} says "
                        f"{run_id!r}",
                        "keep the run_id of a finished task fixed; clients fetch the result "
                        "with it",
                    )
                )
        if final is None and status in FINAL_STATUSES:
            final = (poll, status)
        if best is None or _rank(status) > _rank(best[1]):
            best = (poll, status)
    return errors


# --- errors: auth and unknown ids -----------------------------------------------------------


def check_error_answer(
    resp: Response,
    where: str,
    rule: str,
    accepted: Iterable[int] | None,
    *,
    fix: str,
    json_exempt: Iterable[int] = (),
) -> list[ContractViolation]:
    """An answer that must be an error: its code in ``accepted`` (``None``: any 4xx but 429),
    and a JSON body (codes in ``json_exempt`` excepted)."""
    codes = None if accepted is None else set(accepted)
    ok = 400 <= resp.status < 500 and resp.status != 429 if codes is None else resp.status in codes
    if not ok:
        expected = "a 4xx" if codes is None else " or ".join(map(str, sorted(codes)))
        extra = f" after redirects {resp.redirects}" if resp.redirects else ""
        return [
            ContractViolation(
                rule,
                where,
                f"answered {resp.status} {resp.reason}{extra} (expected {expected}) with body "
                f"{resp.preview()}",
                fix,
            )
        ]
    if resp.status in set(json_exempt):
        return []
    try:
        resp.json()
    except ValueError:
        return [
            ContractViolation(
                "error-json-body",
                where,
                f"the {resp.status} answer's body is not JSON (Content-Type "
                f"{resp.content_type or 'missing'!r}): {resp.preview()}",
                'answer errors with JSON, e.g. {"detail": "Not found"}',
            )
        ]
    return []
