"""JSON Schemas of the API's bodies: the one place the emulator's tests, the contract suite and
the OpenAPI document take them from (JSON Schema 2020-12, as OpenAPI 3.1 uses).

The status vocabulary is an open set (the official SDK accepts any string), so the default
:data:`STATUS_BODY_SCHEMA` only lists the documented statuses as ``examples``; a strict check
builds its own schema with :func:`status_body_schema` and an ``allowed`` set, and
:func:`validate_status_body` says in words what is wrong with a body.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable
from typing import Any, Final

from .families import Family, Field
from .statuses import DOCUMENTED_STATUSES, EXCEPTION_REASONS, SUCCESS
from .text import shorten

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

_RUN_ID: Final[dict[str, Any]] = {
    "description": "Identifies the finished run; present (an integer) whenever status is SUCCESS.",
    "type": ["integer", "null"],
}
_MESSAGE: Final[dict[str, Any]] = {
    "description": "Why a task failed (or any note); a string or an object.",
    "anyOf": [{"type": "string"}, {"type": "object"}, {"type": "null"}],
}
_EXCEPTION_REASON: Final[dict[str, Any]] = {
    "description": "A machine-readable failure reason; the SDK knows these values, others may "
    "appear.",
    "type": ["string", "null"],
    "examples": list(EXCEPTION_REASONS),
}
#: SUCCESS needs an integer run_id (anyOf rather than if/then, so every tool can read it).
_SUCCESS_HAS_RUN_ID: Final[dict[str, Any]] = {
    "anyOf": [
        {"properties": {"status": {"not": {"enum": [SUCCESS]}}}},
        {"required": ["run_id"], "properties": {"run_id": {"type": "integer"}}},
    ]
}


def status_body_schema(allowed_statuses: Iterable[str] | None = None) -> dict[str, Any]:
    """The schema of ``GET /story/{id}`` and ``GET /project-setup/{id}`` answers.

    ``allowed_statuses=None`` keeps the set open (any non-empty string, documented ones as
    examples); a collection makes ``status`` an ``enum`` of exactly those strings.
    """
    status: dict[str, Any] = {
        "description": "The task's state. PENDING: keep polling; SUCCESS: fetch the result with "
        "run_id; FAILED/ERROR/TIMEOUT/PAYMENT_REQUIRED: final failures.",
        "type": "string",
    }
    if allowed_statuses is None:
        status["minLength"] = 1
        status["examples"] = list(DOCUMENTED_STATUSES)
    else:
        status["enum"] = list(dict.fromkeys(allowed_statuses))
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": "TaskStatus",
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": status,
            "run_id": dict(_RUN_ID),
            "message": dict(_MESSAGE),
            "exception_reason": dict(_EXCEPTION_REASON),
        },
        "additionalProperties": True,
        "allOf": [_SUCCESS_HAS_RUN_ID],
    }


#: The status body with the open vocabulary (what any client must be ready for).
STATUS_BODY_SCHEMA: Final = status_body_schema()
#: The status body restricted to the documented vocabulary (the contract suite's default).
DOCUMENTED_STATUS_BODY_SCHEMA: Final = status_body_schema(DOCUMENTED_STATUSES)

#: mockcamb's own error bodies (FastAPI style); the real API's are not documented.
ERROR_BODY_SCHEMA: Final[dict[str, Any]] = {
    "$schema": JSON_SCHEMA_DIALECT,
    "title": "ErrorBody",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "description": "What went wrong: a sentence, or FastAPI's list of problems.",
            "anyOf": [{"type": "string"}, {"type": "array"}, {"type": "object"}],
        }
    },
}

#: FastAPI's 422 body, as the SDK's ``HttpValidationError`` describes it.
VALIDATION_ERROR_SCHEMA: Final[dict[str, Any]] = {
    "$schema": JSON_SCHEMA_DIALECT,
    "title": "HTTPValidationError",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "title": "ValidationError",
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        }
    },
}

#: ``POST /story`` and ``POST /project-setup`` answers.
CREATE_TASK_RESPONSE_SCHEMA: Final[dict[str, Any]] = {
    "$schema": JSON_SCHEMA_DIALECT,
    "title": "CreateTaskResponse",
    "type": "object",
    "required": ["task_id"],
    "properties": {"task_id": {"type": "string", "minLength": 1}},
}


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return shorten(text, 80)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def is_json_integer(value: Any) -> bool:
    """An integer as JSON Schema counts them: ``7`` or ``7.0``, never ``true`` or ``"7"``."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


