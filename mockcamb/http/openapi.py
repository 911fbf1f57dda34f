"""The OpenAPI 3.1 document of the emulated API, built from the route table
(:mod:`mockcamb.core.routes`) and the schemas in :mod:`mockcamb.core.schemas` (the ones the
emulator's tests and the contract suite check bodies against), served at ``GET /openapi.json``
so schemathesis, Prism or a client generator can start from it."""

from __future__ import annotations

import copy
from typing import Any, Final

from flask import Blueprint, request

from ..core import journal
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
from .admin import JOURNAL_PAGE, MAX_JOURNAL_PAGE
from .wsgi import ADMIN_PREFIX

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


_AUDIO_RESULTS: Final = {"tts": "audio/flac", "text-to-sound": "audio/wav"}
_RUN_IDS: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["run_ids"],
    "properties": {"run_ids": {"type": "array", "items": {"type": "integer"}}},
}


def _parameters(route: Route) -> list[dict[str, Any]]:
    out = [
        _path_parameter(p, "integer" if p == "run_id" and route.action != "status" else "string")
        for p in route.params
    ]
    query = route.result.query if route.result is not None else ()
    if route.action == "status":
        query = ("run_id",)
    for name in query:
        out.append({"name": name, "in": "query", "required": False, "schema": {"type": "string"}})
    return out


def _create_operation(route: Route, fam: Family) -> dict[str, Any]:
    media = "application/json" if fam.body == "json" else "multipart/form-data"
    responses = _create_responses(status_operation(fam), "CreateTaskResponse")
    if fam.starts_from is not None:
        responses["404"] = _json("ErrorBody", f"No finished {fam.starts_from} run with this id.")
    return {
        "parameters": [*_parameters(route), _scenario_header()],
        "requestBody": {
            "required": True,
            "content": {media: {"schema": _ref(f"Create{fam.title}Request")}},
        },
        "responses": responses,
    }


def _status_operation(route: Route, fam: Family) -> dict[str, Any]:
    ok: dict[str, Any] = _json("TaskStatus", "The task's status; run_id once it succeeded.")
    first = next((r for r in ROUTES if r.family is fam and r.action == "result"), None)
    if first is not None:
        ok["links"] = {"result": _link(first.operation_id, "run_id", "run_id")}
    return {
        "parameters": _parameters(route),
        "responses": {"200": ok, "401": _UNAUTHORIZED, "404": _NOT_FOUND_TASK},
    }


def _result_operation(route: Route, fam: Family) -> dict[str, Any]:
    assert route.result is not None
    schema = route.result.schema or "ErrorBody"
    ok = _json(schema, "The run's result.")
    audio = _AUDIO_RESULTS.get(route.result.builder)
    if audio is not None:
        ok["content"][audio] = {"schema": {"type": "string", "format": "binary"}}
        ok["description"] = f"The run's audio ({audio}), or its URL with output_type=file_url."
    op: dict[str, Any] = {"parameters": _parameters(route)}
    if route.action == "bulk":
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunIds"}}},
        }
        item = _ref(schema)
        many: dict[str, Any] = (
            {"type": "array", "items": item}
            if fam.name == "project-setup"
            else {"type": "object", "additionalProperties": item}
        )
        ok = {
            "description": "Each finished run's result, by run id.",
            "content": {"application/json": {"schema": many}},
        }
    op["responses"] = {
        "200": ok,
        "401": _UNAUTHORIZED,
        "404": _json("ErrorBody", "No finished run with this id."),
        "422": _json("HTTPValidationError", "A parameter is missing or malformed."),
    }
    return op


def _file_operation(route: Route) -> dict[str, Any]:
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "parameters": _parameters(route),
        "security": [],
        "responses": {
            "200": {
                "description": "The file (audio, a JSON dialogue, subtitles).",
                "content": {"audio/wav": binary, "audio/flac": binary, "text/plain": binary},
            },
            "404": _json("ErrorBody", "No such file for a finished run."),
        },
    }


def _operation(route: Route) -> dict[str, Any]:
    """The OpenAPI operation of one route-table entry."""
    fam = route.family
    op: dict[str, Any] = {"operationId": route.operation_id, "summary": route.summary}
    if fam is None:
        return {**op, "tags": ["files"], **_file_operation(route)}
    op["tags"] = [fam.name]
    if route.action == "create":
        op.update(_create_operation(route, fam))
    elif route.action == "status":
        op.update(_status_operation(route, fam))
    else:
        op.update(_result_operation(route, fam))
    return op


