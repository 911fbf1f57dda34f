"""End to end, locally: create a task the way a client does, poll it to the end, fetch the
result with the run_id, through the pytest fixtures (HTTP and in-process) and the SDK."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from camb.client import CambAI

from mockcamb.testing import MockCamb
from mockcamb.virtual_time import VirtualTime

STORY_FILE = {"file": ("story.txt", b"Once upon a time there was a mock.", "text/plain")}
SETUP = {
    "media_url": "https://example.invalid/video.mp4",
    "source_language": 1,
    "target_languages": [76, 54],
}


def wait_for(session: requests.Session, url: str, every: float) -> dict[str, Any]:
    """Poll ``url`` every ``every`` seconds until a final status (at most an hour)."""
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        body: dict[str, Any] = session.get(url, timeout=10).json()
        if body["status"] in ("SUCCESS", "FAILED", "ERROR", "TIMEOUT", "PAYMENT_REQUIRED"):
            return body
        time.sleep(every)
    raise TimeoutError(url)


@pytest.fixture
def session(mockcamb: MockCamb) -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.headers.update(mockcamb.headers)
        yield s


def test_story_create_poll_and_fetch_the_result(
    mockcamb: MockCamb, session: requests.Session, mockcamb_virtual_sleep: VirtualTime
) -> None:
    mockcamb.configure(default_scenario="slow_success")
    created = session.post(
        f"{mockcamb.base_url}/story",
        files=STORY_FILE,
        data={"source_language": "1", "title": "A mock story"},
    )
    assert created.status_code == 200
    task_id = created.json()["task_id"]

    final = wait_for(session, f"{mockcamb.base_url}/story/{task_id}", every=5)
    assert final["status"] == "SUCCESS"
    run_id = final["run_id"]
    assert isinstance(run_id, int)
    assert mockcamb_virtual_sleep.elapsed > 0

    result = session.get(f"{mockcamb.base_url}/story-result/{run_id}")
    assert result.status_code == 200
    body = result.json()
    assert body["audio_url"].startswith(f"{mockcamb.base_url}/")
    assert body["dialogue_url"].startswith(f"{mockcamb.base_url}/")
    assert str(run_id) in body["audio_url"]
    assert body["transcript"] and all(
        set(line) == {"start", "end", "text", "speaker"} for line in body["transcript"]
    )
    assert [e["path"] for e in mockcamb.requests(task_id=task_id)][-1] == (
        f"/apis/story-result/{run_id}"
    )


def test_project_setup_create_poll_and_fetch_the_result(
    mockcamb: MockCamb, session: requests.Session, mockcamb_virtual_sleep: VirtualTime
) -> None:
    headers = {"x-mockcamb-scenario": "ten_minute_job"}
    created = session.post(f"{mockcamb.base_url}/project-setup", json=SETUP, headers=headers)
    task_id = created.json()["task_id"]

    final = wait_for(session, f"{mockcamb.base_url}/project-setup/{task_id}", every=15)
    assert final["status"] == "SUCCESS"
    assert mockcamb.now() == 600

    result = session.get(f"{mockcamb.base_url}/project-setup-result/{final['run_id']}")
    assert result.status_code == 200
    body = result.json()
    assert body["run_id"] == final["run_id"]
    details = body["project_details"]
    assert {"project_name", "created_at", "source_language", "target_languages", "studio_url"} <= (
        set(details)
    )


def test_results_exist_only_for_runs_the_emulator_produced(
    mockcamb: MockCamb, session: requests.Session
) -> None:
    story = mockcamb.create_task("story", "instant_success")
    run_id = session.get(f"{mockcamb.base_url}/story/{story}").json()["run_id"]
    failed = mockcamb.create_task("story", {"steps": [{"status": "ERROR"}]})
    assert session.get(f"{mockcamb.base_url}/story/{failed}").json()["status"] == "ERROR"
    pending = mockcamb.create_task("project-setup", "never_finishes")
    session.get(f"{mockcamb.base_url}/project-setup/{pending}")

    def code(path: str, **kwargs: Any) -> int:
        return session.get(f"{mockcamb.base_url}{path}", **kwargs).status_code

    assert code(f"/story-result/{run_id}") == 200
    assert code(f"/project-setup-result/{run_id}") == 404  # a story run, not a project setup
    assert code(f"/story-result/{run_id + 1}") == 404
    assert code("/story-result/not-a-number") == 404
    assert code("/project-setup-result/1000") == 404
    assert code(f"/story-result/{run_id}", headers={"x-api-key": ""}) == 401
    not_found = session.get(f"{mockcamb.base_url}/story-result/999999").json()
    assert "999999" in not_found["detail"]


def test_end_to_end_in_process_against_the_real_base_url(
    mockcamb_responses: MockCamb, mockcamb_virtual_sleep: VirtualTime
) -> None:
    base = "https://client.camb.ai/apis"
    with requests.Session() as s:
        s.headers["x-api-key"] = "my-key"
        created = s.post(
            f"{base}/story",
            files=STORY_FILE,
            data={"source_language": 1},
            headers={"x-mockcamb-scenario": "ten_minute_job"},
        )
        final = wait_for(s, f"{base}/story/{created.json()['task_id']}", every=30)
        result = s.get(f"{base}/story-result/{final['run_id']}")
    assert result.status_code == 200
    assert result.json()["audio_url"].startswith(f"{base}/")
    assert mockcamb_responses.now() == 600


def test_end_to_end_with_the_official_sdk(mockcamb: MockCamb) -> None:
    with httpx.Client(timeout=10) as http:
        client = CambAI(api_key=mockcamb.api_key, base_url=mockcamb.base_url, httpx_client=http)
        created = client.story.create_story(file=("s.txt", b"Once upon a time"), source_language=1)
        statuses = []
        for _ in range(10):
            status = client.story.get_story_status(created.task_id)
            statuses.append(status.status)
            if status.status == "SUCCESS":
                break
        assert statuses[-1] == "SUCCESS" and status.run_id is not None
        result = client.story.get_story_run_info(status.run_id)
    assert set(result) == {"audio_url", "dialogue_url", "transcript"}