#: The rules a status body can break, as :func:`status_body_problems` names them.
STATUS_BODY_RULES: Final = {
    "object-body": "the body is a JSON object (not a list or a scalar)",
    "status-field": "the body has a 'status' field holding a non-empty string",
    "status-vocabulary": "'status' is one of the documented statuses",
    "run-id-integer": "'run_id', when present and not null, is an integer",
    "success-run-id": "a SUCCESS body carries an integer 'run_id'",
    "message-type": "'message' is a string, an object or null",
    "exception-reason-type": "'exception_reason' is a string or null",
}


def status_body_problems(
    body: Any, allowed: Iterable[str] | None = DOCUMENTED_STATUSES
) -> list[tuple[str, str]]:
    """Every way ``body`` breaks the status-body contract, as ``(rule, sentence)`` pairs, the
    rule being a key of :data:`STATUS_BODY_RULES`. Empty when the body conforms.

    ``allowed`` is the status vocabulary to insist on; ``None`` accepts any non-empty string.
    Agrees with ``status_body_schema(allowed)``; the sentences name the value and the fix.
    """
    if not isinstance(body, dict):
        return [
            (
                "object-body",
                f"the body must be a JSON object, got {_json_type(body)}: {_show(body)}",
            )
        ]
    problems: list[tuple[str, str]] = []
    status = body.get("status")
    if "status" not in body:
        present = ", ".join(map(str, body)) or "none"
        problems.append(("status-field", f"'status' is missing (fields present: {present})"))
    elif not isinstance(status, str):
        problems.append(
            (
                "status-field",
                f"'status' must be a string, got {_json_type(status)}: {_show(status)}",
            )
        )
    elif not status:
        problems.append(("status-field", "'status' must not be an empty string"))
    elif allowed is not None:
        vocab = list(dict.fromkeys(allowed))
        if status not in vocab:
            hint = ""
            if status.upper() in vocab:
                hint = f" (statuses are upper case: {status.upper()!r})"
            problems.append(
                (
                    "status-vocabulary",
                    f"'status' {_show(status)} is not in the vocabulary {', '.join(vocab)}{hint}",
                )
            )
    run_id = body.get("run_id")
    if "run_id" in body and run_id is not None and not is_json_integer(run_id):
        problems.append(
            (
                "run-id-integer",
                f"'run_id' must be an integer, got {_json_type(run_id)}: {_show(run_id)}",
            )
        )
    if status == SUCCESS and run_id is None:
        got = "null" if "run_id" in body else "no run_id at all"
        problems.append(
            (
                "success-run-id",
                f"'run_id' is required when status is SUCCESS (the result is fetched with it), "
                f"got {got}",
            )
        )
    message = body.get("message")
    if message is not None and not isinstance(message, (str, dict)):
        problems.append(
            (
                "message-type",
                f"'message' must be a string, an object or null, got {_json_type(message)}: "
                f"{_show(message)}",
            )
        )
    reason = body.get("exception_reason")
    if reason is not None and not isinstance(reason, str):
        problems.append(
            (
                "exception-reason-type",
                f"'exception_reason' must be a string or null, got {_json_type(reason)}: "
                f"{_show(reason)}",
            )
        )
    return problems


def validate_status_body(
    body: Any, allowed: Iterable[str] | None = DOCUMENTED_STATUSES
) -> list[str]:
    """Every way ``body`` breaks the status-body contract, as sentences (empty when it conforms).

    ``allowed`` is the status vocabulary to insist on; ``None`` accepts any non-empty string.
    """
    return [sentence for _, sentence in status_body_problems(body, allowed)]


# --- result and request bodies ---------------------------------------------------------