def _path_parameter(name: str, json_type: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": json_type}}


def status_operation(family: Family) -> str:
    """The operation id of a family's main status route."""
    return next(r.operation_id for r in ROUTES if r.family is family and r.action == "status")


def _create_responses(status_op: str, schema: str) -> dict[str, Any]:
    return {
        "200": {
            **_json(schema, "The task was created; poll its status."),
            "links": {"status": _link(status_op, "task_id", "task_id")},
        },
        "400": _json("ErrorBody", "Unknown x-mockcamb-scenario preset."),
        "401": _UNAUTHORIZED,
        "422": _json("HTTPValidationError", "A required field is missing or malformed."),
    }


_NULLABLE_INT: Final = {"type": ["integer", "null"]}
_NULLABLE_STR: Final = {"type": ["string", "null"]}
#: A request journal entry (:func:`mockcamb.core.journal.entry`).
JOURNAL_ENTRY_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": list(journal.FIELDS),
    "additionalProperties": False,
    "properties": {
        "seq": {"type": "integer", "minimum": 1},
        "method": {"type": "string"},
        "path": {"type": "string", "description": "Path as received, API keys redacted."},
        "kind": _NULLABLE_STR,
        "task_id": _NULLABLE_STR,
        "request": _NULLABLE_INT,
        "status_code": {**_NULLABLE_INT, "description": "null: the connection was dropped."},
        "task_status": _NULLABLE_STR,
        "dropped": {"type": "boolean"},
        "delay_ms": {"type": "number"},
        "clock": {"type": "number"},
        "wall": {"type": "number"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "hint": {**_NULLABLE_STR, "description": "What a near-miss 404 said was meant."},
    },
}
JOURNAL_PAGE_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["requests", "next", "last_seq"],
    "properties": {
        "requests": {"type": "array", "items": _ref("JournalEntry")},
        "next": {**_NULLABLE_STR, "description": "The following page, in the same direction."},
        "last_seq": {"type": "integer", "minimum": 0},
    },
}


def _journal_path(server_url: str) -> dict[str, Any]:
    """``GET /__admin/requests``: the admin API's journal, paged (its own server URL)."""

    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "schema": schema, "description": description}

    seq = {"type": "integer", "minimum": 0}
    limit = {"type": "integer", "minimum": 1, "maximum": MAX_JOURNAL_PAGE, "default": JOURNAL_PAGE}
    root = server_url.removesuffix("/apis")
    return {
        "servers": [{"url": root + ADMIN_PREFIX}],
        "get": {
            "operationId": "admin_journal",
            "tags": ["admin"],
            "summary": "The request journal, oldest first, a page at a time (mockcamb only)",
            "security": [{}, {"AdminToken": []}],
            "parameters": [
                query("kind", {"type": "string"}, "Only this family's requests."),
                query("task_id", {"type": "string"}, "Only this task's requests."),
                query("hinted", {"type": "boolean"}, "Only those with (true) or without a hint."),
                query("limit", limit, "Entries per page."),
                query("after_seq", seq, "The first entries after this one (paging forward)."),
                query("before_seq", seq, "The last entries before this one (paging back)."),
            ],
            "responses": {
                "200": _json("JournalPage", "A page; without a cursor, the newest entries."),
                "400": _json("ErrorBody", "A bad parameter (or both cursors)."),
                "401": _json("ErrorBody", "The admin token is required."),
            },
        },
    }


def _components() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "TaskStatus": _component(STATUS_BODY_SCHEMA),
        "CreateTaskResponse": _component(CREATE_TASK_RESPONSE_SCHEMA),
        "ErrorBody": _component(ERROR_BODY_SCHEMA),
        "HTTPValidationError": _component(VALIDATION_ERROR_SCHEMA),
        "RunIds": dict(_RUN_IDS),
        "JournalEntry": copy.deepcopy(JOURNAL_ENTRY_SCHEMA),
        "JournalPage": copy.deepcopy(JOURNAL_PAGE_SCHEMA),
    }
    for name, schema in RESULT_SCHEMAS.items():
        schemas[name] = _component(schema)
    for fam in FAMILIES:
        schemas[f"Create{fam.title}Request"] = _component(request_schema(fam))
    return {
        "securitySchemes": {
            "ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            "AdminToken": {"type": "apiKey", "in": "header", "name": "x-admin-token"},
        },
        "schemas": schemas,
    }


def openapi_document(server_url: str = "/apis") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every emulated endpoint (every route of the route table),
    with ``server_url`` as its server (the base URL a client is given, ending in ``/apis``)."""
    paths: dict[str, Any] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    paths[f"{ADMIN_PREFIX}/requests"] = _journal_path(server_url)
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
        "tags": [*({"name": f.name} for f in FAMILIES), {"name": "files"}, {"name": "admin"}],
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
    "JOURNAL_ENTRY_SCHEMA",
    "JOURNAL_PAGE_SCHEMA",
    "OPENAPI_VERSION",
    "contract_presets",
    "openapi",
    "openapi_document",
    "status_operation",
]
