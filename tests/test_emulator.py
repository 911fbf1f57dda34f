"""The domain core: state machine, faults, latency draws, auth, journal, eviction (no HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockcamb.core.clock import ManualClock
from mockcamb.core.emulator import Emulator
from mockcamb.core.errors import ConfigError, MockCambError
from mockcamb.core.replies import Reply, json_bytes
from mockcamb.core.settings import Settings

KEY = "k"


def statuses(emu: Emulator, task_id: str, n: int, kind: str = "story") -> list[Any]:
    out = []
    for _ in range(n):
        r = emu.status(kind, task_id, KEY)
        out.append(r.body["status"] if r.status_code == 200 else r.status_code)
    return out


def test_poll_driven_steps_hold_for_exactly_their_polls(emu: Emulator) -> None:
    emu.create_task(
        "story",
        "t",
        {
            "steps": [
                {"status": "PENDING", "polls": 2},
                {"status": "PROCESSING", "polls": 1},
                {"status": "SUCCESS", "run_id": 9},
            ]
        },
    )
    assert statuses(emu, "t", 5) == ["PENDING", "PENDING", "PROCESSING", "SUCCESS", "SUCCESS"]
    assert emu.status("story", "t", KEY).body == {"status": "SUCCESS", "run_id": 9}


def test_time_driven_steps_follow_the_clock_not_the_polls(emu: Emulator) -> None:
    emu.create_task("project-setup", "t", "slow_success")
    assert statuses(emu, "t", 10, "project-setup") == ["PENDING"] * 10
    emu.advance(59.999)
    assert statuses(emu, "t", 1, "project-setup") == ["PENDING"]
    emu.advance(0.001)
    assert statuses(emu, "t", 1, "project-setup") == ["SUCCESS"]


def test_several_time_steps_pass_in_one_jump(emu: Emulator) -> None:
    emu.create_task(
        "story",
        "t",
        {
            "steps": [
                {"status": "A", "seconds": 10},
                {"status": "B", "seconds": 10},
                {"status": "FAILED"},
            ]
        },
    )
    emu.advance(25)
    assert statuses(emu, "t", 1) == ["FAILED"]


def test_a_time_step_starts_when_the_poll_step_before_it_ends(emu: Emulator) -> None:
    emu.create_task(
        "story",
        "t",
        {
            "steps": [
                {"status": "PENDING", "polls": 1},
                {"status": "QUEUED", "seconds": 30},
                {"status": "SUCCESS"},
            ]
        },
    )
    emu.advance(100)  # time spent in a poll step does not count toward the next step
    assert statuses(emu, "t", 2) == ["PENDING", "QUEUED"]
    emu.advance(29)
    assert statuses(emu, "t", 1) == ["QUEUED"]
    emu.advance(1)
    assert statuses(emu, "t", 1) == ["SUCCESS"]


def test_generated_run_id_is_stable_and_unique(emu: Emulator) -> None:
    emu.create_task("story", "a", "instant_success")
    emu.create_task("story", "b", "instant_success")
    ra = {emu.status("story", "a", KEY).body["run_id"] for _ in range(3)}
    rb = {emu.status("story", "b", KEY).body["run_id"] for _ in range(3)}
    assert len(ra) == 1 and len(rb) == 1 and ra != rb
    assert all(isinstance(r, int) for r in ra | rb)


def test_message_reason_and_extra_fields_appear_only_where_set(emu: Emulator) -> None:
    emu.create_task(
        "story",
        "t",
        {
            "steps": [
                {"status": "PENDING", "polls": 1, "extra": {"progress": 10}},
                {"status": "ERROR", "message": {"code": 7}, "exception_reason": "PROCESSING_ERROR"},
            ]
        },
    )
    assert emu.status("story", "t", KEY).body == {
        "status": "PENDING",
        "run_id": None,
        "progress": 10,
    }
    assert emu.status("story", "t", KEY).body == {
        "status": "ERROR",
        "run_id": None,
        "message": {"code": 7},
        "exception_reason": "PROCESSING_ERROR",
    }


def test_faults_by_request_number_do_not_count_as_answered_polls(emu: Emulator) -> None:
    emu.create_task(
        "story",
        "t",
        {
            "steps": [{"status": "PENDING", "polls": 2}, {"status": "SUCCESS"}],
            "faults": [
                {"poll": [1, 3], "http_status": 503},
                {"poll": 4, "http_status": 429, "retry_after": 2.5},
            ],
        },
    )
    replies = [emu.status("story", "t", KEY) for _ in range(6)]
    assert [r.status_code for r in replies] == [503, 200, 503, 429, 200, 200]
    assert [r.body.get("status") for r in replies if r.status_code == 200] == [
        "PENDING",
        "PENDING",
        "SUCCESS",
    ]
    assert replies[3].headers == {"Retry-After": "3"}
    assert replies[0].body == {"detail": "Service Unavailable (injected by mockcamb)"}
    task = emu.get_task("story", "t")
    assert task is not None and task.requests == 6 and task.answered == 3


@pytest.mark.parametrize(
    ("ftype", "check"),
    [
        ("non_json", lambda r: r.content_type.startswith("text/html") and b"<html>" in r.raw),
        ("empty_body", lambda r: r.raw == b""),
        ("truncated_json", lambda r: r.raw == b'{"status":"PENDING","run_id":null}'[:17]),
        ("malformed_json", lambda r: r.raw.startswith(b"{'status'")),
        ("drop_connection", lambda r: r.drop),
    ],
)
def test_body_faults(emu: Emulator, ftype: str, check: Any) -> None:
    emu.create_task(
        "story", "t", {"steps": [{"status": "PENDING"}], "faults": [{"poll": 1, "type": ftype}]}
    )
    reply = emu.status("story", "t", KEY)
    assert check(reply), reply


def test_probability_faults_replay_exactly_with_the_same_seed() -> None:
    def run(seed: int) -> list[int]:
        emu = Emulator(Settings(seed=seed), ManualClock())
        emu.create_task(
            "story",
            "t",
            {
                "steps": [{"status": "PENDING"}],
                "faults": [{"probability": 0.3, "http_status": 500}],
            },
        )
        return [emu.status("story", "t", KEY).status_code for _ in range(200)]

    first = run(1)
    assert first == run(1)
    assert first != run(2)
    assert 30 < first.count(500) < 90


def test_a_scenario_seed_fixes_the_draws_whatever_the_task(emu: Emulator) -> None:
    doc = {
        "steps": [{"status": "PENDING"}],
        "seed": 42,
        "faults": [{"probability": 0.5, "http_status": 500}],
    }
    emu.create_task("story", "a", doc)
    emu.create_task("project-setup", "b", doc)
    a = [emu.status("story", "a", KEY).status_code for _ in range(50)]
    b = [emu.status("project-setup", "b", KEY).status_code for _ in range(50)]
    assert a == b


def test_global_faults_and_latency_apply_to_every_task(emu: Emulator) -> None:
    emu.configure({"faults": [{"poll": 1, "http_status": 502}], "latency": {"fixed_ms": 5}})
    emu.create_task("story", "t")
    first, second = emu.status("story", "t", KEY), emu.status("story", "t", KEY)
    assert (first.status_code, second.status_code) == (502, 200)
    assert first.delay == second.delay == 0.005


def test_scenario_latency_overrides_global(emu: Emulator) -> None:
    emu.configure({"latency": {"fixed_ms": 5}})
    emu.create_task(
        "story", "t", {"steps": [{"status": "SUCCESS"}], "latency": {"uniform_ms": [10, 20]}}
    )
    delays = [emu.status("story", "t", KEY).delay for _ in range(20)]
    assert all(0.010 <= d <= 0.020 for d in delays) and len(set(delays)) > 1


def test_auth(emu: Emulator) -> None:
    emu.create_task("story", "t")
    assert emu.status("story", "t", None).status_code == 401
    assert emu.status("story", "t", "").status_code == 401
    assert emu.status("story", "t", "anything").status_code == 200
    emu.configure({"api_keys": ["good"]})
    assert emu.status("story", "t", "bad").status_code == 401
    assert emu.status("story", "t", "good").status_code == 200
    # rejected requests are not polls
    task = emu.get_task("story", "t")
    assert task is not None and task.requests == 2


def test_unknown_tasks_404_or_auto(emu: Emulator) -> None:
    assert emu.status("story", "nope", KEY).status_code == 404
    assert emu.get_task("story", "nope") is None
    emu.configure({"unknown_task": "auto", "default_scenario": "instant_success"})
    assert emu.status("story", "nope", KEY).body["status"] == "SUCCESS"
    assert emu.get_task("story", "nope") is not None
    assert emu.status("story", "a/b", KEY).status_code == 404  # never auto-creates odd ids
    assert emu.status("story", "x" * 5000, KEY).status_code == 404


def test_kinds_are_separate_namespaces(emu: Emulator) -> None:
    emu.create_task("story", "same")
    assert emu.status("project-setup", "same", KEY).status_code == 404


def test_create_task_errors(emu: Emulator) -> None:
    emu.create_task("story", "t")
    with pytest.raises(ConfigError, match="exists already"):
        emu.create_task("story", "t")
    with pytest.raises(ConfigError, match="kind"):
        emu.create_task("dubbing", "t")
    for bad in ("", "a/b", "x" * 201, "nul\x00"):
        with pytest.raises(ConfigError, match="task_id"):
            emu.create_task("story", bad)
    with pytest.raises(MockCambError, match="steps"):
        emu.create_task("story", None, {"steps": "nope"})


def test_generated_task_ids_are_uuids_and_reproducible() -> None:
    def ids() -> list[str]:
        emu = Emulator(Settings(seed=3), ManualClock())
        return [emu.create_task("story").task_id for _ in range(3)]

    first = ids()
    assert first == ids() and len(set(first)) == 3
    assert all(len(i) == 36 and i[14] == "4" for i in first)


def test_journal_redacts_secrets_and_is_a_ring(emu: Emulator) -> None:
    emu.configure({"journal_size": 3})
    emu.create_task("story", "t")
    for _ in range(5):
        emu.status(
            "story",
            "t",
            "secret-key",
            headers=[
                ("X-Api-Key", "secret-key"),
                ("Authorization", "Bearer zzz"),
                ("User-Agent", "me"),
            ],
        )
    entries = emu.journal()
    assert [e["seq"] for e in entries] == [3, 4, 5]
    assert "secret-key" not in repr(entries) and "zzz" not in repr(entries)
    assert entries[0]["headers"] == {
        "x-api-key": "[redacted]",
        "authorization": "[redacted]",
        "user-agent": "me",
    }
    assert entries[-1]["task_status"] == "SUCCESS" and entries[-1]["request"] == 5


def test_journal_filters_and_clear(emu: Emulator) -> None:
    emu.create_task("story", "a")
    emu.create_task("project-setup", "b")
    emu.status("story", "a", KEY)
    emu.status("project-setup", "b", KEY)
    emu.status("story", "zzz", KEY)
    assert [e["task_id"] for e in emu.journal(kind="story")] == ["a", None]
    assert len(emu.journal(task_id="b")) == 1
    assert len(emu.journal(limit=1)) == 1
    emu.clear_journal()
    assert emu.journal() == []


def test_journal_can_be_turned_off(emu: Emulator) -> None:
    emu.configure({"journal_size": 0})
    emu.create_task("story", "a")
    emu.status("story", "a", KEY)
    assert emu.journal() == []


def test_history_is_bounded(emu: Emulator) -> None:
    emu.configure({"history_limit": 4})
    t = emu.create_task("story", "a", "never_finishes")
    statuses(emu, "a", 10)
    assert [h["request"] for h in emu.snapshot(t)["history"]] == [7, 8, 9, 10]


def test_max_tasks_evicts_finished_first(emu: Emulator) -> None:
    emu.configure({"max_tasks": 3})
    emu.create_task("story", "old-running", "never_finishes")
    emu.create_task("story", "done", "instant_success")
    emu.status("story", "done", KEY)
    emu.create_task("story", "c")
    emu.create_task("story", "d")
    assert emu.get_task("story", "done") is None
    assert emu.get_task("story", "old-running") is not None
    emu.create_task("story", "e")
    assert emu.get_task("story", "old-running") is None
    assert emu.task_count() == 3


def test_finished_tasks_expire_after_ttl(emu: Emulator) -> None:
    emu.configure({"finished_ttl": 60})
    emu.create_task("story", "done", "instant_success")
    run_id = emu.status("story", "done", KEY).body["run_id"]
    emu.create_task("story", "running", "never_finishes")
    emu.advance(59)
    emu.create_task("story", "x")
    assert emu.get_task("story", "done") is not None
    emu.advance(1)
    emu.create_task("story", "y")
    assert emu.get_task("story", "done") is None
    assert emu.get_task("story", "running") is not None
    assert emu.result("story", str(run_id), KEY).status_code == 404


def test_snapshot_settles_time_without_counting_a_poll(emu: Emulator) -> None:
    t = emu.create_task("story", "t", "slow_success")
    emu.advance(61)
    snap = emu.snapshot(t)
    assert snap["status"] == "SUCCESS" and snap["requests"] == 0


def test_reset_forgets_tasks_journal_and_clock(emu: Emulator) -> None:
    emu.configure({"api_keys": ["k"]})
    emu.create_task("story", "t")
    emu.status("story", "t", KEY)
    emu.advance(10)
    emu.reset()
    assert emu.task_count() == 0 and emu.journal() == [] and emu.clock.now() == 0
    assert emu.settings.api_keys == frozenset({"k"})  # settings survive a reset


def test_create_endpoints_validate_like_fastapi(emu: Emulator) -> None:
    r = emu.create("story", KEY, {}, has_file=False)
    assert r.status_code == 422
    assert [d["loc"] for d in r.body["detail"]] == [["body", "file"], ["body", "source_language"]]
    r = emu.create("story", KEY, {"source_language": "abc"}, has_file=True)
    assert r.body["detail"][0]["type"] == "int_parsing"
    r = emu.create("story", KEY, {"source_language": "1"}, has_file=True)
    assert r.status_code == 200 and emu.get_task("story", r.body["task_id"]) is not None
    r = emu.create("project-setup", KEY, ["not", "an", "object"])
    assert r.status_code == 422 and r.body["detail"][0]["loc"] == ["body"]
    r = emu.create(
        "project-setup", KEY, {"media_url": 5, "source_language": 1, "target_languages": "fr"}
    )
    assert {d["type"] for d in r.body["detail"]} == {"string_type", "list_type"}
    ok = {"media_url": "https://x/y.mp4", "source_language": 1, "target_languages": [76]}
    assert emu.create("project-setup", KEY, ok).status_code == 200
    assert emu.create("project-setup", None, ok).status_code == 401
    r = emu.create("project-setup", KEY, ok, scenario="payment_required")
    tid = r.body["task_id"]
    assert statuses(emu, tid, 2, "project-setup") == ["PENDING", "PAYMENT_REQUIRED"]
    assert emu.create("project-setup", KEY, ok, scenario="nope").status_code == 400


def test_results_exist_only_for_finished_runs(emu: Emulator) -> None:
    emu.create_task("story", "s", "instant_success")
    emu.create_task("project-setup", "p", "instant_success")
    rs = emu.status("story", "s", KEY).body["run_id"]
    rp = emu.status("project-setup", "p", KEY).body["run_id"]
    story = emu.result("story", str(rs), KEY, base_url="http://h/apis")
    assert story.status_code == 200 and story.body["audio_url"].startswith("http://h/apis/")
    assert {"start", "end", "text", "speaker"} <= set(story.body["transcript"][0])
    setup = emu.result("project-setup", str(rp), KEY)
    assert setup.body["run_id"] == rp and "studio_url" in setup.body["project_details"]
    assert emu.result("project-setup", str(rs), KEY).status_code == 404  # wrong kind
    assert emu.result("story", "999999", KEY).status_code == 404
    assert emu.result("story", "\uff11\uff12", KEY).status_code == 404  # non-ASCII digits
    assert emu.result("story", str(rs), None).status_code == 401


def test_settings_errors_name_the_field(emu: Emulator) -> None:
    cases: list[tuple[Any, str]] = [
        ([], "settings: must be a JSON object"),
        ({"nope": 1}, "settings.nope: unknown setting"),
        ({"api_keys": []}, "settings.api_keys"),
        ({"api_keys": [""]}, "settings.api_keys"),
        ({"unknown_task": "maybe"}, "settings.unknown_task"),
        ({"default_scenario": "nope"}, "settings.default_scenario"),
        (
            {"default_scenario": {"steps": [{"status": 1}]}},
            "settings.default_scenario.steps[0].status",
        ),
        ({"latency": {"fixed_ms": "x"}}, "settings.latency.fixed_ms"),
        ({"faults": [{"poll": 1}]}, "settings.faults[0].http_status"),
        ({"seed": 1.5}, "settings.seed"),
        ({"journal_size": -1}, "settings.journal_size"),
        ({"max_tasks": 0}, "settings.max_tasks"),
        ({"finished_ttl": "soon"}, "settings.finished_ttl"),
    ]
    before = emu.settings
    for doc, words in cases:
        with pytest.raises(ConfigError) as info:
            emu.configure(doc)
        assert str(info.value).startswith(words), (doc, str(info.value))
    assert emu.settings is before


def test_every_bad_fault_and_every_default_scenario_problem_is_named(emu: Emulator) -> None:
    faults = [{"poll": 0, "http_status": 503}, {"poll": 1}, {"probability": 1, "http_status": 500}]
    with pytest.raises(ConfigError) as info:
        emu.configure({"faults": faults})
    assert str(info.value).splitlines() == [
        "settings.faults[0].poll: must be an integer >= 1, got 0",
        "settings.faults[1].http_status: is required for an http_error fault",
    ]
    with pytest.raises(ConfigError) as info:
        emu.configure({"default_scenario": {"steps": [{"status": 1}, {}]}})
    assert [line.split(":")[0] for line in str(info.value).splitlines()] == [
        "settings.default_scenario.steps[0].status",
        "settings.default_scenario.steps[0]",
        "settings.default_scenario.steps[1].status",
    ]


def test_settings_view_never_shows_keys(emu: Emulator) -> None:
    emu.configure({"api_keys": ["sekrit-1", "sekrit-2"]})
    view = emu.settings.to_dict()
    assert view["api_keys"] == {"count": 2} and "sekrit" not in repr(view)


def test_reply_payload_serialises_body() -> None:
    assert Reply(200, {"a": 1}).payload() == b'{"a":1}'
    assert Reply(200, None, raw=b"x").payload() == b"x"


def test_generated_task_ids_are_random_version_4_uuids_reproducible_by_seed() -> None:
    import uuid

    def ids(seed: int) -> list[str]:
        emu = Emulator()
        emu.configure({"seed": seed})
        return [emu.create_task("story").task_id for _ in range(200)]

    first = ids(7)
    parsed = [uuid.UUID(i) for i in first]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert len({i[0] for i in first}) >= 12  # the leading digit is random, not always 0
    assert len({i[:3] for i in first}) > 150
    assert ids(7) == first and ids(8) != first


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_every_json_body_is_written_as_compact_json_dumps_writes_it(body: Any) -> None:
    """The encoder made once (replies.json_bytes) writes what json.dumps with compact
    separators writes, NaN and non-ASCII text included."""
    assert json_bytes(body) == json.dumps(body, separators=(",", ":")).encode()


def test_a_body_that_cannot_be_json_still_fails_as_json_dumps_fails() -> None:
    with pytest.raises(TypeError):
        json_bytes({"x": object()})
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises((ValueError, RecursionError)):
        json_bytes(cycle)
