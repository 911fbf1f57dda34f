"""A downstream project whose only dependency is the installed package: its tests use the
fixtures alone (the plugin loads through its entry point) and pass, in a folder outside this
repository. Also: options, environment variables and fixture overrides; no autouse; and
(opt-in, slow) a wheel built with ``python -m build`` that installs and serves."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

APP = '''
"""The downstream application: a CAMB.AI client with the real base URL by default."""
import time

import requests

BASE_URL = "https://client.camb.ai/apis"
FINAL = {"SUCCESS", "FAILED", "ERROR", "TIMEOUT", "PAYMENT_REQUIRED"}


def dub(media_url, api_key, base_url=BASE_URL, every=15.0, max_wait=1800.0):
    """Start a project setup, poll it every ``every`` s, return (status, result or None)."""
    headers = {"x-api-key": api_key}
    created = requests.post(f"{base_url}/project-setup", headers=headers, timeout=10, json={
        "media_url": media_url, "source_language": 1, "target_languages": [76]})
    created.raise_for_status()
    task_id = created.json()["task_id"]
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        try:
            reply = requests.get(f"{base_url}/project-setup/{task_id}", headers=headers,
                                 timeout=10)
        except requests.ConnectionError:
            reply = None
        if reply is not None and reply.status_code == 200:
            body = reply.json()
            if body["status"] in FINAL:
                if body["status"] != "SUCCESS":
                    return body["status"], None
                result = requests.get(f"{base_url}/project-setup-result/{body['run_id']}",
                                      headers=headers, timeout=10)
                return "SUCCESS", result.json()
        time.sleep(every)
    return "GAVE_UP", None
'''

TESTS = """
import asyncio
import sys
import time

import pytest
import requests

import mockcamb
from mockcamb.testing import serve_in_thread
from camb_app import dub


def test_a_test_without_fixtures_starts_nothing():
    assert "waitress" not in sys.modules and "flask" not in sys.modules


def test_http_fixture_and_virtual_sleep(mockcamb, mockcamb_virtual_sleep):
    assert mockcamb.base_url.endswith("/apis")
    mockcamb.configure(default_scenario="ten_minute_job")
    status, result = dub("https://example.invalid/v.mp4", mockcamb.api_key, mockcamb.base_url)
    assert status == "SUCCESS"
    assert result["project_details"]["studio_url"]
    assert mockcamb.now() == 600
    polls = [e for e in mockcamb.requests(kind="project-setup") if e["method"] == "GET"]
    assert len(polls) == 42  # 41 status polls and the result


def test_each_test_starts_clean(mockcamb):
    assert mockcamb.tasks() == [] and mockcamb.requests() == [] and mockcamb.now() == 0
    assert mockcamb.settings.default_scenario.name == "happy_path"


def test_failure_and_giving_up(mockcamb, mockcamb_virtual_sleep):
    mockcamb.configure(default_scenario="never_finishes")
    status, _ = dub("u", mockcamb.api_key, mockcamb.base_url, every=60, max_wait=600)
    assert status == "GAVE_UP"
    assert mockcamb_virtual_sleep.elapsed == 600
    mockcamb.configure(default_scenario="payment_required")
    assert dub("u", mockcamb.api_key, mockcamb.base_url)[0] == "PAYMENT_REQUIRED"


def test_in_process_with_the_real_base_url(mockcamb_responses, mockcamb_virtual_sleep):
    mockcamb_responses.configure(default_scenario="flaky_network")
    status, result = dub("u", "any-key")  # the application's own default base URL
    assert status == "SUCCESS" and result["run_id"]
    codes = [e["status_code"] for e in mockcamb_responses.requests()]
    assert 503 in codes and 429 in codes


def test_asyncio_code(mockcamb, mockcamb_virtual_sleep):
    task_id = mockcamb.create_task("story", "ten_minute_job")

    async def wait():
        while True:
            body = requests.get(f"{mockcamb.base_url}/story/{task_id}",
                                headers=mockcamb.headers).json()
            if body["status"] == "SUCCESS":
                return body
            await asyncio.sleep(15)

    assert asyncio.run(wait())["run_id"]


def test_serve_in_thread():
    with serve_in_thread(settings={"default_scenario": "instant_success"}) as mock:
        assert dub("u", mock.api_key, mock.base_url)[0] == "SUCCESS"
"""

OVERRIDES_CONFTEST = """
import pytest


@pytest.fixture(scope="session")
def mockcamb_settings():
    return {"unknown_task": "auto", "api_keys": ["team-key"]}
"""

OVERRIDES_TEST = """
import os

import requests


