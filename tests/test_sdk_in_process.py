"""The official SDKs in process: application code that builds its own ``CambAI(api_key="k")``
and ``AsyncCambAI(api_key="k")`` (the real base URL, the SDK's own httpx client), tested with
only the ``mockcamb_httpx`` fixture (and ``mockcamb_virtual_sleep`` for the waits) added.

Every test here runs with sockets banned: nothing binds, listens or connects, so the answers
can only come from the in-process mode.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import httpx
import pytest
from camb.client import AsyncCambAI, CambAI
from test_sdk_families import SCRIPTS

from mockcamb import MockCamb
from mockcamb.core.routes import FAMILIES, ROUTES


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any bind, listen or connect fails the test (asyncio's self-pipe is a socketpair)."""

    def banned(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a socket was bound, listened on or connected")

    for name in ("bind", "listen", "connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, banned)


pytestmark = pytest.mark.usefixtures("no_sockets")

# --- the application under test: no test hook anywhere -------------------------------------

CAMB_API = "https://client.camb.ai/apis"


def tell_story(text: bytes, every: float = 15.0) -> dict[str, Any]:
    """Create a story, poll it every ``every`` s until it ends, return its run info."""
    client = CambAI(api_key="k")
    task_id = client.story.create_story(file=("story.txt", text), source_language=1).task_id
    while True:
        status = client.story.get_story_status(task_id)
        if status.status != "PENDING":
            break
        time.sleep(every)
    assert status.status == "SUCCESS", status
    info: dict[str, Any] = client.story.get_story_run_info(status.run_id)
    return info


async def tell_story_async(text: bytes, every: float = 15.0) -> dict[str, Any]:
    client = AsyncCambAI(api_key="k")
    created = await client.story.create_story(file=("story.txt", text), source_language=1)
    while True:
        status = await client.story.get_story_status(created.task_id)
        if status.status != "PENDING":
            break
        await asyncio.sleep(every)
    assert status.status == "SUCCESS", status
    info: dict[str, Any] = await client.story.get_story_run_info(status.run_id)
    return info


def dub(media_url: str, every: float = 15.0) -> Any:
    """Set a dubbing project up. The SDK creates it and reads its result, but cannot parse
    the status body (camb-sdk declares a list, see the README), so the status is read with
    httpx, the SDK's own HTTP library."""
    client = CambAI(api_key="k")
    task_id = client.project_setup.create_project(
        media_url=media_url, source_language=1, target_languages=[76]
    ).task_id
    while True:
        body = httpx.get(f"{CAMB_API}/project-setup/{task_id}", headers={"x-api-key": "k"}).json()
        if body["status"] != "PENDING":
            break
        time.sleep(every)
    assert body["status"] == "SUCCESS", body
    return client.project_setup.get_project_setup_result(body["run_id"])


async def dub_async(media_url: str, every: float = 15.0) -> Any:
    client = AsyncCambAI(api_key="k")
    created = await client.project_setup.create_project(
        media_url=media_url, source_language=1, target_languages=[76]
    )
    async with httpx.AsyncClient(headers={"x-api-key": "k"}) as http:
        while True:
            reply = await http.get(f"{CAMB_API}/project-setup/{created.task_id}")
            if reply.json()["status"] != "PENDING":
                break
            await asyncio.sleep(every)
    return await client.project_setup.get_project_setup_result(reply.json()["run_id"])


# --- the tests ---------------------------------------------------------------------------------


def test_a_story_with_the_sync_sdk(mockcamb_httpx: MockCamb, mockcamb_virtual_sleep: Any) -> None:
    mockcamb_httpx.configure(default_scenario="ten_minute_job")
    info = tell_story(b"Once upon a time")
    assert info["transcript"] and info["audio_url"].startswith(CAMB_API)
    assert mockcamb_httpx.now() == 600
    polls = mockcamb_httpx.requests(kind="story")
    assert [e["method"] for e in polls].count("GET") == 42  # 41 status polls and the run info


def test_a_story_with_the_async_sdk(mockcamb_httpx: MockCamb, mockcamb_virtual_sleep: Any) -> None:
    mockcamb_httpx.configure(default_scenario="ten_minute_job")
    info = asyncio.run(tell_story_async(b"Once upon a time"))
    assert info["transcript"]
    assert mockcamb_virtual_sleep.elapsed == 600  # 40 sleeps of 15 s between 41 polls
    assert mockcamb_httpx.now() == 600


def test_a_project_setup_with_the_sync_sdk(
    mockcamb_httpx: MockCamb, mockcamb_virtual_sleep: Any
) -> None:
    mockcamb_httpx.configure(default_scenario="ten_minute_job")
    result = dub("https://example.com/v.mp4")
    assert result.project_details.target_languages == [76]
    assert result.run_id == mockcamb_httpx.tasks("project-setup")[0]["run_id"]


def test_a_project_setup_with_the_async_sdk(
    mockcamb_httpx: MockCamb, mockcamb_virtual_sleep: Any
) -> None:
    mockcamb_httpx.configure(default_scenario="happy_path")
    result = asyncio.run(dub_async("https://example.com/v.mp4"))
    assert result.project_details.studio_url
    assert mockcamb_virtual_sleep.sleeps == [15, 15]


def test_the_sdk_sees_faults_as_over_the_network(
    mockcamb_httpx: MockCamb, mockcamb_virtual_sleep: Any
) -> None:
    """503 and 429 are retried by the SDK itself (Retry-After honoured in virtual time); a
    dropped connection reaches the application as httpx's own error."""
    task_id = mockcamb_httpx.create_task(
        "story",
        {
            "steps": [{"status": "SUCCESS", "run_id": 5}],
            "faults": [
                {"poll": 1, "http_status": 503},
                {"poll": 2, "http_status": 429, "retry_after": 7},
                {"poll": 3, "type": "drop_connection"},
            ],
        },
    )
    client = CambAI(api_key="k")
    with pytest.raises(httpx.RemoteProtocolError):
        client.story.get_story_status(task_id)
    assert client.story.get_story_status(task_id).run_id == 5
    assert 7 in mockcamb_virtual_sleep.sleeps
    codes = [e["status_code"] for e in mockcamb_httpx.requests()]
    assert codes[:2] == [503, 429]


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_the_sync_sdk_runs_every_family_to_success(mockcamb_httpx: MockCamb, name: str) -> None:
    """Each family's own SDK methods (create, status, results), as tests/test_sdk_families.py
    runs them over HTTP, here on ``CambAI(api_key="k")`` with the real base URL."""
    mockcamb_httpx.configure(default_scenario={"steps": [{"status": "SUCCESS"}]})
    asyncio.run(SCRIPTS[name](CambAI(api_key="k")))
    assert any(e["kind"] == name for e in mockcamb_httpx.requests())


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_the_async_sdk_runs_every_family_to_success(mockcamb_httpx: MockCamb, name: str) -> None:
    mockcamb_httpx.configure(default_scenario={"steps": [{"status": "SUCCESS"}]})
    asyncio.run(SCRIPTS[name](AsyncCambAI(api_key="k")))
    assert any(e["kind"] == name for e in mockcamb_httpx.requests())


@pytest.mark.parametrize("fam", FAMILIES, ids=lambda f: f.name)
def test_every_family_polls_to_success_with_the_sdks_http_library(
    mockcamb_httpx: MockCamb, mockcamb_virtual_sleep: Any, fam: Any
) -> None:
    """Every status path of every family of the route table, polled with httpx in virtual
    time through a 60 s task, then its result routes."""
    task_id = mockcamb_httpx.create_task(fam.name, "slow_success")
    with httpx.Client(headers={"x-api-key": "k"}) as http:
        for path in fam.status:
            while (body := http.get(f"{CAMB_API}{path}/{task_id}").json())["status"] == "PENDING":
                time.sleep(10)
            assert body["status"] == "SUCCESS"
        for route in ROUTES:
            if route.family is fam and route.action == "result":
                filled = route.path.replace("{run_id}", str(body["run_id"]))
                filled = filled.replace("{language}", "54").replace("{target_language}", "54")
                assert http.get(CAMB_API + filled).is_success, filled
    assert mockcamb_httpx.now() == 60


def test_the_ban_holds() -> None:
    """The sockets of this module are banned indeed (so the tests above cannot pass over HTTP)."""
    with socket.socket() as sock:
        with pytest.raises(AssertionError, match="socket"):
            sock.connect(("127.0.0.1", 9))
        with pytest.raises(AssertionError, match="socket"):
            sock.bind(("127.0.0.1", 0))
