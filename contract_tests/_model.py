"""What a scenario document says a task answers, request by request (the documented semantics,
written independently of mockcamb's implementation so the emulator can be checked against it).

- A step holds for ``polls`` answered polls or ``seconds`` of clock time from its start; the
  first step starts when the task is created, a poll-driven step's successor at the poll
  that ended it, a time-driven step's successor when its time is up.
- ``poll`` in a fault counts every request to the task (1-based); a faulted answer is not an
  answered poll.
- SUCCESS carries the step's ``run_id``, or a generated one that never changes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import jsonschema

from mockcamb.core.schemas import STATUS_BODY_SCHEMA
from mockcamb.core.statuses import SUCCESS

from ._client import Response, TransportError

_STATUS_VALIDATOR = jsonschema.Draft202012Validator(STATUS_BODY_SCHEMA)


@dataclass
class Expected:
    """The answer to one request: the step in force, and the fault that replaces it, if any."""

    request: int
    step: dict[str, Any]
    fault: dict[str, Any] | None = None


class TaskModel:
    """A scenario played by hand against a clock the caller advances."""

    def __init__(self, scenario: dict[str, Any], created_at: float) -> None:
        self.steps: list[dict[str, Any]] = scenario["steps"]
        self.faults: list[dict[str, Any]] = scenario.get("faults", [])
        if any("probability" in f for f in self.faults):
            raise ValueError("the model predicts only faults fixed to request numbers")
        self.step = 0
        self.step_started = created_at
        self.step_polls = 0
        self.requests = 0
        self.run_id: Any = None

    @property
    def _last(self) -> int:
        return len(self.steps) - 1

    def _settle(self, now: float) -> None:
        while self.step < self._last:
            seconds = self.steps[self.step].get("seconds")
            if seconds is None or now - self.step_started < seconds:
                return
            self.step_started += seconds
            self.step += 1
            self.step_polls = 0

    def poll(self, now: float) -> Expected:
        """Account for one request at clock ``now`` and say how it must be answered."""
        self.requests += 1
        self._settle(now)
        step = self.steps[self.step]
        for fault in self.faults:
            polls = fault["poll"] if isinstance(fault["poll"], list) else [fault["poll"]]
            if self.requests in polls:
                return Expected(self.requests, step, fault)
        self.step_polls += 1
        polls_needed = step.get("polls")
        if self.step < self._last and polls_needed is not None and self.step_polls >= polls_needed:
            self.step += 1
            self.step_polls = 0
            self.step_started = now
        return Expected(self.requests, step)

    def mismatch(self, expected: Expected, resp: Response | TransportError) -> str | None:
        """Why ``resp`` is not the answer ``expected`` describes (None if it is)."""
        fault = expected.fault
        if fault is not None and fault.get("type", "http_error") == "drop_connection":
            if isinstance(resp, TransportError):
                return None
            return f"expected a dropped connection, got {resp.status}"
        if isinstance(resp, TransportError):
            return f"expected an answer, got a transport error: {resp}"
        if fault is not None:
            return _fault_mismatch(fault, resp)
        return self._status_mismatch(expected.step, resp)

    def _status_mismatch(self, step: dict[str, Any], resp: Response) -> str | None:
        if resp.status != 200:
            return f"expected 200 with status {step['status']}, got {resp.status} {resp.preview()}"
        try:
            body = resp.json()
        except ValueError:
            return f"expected a JSON status body, got {resp.preview()}"
        schema_errors = [e.message for e in _STATUS_VALIDATOR.iter_errors(body)]
        if schema_errors:
            return f"body breaks STATUS_BODY_SCHEMA: {schema_errors[0]}"
        if body.get("status") != step["status"]:
            return f"expected status {step['status']}, got {body.get('status')!r}"
        run_id = body.get("run_id")
        if step["status"] == SUCCESS:
            want = step.get("run_id", self.run_id)
            if want is not None and run_id != want:
                return f"expected run_id {want!r}, got {run_id!r}"
            self.run_id = run_id
        elif run_id != step.get("run_id"):
            return f"expected run_id {step.get('run_id')!r}, got {run_id!r}"
        for name in ("message", "exception_reason"):
            if body.get(name) != step.get(name):
                return f"expected {name} {step.get(name)!r}, got {body.get(name)!r}"
        for name, value in step.get("extra", {}).items():
            if body.get(name) != value:
                return f"expected extra field {name}={value!r}, got {body.get(name)!r}"
        return None


def _fault_mismatch(fault: dict[str, Any], resp: Response) -> str | None:
    ftype = fault.get("type", "http_error")
    want = fault.get("http_status", 200)
    if resp.status != want:
        return f"{ftype} fault: expected HTTP {want}, got {resp.status}"
    if "retry_after" in fault:
        header = resp.headers.get("retry-after")
        if header != str(math.ceil(fault["retry_after"])):
            return f"{ftype} fault: expected Retry-After {fault['retry_after']}, got {header!r}"
    if ftype == "http_error":
        try:
            body = resp.json()
        except ValueError:
            return f"http_error fault: expected a JSON body, got {resp.preview()}"
        if "body" in fault:
            return None if body == fault["body"] else f"expected body {fault['body']}, got {body}"
        return None if isinstance(body, dict) and "detail" in body else f"no detail in {body}"
    if ftype == "empty_body":
        return None if resp.body == b"" else f"empty_body fault: got {resp.preview()}"
    if ftype == "non_json" and resp.media_type != "text/html":
        return f"non_json fault: expected text/html, got {resp.content_type!r}"
    try:
        json.loads(resp.body)
    except ValueError:
        return None
    return f"{ftype} fault: expected a body that is not JSON, got {resp.preview()}"
