"""The OpenAPI 3.1 document of the emulated API, built from the schemas in :mod:`.schemas`
(the ones the emulator's tests and the contract suite check bodies against), served at
``GET /openapi.json`` so schemathesis, Prism or a client generator can start from it."""

from __future__ import annotations

import copy
from typing import Any, Final

from flask import Blueprint, request

from .. import __version__
from ..core.scenario import load_preset, preset_names
from ..core.schemas import (
    CREATE_TASK_RESPONSE_SCHEMA,
    ERROR_BODY_SCHEMA,
    JSON_SCHEMA_DIALECT,
    STATUS_BODY_SCHEMA,
    VALIDATION_ERROR_SCHEMA,
)

OPENAPI_VERSION: Final = "3.1.0"

#: ``GET /story-result/{run_id}`` as the emulator answers it (the shape CAMB documents).
STORY_RESULT_SCHEMA: Final[dict[str, Any]] = {
    "title": "StoryResult",
    "type": "object",
    "required": ["audio_url", "dialogue_url", "transcript"],
    "properties": {
        "audio_url": {"type": "string"},
        "dialogue_url": {"type": "string"},
        "transcript": {
            "type": "array",
            "items": {
                "title": "TranscriptLine",
                "type": "object",
                "required": ["start", "end", "text", "speaker"],
                "properties": {
                    "start": {"type": "number"},
                    "end": {"type": "number"},
                    "text": {"type": "string"},
                    "speaker": {"type": "string"},
                },
            },
        },
    },
}

#: ``GET /project-setup-result/{run_id}``: the run and the SDK's ``ProjectDetails``.
PROJECT_SETUP_RESULT_SCHEMA: Final[dict[str, Any]] = {
    "title": "ProjectSetupResult",
    "type": "object",
    "required": ["run_id", "project_details"],
    "properties": {
        "run_id": {"type": "integer"},
        "project_details": {
            "title": "ProjectDetails",
            "type": "object",
            "required": [
                "project_name",
                "created_at",
                "source_language",
                "target_languages",
                "studio_url",
            ],
            "properties": {
                "project_name": {"type": "string"},
                "project_description": {"type": ["string", "null"]},
                "created_at": {"type": "string", "format": "date-time"},
                "source_language": {"type": "integer"},
                "target_languages": {"type": "array", "items": {"type": "integer"}},
                "duration": {"type": ["number", "null"]},
                "folder_id": {"type": ["integer", "null"]},
                "studio_url": {"type": "string"},
            },
        },
    },
}

_INT_LIST: Final[dict[str, Any]] = {"type": "array", "items": {"type": "integer"}}

#: ``POST /story`` form fields (multipart), as the official SDK sends them.
CREATE_STORY_REQUEST_SCHEMA: Final[dict[str, Any]] = {
    "title": "CreateStoryRequest",
    "type": "object",
    "required": ["file", "source_language"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "The story document."},
        "source_language": {"type": "integer", "description": "CAMB language id."},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "narrator_voice_id": {"type": "integer"},
        "folder_id": {"type": "integer"},
        "chosen_dictionaries": _INT_LIST,
    },
}

#: ``POST /project-setup`` JSON body, as the official SDK sends it.
CREATE_PROJECT_SETUP_REQUEST_SCHEMA: Final[dict[str, Any]] = {
    "title": "CreateProjectSetupRequest",
    "type": "object",
    "required": ["media_url", "source_language", "target_languages"],
    "properties": {
        "media_url": {"type": "string"},
        "source_language": {"type": "integer", "description": "CAMB language id."},
        "target_languages": _INT_LIST,
        "project_name": {"type": ["string", "null"]},
        "project_description": {"type": ["string", "null"]},
        "folder_id": {"type": ["integer", "null"]},
        "selected_audio_tracks": {"anyOf": [_INT_LIST, {"type": "null"}]},
        "add_output_as_an_audio_track": {"type": ["boolean", "null"]},
        "chosen_dictionaries": {"anyOf": [_INT_LIST, {"type": "null"}]},
    },
}


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


