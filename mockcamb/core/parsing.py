"""What every scenario parser shares: the problems found in one document (each with its
field path), and the checks of a value's shape that name what was wrong with it."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ScenarioError
from .problems import FieldPath, Problem
from .spelling import closest
from .text import shorten

#: The most problems kept for one document; the rest are counted.
MAX_PROBLEMS = 50


class Found:
    """The problems found so far in one document: the first :data:`MAX_PROBLEMS`, and a count
    of the rest."""

    __slots__ = ("more", "problems")

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.more = 0

    def add(self, path: FieldPath, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(path, message))
        else:
            self.more += 1

    @property
    def count(self) -> int:
        return len(self.problems) + self.more

    def raise_any(self, where: str) -> None:
        if self.problems:
            raise ScenarioError(where, self.problems, more=self.more)


def describe(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return shorten(text, 60)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def suggest(word: Any, known: Sequence[str]) -> str:
    """``; did you mean X?`` for a string near one of ``known``, else nothing."""
    guess = closest(word, known) if isinstance(word, str) else None
    return f"; did you mean {guess}?" if guess else ""


def utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from JSON's "\ud800"
        return False
    return True


def mapping(value: Any, path: FieldPath, found: Found) -> Mapping[str, Any] | None:
    if not isinstance(value, Mapping):
        found.add(path, f"must be an object, got {describe(value)}")
        return None
    for key in value:
        if not isinstance(key, str):
            found.add(path, f"keys must be strings, got {describe(key)}")
            return None
    return value


def no_unknown(
    doc: Mapping[str, Any], allowed: Sequence[str], path: FieldPath, found: Found
) -> None:
    for key in doc:
        if key not in allowed:
            guess = suggest(key, [a for a in allowed if not a.startswith("$")])
            found.add((*path, key), f"unknown field{guess} (expected one of: {', '.join(allowed)})")


def positive_int(value: Any, path: FieldPath, found: Found, minimum: int = 1) -> int | None:
    if not is_int(value) or value < minimum:
        found.add(path, f"must be an integer >= {minimum}, got {describe(value)}")
        return None
    return int(value)
