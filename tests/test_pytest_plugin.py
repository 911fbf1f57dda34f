"""The pytest fixtures, used here exactly as a downstream project uses them (the plugin is
loaded through its pytest11 entry point), plus serve_in_thread and the controller."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import requests

from mockcamb.core.errors import MockCambError
from mockcamb.testing import DEFAULT_API_KEY, MockCamb, serve_in_thread
from mockcamb.virtual_time import VirtualTime

TEN_MINUTES = {"steps": [{"status": "PENDING", "seconds": 600}, {"status": "SUCCESS"}]}


def poll_until_final(
    base_url: str, api_key: str, kind: str, task_id: str
) -> tuple[dict[str, Any], int]:
    """A typical client: poll every 15 s for at most 20 minutes (by time.monotonic)."""
    deadline = time.monotonic() + 20 * 60
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        body: dict[str, Any] = requests.get(
            f"{base_url}/{kind}/{task_id}", headers={"x-api-key": api_key}, timeout=5
        ).json()
        if body["status"] != "PENDING":
            return body, polls
        time.sleep(15)
    raise TimeoutError(task_id)


def test_mockcamb_serves_on_a_free_port_with_the_manual_clock(mockcamb: MockCamb) -> None:
    assert mockcamb.base_url.startswith("http://127.0.0.1:")
    assert mockcamb.base_url.endswith("/apis")
    assert mockcamb.url + "/apis" == mockcamb.base_url
    assert mockcamb.api_key == DEFAULT_API_KEY
    assert mockcamb.headers == {"x-api-key": DEFAULT_API_KEY}
    assert mockcamb.clock.kind == "manual"
    assert mockcamb.server is not None and mockcamb.responses is None
    assert repr(mockcamb).startswith("<MockCamb http://127.0.0.1:")


def test_create_task_advance_and_requests(mockcamb: MockCamb) -> None:
    task_id = mockcamb.create_task("story", TEN_MINUTES, task_id="t-1")
    other = mockcamb.create_task("project-setup", "instant_success")
    assert task_id == "t-1"
    url = f"{mockcamb.base_url}/story/{task_id}"
    assert requests.get(url, headers=mockcamb.headers).json()["status"] == "PENDING"
    assert mockcamb.advance(599) == 599
    assert requests.get(url, headers=mockcamb.headers).json()["status"] == "PENDING"
    mockcamb.advance(1)
    body = requests.get(url, headers=mockcamb.headers).json()
    assert body["status"] == "SUCCESS" and isinstance(body["run_id"], int)
    requests.get(f"{mockcamb.base_url}/project-setup/{other}", headers=mockcamb.headers)

    entries = mockcamb.requests(task_id=task_id)
    assert [e["task_status"] for e in entries] == ["PENDING", "PENDING", "SUCCESS"]
    assert [e["clock"] for e in entries] == [0, 599, 600]
    assert all(e["headers"]["x-api-key"] == "[redacted]" for e in entries)
    assert [e["task_id"] for e in mockcamb.requests(kind="project-setup")] == [other]
    assert len(mockcamb.requests()) == 4
    assert mockcamb.status("story", task_id) == "SUCCESS"
    assert mockcamb.task("story", task_id)["polls_answered"] == 3
    assert [t["task_id"] for t in mockcamb.tasks("project-setup")] == [other]
    mockcamb.clear_requests()
    assert mockcamb.requests() == []


def test_bad_input_is_a_mockcamb_error_naming_the_field(mockcamb: MockCamb) -> None:
    with pytest.raises(MockCambError, match="kind"):
        mockcamb.create_task("video")
    with pytest.raises(MockCambError, match="steps"):
        mockcamb.create_task("story", {"steps": []})
    with pytest.raises(MockCambError, match="no preset named"):
        mockcamb.create_task("story", "no_such_preset")
    with pytest.raises(MockCambError, match="task_id"):
        mockcamb.task("story", "missing")
    with pytest.raises(MockCambError, match="seconds"):
        mockcamb.advance(-1)
    with pytest.raises(MockCambError, match=r"settings\.nonsense"):
        mockcamb.configure(nonsense=1)


def test_a_test_that_leaves_a_mess(mockcamb: MockCamb) -> None:
    """Runs before the next test, which must find none of this."""
    mockcamb.create_task("story", task_id="leftover")
    mockcamb.configure(unknown_task="auto", journal_size=3, api_keys=["only-this"])
    mockcamb.advance(1234)
    requests.get(f"{mockcamb.base_url}/story/leftover", headers={"x-api-key": "only-this"})
    assert mockcamb.requests()


def test_every_test_starts_from_a_clean_emulator(mockcamb: MockCamb) -> None:
    assert mockcamb.tasks() == []
    assert mockcamb.requests() == []
    assert mockcamb.now() == 0
    assert mockcamb.settings.unknown_task == "404"
    assert mockcamb.settings.api_keys is None
    assert mockcamb.settings.journal_size == 10_000
    reply = requests.get(f"{mockcamb.base_url}/story/leftover", headers=mockcamb.headers)
    assert reply.status_code == 404


def test_configure_changes_settings_for_this_test(mockcamb: MockCamb) -> None:
    mockcamb.configure(unknown_task="auto")
    reply = requests.get(f"{mockcamb.base_url}/story/made-up", headers=mockcamb.headers)
    assert reply.status_code == 200
    with mockcamb.settings_changed({"api_keys": ["k1"]}):
        assert requests.get(reply.url, headers=mockcamb.headers).status_code == 401
    assert requests.get(reply.url, headers=mockcamb.headers).status_code == 200
    assert mockcamb.settings.unknown_task == "auto"


def test_virtual_sleep_runs_a_ten_minute_job_at_once(
    mockcamb: MockCamb, mockcamb_virtual_sleep: VirtualTime
) -> None:
    task_id = mockcamb.create_task("project-setup", "ten_minute_job")
    body, polls = poll_until_final(mockcamb.base_url, mockcamb.api_key, "project-setup", task_id)
    assert body["status"] == "SUCCESS"
    assert polls == 41  # t = 0, 15, ..., 600
    assert mockcamb.now() == 600
    assert mockcamb_virtual_sleep.elapsed == 600
    assert mockcamb_virtual_sleep.sleeps == [15] * 40


def test_virtual_sleep_covers_asyncio_sleep(
    mockcamb: MockCamb, mockcamb_virtual_sleep: VirtualTime
) -> None:
    task_id = mockcamb.create_task("story", "ten_minute_job")

    async def poll() -> str:
        while True:
            status: str = requests.get(
                f"{mockcamb.base_url}/story/{task_id}", headers=mockcamb.headers
            ).json()["status"]
            if status != "PENDING":
                return status
            await asyncio.sleep(30)

    assert asyncio.run(poll()) == "SUCCESS"
    assert mockcamb.now() == 600


def test_virtual_sleep_leaves_other_threads_and_latency_in_real_time(
    mockcamb: MockCamb, mockcamb_virtual_sleep: VirtualTime
) -> None:
    mockcamb.configure(latency={"fixed_ms": 30})
    task_id = mockcamb.create_task("story")
    start = time.perf_counter()  # virtual in this thread: moves only with sleeps
    requests.get(f"{mockcamb.base_url}/story/{task_id}", headers=mockcamb.headers)
    assert time.perf_counter() == start
    seen: list[float] = []
    worker = threading.Thread(target=lambda: seen.append(time.perf_counter()))
    worker.start()
    worker.join()
    assert seen[0] > start  # the worker saw real time, which went on during the latency
    assert mockcamb.requests()[-1]["delay_ms"] == 30
    assert mockcamb.now() == 0


def test_virtual_sleep_alone_drives_the_http_fixture(
    mockcamb_virtual_sleep: VirtualTime, request: pytest.FixtureRequest
) -> None:
    mock: MockCamb = request.getfixturevalue("mockcamb")
    time.sleep(42)
    assert mock.now() == 42


def test_virtual_sleep_drives_the_in_process_fixture(
    mockcamb_responses: MockCamb, mockcamb_virtual_sleep: VirtualTime
) -> None:
    task_id = mockcamb_responses.create_task("story", TEN_MINUTES)
    body, polls = poll_until_final(mockcamb_responses.base_url, "k", "story", task_id)
    assert body["status"] == "SUCCESS" and polls == 41
    assert mockcamb_responses.now() == 600


def test_mockcamb_responses_answers_the_real_base_url_in_process(
    mockcamb_responses: MockCamb,
) -> None:
    assert mockcamb_responses.base_url == "https://client.camb.ai/apis"
    assert mockcamb_responses.server is None and mockcamb_responses.responses is not None
    task_id = mockcamb_responses.create_task("story", "fails_after_3_polls")
    url = f"https://client.camb.ai/apis/story/{task_id}"
    statuses = [requests.get(url, headers={"x-api-key": "k"}).json()["status"] for _ in range(4)]
    assert statuses == ["PENDING", "PENDING", "PENDING", "FAILED"]
    assert len(mockcamb_responses.requests(task_id=task_id)) == 4
    assert len(mockcamb_responses.responses.calls) == 4
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get("https://example.invalid/elsewhere")


def test_mockcamb_responses_lets_the_test_add_other_routes(mockcamb_responses: MockCamb) -> None:
    mockcamb_responses.responses.get("https://example.invalid/ping", json={"pong": True})
    assert requests.get("https://example.invalid/ping").json() == {"pong": True}


def test_mockcamb_responses_configure_and_advance(mockcamb_responses: MockCamb) -> None:
    mockcamb_responses.configure(api_keys=["right"])
    task_id = mockcamb_responses.create_task("project-setup", TEN_MINUTES)
    url = f"{mockcamb_responses.base_url}/project-setup/{task_id}"
    assert requests.get(url, headers={"x-api-key": "wrong"}).status_code == 401
    mockcamb_responses.advance(600)
    assert requests.get(url, headers={"x-api-key": "right"}).json()["status"] == "SUCCESS"


def test_serve_in_thread_outside_pytest_fixtures() -> None:
    with serve_in_thread(settings={"unknown_task": "auto"}, api_key="abc") as mock:
        assert mock.api_key == "abc"
        reply = requests.get(f"{mock.base_url}/story/anything", headers=mock.headers, timeout=5)
        assert reply.json()["status"] == "PENDING"
        port = mock.server.port if mock.server else 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/apis/story/x", timeout=2)


def test_serve_in_thread_with_admin_token_and_real_clock() -> None:
    with serve_in_thread(clock="real", time_scale=1000, admin_token="s3cret") as mock:
        assert mock.clock.kind == "real"
        admin = f"{mock.url}/__admin/tasks"
        assert requests.get(admin, timeout=5).status_code == 401
        assert requests.get(admin, headers={"x-admin-token": "s3cret"}, timeout=5).ok
        assert mock.now() > 0


def test_serve_in_thread_with_a_middleware_and_a_small_pool() -> None:
    seen: list[str] = []

    def middleware(app: Any) -> Any:
        def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
            seen.append(environ["PATH_INFO"])
            return app(environ, start_response)

        return wrapped

    with serve_in_thread(threads=2, middleware=middleware, stop_timeout=0.5) as mock:
        task_id = mock.create_task("story", "instant_success")
        reply = requests.get(f"{mock.base_url}/story/{task_id}", headers=mock.headers, timeout=5)
        assert reply.json()["status"] == "SUCCESS"
        assert requests.get(f"{mock.url}/openapi.json", timeout=5).ok
    assert seen == [f"/apis/story/{task_id}", "/openapi.json"]
