"""Deliberately broken pollers, one flaw each, built on a small correct core; and the
correct core run from worker threads."""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import requests

FINAL = {"SUCCESS", "FAILED", "ERROR", "TIMEOUT", "PAYMENT_REQUIRED"}
RELEASE = threading.Event()  # set by a test to let the never-ending clients' threads end


def _get(
    base_url: str,
    endpoint: str,
    task_id: str,
    headers: dict[str, str],
    timeout: float | None = 10,
) -> Any:
    return requests.get(f"{base_url}/{endpoint}/{task_id}", headers=headers, timeout=timeout)


def _retry_after(value: str, *, dates: bool = True) -> float:
    """Seconds from a Retry-After value: whole seconds, or (``dates``) an HTTP date."""
    text = value.strip()
    if text.isdigit() or not dates:
        return float(text)  # without ``dates``: a ValueError on an HTTP date
    when = email.utils.parsedate_to_datetime(text)
    return max(0.0, when.timestamp() - time.time())


def _careful(
    base_url: str,
    api_key: str | None,
    endpoint: str,
    task_id: str,
    *,
    pause: float = 5.0,
    growth: float = 1.5,
    max_pause: float = 30.0,
    deadline: float | None = 3600.0,
    timeout: float | None = 10,
    honour_retry_after: bool = True,
    retry_after_dates: bool = True,
    retry_after_digits_only: bool = False,
    final: set[str] = FINAL,
    retry_permanent: bool = False,
    known: set[str] | None = None,
    max_polls: int = 1000,
    confirm_final: bool = False,
    success_on_final: bool = False,
) -> dict[str, Any]:
    """Polls, waiting ``pause`` s and growing it by ``growth`` up to ``max_pause`` (at least
    Retry-After after a 429/5xx); retries transient faults; raises at ``deadline``."""
    headers = {} if api_key is None else {"x-api-key": api_key}
    start = time.monotonic()
    for _ in range(max_polls):
        wait = pause
        try:
            resp = _get(base_url, endpoint, task_id, headers, timeout)
        except requests.RequestException:
            resp = None
        if resp is None:
            pass
        elif resp.status_code == 200:
            try:
                body = resp.json()
            except ValueError:
                body = None
            if body is not None:
                status = body["status"]
                if known is not None and status not in known:
                    raise ValueError(f"unexpected status {status}")
                if status in final:
                    if confirm_final:
                        _get(base_url, endpoint, task_id, headers, timeout)
                    if success_on_final:
                        return {"status": "SUCCESS", "run_id": body.get("run_id")}
                    return dict(body)
        elif resp.status_code == 429 or resp.status_code >= 500:
            ra = resp.headers.get("Retry-After")
            if retry_after_digits_only and ra and not ra.isdigit():
                ra = None  # ignores anything but digits, an HTTP date included
            if honour_retry_after and ra:
                wait = max(wait, _retry_after(ra, dates=retry_after_dates))
        elif not retry_permanent:
            resp.raise_for_status()
        if deadline is not None and time.monotonic() + wait - start > deadline:
            raise TimeoutError(f"{endpoint} task {task_id} not final after {deadline:g} s")
        if pause:
            time.sleep(wait)
        pause = min(pause * growth, max_pause)
    raise TimeoutError(f"gave up after {max_polls} polls")


def careful(base_url: str, api_key: str, endpoint: str, task_id: str) -> dict[str, Any]:
    """The core itself: a correct client (5 s growing to 30 s, a deadline of an hour)."""
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
    """Knows only SUCCESS as final; polls every 5 s and gives up after 300 polls."""
    return _careful(
        base_url, api_key, endpoint, task_id, final={"SUCCESS"}, max_polls=300, growth=1.0
    )


