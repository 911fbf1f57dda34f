"""What is wrong (or only suspicious) in a document, and where: a field path, and the line
when the document came from a text, as ``FILE:LINE: field: problem``."""

from __future__ import annotations

from dataclasses import dataclass, replace

import yaml

#: One step of a field path: a mapping key or a list index.
PathPart = str | int
#: A field path from the document's root: ``("steps", 0, "status")``.
FieldPath = tuple[PathPart, ...]


def field_name(where: str, path: FieldPath) -> str:
    """``where`` followed by ``path`` in the JSON-path spelling: ``scenario.steps[0].status``."""
    out = where
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else part
    return out


def plural(count: int, noun: str) -> str:
    """``1 step``, ``2 steps``, ``0 faults``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@dataclass(frozen=True, slots=True)
class Problem:
    """One error or warning: the field it is about (a path under the document's root), what
    is wrong, and the 1-based line of that field when the document's text is known."""

    path: FieldPath
    message: str
    warning: bool = False
    line: int | None = None

    def field(self, where: str = "") -> str:
        return field_name(where, self.path)

    def describe(self, where: str = "", file: str | None = None, label: str = "") -> str:
        """``field: message`` under ``where``; in a ``file``, ``FILE:LINE: field: message``
        (``FILE: ...`` when the line is unknown); ``label`` (``warning``) after the place."""
        field = self.field(where)
        text = f"{field}: {self.message}" if field else self.message
        if label:
            text = f"{label}: {text}"
        if file is None:
            return text
        place = file if self.line is None else f"{file}:{self.line}"
        return f"{place}: {text}"


class LineMap:
    """The line of each field of a YAML (or JSON) text, from its composed node tree."""

    def __init__(self, root: yaml.Node | None) -> None:
        self._root = root

    @classmethod
    def of(cls, text: str) -> LineMap:
        """The map of ``text``; empty (no line known) when it does not compose."""
        try:
            return cls(yaml.compose(text, Loader=yaml.SafeLoader))
        except (yaml.YAMLError, RecursionError):
            return cls(None)

    def line(self, path: FieldPath) -> int | None:
        """The 1-based line of the field at ``path``, or of its nearest ancestor present in
        the text (a missing field is reported where its parent is)."""
        node = self._root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in path:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                found = [
                    (key, value)
                    for key, value in node.value
                    if isinstance(key, yaml.ScalarNode) and key.value == part
                ]
                if not found:
                    break
                key, node = found[-1]  # the loader keeps a repeated key's last value
                line = key.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def locate(self, problems: tuple[Problem, ...], prefix: FieldPath = ()) -> tuple[Problem, ...]:
        """``problems`` with their lines, their paths being under ``prefix`` in this text."""
        if self._root is None:
            return problems
        return tuple(replace(p, line=self.line(prefix + p.path)) for p in problems)


__all__ = ["FieldPath", "LineMap", "PathPart", "Problem", "field_name", "plural"]
