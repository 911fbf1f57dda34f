"""Reading a YAML or JSON document from a file, with a safe loader, its problems located in
the file (``FILE:LINE: is not valid YAML: ...``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .errors import ScenarioError
from .problems import Problem


def _yaml_problem(exc: yaml.YAMLError) -> tuple[str, int | None]:
    """A one-line description of a YAML error, and its line (PyYAML's own text names the
    source ``<unicode string>``)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        text = exc.problem or exc.context or "cannot be parsed"
        if exc.problem and exc.context:
            cm = exc.context_mark
            text += f" ({exc.context}" + (f" at line {cm.line + 1})" if cm else ")")
        return text, None if mark is None else mark.line + 1
    if isinstance(exc, yaml.reader.ReaderError):
        return f"{exc.reason} (character {exc.position})", None
    return type(exc).__name__, None


def read_document(path: Path) -> tuple[str, Any]:
    """A YAML or JSON file's text and its contents, read with a safe loader. Raises
    :class:`ScenarioError` located in the file (``FILE:LINE: is not valid YAML: ...``)."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError("", f"cannot be read: {exc}", file=file) from None
    kind = "JSON" if path.suffix == ".json" else "YAML"
    line: int | None = None
    try:
        if kind == "JSON":
            return text, json.loads(text)
        return text, yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        problem, line = f"{exc.msg} (column {exc.colno})", exc.lineno
    except yaml.YAMLError as exc:
        problem, line = _yaml_problem(exc)
    except (ValueError, RecursionError):
        problem = "nested too deeply" if kind == "YAML" else "cannot be decoded"
    raise ScenarioError("", [Problem((), f"is not valid {kind}: {problem}", line=line)], file=file)


def load_document(path: Path) -> Any:
    """Read a YAML or JSON file with a safe loader."""
    return read_document(path)[1]
