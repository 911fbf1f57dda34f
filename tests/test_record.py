"""mockcamb record: the recording proxy, the recordings, and their replay, over real HTTP."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.client
import json
import re
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import pytest
import requests
import yaml
from _serve import CMD, run, serve
from camb.client import CambAI
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from mockcamb import MockCamb, serve_in_thread
from mockcamb.cli import main
from mockcamb.core.clock import ManualClock
from mockcamb.core.emulator import Emulator
from mockcamb.core.errors import ConfigError
from mockcamb.core.routes import KINDS, family
from mockcamb.record import (
    convert,
    format_summary,
    load_recordings,
    preload_recordings,
    recorded_scenarios,
    recording_proxy,
)
from mockcamb.record import recording as recording_module
from mockcamb.record.proxy import ERROR_HEADER
from mockcamb.record.recording import classify, read_record, task_name
from mockcamb.record.redact import Redactor, redact_query, secret_values
from mockcamb.strategies import scenarios
from mockcamb.virtual_time import virtual_time

KEY = "rec-KEY-5ecret-0123456789abcdef"
SCHEMA = json.loads(
    resources.files("mockcamb").joinpath("scenario.schema.json").read_text(encoding="utf-8")
)
Seen = tuple[Any, ...]


def look(http: requests.Session, url: str, **kwargs: Any) -> Seen:
    """What a client sees of one request: code, body, Retry-After and Content-Type; or that
    no answer came (a dropped connection, which the proxy answers as 502 with its header)."""
    try:
        r = http.get(url, timeout=10, **kwargs)
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
        return ("no answer",)  # granian breaks a dropped answer off after its headers
    if r.status_code in (502, 504) and r.headers.get(ERROR_HEADER):
        return ("no answer",)
    return (r.status_code, r.content, r.headers.get("Retry-After"), r.headers.get("Content-Type"))


def files_of(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def scenario_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if not p.name.startswith("."))


@pytest.fixture(scope="module")
def target() -> Iterator[MockCamb]:
    with serve_in_thread(api_key=KEY) as mock:
        yield mock


@pytest.fixture(scope="module")
def replay() -> Iterator[MockCamb]:
    with serve_in_thread(api_key=KEY) as mock:
        yield mock


# --- the differential proof: record a generated run, replay it, compare -------------------

PRESETS = (
    "happy_path",
    "flaky_network",
    "garbage_bodies",
    "rate_limited",
    "unknown_status",
    "fails_after_3_polls",
    "slow_success",
    "timeout",
)
#: Waits before a poll (often none), that add up exactly in binary floating point, so the
#: replay's clock reaches the very times the recording saw.
WAITS = (0.0, 0.0, 0.0, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0, 90.5, 600.0)


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[tuple[str, str, Any]], list[tuple[float, int]]]:
    """Tasks (created by the admin API with a generated scenario, or by a POST through the
    proxy with a preset) and a schedule of polls, each after a wait on the manual clock."""
    lives = scenarios(
        max_steps=4,
        max_polls=3,
        custom=True,
        with_faults=True,
        probabilistic_faults=True,
        timed_faults=True,
    )
    task = st.one_of(
        st.tuples(st.just("admin"), st.sampled_from(KINDS), lives),
        st.tuples(
            st.just("post"), st.sampled_from(("story", "project-setup")), st.sampled_from(PRESETS)
        ),
    )
    tasks = draw(st.lists(task, min_size=1, max_size=3))
    poll = st.tuples(st.sampled_from(WAITS), st.integers(0, len(tasks) - 1))
    return tasks, draw(st.lists(poll, min_size=1, max_size=40))


def status_path(kind: str) -> str:
    """Where a family's tasks are polled (``transcription`` at ``/transcribe``)."""
    return family(kind).status[0]


def result_path(kind: str, run_id: int) -> str | None:
    """Where a family's first result route answers a run (None: it has none of its own, or
    it needs more than the run id)."""
    route = next((r for r in family(kind).results if not r.bulk), None)
    if route is None or route.path.count("{") != 1:
        return None
    return route.path.replace("{run_id}", str(run_id))


def finished_runs(seen: dict[int, list[tuple[float, Seen]]]) -> dict[int, int]:
    """The run id each task's last status answer gave at SUCCESS, for the run ids only one
    task has."""
    runs: dict[int, int] = {}
    for i, polls in seen.items():
        answers = [json.loads(a[1]) for _, a in polls if _status((0.0, a))]
        if answers and answers[-1]["status"] == "SUCCESS" and answers[-1]["run_id"] is not None:
            runs[i] = int(answers[-1]["run_id"])
    counts = Counter(runs.values())
    return {i: r for i, r in runs.items() if counts[r] == 1}


def _status(poll: tuple[float, Seen]) -> bool:
    answer = poll[1]
    if answer[0] != 200:
        return False
    try:
        body = json.loads(answer[1])
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("status"), str) and bool(body["status"])


