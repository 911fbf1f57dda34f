"""The judges: one function per property that reads a :class:`~.records.Run` and returns what
the client did wrong (one sentence), or ``None`` when it kept the property."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from ..core.statuses import PENDING, SUCCESS
from .config import ConformanceConfig
from .properties import EPS, PERMANENT_CODES
from .records import Run
from .text import one_line, short

Judge = Callable[[Run, ConformanceConfig], str | None]


def _not_finished(run: Run) -> str | None:
    if run.outcome in ("stopped", "hung"):
        return f"it never finished; the harness stopped it: {run.stop_reason}"
    return None


def _body_status(value: Any) -> tuple[Mapping[str, Any] | None, str]:
    if isinstance(value, Mapping):
        return value, ""
    hint = ""
    if hasattr(value, "model_dump") or hasattr(value, "dict"):
        hint = " (a client returns a dict: call .model_dump() on a pydantic model)"
    return None, f"returned {short(value)}, not a status body (a dict){hint}"


def judge_api_key(run: Run, config: ConformanceConfig) -> str | None:
    """Property 1: every request carries the given key."""
    for ex in run.exchanges:
        if ex.key != "ok":
            how = (
                "without an x-api-key header"
                if ex.key == "missing"
                else ("with an x-api-key other than the one it was given")
            )
            return f"request #{ex.seq} ({ex.method} {ex.path}) was sent {how}"
    return None


def _judge_success(run: Run, what: str) -> str | None:
    stopped = _not_finished(run)
    if stopped:
        return stopped
    if run.outcome == "raised":
        return f"raised {run.error_type}: {one_line(run.error, 300)} instead of returning {what}"
    body, problem = _body_status(run.value)
    if body is None:
        return f"{problem}; expected {what}"
    status = body.get("status")
    if status != SUCCESS:
        return f"returned a body with status {status!r}; expected {what}"
    if body.get("run_id") != run.life.run_id:
        return f"returned run_id {body.get('run_id')!r}, but the task's run_id is {run.life.run_id}"
    return None


def judge_success(run: Run, config: ConformanceConfig) -> str | None:
    """Property 2: the SUCCESS body comes back through PENDING answers and transient faults."""
    return _judge_success(run, "the SUCCESS body")


def judge_unknown_status(run: Run, config: ConformanceConfig) -> str | None:
    """Property 6: an unknown status is 'still running'."""
    odd = sorted({w.status for w in run.life.waits if w.status != PENDING})
    message = _judge_success(run, "the SUCCESS body")
    if message is None:
        return None
    return f"after the unknown status {', '.join(odd)}: {message}"


def judge_final_status(run: Run, config: ConformanceConfig) -> str | None:
    """Property 3: a failure status is final: report it (or raise), never SUCCESS, poll no more."""
    final = run.life.final
    polls = run.polls()
    first = next((i for i, e in enumerate(polls) if e.task_status == final and not e.dropped), None)
    extra = polls[first + 1 :] if first is not None else []
    if run.outcome == "returned":
        body, problem = _body_status(run.value)
        if body is None:
            return f"{problem}; expected a body with status {final!r} or an exception"
        if body.get("status") == SUCCESS:
            return f"reported SUCCESS for a task that ended {final}"
        if body.get("status") != final:
            return f"returned a body with status {body.get('status')!r}; expected {final!r}"
    if first is not None and extra:
        answered = polls[first]
        more = "the harness stopped it there" if run.outcome == "stopped" else "then it ended"
        return (
            f"kept polling after {final} was answered (request #{answered.seq}): "
            f"sent poll #{extra[0].seq} {extra[0].clock - answered.clock:g} s later; {more}"
        )
    return _not_finished(run)


def judge_politeness(run: Run, config: ConformanceConfig) -> str | None:
    """Property 4: min interval between polls, Retry-After honoured, within the budget."""
    polls = [e for e in run.polls() if e.served]
    for prev, cur in itertools.pairwise(polls):
        gap = cur.clock - prev.clock
        throttled = prev.status_code == 429 or prev.status_code >= 500
        if prev.retry_after is not None and throttled and gap < prev.retry_after - EPS:
            return (
                f"poll #{cur.seq} came {gap:g} s after a {prev.status_code} with "
                f"Retry-After: {prev.retry_after:g} (request #{prev.seq})"
            )
        if gap < config.min_interval - EPS:
            return (
                f"poll #{cur.seq} came {gap:g} s after poll #{prev.seq}; at least "
                f"{config.min_interval:g} s are required"
            )
    if run.stop_reason is not None:
        return f"the harness had to stop it: {run.stop_reason}"
    return None


def judge_permanent(run: Run, config: ConformanceConfig) -> str | None:
    """Property 5: 401/403/404/422 end the client with an exception within a few requests."""
    assert run.life.permanent is not None
    code = run.life.permanent[0]
    polls = run.polls()
    first = next((i for i, e in enumerate(polls) if e.status_code in PERMANENT_CODES), None)
    after = len(polls) - first - 1 if first is not None else 0
    if after > config.permanent_retries:
        return (
            f"kept retrying after a permanent {code}: {after} more request(s) "
            f"(at most {config.permanent_retries} allowed)"
            + ("; the harness stopped it" if run.outcome == "stopped" else "")
        )
    stopped = _not_finished(run)
    if stopped:
        return stopped
    if run.outcome == "returned" and first is not None:
        return f"returned {short(run.value)} after a {code} instead of raising"
    return None


#: The judge of each property, by property name.
JUDGES: dict[str, Judge] = {
    "api-key": judge_api_key,
    "success": judge_success,
    "final-status": judge_final_status,
    "politeness": judge_politeness,
    "permanent-errors": judge_permanent,
    "unknown-status": judge_unknown_status,
}
