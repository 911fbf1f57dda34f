"""Every code sample in README.md runs: Python blocks are executed, shell blocks are run
against a live emulator (with its port swapped in), JSON scenarios parse, YAML configs load,
and `mockcamb validate` sessions print what they show, on the scenario files shown."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mockcamb.core.config import load_config, preload
from mockcamb.core.emulator import Emulator
from mockcamb.core.scenario import parse_scenario
from mockcamb.http.app import create_app
from mockcamb.serve.waitress import Server

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", README, flags=re.S | re.M)


def blocks(lang: str) -> list[str]:
    """Blocks of one language; python blocks that are pytest files are left to their test."""
    return [body for kind, body in BLOCKS if kind == lang and not _pytest_file(body)]


def _pytest_file(body: str) -> str | None:
    first = body.splitlines()[0] if body else ""
    match = re.fullmatch(r"# ((?:test_\w+|conftest)\.py)", first.strip())
    return match.group(1) if match else None


def pytest_projects() -> list[tuple[str, dict[str, str]]]:
    """(section title, {file name: source}) for each section holding pytest-file samples."""
    projects: list[tuple[str, dict[str, str]]] = []
    for section in re.split(r"^(?=#{2,3} )", README, flags=re.M):
        files = {
            name: body
            for kind, body in re.findall(r"^```(\w+)\n(.*?)^```", section, flags=re.S | re.M)
            if kind == "python" and (name := _pytest_file(body))
        }
        if files:
            projects.append((section.splitlines()[0].lstrip("# "), files))
    return projects


def test_the_readme_has_samples_of_each_kind() -> None:
    assert len(blocks("python")) >= 2 and blocks("sh") and blocks("json") and blocks("yaml")
    assert "make serve" in README and "make test" in README


@pytest.mark.parametrize("code", blocks("python"), ids=lambda c: c.splitlines()[0][:50])
def test_python_samples_run(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    if "redis://127.0.0.1:6379/0" in code:  # the Redis sample runs on the test run's Redis
        from _redis import redis_url

        code = code.replace("redis://127.0.0.1:6379/0", redis_url())
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_sample"})


def _commands(script: str) -> list[tuple[str, str]]:
    """(command, expectation after '#') pairs, joining backslash continuations."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in script.splitlines():
        command, _, comment = line.partition("   #")
        if command.rstrip().endswith("\\"):
            pending += command.rstrip()[:-1] + " "
            continue
        out.append((pending + command.strip(), comment.strip()))
        pending = ""
    return [(c, e) for c, e in out if c]


@pytest.mark.parametrize(
    ("title", "files"), pytest_projects(), ids=[t[:40] for t, _ in pytest_projects()]
)
def test_pytest_samples_pass_in_a_project_of_their_own(
    title: str, files: dict[str, str], tmp_path: Path
) -> None:
    for name, body in files.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


_SHELL_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith(("CAMB_", "PYTEST_"))},
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
}


@pytest.mark.parametrize("script", blocks("sh"), ids=lambda s: s.split()[0])
def test_shell_samples_run_against_a_live_emulator(script: str) -> None:
    with Server(create_app(Emulator()), "127.0.0.1", 0) as srv:
        for command, expected in _commands(script):
            command = command.replace("127.0.0.1:8080", f"127.0.0.1:{srv.port}")
            done = subprocess.run(
                ["bash", "-c", command],
                capture_output=True,
                text=True,
                timeout=120,
                env=_SHELL_ENV,  # `mockcamb` is the one installed beside this interpreter
            )
            assert done.returncode == 0, (command, done.stderr)
            if expected.startswith("{"):
                assert json.loads(done.stdout) == json.loads(expected), command
            elif expected:
                assert json.loads(done.stdout)["status"] == expected, command


@pytest.mark.parametrize("doc", blocks("json"))
def test_json_samples_are_valid_scenarios(doc: str) -> None:
    parse_scenario(json.loads(doc))


@pytest.mark.parametrize("doc", blocks("yaml"))
def test_yaml_samples_are_valid_configs(
    doc: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config sits at the top of a project: the scenario files it names are found from
    there, wherever the server is started."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "fixtures", project / "fixtures")
    path = project / "config.yaml"
    path.write_text(doc)
    monkeypatch.chdir(tmp_path)
    emu = Emulator()
    config = load_config(path)
    preload(emu, config)
    tasks = config.get("tasks") or []
    assert emu.task_count() == len(tasks) >= 1
    for task in tasks:  # a recorded/<name> stays a name, found in settings.scenarios
        found = emu.get_task(task["kind"], task["task_id"])
        assert found is not None
        if isinstance(task["scenario"], str):
            assert found.scenario.name == task["scenario"]


def scenario_files() -> dict[str, str]:
    """The scenario files the README shows: ``yml`` blocks whose first line is ``# NAME``."""
    files: dict[str, str] = {}
    for kind, body in BLOCKS:
        match = re.match(r"# ([\w-]+\.ya?ml)\n", body)
        if kind == "yml" and match:
            files[match.group(1)] = body
    return files


def validate_sessions() -> list[str]:
    """``console`` blocks in which every command is a ``mockcamb validate``."""
    return [
        body
        for kind, body in BLOCKS
        if kind == "console"
        and all(
            line.startswith("$ mockcamb validate ")
            for line in body.splitlines()
            if line.startswith("$ ")
        )
    ]


def test_the_readme_shows_validate_sessions() -> None:
    assert len(scenario_files()) >= 2 and validate_sessions()
    assert any("--strict" in session for session in validate_sessions())


@pytest.mark.parametrize("session", validate_sessions(), ids=lambda s: s.split("\n")[0][2:40])
def test_validate_sessions_print_what_the_readme_shows(session: str, tmp_path: Path) -> None:
    for name, body in scenario_files().items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    shown: list[str] = []
    printed: list[str] = []
    for line in session.splitlines():
        if not line.startswith("$ "):
            shown.append(line)
            continue
        shown.append(line)
        printed.append(line)
        done = subprocess.run(
            ["bash", "-c", line[2:]],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
        )
        printed.extend(done.stdout.splitlines())
    assert printed == shown
