"""Against mockcamb only: faults, latency and the admin API behave as documented, and every
status body it serves validates against the one shared schema."""

from __future__ import annotations

import json
import uuid
from typing import Any

import jsonschema
import pytest

from mockcamb.core.scenario import FAULT_TYPES
from mockcamb.core.schemas import ERROR_BODY_SCHEMA, STATUS_BODY_SCHEMA

from ._checks import ContractViolation
from ._client import Response, TransportError
from ._model import TaskModel
from .conftest import OwnEmulator

pytestmark = pytest.mark.emulator_only


def _new_task(emu: OwnEmulator, scenario: Any, kind: str = "story") -> str:
    task_id = f"eo-{uuid.uuid4().hex[:12]}"
    code, snap = emu.admin.request(
        "POST", "/tasks", {"kind": kind, "task_id": task_id, "scenario": scenario}
    )
    if code != 201:
        raise ContractViolation("admin-as-documented", "POST /__admin/tasks", f"{code} {snap}")
    return task_id


def _poll(emu: OwnEmulator, task_id: str, kind: str = "story") -> Response | TransportError:
    try:
        return emu.client.get_status(kind, task_id, retry=False, follow=False)
    except TransportError as exc:
        return exc


_FAULT_DOCS: dict[str, dict[str, Any]] = {
    "http_error": {"type": "http_error", "http_status": 503, "retry_after": 5},
    "non_json": {"type": "non_json", "http_status": 502},
    "empty_body": {"type": "empty_body"},
    "truncated_json": {"type": "truncated_json"},
    "malformed_json": {"type": "malformed_json", "http_status": 500},
    "drop_connection": {"type": "drop_connection"},
}


@pytest.mark.parametrize("fault_type", FAULT_TYPES)
def test_fault_is_injected_as_documented(own_emulator: OwnEmulator, fault_type: str) -> None:
    """A fault on request 2 replaces that answer only, and does not count as an answered
    poll: the task still needs its two PENDING polls before SUCCESS."""
    scenario = {
        "steps": [{"status": "PENDING", "polls": 2}, {"status": "SUCCESS", "run_id": 77}],
        "faults": [{**_FAULT_DOCS[fault_type], "poll": 2}],
    }
    task_id = _new_task(own_emulator, scenario)
    model = TaskModel(scenario, 0.0)
    for n in range(1, 5):
        expected = model.poll(0.0)
        problem = model.mismatch(expected, _poll(own_emulator, task_id))
        if problem is not None:
            raise ContractViolation(
                "fault-as-documented", f"GET /story/{task_id} (request {n})", problem
            )
    assert model.step == 1 and model.run_id == 77


def test_probability_faults_fire_always_or_never(own_emulator: OwnEmulator) -> None:
    always = _new_task(
        own_emulator,
        {"steps": [{"status": "PENDING"}], "faults": [{"probability": 1, "http_status": 500}]},
    )
    never = _new_task(
        own_emulator,
        {"steps": [{"status": "PENDING"}], "faults": [{"probability": 0, "http_status": 500}]},
    )
    codes = [
        (_status(_poll(own_emulator, always)), _status(_poll(own_emulator, never)))
        for _ in range(5)
    ]
    if codes != [(500, 200)] * 5:
        raise ContractViolation(
            "fault-as-documented",
            "probability faults 1.0 and 0.0",
            f"expected (500, 200) five times, got {codes}",
        )


def _status(resp: Response | TransportError) -> int | str:
    return resp.status if isinstance(resp, Response) else "dropped"


def test_latency_delays_the_answer(own_emulator: OwnEmulator) -> None:
    task_id = _new_task(
        own_emulator, {"steps": [{"status": "PENDING"}], "latency": {"fixed_ms": 150}}
    )
    resp = _poll(own_emulator, task_id)
    if not isinstance(resp, Response) or resp.status != 200 or resp.elapsed < 0.14:
        got = f"{resp.status} after {resp.elapsed:.3f}s" if isinstance(resp, Response) else resp
        raise ContractViolation(
            "latency-as-documented",
            f"GET /story/{task_id} with latency fixed_ms 150",
            f"expected 200 after at least 0.15 s, got {got}",
        )


def _admin_fail(what: str, problem: str) -> ContractViolation:
    return ContractViolation("admin-as-documented", what, problem)


def test_admin_needs_its_token_except_for_health(own_emulator: OwnEmulator) -> None:
    code, body = own_emulator.admin.request("GET", "/tasks", token=False)
    if code != 401 or not isinstance(body, dict):
        raise _admin_fail(
            "GET /__admin/tasks without x-admin-token", f"expected 401 JSON, got {code} {body}"
        )
    code, body = own_emulator.admin.request("GET", "/health", token=False)
    if code != 200 or body.get("status") != "ok":
        raise _admin_fail("GET /__admin/health", f"expected 200 ok, got {code} {body}")


