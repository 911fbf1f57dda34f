"""The Redis store through the faults of Redis itself, each against a redis-server of the
test's own (tests/_redis.py, PrivateRedis): killed (SIGKILL), stalled (SIGSTOP past the
socket timeout), restarted with its data or empty; and the two store bugs of issue 17 (a
scenario cache outliving its keys; STALE between the two calls of a probability poll).
First in process, on the store and the emulator; then over real HTTP, through
``mockcamb serve --store redis://...``."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from _redis import PrivateRedis
from _serve import serve

from mockcamb.core.emulator import Emulator
from mockcamb.core.settings import Settings
from mockcamb.http.app import create_app
from mockcamb.http.asgi import LoopApp
from mockcamb.stores.base import StoreUnavailable, TaskGone
from mockcamb.stores.redis.store import RedisStore
from mockcamb.stores.redis.wire import RawScript

KEY = "k-faults"
PROB = {"steps": [{"status": "PENDING"}], "faults": [{"probability": 0.5, "http_status": 500}]}
STORY: dict[str, Any] = {"files": {"file": ("s.txt", b"hi")}, "data": {"source_language": "1"}}
#: A generous bound for "prompt": the timeout is 0.5 s; a loaded machine is slow.
PROMPT_S = 4.0


_OPEN: list[Emulator] = []


@pytest.fixture
def rds() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    yield server
    while _OPEN:
        _OPEN.pop().close()
    server.close()


def _emulator(url: str, **settings: Any) -> Emulator:
    store = RedisStore(
        f"{url}?socket_timeout=0.5&socket_connect_timeout=0.5",
        prefix=f"f-{uuid.uuid4().hex[:8]}:",
        settings=Settings(api_keys=frozenset({KEY}), **settings),
    )
    _OPEN.append(Emulator(store=store))
    return _OPEN[-1]


def _twin(emu: Emulator) -> Emulator:
    """Another worker on the same store (its own process's state, the same Redis keys)."""
    store = emu.store
    assert isinstance(store, RedisStore)
    _OPEN.append(Emulator(store=RedisStore(store.url, prefix=store.prefix)))
    return _OPEN[-1]


def _unavailable_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "is unavailable" in r.getMessage()]


# --- in process -----------------------------------------------------------------------


