"""``mockcamb serve`` on granian's event loop (:mod:`mockcamb.http.asgi`): status GETs
answered on the loop, latency waited out there, dropped connections that look dropped, the
Flask routes behind a2wsgi; and the loop path answering exactly as the WSGI fast path."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from _serve import serve

from mockcamb.core.clock import ManualClock
from mockcamb.core.emulator import Emulator
from mockcamb.http.app import create_app
from mockcamb.http.asgi import LoopApp

KEY = {"x-api-key": "k"}
DROP = {
    "steps": [{"status": "PENDING"}],
    "faults": [{"probability": 1.0, "type": "drop_connection"}],
}


def _task(url: str, task_id: str, scenario: dict[str, Any]) -> None:
    doc = {"kind": "story", "task_id": task_id, "scenario": scenario}
    r = requests.post(f"{url}/__admin/tasks", json=doc, timeout=10)
    assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve("--clock", "manual") as (_, url):
        yield url


def test_a_dropped_connection_is_a_connection_error_before_any_byte(server: str) -> None:
    """Not an incomplete body: requests raises ConnectionError (not ChunkedEncodingError),
    httpx RemoteProtocolError, every time; on the loop path (GET, with and without
    latency) and through Flask (HEAD is not a status GET: a2wsgi and the drop hook)."""
    _task(server, "drop", DROP)
    _task(server, "drop-late", {**DROP, "latency": {"fixed_ms": 30}})
    for task_id in ("drop", "drop-late"):
        for method in ("GET", "HEAD"):
            url = f"{server}/apis/story/{task_id}"
            for _ in range(8):
                with pytest.raises(requests.ConnectionError):
                    requests.request(method, url, headers=KEY, timeout=5)
                with pytest.raises(httpx.RemoteProtocolError):
                    httpx.request(method, url, headers=KEY, timeout=5)
    journal = requests.get(f"{server}/__admin/requests?task_id=drop", timeout=5).json()
    entries = journal["requests"]
    assert len(entries) == 32 and all(e["dropped"] for e in entries)  # HEAD ones too


def test_flask_routes_get_bodies_forms_and_headers_through_a2wsgi(server: str) -> None:
    form = requests.post(
        f"{server}/apis/story",
        headers=KEY,
        data={"source_language": "1", "title": "é"},
        files={"file": ("s.txt", b"once upon a time")},
        timeout=10,
    )
    assert form.status_code == 200 and form.json()["task_id"], form.text
    created = requests.post(
        f"{server}/apis/project-setup",
        headers=KEY,
        json={
            "media_url": "https://x.invalid/a.mp4",
            "source_language": 1,
            "target_languages": [2],
        },
        timeout=10,
    )
    assert created.status_code == 200, created.text
    chunks = (part for part in (b'{"kind": ', b'"story", "task_id": "chunked"}'))
    chunked = requests.post(f"{server}/__admin/tasks", data=chunks, timeout=10)  # no length
    assert chunked.status_code == 201, chunked.text
    endless = (b" " * 1024 * 1024 for _ in range(17))  # 17 MiB, chunked: read up to the limit
    too_big = requests.post(f"{server}/__admin/tasks", data=endless, timeout=30)
    assert 400 <= too_big.status_code < 500 and too_big.json()["detail"]
    missing = requests.post(f"{server}/apis/project-setup", headers=KEY, json={}, timeout=10)
    assert missing.status_code == 422 and isinstance(missing.json()["detail"], list)
    _task(
        server,
        "busy",
        {
            "steps": [{"status": "PENDING"}],
            "faults": [{"poll": 1, "type": "http_error", "http_status": 429, "retry_after": 7}],
        },
    )
    busy = requests.get(f"{server}/apis/story/busy", headers=KEY, timeout=10)
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "7"
    journal = requests.get(f"{server}/__admin/requests?task_id=busy", timeout=5).json()
    assert journal["requests"][0]["headers"]["x-api-key"] == "[redacted]"


def test_latency_waits_on_the_loop_and_holds_no_thread() -> None:
    """One thread for the Flask app: delayed status GETs (on the loop) and delayed creates
    (a Flask view, its latency handed to the loop) all leave together, each after its
    latency, not one thread's sleep after another."""
    delay = 0.5
    with serve("--threads", "1", "--latency-ms", str(int(delay * 1000)), "--clock", "manual") as (
        _,
        url,
    ):
        _task(url, "slow", {"steps": [{"status": "PENDING"}]})
        body = {
            "media_url": "https://x.invalid/a.mp4",
            "source_language": 1,
            "target_languages": [2],
        }
        took: list[tuple[int, float]] = []
        lock = threading.Lock()

        def call(method: str, path: str) -> None:
            started = time.monotonic()
            r = requests.request(
                method, url + path, headers=KEY, json=body if method == "POST" else None, timeout=20
            )
            with lock:
                took.append((r.status_code, time.monotonic() - started))

        calls = [("GET", "/apis/story/slow")] * 24 + [("POST", "/apis/project-setup")] * 4
        threads = [threading.Thread(target=call, args=c) for c in calls]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        wall = time.monotonic() - started
    assert sorted(code for code, _ in took) == [200] * len(calls)
    assert min(s for _, s in took) >= delay
    assert wall < 4 * delay  # four creates one after another on one thread: 2.0 s at least


