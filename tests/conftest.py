"""Shared fixtures: an emulator on a manual clock, served on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from mockcamb.core.clock import ManualClock
from mockcamb.core.emulator import Emulator
from mockcamb.serve.waitress import Server, serve_emulator
from mockcamb.strategies import load_profiles

load_profiles()

API_KEY = "test-key-0123456789"


@pytest.fixture
def emu() -> Emulator:
    return Emulator(clock=ManualClock())


@pytest.fixture
def server(emu: Emulator) -> Iterator[Server]:
    with serve_emulator(emu) as srv:
        yield srv


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["x-api-key"] = API_KEY
        yield session
