"""The Redis store's Lua mirror of the state machine against the Python original: generated
lives (poll- and time-driven steps, faults by number, by clock time and by probability, clock
steps, finished TTLs, eviction, auto-created tasks, settings changes, resets) run through one
emulator on a MemoryStore and one on a RedisStore (a real redis-server, see _redis.py);
every answer, every journal entry (but its wall time) and every task's admin view must agree."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pytest
from _redis import redis_url
from hypothesis import example, given
from hypothesis import strategies as st
from test_fuzz import fuzz_settings

from mockcamb.core.clock import ManualClock
from mockcamb.core.emulator import Emulator
from mockcamb.core.errors import MockCambError
from mockcamb.core.replies import Reply
from mockcamb.core.settings import Settings
from mockcamb.core.statuses import FAILURE_STATUSES, PENDING, SUCCESS
from mockcamb.stores.redis import scripts
from mockcamb.stores.redis.store import RedisStore
from mockcamb.strategies import faults, latencies

KINDS = ("story", "project-setup")
TASK_IDS = ("a", "b", "c", "bad/id")  # the last may never be auto-created
KEYS = ("k", "wrong", "")
RUNNING = (PENDING, "PROCESSING", "QUEUED")
LAST = (SUCCESS, SUCCESS, SUCCESS, *FAILURE_STATUSES, *RUNNING)
TICKS = (0.5, 1, 0.5, 1, 11)  # step lengths are the first two
Op = tuple[Any, ...]
Doc = dict[str, Any]


@st.composite
def lives(draw: st.DrawFn, *, faulty: bool = True, most_steps: int = 3) -> dict[str, Any]:
    """A scenario document: running steps held for polls or seconds, then a last step (final
    or not); run ids on any step; with ``faulty``, faults by number and by probability and
    sometimes latency. Small numbers, so that lives meet their edges: a step ending on the
    clock's very tick, faults of the scenario and of the settings on one request..."""
    n = draw(st.integers(1, most_steps))
    statuses = [draw(st.sampled_from(RUNNING)) for _ in range(n - 1)]
    statuses.append(draw(st.sampled_from(LAST)))
    steps: list[dict[str, Any]] = []
    for i, status in enumerate(statuses):
        step: dict[str, Any] = {"status": status}
        if i < n - 1:
            if draw(st.booleans()):
                step["polls"] = draw(st.integers(1, 2))
            else:
                step["seconds"] = draw(st.sampled_from(TICKS[:2]))
        if draw(st.integers(0, 3)) == 0:
            step["run_id"] = draw(st.integers(0, 2**53))
        if draw(st.integers(0, 5)) == 0:
            step["message"] = draw(st.sampled_from(["almost", "née/ü", ""]))
        steps.append(step)
    doc: dict[str, Any] = {"steps": steps}
    if faulty:
        doc["faults"] = draw(st.lists(faults(max_poll=4, timed=True), max_size=2))
        if draw(st.integers(0, 3)) == 0:
            doc["latency"] = draw(latencies())
    if draw(st.booleans()):
        doc["seed"] = draw(st.integers(0, 2**31))
    return doc


def setting_docs(
    *, start: bool = False, faulty: bool = True, bounds_only: bool = False
) -> st.SearchStrategy[Doc]:
    """A partial settings document, as PUT /__admin/settings takes it; to ``start`` a life,
    one that sets the bounds and the unknown-task policy; or one of those only."""
    bounds: dict[str, st.SearchStrategy[Any]] = {
        "unknown_task": st.sampled_from(["404", "auto"]),
        "journal_size": st.sampled_from([10_000, 3, 0]),
        "max_tasks": st.sampled_from([1, 2, 3, 200_000]),
        "finished_ttl": st.sampled_from([None, 0, 1, 10]),
        "history_limit": st.sampled_from([50, 2, 0]),
    }
    others: dict[str, st.SearchStrategy[Any]] = {
        "default_scenario": lives(faulty=faulty),
        "seed": st.integers(-(2**40), 2**40),
        "api_keys": st.sampled_from([None, ["k"]]),
    }
    if faulty:
        others["faults"] = st.lists(faults(max_poll=4, timed=True), max_size=2)
        others["latency"] = st.none() | latencies()
    if bounds_only:
        return st.fixed_dictionaries({}, optional=bounds)
    if start:
        return st.fixed_dictionaries(bounds, optional=others)
    return st.fixed_dictionaries({}, optional={**bounds, **others})


