"""Request bodies: strict JSON parsing, and FastAPI-style checks of a create request against
the fields its family declares in the route table."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from .families import Family, Field
from .replies import Problem


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
_FLOAT_PARSING: Final = "Input should be a valid number, unable to parse string as a number"
_BOOLEANS: Final = frozenset({"true", "false", "1", "0", "yes", "no", "on", "off"})


def _is_integer(value: Any) -> bool:
    """An integer as FastAPI's lax mode reads one: an int (not a bool) or a string of digits."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (
        isinstance(value, str) and value.strip().lstrip("-").isdigit()
    )


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    try:
        return isinstance(value, str) and float(value) == float(value)
    except ValueError:
        return False


def _is_boolean(value: Any) -> bool:
    return isinstance(value, bool) or (isinstance(value, str) and value.lower() in _BOOLEANS)


def _is_language(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, str))


_SCALARS: Final[dict[str, tuple[Callable[[Any], bool], str, str]]] = {
    "integer": (_is_integer, _INT_PARSING, "int_parsing"),
    "number": (_is_number, _FLOAT_PARSING, "float_parsing"),
    "boolean": (_is_boolean, "Input should be a valid boolean", "bool_parsing"),
    "string": (lambda v: isinstance(v, str), "Input should be a valid string", "string_type"),
    "object": (lambda v: isinstance(v, Mapping), "Input should be a valid dictionary", "dict_type"),
    "language": (_is_language, "Input should be a valid integer or string", "union_type"),
}
_ITEMS: Final[dict[str, str]] = {
    "integer_list": "integer_item",
    "string_list": "string",
    "language_list": "language",
}


def _integer_item(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, str))


def _field_problems(field: Field, value: Any) -> list[Problem]:
    """What FastAPI would say of one present, non-null value of ``field``."""
    loc: list[Any] = ["body", field.name]
    if field.type in _SCALARS:
        ok, msg, kind = _SCALARS[field.type]
        return [] if ok(value) else [(loc, msg, kind)]
    item = _ITEMS.get(field.type)
    if item is None:  # a file: present is all there is to check
        return []
    if not isinstance(value, list):
        return [(loc, "Input should be a valid list", "list_type")]
    if item == "integer_item":
        return [
            ([*loc, i], "Input should be a valid integer", "int_type")
            for i, v in enumerate(value)
            if not _integer_item(v)
        ]
    ok, msg, kind = _SCALARS[item]
    return [([*loc, i], msg, kind) for i, v in enumerate(value) if not ok(v)]


def _present(field: Field, fields: Mapping[str, Any], files: frozenset[str]) -> bool:
    if field.type == "file":
        return field.name in files
    return fields.get(field.name) is not None


def create_problems(
    family: Family, body: Any, files: frozenset[str] = frozenset()
) -> list[Problem]:
    """FastAPI-style problems with a create request for ``family``: each required field
    missing, each field sent with the wrong type (a multipart form's optional fields are
    text, so only its required ones are typed), each one-of group with no member sent.
    ``body`` is the parsed JSON document or the multipart form fields; ``files`` the names
    of the uploaded files."""
    if family.body == "json" and not isinstance(body, Mapping):
        return [(["body"], _NOT_AN_OBJECT, "model_attributes_type")]
    fields: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    problems: list[Problem] = []
    for field in family.fields:
        if not _present(field, fields, files):
            if field.required:
                problems.append((["body", field.name], "Field required", "missing"))
        elif field.required or family.body == "json":
            problems += _field_problems(field, fields.get(field.name))
    for group in family.one_of:
        if not any(_present(f, fields, files) for f in family.fields if f.name in group):
            names = ", ".join(group)
            problems.append((["body"], f"Value error, send one of {names}", "value_error"))
    return problems





_EXAMPLES: Final[dict[str, Any]] = {
    "string": "hello",
    "integer": 1,
    "number": 3.0,
    "boolean": True,
    "object": {},
    "integer_list": [76],
    "string_list": ["Hello, world."],
    "language": 1,
    "language_list": [76],
}


def example_request(family: Family) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A minimal valid create request for ``family``: its required fields with example
    values, and the names of the files to upload (for docs, samples and tests)."""
    fields: dict[str, Any] = {}
    files: list[str] = []
    wanted = {f.name for f in family.fields if f.required}
    wanted |= {group[0] for group in family.one_of}
    for field in family.fields:
        if field.name not in wanted:
            continue
        if field.type == "file":
            files.append(field.name)
        elif field.name.endswith("_url"):
            fields[field.name] = "https://example.invalid/media.mp4"
        else:
            fields[field.name] = _EXAMPLES[field.type]
    return fields, tuple(files)
__all__ = ["NOT_JSON", "create_problems", "example_request", "json_body"]
