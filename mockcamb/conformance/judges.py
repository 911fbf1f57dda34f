"""The judges: one function per property that reads a :class:`~.records.Run` and returns what
the client did wrong (one sentence), or ``None`` when it kept the property."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from ..core.statuses import PENDING, SUCCESS
from .config import ConformanceConfig
from .properties import BACKOFF_WINDOW, EPS, PERMANENT_CODES
from .records import Exchange, Run
from .text import duration, one_line, short
from .watch import timely_allowance

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
        return (
            f"raised {run.error_type}: {one_line(run.error, 300)} instead of returning {what}"
            + _last_retry_after(run)
        )
    body, problem = _body_status(run.value)
    if body is None:
        return f"{problem}; expected {what}"
    status = body.get("status")
    if status != SUCCESS:
        return f"returned a body with status {status!r}; expected {what}"
    if body.get("run_id") != run.life.run_id:
        return f"returned run_id {body.get('run_id')!r}, but the task's run_id is {run.life.run_id}"
    return None


def _last_retry_after(run: Run) -> str:
    """Names the Retry-After header of the last answer the client got, if it had one: the
    header a client raising right after it most likely choked on."""
    served = [e for e in run.exchanges if e.served and not e.dropped]
    if not served or served[-1].retry_after is None:
        return ""
    last = served[-1]
    return (
        f" (right after request #{last.seq} was answered {last.status_code} "
        f"with {last.retry_after_text()})"
    )


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
        code = prev.status_code or 0  # None: a dropped connection
        throttled = code == 429 or code >= 500
        if prev.retry_after is not None and throttled and gap < prev.retry_after - EPS:
            return (
                f"poll #{cur.seq} came {gap:g} s after a {prev.status_code} with "
                f"{prev.retry_after_text()} (request #{prev.seq})"
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


def judge_gives_up(run: Run, config: ConformanceConfig) -> str | None:
    """Property 7: on a task that never finishes, raise or return a non-SUCCESS in time."""
    if run.outcome == "returned":
        body, _ = _body_status(run.value)
        if body is not None and body.get("status") == SUCCESS:
            return "returned a SUCCESS body for a task that never finished"
    if run.outcome in ("returned", "raised") and run.stop_reason is None:
        return None
    why = run.findings.get("gives-up") or run.stop_reason or "it did not return"
    return (
        f"polled a task that never finishes for {duration(run.virtual_seconds)} of virtual "
        f"time ({len(run.exchanges)} requests) without giving up; the harness stopped it: {why}. "
        f"Give up at a deadline (within {duration(config.give_up_within)}): raise, or return "
        "the last status"
    )


def _window_peak(polls: list[Exchange]) -> tuple[int, int]:
    """(count, index of the first) of the most polls in any window of BACKOFF_WINDOW s."""
    best, first, j = 0, 0, 0
    for i, poll in enumerate(polls):
        j = max(j, i)
        while j < len(polls) and polls[j].clock - poll.clock < BACKOFF_WINDOW - EPS:
            j += 1
        if j - i > best:
            best, first = j - i, i
    return best, first


def judge_backoff(run: Run, config: ConformanceConfig) -> str | None:
    """Property 8: during a long PENDING, few polls in any 10 minutes."""
    polls = []
    for e in run.polls():
        if e.served and not e.dropped:
            polls.append(e)
            if e.task_status not in (None, PENDING):
                break  # the final answer: what comes after is final-status's business
    count, first = _window_peak(polls)
    if count <= config.backoff_polls:
        return _not_finished(run) if run.outcome == "hung" else None
    window = polls[first : first + count]
    gaps = [b.clock - a.clock for a, b in itertools.pairwise(window)]
    waits = (
        f"it waited {gaps[0]:g} s every time"
        if max(gaps) - min(gaps) < EPS
        else f"its waits there went from {min(gaps):g} s to {max(gaps):g} s"
    )
    return (
        f"sent {count} polls in the {BACKOFF_WINDOW / 60:g} minutes from t={window[0].clock:g} "
        f"(#{window[0].seq} to #{window[-1].seq}) of a long PENDING, more than the "
        f"{config.backoff_polls} allowed; {waits}. Back off: start at 2-5 s and grow the wait "
        "(e.g. x1.5 a poll) up to 30-60 s"
    )


def judge_timely(run: Run, config: ConformanceConfig) -> str | None:
    """Property 9: the first poll after the task finished comes within the allowed lag."""
    final = run.life.final_at()
    assert final is not None
    allowed = timely_allowance(final, config)
    rule = (
        f"at most {allowed:g} s allowed: the larger of {config.timely_lag:g} s and "
        f"{config.timely_fraction:g} of the {final:g} s the task took"
    )
    advice = "cap the wait between polls (e.g. at 30-60 s)"
    polls = [e for e in run.polls() if e.served or e.stalled]
    before = [e for e in polls if e.clock < final - EPS]
    after = next((e for e in polls if e.clock >= final - EPS), None)
    if after is not None:
        lag = after.clock - final
        if lag <= allowed + EPS:
            return None
        since = (
            f"; it had waited {after.clock - before[-1].clock:g} s since poll #{before[-1].seq}"
            if before
            else ""
        )
        return (
            f"the task finished at t={final:g}, but the next poll (#{after.seq}) came at "
            f"t={after.clock:g}, {lag:g} s later ({rule}){since}: {advice}"
        )
    late = run.findings.get("timely")
    if late is not None:
        return f"the task finished at t={final:g}; {late} ({rule}): {advice}"
    return _not_finished(run) if run.outcome == "hung" else None


_TIMEOUT_ADVICE = (
    ". Give every request a timeout: requests.get(url, timeout=30), httpx.Client(timeout=30), "
    "aiohttp.ClientTimeout(total=60) or asyncio.wait_for"
)


def judge_timeouts(run: Run, config: ConformanceConfig) -> str | None:
    """Property 10: a stalled request is given up (and retried, or the client raises)."""
    flagged = run.findings.get("timeouts")
    if flagged is not None:
        return flagged + _TIMEOUT_ADVICE
    for stall in run.stalls:
        if stall.waited > config.max_stall_wait + EPS:
            return (
                f"request #{stall.seq} was stalled (accepted, never answered) and the client "
                f"waited {stall.waited:g} s before it moved on, more than the "
                f"{config.max_stall_wait:g} s allowed" + _TIMEOUT_ADVICE
            )
    if run.outcome in ("stopped", "hung") and run.stalls:
        stall = run.stalls[-1]
        return (
            f"while request #{stall.seq} was stalled (accepted, never answered) it "
            f"{run.what_client_did()}; the harness saw no read timeout (a read over TLS or in "
            "C code is not seen)" + _TIMEOUT_ADVICE
        )
    return _not_finished(run)


#: The judge of each property, by property name.
JUDGES: dict[str, Judge] = {
    "api-key": judge_api_key,
    "success": judge_success,
    "final-status": judge_final_status,
    "politeness": judge_politeness,
    "permanent-errors": judge_permanent,
    "unknown-status": judge_unknown_status,
    "gives-up": judge_gives_up,
    "backoff": judge_backoff,
    "timely": judge_timely,
    "timeouts": judge_timeouts,
}