def ops(faulty: bool) -> list[st.SearchStrategy[Op]]:
    """The steps of a life: requests, clock steps, admin operations."""
    kind = st.sampled_from(KINDS)
    key = st.sampled_from(KEYS)
    polled = st.one_of(st.sampled_from(TASK_IDS), st.integers(0, 5))  # int: a POSTed task
    return [
        st.tuples(st.just("status"), kind, polled, key, st.sampled_from(["GET", "HEAD"])),
        st.tuples(st.just("create_task"), kind, st.sampled_from("abc"), lives(faulty=faulty)),
        st.tuples(st.just("post"), kind, key),
        st.tuples(st.just("result"), kind, st.sampled_from(["1000", "1001", "1002", "7"]), key),
        st.tuples(st.just("result_of"), kind, st.integers(0, 5)),
        st.tuples(st.just("configure"), setting_docs(faulty=faulty)),
        st.tuples(st.just("reset")),
    ]


def steps_of_a_life(
    *, faulty: bool, most_steps: int, ticks: int = 4, changes: int = 0
) -> st.SearchStrategy[list[Op]]:
    """Most lives create the tasks a and b first; then polls of a, b and c are most of the
    steps, then clock steps (``ticks`` in twenty) and new tasks, each other step one in
    twenty or so; ``changes`` in twenty more change the bounds in the settings."""
    scenario = lives(faulty=faulty, most_steps=most_steps)
    create = st.tuples(st.just("create_task"), st.just("story"), st.sampled_from("abc"), scenario)
    poll = st.tuples(st.just("status"), st.just("story"), st.sampled_from("aabbc"), st.just("k"))
    tick = st.tuples(st.just("advance"), st.sampled_from(TICKS))
    bounds = st.tuples(st.just("configure"), setting_docs(faulty=False, bounds_only=True))
    weighted = [*[poll.map(lambda t: (*t, "GET"))] * 7, *[tick] * ticks, *[create] * 2]
    weighted += [*[bounds] * changes, *ops(faulty)]
    step = st.sampled_from(weighted).flatmap(lambda s: s)
    first = st.lists(create, max_size=2)
    rest = st.integers(5, 60).flatmap(lambda n: st.lists(step, min_size=n, max_size=n))
    return st.builds(lambda a, b: a + b, first, rest)


@pytest.fixture(scope="module")
def store() -> Iterator[RedisStore]:
    """One RedisStore under a fresh prefix for the module; each life starts it afresh."""
    store = RedisStore(f"{redis_url()}?prefix=diff-{uuid.uuid4().hex[:12]}:", clock="manual")
    yield store
    store.reset()
    store.r.delete(*[store.prefix + k for k in ("settings", "settings:v", "salt", "clock")])
    store.close()


def _reply(r: Reply) -> tuple[Any, ...]:
    return astuple(r)


def _journal(emu: Emulator) -> list[list[tuple[str, Any]]]:
    return [[(k, v) for k, v in e.items() if k != "wall"] for e in emu.journal()]


