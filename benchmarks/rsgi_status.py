"""An experiment, not part of mockcamb: status GETs answered on an event loop.

granian's native async interface (RSGI) calls this handler on one event loop; it asks the
real emulator for the answer (the same call the WSGI fast path makes, with the journal and
history on) and waits out the latency with ``asyncio.sleep`` instead of a sleeping thread.
It serves status GETs for story tasks only: no Flask, no admin API, no other route. It exists
to show what the latency target would cost (BENCHMARKS.md, section 2). Run from
``benchmarks/``:

    MOCKCAMB_BENCH_CONFIG=bench-config.yaml python -m granian --interface rsgi \\
        --runtime-mode st --http 1 --no-ws --port PORT rsgi_status:app

with a config preloading the delayed task (``benchmarks/run.py`` writes one; its path is in
the first lines the script prints), then ``wrk -t2 -c256 -d10s --latency -H 'x-api-key: KEY'
http://127.0.0.1:PORT/apis/story/slow``.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from mockcamb.cli import build_parser
from mockcamb.serve.command import build, read_config

_ARGS = build_parser(conform_options=False).parse_args(
    ["serve", "--config", os.environ["MOCKCAMB_BENCH_CONFIG"]]
)
_EMU = build(_ARGS, read_config(_ARGS)).emulator
_PREFIX = "/apis/story/"


class StatusOnLoop:
    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        started = time.perf_counter()
        path: str = scope.path
        if scope.method != "GET" or not path.startswith(_PREFIX):
            proto.response_bytes(404, [("content-type", "application/json")], b'{"detail":"-"}')
            return
        headers = [(name.title(), value) for name, value in scope.headers.items()]
        reply = _EMU.status(
            "story",
            path[len(_PREFIX) :],
            scope.headers.get("x-api-key"),
            path=path,
            headers=headers,
        )
        payload = reply.payload()
        wait = reply.delay - (time.perf_counter() - started)
        if wait > 0:
            await asyncio.sleep(wait)
        proto.response_bytes(reply.status_code, [("content-type", reply.content_type)], payload)


app = StatusOnLoop()