#: ``GET /story-result/{run_id}`` as the emulator answers it (the shape CAMB documents).
_STORY_RESULT: Final[dict[str, Any]] = {
    "title": "StoryResult",
    "type": "object",
    "required": ["audio_url", "dialogue_url"],
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
_PROJECT_SETUP_RESULT: Final[dict[str, Any]] = {
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

_URL: Final[dict[str, Any]] = {"type": "string", "format": "uri"}
_TRANSCRIPT_LINES: Final[dict[str, Any]] = copy.deepcopy(_STORY_RESULT["properties"]["transcript"])


def _object(title: str, required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {"title": title, "type": "object", "required": required, "properties": properties}


#: The result body of each family's result routes, by the name the route table gives
#: (:attr:`mockcamb.core.families.Result.schema`).
RESULT_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "StoryResult": _STORY_RESULT,
    "ProjectSetupResult": _PROJECT_SETUP_RESULT,
    "DubbingResult": _object(
        "DubbingResult",
        ["audio_url", "transcript"],
        audio_url=_URL,
        video_url=_URL,
        transcript=_TRANSCRIPT_LINES,
    ),
    "StringMap": {
        "title": "StringMap",
        "type": "object",
        "additionalProperties": {"type": "string"},
    },
    "TtsFileUrl": _object("GetTtsResultOutFileUrl", ["output_url"], output_url=_URL),
    "OutputUrl": _object("TextToAudioResult", ["output_url"], output_url=_URL),
    "SoundFileUrl": _object(
        "TextToSoundFileUrl", ["file_url", "output_url"], file_url=_URL, output_url=_URL
    ),
    "TranslationResult": _object(
        "TranslationResult", ["texts"], texts={"type": "array", "items": {"type": "string"}}
    ),
    "TranscriptionResult": _object(
        "TranscriptionResult",
        ["transcript"],
        transcript={"anyOf": [_TRANSCRIPT_LINES, {"type": "string"}]},
        file_url=_URL,
        expiry={"type": "string"},
    ),
    "SubtitleResult": _object(
        "SubtitleResult",
        ["transcript"],
        transcript={"type": "string"},
        file_url=_URL,
        expiry={"type": "string"},
    ),
    "TextToVoiceResult": _object(
        "GetTextToVoiceResultOut", ["previews"], previews={"type": "array", "items": _URL}
    ),
    "AudioSeparationResult": _object(
        "GetAudioSeparationResultOut",
        ["foreground_audio_url", "background_audio_url"],
        foreground_audio_url=_URL,
        background_audio_url=_URL,
    ),
}

_LANGUAGE: Final[dict[str, Any]] = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
_FIELD_TYPES: Final[dict[str, dict[str, Any]]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "object": {"type": "object"},
    "integer_list": {"type": "array", "items": {"type": "integer"}},
    "string_list": {"type": "array", "items": {"type": "string"}},
    "language": _LANGUAGE,
    "language_list": {"type": "array", "items": _LANGUAGE},
    "file": {"type": "string", "format": "binary"},
}


def _field_schema(field: Field) -> dict[str, Any]:
    schema = copy.deepcopy(_FIELD_TYPES[field.type])
    if field.nullable:
        if isinstance(schema.get("type"), str) and "items" not in schema:
            schema["type"] = [schema["type"], "null"]
        else:
            schema = {"anyOf": [schema, {"type": "null"}]}
    if field.description:
        schema["description"] = field.description
    return schema


def request_schema(family: Family) -> dict[str, Any]:
    """The schema of a family's create request (its JSON body or its multipart form),
    derived from the fields its route-table entry declares."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": f"Create{family.title}Request",
        "type": "object",
        "required": [f.name for f in family.fields if f.required],
        "properties": {f.name: _field_schema(f) for f in family.fields},
    }


__all__ = [
    "CREATE_TASK_RESPONSE_SCHEMA",
    "DOCUMENTED_STATUS_BODY_SCHEMA",
    "ERROR_BODY_SCHEMA",
    "JSON_SCHEMA_DIALECT",
    "RESULT_SCHEMAS",
    "STATUS_BODY_RULES",
    "STATUS_BODY_SCHEMA",
    "VALIDATION_ERROR_SCHEMA",
    "is_json_integer",
    "request_schema",
    "status_body_problems",
    "status_body_schema",
    "validate_status_body",
]