class Life:
    """One emulator and what it was asked to remember (the ids its POSTs returned)."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.posted: list[str] = []

    def _task_id(self, polled: str | int) -> str:
        if isinstance(polled, str):
            return polled
        return self.posted[polled % len(self.posted)] if self.posted else "none-posted"

    def _run_id(self, kind: str, i: int) -> str:
        runs = [t["run_id"] for t in self.emu.tasks(kind) if t["run_id"] is not None]
        return str(runs[i % len(runs)]) if runs else "1000"

    def do(self, op: Op) -> Any:
        """Apply ``op``; what it answered (a reply, a value or the error it raised)."""
        emu, name = self.emu, op[0]
        try:
            if name == "status":
                _, kind, polled, key, method = op
                return _reply(emu.status(kind, self._task_id(polled), key, method=method))
            if name == "post":
                _, kind, key = op
                fields: dict[str, Any] = {"source_language": 1}
                if kind == "project-setup":
                    fields.update(media_url="https://example.com/a.mp4", target_languages=[76])
                reply = emu.create(kind, key, fields, has_file=True)
                if reply.status_code == 200:
                    self.posted.append(reply.body["task_id"])
                return _reply(reply)
            if name == "result":
                return _reply(emu.result(op[1], op[2], op[3]))
            if name == "result_of":
                return _reply(emu.result(op[1], self._run_id(op[1], op[2]), "k"))
            if name == "advance":
                return emu.advance(op[1])
            if name == "create_task":
                return emu.snapshot(emu.create_task(op[1], op[2], op[3]))
            if name == "configure":
                return emu.configure(op[1]).to_dict()
            emu.reset()
            self.posted.clear()
            return None
        except MockCambError as exc:
            return f"{type(exc).__name__}: {exc}"

    def view(self) -> Any:
        emu = self.emu
        return emu.clock.now(), emu.task_count(), emu.tasks(), _journal(emu)


def unbounded(settings: Doc) -> Doc:
    return {**settings, "max_tasks": 200_000, "finished_ttl": None}


def run_both(store: RedisStore, start: Doc, steps: list[Op]) -> None:
    """Run one life on a MemoryStore and on ``store`` (made new: default settings, no
    state); stop at the first answer or view that differs."""
    store.set_settings(Settings())
    store.reset()
    memory, shared = Life(Emulator(clock=ManualClock())), Life(Emulator(store=store))
    for life in (memory, shared):
        life.emu.configure(start)
    for i, op in enumerate(steps):
        got = memory.do(op), shared.do(op)
        assert got[0] == got[1], f"step {i} {op!r}: memory {got[0]!r} != redis {got[1]!r}"
        view = memory.view(), shared.view()
        assert view[0] == view[1], f"after step {i} {op!r}"


def _poll(task_id: str) -> Op:
    return ("status", "story", task_id, "k", "GET")


def _create(task_id: str, *steps: Doc, **more: Any) -> Op:
    return ("create_task", "story", task_id, {"steps": list(steps), **more})


# The edges where the Lua mirror once answered otherwise than the Python original.
RUNNING_RUN_ID = [_create("a", {"status": PENDING, "run_id": 7}), _poll("a")]
FAULT_ORDER = [
    ("configure", {"faults": [{"poll": 1, "type": "empty_body"}]}),
    _create("a", {"status": PENDING}, faults=[{"poll": 1, "http_status": 429}]),
    _poll("a"),
]
SAME_TICK = [_poll("b"), _poll("a"), _poll("c")]  # both finished at 0: b goes first
ON_THE_TICK = [_create("a", {"status": PENDING, "seconds": 0.5}, {"status": SUCCESS})]
ON_THE_TICK += [("advance", 0.5), _poll("a")]
TIMED_FAULTS = [
    ("configure", {"faults": [{"seconds": [[0.5, 1], [11, None]], "type": "empty_body"}]}),
    _create("a", {"status": PENDING, "seconds": 1}, {"status": SUCCESS}),
    _create("b", {"status": PENDING}, faults=[{"seconds": [0, 0.5], "http_status": 429}]),
    *[op for t in (0.5, 0.5, 11) for op in (_poll("a"), _poll("b"), ("advance", t))],
    _poll("a"),
    _poll("b"),
]
TTL_ZERO = [_create("a", {"status": SUCCESS}), _poll("a"), _poll("a"), _poll("a")]
AUTO_SUCCESS = {"unknown_task": "auto", "default_scenario": {"steps": [{"status": SUCCESS}]}}


@fuzz_settings(1)
@given(setting_docs(start=True), steps_of_a_life(faulty=True, most_steps=3))
@example({}, RUNNING_RUN_ID)
@example({}, FAULT_ORDER)
@example({}, TIMED_FAULTS)
@example({"finished_ttl": 0}, TTL_ZERO)
def test_any_life_is_answered_alike(store: RedisStore, start: Doc, steps: list[Op]) -> None:
    run_both(store, start, steps)


@fuzz_settings(1)
@given(
    setting_docs(start=True, faulty=False).map(unbounded),
    steps_of_a_life(faulty=False, most_steps=3),
)
@example({}, ON_THE_TICK)
def test_lives_on_the_clock_are_answered_alike(
    store: RedisStore, start: Doc, steps: list[Op]
) -> None:
    """No faults and no eviction: every poll shows its status, so each step's end is seen."""
    run_both(store, start, steps)


@fuzz_settings(1)
@given(
    setting_docs(start=True, faulty=False).map(lambda d: {**d, "max_tasks": 2}),
    steps_of_a_life(faulty=False, most_steps=1, ticks=1),
)
@example({**AUTO_SUCCESS, "max_tasks": 2}, SAME_TICK)
def test_lives_at_the_bounds_are_answered_alike(
    store: RedisStore, start: Doc, steps: list[Op]
) -> None:
    """One-step lives that finish on their first poll, two task slots, few clock steps:
    eviction and expiry order with tasks that finish on the same tick."""
    run_both(store, start, steps)


