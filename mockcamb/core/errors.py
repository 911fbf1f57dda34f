"""One error family for every user mistake mockcamb can name."""

from __future__ import annotations

#: The exit code of a ``mockcamb`` command stopped by a user mistake (bad usage or input).
EXIT_USAGE = 2


class MockCambError(Exception):
    """Base class: a user mistake (bad scenario, bad setting, bad option) with a fix to name."""


class ScenarioError(MockCambError):
    """A scenario document that cannot run; ``field`` is the JSON path of the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class ConfigError(MockCambError):
    """A bad setting, config file or command-line option."""
