"""Request bodies: strict JSON parsing, and FastAPI-style checks of a create request against
the fields its family declares in the route table."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from .replies import Problem
from .routes import Family, Field


class _NotJSON:
    """What :func:`json_body` returns for a body that is not strict JSON."""

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON: Final = _NotJSON()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body(data: bytes) -> Any:
    """Parse a request body as strict JSON: NaN/Infinity, bad UTF-8 and absurd nesting
    give :data:`NOT_JSON` (so a 4xx), never an exception."""
    if not data:
        return NOT_JSON
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return NOT_JSON


_NOT_AN_OBJECT: Final = "Input should be a valid dictionary or object to extract fields from"
_INT_PARSING: Final = "Input should be a valid integer, unable to parse string as an integer"


def _is_integer(value: Any) -> bool:
    """An integer as FastAPI's lax mode reads one: an int (not a bool) or a string of digits."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (
        isinstance(value, str) and value.strip().lstrip("-").isdigit()
    )


def _field_problems(field: Field, value: Any) -> list[Problem]:
    """What FastAPI would say of one present, non-null value of ``field``."""
    loc: list[Any] = ["body", field.name]
    if field.type == "integer" and not _is_integer(value):
        return [(loc, _INT_PARSING, "int_parsing")]
    if field.type == "string" and not isinstance(value, str):
        return [(loc, "Input should be a valid string", "string_type")]
    if field.type == "integer_list":
        if not isinstance(value, list):
            return [(loc, "Input should be a valid list", "list_type")]
        return [
            ([*loc, i], "Input should be a valid integer", "int_type")
            for i, item in enumerate(value)
            if isinstance(item, bool) or not isinstance(item, (int, str))
        ]
    return []


def create_problems(
    family: Family, body: Any, files: frozenset[str] = frozenset()
) -> list[Problem]:
    """FastAPI-style problems with a create request for ``family``: each required field
    missing, each required field of the wrong type. ``body`` is the parsed JSON document or
    the multipart form fields; ``files`` the names of the uploaded files."""
    if family.body == "json" and not isinstance(body, Mapping):
        return [(["body"], _NOT_AN_OBJECT, "model_attributes_type")]
    fields: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    problems: list[Problem] = []
    for field in family.fields:
        if not field.required:
            continue
        present = (
            field.name in files if field.type == "file" else fields.get(field.name) is not None
        )
        if not present:
            problems.append((["body", field.name], "Field required", "missing"))
        elif field.type != "file":
            problems += _field_problems(field, fields[field.name])
    return problems


__all__ = ["NOT_JSON", "create_problems", "json_body"]
