"""The conformance properties: what a polling client must do, by number and by name."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import ConfigError

#: The permanent errors of property 5: the client must raise on them, not retry.
PERMANENT_CODES = (401, 403, 404, 422)
#: Slack when comparing virtual times: a poll exactly on a minimum interval is in time.
EPS = 1e-6
#: The window of the backoff property: polls are counted in any 10 minutes of virtual time.
BACKOFF_WINDOW = 600.0


@dataclass(frozen=True)
class Property:
    """One conformance property: a number, a short name (for options) and what it demands."""

    number: int
    name: str
    title: str


PROPERTIES: tuple[Property, ...] = (
    Property(1, "api-key", "every request carries the x-api-key it was given"),
    Property(
        2,
        "success",
        "returns the SUCCESS body with the task's run_id despite PENDING answers and "
        "transient faults (429, 5xx, bad bodies, dropped connections)",
    ),
    Property(
        3,
        "final-status",
        "on FAILED, ERROR, TIMEOUT or PAYMENT_REQUIRED it returns that status or raises, "
        "never reports SUCCESS, and polls no more",
    ),
    Property(
        4,
        "politeness",
        "waits between polls, honours Retry-After and stays within the request budget",
    ),
    Property(5, "permanent-errors", "raises on 401, 403, 404 and 422 within a few requests"),
    Property(6, "unknown-status", "keeps polling through a status it has never heard of"),
    Property(
        7,
        "gives-up",
        "on a task that never finishes, raises or returns a non-SUCCESS within a bounded "
        "virtual time instead of polling until the harness stops it",
    ),
    Property(8, "backoff", "slows down during a long PENDING: few polls in any 10 minutes"),
    Property(
        9,
        "timely",
        "polls again soon after the task reaches a final status (its waits are capped)",
    ),
    Property(
        10,
        "timeouts",
        "gives up on a stalled request (accepted, never answered) and retries or raises, "
        "instead of hanging for ever",
    ),
)
_BY_NAME = {p.name: p for p in PROPERTIES}


def property_named(name: str) -> Property:
    """Look a property up by name (``politeness``) or number (``4``)."""
    key = name.strip().lower().replace("_", "-")
    if key.isdigit() and 1 <= int(key) <= len(PROPERTIES):
        return PROPERTIES[int(key) - 1]
    if key in _BY_NAME:
        return _BY_NAME[key]
    raise ConfigError(
        f"property: unknown property {name!r}; expected one of "
        f"{', '.join(p.name for p in PROPERTIES)} (or 1-{len(PROPERTIES)})"
    )