def test_every_call_raises_store_unavailable_promptly_while_redis_is_down(
    rds: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    emu = _emulator(rds.url)
    task = emu.create_task("story")
    assert emu.status("story", task.task_id, KEY).status_code == 200
    rds.kill()
    caplog.set_level(logging.WARNING, "mockcamb")
    calls = [
        lambda: emu.status("story", task.task_id, KEY),
        lambda: emu.status("story", "missing", KEY),
        lambda: emu.create("story", KEY, {"text": "hi", "voice_id": 1}),
        lambda: emu.result("story", "1", KEY),
        lambda: emu.create_task("story"),
        lambda: emu.tasks(),
        lambda: emu.journal(),
        lambda: emu.configure({"seed": 3}),
        lambda: emu.advance(5),
        lambda: emu.reset(),
        lambda: emu.task_count(),
    ]
    for call in calls * 3:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as info:
            call()
        assert time.monotonic() - started < PROMPT_S
        assert "is unavailable" in info.value.detail and info.value.retry_after >= 1
    assert len(_unavailable_lines(caplog)) == 1  # one line for the outage, not one a call


def test_a_stalled_redis_is_answered_after_the_timeout_then_recovers(
    rds: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    emu = _emulator(rds.url)
    task = emu.create_task("story", scenario={"steps": [{"status": "PENDING"}]})
    caplog.set_level(logging.WARNING, "mockcamb")
    rds.stall()
    try:
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                emu.status("story", task.task_id, KEY)
            assert 0.4 < time.monotonic() - started < PROMPT_S
    finally:
        rds.resume()
    assert emu.status("story", task.task_id, KEY).status_code == 200
    messages = [r.getMessage() for r in caplog.records]
    assert len(_unavailable_lines(caplog)) == 1
    assert sum("is back after" in m for m in messages) == 1, messages


def test_after_a_restart_with_data_no_thread_fails_again(rds: PrivateRedis) -> None:
    """Each thread's own connection (the poll's plain socket, redis-py's pool) is dead after
    the restart, and Redis has forgotten the scripts: the first call reconnects, reloads
    them and answers."""
    emu = _emulator(rds.url)
    emu.advance(100)
    task = emu.create_task("story", scenario={"steps": [{"status": "PENDING"}]})
    errors: list[BaseException] = []
    barrier = threading.Barrier(5)

    def worker() -> None:
        try:
            assert emu.status("story", task.task_id, KEY).status_code == 200
            barrier.wait(30)  # every thread has its own connection; now Redis restarts
            barrier.wait(30)
            for _ in range(3):
                assert emu.status("story", task.task_id, KEY).status_code == 200
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    barrier.wait(30)
    rds.restart()
    barrier.wait(30)
    for t in threads:
        t.join(60)
    assert errors == []
    assert emu.get_task("story", task.task_id).requests == 16  # type: ignore[union-attr]
    assert emu.clock.now() == 100.0
    assert emu.store.health()["state"] == "ok"


def test_back_from_an_older_snapshot_no_task_id_is_handed_out_again() -> None:
    rds = PrivateRedis(persist=False)
    try:
        emu = _emulator(rds.url)
        emu.create_task("story")
        store = emu.store
        assert isinstance(store, RedisStore)
        store.r.save()  # the snapshot Redis comes back with
        after = {emu.create_task("story").task_id for _ in range(3)}
        rds.kill()
        with pytest.raises(StoreUnavailable):
            emu.create_task("story")
        rds.start()
        again = {emu.create_task("story").task_id for _ in range(3)}
        assert not after & again
    finally:
        while _OPEN:
            _OPEN.pop().close()
        rds.close()


def test_back_empty_it_is_reseeded_and_says_so(
    rds: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    emu = _emulator(rds.url)
    emu.advance(100)
    old = emu.create_task("story")
    assert emu.status("story", old.task_id, KEY).status_code == 200
    caplog.set_level(logging.WARNING, "mockcamb")
    rds.restart(empty=True)
    reply = emu.status("story", old.task_id, KEY)  # the configured key is still accepted
    assert reply.status_code == 404
    assert "the store was lost at" in reply.body["detail"], reply.body
    assert emu.clock.now() == 100.0  # the manual clock resumes where this process saw it
    new = emu.create_task("story")
    assert new.task_id != old.task_id  # ids are never handed out again
    assert emu.status("story", new.task_id, KEY).status_code == 200
    assert emu.status("story", new.task_id, "wrong").status_code == 401
    health = emu.store.health()
    assert health["state"] == "recovered" and health["losses"] == 1
    assert health["lost_at"] and health["clock_resumed_at"] == 100.0
    assert sum("came back empty" in r.getMessage() for r in caplog.records) == 1
    twin = _twin(emu)  # another worker learns of the loss from Redis
    assert twin.store.health()["losses"] == 1


def test_a_second_serve_on_an_emptied_store_agrees_on_the_salt(rds: PrivateRedis) -> None:
    """Redis came back empty and a second process started on it (a new salt, its settings)
    before the first noticed: the first adopts the salt, and the configured key works on
    both; the first says the store was lost."""
    first = _emulator(rds.url)
    task = first.create_task("story")
    assert first.status("story", task.task_id, KEY).status_code == 200
    rds.restart(empty=True)
    store = first.store
    assert isinstance(store, RedisStore)
    second = Emulator(
        store=RedisStore(store.url, prefix=store.prefix, settings=Settings(api_keys={KEY}))
    )
    _OPEN.append(second)
    fresh = second.create_task("story", "made-by-the-second")
    for emu in (second, first):
        assert emu.status("story", fresh.task_id, KEY).status_code == 200
    assert "the store was lost" in first.status("story", task.task_id, KEY).body["detail"]
    assert first.store.health()["losses"] == 1


@pytest.mark.parametrize("first_noticed", [True, False])
def test_a_second_serve_after_a_flush_keeps_the_configured_key_working(
    rds: PrivateRedis, first_noticed: bool
) -> None:
    """Issue 17: the salt went with the data, and a second serve wrote a new one: the
    first then refused the configured key. Whichever process notices first, both agree."""
    first = _emulator(rds.url)
    task = first.create_task("story", "before")
    store = first.store
    assert isinstance(store, RedisStore)
    store.r.flushall()
    if first_noticed:
        assert first.status("story", task.task_id, KEY).status_code == 404
    second = Emulator(
        store=RedisStore(store.url, prefix=store.prefix, settings=Settings(api_keys={KEY}))
    )
    _OPEN.append(second)
    second.configure({"seed": 9})  # a settings change the first must see
    fresh = second.create_task("story", "after")
    for _ in range(2):
        for emu in (first, second):
            assert emu.status("story", fresh.task_id, KEY).status_code == 200
            assert emu.status("story", fresh.task_id, "wrong").status_code == 401
    assert first.settings.seed == 9


def test_a_task_created_after_another_worker_reset_the_store_can_be_polled(
    rds: PrivateRedis,
) -> None:
    """Issue 17: the scenario cache of a worker outlived the sc:<sid> keys another worker's
    reset deleted; the next task it created had no scenario in Redis (500 on every poll)."""
    a = _emulator(rds.url)
    b = _twin(a)
    scenario = {"steps": [{"status": "PENDING", "polls": 1}, {"status": "SUCCESS"}]}
    a.create_task("story", scenario=scenario)
    b.reset()
    task = a.create_task("story", scenario=scenario)
    assert [a.status("story", task.task_id, KEY).body["status"] for _ in range(2)] == [
        "PENDING",
        "SUCCESS",
    ]


def test_a_settings_change_between_the_two_calls_of_a_probability_poll_is_no_404(
    rds: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: with a probability fault the poll takes two script calls; settings changed
    by another worker between them made the second answer STALE, answered 404."""
    a = _emulator(rds.url)
    b = _twin(a)
    task = a.create_task("story", scenario=PROB)
    store = a.store
    assert isinstance(store, RedisStore)
    real_poll = store._poll
    seeds = iter(range(1000))

    def poll_then_change(args: list[Any]) -> list[Any]:
        out = real_poll(args)
        if out[0] == b"BEGIN":
            b.configure({"seed": next(seeds)})
        return out

    monkeypatch.setattr(store, "_poll", poll_then_change)
    codes = {a.status("story", task.task_id, KEY).status_code for _ in range(20)}
    assert codes <= {200, 500}, codes
    monkeypatch.undo()
    snap = a.snapshot(a.get_task("story", task.task_id))  # type: ignore[arg-type]
    assert snap["requests"] == 20  # each poll counted once


def test_polls_never_404_while_settings_change_every_10_ms(rds: PrivateRedis) -> None:
    a = _emulator(rds.url)
    b = _twin(a)
    task = a.create_task("story", scenario=PROB)
    stop = threading.Event()

    def churn() -> None:
        seed = 0
        while not stop.is_set():
            seed += 1
            b.configure({"seed": seed})
            time.sleep(0.01)

    t = threading.Thread(target=churn)
    t.start()
    try:
        deadline = time.monotonic() + 2
        codes: list[int] = []
        while time.monotonic() < deadline:
            codes.append(a.status("story", task.task_id, KEY).status_code)
    finally:
        stop.set()
        t.join(10)
    assert set(codes) <= {200, 500}, sorted(set(codes))


def test_a_redis_loading_its_data_is_unavailable_not_an_error() -> None:
    """A restarted Redis answers LOADING until its data is back: a store outage (503), not
    a script error (500 and a traceback), on the poll's own connection too."""
    redis = pytest.importorskip("redis")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_loading() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"-LOADING Redis is loading the dataset in memory\r\n")

    t = threading.Thread(target=answer_loading, daemon=True)
    t.start()
    client = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_timeout=5)
    script = RawScript(client, SimpleNamespace(sha="0" * 40, script="return 1"))
    try:
        with pytest.raises(redis.ConnectionError, match="LOADING"):
            script([b"x"])
    finally:
        script.close()
        client.close()
        listener.close()
        t.join(5)


def test_every_http_layer_answers_the_same_503(rds: PrivateRedis) -> None:
    """The loop app (ASGI), the WSGI fast path and the Flask views map the outage alike."""
    emu = _emulator(rds.url)
    emu.create_task("story", "t1")
    flask = create_app(emu)
    loop = LoopApp(flask, threads=2)
    rds.kill()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/apis/story/t1", "root_path": ""}
    scope["headers"] = [(b"x-api-key", KEY.encode())]
    asyncio.run(loop(scope, receive, send))
    on_loop = sent[0]["status"], dict(sent[0]["headers"]), json.loads(sent[1]["body"])
    client = flask.test_client()
    fast = client.get("/apis/story/t1", headers={"x-api-key": KEY})  # the WSGI fast path
    view = client.post("/__admin/tasks", json={"kind": "story"})  # a Flask view
    assert on_loop[0] == fast.status_code == view.status_code == 503
    assert on_loop[1][b"retry-after"] == fast.headers["Retry-After"].encode() == b"1"
    assert view.headers["Retry-After"] == "1"
    assert on_loop[2] == fast.json  # the same call, the same answer
    for body in (on_loop[2], view.json):
        assert list(body) == ["detail"] and "is unavailable" in body["detail"]
    assert loop.store_pool is not None
    loop.store_pool.shutdown()


# --- over HTTP, through mockcamb serve ------------------------------------------------


def _timed(method: str, url: str, **kwargs: Any) -> tuple[requests.Response, float]:
    started = time.monotonic()
    resp = requests.request(method, url, timeout=30, **kwargs)
    return resp, time.monotonic() - started


def _assert_503(resp: requests.Response, seconds: float) -> None:
    assert resp.status_code == 503, (resp.status_code, resp.text[:300])
    assert resp.headers["Content-Type"] == "application/json"
    assert int(resp.headers["Retry-After"]) >= 1
    assert "is unavailable" in resp.json()["detail"]
    assert seconds < PROMPT_S


def _requests_of_every_kind(root: str, task_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    h = {"x-api-key": KEY}
    return [
        ("GET", f"{root}/apis/project-setup/{task_id}", {"headers": h}),  # a status poll
        ("GET", f"{root}/apis/story/{task_id}", {"headers": h}),
        ("POST", f"{root}/apis/story", {"headers": h, **STORY}),
        ("GET", f"{root}/apis/story-result/1", {"headers": h}),
        ("GET", f"{root}/__admin/tasks", {}),
        ("PUT", f"{root}/__admin/settings", {"json": {"seed": 5}}),
        ("GET", f"{root}/__admin/health", {}),
    ]


def _stderr_after_stop(proc: Any) -> str:
    proc.terminate()
    proc.wait(20)
    return str(proc.stderr.read())


@pytest.mark.parametrize(
    "server", [["--server", "granian", "--workers", "2"], ["--server", "waitress"]]
)
def test_serve_answers_503_while_redis_is_down_and_recovers_by_itself(
    rds: PrivateRedis, server: list[str]
) -> None:
    store = f"{rds.url}?prefix=s-{uuid.uuid4().hex[:8]}:&socket_timeout=0.5"
    args = ["--store", store, "--api-key", KEY, "--clock", "manual", *server]
    with serve(*args) as (proc, root):
        h = {"x-api-key": KEY}
        created = requests.post(f"{root}/__admin/tasks", json={"kind": "story"}, timeout=30)
        task_id = created.json()["task_id"]
        for _ in range(4):  # every worker and thread opens its connections
            assert requests.get(f"{root}/apis/story/{task_id}", headers=h, timeout=30).ok
        rds.kill()
        calls = _requests_of_every_kind(root, task_id) * 4
        for method, url, kwargs in calls:
            _assert_503(*_timed(method, url, **kwargs))
        rds.start()  # with its data
        for _ in range(8):  # no worker's first request on an old connection fails
            resp = requests.get(f"{root}/apis/story/{task_id}", headers=h, timeout=30)
            assert resp.status_code == 200, resp.text
        health = requests.get(f"{root}/__admin/health", timeout=30).json()
        assert health["store"]["state"] == "ok"
        log = _stderr_after_stop(proc)
    assert "Traceback" not in log and "internal error" not in log, log[-3000:]
    workers = 2 if "2" in server else 1
    down = log.count("is unavailable (")
    assert 1 <= down <= workers, log  # one line per outage in each process, not per request
    assert 1 <= log.count("is back after") <= workers, log


def test_serve_answers_503_promptly_while_redis_is_stalled(rds: PrivateRedis) -> None:
    store = f"{rds.url}?prefix=s-{uuid.uuid4().hex[:8]}:&socket_timeout=0.5"
    with serve("--store", store, "--api-key", KEY, "--workers", "2") as (proc, root):
        h = {"x-api-key": KEY}
        task_id = requests.post(f"{root}/__admin/tasks", json={"kind": "story"}, timeout=30)
        url = f"{root}/apis/story/{task_id.json()['task_id']}"
        assert requests.get(url, headers=h, timeout=30).ok
        rds.stall()
        try:
            for method, call_url, kwargs in _requests_of_every_kind(root, "x")[:4]:
                resp, seconds = _timed(method, call_url, **kwargs)
                _assert_503(resp, seconds)
            resp, seconds = _timed("GET", url, headers=h)
            _assert_503(resp, seconds)
        finally:
            rds.resume()
        deadline = time.monotonic() + 10
        while requests.get(url, headers=h, timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "no recovery after SIGCONT"
            time.sleep(0.1)
        log = _stderr_after_stop(proc)
    assert "Traceback" not in log, log[-3000:]


def test_serve_on_a_redis_back_empty_reseeds_and_names_the_loss(rds: PrivateRedis) -> None:
    store = f"{rds.url}?prefix=s-{uuid.uuid4().hex[:8]}:"
    with serve("--store", store, "--api-key", KEY, "--clock", "manual") as (proc, root):
        h = {"x-api-key": KEY}
        old = requests.post(f"{root}/__admin/tasks", json={"kind": "story"}, timeout=30)
        old_id = old.json()["task_id"]
        requests.post(f"{root}/__admin/clock/advance", json={"seconds": 100}, timeout=30)
        assert requests.get(f"{root}/apis/story/{old_id}", headers=h, timeout=30).ok
        rds.restart(empty=True)
        gone = requests.get(f"{root}/apis/story/{old_id}", headers=h, timeout=30)
        assert gone.status_code == 404 and "the store was lost at" in gone.json()["detail"]
        assert requests.get(f"{root}/__admin/clock", timeout=30).json()["now"] == 100.0
        health = requests.get(f"{root}/__admin/health", timeout=30).json()
        assert health["store"]["state"] == "recovered" and health["store"]["losses"] == 1
        new = requests.post(f"{root}/apis/story", headers=h, timeout=30, **STORY)
        assert new.status_code == 200, new.text
        polled = requests.get(f"{root}/apis/story/{new.json()['task_id']}", headers=h, timeout=30)
        assert polled.status_code == 200, polled.text
        log = _stderr_after_stop(proc)
    assert log.count("came back empty") == 1, log
    assert re.search(r"lost at \d{4}-\d\d-\d\dT", log), log
    assert json.dumps(KEY) not in log and KEY not in log


# --- a task whose scenario key is gone ------------------------------------------------

FINISHES = {"steps": [{"status": "PENDING", "polls": 1}, {"status": "SUCCESS"}]}
MINE = {"steps": [{"status": "PENDING", "polls": 3}, {"status": "SUCCESS"}]}


def _drop_scenarios(store: Any) -> int:
    """DEL every sc:<sid> key of the store's prefix, as a reset racing a create or a hand
    at redis-cli would; how many there were."""
    keys = list(store.r.scan_iter(match=store.prefix + "sc:*"))
    assert keys
    return int(store.r.delete(*keys))


def test_a_task_whose_scenario_key_is_gone_is_repaired_by_a_worker_that_knows_it(
    rds: PrivateRedis,
) -> None:
    """poll.lua decoded a missing plan: a script error (500) on every poll, admin read and
    listing. A worker that knows the scenario writes it again and answers."""
    a = _emulator(rds.url)
    task = a.create_task(
        "story", scenario={"steps": [{"status": "PENDING", "polls": 2}, {"status": "SUCCESS"}]}
    )
    assert a.status("story", task.task_id, KEY).body["status"] == "PENDING"
    _drop_scenarios(a.store)
    snap = a.snapshot(a.get_task("story", task.task_id))  # type: ignore[arg-type]  # 'view'
    assert snap["status"] == "PENDING" and snap["requests"] == 1
    _drop_scenarios(a.store)
    reply = a.status("story", task.task_id, KEY)
    assert reply.status_code == 200 and reply.body["status"] == "PENDING", reply.body
    _drop_scenarios(a.store)
    assert [t["requests"] for t in a.tasks()] == [2]  # counted once each, not on retry
    _drop_scenarios(a.store)
    reply = a.status("story", task.task_id, KEY)
    assert reply.status_code == 200 and reply.body["status"] == "SUCCESS", reply.body
    _drop_scenarios(a.store)
    run_id = str(reply.body["run_id"])
    assert a.result("story", run_id, KEY).status_code == 200


def test_a_task_whose_scenario_key_is_gone_and_unknown_is_a_404_naming_why(
    rds: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """Another worker (which never saw the scenario) answers the task as gone, with the
    likely cause, and forgets it: the id can be created again."""
    a = _emulator(rds.url)
    polled, viewed, listed = (a.create_task("story", scenario=FINISHES) for _ in range(3))
    _drop_scenarios(a.store)
    b = _twin(a)
    reply = b.status("story", polled.task_id, KEY)
    assert reply.status_code == 404, reply.body
    assert "POST /__admin/reset" in reply.body["detail"], reply.body
    assert f"No story task with id {polled.task_id!r}: its scenario" in reply.body["detail"]
    again = b.status("story", polled.task_id, KEY)
    assert again.status_code == 404 and "scenario" not in again.body["detail"]  # forgotten
    assert b.create_task("story", polled.task_id).task_id == polled.task_id
    with pytest.raises(TaskGone, match="POST /__admin/reset"):
        b.get_task("story", viewed.task_id)
    assert [t["task_id"] for t in b.tasks()] == [polled.task_id]  # listed: skipped, forgotten
    assert b.get_task("story", listed.task_id) is None
    assert sum("without its scenario" in r.getMessage() for r in caplog.records) == 3


def test_a_result_whose_task_lost_its_scenario_is_a_404_naming_why(rds: PrivateRedis) -> None:
    """The result route names the cause; bulk results leave the run out, as one that did not
    finish, and answer the others."""
    a = _emulator(rds.url)
    done = {"steps": [{"status": "SUCCESS"}]}
    first, second = (a.create_task("story", scenario=done) for _ in range(2))
    run_ids = [a.status("story", t.task_id, KEY).body["run_id"] for t in (first, second)]
    _drop_scenarios(a.store)
    b = _twin(a)
    reply = b.result("story", str(run_ids[0]), KEY)
    assert reply.status_code == 404 and "POST /__admin/reset" in reply.body["detail"], reply.body
    c = _twin(a)  # knows the scenario of its own task only, and writes it again
    kept = c.create_task("story", scenario={"steps": [{"status": "SUCCESS", "message": "ok"}]})
    run_ids.append(c.status("story", kept.task_id, KEY).body["run_id"])
    _drop_scenarios(a.store)
    bulk = c.bulk_results("story", KEY, {"run_ids": run_ids})
    assert bulk.status_code == 200 and list(bulk.body) == [str(run_ids[2])], bulk.body


def test_serve_answers_a_task_whose_scenario_key_is_gone_never_500(rds: PrivateRedis) -> None:
    """Over real HTTP: tasks created by another process (its scenario unknown to serve) are
    404s naming the cause, on the status, admin and result routes; a task serve created
    itself is repaired and answered."""
    store = f"{rds.url}?prefix=s-{uuid.uuid4().hex[:8]}:"
    h = {"x-api-key": KEY}
    with serve("--store", store, "--api-key", KEY, "--clock", "manual") as (proc, root):
        other = Emulator(store=RedisStore(store))
        _OPEN.append(other)
        polled, viewed, done = (other.create_task("story", scenario=FINISHES) for _ in range(3))
        other.status("story", done.task_id, KEY)
        run_id = other.status("story", done.task_id, KEY).body["run_id"]
        # another scenario than FINISHES (known to serve, sc: keys are content addresses)
        mine = requests.post(
            f"{root}/__admin/tasks", json={"kind": "story", "scenario": MINE}, timeout=30
        ).json()["task_id"]
        _drop_scenarios(other.store)
        answers = [
            requests.get(f"{root}/apis/story/{polled.task_id}", headers=h, timeout=30),
            requests.get(f"{root}/__admin/tasks/story/{viewed.task_id}", timeout=30),
            requests.get(f"{root}/apis/story-result/{run_id}", headers=h, timeout=30),
        ]
        for resp in answers:
            assert resp.status_code == 404, (resp.status_code, resp.text[:300])
            assert "POST /__admin/reset" in resp.json()["detail"], resp.text
        listed = requests.get(f"{root}/__admin/tasks", timeout=30).json()["tasks"]
        assert [t["task_id"] for t in listed] == [mine]  # the three are forgotten
        resp = requests.get(f"{root}/apis/story/{mine}", headers=h, timeout=30)
        assert resp.status_code == 200 and resp.json()["status"] == "PENDING", resp.text
        log = _stderr_after_stop(proc)
    assert "Traceback" not in log and "internal error" not in log, log[-3000:]
