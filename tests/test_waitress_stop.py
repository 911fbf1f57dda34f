"""``mockcamb serve --server waitress`` after SIGTERM (issue 17): it stops accepting, closes
idle keep-alive connections at once, answers no new request on a busy one, lets the request in
flight finish (with ``Connection: close``), and exits 0 without a traceback. Real keep-alive
connections (http.client) against a real process."""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import socket
import threading
import time
from urllib.parse import urlsplit

from _serve import serve

KEY = {"x-api-key": "k"}
SLOW_MS = 3000


def _connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)


def _get(conn: http.client.HTTPConnection, path: str) -> http.client.HTTPResponse:
    conn.request("GET", path, headers=KEY)
    reply = conn.getresponse()
    reply.read()
    return reply


def test_sigterm_closes_keep_alive_connections_and_finishes_what_is_in_flight() -> None:
    with serve("--server", "waitress", "--clock", "manual") as (proc, url):
        admin = _connect(url)
        slow = {"steps": [{"status": "PENDING"}], "latency": {"fixed_ms": SLOW_MS}}
        body = json.dumps({"kind": "story", "task_id": "slow", "scenario": slow})
        admin.request("POST", "/__admin/tasks", body, {"content-type": "application/json"})
        assert admin.getresponse().status == 201
        idle = _connect(url)
        assert _get(idle, "/apis/story/nope").status == 404  # now an idle keep-alive connection
        assert idle.sock is not None

        in_flight: dict[str, object] = {}

        def _slow() -> None:
            conn = _connect(url)
            try:
                reply = _get(conn, "/apis/story/slow")
                in_flight.update(status=reply.status, connection=reply.getheader("Connection"))
                in_flight["at"] = time.monotonic()
            finally:
                conn.close()

        busy_answers: list[float] = []
        busy_end: list[float] = []

        def _busy() -> None:  # one keep-alive connection asking as fast as it is answered
            conn = _connect(url)
            try:
                for _ in range(100_000):
                    _get(conn, "/apis/story/nope")
                    busy_answers.append(time.monotonic())
            except (OSError, http.client.HTTPException):
                busy_end.append(time.monotonic())
            finally:
                conn.close()

        slow_thread = threading.Thread(target=_slow)
        slow_thread.start()
        time.sleep(0.3)  # the slow request is in flight: its latency sleeps
        busy_thread = threading.Thread(target=_busy)
        busy_thread.start()
        time.sleep(0.2)
        assert busy_answers, "the busy connection was never answered"
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        # the idle connection is closed by the server at once, without a request on it
        idle.sock.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            assert idle.sock.recv(1) == b""
        closed_idle = time.monotonic() - sent
        busy_thread.join(15)
        slow_thread.join(15)
        assert proc.wait(15) == 0
        assert proc.stderr is not None
        log = proc.stderr.read()
        idle.close()
        admin.close()
    assert closed_idle < 1.0, closed_idle
    # the busy connection got no answer to a request it sent well after SIGTERM, and was
    # closed before the request in flight had its answer
    assert busy_end and max(busy_answers) < sent + 0.5, max(busy_answers) - sent
    assert in_flight["status"] == 200 and in_flight["connection"] == "close", in_flight
    assert busy_end[0] < float(in_flight["at"])  # type: ignore[arg-type]
    assert "Traceback" not in log and "EBADF" not in log and "Bad file descriptor" not in log


def test_a_request_in_flight_past_the_bound_is_cut_and_the_server_still_exits_0() -> None:
    with serve("--server", "waitress", "--clock", "manual") as (proc, url):
        admin = _connect(url)
        # longer than the 10 s the server waits for requests in flight
        slow = {"steps": [{"status": "PENDING"}], "latency": {"fixed_ms": 12_000}}
        body = json.dumps({"kind": "story", "task_id": "slower", "scenario": slow})
        admin.request("POST", "/__admin/tasks", body, {"content-type": "application/json"})
        assert admin.getresponse().status == 201
        admin.close()
        parts = urlsplit(url)
        conn = socket.create_connection((parts.hostname, parts.port), timeout=30)
        conn.sendall(b"GET /apis/story/slower HTTP/1.1\r\nHost: x\r\nx-api-key: k\r\n\r\n")
        time.sleep(0.3)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert conn.recv(100) == b""  # cut, without an answer
        assert proc.wait(20) == 0
        took = time.monotonic() - started
        conn.close()
        assert proc.stderr is not None
        log = proc.stderr.read()
    assert 9 < took < 16, took
    assert "stopped waiting for 1 request(s) in flight after 10 s" in log
    assert "Traceback" not in log and "Bad file descriptor" not in log
