"""The waitress server: injected latencies sleep without holding the worker pool."""

from __future__ import annotations

import threading
import time

import requests

from mockcamb.core.emulator import Emulator
from mockcamb.http.app import create_app
from mockcamb.serve.waitress import POOL_HEADROOM, Server


def test_sleeping_latencies_grow_the_pool_and_never_starve_other_requests() -> None:
    emu = Emulator()
    emu.create_task(
        "story", "slow", {"steps": [{"status": "PENDING"}], "latency": {"fixed_ms": 1500}}
    )
    emu.create_task("story", "fast", "never_finishes")
    server = Server(create_app(emu), threads=4).start()
    try:
        sleepers = [
            threading.Thread(
                target=requests.get,
                args=(f"{server.base_url}/story/slow",),
                kwargs={"headers": {"x-api-key": "k"}, "timeout": 30},
            )
            for _ in range(12)
        ]
        for t in sleepers:
            t.start()
        time.sleep(0.3)  # the twelve are asleep in the server now
        started = time.monotonic()
        fast = requests.get(f"{server.base_url}/story/fast", headers={"x-api-key": "k"}, timeout=30)
        assert fast.status_code == 200 and time.monotonic() - started < 1.0
        assert server._pool_size >= 12 + POOL_HEADROOM
        for t in sleepers:
            t.join(30)
    finally:
        server.stop()
