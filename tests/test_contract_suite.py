"""The contract suite is sharp and fair: run as a user would (``python -m pytest contract_tests
--camb-base-url ...``) against servers that each break one rule, it fails naming that rule;
against conforming variants, and against a mockcamb named as the target, it passes. The key
never appears in its output, and a named target only ever gets rate-limited status GETs."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from broken_servers import API_KEY, TASK_IDS, VARIANTS, Served
from hypothesis import settings

from mockcamb.core.clock import ManualClock
from mockcamb.core.emulator import Emulator
from mockcamb.http.app import create_app
from mockcamb.serve.waitress import Server

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "contract_tests"
MOCKCAMB_KEY = "mockcamb-target-key-81f0c2"
MOCKCAMB_RPS = 25.0

pytest_plugins = ["pytester"]


@dataclass
class Run:
    code: int
    output: str
    seconds: float


def _suite_process(
    tmp: Path, paths: list[str], args: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """``python -m pytest PATHS -p no:cacheprovider -q ARGS`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", *paths, "-p", "no:cacheprovider", "-q", *args],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _env_without_camb(*prefixes: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("CAMB_", *prefixes))}


def _run_suite(
    base_url: str,
    key: str,
    task_ids: list[str] | tuple[str, ...],
    tmp: Path,
    *extra: str,
    paths: tuple[str, ...] = (),
) -> Run:
    """The suite (or its ``paths`` under contract_tests/) in a fresh interpreter, as a user
    runs it; the key goes in the environment for half the runs and on the command line for
    the other half."""
    env = _env_without_camb("PYTEST_")
    env["HYPOTHESIS_PROFILE"] = "live"
    args = ["-rfs", "--camb-base-url", base_url, *extra]
    if len(task_ids) % 2:
        env["CAMB_API_KEY"] = key
        env["CAMB_TASK_IDS"] = ",".join(task_ids)
    else:
        args += ["--camb-api-key", key]
        for ref in task_ids:
            args += ["--camb-task-id", ref]
    started = time.monotonic()
    selected = [str(SUITE / p) for p in paths] or [str(SUITE)]
    proc = _suite_process(tmp, selected, args, env, timeout=240)
    return Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)


class Background:
    """A suite run in a fresh interpreter on a thread: started early, awaited when needed,
    so its waiting (a rate limit, slow answers) overlaps the in-process runs."""

    def __init__(self, run: Callable[[], Run]) -> None:
        self._run = run
        self._result: Run | BaseException | None = None
        self._thread = threading.Thread(target=self._target, daemon=True)
        self._thread.start()

    def _target(self) -> None:
        try:
            self._result = self._run()
        except BaseException as exc:  # handed to the test that awaits the run
            self._result = exc

    def result(self) -> Run:
        self._thread.join(300)
        if isinstance(self._result, BaseException):
            raise self._result
        assert self._result is not None, "the background suite run did not finish"
        return self._result


@pytest.fixture(scope="module")
def mockcamb_target() -> Iterator[tuple[Server, Emulator]]:
    emu = Emulator(clock=ManualClock())
    emu.configure({"api_keys": [MOCKCAMB_KEY]})
    emu.create_task("story", "m-pending", {"steps": [{"status": "PENDING"}]})
    emu.create_task(
        "story",
        "m-throttled",
        {
            "steps": [{"status": "PENDING", "polls": 1}, {"status": "SUCCESS"}],
            "faults": [{"poll": 1, "http_status": 429, "retry_after": 1}],
        },
    )
    emu.create_task("project-setup", "m-done", "instant_success")
    server = Server(create_app(emu)).start()
    yield server, emu
    server.stop()


#: Variants too slow to run in-process one after another: run in the background instead.
SLOW = ("slow_answers",)


@pytest.fixture(scope="module", autouse=True)
def background(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Background]]:
    """The subprocess runs this module's selected tests need, started before its first test."""
    wanted = {item.name for item in request.session.items if item.module is request.module}
    runs: dict[str, Background] = {}
    servers: list[Served] = []
    if wanted & {
        "test_suite_passes_mockcamb_as_a_named_target",
        "test_named_target_gets_only_rate_limited_status_gets",
    }:
        target = request.getfixturevalue("mockcamb_target")[0]
        tmp = tmp_path_factory.mktemp("mockcamb")
        runs["mockcamb"] = Background(
            lambda: _run_suite(
                target.base_url,
                MOCKCAMB_KEY,
                ["story:m-pending", "story:m-throttled", "project-setup:m-done"],
                tmp,
                "--camb-max-rps",
                str(MOCKCAMB_RPS),
            )
        )
    for name in SLOW:
        if f"test_suite_passes_slow_servers[{name}]" not in wanted:
            continue
        variant = VARIANTS[name]
        served = Served(variant)
        servers.append(served)
        tmp = tmp_path_factory.mktemp(name)
        runs[name] = Background(
            functools.partial(
                _run_suite,
                served.base_url,
                API_KEY,
                variant.task_ids or TASK_IDS,
                tmp,
                "--camb-max-rps",
                "0",
                paths=variant.modules,
            )
        )
    if "test_no_key_for_a_named_target_skips_with_a_hint" in wanted:
        served = Served(VARIANTS["conforming_base"])
        servers.append(served)
        tmp = tmp_path_factory.mktemp("no-key")
        runs["no-key"] = Background(functools.partial(_no_key_run, served.base_url, tmp))
    try:
        yield runs
    finally:
        for run in runs.values():
            with contextlib.suppress(BaseException):
                run.result()
        for served in servers:
            served.stop()


@pytest.fixture(scope="module")
def mockcamb_run(background: dict[str, Background]) -> Run:
    """The whole suite, in a subprocess as a user runs it, against a mockcamb it is told is
    just some named target (rate limit 25/s; one task answers 429 Retry-After: 1 first)."""
    return background["mockcamb"].result()


#: Where each rule is checked: a broken server is run against that module only (the
#: conforming ones against the whole suite), to keep this file fast.
_RULE_MODULES = {
    "auth-missing-key": "test_auth.py",
    "auth-wrong-key": "test_auth.py",
    "auth-near-miss-key": "test_auth.py",
    "unknown-id-4xx": "test_task_ids.py",
    "error-json-body": "test_task_ids.py",
    "hostile-id-4xx": "test_task_ids.py",
}


def _run_in_process(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str, *extra: str
) -> Run:
    """The suite against variant ``name``, in this process (no interpreter start-up: the
    variants are many), with the live profile; the outer hypothesis profile is restored."""
    if "contract_tests.conftest" in sys.modules:
        # The outer session loaded the suite's conftest itself; a nested in-process run of
        # the same suite then shares its plugin state and can spin for ever.
        pytest.skip(
            "run the contract suite's self-tests in a pytest session of their own, without "
            "contract_tests/ (make test does: pytest tests, then pytest contract_tests)"
        )
    variant = VARIANTS[name]
    module = _RULE_MODULES.get(variant.rule or "", "test_status_endpoints.py")
    modules = variant.modules or ((module,) if variant.rule else ())
    targets = [str(SUITE / m) for m in modules] or [str(SUITE)]
    for var in [v for v in os.environ if v.startswith("CAMB_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "live")
    profile = settings.get_current_profile_name()
    server = Served(variant)
    # The outer session imported mockcamb already: its plugin cannot be assert-rewritten again.
    args = [*targets, "-p", "no:cacheprovider", "-q", "-rfs", "--camb-base-url", server.base_url]
    args += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    args += ["--camb-max-rps", "0", "--camb-api-key", API_KEY]
    for ref in variant.task_ids or TASK_IDS:
        args += ["--camb-task-id", ref]
    args += extra
    started = time.monotonic()
    try:
        result = pytester.runpytest_inprocess(*args)
    finally:
        server.stop()
        settings.load_profile(profile)
    output = "\n".join(result.outlines + result.errlines)
    return Run(int(result.ret), output, time.monotonic() - started)


def _failed_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("FAILED ")]


BROKEN = sorted(name for name, v in VARIANTS.items() if v.rule is not None)
CONFORMING = sorted(name for name, v in VARIANTS.items() if v.rule is None and name not in SLOW)


def _shows_no_key(output: str) -> None:
    """Neither the key nor a near miss that gives most of it away is in ``output``."""
    for shown in (API_KEY, API_KEY[:-1], API_KEY[1:], API_KEY.upper()):
        assert shown not in output, "the report shows (most of) the key"


@pytest.mark.parametrize("name", BROKEN)
def test_suite_fails_naming_the_broken_rule(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Each broken server fails the suite with a report that names the rule first, says what
    broke it and how to fix it."""
    variant = VARIANTS[name]
    run = _run_in_process(pytester, monkeypatch, name)
    _shows_no_key(run.output)
    assert run.code == 1, f"{name}: suite exit code {run.code}, expected 1\n{run.output[-3000:]}"
    failed = _failed_lines(run.output)
    assert failed, f"{name}: no test failed:\n{run.output[-3000:]}"
    named = [
        line for line in run.output.splitlines() if f"ContractViolation: [{variant.rule}] " in line
    ]
    assert named, f"{name}: no failure names [{variant.rule}]:\n{run.output[-5000:]}"
    assert all(" broken by " in line and ". Fix: " in line for line in named), named
    if variant.only_project_setup:
        wrong = [line for line in failed if "project-setup" not in line.split(" - ")[0]]
        assert not wrong, f"{name}: the story endpoint is right but these failed: {wrong}"
        assert " passed" in run.output.splitlines()[-1]


@pytest.mark.parametrize("name", CONFORMING)
def test_suite_passes_conforming_servers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    run = _run_in_process(pytester, monkeypatch, name)
    _shows_no_key(run.output)
    assert run.code == 0, f"{name}: suite failed against a conforming server:\n{run.output[-4000:]}"
    last = run.output.splitlines()[-1]
    assert " passed" in last and "failed" not in last and "error" not in last


@pytest.mark.parametrize("name", SLOW)
def test_suite_passes_slow_servers(background: dict[str, Background], name: str) -> None:
    """Answers that take 0.5-1 s each are within the suite's timeouts."""
    run = background[name].result()
    _shows_no_key(run.output)
    assert run.code == 0, f"{name}: suite failed against a conforming server:\n{run.output[-4000:]}"
    last = run.output.splitlines()[-1]
    assert " passed" in last and "failed" not in last and "error" not in last


def test_report_says_when_every_wrong_key_was_accepted(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A target that takes any non-empty key (``mockcamb serve`` without --api-key) is told
    so in one line, with what to do; a target that refuses some wrong keys is not."""
    run = _run_in_process(pytester, monkeypatch, "any_key_accepted")
    line = "was refused with 401 or 403: the target accepts any key"
    assert line in run.output, run.output[-3000:]
    assert "unless it is started with --api-key KEY" in run.output
    assert "near misses of the real key" in run.output
    run = _run_in_process(pytester, monkeypatch, "key_case_insensitive")
    assert run.code == 1
    assert line not in run.output


def test_every_rule_a_server_breaks_has_a_line_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Reading the report", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.M))
    broken = {v.rule for v in VARIANTS.values() if v.rule is not None}
    assert broken <= documented, f"rules without a README line: {sorted(broken - documented)}"


def test_allow_status_admits_more_statuses(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The vocabulary is open: statuses a user admits are no longer a failure."""
    extra = ("--camb-allow-status", "DONE", "--camb-allow-status", "RUNNING")
    run = _run_in_process(pytester, monkeypatch, "status_outside_vocabulary", *extra)
    assert run.code == 0, run.output[-3000:]


def test_suite_passes_mockcamb_as_a_named_target(mockcamb_run: Run) -> None:
    assert mockcamb_run.code == 0, mockcamb_run.output[-4000:]
    assert MOCKCAMB_KEY not in mockcamb_run.output
    assert "emulator-only test" in mockcamb_run.output  # skipped, with the reason


def test_named_target_gets_only_rate_limited_status_gets(
    mockcamb_run: Run, mockcamb_target: tuple[Server, Emulator]
) -> None:
    assert mockcamb_run.code == 0
    journal = mockcamb_target[1].journal()
    assert len(journal) > 20
    # The suite says how many requests it sent, and that is what the target saw, within the
    # live-profile budget the summary names.
    counted = re.search(
        r"(\d+) requests sent to \S+ \(a run under HYPOTHESIS_PROFILE=live stays within "
        r"\d+ a family x \d+ \+ \d+ polls x \d+ task ids = (\d+)\)",
        mockcamb_run.output,
    )
    assert counted, mockcamb_run.output[-2000:]
    assert int(counted[1]) == len(journal)
    assert len(journal) <= int(counted[2])
    bad = [
        (e["method"], e["path"])
        for e in journal
        if e["method"] != "GET"
        or not e["path"].startswith(("/apis/story/", "/apis/project-setup/"))
    ]
    assert not bad, f"requests other than status GETs: {bad[:5]}"
    walls = sorted(e["wall"] for e in journal)
    rate = (len(walls) - 1) / (walls[-1] - walls[0])
    assert rate <= MOCKCAMB_RPS * 1.1, f"{rate:.1f} requests/s against a ceiling of {MOCKCAMB_RPS}"
    throttled = [e for e in journal if e["task_id"] == "m-throttled"]
    assert throttled[0]["status_code"] == 429
    assert throttled[1]["status_code"] == 200, "the suite did not retry after the 429"
    assert throttled[1]["wall"] - throttled[0]["wall"] >= 0.9, "Retry-After: 1 was not honoured"


def _no_key_run(base_url: str, tmp: Path) -> Run:
    """The whole suite against a named target, with neither a key nor task ids."""
    env = _env_without_camb()
    env["HYPOTHESIS_PROFILE"] = "live"
    started = time.monotonic()
    proc = _suite_process(
        tmp,
        [str(SUITE)],
        ["-rs", "--camb-base-url", base_url, "--camb-max-rps", "0"],
        env,
        timeout=120,
    )
    return Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)


def test_no_key_for_a_named_target_skips_with_a_hint(background: dict[str, Background]) -> None:
    run = background["no-key"].result()
    out = run.output
    assert run.code == 0, out
    assert "error" not in out.splitlines()[-1]
    assert "set CAMB_API_KEY" in out and "CAMB_TASK_IDS" in out
    # Auth needs no key: those tests still ran against the named target, and passed.
    assert " passed" in out.splitlines()[-1]


def test_bad_option_is_a_usage_error(tmp_path: Path) -> None:
    proc = _suite_process(
        tmp_path,
        [str(SUITE)],
        ["--camb-base-url", "http://127.0.0.1:9/apis", "--camb-task-id", "video:abc"],
        _env_without_camb(),
        timeout=60,
    )
    assert proc.returncode == 4
    assert "--camb-task-id: expected KIND:ID" in proc.stderr
