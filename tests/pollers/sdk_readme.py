"""The official SDK README's polling loop, copied faithfully (bugs included).

Source: the README of ``camb-sdk`` 1.6.6 (its PyPI description; MIT licence, Copyright (c)
2025 Camb AI), section "4. End-to-End Dubbing"::

    while True:
        status_response = client.dub.get_dubbing_status(task_id=task_id)
        print(f"Current Status: {status_response.status}")
        if status_response.status == "SUCCESS":
            dubbed_run_info = client.dub.get_dubbed_run_info(status_response.run_id)
            ...
            break
        time.sleep(5)

The only changes: the client gets the harness's base URL and key (the README's
``CambAI(api_key="your-api-key")``) and one shared httpx client with the SDK's own default
timeout of 300 s (the SDK builds that same client when given none; building one per call costs
~0.1 s); the loop returns the status body instead of fetching the dubbed run with it. Known
bugs, kept on purpose: no deadline (``while True``), only SUCCESS ends the loop (FAILED, ERROR,
TIMEOUT and PAYMENT_REQUIRED are polled for ever), a fixed 5 s wait.
"""

import atexit
import time

import httpx
from camb.client import CambAI

_HTTP = httpx.Client(timeout=300)  # camb.client.DEFAULT_TIMEOUT
atexit.register(_HTTP.close)


def poll(base_url, api_key, endpoint, task_id):
    """The README's loop on a dubbing task (endpoint ``dub``)."""
    client = CambAI(api_key=api_key, base_url=base_url, httpx_client=_HTTP)
    while True:
        status_response = client.dub.get_dubbing_status(task_id=task_id)
        print(f"Current Status: {status_response.status}")
        if status_response.status == "SUCCESS":
            break
        time.sleep(5)
    return status_response.model_dump()


poll.families = ("dub",)  # what the conformance harness runs it over
