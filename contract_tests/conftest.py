"""Options, hypothesis profiles and fixtures of the contract suite.

Without ``--camb-base-url`` the suite starts its own mockcamb on a free port (with a generated
key and a task in every state); with it, the suite sends only rate-limited GET requests to the
status endpoints of the families it checks (``--camb-family``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from mockcamb.strategies import load_profiles

from ._checks import WRONG_KEYS
from ._client import LIVE_REQUEST_BUDGET, AdminClient, Client, RateLimiter, Secret
from ._target import IDS_HINT, OWN_TASK_REFS, Options, Target, parse_options, serve_own, start

load_profiles()

_OPTIONS = pytest.StashKey[Options]()
_TARGET = pytest.StashKey[Target]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("camb", "CAMB.AI contract suite (contract_tests/)")
    group.addoption(
        "--camb-base-url",
        metavar="URL",
        help="API base of the target, e.g. https://client.camb.ai/apis (env CAMB_BASE_URL); "
        "unset: the suite starts its own mockcamb",
    )
    group.addoption(
        "--camb-api-key",
        metavar="KEY",
        help="a key the target accepts (env CAMB_API_KEY); never printed",
    )
    group.addoption(
        "--camb-task-id",
        action="append",
        default=[],
        metavar="KIND:ID",
        help="a task that exists on the target, KIND any family (story, dub, tts...); "
        "repeatable "
        "(env CAMB_TASK_IDS, comma-separated)",
    )
    group.addoption(
        "--camb-family",
        action="append",
        default=[],
        metavar="NAME",
        help="a task family to check (dub, tts, transcription...; `all` for every one); "
        "repeatable (env CAMB_FAMILIES, comma-separated; default: every family against the "
        "suite's own emulator, else story, project-setup and those of --camb-task-id)",
    )
    group.addoption(
        "--camb-max-rps",
        metavar="N",
        help="ceiling on requests per second (env CAMB_MAX_RPS; default 5 against a named "
        "target, no limit against the suite's own emulator; 0: no limit)",
    )
    group.addoption(
        "--camb-allow-status",
        action="append",
        default=[],
        metavar="STATUS",
        help="admit a status beyond the documented vocabulary; repeatable "
        "(env CAMB_ALLOW_STATUSES, comma-separated)",
    )
    group.addoption(
        "--camb-polls",
        metavar="N",
        help="polls per task id for the shape and lifecycle checks, at least 3 "
        "(env CAMB_POLLS; default 3)",
    )
    group.addoption(
        "--camb-client",
        metavar="TARGET",
        default=None,
        help="client under test for test_client_conformance.py (env CAMB_CLIENT)",
    )
    group.addoption(
        "--camb-conformance-relax",
        action="append",
        default=[],
        metavar="NAME",
        help="relax one client-conformance requirement by name; repeatable",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Registered here, not only in the repository's pyproject.toml: the suite also runs from
    # an installed package (`mockcamb contract`, `pytest --pyargs contract_tests`).
    config.addinivalue_line("markers", "emulator_only: runs only against the suite's own mockcamb")
    config.addinivalue_line("markers", "live: needs a real target (--camb-base-url) and key")
    config.stash[_OPTIONS] = parse_options(config)
    if config.getoption("camb_client") is None and os.environ.get("CAMB_CLIENT"):
        config.option.camb_client = os.environ["CAMB_CLIENT"]


def pytest_report_header(config: pytest.Config) -> list[str]:
    opts = config.stash.get(_OPTIONS, None)
    if opts is None:
        return []
    if opts.own:
        return ["camb contract target: the suite's own mockcamb (emulator-only tests included)"]
    rps = f"{opts.max_rps:g} requests/s" if opts.max_rps else "no rate limit"
    return [
        f"camb contract target: {opts.base_url} ({rps}; GET status endpoints only)",
        f"camb api key: {'given' if opts.api_key else 'NOT SET - live-only tests will skip'}; "
        f"task ids: {len(opts.task_refs)}; polls per task: {opts.polls}",
    ]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """After the results: what a named target was sent, and whether it refused any wrong key."""
    lines = []
    target = config.stash.get(_TARGET, None)
    if target is not None and not target.own:
        opts = target.options
        families, ids = len(opts.families), len(opts.task_refs)
        budget = LIVE_REQUEST_BUDGET * families + opts.polls * ids
        lines.append(
            f"{target.client.sent} requests sent to {target.base_url} (a run under "
            f"HYPOTHESIS_PROFILE=live stays within {LIVE_REQUEST_BUDGET} a family x {families} "
            f"+ {opts.polls} polls x {ids} task ids = {budget})"
        )
    tally = config.stash.get(WRONG_KEYS, None)
    summary = tally.summary() if tally is not None else None
    if summary is not None:
        lines.append(summary)
    if lines:
        terminalreporter.write_sep("-", "camb contract suite")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    opts = metafunc.config.stash[_OPTIONS]
    if "kind" in metafunc.fixturenames:
        metafunc.parametrize("kind", opts.families)
    if "task_ref" not in metafunc.fixturenames:
        return
    refs = list(OWN_TASK_REFS if opts.own else opts.task_refs)
    if refs:
        ids = [f"{kind}:{task_id}" for kind, task_id in refs]
        metafunc.parametrize("task_ref", refs, ids=ids, indirect=True, scope="session")
    else:
        metafunc.parametrize("task_ref", [None], ids=["no-task-ids"], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.stash[_OPTIONS].own:
        return
    skip = pytest.mark.skip(
        reason="emulator-only test: runs only against the suite's own mockcamb "
        "(leave --camb-base-url / CAMB_BASE_URL unset)"
    )
    for item in items:
        if item.get_closest_marker("emulator_only") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def camb_options(pytestconfig: pytest.Config) -> Options:
    return pytestconfig.stash[_OPTIONS]


@pytest.fixture(scope="session")
def camb(camb_options: Options, pytestconfig: pytest.Config) -> Iterator[Target]:
    """The target: the named one, or a mockcamb the suite started."""
    target = start(camb_options)
    pytestconfig.stash[_TARGET] = target
    try:
        yield target
    finally:
        target.close()


@pytest.fixture(scope="session")
def task_ref(request: pytest.FixtureRequest, camb: Target) -> tuple[str, str]:
    ref: tuple[str, str] | None = request.param
    if ref is None:
        pytest.skip(f"live-only test: no task ids for {camb.base_url}; {IDS_HINT}")
    camb.need_key()
    return ref


class OwnEmulator:
    """A private mockcamb for the emulator-only tests, free to reset and reconfigure."""

    def __init__(
        self, server: object, client: Client, admin: AdminClient, key: Secret, token: str
    ) -> None:
        self.server = server
        self.client = client
        self.admin = admin
        self.key = key
        self.token = token

    @property
    def base_url(self) -> str:
        return self.client.origin + self.client.base_path

    def __repr__(self) -> str:
        return f"OwnEmulator({self.base_url})"


@pytest.fixture(scope="module")
def own_emulator(camb: Target) -> Iterator[OwnEmulator]:
    """A fresh mockcamb on a free port (emulator-only tests; skipped against named targets)."""
    camb.need_own()
    key = Secret("mc-" + secrets.token_hex(16))
    token = "admin-" + secrets.token_hex(8)
    with serve_own(key, token) as own:
        client = Client(own.base_url, key, RateLimiter(None), resend_on_stale=False)
        try:
            yield OwnEmulator(own.server, client, AdminClient(own.url, token), key, token)
        finally:
            client.close()
