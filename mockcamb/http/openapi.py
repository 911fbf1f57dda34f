"""The OpenAPI 3.1 document of the emulated API, built from the route table
(:mod:`mockcamb.core.routes`) and the schemas in :mod:`mockcamb.core.schemas` (the ones the
emulator's tests and the contract suite check bodies against), served at ``GET /openapi.json``
so schemathesis, Prism or a client generator can start from it."""

from __future__ import annotations

import copy
from typing import Any, Final

from flask import Blueprint, request

from ..core.routes import FAMILIES, ROUTES, Family, Route
from ..core.scenario import load_preset, preset_names
from ..core.schemas import (
    CREATE_TASK_RESPONSE_SCHEMA,
    ERROR_BODY_SCHEMA,
    JSON_SCHEMA_DIALECT,
    RESULT_SCHEMAS,
    STATUS_BODY_SCHEMA,
    VALIDATION_ERROR_SCHEMA,
    request_schema,
)
from ..version import __version__

OPENAPI_VERSION: Final = "3.1.0"

def _component(schema: dict[str, Any]) -> dict[str, Any]:
    """A deep copy without ``$schema`` (the document names the dialect once)."""
    out = copy.deepcopy(schema)
    out.pop("$schema", None)
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


_UNAUTHORIZED: Final = _json("ErrorBody", "Missing or unknown x-api-key.")
_NOT_FOUND_TASK: Final = _json("ErrorBody", "No task with this id.")


def contract_presets() -> list[str]:
    """Presets that keep to this document: no injected faults, no added latency."""
    return [
        name
        for name in preset_names()
        if not load_preset(name).faults and load_preset(name).latency is None
    ]


def _scenario_header() -> dict[str, Any]:
    return {
        "name": "x-mockcamb-scenario",
        "in": "header",
        "required": False,
        "description": "mockcamb only (the real API ignores it): the preset the new task runs. "
        "Presets that inject faults (flaky_network, garbage_bodies...) are accepted too but "
        "deliberately break this contract, so they are not listed; an unknown name is a 400.",
        "schema": {"type": "string", "enum": contract_presets()},
    }


def _link(operation_id: str, parameter: str, field: str) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "parameters": {parameter: f"$response.body#/{field}"},
    }


def _operation(route: Route) -> dict[str, Any]:
    """The OpenAPI operation of one route-table entry."""
    fam = route.family
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [fam.name],
    }
    if route.action == "create":
        media = "application/json" if fam.body == "json" else "multipart/form-data"
        op["parameters"] = [_scenario_header()]
        op["requestBody"] = {
            "required": True,
            "content": {media: {"schema": _ref(f"Create{fam.title}Request")}},
        }
        op["responses"] = _create_responses(status_operation(fam))
    elif route.action == "status":
        ok: dict[str, Any] = _json("TaskStatus", "The task's status; run_id once it succeeded.")
        if fam.result is not None:
            ok["links"] = {"result": _link(f"get{fam.title}Result", "run_id", "run_id")}
        op["parameters"] = [_path_parameter("task_id", "string")]
        op["responses"] = {"200": ok, "401": _UNAUTHORIZED, "404": _NOT_FOUND_TASK}
    else:
        op["parameters"] = [_path_parameter("run_id", "integer")]
        op["responses"] = {
            "200": _json(fam.result_schema or "ErrorBody", "The run's result."),
            "401": _UNAUTHORIZED,
            "404": _json("ErrorBody", "No finished run with this id."),
        }
    return op


def _path_parameter(name: str, json_type: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": json_type}}


def status_operation(family: Family) -> str:
    """The operation id of a family's main status route."""
    return next(r.operation_id for r in ROUTES if r.family is family and r.action == "status")


def _create_responses(status_op: str) -> dict[str, Any]:
    return {
        "200": {
            **_json("CreateTaskResponse", "The task was created; poll its status."),
            "links": {"status": _link(status_op, "task_id", "task_id")},
        },
        "400": _json("ErrorBody", "Unknown x-mockcamb-scenario preset."),
        "401": _UNAUTHORIZED,
        "422": _json("HTTPValidationError", "A required field is missing or malformed."),
    }


def _components() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "TaskStatus": _component(STATUS_BODY_SCHEMA),
        "CreateTaskResponse": _component(CREATE_TASK_RESPONSE_SCHEMA),
        "ErrorBody": _component(ERROR_BODY_SCHEMA),
        "HTTPValidationError": _component(VALIDATION_ERROR_SCHEMA),
    }
    for name, schema in RESULT_SCHEMAS.items():
        schemas[name] = _component(schema)
    for fam in FAMILIES:
        schemas[f"Create{fam.title}Request"] = _component(request_schema(fam))
    return {
        "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
        "schemas": schemas,
    }


def openapi_document(server_url: str = "/apis") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every emulated endpoint (every route of the route table),
    with ``server_url`` as its server (the base URL a client is given, ending in ``/apis``)."""
    paths: dict[str, Any] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    names = ", ".join(f.name for f in FAMILIES)
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": JSON_SCHEMA_DIALECT,
        "info": {
            "title": "CAMB.AI task API (mockcamb emulation)",
            "version": __version__,
            "description": f"The asynchronous task endpoints ({names}) as mockcamb "
            "emulates them. Scenarios may inject faults (5xx, 429 with Retry-After, non-JSON "
            "or truncated bodies, dropped connections) that deliberately break this contract.",
        },
        "servers": [{"url": server_url}],
        "security": [{"ApiKey": []}],
        "tags": [{"name": f.name} for f in FAMILIES],
        "paths": paths,
        "components": _components(),
    }
    return copy.deepcopy(doc)  # the shared parts above must not alias between documents


openapi = Blueprint("openapi", __name__)


@openapi.get("/openapi.json")
def openapi_json() -> dict[str, Any]:
    """The document, with this server's ``/apis`` as its server URL."""
    return openapi_document(request.host_url.rstrip("/") + "/apis")


__all__ = [
    "OPENAPI_VERSION",
    "contract_presets",
    "openapi",
    "openapi_document",
    "status_operation",
]
