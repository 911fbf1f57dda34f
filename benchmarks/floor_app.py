"""The floor for the latency benchmark: a bare WSGI app that sleeps 200 ms and answers.

No Flask, no emulator: it sleeps and returns the JSON mockcamb returns for the delayed task.
Served by granian with the settings ``mockcamb serve`` uses, it shows what the server itself
can do on this machine; ``benchmarks/run.py --only latency`` starts it from ``benchmarks/`` as

    python -m granian --interface wsgi --runtime-mode st --http 1 --blocking-threads 512
        --no-ws --host 127.0.0.1 --port PORT floor_app:app
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

BODY = b'{"status":"PENDING","run_id":null}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    time.sleep(0.2)
    start_response("200 OK", HEADERS)
    return [BODY]