def polls_after_final(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Polls once more to 'confirm' a final status."""
    return _careful(base_url, api_key, endpoint, task_id, confirm_final=True)


def retries_404_forever(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Retries every HTTP error, permanent ones included, for ever."""
    return _careful(
        base_url, api_key, endpoint, task_id, retry_permanent=True, max_polls=10**9, deadline=None
    )


def crashes_on_unknown(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Treats the status set as closed: raises on a status it does not know."""
    return _careful(base_url, api_key, endpoint, task_id, known={"PENDING", *FINAL})


def no_deadline(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Backs off well, but never gives up on a task that never finishes."""
    return _careful(base_url, api_key, endpoint, task_id, deadline=None, max_polls=10**9)


def every_second(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Polls every second, however long the task takes."""
    return _careful(base_url, api_key, endpoint, task_id, pause=1.0, growth=1.0)


def uncapped_backoff(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Doubles its wait from 2 s with no cap: an hour-long wait after a short task."""
    return _careful(
        base_url, api_key, endpoint, task_id, pause=2.0, growth=2.0, max_pause=float("inf")
    )


def no_timeout(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Calls requests.get without a timeout: a stalled answer is waited for for ever."""
    return _careful(base_url, api_key, endpoint, task_id, timeout=None)


def integer_retry_after(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Reads Retry-After with float(): an HTTP date raises ValueError."""
    return _careful(base_url, api_key, endpoint, task_id, retry_after_dates=False)


def digits_only_retry_after(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Honours Retry-After only when it is digits (as the SDK-based poller does): an HTTP
    date is ignored, and the usual wait used instead."""
    return _careful(base_url, api_key, endpoint, task_id, retry_after_digits_only=True)


# --- the careful core, polling from worker threads ---------------------------------------

_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="careful-pool")


def careful_in_pool(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Hands the polling to a long-lived ThreadPoolExecutor and waits for the result."""
    return _POOL.submit(careful, base_url, api_key, endpoint, task_id).result()


async def careful_to_thread(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """An async client that polls with the sync core in asyncio.to_thread."""
    return await asyncio.to_thread(careful, base_url, api_key, endpoint, task_id)


def careful_in_thread(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Starts a thread of its own to poll, and joins it."""
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            out["value"] = careful(base_url, api_key, endpoint, task_id)
        except BaseException as exc:  # handed back to the caller, as a future would
            out["error"] = exc

    worker = threading.Thread(target=work, name="careful-worker")
    worker.start()
    worker.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


# --- asyncio clients on httpx --------------------------------------------------------------


async def _careful_async(
    base_url: str, api_key: str, endpoint: str, task_id: str, *, timeout: float | None
) -> dict[str, Any]:
    headers = {"x-api-key": api_key}
    url = f"{base_url}/{endpoint}/{task_id}"
    loop = asyncio.get_running_loop()
    start = loop.time()
    pause = 5.0
    async with httpx.AsyncClient(timeout=timeout) as client:
        while True:
            wait = pause
            try:
                resp = await client.get(url, headers=headers)
            except httpx.TransportError:
                resp = None
            if resp is None:
                pass
            elif resp.status_code == 200:
                try:
                    body = resp.json()
                except ValueError:
                    body = None
                if body is not None and body["status"] in FINAL:
                    return dict(body)
            elif resp.status_code == 429 or resp.status_code >= 500:
                ra = resp.headers.get("Retry-After")
                if ra:
                    wait = max(wait, _retry_after(ra))
            else:
                resp.raise_for_status()
            if loop.time() + wait - start > 3600:
                raise TimeoutError(f"{endpoint} task {task_id} not final after 3600 s")
            await asyncio.sleep(wait)
            pause = min(pause * 1.5, 30.0)


async def careful_async(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """The careful core on httpx.AsyncClient, with a 10 s timeout."""
    return await _careful_async(base_url, api_key, endpoint, task_id, timeout=10)


async def async_no_timeout(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """The same with httpx.AsyncClient(timeout=None): a stalled answer is awaited for ever."""
    return await _careful_async(base_url, api_key, endpoint, task_id, timeout=None)


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


def long_timeout(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Gives each request a 15-minute timeout: it gives up on a stalled answer, but late."""
    return _careful(base_url, api_key, endpoint, task_id, timeout=900)


def requests_with_default_timeout(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Sets socket.setdefaulttimeout(20) and passes no timeout to requests, which then sets
    no timeout on its sockets itself: a stalled answer is waited for for ever."""
    return _with_default_timeout(
        lambda: _careful(base_url, api_key, endpoint, task_id, timeout=None)
    )


def urllib_with_default_timeout(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Polls with urllib.request and no timeout of its own under
    socket.setdefaulttimeout(20): its sockets get the default, so it gives up in 20 s."""

    def work() -> dict[str, Any]:
        start = time.monotonic()
        pause = 5.0
        while time.monotonic() - start < 3600:
            request = urllib.request.Request(
                f"{base_url}/{endpoint}/{task_id}", headers={"x-api-key": api_key}
            )
            try:
                with urllib.request.urlopen(request) as resp:
                    body = json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                if exc.code != 429 and exc.code < 500:
                    raise
                ra = exc.headers.get("Retry-After")
                time.sleep(max(pause, _retry_after(ra)) if ra else pause)
                continue
            except (OSError, ValueError):  # a timeout, a dropped connection, a bad body
                body = None
            if body is not None and body["status"] in FINAL:
                return dict(body)
            time.sleep(pause)
            pause = min(pause * 1.5, 30.0)
        raise TimeoutError(f"{endpoint} task {task_id} not final after an hour")

    return _with_default_timeout(work)


def _with_default_timeout(work: Any) -> Any:
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20)
    try:
        return work()
    finally:
        socket.setdefaulttimeout(before)
