"""``mockcamb conform --mode httpx``: an httpx-based client checked in process (no port), with
the mode in the report; a client the httpx mode cannot answer is refused, not let out."""

from __future__ import annotations

import socket
from typing import Any

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
