"""A reference poller for CAMB.AI tasks: copy it or call it.

``poll(base_url, api_key, endpoint, task_id)`` polls ``GET {base_url}/{endpoint}/{task_id}``
until the task reaches a final status and returns that status body (SUCCESS, FAILED, ERROR,
TIMEOUT or PAYMENT_REQUIRED: check ``body["status"]``). It backs off exponentially with jitter
while the task is pending, honours Retry-After, retries transient faults (429, 408, 5xx,
unreadable bodies, dropped connections) a bounded number of times, raises at once on other
HTTP errors (401, 403, 404, 422, ...), treats statuses it does not know as still running
(the set is open), and gives up at a deadline. It passes every ``mockcamb conform`` property.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

import requests

from .core.routes import STATUS_PATHS
from .core.text import retry_after_seconds

__all__ = [
    "FINAL_STATUSES",
    "PermanentError",
    "PollError",
    "PollTimeout",
    "TransientError",
    "poll",
]

#: Statuses after which a task never changes; anything else means "keep polling".
FINAL_STATUSES = frozenset({"SUCCESS", "FAILED", "ERROR", "TIMEOUT", "PAYMENT_REQUIRED"})
_TRANSIENT_CODES = frozenset({408, 425, 429}) | frozenset(range(500, 600))
_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class PollError(Exception):
    """Polling ended without a final status."""


class PermanentError(PollError):
    """The API answered an error that retrying cannot fix (bad key, unknown task, ...)."""

    def __init__(self, status_code: int, body: str) -> None:
        super().__init__(f"HTTP {status_code}: {body[:300]}")
        self.status_code = status_code
        self.body = body


class TransientError(PollError):
    """Too many transient faults in a row."""


class PollTimeout(PollError):
    """The task did not finish before the deadline."""


def poll(
    base_url: str,
    api_key: str,
    endpoint: str,
    task_id: str,
    *,
    interval: float = 2.0,
    max_interval: float = 30.0,
    backoff: float = 1.5,
    jitter: float = 0.2,
    deadline: float = 3600.0,
    max_errors: int = 8,
    timeout: float = 30.0,
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """Poll a task at ``GET {base_url}/{endpoint}/{task_id}`` (``endpoint``: any family's status
    path, ``story``, ``dub``, ``transcribe``...) until it is final; return the final status body.

    ``interval`` is the first wait, growing by ``backoff`` up to ``max_interval`` (plus up to
    ``jitter`` of it at random, never less). ``deadline`` is the most seconds to wait in all;
    ``max_errors`` the most transient faults in a row. Raises :class:`PermanentError`,
    :class:`TransientError` or :class:`PollTimeout`.
    """
    if endpoint not in STATUS_PATHS:
        raise ValueError(
            f"endpoint must be a status path ({', '.join(STATUS_PATHS)}), got {endpoint!r}"
        )
    url = f"{base_url.rstrip('/')}/{endpoint}/{task_id}"
    headers = {"x-api-key": api_key, "Accept": "application/json"}
    own = session is None
    http = requests.Session() if session is None else session
    start = time.monotonic()
    delay = interval
    errors = 0
    try:
        while True:
            wait: float | None = None
            problem = ""
            try:
                resp = http.get(url, headers=headers, timeout=timeout)
            except _NETWORK_ERRORS as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code == 200:
                    body = _status_body(resp)
                    if body is None:
                        problem = "unreadable status body"
                    else:
                        errors = 0
                        if body["status"] in FINAL_STATUSES:
                            return body
                elif resp.status_code in _TRANSIENT_CODES:
                    problem = f"HTTP {resp.status_code}"
                    wait = retry_after_seconds(resp.headers.get("Retry-After"))
                else:
                    raise PermanentError(resp.status_code, resp.text)
            if problem:
                errors += 1
                if errors > max_errors:
                    raise TransientError(f"{errors} transient faults in a row; last: {problem}")
            pause = min(delay, max_interval) * (1.0 + random.random() * jitter)
            if wait is not None:
                pause = max(pause, wait)
            if time.monotonic() + pause - start > deadline:
                raise PollTimeout(
                    f"{endpoint} task {task_id} not final after {deadline:g} s"
                    + (f" (last problem: {problem})" if problem else "")
                )
            time.sleep(pause)
            delay = min(delay * backoff, max_interval)
    finally:
        if own:
            http.close()


def _status_body(resp: requests.Response) -> dict[str, Any] | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    if not isinstance(body, Mapping) or not isinstance(body.get("status"), str):
        return None
    return dict(body)
