"""Deliberately broken pollers, one flaw each, built on a small correct core."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

FINAL = {"SUCCESS", "FAILED", "ERROR", "TIMEOUT", "PAYMENT_REQUIRED"}
RELEASE = threading.Event()  # set by a test to let the never-ending clients' threads end


def _get(base_url: str, endpoint: str, task_id: str, headers: dict[str, str]) -> Any:
    return requests.get(f"{base_url}/{endpoint}/{task_id}", headers=headers, timeout=10)


def _careful(
    base_url: str,
    api_key: str | None,
    endpoint: str,
    task_id: str,
    *,
    pause: float = 5.0,
    honour_retry_after: bool = True,
    final: set[str] = FINAL,
    retry_permanent: bool = False,
    known: set[str] | None = None,
    max_polls: int = 1000,
    confirm_final: bool = False,
    success_on_final: bool = False,
) -> dict[str, Any]:
    headers = {} if api_key is None else {"x-api-key": api_key}
    for _ in range(max_polls):
        wait = pause
        try:
            resp = _get(base_url, endpoint, task_id, headers)
        except requests.RequestException:
            time.sleep(pause)
            continue
        if resp.status_code == 200:
            try:
                body = resp.json()
            except ValueError:
                time.sleep(pause)
                continue
            status = body["status"]
            if known is not None and status not in known:
                raise ValueError(f"unexpected status {status}")
            if status in final:
                if confirm_final:
                    _get(base_url, endpoint, task_id, headers)
                if success_on_final:
                    return {"status": "SUCCESS", "run_id": body.get("run_id")}
                return dict(body)
        elif resp.status_code == 429 or resp.status_code >= 500:
            ra = resp.headers.get("Retry-After")
            if honour_retry_after and ra:
                wait = max(wait, float(ra))
        elif not retry_permanent:
            resp.raise_for_status()
        if pause:
            time.sleep(wait)
    raise TimeoutError(f"gave up after {max_polls} polls")


def careful(base_url: str, api_key: str, endpoint: str, task_id: str) -> dict[str, Any]:
    """The core itself: a correct client (no deadline of its own beyond 1000 polls)."""
    return _careful(base_url, api_key, endpoint, task_id)


def no_api_key(base_url: str, api_key: str, endpoint: str, task_id: str) -> dict[str, Any]:
    """Forgets the x-api-key header."""
    return _careful(base_url, None, endpoint, task_id)


def hard_coded_key(base_url: str, api_key: str, endpoint: str, task_id: str) -> dict[str, Any]:
    """Sends the key from the documentation page instead of the one it was given."""
    return _careful(base_url, "your-api-key", endpoint, task_id)


def hot_loop(base_url: str, api_key: str, endpoint: str, task_id: str) -> dict[str, Any]:
    """Never sleeps between polls."""
    return _careful(base_url, api_key, endpoint, task_id, pause=0.0)


def ignores_retry_after(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Waits its usual 5 s even when told Retry-After."""
    return _careful(base_url, api_key, endpoint, task_id, honour_retry_after=False)


def failed_is_success(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Stops on any final status but reports it as SUCCESS."""
    return _careful(base_url, api_key, endpoint, task_id, success_on_final=True)


def only_success_is_final(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Knows only SUCCESS as final; gives up after 300 polls (careful, but wrong)."""
    return _careful(base_url, api_key, endpoint, task_id, final={"SUCCESS"}, max_polls=300)


def polls_after_final(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Polls once more to 'confirm' a final status."""
    return _careful(base_url, api_key, endpoint, task_id, confirm_final=True)


def retries_404_forever(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Retries every HTTP error, permanent ones included, for ever."""
    return _careful(base_url, api_key, endpoint, task_id, retry_permanent=True, max_polls=10**9)


def crashes_on_unknown(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Treats the status set as closed: raises on a status it does not know."""
    return _careful(base_url, api_key, endpoint, task_id, known={"PENDING", *FINAL})


def raises_on_transient(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Gives up on the first 5xx or 429."""
    headers = {"x-api-key": api_key}
    while True:
        resp = _get(base_url, endpoint, task_id, headers)
        resp.raise_for_status()
        body = resp.json()
        if body["status"] in FINAL:
            return dict(body)
        time.sleep(2)


def wrong_run_id(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Returns run_id 0 instead of the task's own."""
    body = _careful(base_url, api_key, endpoint, task_id)
    return {**body, "run_id": 0}


def busy_wait(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Spins in pure Python for ever without a request or a sleep."""
    n = 0
    while True:
        n += 1


def blocks_forever(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Waits on an event nobody sets (blocked in C: cannot be interrupted)."""
    RELEASE.wait()


def swallows_everything(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Polls in a loop that catches BaseException, so even the harness's stop is ignored."""
    while not RELEASE.is_set():
        try:
            _get(base_url, endpoint, task_id, {"x-api-key": api_key})
            time.sleep(0)
        except BaseException:  # the point of this client
            pass
