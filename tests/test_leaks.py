"""While an in-process mode is active, no request to the CAMB host leaves the process, whatever
the client library: it is answered, or refused with :class:`CambHostRefused` naming the
fixture to use.

A leak shows up here as an attempted connection: the test replaces ``socket.getaddrinfo`` and
``socket.create_connection`` with recorders (that fail like a machine without network) before
the mode starts, so anything that gets past the guards is recorded. Outside any mode the same
calls are recorded (the control), so each check can fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import urllib.request
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
import urllib3

from mockcamb import httpx_mode, responses_mode
from mockcamb.leaks import CAMB_HOST, CambHostRefused, active, refusal
from mockcamb.testing import CAMB_BASE_URL, MockCamb

try:  # optional: not a dependency of mockcamb; imported before any mode starts, as in an app
    import aiohttp
except ImportError:  # pragma: no cover - depends on the environment
    aiohttp = None  # type: ignore[assignment]

PROXY = "http://proxy.invalid:3128"
KEY = {"x-api-key": "k"}


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every name resolution and connection attempted from now on (each fails: no network)."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.lower(), raising=False)
    seen: list[Any] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(("getaddrinfo", host, port))
        raise socket.gaierror(socket.EAI_NONAME, "no network in this test")

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(("create_connection", *address))
        raise ConnectionRefusedError("no network in this test")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return seen


def _requests(url: str) -> Any:
    return requests.get(url, headers=KEY, timeout=5).status_code


def _requests_proxied(url: str) -> Any:
    return requests.get(url, headers=KEY, timeout=5, proxies={"https": PROXY}).status_code


def _httpx(url: str) -> Any:
    return httpx.get(url, headers=KEY).status_code


def _httpx_proxied(url: str) -> Any:
    with httpx.Client(proxy=PROXY) as client:
        return client.get(url, headers=KEY).status_code


def _httpx_async(url: str) -> Any:
    async def go() -> int:
        async with httpx.AsyncClient() as client:
            return (await client.get(url, headers=KEY)).status_code

    return asyncio.run(go())


def _urllib3(url: str) -> Any:
    return urllib3.PoolManager(retries=False).request("GET", url, headers=KEY).status


def _urllib3_proxied(url: str) -> Any:
    return urllib3.ProxyManager(PROXY, retries=False).request("GET", url, headers=KEY).status


def _urllib_request(url: str) -> Any:
    request = urllib.request.Request(url, headers=KEY)
    with urllib.request.urlopen(request, timeout=5) as reply:
        return reply.status


def _urllib_request_proxied(url: str) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": PROXY}))
    with opener.open(urllib.request.Request(url, headers=KEY), timeout=5) as reply:
        return reply.status


def _http_client(url: str) -> Any:
    conn = http.client.HTTPSConnection(CAMB_HOST, timeout=5)
    try:
        conn.request("GET", url.removeprefix(f"https://{CAMB_HOST}"), headers=KEY)
        return conn.getresponse().status
    finally:
        conn.close()


def _aiohttp(url: str) -> Any:
    if aiohttp is None:
        pytest.skip("aiohttp is not installed")

    async def go() -> int:
        async with aiohttp.ClientSession() as session, session.get(url, headers=KEY) as reply:
            return int(reply.status)

    return asyncio.run(go())


def _aiohttp_proxied(url: str) -> Any:
    if aiohttp is None:
        pytest.skip("aiohttp is not installed")

    async def go() -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, headers=KEY, proxy=PROXY) as reply,
        ):
            return int(reply.status)

    return asyncio.run(go())


#: (client, library named in the refusal, answered under responses, answered under httpx)
CLIENTS: dict[str, tuple[Callable[[str], Any], str, bool, bool]] = {
    "requests": (_requests, "urllib3", True, False),
    "requests via a proxy": (_requests_proxied, "urllib3", True, False),
    "httpx": (_httpx, "httpx", False, True),
    "httpx via a proxy": (_httpx_proxied, "httpx", False, True),
    "httpx async": (_httpx_async, "httpx", False, True),
    "urllib3": (_urllib3, "urllib3", False, False),
    "urllib3 via a proxy": (_urllib3_proxied, "urllib3", False, False),
    "urllib.request": (_urllib_request, "urllib.request", False, False),
    "urllib.request via a proxy": (_urllib_request_proxied, "urllib.request", False, False),
    "http.client": (_http_client, "socket", False, False),
    "aiohttp": (_aiohttp, "aiohttp", False, False),
    "aiohttp via a proxy": (_aiohttp_proxied, "aiohttp", False, False),
}
MODES: dict[str, Callable[[], contextlib.AbstractContextManager[MockCamb]]] = {
    "mockcamb_responses": responses_mode.intercept,
    "mockcamb_httpx": httpx_mode.intercept,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", CLIENTS)
def test_no_request_to_the_camb_host_leaves_while_a_mode_is_active(
    attempts: list[Any], name: str, mode: str
) -> None:
    call, library, by_responses, by_httpx = CLIENTS[name]
    answered = by_responses if mode == "mockcamb_responses" else by_httpx
    with MODES[mode]() as mock:
        task_id = mock.create_task("story", "instant_success")
        url = f"{CAMB_BASE_URL}/story/{task_id}"
        if answered:
            assert call(url) == 200
            assert len(mock.requests()) == 1
        else:
            with pytest.raises(CambHostRefused) as refused:
                call(url)
            message = str(refused.value)
            assert f"(by {library})" in message and mode in message
            assert "`mockcamb" in message  # names the fixture to use
            assert mock.requests() == []
    assert attempts == [], f"{name} under {mode} tried to connect: {attempts}"


@pytest.mark.parametrize("name", CLIENTS)
def test_the_control_outside_any_mode_every_client_tries_to_connect(
    attempts: list[Any], name: str
) -> None:
    """Without a mode the same calls go for the network: the recorder sees them, so the test
    above would see a leak."""
    call = CLIENTS[name][0]
    with contextlib.suppress(Exception):
        call(f"{CAMB_BASE_URL}/story/x")
    assert attempts, f"{name}: no connection attempt recorded"


def test_other_hosts_are_left_alone_and_the_guard_goes_away(attempts: list[Any]) -> None:
    with httpx_mode.intercept():
        with pytest.raises(requests.ConnectionError):
            requests.get("https://example.invalid/x", timeout=5)
        assert attempts and attempts[0][1] == "example.invalid"
        assert active()
    assert active() == ()
    assert refusal(CAMB_HOST, 443, "httpx") is None  # no mode, no refusal
    assert socket.getaddrinfo.__name__ == "getaddrinfo"
    assert urllib3.connectionpool.HTTPConnectionPool.urlopen.__module__ == (
        "urllib3.connectionpool"
    )


def test_the_camb_host_is_guarded_whatever_the_base_url(attempts: list[Any]) -> None:
    """A mode on a custom base URL guards its origin (host and port) and the live host."""
    with httpx_mode.intercept(base_url="http://127.0.0.1:9/apis"):
        for url in ("https://client.camb.ai/apis/story/x", "http://127.0.0.1:9/other"):
            with pytest.raises(CambHostRefused):
                requests.get(url, timeout=5)
        with pytest.raises(requests.ConnectionError):  # another port of the same host: goes
            requests.get("http://127.0.0.1:10/apis/story/x", timeout=5)
    assert [a[1:] for a in attempts] == [("127.0.0.1", 10)]


def test_guards_nest_and_the_modes_answer_from_one_emulator(attempts: list[Any]) -> None:
    with responses_mode.intercept() as rsps_mock:
        with httpx_mode.intercept(rsps_mock.emulator) as httpx_mock:
            task_id = httpx_mock.create_task("story", "instant_success")
            assert _requests(f"{CAMB_BASE_URL}/story/{task_id}") == 200
            assert _httpx(f"{CAMB_BASE_URL}/story/{task_id}") == 200
            assert len(active()) == 2
        with pytest.raises(CambHostRefused, match="mockcamb_httpx"):  # httpx mode is over
            _httpx(f"{CAMB_BASE_URL}/story/{task_id}")
        assert len(rsps_mock.requests()) == 2
    assert attempts == []
