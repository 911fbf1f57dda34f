"""``mockcamb conform --mode httpx``: an httpx-based client checked in process (no port), with
the mode in the report; a client the httpx mode cannot answer is refused, not let out."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from pollers import httpx_poller

from mockcamb import cli
from mockcamb.conformance import ConformanceConfig, check_client
from mockcamb.core.errors import ConfigError
from mockcamb.testing import CAMB_BASE_URL


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def banned(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a socket was bound, listened on or connected")

    for name in ("bind", "listen", "connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, banned)


@pytest.mark.usefixtures("no_sockets")
def test_an_httpx_client_conforms_in_process_with_no_port() -> None:
    report = check_client(
        "pollers.httpx_poller:poll", ConformanceConfig(mode="httpx", examples=15, seed=5)
    )
    assert report.ok, report.format()
    assert set(httpx_poller.SEEN_BASE_URLS) == {CAMB_BASE_URL}
    assert "mode: httpx (in process" in report.format()


def test_the_same_client_over_http_says_so() -> None:
    httpx_poller.SEEN_BASE_URLS.clear()
    report = check_client(
        "pollers.httpx_poller:poll",
        ConformanceConfig(examples=5, seed=5, properties=("api-key", "success")),
    )
    assert report.ok, report.format()
    assert httpx_poller.SEEN_BASE_URLS[0].startswith("http://127.0.0.1:")
    assert "mode: http (a mockcamb server" in report.format()


def test_a_requests_client_in_httpx_mode_is_refused_not_let_out() -> None:
    report = check_client(
        "mockcamb.client:poll",
        ConformanceConfig(mode="httpx", examples=3, seed=1, properties=("success",)),
    )
    assert not report.ok
    finding = report.results["success"]
    assert finding is not None and finding.run.error_type == "CambHostRefused"
    assert "mockcamb_responses" in finding.run.error


def test_the_command_takes_the_mode(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["conform", "pollers.httpx_poller:poll", "--mode", "httpx", "--examples", "5"]
    assert cli.main([*argv, "--only", "success", "--seed", "2"]) == 0
    assert "mode: httpx" in capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:
        cli.main(["conform", "pollers.httpx_poller:poll", "--mode", "tcp"])
    assert usage.value.code == 2
    assert "invalid choice: 'tcp'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="mode"):
        ConformanceConfig(mode="tcp")


def _no_timeout_poll(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    with httpx.Client(timeout=None, headers={"x-api-key": api_key}) as http:
        return http.get(f"{base_url}/{endpoint}/{task_id}").json()


async def _async_poll(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    async with httpx.AsyncClient(timeout=5, headers={"x-api-key": api_key}) as http:
        for _ in range(50):
            try:
                body = (await http.get(f"{base_url}/{endpoint}/{task_id}")).json()
            except (httpx.TransportError, ValueError):
                await asyncio.sleep(2)
                continue
            if body.get("status") not in (None, "PENDING"):
                return body
            await asyncio.sleep(2)
        raise RuntimeError("gave up")


@pytest.mark.parametrize("mode", ["http", "httpx"])
def test_a_stalled_request_is_judged_alike_in_both_modes(mode: str) -> None:
    """In process there is no socket to time out on: the httpx mode waits the request's read
    timeout (in virtual time) and raises ReadTimeout, so `timeouts` says the same as over
    HTTP, for a client with no timeout and for an async one with a timeout."""
    cfg = ConformanceConfig(mode=mode, examples=3, seed=2, properties=("timeouts",))
    report = check_client(_no_timeout_poll, cfg)
    finding = report.results["timeouts"]
    assert finding is not None and "with no timeout" in finding.message, report.format()
    report = check_client(_async_poll, cfg)
    assert report.ok, report.format()