def test_options_env_and_overridden_fixtures(mockcamb):
    assert mockcamb.base_url == f"http://127.0.0.1:{os.environ['EXPECTED_PORT']}/apis"
    assert mockcamb.api_key == "team-key"
    reply = requests.get(f"{mockcamb.base_url}/story/anything", headers=mockcamb.headers)
    assert reply.json()["status"] == "PENDING"  # unknown_task=auto from the conftest
    assert requests.get(reply.url, headers={"x-api-key": "other"}).status_code == 401
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run_pytest(
    project: Path, *args: str, env: dict[str, str] | None = None, python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "MOCKCAMB_"))}
    return subprocess.run(
        [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-W", "error", *args],
        cwd=project,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=240,
    )


def write_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "camb_app.py").write_text(APP)
    (root / "test_app.py").write_text(TESTS)
    return root


def test_a_downstream_project_uses_the_fixtures_alone(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    assert REPO not in project.parents
    result = run_pytest(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b7 passed\b", result.stdout), result.stdout


def test_options_environment_and_fixture_overrides(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(OVERRIDES_CONFTEST)
    (tmp_path / "test_overrides.py").write_text(OVERRIDES_TEST)
    port = free_port()
    env = {"MOCKCAMB_HOST": "127.0.0.1", "MOCKCAMB_API_KEY": "team-key", "EXPECTED_PORT": str(port)}
    result = run_pytest(tmp_path, f"--mockcamb-port={port}", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    env["EXPECTED_PORT"] = str(port + 1) if port < 65535 else str(port - 1)
    result = run_pytest(tmp_path, env={**env, "MOCKCAMB_PORT": env["EXPECTED_PORT"]})
    if "already in use" not in result.stdout:
        assert result.returncode == 0, result.stdout + result.stderr


def test_a_bad_port_is_a_usage_error_naming_the_option(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_x.py").write_text("def test_x(mockcamb):\n    pass\n")
    result = run_pytest(tmp_path, "--mockcamb-port=http")
    assert result.returncode != 0
    assert "--mockcamb-port / MOCKCAMB_PORT: must be a port from 0 to 65535" in (
        result.stdout + result.stderr
    )


def test_the_options_are_in_pytest_help(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    result = run_pytest(tmp_path, "--help")
    assert "--mockcamb-host=HOST" in result.stdout
    assert "MOCKCAMB_PORT" in result.stdout


def test_the_plugin_is_light_to_import() -> None:
    code = (
        "import sys, mockcamb.pytest_plugin; "
        "heavy = {'flask', 'waitress', 'werkzeug', 'responses', 'requests', 'jinja2'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


def test_package_data_ships_every_data_file_and_each_glob_matches_one() -> None:
    """What the wheel takes besides modules (``[tool.setuptools.package-data]``): every glob
    matches a file of the package, and every file of the package that is not Python is
    matched by one (a new data file the wheel would leave out fails here, not in a user's
    venv). The slow test below checks the built wheel itself."""
    tomllib = pytest.importorskip("tomllib")
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["mockcamb"]
    root = REPO / "mockcamb"
    for pattern in globs:
        assert list(root.glob(pattern)), f"package-data {pattern!r} matches no file"
    data = {
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    shipped = {p for pattern in globs for p in root.glob(pattern)}
    assert data <= shipped, f"not in package-data: {sorted(map(str, data - shipped))}"


@pytest.mark.skipif(
    os.environ.get("MOCKCAMB_SLOW_TESTS") != "1",
    reason="builds a wheel and installs it with its dependencies in a fresh venv (~1 min, "
    "needs the package index); set MOCKCAMB_SLOW_TESTS=1",
)
def test_the_built_wheel_installs_in_a_fresh_venv_and_serves(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = dist.glob("mockcamb-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", f"{wheel}[dev]"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    check = (
        "import mockcamb, pathlib, requests; from mockcamb.testing import serve_in_thread\n"
        "root = pathlib.Path(mockcamb.__file__).parent\n"
        "assert (root / 'scenario.schema.json').is_file(), 'schema not shipped'\n"
        "assert (root / 'http/templates/dashboard.html').is_file(), 'template not shipped'\n"
        "assert (root / 'presets/happy_path.yaml').is_file(), 'presets not shipped'\n"
        "assert (root / 'stores/redis/poll.lua').is_file(), 'lua scripts not shipped'\n"
        "assert (root / 'py.typed').is_file(), 'py.typed not shipped'\n"
        "with serve_in_thread() as m:\n"
        "    t = m.create_task('story', 'instant_success')\n"
        "    assert requests.get(f'{m.base_url}/story/{t}', headers=m.headers).ok\n"
        "    assert requests.get(f'{m.url}/__admin/').ok\n"
        "    assert requests.get(f'{m.url}/openapi.json').ok\n"
    )
    subprocess.run([python, "-c", check], check=True, timeout=120, cwd=tmp_path)
    project = write_project(tmp_path / "project")
    start = time.monotonic()
    result = run_pytest(project, python=python)
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - start < 120
