"""A careful poller on httpx (the official SDK's HTTP library): the reference poller's rules
(back off with jitter, honour Retry-After, bounded retries of transient faults, raise at once
on a permanent error, unknown statuses keep it polling, a deadline), for ``mockcamb conform
--mode httpx``, which answers it in process."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx

from mockcamb.client import FINAL_STATUSES, PermanentError, PollTimeout, TransientError
from mockcamb.core.text import retry_after_seconds

TRANSIENT = frozenset({408, 425, 429}) | frozenset(range(500, 600))

#: The base URLs the poller was given, most recent last (the tests read them).
SEEN_BASE_URLS: list[str] = []


def poll(base_url: str, api_key: str, endpoint: str, task_id: str) -> dict[str, Any]:
    SEEN_BASE_URLS.append(base_url)
    delay, errors, start = 2.0, 0, time.monotonic()
    with httpx.Client(headers={"x-api-key": api_key}, timeout=30) as http:
        while True:
            wait: float | None = None
            problem = ""
            try:
                reply = http.get(f"{base_url}/{endpoint}/{task_id}")
            except httpx.TransportError as exc:
                problem = type(exc).__name__
            else:
                if reply.status_code == 200:
                    try:
                        body = reply.json()
                    except ValueError:
                        body = None
                    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
                        problem = "unreadable status body"
                    elif body["status"] in FINAL_STATUSES:
                        return body
                    else:
                        errors = 0
                elif reply.status_code in TRANSIENT:
                    problem = f"HTTP {reply.status_code}"
                    wait = retry_after_seconds(reply.headers.get("Retry-After"))
                else:
                    raise PermanentError(reply.status_code, reply.text)
            if problem:
                errors += 1
                if errors > 8:
                    raise TransientError(f"{errors} transient faults in a row; last: {problem}")
            pause = min(delay, 30.0) * (1.0 + random.random() * 0.2)
            if wait is not None:
                pause = max(pause, wait)
            if time.monotonic() + pause - start > 3600:
                raise PollTimeout(f"{endpoint} task {task_id} not final after 3600 s")
            time.sleep(pause)
            delay = min(delay * 1.5, 30.0)
