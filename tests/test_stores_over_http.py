"""What both stores (memory, and Redis on a real redis-server) answer over real HTTP: the
admin view settled to the clock, time-anchored faults, recorded result bodies, and the
library of named scenarios (``x-mockcamb-scenario: recorded/<name>``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from _redis import redis_url

from mockcamb.core.clock import ManualClock
from mockcamb.core.emulator import Emulator
from mockcamb.serve.waitress import serve_emulator
from mockcamb.stores.redis.store import RedisStore

KEY = "k-over-http"


class Served:
    """An emulator served over HTTP: ``api`` is its /apis base, ``admin`` its /__admin."""

    def __init__(self, emu: Emulator, base: str) -> None:
        self.emu = emu
        self.api = f"{base}/apis"
        self.admin = f"{base}/__admin"
        self.http = requests.Session()
        self.http.headers["x-api-key"] = KEY

    def advance(self, seconds: float) -> None:
        r = self.http.post(f"{self.admin}/clock/advance", json={"seconds": seconds})
        assert r.status_code == 200, r.text

    def create(self, kind: str, scenario: Any, task_id: str) -> dict[str, Any]:
        doc = {"kind": kind, "task_id": task_id, "scenario": scenario}
        r = self.http.post(f"{self.admin}/tasks", json=doc)
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    def view(self, kind: str, task_id: str) -> dict[str, Any]:
        r = self.http.get(f"{self.admin}/tasks/{kind}/{task_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def poll(self, kind: str, task_id: str) -> requests.Response:
        return self.http.get(f"{self.api}/{kind}/{task_id}")


@pytest.fixture(params=["memory", "redis"])
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    store: RedisStore | None = None
    if request.param == "redis":
        url = f"{redis_url()}?prefix=http-{uuid.uuid4().hex[:12]}:"
        store = RedisStore(url, clock="manual")
        emu = Emulator(store=store)
    else:
        emu = Emulator(clock=ManualClock())
    emu.configure({"api_keys": [KEY]})
    try:
        with serve_emulator(emu) as server:
            yield Served(emu, server.base_url.removesuffix("/apis"))
    finally:
        if store is not None:
            store.reset()
            store.r.delete(*[store.prefix + k for k in ("settings", "settings:v", "salt", "clock")])
            store.close()


# --- the admin view shows what the next poll answers (issue 16, item 7) ---------------------


def test_the_admin_view_after_a_time_step_shows_the_run_id_the_next_poll_answers(
    served: Served,
) -> None:
    life = {"steps": [{"status": "PENDING", "seconds": 10}, {"status": "SUCCESS"}]}
    served.create("story", life, "timed")
    assert served.poll("story", "timed").json() == {"status": "PENDING", "run_id": None}
    served.advance(10)
    view = served.view("story", "timed")
    assert view["status"] == "SUCCESS" and view["finished"] is True
    assert view["run_id"] == 1000 and view["finished_at"] == 10
    assert view["requests"] == 1  # the view is not counted as a poll
    served.advance(5)
    assert served.poll("story", "timed").json() == {"status": "SUCCESS", "run_id": 1000}
    again = served.view("story", "timed")
    assert (again["run_id"], again["finished_at"], again["requests"]) == (1000, 10, 2)
    result = served.http.get(f"{served.api}/story-result/1000")
    assert result.status_code == 200 and "audio_url" in result.json()


def test_run_ids_go_to_tasks_in_the_order_they_are_first_seen_finished(served: Served) -> None:
    life = {"steps": [{"status": "PENDING", "seconds": 1}, {"status": "SUCCESS"}]}
    served.create("story", life, "a")
    served.create("story", life, "b")
    served.advance(1)
    assert served.view("story", "b")["run_id"] == 1000
    assert served.poll("story", "a").json()["run_id"] == 1001
    assert served.poll("story", "b").json()["run_id"] == 1000


# --- faults placed by clock time (issue 13) -------------------------------------------------


def test_a_fault_window_strikes_the_requests_that_come_within_it(served: Served) -> None:
    life = {
        "steps": [{"status": "PENDING", "seconds": 30}, {"status": "SUCCESS", "run_id": 5}],
        "faults": [
            {"seconds": [10, 20], "http_status": 502},
            {"seconds": [[25, 26], [40, None]], "type": "drop_connection"},
        ],
    }
    served.create("story", life, "windows")
    seen = []
    for wait in (0, 9.5, 0.5, 9.5, 0.5, 5, 0.5, 1, 13.5, 0.5):
        served.advance(wait)
        try:
            seen.append(served.poll("story", "windows").status_code)
        except requests.ConnectionError:
            seen.append("dropped")
    # at 0, 9.5 | 10, 19.5 | 20 | 25, 25.5 | 26.5 | 40, 40.5 (for ever)
    assert seen == [200, 200, 502, 502, 200, "dropped", "dropped", 200, "dropped", "dropped"]
    history = served.view("story", "windows")["history"]
    assert [h["fault"] for h in history][2:4] == ["http_error", "http_error"]


# --- a scenario's result body (issue 13: recorded results served on replay) -----------------

RECORDED_RESULT = {
    "audio_url": "https://cdn.example.com/run/4242/audio.wav?X-Amz-Signature=[redacted]",
    "dialogue_url": "https://cdn.example.com/run/4242/dialogue.json",
    "transcript": [{"start": 0, "end": 1.5, "text": "Érase una vez", "speaker": "A"}],
}


def test_a_scenarios_result_is_what_the_result_routes_answer(served: Served) -> None:
    life = {
        "steps": [{"status": "PENDING", "polls": 1}, {"status": "SUCCESS", "run_id": 4242}],
        "result": RECORDED_RESULT,
    }
    served.create("story", life, "recorded")
    served.create("story", {"steps": [{"status": "SUCCESS"}]}, "generated")
    assert served.poll("story", "recorded").json()["status"] == "PENDING"
    assert served.poll("story", "recorded").json() == {"status": "SUCCESS", "run_id": 4242}
    generated = served.poll("story", "generated").json()["run_id"]
    one = served.http.get(f"{served.api}/story-result/4242")
    assert one.status_code == 200 and one.json() == RECORDED_RESULT
    bulk = served.http.post(f"{served.api}/stories-results", json={"run_ids": [4242, generated]})
    assert bulk.json()["4242"] == RECORDED_RESULT
    assert bulk.json()[str(generated)]["audio_url"].endswith(f"/story/{generated}/audio.wav")
    assert served.view("story", "recorded")["scenario"]["result"] == RECORDED_RESULT


@pytest.mark.parametrize(
    ("result", "words"),
    [
        ([1, 2], "scenario.result: must be an object"),
        ("text", "scenario.result: must be an object"),
        ({"x": "y" * (1024 * 1024)}, "scenario.result: is 1048585 bytes as JSON; at most 1048576"),
    ],
)
def test_a_bad_result_is_a_json_400(served: Served, result: Any, words: str) -> None:
    doc = {"kind": "story", "scenario": {"steps": [{"status": "SUCCESS"}], "result": result}}
    r = served.http.post(f"{served.admin}/tasks", json=doc)
    assert r.status_code == 400 and words in r.json()["detail"], r.text


# --- the library: x-mockcamb-scenario: recorded/<name> (issue 13) ---------------------------

SLOW = {"steps": [{"status": "PENDING", "seconds": 60}, {"status": "SUCCESS", "run_id": 61}]}


def post_story(served: Served, scenario: str) -> requests.Response:
    return served.http.post(
        f"{served.api}/story",
        data={"source_language": "1"},
        files={"file": ("story.txt", b"Once upon a time")},
        headers={"x-mockcamb-scenario": scenario},
    )


def test_a_library_scenario_is_a_preset_for_new_tasks(served: Served) -> None:
    put = served.http.put(f"{served.admin}/scenarios/slow-one", json=SLOW)
    assert put.status_code == 200, put.text
    assert put.json()["use"] == "recorded/slow-one"
    assert put.json()["scenario"]["name"] == "recorded/slow-one"
    created = post_story(served, "recorded/slow-one")
    assert created.status_code == 200, created.text
    task_id = created.json()["task_id"]
    assert served.poll("story", task_id).json()["status"] == "PENDING"
    served.advance(60)
    assert served.poll("story", task_id).json() == {"status": "SUCCESS", "run_id": 61}
    listed = served.http.get(f"{served.admin}/scenarios").json()["scenarios"]
    assert list(listed) == ["slow-one"] and listed["slow-one"]["steps"] == SLOW["steps"]
    assert served.http.get(f"{served.admin}/settings").json()["scenarios"] == listed
    # the admin API takes the name too, and so does the default scenario
    assert served.create("dub", "recorded/slow-one", "d")["scenario"]["name"] == "recorded/slow-one"
    r = served.http.put(f"{served.admin}/settings", json={"default_scenario": "recorded/slow-one"})
    assert r.status_code == 200 and r.json()["default_scenario"]["steps"] == SLOW["steps"]


def test_an_unknown_library_name_is_a_json_400_naming_the_known_ones(served: Served) -> None:
    for name in ("story-a", "story-b"):
        assert served.http.put(f"{served.admin}/scenarios/{name}", json=SLOW).ok
    r = post_story(served, "recorded/story-c")
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/json"
    detail = r.json()["detail"]
    assert detail.startswith('x-mockcamb-scenario: scenario: no scenario named "recorded/story-c"')
    assert "recorded: recorded/story-a, recorded/story-b" in detail
    assert served.http.delete(f"{served.admin}/scenarios/story-a").json() == {"deleted": "story-a"}
    assert "recorded/story-a" in post_story(served, "recorded/story-a").json()["detail"]
    missing = served.http.get(f"{served.admin}/scenarios/story-a")
    assert missing.status_code == 404 and "recorded: recorded/story-b" in missing.json()["detail"]
    assert served.http.delete(f"{served.admin}/scenarios/story-a").status_code == 404


@pytest.mark.parametrize("name", ["bad.name", "a b", "x" * 101, ""])
def test_a_library_name_it_cannot_hold_is_the_library_error_not_a_preset_one(
    served: Served, name: str
) -> None:
    """``recorded/bad.name`` fell through to "no preset named", listing the presets."""
    assert served.http.put(f"{served.admin}/scenarios/story-a", json=SLOW).ok
    r = post_story(served, f"recorded/{name}")
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/json", r.text
    detail = r.json()["detail"]
    assert detail.startswith("x-mockcamb-scenario: scenario: no scenario named"), detail
    assert "(recorded: recorded/story-a; a name is 1 to 100 letters, digits" in detail, detail
    assert "preset" not in detail


@pytest.mark.parametrize(
    ("name", "body", "words"),
    [
        ("bad.name", SLOW, "name: must be 1 to 100 letters, digits"),
        ("x" * 101, SLOW, "name: must be 1 to 100 letters, digits"),
        ("ok", {"steps": []}, "scenario.steps: must be a non-empty list"),
        ("ok", [1], "body: must be a JSON object"),
    ],
)
def test_bad_library_entries_are_json_400s(
    served: Served, name: str, body: Any, words: str
) -> None:
    r = served.http.put(f"{served.admin}/scenarios/{name}", json=body)
    assert r.status_code == 400 and words in r.json()["detail"], r.text
    bad = served.http.put(f"{served.admin}/settings", json={"scenarios": {"a b": SLOW}})
    assert bad.status_code == 400, bad.text
    assert bad.json()["detail"].startswith("settings.scenarios: must be 1 to 100 letters")
    assert served.http.get(f"{served.admin}/scenarios").json() == {"scenarios": {}}


def test_the_library_is_shared_by_every_worker_of_a_redis_store() -> None:
    url = f"{redis_url()}?prefix=lib-{uuid.uuid4().hex[:12]}:"
    stores = [RedisStore(url, clock="manual") for _ in range(2)]
    try:
        emus = [Emulator(store=s) for s in stores]
        with serve_emulator(emus[0]) as one, serve_emulator(emus[1]) as two:
            a = Served(emus[0], one.base_url.removesuffix("/apis"))
            b = Served(emus[1], two.base_url.removesuffix("/apis"))
            assert a.http.put(f"{a.admin}/scenarios/shared", json=SLOW).ok
            created = post_story(b, "recorded/shared")
            assert created.status_code == 200, created.text
            task = a.view("story", created.json()["task_id"])
            assert task["scenario"]["name"] == "recorded/shared"
    finally:
        stores[0].reset()
        stores[0].r.delete(*[stores[0].prefix + k for k in ("settings", "settings:v", "salt")])
        stores[0].r.delete(stores[0].prefix + "clock")
        for s in stores:
            s.close()
