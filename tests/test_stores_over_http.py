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
