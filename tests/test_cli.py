"""The ``mockcamb`` command, run as a user runs it: a real process, real signals, real HTTP."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from _serve import CMD, run, serve


def test_serve_answers_and_stops_cleanly_on_sigterm() -> None:
    with serve() as (proc, url):
        r = requests.get(f"{url}/apis/story/x", headers={"x-api-key": "super-secret"}, timeout=5)
        assert r.status_code == 404 and r.json()["detail"]
        assert requests.get(f"{url}/__admin/health", timeout=5).json()["clock"] == "real"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert proc.stderr is not None
        rest = proc.stderr.read()
        assert "stopped" in rest and "super-secret" not in rest and "Traceback" not in rest


def test_serve_stops_cleanly_on_sigint() -> None:
    with serve() as (proc, _):
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0


def test_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--port", str(port))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "already in use" in lines[0] and "--port" in lines[0]


def test_options_shape_the_emulator(tmp_path: Path) -> None:
    scenario = tmp_path / "quick.yaml"
    scenario.write_text("steps:\n  - {status: PENDING, polls: 1}\n  - {status: FAILED}\n")
    with serve(
        "--clock",
        "manual",
        "--api-key",
        "k1",
        "--api-key",
        "k2",
        "--unknown-task",
        "auto",
        "--default-scenario",
        str(scenario),
        "--seed",
        "5",
    ) as (_, url):
        assert requests.get(f"{url}/apis/story/a", headers={"x-api-key": "k3"}).status_code == 401
        answers = [
            requests.get(f"{url}/apis/story/a", headers={"x-api-key": k}).json()["status"]
            for k in ("k1", "k2")
        ]
        assert answers == ["PENDING", "FAILED"]
        assert requests.get(f"{url}/__admin/clock").json() == {"now": 0, "kind": "manual"}
        settings = requests.get(f"{url}/__admin/settings").json()
        assert settings["seed"] == 5 and settings["api_keys"] == {"count": 2}


def test_config_file_preloads_tasks_and_settings(tmp_path: Path) -> None:
    config = tmp_path / "mock.yaml"
    config.write_text(
        "clock: manual\n"
        "settings:\n  api_keys: [from-config]\n  latency: {fixed_ms: 1}\n"
        "tasks:\n"
        "  - {kind: story, task_id: fixed-1, scenario: instant_success}\n"
        "  - kind: project-setup\n    task_id: p-1\n"
        "    scenario: {steps: [{status: TIMEOUT}]}\n"
    )
    with serve("--config", str(config)) as (_, url):
        h = {"x-api-key": "from-config"}
        assert requests.get(f"{url}/apis/story/fixed-1", headers=h).json()["status"] == "SUCCESS"
        assert (
            requests.get(f"{url}/apis/project-setup/p-1", headers=h).json()["status"] == "TIMEOUT"
        )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("- just a list\n", "must be a mapping"),
        ("colour: red\n", "colour: unknown key"),
        ("settings: {journal_size: lots}\n", "settings.journal_size"),
        ("tasks:\n  - {kind: story, scenario: nope}\n", "tasks[0]"),
        (
            "tasks:\n  - {kind: story, task_id: a, scenario: {steps: [{status: 3}]}}\n",
            "steps[0].status",
        ),
        ("clock: sundial\n", "clock"),
        ("{{{\n", "not valid"),
    ],
)
def test_bad_config_files_exit_2_with_the_reason(tmp_path: Path, content: str, words: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    result = run("serve", "--port", "0", "--config", str(config))
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["serve", "--port", "http"], "--port"),
        (["serve", "--port", "70000"], "--port"),
        (["serve", "--clock", "sundial"], "--clock"),
        (["serve", "--time-scale", "-1"], "--time-scale"),
        (["serve", "--unknown-task", "maybe"], "--unknown-task"),
        (["serve", "--default-scenario", "nope"], "no preset named"),
        (["serve", "--default-scenario", "/no/such/file.yaml"], "cannot be read"),
        (["serve", "--config", "/no/such/config.yaml"], "no such file"),
        (["serve", "--threads", "0"], "--threads"),
        (["serve", "--seed", "x"], "--seed"),
        (["frobnicate"], "invalid choice"),
        ([], "usage"),
    ],
)
def test_usage_errors_exit_2(args: list[str], words: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert words in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_exposed_host_warning_text() -> None:
    proc = subprocess.Popen(
        [*CMD, "serve", "--host", "0.0.0.0", "--port", "0"], stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    proc.stderr.close()
    assert "WARNING" in first and "0.0.0.0" in first and "--admin-token" in first


@pytest.mark.parametrize("sub", [[], ["serve"], ["validate"], ["presets"]])
def test_help_is_complete(sub: list[str]) -> None:
    result = run(*sub, "--help")
    assert result.returncode == 0
    if sub == ["serve"]:
        for option in (
            "--host",
            "--port",
            "--config",
            "--clock",
            "--time-scale",
            "--seed",
            "--api-key",
            "--unknown-task",
            "--default-scenario",
            "--admin-token",
        ):
            assert option in result.stdout


def test_validate(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"steps": [{"status": "SUCCESS"}]}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - {status: SUCCESS, polls: 2}\n  - {status: PENDING}\n")
    ok = run("validate", str(good))
    assert ok.returncode == 0 and "ok" in ok.stdout
    failed = run("validate", str(good), str(bad))
    assert failed.returncode == 2 and "steps[0].status" in failed.stderr


def test_validate_reports_every_problem_with_its_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "steps:\n"
        "  - {status: SUCCESS, polls: 1}\n"
        "  - status: PENDING\n"
        "    polls: 0\n"
        "faults:\n"
        "  - {poll: 0, http_status: 503}\n"
    )
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("steps: [unclosed\n")
    one = tmp_path / "one.json"
    one.write_text(
        json.dumps({"steps": [{"status": "SUCCESS"}], "faults": [{"poll": 1, "http_status": 503}]})
    )
    result = run("validate", str(broken), str(bad_yaml), str(one))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{broken}:2: steps[0].status: SUCCESS is final and may only be the last step's status "
        "(a final status never changes)",
        f"{broken}:3: steps[1]: is the last step, which holds for ever; remove 'polls'/'seconds' "
        "or add a step after it",
        f"{broken}:4: steps[1].polls: must be an integer >= 1, got 0",
        f"{broken}:6: faults[0].poll: must be an integer >= 1, got 0",
        f"{bad_yaml}:2: is not valid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at line 1)",
    ]
    assert result.stdout == f"{one}: ok (1 step, 1 fault)\n"


def test_validate_warns_of_near_miss_statuses_and_strict_fails_on_them(tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text("steps:\n  - {status: PENDING, polls: 1}\n  - {status: SUCESS}\n")
    lower = tmp_path / "lower.json"
    lower.write_text('{"steps": [{"status": "success"}]}')
    result = run("validate", str(typo), str(lower))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f'{typo}:3: warning: steps[1].status: "SUCESS" is a custom status, so the task never '
        "finishes; did you mean SUCCESS?",
        f'{lower}:1: warning: steps[0].status: "success" is a custom status, so the task never '
        "finishes; did you mean SUCCESS?",
    ]
    assert result.stdout.splitlines() == [
        f"{typo}: ok (2 steps, 0 faults), 1 warning",
        f"{lower}: ok (1 step, 0 faults), 1 warning",
    ]
    strict = run("validate", "--strict", str(typo))
    assert strict.returncode == 2 and strict.stdout == ""
    assert strict.stderr.startswith(f"{typo}:3: steps[1].status: ") and "SUCCESS?" in strict.stderr
    assert run("validate", "--strict", str(tmp_path / "missing.yaml")).returncode == 2


def test_serve_prints_the_config_warnings_once_as_it_starts(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "typo.yaml").write_text(
        "steps:\n  - {status: PENDING, polls: 1}\n  - {status: SUCESS}\n"
    )
    config = tmp_path / "mock.yaml"
    config.write_text("tasks:\n  - {kind: story, task_id: t, scenario: scenarios/typo.yaml}\n")
    proc = subprocess.Popen(
        [*CMD, "serve", "--port", "0", "--config", str(config)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    before: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            match = re.search(r"listening on (http://\S+)/apis", line)
            if match:
                break
            before.append(line.rstrip("\n"))
        assert match, before
        answer = requests.get(f"{match.group(1)}/apis/story/t", headers={"x-api-key": "k"})
        assert answer.json()["status"] == "PENDING"  # the file was found from the config
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        rest = proc.stderr.read()
        proc.stderr.close()
    typo = tmp_path / "scenarios" / "typo.yaml"
    assert before == [
        f"mockcamb: {config}:2: tasks[0].scenario: {typo}:3: warning: steps[1].status: "
        '"SUCESS" is a custom status, so the task never finishes; did you mean SUCCESS?'
    ]
    assert "SUCESS" not in rest  # not again from the server's worker


def test_validate_every_shipped_fixture() -> None:
    files = sorted(str(p) for p in (Path(__file__).parent.parent / "fixtures/scenarios").glob("*"))
    result = run("validate", "--strict", *files)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_presets_list_and_show() -> None:
    listing = run("presets")
    assert listing.returncode == 0 and "happy_path" in listing.stdout
    shown = run("presets", "flaky_network")
    assert shown.returncode == 0 and "drop_connection" in shown.stdout
    assert run("presets", "nope").returncode == 2


def test_config_file_names_the_store(tmp_path: Path) -> None:
    config = tmp_path / "store.yaml"
    config.write_text("store: memory\ntasks:\n  - {kind: story, task_id: s, scenario: error}\n")
    with serve("--config", str(config)) as (_, url):
        r = requests.get(f"{url}/apis/story/s", headers={"x-api-key": "k"}, timeout=5)
        assert r.json()["status"] == "PENDING"
    bad = tmp_path / "bad-store.yaml"
    bad.write_text("store: 5\n")
    result = run("serve", "--port", "0", "--config", str(bad))
    assert result.returncode == 2 and "store: must be a string" in result.stderr
    prefix_only = tmp_path / "prefix.yaml"
    prefix_only.write_text("store_prefix: team-a\n")
    result = run("serve", "--port", "0", "--config", str(prefix_only))
    assert result.returncode == 2 and "--store-prefix" in result.stderr


def test_validate_reports_bad_fault_windows_with_their_lines(tmp_path: Path) -> None:
    timed = tmp_path / "timed.yaml"
    timed.write_text(
        "steps:\n"
        "  - {status: PENDING, seconds: 30}\n"
        "  - {status: SUCCESS}\n"
        "faults:\n"
        "  - {seconds: [10, 20], http_status: 502}\n"
        "  - {seconds: [[0, 1], [60, null]], type: drop_connection}\n"
    )
    ok = run("validate", str(timed))
    assert ok.returncode == 0 and f"{timed}: ok (2 steps, 2 faults)" in ok.stdout, ok.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "steps: [{status: SUCCESS}]\n"
        "faults:\n"
        "  - {seconds: 12.5, http_status: 502}\n"
        "  - {seconds: [20, 10], http_status: 502}\n"
        "  - {seconds: [1, 2], poll: 3, http_status: 502}\n"
    )
    result = run("validate", str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{bad}:3: faults[0].seconds: must be a window [from, to) of ")
    assert lines[0].endswith("got 12.5")
    assert lines[1] == (
        f"{bad}:4: faults[1].seconds: ends (10) before it starts (20): 'to' must be above 'from'"
    )
    assert lines[2].startswith(f"{bad}:5: faults[2]: needs exactly one of 'poll'")
