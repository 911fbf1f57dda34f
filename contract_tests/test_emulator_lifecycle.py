"""Against mockcamb only: generated scenarios, driven by a hypothesis state machine over real
HTTP, keep the lifecycle invariants and follow their scenario request by request."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from mockcamb.core.routes import KINDS
from mockcamb.strategies import scenarios

from ._checks import ContractViolation, check_lifecycle, describe, violations
from ._client import Response, TransportError
from ._model import TaskModel
from .conftest import OwnEmulator

pytestmark = pytest.mark.emulator_only


class TaskLifecycle(RuleBasedStateMachine):
    """Create tasks from generated scenarios, poll them, move the clock; compare every answer
    with the scenario and check the lifecycle invariants."""

    emu: OwnEmulator  # set by the test before the machine runs
    tasks = Bundle("tasks")

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.models: dict[tuple[str, str], TaskModel] = {}
        self.observed: dict[tuple[str, str], list[tuple[int, str, Any]]] = {}

    @initialize()
    def reset(self) -> None:
        self.emu.admin.ok("POST", "/reset")

    @rule(
        target=tasks,
        kind=st.sampled_from(KINDS),
        scenario=scenarios(with_faults=True, custom=True, max_steps=4, max_polls=3),
    )
    def create(self, kind: str, scenario: dict[str, Any]) -> tuple[str, str]:
        task_id = f"sm-{uuid.uuid4().hex[:12]}"
        snap = self.emu.admin.ok(
            "POST", "/tasks", {"kind": kind, "task_id": task_id, "scenario": scenario}
        )
        assert snap["status"] == scenario["steps"][0]["status"], snap
        self.models[(kind, task_id)] = TaskModel(scenario, self.now)
        self.observed[(kind, task_id)] = []
        return kind, task_id

    @rule(task=tasks)
    def poll(self, task: tuple[str, str]) -> None:
        kind, task_id = task
        model = self.models[task]
        expected = model.poll(self.now)
        resp: Response | TransportError
        try:
            resp = self.emu.client.get_status(kind, task_id, retry=False, follow=False)
        except TransportError as exc:
            resp = exc
        problem = model.mismatch(expected, resp)
        if problem is not None:
            raise ContractViolation(
                "follows-scenario",
                describe(kind, task_id, expected.request) + f" at clock {self.now:g}s",
                problem,
            )
        if expected.fault is None and isinstance(resp, Response):
            body = resp.json()
            self.observed[task].append((expected.request, body["status"], body.get("run_id")))

    @rule(seconds=st.sampled_from([0.5, 1, 5, 30, 120, 900]))
    def advance(self, seconds: float) -> None:
        self.now = self.emu.admin.ok("POST", "/clock/advance", {"seconds": seconds})["now"]

    @invariant()
    def lifecycle_holds(self) -> None:
        for (kind, task_id), seen in self.observed.items():
            violations(check_lifecycle(seen, kind, task_id))


def test_generated_scenarios_follow_their_steps(own_emulator: OwnEmulator) -> None:
    TaskLifecycle.emu = own_emulator
    run_state_machine_as_test(
        TaskLifecycle, settings=settings(settings.default, stateful_step_count=25)
    )
