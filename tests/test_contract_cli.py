"""``mockcamb contract`` and ``pytest --pyargs contract_tests``: the contract suite run from the
installed package, outside this repository, against a conforming server and a broken one
(tests/broken_servers.py); exit 0, 1 and 2; the key never on a command line or in the output.
Opt-in (slow): the same from a built wheel installed into a fresh venv."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from broken_servers import API_KEY, TASK_IDS, VARIANTS, make_app

from mockcamb.contract_cli import configure_parser, pytest_command, suite_path
from mockcamb.serve.waitress import Server

REPO = Path(__file__).resolve().parent.parent
CONFORMING, BROKEN = "conforming_base", "any_key_accepted"
BROKEN_RULE = "[auth-wrong-key]"


@pytest.fixture(scope="module")
def targets() -> Iterator[dict[str, str]]:
    """A conforming status server and one that accepts any key, on free ports."""
    servers = {
        name: Server(make_app(VARIANTS[name]), threads=4).start() for name in (CONFORMING, BROKEN)
    }
    try:
        yield {name: server.base_url for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()


def _env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CAMB_", "PYTEST_", "HYPOTHESIS_", "MOCKCAMB_"))
    }


def _task_args(flag: str = "--task-id") -> list[str]:
    return [arg for ref in TASK_IDS for arg in (flag, ref)]


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = subprocess.run(
        command, cwd=cwd, env=env or _env(), capture_output=True, text=True, timeout=300
    )
    return done.returncode, done.stdout + done.stderr


def contract(mockcamb: list[str], base_url: str, cwd: Path, *extra: str) -> tuple[int, str]:
    return run(
        [
            *mockcamb,
            "contract",
            "--base-url",
            base_url,
            "--api-key",
            API_KEY,
            *_task_args(),
            "--max-rps",
            "0",
            *extra,
        ],
        cwd,
    )


def pyargs(python: str, base_url: str, cwd: Path, *extra: str) -> tuple[int, str]:
    env = {**_env(), "CAMB_API_KEY": API_KEY, "HYPOTHESIS_PROFILE": "live"}
    command = [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--pyargs"]
    command += ["contract_tests", "--camb-base-url", base_url, "--camb-max-rps", "0"]
    return run([*command, *_task_args("--camb-task-id"), *extra], cwd, env)


MOCKCAMB = [sys.executable, "-m", "mockcamb"]


def test_mockcamb_contract_passes_a_conforming_target(
    targets: dict[str, str], tmp_path: Path
) -> None:
    code, out = contract(MOCKCAMB, targets[CONFORMING], tmp_path)
    assert code == 0, out[-3000:]
    assert " passed" in out and "failed" not in out.splitlines()[-1]
    assert API_KEY not in out
    assert "emulator-only test" in out  # skipped against a named target, with the reason


def test_mockcamb_contract_fails_a_broken_target_naming_the_rule(
    targets: dict[str, str], tmp_path: Path
) -> None:
    code, out = contract(MOCKCAMB, targets[BROKEN], tmp_path, "--", "-k", "auth")
    assert code == 1, out[-3000:]
    assert BROKEN_RULE in out and API_KEY not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--task-id", "video:1"], "expected FAMILY:ID"),
        (["--family", "video"], "must be `all` or one of story"),
        (["--base-url", "ftp://x"], "must start with http:// or https://"),
        (["--base-url", "http://127.0.0.1:9/apis", "--max-rps", "fast"], "--camb-max-rps"),
        (["--base-url", "http://127.0.0.1:9/apis", "--polls", "1"], "--camb-polls"),
        (["stray"], "pytest's own options go after --"),
        (["--base-url", "http://127.0.0.1:9/apis", "--", "-k", "no_such_test"], "no test"),
        (["--profile", "fast"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], message: str, tmp_path: Path) -> None:
    code, out = run([*MOCKCAMB, "contract", *argv], tmp_path)
    assert code == 2, out[-2000:]
    assert message in out
    assert "Traceback" not in out


def test_the_key_goes_in_the_environment_not_the_command_line(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    args = parser.parse_args(
        [
            "--base-url",
            "http://h/apis",
            "--api-key",
            "secret-k",
            "--task-id",
            "story:1",
            "--allow-status",
            "DONE",
            "--family",
            "dub",
            "--polls",
            "4",
            "--client",
            "m:f",
            "--conformance-relax",
            "politeness",
            "--max-rps",
            "2",
            "--",
            "-x",
        ]
    )
    suite = suite_path()
    assert suite is not None and (suite / "conftest.py").is_file()
    command = pytest_command(args, suite, tmp_path / "pytest.ini")
    assert "secret-k" not in " ".join(command)
    for option in (
        "--camb-family",
        "--camb-base-url",
        "--camb-task-id",
        "--camb-allow-status",
        "--camb-polls",
        "--camb-client",
        "--camb-conformance-relax",
        "--camb-max-rps",
    ):
        assert option in command
    assert command[-1] == "-x" and "--" not in command


def test_pytest_pyargs_runs_the_suite_with_its_options(
    targets: dict[str, str], tmp_path: Path
) -> None:
    code, out = pyargs(sys.executable, targets[CONFORMING], tmp_path)
    assert code == 0, out[-3000:]
    code, out = pyargs(sys.executable, targets[BROKEN], tmp_path, "-k", "auth")
    assert code == 1 and BROKEN_RULE in out, out[-3000:]
    code, out = pyargs(sys.executable, targets[BROKEN], tmp_path, "--camb-polls", "x")
    assert code == 4 and "--camb-polls" in out


@pytest.mark.skipif(
    os.environ.get("MOCKCAMB_SLOW_TESTS") != "1",
    reason="builds a wheel and installs it with its dependencies in a fresh venv (~1 min, "
    "needs the package index); set MOCKCAMB_SLOW_TESTS=1",
)
def test_the_wheel_runs_the_contract_suite_from_a_fresh_venv(
    targets: dict[str, str], tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = dist.glob("mockcamb-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "contract_tests/conftest.py" in names and "contract_tests/test_auth.py" in names
    assert not any(n.startswith("tests/") for n in names)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    subprocess.run(  # the package alone: no extras
        [python, "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    project = tmp_path / "elsewhere"  # not this repository: only the installed suite exists
    project.mkdir()
    mockcamb = [str(env_dir / "bin" / "mockcamb")]
    code, out = contract(mockcamb, targets[CONFORMING], project)
    assert code == 0, out[-3000:]
    where = run([python, "-c", "import contract_tests; print(contract_tests.__file__)"], project)
    assert where[1].startswith(str(env_dir)), where  # the wheel's suite, not this checkout's
    code, out = contract(mockcamb, targets[BROKEN], project)
    assert code == 1 and BROKEN_RULE in out and API_KEY not in out, out[-3000:]
    code, out = run([*mockcamb, "contract", "--task-id", "video:1"], project)
    assert code == 2 and "expected FAMILY:ID" in out
    code, out = pyargs(python, targets[CONFORMING], project)
    assert code == 0, out[-3000:]
    code, out = pyargs(python, targets[BROKEN], project)
    assert code == 1 and BROKEN_RULE in out, out[-3000:]
