"""The Redis store: the same state machine as in memory, shared exactly by several emulators
("workers") on one Redis: poll counts, clock, journal, settings, reset. Runs against a real
redis-server started for the test run (skipped, saying so, where it cannot be installed)."""

from __future__ import annotations

import inspect
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import test_emulator
from _redis import redis_url

from mockcamb.core.emulator import Emulator
from mockcamb.core.errors import ConfigError
from mockcamb.core.settings import Settings
from mockcamb.stores.memory import MemoryStore
from mockcamb.stores.redis.store import RedisStore, parse_store_url

KEY = "k"
# Every single-emulator test of the in-memory core, run again on Redis. The reset test
# compares clear API keys, which a shared store keeps only as digests: see test_reset below.
NOT_SHARED = {"test_reset_forgets_tasks_journal_and_clock"}
CORE_TESTS = sorted(
    name
    for name, fn in vars(test_emulator).items()
    if name.startswith("test_")
    and callable(fn)
    and list(inspect.signature(fn).parameters) == ["emu"]
    and name not in NOT_SHARED
)

MakeStore = Callable[..., RedisStore]


@pytest.fixture
def make_store() -> Iterator[MakeStore]:
    """Stores on one fresh prefix: each is one "worker" of the same emulated service."""
    url = f"{redis_url()}?prefix=test-{uuid.uuid4().hex[:12]}:"
    stores: list[RedisStore] = []

    def make(**kwargs: Any) -> RedisStore:
        store = RedisStore(url, **kwargs)
        stores.append(store)
        return store

    yield make
    if stores:
        stores[0].reset()
        stores[0].r.delete(*[stores[0].prefix + k for k in ("settings", "settings:v", "salt")])
        stores[0].r.delete(stores[0].prefix + "clock")
    for store in stores:
        store.close()


@pytest.fixture
def pair(make_store: MakeStore) -> tuple[Emulator, Emulator]:
    return Emulator(store=make_store()), Emulator(store=make_store())


@pytest.mark.parametrize("name", CORE_TESTS)
def test_same_behaviour_as_in_memory(make_store: MakeStore, name: str) -> None:
    getattr(test_emulator, name)(Emulator(store=make_store()))


@pytest.mark.parametrize("ftype", ["non_json", "empty_body", "truncated_json", "drop_connection"])
def test_body_faults(make_store: MakeStore, ftype: str) -> None:
    emu = Emulator(store=make_store())
    cases = dict(test_emulator.test_body_faults.pytestmark[0].args[1])  # type: ignore[attr-defined]
    test_emulator.test_body_faults(emu, ftype, cases[ftype])


def test_probability_faults_replay_exactly_like_in_memory(make_store: MakeStore) -> None:
    doc = {"steps": [{"status": "PENDING"}], "faults": [{"probability": 0.3, "http_status": 500}]}

    def run(emu: Emulator) -> list[int]:
        emu.create_task("story", "t", doc)
        return [emu.status("story", "t", KEY).status_code for _ in range(60)]

    in_memory = run(Emulator(Settings(seed=1)))
    assert run(Emulator(Settings(seed=1), store=make_store())) == in_memory
    assert 5 < in_memory.count(500) < 40


def test_generated_ids_and_run_ids_come_from_shared_counters(
    pair: tuple[Emulator, Emulator],
) -> None:
    a, b = pair
    ids = [a.create_task("story", None, "instant_success").task_id for _ in range(3)]
    ids += [b.create_task("story", None, "instant_success").task_id for _ in range(3)]
    assert len(set(ids)) == 6 and all(len(i) == 36 for i in ids)
    runs = {(a if i % 2 else b).status("story", t, KEY).body["run_id"] for i, t in enumerate(ids)}
    assert runs == set(range(1000, 1006))
    assert b.result("story", "1000", KEY).status_code == 200