def test_a_server_stopped_as_soon_as_it_listens_stops() -> None:
    """A signal that reaches a worker while it loads is held until its loop runs."""
    for signum in (signal.SIGTERM, signal.SIGINT) * 3:
        with serve() as (proc, _):
            proc.send_signal(signum)
            assert proc.wait(8) == 0


# --- the loop path answers as the WSGI fast path does ---------------------------------

REQUESTS: list[tuple[str, list[tuple[str, str]]]] = [
    ("/apis/story/t1", [("x-api-key", "k")]),
    ("/apis/story/t1", [("x-api-key", "k"), ("user-agent", "u"), ("x-foo", "1"), ("x-foo", "2")]),
    ("/apis/story/✓ ü", [("x-api-key", "k")]),
    ("/apis/story/a/b", [("x-api-key", "k")]),
    ("/apis/project-setup/p1", [("x_api_key", "k")]),
    ("/apis/project-setup/p1", [("x-api-key", "k"), ("content-type", "text/plain")]),
    ("/apis/story/t1", []),
    ("/apis/story/t1", [("x-api-key", "wrong")]),
    ("/apis/story/gone", [("x-api-key", "k")]),
    ("/apis/story/fail", [("x-api-key", "k")]),
]


def _emulator() -> Emulator:
    emu = Emulator(clock=ManualClock())
    emu.configure({"api_keys": ["k"], "unknown_task": "auto"})
    emu.create_task("story", "gone", "instant_success")
    emu.create_task(
        "story",
        "fail",
        {
            "steps": [{"status": "PENDING"}],
            "faults": [{"poll": 1, "type": "http_error", "http_status": 503}],
        },
    )
    return emu


Answer = tuple[int, dict[str, str], bytes]


def _via_wsgi(app: Any, path: str, headers: list[tuple[str, str]]) -> Answer:
    """GET ``path`` through the app's WSGI stack (the status fast path), as granian's
    WSGI interface hands it over: the path as latin-1, headers as ``HTTP_*``, repeats
    joined with commas."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path.encode().decode("latin-1"),
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
        "wsgi.errors": None,
        "HTTP_HOST": "127.0.0.1:8080",
    }
    for name, value in headers:
        key = name.upper().replace("-", "_")
        key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    out: dict[str, Any] = {}

    def start_response(status: str, hdrs: list[tuple[str, str]], exc: Any = None) -> None:
        out["status"], out["headers"] = int(status.split()[0]), {k.lower(): v for k, v in hdrs}

    body = b"".join(app.wsgi_app(environ, start_response))
    return out["status"], out["headers"], body


def _via_loop(app: LoopApp, path: str, headers: list[tuple[str, str]]) -> Answer:
    """GET ``path`` through :class:`LoopApp`, with the scope granian's ASGI gives."""
    sent: list[dict[str, Any]] = []
    raw = [(b"host", b"127.0.0.1:8080")] + [(k.encode(), v.encode()) for k, v in headers]
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": raw}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, body = sent
    hdrs = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], hdrs, body["body"]