def test_admin_task_snapshot_counts_polls(own_emulator: OwnEmulator) -> None:
    task_id = _new_task(own_emulator, "happy_path", kind="project-setup")
    for _ in range(3):
        _poll(own_emulator, task_id, "project-setup")
    snap = own_emulator.admin.ok("GET", f"/tasks/project-setup/{task_id}")
    want = {"status": "SUCCESS", "requests": 3, "polls_answered": 3, "finished": True}
    got = {k: snap.get(k) for k in want}
    if got != want or not isinstance(snap.get("run_id"), int):
        raise _admin_fail(
            f"GET /__admin/tasks/project-setup/{task_id}", f"expected {want}, got {snap}"
        )


def test_admin_rejects_a_bad_scenario_naming_the_field(own_emulator: OwnEmulator) -> None:
    bad = {"steps": [{"status": "SUCCESS", "polls": 2}, {"status": "PENDING"}]}
    code, body = own_emulator.admin.request("POST", "/tasks", {"kind": "story", "scenario": bad})
    if code != 400 or "steps[0]" not in json.dumps(body):
        raise _admin_fail(
            "POST /__admin/tasks with a final status before the last step",
            f"expected 400 naming steps[0], got {code} {body}",
        )
    jsonschema.validate(body, ERROR_BODY_SCHEMA)


def test_admin_clock_moves_time_driven_steps(own_emulator: OwnEmulator) -> None:
    task_id = _new_task(
        own_emulator, {"steps": [{"status": "PENDING", "seconds": 30}, {"status": "TIMEOUT"}]}
    )
    before = _poll(own_emulator, task_id)
    own_emulator.admin.ok("POST", "/clock/advance", {"seconds": 30})
    after = _poll(own_emulator, task_id)
    seen = [r.json().get("status") if isinstance(r, Response) else r for r in (before, after)]
    if seen != ["PENDING", "TIMEOUT"]:
        raise _admin_fail(
            "POST /__admin/clock/advance {seconds: 30}",
            f"expected PENDING then TIMEOUT, got {seen}",
        )


def test_admin_journal_and_settings_never_show_the_key(own_emulator: OwnEmulator) -> None:
    task_id = _new_task(own_emulator, "instant_success")
    _poll(own_emulator, task_id)
    journal = own_emulator.admin.ok("GET", f"/requests?kind=story&task_id={task_id}")
    entries = journal["requests"]
    if len(entries) != 1 or entries[0]["headers"].get("x-api-key") != "[redacted]":
        raise _admin_fail(
            "GET /__admin/requests", f"expected one entry with a redacted key, got {entries}"
        )
    for path in ("/requests", "/settings", f"/tasks/story/{task_id}"):
        text = json.dumps(own_emulator.admin.ok("GET", path))
        if own_emulator.key.reveal() in text:
            raise _admin_fail(f"GET /__admin{path}", "the API key appears in the answer")
    settings = own_emulator.admin.ok("GET", "/settings")
    if settings["api_keys"] != {"count": 1}:
        raise _admin_fail(
            "GET /__admin/settings", f"expected api_keys {{'count': 1}}, got {settings['api_keys']}"
        )


def test_admin_reset_forgets_tasks(own_emulator: OwnEmulator) -> None:
    task_id = _new_task(own_emulator, "happy_path")
    own_emulator.admin.ok("POST", "/reset")
    resp = _poll(own_emulator, task_id)
    if not isinstance(resp, Response) or resp.status != 404:
        raise _admin_fail(
            "POST /__admin/reset", f"a task created before the reset still answers: {_status(resp)}"
        )


@pytest.mark.parametrize(
    "preset", ["happy_path", "error", "payment_required", "timeout", "unknown_status"]
)
def test_preset_bodies_validate_against_the_shared_schema(
    own_emulator: OwnEmulator, preset: str
) -> None:
    """STATUS_BODY_SCHEMA (mockcamb.schemas, also in the OpenAPI document) describes what the
    emulator serves, custom statuses included."""
    presets = own_emulator.admin.ok("GET", "/presets")["presets"]
    if preset not in presets:
        pytest.skip(f"preset {preset} is not shipped")
    task_id = _new_task(own_emulator, preset)
    for _ in range(4):
        own_emulator.admin.ok("POST", "/clock/advance", {"seconds": 60})
        resp = _poll(own_emulator, task_id)
        if isinstance(resp, Response) and resp.status == 200:
            errors = [
                e.message
                for e in jsonschema.Draft202012Validator(STATUS_BODY_SCHEMA).iter_errors(
                    resp.json()
                )
            ]
            if errors:
                raise ContractViolation(
                    "schema", f"GET /story/{task_id} (preset {preset})", errors[0]
                )
