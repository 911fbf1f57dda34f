"""The floor for the latency benchmark: a bare ASGI app that waits 200 ms and answers.

No Flask, no emulator: ``await asyncio.sleep(0.2)``, then the JSON mockcamb returns for the
delayed task. Served by granian with the settings ``mockcamb serve`` uses (ASGI without
lifespan, single-threaded runtime, HTTP/1, the same event loop), it shows what the server
stack itself can do on this machine; ``benchmarks/run.py --only latency`` starts it from
``benchmarks/`` as

    python -m granian --interface asginl --runtime-mode st --http 1 --no-ws --loop auto \\
        --backlog 2048 --host 127.0.0.1 --port PORT floor_app:app
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

BODY = b'{"status":"PENDING","run_id":null}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Any]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    await asyncio.sleep(0.2)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
