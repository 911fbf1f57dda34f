"""pytest fixtures for testing code that talks to CAMB.AI, loaded through the ``pytest11``
entry point as soon as mockcamb is installed.

Fixtures (none is autouse):

- ``mockcamb``: a :class:`~mockcamb.testing.MockCamb` over an emulator served once per
  session on a free port with the manual clock, reset before every test.
- ``mockcamb_responses``: the same controller, in process: ``requests`` calls to
  ``https://client.camb.ai/apis`` are answered through the ``responses`` library.
- ``mockcamb_virtual_sleep``: ``time.sleep`` and ``asyncio.sleep`` advance the emulator's
  clock instead of sleeping, so polling code finishes at once.

Overridable: ``mockcamb_host``, ``mockcamb_port``, ``mockcamb_replay`` (options
``--mockcamb-host``, ``--mockcamb-port``, ``--mockcamb-replay``; environment ``MOCKCAMB_HOST``,
``MOCKCAMB_PORT``, ``MOCKCAMB_REPLAY``), ``mockcamb_api_key`` (``MOCKCAMB_API_KEY``),
``mockcamb_settings``, ``mockcamb_responses_base_url``.

Importing this module stays cheap: the emulator, Flask and waitress load on first use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .testing import MockCamb
    from .virtual_time import VirtualTime

DEFAULT_HOST = "127.0.0.1"
_ENV_HOST = "MOCKCAMB_HOST"
_ENV_PORT = "MOCKCAMB_PORT"
_ENV_KEY = "MOCKCAMB_API_KEY"
_ENV_REPLAY = "MOCKCAMB_REPLAY"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockcamb", "mockcamb (CAMB.AI emulator) fixtures")
    group.addoption(
        "--mockcamb-host",
        default=None,
        metavar="HOST",
        help=f"address the mockcamb fixture's server binds (env {_ENV_HOST}; "
        f"default {DEFAULT_HOST})",
    )
    group.addoption(
        "--mockcamb-port",
        default=None,
        metavar="PORT",
        help=f"port of the mockcamb fixture's server (env {_ENV_PORT}; default 0: a free port)",
    )
    group.addoption(
        "--mockcamb-replay",
        default=None,
        metavar="DIR",
        help=f"preload the tasks recorded in DIR by mockcamb record (env {_ENV_REPLAY})",
    )


def _option(config: pytest.Config, name: str, env: str) -> str | None:
    value: str | None = config.getoption(name)
    return value if value is not None else os.environ.get(env) or None


@pytest.fixture(scope="session")
def mockcamb_host(pytestconfig: pytest.Config) -> str:
    """The address the session's emulator binds; override to change it."""
    return _option(pytestconfig, "--mockcamb-host", _ENV_HOST) or DEFAULT_HOST


@pytest.fixture(scope="session")
def mockcamb_port(pytestconfig: pytest.Config) -> int:
    """The port the session's emulator binds (0: a free one); override to change it."""
    raw = _option(pytestconfig, "--mockcamb-port", _ENV_PORT) or "0"
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise pytest.UsageError(
            f"--mockcamb-port / {_ENV_PORT}: must be a port from 0 to 65535, got {raw!r}"
        )
    return int(raw)


@pytest.fixture(scope="session")
def mockcamb_api_key() -> str:
    """The API key the controller hands to the code under test."""
    from .testing import DEFAULT_API_KEY

    return os.environ.get(_ENV_KEY) or DEFAULT_API_KEY


@pytest.fixture(scope="session")
def mockcamb_settings() -> dict[str, Any]:
    """Emulator settings for every test (fields of ``PUT /__admin/settings``); override in a
    ``conftest.py`` to change the baseline. Per test, use ``mockcamb.configure(...)``."""
    return {}


@pytest.fixture(scope="session")
def mockcamb_replay(pytestconfig: pytest.Config) -> str | None:
    """A directory of recordings (``mockcamb record --out DIR``) whose tasks the session's
    emulator preloads before every test; ``None`` (the default) for none. Override it, or
    use ``--mockcamb-replay DIR`` / ``MOCKCAMB_REPLAY``."""
    return _option(pytestconfig, "--mockcamb-replay", _ENV_REPLAY)


@pytest.fixture(scope="session")
def mockcamb_server(
    mockcamb_host: str,
    mockcamb_port: int,
    mockcamb_api_key: str,
    mockcamb_settings: Any,
    mockcamb_replay: str | None,
) -> Iterator[MockCamb]:
    """The session's emulator, served over HTTP with the manual clock."""
    from .testing import serve_in_thread

    with serve_in_thread(
        settings=mockcamb_settings,
        host=mockcamb_host,
        port=mockcamb_port,
        api_key=mockcamb_api_key,
        replay=mockcamb_replay,
    ) as mock:
        yield mock


@pytest.fixture
def mockcamb(mockcamb_server: MockCamb) -> MockCamb:
    """A controller over the session's HTTP emulator, reset (tasks, journal, clock, settings)
    before the test. Give the code under test ``mockcamb.base_url`` and ``mockcamb.api_key``."""
    from .testing import MockCamb

    mockcamb_server.reset()
    return MockCamb(
        mockcamb_server.emulator,
        mockcamb_server.base_url,
        mockcamb_server.api_key,
        server=mockcamb_server.server,
        recordings=mockcamb_server.recordings,
    )


@pytest.fixture
def mockcamb_responses_base_url() -> str:
    """The base URL the in-process fixture intercepts (CAMB's real one by default)."""
    from .testing import CAMB_BASE_URL

    return CAMB_BASE_URL


@pytest.fixture
def mockcamb_responses(
    mockcamb_responses_base_url: str, mockcamb_api_key: str, mockcamb_settings: Any
) -> Iterator[MockCamb]:
    """A controller over a fresh in-process emulator: while the test runs, ``requests`` calls
    under ``mockcamb_responses_base_url`` are answered by it through ``responses`` (no server,
    no port). ``mockcamb_responses.responses`` is the ``RequestsMock``, to add other routes."""
    from .responses_mode import intercept

    with intercept(
        base_url=mockcamb_responses_base_url, api_key=mockcamb_api_key, settings=mockcamb_settings
    ) as mock:
        yield mock


_CONTROLLERS = ("mockcamb", "mockcamb_responses")


@pytest.fixture
def mockcamb_virtual_sleep(request: pytest.FixtureRequest) -> Iterator[VirtualTime]:
    """While the test runs, ``time.sleep`` and ``asyncio.sleep`` in the test's thread advance
    the emulator's clock and return at once (``time.monotonic``/``time.time`` follow), so code
    that polls every 15 s for 10 minutes finishes immediately. Other threads keep real time;
    attach a worker with ``mockcamb_virtual_sleep.attach(thread.ident)``.

    Advances the clock of every controller fixture the test uses (``mockcamb``,
    ``mockcamb_responses``), ``mockcamb`` if it uses neither. Yields the
    :class:`~mockcamb.virtual_time.VirtualTime` (``elapsed``, ``sleeps``).
    """
    # Set the controllers up first: their modules capture the real time.sleep at import.
    names = [n for n in _CONTROLLERS if n in request.fixturenames] or ["mockcamb"]
    controllers: list[MockCamb] = [request.getfixturevalue(n) for n in names]
    from .virtual_time import virtual_time

    def advance(seconds: float) -> None:
        for controller in controllers:
            controller.advance(seconds)

    with virtual_time(advance) as vt:
        yield vt
