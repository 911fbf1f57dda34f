"""A careful poller built on the official SDK (``camb-sdk``), for both endpoints.

It is what a team would write on the SDK: one ``CambAI`` client, the SDK's status method, a
pause between polls growing from 5 s to 30 s, a deadline of an hour, the SDK's own retries
(429/5xx, honouring Retry-After) plus a bounded retry of its own for faults the SDK lets
through (an unreadable body arrives as ``ApiError(status_code=200)``, a dropped connection as
an ``httpx`` error).

Known outcome, on record in tests/test_conformance.py: for ``project-setup`` the SDK declares
the answer a *list* of ``{run_id, project_details}``, so the documented
``{"status": ..., "run_id": ...}`` body fails its validation (pydantic ``ValidationError``) on
the very first poll.
"""

from __future__ import annotations

import atexit
import time
from typing import Any

import httpx
from camb.client import CambAI
from camb.core.api_error import ApiError

FINAL = {"SUCCESS", "FAILED", "ERROR", "TIMEOUT", "PAYMENT_REQUIRED"}
INTERVAL = 5.0  # the documentation's story example polls every 3-5 s
MAX_INTERVAL = 30.0
DEADLINE = 3600.0
# One connection pool for every call, as an application would keep it (building an httpx
# client costs ~0.1 s, most of it the TLS context).
_HTTP = httpx.Client(timeout=30)
atexit.register(_HTTP.close)
MAX_TRANSIENT = 6


def _as_dict(result: Any) -> dict[str, Any]:
    if hasattr(result, "model_dump"):
        return dict(result.model_dump())
    if isinstance(result, list):  # the SDK's declared project-setup type
        return {"items": [_as_dict(r) for r in result]}
    return dict(result.dict())


def poll(base_url: str, api_key: str, endpoint: str, task_id: str) -> dict[str, Any]:
    client = CambAI(api_key=api_key, base_url=base_url, httpx_client=_HTTP)
    if endpoint == "story":
        get_status = client.story.get_story_status
    else:
        get_status = client.project_setup.create_project_setup_task_status
    transient = 0
    interval = INTERVAL
    start = time.monotonic()
    while True:
        pause = interval
        try:
            body = _as_dict(get_status(task_id))
        except ApiError as exc:
            code = exc.status_code or 0
            if code not in (200, 408, 429) and code < 500:
                raise
            transient += 1
            retry_after = {k.lower(): v for k, v in (exc.headers or {}).items()}.get("retry-after")
            if retry_after and retry_after.isdigit():
                pause = max(pause, float(retry_after))
        except httpx.TransportError:
            transient += 1
        else:
            transient = 0
            if body.get("status") in FINAL:
                return body
        if transient > MAX_TRANSIENT:
            raise RuntimeError(f"{transient} transient failures in a row")
        if time.monotonic() + pause - start > DEADLINE:
            raise TimeoutError(f"{endpoint} task {task_id} not final after {DEADLINE:g} s")
        time.sleep(pause)
        interval = min(interval * 1.5, MAX_INTERVAL)
