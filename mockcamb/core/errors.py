"""One error family for every user mistake mockcamb can name."""

from __future__ import annotations

from collections.abc import Sequence

from .problems import Problem, plural

#: The exit code of a ``mockcamb`` command stopped by a user mistake (bad usage or input).
EXIT_USAGE = 2


class MockCambError(Exception):
    """Base class: a user mistake (bad scenario, bad setting, bad option) with a fix to name."""


class ScenarioError(MockCambError):
    """A scenario document that cannot run.

    ``problems`` holds every error found in it, in document order; ``field`` (the JSON path
    of the culprit) and ``problem`` are the first one's, for code that wants one. ``where``
    is the root the paths hang from (``scenario``); ``file`` the file the document came from,
    when it did (then each line reads ``FILE:LINE: field: problem``). ``more`` counts the
    errors found beyond those kept. ``str()`` gives one problem a line.
    """

    def __init__(
        self,
        where: str,
        problem: str | Sequence[Problem],
        *,
        file: str | None = None,
        more: int = 0,
    ) -> None:
        self.where = where
        self.file = file
        self.problems = (Problem((), problem),) if isinstance(problem, str) else tuple(problem)
        if not self.problems:
            raise ValueError("a ScenarioError needs at least one problem")
        self.more = more
        self.field = self.problems[0].field(where)
        self.problem = self.problems[0].message
        super().__init__(self.field, self.problem)

    def lines(self) -> list[str]:
        """One line per problem, as :meth:`Problem.describe` spells it."""
        out = [p.describe(self.where, self.file) for p in self.problems]
        if self.more:
            out.append(f"{self.file or self.where}: and {plural(self.more, 'more problem')}")
        return out

    def within(self, field: str) -> str:
        """The report as seen from a document whose ``field`` named this scenario: the paths
        of a document (rooted at ``scenario``) are re-rooted at ``field``; a file's lines
        are prefixed with ``field``."""
        if self.file is not None:
            return prefix_lines(field, str(self))
        return str(ScenarioError(field, self.problems, more=self.more))

    def __str__(self) -> str:
        return "\n".join(self.lines())


class ConfigError(MockCambError):
    """A bad setting, config file or command-line option."""


def prefix_lines(prefix: str, text: str) -> str:
    """``prefix: line`` for each line of ``text``: a context for a report of several lines."""
    return "\n".join(f"{prefix}: {line}" for line in text.splitlines() or [""])