def _status_path(kind: str, op_id: str, result_op: str) -> dict[str, Any]:
    return {
        "get": {
            "operationId": op_id,
            "summary": f"Status of a {kind} task",
            "tags": [kind],
            "parameters": [
                {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {
                    **_json("TaskStatus", "The task's status; run_id once it succeeded."),
                    "links": {"result": _link(result_op, "run_id", "run_id")},
                },
                "401": _UNAUTHORIZED,
                "404": _NOT_FOUND_TASK,
            },
        }
    }


def _result_path(kind: str, op_id: str, schema: str) -> dict[str, Any]:
    return {
        "get": {
            "operationId": op_id,
            "summary": f"Result of a finished {kind} run",
            "tags": [kind],
            "parameters": [
                {"name": "run_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {
                "200": _json(schema, "The run's result."),
                "401": _UNAUTHORIZED,
                "404": _json("ErrorBody", "No finished run with this id."),
            },
        }
    }


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


def openapi_document(server_url: str = "/apis") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every emulated endpoint, with ``server_url`` as its server
    (the base URL a client is given, ending in ``/apis``)."""
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": JSON_SCHEMA_DIALECT,
        "info": {
            "title": "CAMB.AI task API (mockcamb emulation)",
            "version": __version__,
            "description": "The asynchronous story and project-setup endpoints as mockcamb "
            "emulates them. Scenarios may inject faults (5xx, 429 with Retry-After, non-JSON "
            "or truncated bodies, dropped connections) that deliberately break this contract.",
        },
        "servers": [{"url": server_url}],
        "security": [{"ApiKey": []}],
        "tags": [{"name": "story"}, {"name": "project-setup"}],
        "paths": {
            "/story": {
                "post": {
                    "operationId": "createStory",
                    "summary": "Start a story task",
                    "tags": ["story"],
                    "parameters": [_scenario_header()],
                    "requestBody": {
                        "required": True,
                        "content": {"multipart/form-data": {"schema": _ref("CreateStoryRequest")}},
                    },
                    "responses": _create_responses("getStoryStatus"),
                }
            },
            "/story/{task_id}": _status_path("story", "getStoryStatus", "getStoryResult"),
            "/story-result/{run_id}": _result_path("story", "getStoryResult", "StoryResult"),
            "/project-setup": {
                "post": {
                    "operationId": "createProjectSetup",
                    "summary": "Start a project-setup task",
                    "tags": ["project-setup"],
                    "parameters": [_scenario_header()],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": _ref("CreateProjectSetupRequest")}
                        },
                    },
                    "responses": _create_responses("getProjectSetupStatus"),
                }
            },
            "/project-setup/{task_id}": _status_path(
                "project-setup", "getProjectSetupStatus", "getProjectSetupResult"
            ),
            "/project-setup-result/{run_id}": _result_path(
                "project-setup", "getProjectSetupResult", "ProjectSetupResult"
            ),
        },
        "components": {
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "schemas": {
                "TaskStatus": _component(STATUS_BODY_SCHEMA),
                "CreateTaskResponse": _component(CREATE_TASK_RESPONSE_SCHEMA),
                "ErrorBody": _component(ERROR_BODY_SCHEMA),
                "HTTPValidationError": _component(VALIDATION_ERROR_SCHEMA),
                "StoryResult": _component(STORY_RESULT_SCHEMA),
                "ProjectSetupResult": _component(PROJECT_SETUP_RESULT_SCHEMA),
                "CreateStoryRequest": _component(CREATE_STORY_REQUEST_SCHEMA),
                "CreateProjectSetupRequest": _component(CREATE_PROJECT_SETUP_REQUEST_SCHEMA),
            },
        },
    }
    return copy.deepcopy(doc)  # the shared parts above must not alias between documents


openapi = Blueprint("openapi", __name__)


@openapi.get("/openapi.json")
def openapi_json() -> dict[str, Any]:
    """The document, with this server's ``/apis`` as its server URL."""
    return openapi_document(request.host_url.rstrip("/") + "/apis")


__all__ = [
    "CREATE_PROJECT_SETUP_REQUEST_SCHEMA",
    "CREATE_STORY_REQUEST_SCHEMA",
    "OPENAPI_VERSION",
    "PROJECT_SETUP_RESULT_SCHEMA",
    "STORY_RESULT_SCHEMA",
    "contract_presets",
    "openapi",
    "openapi_document",
]