@fuzz_settings(1)
@given(
    setting_docs(start=True, faulty=False), steps_of_a_life(faulty=False, most_steps=3, changes=4)
)
def test_lives_whose_bounds_change_are_answered_alike(
    store: RedisStore, start: Doc, steps: list[Op]
) -> None:
    """The journal, history and task bounds changed while tasks live."""
    run_both(store, start, steps)


def test_the_poll_script_names_its_arguments_as_python_sends_them() -> None:
    text = (Path(scripts.__file__).parent / "poll.lua").read_text()
    found = re.search(r"^local (prefix,.*?) = unpack\(ARGV\)", text, re.S | re.M)
    assert found is not None, "poll.lua must name its ARGV in one `local ... = unpack(ARGV)`"
    names = tuple(n.strip() for n in found.group(1).split(","))
    assert names == scripts.POLL_ARGV


def test_the_lua_reads_the_task_fields_python_documents() -> None:
    text = (Path(scripts.__file__).parent / "poll.lua").read_text()
    found = re.search(r"^local FIELDS = \{(.*?)\}", text, re.M)
    assert found is not None
    lua = [f.strip().strip("'") for f in found.group(1).split(",")]
    assert set(lua) == set(scripts.TASK_FIELDS) - {"rq"}  # rq is counted apart (HINCRBY)


def test_journals_bounded_by_bytes_are_alike(store: RedisStore) -> None:
    """Entries of every size (poll.lua's and Python's, dropped ones, hinted 404s, headers cut
    and left out) under a byte budget that binds: both stores keep the same entries, and a
    smaller budget or size trims both alike."""
    store.set_settings(Settings())
    store.reset()
    emus = [Emulator(clock=ManualClock()), Emulator(store=store)]
    drop = {"steps": [{"status": PENDING}], "faults": [{"poll": 2, "type": "drop_connection"}]}
    start = {"unknown_task": "auto", "journal_bytes": 65_536, "api_keys": ["k", "sekrit-key"]}
    for emu in emus:
        emu.configure(start)
        emu.create_task("story", "d", drop)
    for i in range(90):
        hdrs = [(f"x-h{j}", "v" * (i * 37 % 400)) for j in range(i % 45)] + [("api_key", "k")]
        for emu in emus:
            emu.status("story", f"t{i % 7}", "k", headers=hdrs)
            emu.status("story", "d", "k", headers=hdrs[:3])
            emu.status("story", "undefined" if i % 2 else "sekrit-key", "k", headers=hdrs)
            emu.unknown_route("GET", f"/apis/transcription/{i}", "k", hdrs)
    assert _journal(emus[0]) == _journal(emus[1])
    assert 20 < len(emus[0].journal()) < 360
    for change in ({"journal_size": 40}, {"journal_size": 5}, {"journal_size": 0}):
        for emu in emus:
            emu.configure(change)
        assert _journal(emus[0]) == _journal(emus[1]), change


def test_journal_pages_are_cut_alike(store: RedisStore) -> None:
    """The Redis store finds a page by binary search over its list; the memory store cuts it
    from the whole journal: the same pages, gaps in the numbering (a cleared journal, a
    trimmed one) and cursors beyond either end included."""
    from mockcamb.core.journal import page

    store.set_settings(Settings())
    store.reset()
    emus = [Emulator(clock=ManualClock()), Emulator(store=store)]
    for emu in emus:
        emu.configure({"unknown_task": "auto"})
        for i in range(40):
            if i == 15:
                emu.clear_journal()
            if i == 30:
                emu.configure({"journal_size": 12})
            emu.status("story", f"t{i % 3}", "k")
    journals = [e.journal() for e in emus]
    assert _journal(emus[0]) == _journal(emus[1]) and len(journals[0]) == 12
    for limit in (1, 2, 5, 12, 13, 1000):
        for after in (None, 0, 5, 28, 29, 33, 39, 40, 99):
            for before in (None, 0, 1, 29, 30, 35, 40, 41, 99):
                if after is not None and before is not None:
                    continue
                want = page(journals[0], limit, after, before)
                for emu in emus:
                    got = emu.journal_page(limit=limit, after_seq=after, before_seq=before)
                    got_plain = ([(k, v) for k, v in e.items() if k != "wall"] for e in got[0])
                    want_plain = ([(k, v) for k, v in e.items() if k != "wall"] for e in want[0])
                    assert (list(got_plain), got[1]) == (list(want_plain), want[1]), (
                        limit, after, before, emu.store
                    )