def create(http: requests.Session, base: str, kind: str, preset: str) -> str:
    headers = {"x-mockcamb-scenario": preset}
    if kind == "story":
        r = http.post(
            f"{base}/story",
            data={"source_language": "1"},
            files={"file": ("story.txt", b"Once upon a time")},
            headers=headers,
        )
    else:
        body = {
            "media_url": "https://example.com/v.mp4",
            "source_language": 1,
            "target_languages": [76],
        }
        r = http.post(f"{base}/project-setup", json=body, headers=headers)
    assert r.status_code == 200, r.text
    task_id: str = r.json()["task_id"]
    return task_id


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(run=runs())
@example(  # errors seen by time, then SUCCESS and its result (with URLs of the target's)
    run=(
        [
            (
                "admin",
                "story",
                {
                    "steps": [{"status": "PENDING", "seconds": 1}, {"status": "SUCCESS"}],
                    "faults": [{"seconds": [0, 1], "http_status": 503, "retry_after": 1}],
                },
            )
        ],
        [(0.0, 0), (0.5, 0), (0.5, 0), (0.0, 0)],
    )
)
def test_a_replay_answers_at_the_recorded_times_as_the_target_did(
    run: tuple[list[tuple[str, str, Any]], list[tuple[float, int]]],
    target: MockCamb,
    replay: MockCamb,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tasks, schedule = run
    out = tmp_path_factory.mktemp("recording")
    target.reset()
    replay.reset()
    ids: list[str | None] = [
        target.create_task(kind, spec, task_id=f"t{i}") if how == "admin" else None
        for i, (how, kind, spec) in enumerate(tasks)
    ]
    origin: dict[int, float] = {}
    seen: dict[int, list[tuple[float, Seen]]] = defaultdict(list)
    with recording_proxy(target.base_url, out, clock=target.now) as rec, requests.Session() as s:
        s.headers["x-api-key"] = KEY
        for wait, action in schedule:
            target.advance(wait)
            _, kind, spec = tasks[action]
            if ids[action] is None:
                origin[action] = target.now()  # a task's time counts from its first request
                ids[action] = create(s, rec.url, kind, spec)
            origin.setdefault(action, target.now())
            answer = look(s, f"{rec.url}{status_path(kind)}/{ids[action]}")
            seen[action].append((target.now() - origin[action], answer))
        results: dict[int, tuple[str, Seen]] = {}  # what each finished run's result was
        for i, run_id in finished_runs(seen).items():
            path = result_path(tasks[i][1], run_id)
            if path is not None:
                results[i] = (path, look(s, f"{rec.url}{path}"))

    recorded = {(r.family, r.task_id) for r in preload_recordings(replay.emulator, out)}
    # a task is recorded once it answers a status body, or when the POST that created it
    # went through the proxy
    expected = {(tasks[i][1], ids[i]) for i, polls in seen.items() if any(map(_status, polls))}
    expected |= {
        (kind, ids[i]) for i, (how, kind, _) in enumerate(tasks) if how == "post" and ids[i]
    }
    assert recorded == expected
    for path in out.glob("*.json"):
        record = read_record(path)
        assert record is not None
        conversion = convert(record)
        assert conversion.differs == [], conversion.notes
        for step in conversion.scenario["steps"][:-1]:
            event("a polls step" if "polls" in step else "a seconds step")
        for fault in conversion.scenario.get("faults", []):
            event(f"a {fault['type']} fault")
            event("a fault by time" if "seconds" in fault else "a fault by number")
        if "result" in conversion.scenario:
            event("a recorded result")

    order = sorted(
        (t, i, k)
        for i, polls in seen.items()
        if (tasks[i][1], ids[i]) in recorded
        for k, (t, _) in enumerate(polls)
    )
    with requests.Session() as s:
        s.headers["x-api-key"] = KEY
        for t, i, k in order:
            if t > replay.now():
                replay.advance(t - replay.now())
            assert replay.now() == t
            again = look(s, f"{replay.base_url}{status_path(tasks[i][1])}/{ids[i]}")
            assert again == seen[i][k][1], (tasks[i], k, t)
        for i, (path, answer) in results.items():  # the result bodies, as recorded
            if (tasks[i][1], ids[i]) in recorded:
                assert look(s, f"{replay.base_url}{path}") == answer, (tasks[i], path)


def test_time_driven_life_replays_in_virtual_time_far_faster_than_it_lived(
    target: MockCamb, replay: MockCamb, tmp_path: Path
) -> None:
    """An hour-long dub-like life recorded at 30 s polls replays in milliseconds."""
    target.reset()
    replay.reset()
    life = {
        "steps": [
            {"status": "PENDING", "seconds": 1800},
            {"status": "RENDERING", "seconds": 1795, "extra": {"progress": 50}},
            {"status": "SUCCESS", "run_id": 4242},
        ],
        "faults": [{"poll": [10, 11], "http_status": 429, "retry_after": 30}],
    }
    target.create_task("story", life, task_id="hour")
    with (
        recording_proxy(target.base_url, tmp_path, clock=target.now) as rec,
        requests.Session() as s,
    ):
        s.headers["x-api-key"] = KEY
        statuses = []
        while not statuses or statuses[-1] != "SUCCESS":
            r = s.get(f"{rec.url}/story/hour")
            statuses.append(r.json()["status"] if r.ok else r.status_code)
            target.advance(30)
    assert target.now() == 3630
    preload_recordings(replay.emulator, tmp_path)
    began = time.perf_counter()
    with requests.Session() as s, virtual_time(replay.advance):
        s.headers["x-api-key"] = KEY
        again = []
        while not again or again[-1] != "SUCCESS":
            r = s.get(f"{replay.base_url}/story/hour")
            again.append(r.json()["status"] if r.ok else r.status_code)
            time.sleep(30)  # virtual: moves the replay's clock
    elapsed = time.perf_counter() - began
    assert again == statuses and 429 in again and "RENDERING" in again
    assert replay.now() == 3630 and elapsed < 10
    doc = yaml.safe_load((tmp_path / "story-hour.yaml").read_text())
    assert [s.get("seconds") for s in doc["steps"]] == [1800, 1800, None]


def test_errors_seen_at_a_time_replay_at_that_time_for_a_client_polling_otherwise(
    target: MockCamb, replay: MockCamb, tmp_path: Path
) -> None:
    """Recorded at 10 s polls with a 502 outage seen at 20 s; replayed to a client polling
    every 5 s, the outage is at 20 s (until the next recorded poll), not at its third poll."""
    target.reset()
    replay.reset()
    life = {
        "steps": [{"status": "PENDING", "seconds": 40}, {"status": "SUCCESS", "run_id": 9}],
        "faults": [{"seconds": [18, 22], "http_status": 502}],
    }
    target.create_task("story", life, task_id="outage")
    with (
        recording_proxy(target.base_url, tmp_path, clock=target.now) as rec,
        requests.Session() as s,
    ):
        s.headers["x-api-key"] = KEY
        for _ in range(5):
            s.get(f"{rec.url}/story/outage")
            target.advance(10)
    doc = yaml.safe_load((tmp_path / "story-outage.yaml").read_text())
    assert doc["faults"] == [
        {
            "seconds": [20, 30],
            "type": "http_error",
            "http_status": 502,
            "body": {"detail": "Bad Gateway (injected by mockcamb)"},
        }
    ]
    preload_recordings(replay.emulator, tmp_path)
    with requests.Session() as s:
        s.headers["x-api-key"] = KEY
        codes = []
        for _ in range(9):
            codes.append(s.get(f"{replay.base_url}/story/outage").status_code)
            replay.advance(5)
    assert codes == [200, 200, 200, 200, 502, 502, 200, 200, 200]  # at 0, 5, ... 40 s


# --- the official SDK as the client -----------------------------------------------------


def test_recording_with_the_official_sdk_as_the_client(
    target: MockCamb, replay: MockCamb, tmp_path: Path
) -> None:
    target.reset()
    replay.reset()
    throttled = {
        "steps": [{"status": "PENDING", "polls": 1}, {"status": "SUCCESS"}],
        "faults": [{"poll": [1, 2], "http_status": 429, "retry_after": 5}],
    }
    target.configure(default_scenario=throttled)  # for tasks the SDK creates

    def run_sdk(base_url: str, advance: Any) -> tuple[str, list[str], dict[str, Any]]:
        with httpx.Client(timeout=10) as http, virtual_time(advance):
            client = CambAI(api_key=KEY, base_url=base_url, httpx_client=http)
            task_id = client.story.create_story(
                file=("story.txt", b"Once upon a time"), source_language=1
            ).task_id
            statuses = []
            while True:
                status = client.story.get_story_status(task_id)  # retries its 429s itself
                statuses.append(status.status)
                if status.status == "SUCCESS":
                    break
                time.sleep(5)
            return task_id, statuses, client.story.get_story_run_info(status.run_id)

    with recording_proxy(target.base_url, tmp_path, clock=target.now) as rec:
        task_id, statuses, result = run_sdk(rec.url, target.advance)
    assert statuses == ["PENDING", "SUCCESS"] and result["transcript"]
    [record] = [read_record(p) for p in tmp_path.glob("*.json")]
    assert record is not None and record["task_id"] == task_id and record["family"] == "story"
    assert record["create"]["request_headers"]["x-fern-language"] == "Python"
    assert record["create"]["request_body"]["multipart"]["file"]["filename"] == "story.txt"
    assert [p.get("status_code") for p in record["polls"]] == [429, 429, 200, 200]
    assert record["results"][0]["body"]["json"] == result
    assert KEY.encode() not in b"".join(p.read_bytes() for p in files_of(tmp_path))

    [rec_task] = preload_recordings(replay.emulator, tmp_path)
    assert rec_task.result is not None and rec_task.result.json() == result
    # a fresh SDK run polls the recorded task on the replay, at virtual times of its own
    with httpx.Client(timeout=10) as http, virtual_time(replay.advance):
        client = CambAI(api_key=KEY, base_url=replay.base_url, httpx_client=http)
        first = client.story.get_story_status(task_id)
    assert first.status == "PENDING" and replay.now() == 10  # it waited out two Retry-After: 5


# --- what is forwarded, what is written --------------------------------------------------


class _Echo(BaseHTTPRequestHandler):
    """A target that keeps every request exactly as it arrived."""

    seen: list[tuple[str, str, list[tuple[str, str]], bytes]] = []
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        _Echo.seen.append((self.command, self.path, list(self.headers.items()), body))
        if self.command == "POST":
            payload = json.dumps({"task_id": "d-1"}).encode()
        elif "/dub/" in self.path:
            payload = json.dumps(
                {"status": "PENDING", "run_id": None, "note": f"seen key {KEY}"}
            ).encode()
        else:
            payload = b'{"detail": "no"}'
        self.send_response(200 if self.command == "POST" or "/dub/" in self.path else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Set-Cookie", f"session={KEY}; HttpOnly")
        self.send_header("X-Upstream", "echo")
        self.send_header("Keep-Alive", "timeout=5")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def echo_target() -> Iterator[str]:
    _Echo.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/apis"
    finally:
        server.shutdown()
        server.server_close()


def test_forwards_exactly_what_the_client_sends_and_adds_nothing(tmp_path: Path) -> None:
    with echo_target() as base, recording_proxy(base, tmp_path) as rec:
        conn = http.client.HTTPConnection("127.0.0.1", int(rec.url.rsplit(":", 1)[1]))
        body = b'{"video_url": "https://example.com/v.mp4", "source_language": 1}'
        conn.putrequest("POST", f"/dub?x=%2F&api_key={KEY}", skip_accept_encoding=True)
        for name, value in (
            ("X-Api-Key", KEY),
            ("Content-Type", "application/json"),
            ("X-Custom", "a b"),
            ("Connection", "keep-alive, X-Hop"),
            ("X-Hop", "between client and proxy only"),
            ("Keep-Alive", "timeout=5"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("Content-Length", str(len(body))),
        ):
            conn.putheader(name, value)
        conn.endheaders(body)
        answer = conn.getresponse()
        assert answer.status == 200 and json.loads(answer.read()) == {"task_id": "d-1"}
        names = {k.lower() for k, _ in answer.getheaders()}
        assert "x-upstream" in names and "set-cookie" in names and "keep-alive" not in names
        conn.close()
    [(method, path, headers, got_body)] = _Echo.seen
    assert (method, path, got_body) == ("POST", f"/apis/dub?x=%2F&api_key={KEY}", body)
    target_host = base.split("/")[2]
    assert {k.lower(): v for k, v in headers} == {
        "host": target_host,
        "x-api-key": KEY,
        "content-type": "application/json",
        "x-custom": "a b",
        "x-forwarded-for": "10.0.0.1",
        "content-length": str(len(body)),
    }


def test_nothing_secret_is_ever_written(target: MockCamb, tmp_path: Path) -> None:
    """The key in headers, the query, the path, a bearer token, a cookie, an answer that
    echoes it, a signed URL: none reaches a file, in clear, URL-encoded or base64."""
    target.reset()
    target.create_task(
        "story",
        {
            "steps": [{"status": "PENDING", "polls": 1}, {"status": "FAILED", "message": KEY}],
            "faults": [
                {"poll": 2, "http_status": 400, "body": {"detail": f"bad key {KEY}"}},
                {"poll": 3, "type": "non_json", "body": f"<p>{KEY}</p>"},
            ],
        },
        task_id="leaky",
    )
    headers = {
        "x-api-key": KEY,
        "Authorization": f"Bearer {KEY}",
        "Cookie": f"session={KEY}2; theme=dark",
        "X-Session-Token": "another-secret-value",
    }
    with recording_proxy(target.base_url, tmp_path, clock=target.now) as rec:
        with requests.Session() as s:
            for _ in range(4):
                s.get(f"{rec.url}/story/leaky?api_key={quote(KEY)}&sig=s1gnature", headers=headers)
            s.get(f"{rec.url}/story/{KEY}", headers=headers)  # the key as a path segment
            body = {"media_url": f"https://bucket.example.com/v.mp4?X-Amz-Signature={KEY}3"}
            s.post(f"{rec.url}/project-setup", json=body, headers=headers)
        with echo_target() as base, recording_proxy(base, tmp_path / "echo") as echo:
            requests.post(f"{echo.url}/dub", json={}, headers=headers)
            requests.get(f"{echo.url}/discord/dub/d-1", headers=headers)
    written = b"".join(p.read_bytes() for p in files_of(tmp_path))
    assert len(files_of(tmp_path)) >= 6
    for secret in (KEY, f"{KEY}2", f"{KEY}3", "another-secret-value", "s1gnature"):
        for form in (secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()):
            assert form.encode() not in written, form
    assert b"[redacted]" in written


def test_transport_failures_are_recorded_as_what_they_were(tmp_path: Path) -> None:
    """A target that answers, then resets the connection, then never answers."""
    behaviour = iter(["answer", "reset", "stall", "answer", "answer"])
    stop = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while True:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = self.request.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                what = next(behaviour, "answer")
                if what == "reset":
                    self.request.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                    return
                if what == "stall":
                    stop.wait(5)
                    return
                body = b'{"status":"PENDING","run_id":null}'
                self.request.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with recording_proxy(base, tmp_path, timeout=0.5) as rec:
            answers = [
                requests.get(f"{rec.url}/dub/x", headers={"x-api-key": KEY}) for _ in range(4)
            ]
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
    assert [a.status_code for a in answers] == [200, 502, 504, 200]
    assert [a.headers.get(ERROR_HEADER) for a in answers] == [None, "reset", "timeout", None]
    assert answers[2].json()["detail"].startswith("mockcamb record: no answer from")
    record = read_record(tmp_path / "dub-x.json")
    assert record is not None
    assert [p.get("transport") for p in record["polls"]] == [None, "reset", "timeout", None]
    [rec_task] = load_recordings(tmp_path)
    assert [f.type for f in rec_task.scenario.faults] == ["drop_connection"]
    # seen at two times of the wall clock, one after the other: one window, up to the next poll
    times = [p["t"] for p in record["polls"]]
    assert rec_task.scenario.faults[0].windows == ((times[1], times[3]),)
    assert rec_task.scenario.faults[0].polls == frozenset()
    assert "timeout, replayed as a dropped connection" in (rec_task.scenario.description or "")


# --- crashes, second runs, limits ----------------------------------------------------------


def test_a_failed_write_leaves_the_old_file_whole_and_the_traffic_flowing(
    target: MockCamb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target.reset()
    target.create_task("story", "never_finishes", task_id="w")

    def crash(fd: int) -> None:
        raise OSError(28, "No space left on device")

    with (
        recording_proxy(target.base_url, tmp_path, clock=target.now, flush_interval=0) as rec,
        requests.Session() as s,
    ):
        s.headers["x-api-key"] = KEY
        s.get(f"{rec.url}/story/w")
        before = (tmp_path / "story-w.json").read_bytes()
        monkeypatch.setattr(recording_module.os, "fsync", crash)
        assert s.get(f"{rec.url}/story/w").json()["status"] == "PENDING"
        assert (tmp_path / "story-w.json").read_bytes() == before
        assert not list(tmp_path.glob(".*.tmp"))
        assert rec.recorder.stats["write_errors"] == 1
        monkeypatch.undo()
        s.get(f"{rec.url}/story/w")
    record = read_record(tmp_path / "story-w.json")
    assert record is not None and [p["n"] for p in record["polls"]] == [1, 2, 3]


def _start_recorder(target_url: str, out: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [*CMD, "record", "--target", target_url, "--port", "0", "--out", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    match = re.search(r"listening on (http://\S+),", line)
    assert match, line
    return proc, match.group(1)


def test_a_killed_recorder_leaves_complete_files_and_a_second_run_appends(
    target: MockCamb, tmp_path: Path
) -> None:
    target.reset()
    for i in range(6):
        target.create_task("story", "never_finishes", task_id=f"k{i}")
    out = tmp_path / "rec"
    proc, url = _start_recorder(target.base_url, out)
    stop = threading.Event()

    def traffic(i: int) -> None:
        with requests.Session() as s:
            s.headers["x-api-key"] = KEY
            while not stop.is_set():
                try:
                    s.get(f"{url}/story/k{i}", timeout=5)
                except requests.RequestException:
                    return

    threads = [threading.Thread(target=traffic, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(1)  # every task written at least once
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and target.task("story", "k0")["requests"] < 60:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # in the middle of writing, as often as not
    proc.wait(10)
    stop.set()
    for t in threads:
        t.join(10)
    assert proc.stderr is not None
    proc.stderr.close()

    records = {}
    for path in out.glob("*.json"):
        record = read_record(path)  # every file parses whole: no half-written record
        assert record is not None, path
        records[path.stem] = record
        yaml.safe_load(path.with_suffix(".yaml").read_text())
    assert set(records) == {f"story-k{i}" for i in range(4)}
    untouched = {n: (out / f"{n}.json").read_bytes() for n in ("story-k1", "story-k2")}

    proc, url = _start_recorder(target.base_url, out)  # the same directory again
    assert not list(out.glob(".*.tmp"))  # leftovers of the crash are cleared
    with requests.Session() as s:
        s.headers["x-api-key"] = KEY
        for _ in range(3):
            s.get(f"{url}/story/k0")
        s.get(f"{url}/story/k5")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert proc.stderr is not None
    rest = proc.stderr.read()
    proc.stderr.close()
    assert "continued task story/k0" in rest and "new task story/k5" in rest
    assert "1 new tasks, 1 continued" in rest and KEY not in rest
    for name, data in untouched.items():
        assert (out / f"{name}.json").read_bytes() == data
    k0 = read_record(out / "story-k0.json")
    assert k0 is not None
    numbers = [p["n"] for p in k0["polls"]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert numbers[-1] == len(records["story-k0"]["polls"]) + 3
    assert main(["validate", *map(str, scenario_files(out))]) == 0


def test_max_rps_spaces_what_is_forwarded(target: MockCamb, tmp_path: Path) -> None:
    target.reset()
    with recording_proxy(target.base_url, tmp_path, max_rps=8) as rec:
        threads = [
            threading.Thread(
                target=requests.get,
                args=(f"{rec.url}/story/t{i}",),
                kwargs={"headers": {"x-api-key": KEY}, "timeout": 10},
            )
            for i in range(12)
        ]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - began
    walls = sorted(e["wall"] for e in target.requests())  # when the target got each one
    assert len(walls) == 12
    busiest = max(sum(1 for w in walls if a <= w < a + 1) for a in walls)
    assert busiest <= 8 + 1  # slots are 1/8 s apart; a little scheduling jitter on top
    assert walls[-1] - walls[0] >= 11 / 8 - 0.1 and took >= 11 / 8 - 0.05


def test_one_recorder_per_directory(tmp_path: Path, target: MockCamb) -> None:
    with (
        recording_proxy(target.base_url, tmp_path),
        pytest.raises(ConfigError, match="in use by another mockcamb record"),
        recording_proxy(target.base_url, tmp_path),
    ):
        pass
    with recording_proxy(target.base_url, tmp_path):  # free again once the first stops
        pass


# --- recordings as scenarios -----------------------------------------------------------------


def _record_a_few(target: MockCamb, out: Path) -> None:
    target.reset()
    target.create_task("story", "flaky_network", task_id="flaky")
    target.create_task("project-setup", "fails_after_3_polls", task_id="fails")
    target.create_task("story", "garbage_bodies", task_id="garbage")
    with recording_proxy(target.base_url, out, clock=target.now) as rec, requests.Session() as s:
        s.headers["x-api-key"] = KEY
        for _ in range(7):
            for kind, task_id in (
                ("story", "flaky"),
                ("project-setup", "fails"),
                ("story", "garbage"),
            ):
                look(s, f"{rec.url}/{kind}/{task_id}")
            target.advance(2.5)
        run_id = target.task("story", "flaky")["run_id"]
        assert s.get(f"{rec.url}/story-result/{run_id}").ok


def test_recordings_are_valid_scenario_files(target: MockCamb, tmp_path: Path) -> None:
    _record_a_few(target, tmp_path)
    files = scenario_files(tmp_path)
    assert [p.name for p in files] == [
        "project-setup-fails.yaml",
        "story-flaky.yaml",
        "story-garbage.yaml",
    ]
    assert main(["validate", *map(str, files)]) == 0
    for path in files:
        jsonschema.validate(yaml.safe_load(path.read_text()), SCHEMA)
    flaky = yaml.safe_load((tmp_path / "story-flaky.yaml").read_text())
    assert flaky["name"] == "recorded/story-flaky"
    # polled every 2.5 s: each error answer is a fault on its time, up to the next poll
    first = {k: flaky["faults"][0][k] for k in ("seconds", "type", "http_status")}
    assert first == {"seconds": [0, 2.5], "type": "http_error", "http_status": 503}
    assert [f["seconds"] for f in flaky["faults"]] == [[0, 2.5], [5, 7.5], [10, 12.5]]
    assert flaky["result"]["transcript"] and flaky["result"]["audio_url"].endswith("audio.wav")
    assert any(f.get("retry_after") == 2 for f in flaky["faults"])
    fails = yaml.safe_load((tmp_path / "project-setup-fails.yaml").read_text())
    assert fails["steps"][-1]["status"] == "FAILED" and fails["steps"][-1]["exception_reason"]
    garbage = yaml.safe_load((tmp_path / "story-garbage.yaml").read_text())
    assert {f["type"] for f in garbage["faults"]} == {"non_json", "empty_body", "truncated_json"}
    assert "Replays every recorded answer exactly." in garbage["description"]


def test_load_recordings_yields_family_id_scenario_and_result(
    target: MockCamb, tmp_path: Path
) -> None:
    _record_a_few(target, tmp_path)
    loaded = {(r.family, r.task_id): r for r in load_recordings(tmp_path)}
    assert set(loaded) == {("story", "flaky"), ("project-setup", "fails"), ("story", "garbage")}
    flaky = loaded[("story", "flaky")]
    assert flaky.result is not None and flaky.result.status_code == 200
    assert flaky.result.json()["transcript"]
    assert loaded[("project-setup", "fails")].result is None
    names = recorded_scenarios(tmp_path)
    assert set(names) == {
        "recorded/story-flaky",
        "recorded/project-setup-fails",
        "recorded/story-garbage",
    }
    emu = Emulator(clock=ManualClock())
    preload_recordings(emu, tmp_path)
    assert emu.status("story", "flaky", "k").status_code == 503


def test_an_edited_scenario_is_used_and_a_stale_one_is_not(
    target: MockCamb, tmp_path: Path
) -> None:
    _record_a_few(target, tmp_path)
    path = tmp_path / "story-flaky.yaml"
    edited = path.read_text().replace("status: SUCCESS", "status: TIMEOUT")
    path.write_text(edited)
    loaded = {r.task_id: r for r in load_recordings(tmp_path)}
    assert loaded["flaky"].scenario.steps[-1].status == "TIMEOUT"
    # a scenario older than its record (a crash between the two writes): the record wins
    path.write_text(edited.replace("revision ", "revision 1"))
    loaded = {r.task_id: r for r in load_recordings(tmp_path)}
    assert loaded["flaky"].scenario.steps[-1].status == "SUCCESS"
    path.write_text(edited.replace("status: TIMEOUT", "status: ''"))
    with pytest.raises(ConfigError, match=r"story-flaky\.yaml"):
        list(load_recordings(tmp_path))


def test_families_come_from_the_path(tmp_path: Path) -> None:
    with echo_target() as base, recording_proxy(base, tmp_path) as rec:
        created = requests.post(
            f"{rec.url}/dub", json={"video_url": "v"}, headers={"x-api-key": KEY}
        )
        assert created.json() == {"task_id": "d-1"}
        for path in ("/discord/dub/d-1", "/dub/d-1"):
            requests.get(rec.url + path, headers={"x-api-key": KEY})
    [rec_task] = load_recordings(tmp_path)
    assert (rec_task.family, rec_task.task_id) == ("dub", "d-1")
    record = read_record(tmp_path / "dub-d-1.json")
    assert record is not None and record["create"]["status_code"] == 200
    assert [p["path"] for p in record["polls"]] == ["/discord/dub/d-1", "/dub/d-1"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_family_is_recorded_and_replayed_under_the_emulators_name(
    kind: str, target: MockCamb, replay: MockCamb, tmp_path: Path
) -> None:
    target.reset()
    replay.reset()
    life = {"steps": [{"status": "PENDING", "seconds": 10}, {"status": "SUCCESS", "run_id": 77}]}
    target.create_task(kind, life, task_id="f-1")
    paths = family(kind).status
    with (
        recording_proxy(target.base_url, tmp_path, clock=target.now) as rec,
        requests.Session() as s,
    ):
        s.headers["x-api-key"] = KEY
        seen = []
        for i in range(4):
            seen.append(look(s, f"{rec.url}{paths[i % len(paths)]}/f-1"))
            target.advance(5)
    [recorded] = preload_recordings(replay.emulator, tmp_path)
    assert (recorded.family, recorded.task_id) == (kind, "f-1")
    with requests.Session() as s:
        s.headers["x-api-key"] = KEY
        again = []
        for i in range(4):
            again.append(look(s, f"{replay.base_url}{paths[i % len(paths)]}/f-1"))
            replay.advance(5)
    assert again == seen and seen[-1][1] == b'{"status":"SUCCESS","run_id":77}'


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("GET", "/story/abc", ("status", "story", "abc")),
        ("GET", "/dub/abc?run_id=3", ("status", "dub", "abc")),
        ("GET", "/discord/tts/a%2Fb", ("status", "tts", "a/b")),
        ("GET", "/text-to-sound/x", ("status", "text-to-sound", "x")),
        ("GET", "/dub-result/12", ("result", "dub-result", "12")),
        ("GET", "/sub-result/12/76", ("result", "sub-result", "12")),
        ("GET", "/transcript/12/76", ("result", "transcript", "12")),
        ("POST", "/translated-story/12", ("create", "translated-story", "")),
        ("POST", "/tts", ("create", "tts", "")),
        ("GET", "/", None),
        ("GET", "/languages", None),
        ("DELETE", "/story/abc", None),
        ("GET", "/Story/abc", None),
        ("GET", "/story-results/abc", None),
    ],
)
def test_routes_are_told_from_the_path(method: str, path: str, route: Any) -> None:
    got = classify(method, path)
    assert (got and (got.kind, got.family, got.ident)) == route


def test_task_names_are_safe_file_names() -> None:
    assert task_name("story", "abc-1_2") == "story-abc-1_2"
    odd = task_name("dub", "../../etc/passwd\x00é" + "x" * 300)
    assert re.fullmatch(r"dub-[A-Za-z0-9_-]+", odd) and len(odd) <= 100
    assert task_name("dub", "a/b") != task_name("dub", "a?b")


def test_redaction_rules() -> None:
    secrets = secret_values(
        [
            ("X-Api-Key", "key-123456"),
            ("Authorization", "Basic " + base64.b64encode(b"user:pa55word").decode()),
            ("Cookie", "sid=cookie-value-1; theme=dark"),
            ("Accept", "application/json"),
        ]
    )
    assert {"key-123456", "pa55word", "cookie-value-1"} <= set(secrets)
    assert "application/json" not in secrets and "dark" not in secrets
    r = Redactor(secrets)
    assert r.text("x key-123456 y key-123456") == "x [redacted] y [redacted]"
    assert (
        r.path("/story/pa55word?token=abc&run_id=3")
        == "/story/[redacted]?token=[redacted]&run_id=3"
    )
    assert redact_query("https://u:p@h.example/x?X-Amz-Signature=s&a=1") == (
        "https://[redacted]@h.example/x?X-Amz-Signature=[redacted]&a=1"
    )
    assert r.headers([("Set-Cookie", "a=b"), ("X-Note", "has key-123456")]) == {
        "set-cookie": "[redacted]",
        "x-note": "has [redacted]",
    }


# --- the command -----------------------------------------------------------------------------


def test_summary_says_what_was_recorded(
    target: MockCamb, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _record_a_few(target, tmp_path)
    assert main(["record", "--summary", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert text == format_summary(tmp_path)
    assert f"{tmp_path}: 3 tasks in 2 families" in text
    flaky = next(line for line in text.splitlines() if "story-flaky" in line)
    assert "PENDING > SUCCESS" in flaky and "503" in flaky and "429" in flaky
    assert "exact" in flaky and flaky.split()[-3:-1] == ["no", "yes"]
    assert "project-setup: 1 task" in text and "ends: FAILED 1" in text


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["record"], "one of the arguments --target --summary is required"),
        (["record", "--target", "ftp://x"], "--target: must be an http:// or https:// URL"),
        (["record", "--target", "http://u:p@x"], "must not carry a user or password"),
        (["record", "--summary", "/nonexistent/dir"], "--summary: no such directory"),
        (["record", "--target", "http://x", "--max-rps", "0"], "--max-rps"),
    ],
)
def test_usage_errors_exit_2(args: list[str], words: str) -> None:
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr


def test_port_in_use_and_exposed_host(target: MockCamb, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(
            "record", "--target", target.base_url, "--port", str(port), "--out", str(tmp_path)
        )
    assert result.returncode == 2 and "already in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    proc = subprocess.Popen(
        [
            *CMD,
            "record",
            "--target",
            target.base_url,
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--out",
            str(tmp_path),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    try:
        first = proc.stderr.readline()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait(10)
        proc.stderr.close()
    assert "WARNING" in first and "0.0.0.0" in first


def test_help_lists_every_option() -> None:
    result = run("record", "--help")
    assert result.returncode == 0
    for option in ("--target", "--summary", "--host", "--port", "--out", "--max-rps", "--timeout"):
        assert option in result.stdout
    assert "record" in run("--help").stdout


def test_importing_the_package_stays_cheap() -> None:
    code = (
        "import sys, mockcamb.cli, mockcamb.record; print('mockcamb.record.proxy' in sys.modules)"
    )
    done = subprocess.run([*CMD[:1], "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "False", done.stderr


# --- replay hookups: serve --replay, serve_in_thread(replay=), the pytest fixtures -----------


def test_serve_replay_preloads_the_recorded_tasks(target: MockCamb, tmp_path: Path) -> None:
    _record_a_few(target, tmp_path)
    with serve("--replay", str(tmp_path), "--clock", "manual") as (_, url), requests.Session() as s:
        s.headers["x-api-key"] = KEY
        seen = []
        for _ in range(5):  # at the recorded times: 0, 2.5, 5, 7.5, 10 s
            seen.append(look(s, f"{url}/apis/story/flaky")[0])
            requests.post(f"{url}/__admin/clock/advance", json={"seconds": 2.5})
        tasks = requests.get(f"{url}/__admin/tasks").json()["tasks"]
    assert seen == [503, 200, 429, 200, "no answer"]  # flaky_network, as recorded
    assert {(t["kind"], t["task_id"], t["scenario"]["name"]) for t in tasks} == {
        ("story", "flaky", "recorded/story-flaky"),
        ("project-setup", "fails", "recorded/project-setup-fails"),
        ("story", "garbage", "recorded/story-garbage"),
    }
    result = run("serve", "--replay", str(tmp_path / "missing"), "--port", "0")
    assert result.returncode == 2 and "--replay: no such directory" in result.stderr


def test_serve_replay_makes_every_recorded_life_a_preset_for_new_tasks(
    target: MockCamb, tmp_path: Path
) -> None:
    _record_a_few(target, tmp_path)
    with serve("--replay", str(tmp_path), "--clock", "manual") as (_, url), requests.Session() as s:
        s.headers["x-api-key"] = KEY
        library = s.get(f"{url}/__admin/scenarios").json()["scenarios"]
        assert sorted(library) == ["project-setup-fails", "story-flaky", "story-garbage"]
        task_id = create(s, f"{url}/apis", "story", "recorded/story-flaky")
        fresh, recorded = [], []
        for _ in range(3):  # the recorded life, from the new task's start
            fresh.append(look(s, f"{url}/apis/story/{task_id}")[0])
            recorded.append(look(s, f"{url}/apis/story/flaky")[0])
            s.post(f"{url}/__admin/clock/advance", json={"seconds": 2.5})
        assert fresh == recorded == [503, 200, 429]
        task = s.get(f"{url}/__admin/tasks/story/{task_id}").json()
        assert task["scenario"]["name"] == "recorded/story-flaky"
        unknown = s.post(
            f"{url}/apis/story",
            data={"source_language": "1"},
            files={"file": ("s.txt", b"x")},
            headers={"x-mockcamb-scenario": "recorded/story-flakey"},
        )
        assert unknown.status_code == 400
        assert "did you mean recorded/story-flaky?" in unknown.json()["detail"]
        assert "recorded: recorded/project-setup-fails, recorded/story-flaky" in unknown.text


def test_serve_in_thread_replays_and_reset_starts_the_lives_again(
    target: MockCamb, tmp_path: Path
) -> None:
    _record_a_few(target, tmp_path)
    with serve_in_thread(replay=tmp_path) as mock, requests.Session() as s:
        s.headers["x-api-key"] = mock.api_key
        assert len(mock.recordings) == 3
        first = look(s, f"{mock.base_url}/project-setup/fails")
        mock.advance(7.5)  # recorded: PENDING at 0, 2.5 and 5 s, FAILED from 7.5 s
        assert mock.status("project-setup", "fails") == "FAILED"
        mock.reset()
        assert mock.status("project-setup", "fails") == "PENDING"
        assert look(s, f"{mock.base_url}/project-setup/fails") == first


def test_the_pytest_fixtures_replay_a_directory(target: MockCamb, tmp_path: Path) -> None:
    _record_a_few(target, tmp_path / "recordings")
    (tmp_path / "test_replayed.py").write_text(
        "import time\n"
        "import requests\n\n\n"
        "def poll(mockcamb):\n"
        "    statuses = []\n"
        "    while not statuses or statuses[-1] not in ('SUCCESS', 'FAILED'):\n"
        "        r = requests.get(f'{mockcamb.base_url}/project-setup/fails',\n"
        "                         headers=mockcamb.headers)\n"
        "        statuses.append(r.json()['status'])\n"
        "        time.sleep(2.5)\n"
        "    return statuses\n\n\n"
        "def test_first(mockcamb, mockcamb_virtual_sleep):\n"
        "    assert poll(mockcamb) == ['PENDING', 'PENDING', 'PENDING', 'FAILED']\n\n\n"
        "def test_again_after_the_reset(mockcamb, mockcamb_virtual_sleep):\n"
        "    assert poll(mockcamb)[-1] == 'FAILED' and mockcamb.now() == 10\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [
            *CMD[:1],
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            "--mockcamb-replay",
            "recordings",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout


# --- conformance against what the real service did -----------------------------------------


def _record_lives(target: MockCamb, out: Path) -> None:
    """Two story lives as a live service might have had them: one through a custom status and
    throttling to SUCCESS, one to FAILED."""
    target.reset()
    target.create_task(
        "story",
        {
            "steps": [
                {"status": "PENDING", "seconds": 40},
                {"status": "RENDERING", "seconds": 40},
                {"status": "SUCCESS", "run_id": 31},
            ],
            "faults": [{"poll": 3, "http_status": 429, "retry_after": 20}],
        },
        task_id="rendering",
    )
    target.create_task(
        "story",
        {"steps": [{"status": "PENDING", "seconds": 30}, {"status": "FAILED", "message": "x"}]},
        task_id="failing",
    )
    with recording_proxy(target.base_url, out, clock=target.now) as rec, requests.Session() as s:
        s.headers["x-api-key"] = KEY
        for _ in range(10):
            for task_id in ("rendering", "failing"):
                look(s, f"{rec.url}/story/{task_id}")
            target.advance(10)


def picky(base_url: str, api_key: str, endpoint: str, task_id: str) -> dict[str, Any]:
    """A client that takes a status it has never heard of for the end."""
    while True:
        r = requests.get(f"{base_url}/{endpoint}/{task_id}", headers={"x-api-key": api_key})
        if r.status_code == 200 and r.json()["status"] != "PENDING":
            body: dict[str, Any] = r.json()
            return body
        time.sleep(max(5.0, float(r.headers.get("Retry-After", 0))))


def test_conform_checks_a_client_against_recorded_lives(target: MockCamb, tmp_path: Path) -> None:
    from mockcamb.conformance import ConformanceConfig, check_client

    _record_lives(target, tmp_path)
    config = ConformanceConfig(examples=1, seed=1, endpoints=("story",), lives=str(tmp_path))
    good = check_client("mockcamb.client:poll", config)
    assert good.ok, good.format()
    assert good.examples["politeness"] == 1 + 2 and good.examples["success"] == 1 + 1
    bad = check_client(picky, dataclasses.replace(config, properties=("success",)))
    finding = bad.results["success"]
    assert finding is not None and "RENDERING" in finding.message
    assert (
        str(tmp_path) in finding.note and "recorded, recorded/story-rendering" in finding.format()
    )


def test_conform_lives_on_the_command_line(target: MockCamb, tmp_path: Path) -> None:
    _record_lives(target, tmp_path)
    args = ["conform", "mockcamb.client:poll", "--endpoint", "story", "--examples", "1"]
    done = run(*args, "--lives", str(tmp_path), timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    missing = run(*args, "--lives", str(tmp_path / "missing"), timeout=60)
    assert missing.returncode == 2 and "--lives: no such directory" in missing.stderr
