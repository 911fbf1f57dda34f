"""The ``mockcamb_httpx`` fixture and its companions, used as a downstream test uses them."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import requests

from mockcamb import MockCamb
from mockcamb.httpx_mode import HttpxMode, check_latency
from mockcamb.testing import CAMB_BASE_URL

KEY = {"x-api-key": "k"}
SLOW = {"steps": [{"status": "SUCCESS"}], "latency": {"fixed_ms": 250}}


def test_the_fixture_answers_the_real_base_url(mockcamb_httpx: MockCamb) -> None:
    assert mockcamb_httpx.base_url == CAMB_BASE_URL and mockcamb_httpx.server is None
    assert isinstance(mockcamb_httpx.httpx, HttpxMode) and mockcamb_httpx.responses is None
    assert mockcamb_httpx.httpx.latency == "real"
    task_id = mockcamb_httpx.create_task("story", "instant_success")
    assert httpx.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY).json()["status"] == "SUCCESS"


def test_each_test_starts_clean(mockcamb_httpx: MockCamb) -> None:
    assert mockcamb_httpx.tasks() == [] and mockcamb_httpx.requests() == []


@pytest.mark.parametrize("mockcamb_httpx_base_url", ["http://camb.test:8000/v2/apis"])
def test_the_base_url_is_a_fixture(mockcamb_httpx: MockCamb) -> None:
    task_id = mockcamb_httpx.create_task("story", "instant_success")
    assert httpx.get(f"http://camb.test:8000/v2/apis/story/{task_id}", headers=KEY).is_success


def test_real_latency_under_virtual_sleep(
    mockcamb_httpx: MockCamb, mockcamb_virtual_sleep: Any
) -> None:
    task_id = mockcamb_httpx.create_task("story", SLOW)
    httpx.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY)
    assert mockcamb_virtual_sleep.elapsed == 0 and mockcamb_httpx.now() == 0


@pytest.mark.parametrize("mockcamb_httpx_latency", ["virtual"])
def test_virtual_latency_when_the_test_asks(
    mockcamb_httpx: MockCamb, mockcamb_virtual_sleep: Any
) -> None:
    task_id = mockcamb_httpx.create_task("story", SLOW)
    httpx.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY)
    assert mockcamb_virtual_sleep.elapsed == pytest.approx(0.25, abs=0.05)
    assert mockcamb_httpx.now() == pytest.approx(mockcamb_virtual_sleep.elapsed)


def test_with_mockcamb_responses_both_libraries_share_one_emulator(
    mockcamb_responses: MockCamb, mockcamb_httpx: MockCamb, mockcamb_virtual_sleep: Any
) -> None:
    assert mockcamb_httpx.emulator is mockcamb_responses.emulator
    task_id = mockcamb_httpx.create_task(
        "story", {"steps": [{"status": "PENDING", "seconds": 30}, {"status": "SUCCESS"}]}
    )
    url = f"{CAMB_BASE_URL}/story/{task_id}"
    assert requests.get(url, headers=KEY).json()["status"] == "PENDING"
    time.sleep(30)  # advances the shared emulator once, not twice
    assert mockcamb_httpx.now() == 30
    assert httpx.get(url, headers=KEY).json()["status"] == "SUCCESS"


def test_a_bad_latency_is_refused() -> None:
    assert check_latency("virtual") == "virtual"
    with pytest.raises(ValueError, match="'real' or 'virtual'"):
        check_latency("fake")
