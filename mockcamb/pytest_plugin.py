"""pytest fixtures for testing code that talks to CAMB.AI, loaded through the ``pytest11``
entry point as soon as mockcamb is installed.

Fixtures (none is autouse):

- ``mockcamb``: a :class:`~mockcamb.testing.MockCamb` over an emulator served once per
  session on a free port with the manual clock, reset before every test.
- ``mockcamb_responses``: the same controller, in process: ``requests`` calls to
  ``https://client.camb.ai/apis`` are answered through the ``responses`` library.
- ``mockcamb_httpx``: the same controller, in process: httpx requests (sync and async, so the
  official SDKs) to ``https://client.camb.ai/apis`` are answered at httpx's transports. With
  ``mockcamb_responses`` in the same test, both answer from one emulator.
- ``mockcamb_virtual_sleep``: ``time.sleep`` and ``asyncio.sleep`` advance the emulator's
  clock instead of sleeping, so polling code finishes at once.

Overridable: ``mockcamb_host``, ``mockcamb_port``, ``mockcamb_replay`` (options
``--mockcamb-host``, ``--mockcamb-port``, ``--mockcamb-replay``; environment ``MOCKCAMB_HOST``,
``MOCKCAMB_PORT``, ``MOCKCAMB_REPLAY``), ``mockcamb_api_key`` (``MOCKCAMB_API_KEY``),
``mockcamb_settings``, ``mockcamb_responses_base_url``, ``mockcamb_httpx_base_url``,
``mockcamb_httpx_latency`` (``"real"``, or ``"virtual"``: injected latency waits with the
test's own sleep, so under ``mockcamb_virtual_sleep`` it is virtual).

While an in-process fixture is active, a request to the CAMB host that it does not answer is
refused, whatever the client library (:mod:`mockcamb.leaks`).

The plugin also lets ``pytest --pyargs contract_tests`` take the contract suite's options
(pytest reads the options of a conftest only from the paths it is given).

Importing this module stays cheap: the emulator, Flask and waitress load on first use.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
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


#: The contract suite's package, shipped in the same wheel.
_SUITE = "contract_tests"


def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """With ``--pyargs contract_tests[.module][::test]``, load the suite's conftest as an
    initial conftest (by its installed path), so that its options are known when pytest
    parses the command line. Collection still goes by the arguments as given."""
    namespace = early_config.known_args_namespace
    if not getattr(namespace, "pyargs", False):
        return
    args = list(getattr(namespace, "file_or_dir", None) or [])
    if not any(str(a).split("::")[0].split(".")[0] == _SUITE for a in args):
        return
    spec = importlib.util.find_spec(_SUITE)
    if spec is None or not spec.submodule_search_locations:
        return
    root = Path(next(iter(spec.submodule_search_locations)))
    anchors = []
    for arg in args:
        name, sep, rest = str(arg).partition("::")
        parts = name.split(".")
        if parts[0] != _SUITE:
            anchors.append(arg)
            continue
        target = root.joinpath(*parts[1:])
        path = target if target.is_dir() else target.with_suffix(".py")
        anchors.append(str(path) + sep + rest)
    namespace.file_or_dir = anchors


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


@pytest.fixture
def mockcamb_httpx_base_url() -> str:
    """The base URL the httpx fixture intercepts (CAMB's real one by default)."""
    from .testing import CAMB_BASE_URL

    return CAMB_BASE_URL


@pytest.fixture
def mockcamb_httpx_latency() -> str:
    """How the httpx fixture waits out an injected latency: ``"real"`` (the default: real
    time, even under ``mockcamb_virtual_sleep``) or ``"virtual"`` (the test's own
    ``time.sleep`` / ``asyncio.sleep``: virtual under ``mockcamb_virtual_sleep``). Override it,
    or ``@pytest.mark.parametrize("mockcamb_httpx_latency", ["virtual"])`` for one test."""
    return "real"


@pytest.fixture
def mockcamb_httpx(
    request: pytest.FixtureRequest,
    mockcamb_httpx_base_url: str,
    mockcamb_httpx_latency: str,
    mockcamb_api_key: str,
    mockcamb_settings: Any,
) -> Iterator[MockCamb]:
    """A controller over a fresh in-process emulator: while the test runs, httpx requests
    (sync and async: ``CambAI``, ``AsyncCambAI``, ``httpx.get``...) under
    ``mockcamb_httpx_base_url`` are answered by it at httpx's transports (no server, no port).
    With ``mockcamb_responses`` in the same test, both answer from that fixture's emulator.
    ``mockcamb_httpx.httpx`` is the :class:`~mockcamb.httpx_mode.HttpxMode`."""
    from .httpx_mode import check_latency, intercept

    emulator = None
    if "mockcamb_responses" in request.fixturenames:
        emulator = request.getfixturevalue("mockcamb_responses").emulator
    with intercept(
        emulator,
        base_url=mockcamb_httpx_base_url,
        api_key=mockcamb_api_key,
        settings=None if emulator is not None else mockcamb_settings,
        latency=check_latency(mockcamb_httpx_latency),
    ) as mock:
        yield mock


_CONTROLLERS = ("mockcamb", "mockcamb_responses", "mockcamb_httpx")


@pytest.fixture
def mockcamb_virtual_sleep(request: pytest.FixtureRequest) -> Iterator[VirtualTime]:
    """While the test runs, ``time.sleep`` and ``asyncio.sleep`` in the test's thread advance
    the emulator's clock and return at once (``time.monotonic``/``time.time`` follow), so code
    that polls every 15 s for 10 minutes finishes immediately. Other threads keep real time;
    attach a worker with ``mockcamb_virtual_sleep.attach(thread.ident)``.

    Advances the clock of every controller fixture the test uses (``mockcamb``,
    ``mockcamb_responses``, ``mockcamb_httpx``; an emulator they share once),
    ``mockcamb`` if it uses none. Yields the
    :class:`~mockcamb.virtual_time.VirtualTime` (``elapsed``, ``sleeps``).
    """
    # Set the controllers up first: their modules capture the real time.sleep at import.
    names = [n for n in _CONTROLLERS if n in request.fixturenames] or ["mockcamb"]
    controllers: list[MockCamb] = []
    for name in names:
        controller: MockCamb = request.getfixturevalue(name)
        if all(c.emulator is not controller.emulator for c in controllers):
            controllers.append(controller)
    from .virtual_time import virtual_time

    def advance(seconds: float) -> None:
        for controller in controllers:
            controller.advance(seconds)

    with virtual_time(advance) as vt:
        yield vt