def test_the_loop_path_answers_and_journals_as_the_wsgi_fast_path() -> None:
    emu_wsgi, emu_loop = _emulator(), _emulator()
    wsgi, loop = create_app(emu_wsgi), LoopApp(create_app(emu_loop), threads=2)
    answers = [(_via_loop(loop, p, h), _via_wsgi(wsgi, p, h)) for p, h in REQUESTS]
    for (path, _), (on_loop, on_wsgi) in zip(REQUESTS, answers, strict=True):
        assert on_loop == on_wsgi, path
    assert {a[0][0] for a in answers} == {200, 401, 404, 503}  # the cases differ

    def journal(emu: Emulator) -> list[dict[str, Any]]:
        return [{k: v for k, v in e.items() if k != "wall"} for e in emu.journal()]

    assert len(journal(emu_loop)) == len(REQUESTS)
    assert journal(emu_loop) == journal(emu_wsgi)
    assert json.dumps(journal(emu_loop)).count("[redacted]") >= len(REQUESTS) - 3


def test_a_shared_store_is_called_off_the_loop_and_served_on_wsgi() -> None:
    """:class:`LoopApp` over a Redis store makes its status call in a thread (the loop
    never waits on the network) and still waits the latency out on the loop; ``mockcamb
    serve`` serves such an app on granian's WSGI interface (BENCHMARKS.md, section 2)."""
    import uuid

    from _redis import redis_url

    from mockcamb.serve.granian import on_the_loop
    from mockcamb.stores.redis.store import RedisStore

    store = RedisStore(f"{redis_url()}?prefix=asgi-{uuid.uuid4().hex[:8]}:", clock="manual")
    emu = Emulator(store=store)
    emu.configure({"api_keys": ["k"], "latency": {"fixed_ms": 100}})
    emu.create_task("story", "r1", "never_finishes")
    flask = create_app(emu)
    app = LoopApp(flask, threads=2)
    assert app.store_pool is not None and not on_the_loop(flask)
    assert on_the_loop(create_app(_emulator()))
    loop_thread: list[int] = []
    calls: list[int] = []
    status = emu.status

    def watched(*args: Any, **kwargs: Any) -> Any:
        calls.append(threading.get_ident())
        return status(*args, **kwargs)

    emu.status = watched  # type: ignore[method-assign]

    async def run() -> Answer:
        loop_thread.append(threading.get_ident())
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        scope = {"type": "http", "method": "GET", "path": "/apis/story/r1", "root_path": ""}
        scope["headers"] = [(b"x-api-key", b"k")]
        await app(scope, receive, send)
        return sent[0]["status"], {}, sent[1]["body"]

    started = time.monotonic()
    code, _, body = asyncio.run(run())
    assert time.monotonic() - started >= 0.1
    assert code == 200 and json.loads(body) == {"status": "PENDING", "run_id": None}
    assert calls and calls[0] != loop_thread[0]
    emu.close()


def test_a_thread_left_waiting_for_the_loop_does_not_hold_the_worker_exit() -> None:
    """A worker stopped while one of a2wsgi's threads still waits to hand its answer to the
    loop (which no longer runs) never exited: the pool's threads were joined at exit, and
    granian killed the worker after 10 s (``serve`` stopped by SIGTERM, 1 run in 5). The
    pools are daemon threads now: a process with such a thread exits at once."""
    script = (
        "import threading\n"
        "from mockcamb.core.emulator import Emulator\n"
        "from mockcamb.http.app import create_app\n"
        "from mockcamb.http.asgi import LoopApp\n"
        "app = LoopApp(create_app(Emulator()), threads=4)\n"
        "blocked = threading.Event()\n"
        "pool = app.flask.executor\n"
        "pool.submit(blocked.wait)\n"
        "assert pool.submit(lambda: 7).result(5) == 7\n"
        "print('exiting', flush=True)\n"
    )
    argv = [sys.executable, "-c", script]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.wait(15) == 0
        finally:
            proc.kill()
        assert proc.stdout is not None and "exiting" in proc.stdout.read()