def test_two_workers_share_one_task_with_exact_poll_counts(
    pair: tuple[Emulator, Emulator],
) -> None:
    a, b = pair
    pending = 150
    a.create_task(
        "story",
        "x",
        {
            "steps": [{"status": "PENDING", "polls": pending}, {"status": "SUCCESS"}],
            "faults": [{"poll": [3, 50, 51], "http_status": 503}],
        },
    )
    seen: Counter[Any] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def worker(emu: Emulator) -> None:
        local: Counter[Any] = Counter()
        try:
            start.wait()
            for _ in range(25):
                r = emu.status("story", "x", KEY)
                local[r.body["status"] if r.status_code == 200 else r.status_code] += 1
        except BaseException as exc:  # reported below
            errors.append(exc)
        with lock:
            seen.update(local)

    threads = [threading.Thread(target=worker, args=(e,)) for e in (a, b) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert seen == {"PENDING": pending, 503: 3, "SUCCESS": 16 * 25 - pending - 3}
    snap = b.snapshot(a.get_task("story", "x"))  # type: ignore[arg-type]
    assert snap["requests"] == 400 and snap["polls_answered"] == 397
    assert len(a.journal()) == 400 and {e["seq"] for e in b.journal()} == set(range(1, 401))


def test_probability_faults_count_exactly_across_workers(pair: tuple[Emulator, Emulator]) -> None:
    a, b = pair
    a.create_task(
        "project-setup",
        "p",
        {
            "steps": [{"status": "PENDING", "polls": 40}, {"status": "SUCCESS"}],
            "faults": [{"probability": 0.3, "http_status": 503}],
        },
    )
    answered: list[str] = []
    lock = threading.Lock()

    def worker(emu: Emulator) -> None:
        for _ in range(20):
            r = emu.status("project-setup", "p", KEY)
            if r.status_code == 200:
                with lock:
                    answered.append(r.body["status"])

    threads = [threading.Thread(target=worker, args=(e,)) for e in (a, b) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answered.count("PENDING") == 40
    task = b.get_task("project-setup", "p")
    assert task is not None and task.requests == 160 and task.answered == len(answered)


def test_the_clock_is_shared(make_store: MakeStore) -> None:
    a = Emulator(store=make_store())
    b = Emulator(store=make_store())
    a.create_task("story", "slow", "slow_success")
    assert b.advance(59.5) == 59.5 and a.clock.now() == 59.5
    assert b.status("story", "slow", KEY).body["status"] == "PENDING"
    a.advance(0.5)
    assert b.status("story", "slow", KEY).body["status"] == "SUCCESS"
    with pytest.raises(ConfigError, match="seconds"):
        a.advance(-1)


def test_the_real_clock_is_shared_and_scaled(make_store: MakeStore) -> None:
    a = make_store(clock="real", time_scale=1000.0)
    b = make_store(clock="real", time_scale=1000.0)
    t1 = a.clock.now()
    t2 = b.clock.now()
    t3 = a.clock.now()
    assert 0 <= t1 <= t2 <= t3 < 60_000  # one origin in Redis, sped up 1000x
    b.clock.advance(10_000)
    assert a.clock.now() >= t3 + 10_000
    a.clock.reset()
    assert b.clock.now() < 10_000


def test_journal_is_shared_capped_and_cleared_by_any_worker(
    pair: tuple[Emulator, Emulator],
) -> None:
    a, b = pair
    a.configure({"journal_size": 5})
    a.create_task("story", "t", "never_finishes")
    for i in range(8):
        (a if i % 2 else b).status("story", "t", "sekrit", headers=[("X-Api-Key", "sekrit")])
    entries = b.journal()
    assert [e["seq"] for e in entries] == [4, 5, 6, 7, 8]
    assert [e["request"] for e in entries] == [4, 5, 6, 7, 8]
    assert "sekrit" not in repr(entries) and entries[0]["headers"]["x-api-key"] == "[redacted]"
    b.clear_journal()
    assert a.journal() == []


def test_settings_changed_on_one_worker_apply_on_the_other_at_once(
    pair: tuple[Emulator, Emulator],
) -> None:
    a, b = pair
    b.create_task("story", "t")
    assert b.status("story", "t", "any").status_code == 200
    a.configure({"api_keys": ["good"], "unknown_task": "auto"})
    assert b.status("story", "t", "any").status_code == 401  # the very next request
    assert b.status("story", "t", "good").status_code == 200
    assert b.status("story", "new-one", "good").status_code == 200
    assert b.settings.unknown_task == "auto" and b.settings.to_dict()["api_keys"] == {"count": 1}
    a.configure({"api_keys": None})
    assert b.status("story", "t", "any").status_code == 200


def test_api_keys_are_never_stored_in_clear(make_store: MakeStore) -> None:
    store = make_store()
    emu = Emulator(store=store)
    emu.configure({"api_keys": ["sekrit-key-1"]})
    emu.create_task("story", "t")
    emu.status("story", "t", "sekrit-key-1", headers=[("x-api-key", "sekrit-key-1")])
    emu.status("story", "t", "sekrit-key-2")
    dump = b"".join(store.r.dump(k) or b"" for k in store.r.scan_iter(match=store.prefix + "*"))
    assert b"sekrit" not in dump
    assert emu.status("story", "t", "sekrit-key-1").status_code == 200


def test_reset_forgets_tasks_journal_counters_and_clock_on_every_worker(
    pair: tuple[Emulator, Emulator],
) -> None:
    a, b = pair
    a.configure({"api_keys": ["k"], "unknown_task": "auto"})
    a.create_task("story", "t", "instant_success")
    run_id = a.status("story", "t", KEY).body["run_id"]
    a.advance(10)
    b.reset()
    assert a.task_count() == 0 and a.journal() == [] and a.clock.now() == 0
    assert a.result("story", str(run_id), KEY).status_code == 404
    assert a.settings.unknown_task == "auto" and a.status("story", "t", "bad").status_code == 401
    # after the reset the other worker auto-creates again, and run ids start over
    assert a.status("story", "t2", KEY).body["status"] == "PENDING"
    b.create_task("story", "u", "instant_success")
    assert a.status("story", "u", KEY).body["run_id"] == 1000


def test_prefixes_keep_emulators_apart(make_store: MakeStore) -> None:
    one = Emulator(store=make_store())
    other = RedisStore(f"{redis_url()}?prefix=other-{uuid.uuid4().hex[:8]}:")
    try:
        one.create_task("story", "t")
        assert Emulator(store=other).get_task("story", "t") is None
    finally:
        other.reset()
        other.close()


def test_memory_store_is_the_default() -> None:
    assert isinstance(Emulator().store, MemoryStore)


def test_store_urls() -> None:
    assert parse_store_url("redis://h:1/2?prefix=x:") == ("redis://h:1/2", "x:")
    assert parse_store_url("redis://h:1/2")[1] == "mockcamb:"
    with pytest.raises(ConfigError, match="--store"):
        parse_store_url("http://h:1")
    with pytest.raises(ConfigError, match="cannot reach Redis"):
        RedisStore("redis://127.0.0.1:1/0")


def test_a_second_preload_of_the_same_config_keeps_the_shared_tasks(
    pair: tuple[Emulator, Emulator],
) -> None:
    from mockcamb.core.config import preload

    first, second = pair
    config = {"tasks": [{"kind": "story", "task_id": "preloaded", "scenario": "happy_path"}]}
    preload(first, config)
    first.status("story", "preloaded", "k")
    preload(second, config)  # a restarted worker or a second host: no "exists already"
    task = second.get_task("story", "preloaded")
    assert task is not None and task.requests == 1
