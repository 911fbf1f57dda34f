"""The WSGI gate in front of the emulator: every request of a client passes it before the app."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from ..http.inprocess import IN_PROCESS_KEY, STALLED_KEY
from .threads import real_sleep
from .watch import RunState

STALE_DELAY = 0.5  # real seconds a request from an abandoned client is held


class Runs(Protocol):
    """Which run is in progress (``state``, ``None`` between runs) and the keys of the runs
    before it."""

    state: RunState | None
    old_keys: set[str]


class Gate:
    """WSGI middleware in front of the emulator: checks the key, tags each request with its
    sequence number, counts requests against the budget and turns away stale clients."""

    def __init__(self, app: Callable[..., Any], runs: Runs) -> None:
        self.app = app
        self.runs = runs

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        state = self.runs.state
        given = environ.get("HTTP_X_API_KEY")
        path = environ.get("PATH_INFO", "")
        if state is None or (
            given is not None and given != state.key and given in self.runs.old_keys
        ):
            # a client from an earlier run (abandoned by the watchdog): hold it back, so a
            # runaway thread that outlives its run cannot spin the CPU
            real_sleep(STALE_DELAY)
            return _busy(start_response, "no conformance run is waiting for this request")
        key_state = "ok" if given == state.key else ("missing" if not given else "wrong")
        port = environ.get("REMOTE_PORT")
        seq, verdict = state.on_request(
            environ.get("REQUEST_METHOD", "GET"),
            path,
            key_state,
            int(port) if port and port.isdigit() else None,
        )
        if verdict == "stall":
            # accepted and never answered: hold it until the client moves on or its call ends
            # (by then the client has given up on it and closed the connection); in process
            # the app runs in the client's thread, and the adapter does the waiting
            if environ.get(IN_PROCESS_KEY):
                environ[STALLED_KEY] = True
            else:
                state.hold(seq)
            return _busy(start_response, "stalled by the conformance harness")
        if verdict != "serve":
            return _busy(start_response, "stopped by the conformance harness")
        tagged = {
            "HTTP_X_MOCKCAMB_RUN": state.tag,
            "HTTP_X_MOCKCAMB_SEQ": str(seq),
            "HTTP_X_MOCKCAMB_KEY": key_state,
        }
        tagged.update(environ)

        def _start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            state.on_response(seq, path, int(status[:3]), headers)
            return start_response(status, headers, exc_info)

        return self.app(tagged, _start)


def _busy(start_response: Callable[..., Any], detail: str) -> list[bytes]:
    body = json.dumps({"detail": detail}).encode()
    start_response(
        "503 Service Unavailable",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
