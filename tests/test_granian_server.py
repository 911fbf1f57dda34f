"""``mockcamb serve`` on granian (the default) and on waitress: the behaviours that depend on
the server, checked through a real process and real HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from _serve import serve

from mockcamb.http.wsgi import wait_out

KEY = {"x-api-key": "k"}


def _task(url: str, task_id: str, scenario: dict[str, Any]) -> None:
    r = requests.post(
        f"{url}/__admin/tasks",
        json={"kind": "story", "task_id": task_id, "scenario": scenario},
        timeout=5,
    )
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_both_servers_answer_the_same(server: str, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("tasks:\n  - {kind: story, task_id: t, scenario: instant_success}\n")
    with serve("--server", server, "--config", str(config), "--clock", "manual") as (proc, url):
        r = requests.get(f"{url}/apis/story/t", headers=KEY, timeout=5)
        assert r.status_code == 200 and r.json()["status"] == "SUCCESS"
        assert r.headers["Content-Type"] == "application/json"
        missing = requests.get(f"{url}/apis/story/nope", headers=KEY, timeout=5)
        assert missing.status_code == 404 and missing.json()["detail"]
        created = requests.post(f"{url}/__admin/tasks", json={"kind": "story"}, timeout=5)
        assert created.status_code == 201
        bad = requests.post(f"{url}/__admin/tasks", data=b"{nope", timeout=5)
        assert bad.status_code == 400 and "detail" in bad.json()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()


@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_drop_connection_breaks_the_connection_and_the_server_still_stops(server: str) -> None:
    with serve("--server", server) as (proc, url):
        _task(
            url,
            "d",
            {"steps": [{"status": "PENDING"}], "faults": [{"poll": 1, "type": "drop_connection"}]},
        )
        with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
            requests.get(f"{url}/apis/story/d", headers=KEY, timeout=5)
        # the fault was for poll 1 only: the task answers again, on a new connection
        assert requests.get(f"{url}/apis/story/d", headers=KEY, timeout=5).json() == {
            "status": "PENDING",
            "run_id": None,
        }
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert time.monotonic() - started < 5  # no connection left hanging the stop
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()


def test_server_environment_never_passes_for_request_headers() -> None:
    """granian copies os.environ into each WSGI environ, where HTTP_* variables would look
    like request headers ("httpoxy"); the workers drop them."""
    env = {"HTTP_X_API_KEY": "from-the-environment", "HTTP_PROXY": "http://evil.invalid"}
    with serve("--api-key", "from-the-environment", env=env) as (_, url):
        _task(url, "t", {"steps": [{"status": "PENDING"}]})
        r = requests.get(f"{url}/apis/story/t", timeout=5)  # no key header at all
        assert r.status_code == 401
        journal = requests.get(f"{url}/__admin/requests", timeout=5).json()
        text = json.dumps(journal)
        assert "evil.invalid" not in text and "proxy" not in text.lower()


def test_a_delayed_request_in_flight_finishes_when_the_server_stops() -> None:
    with serve("--latency-ms", "1200", "--clock", "manual") as (proc, url):
        _task(url, "slow", {"steps": [{"status": "PENDING"}]})
        answers: list[int] = []
        getter = threading.Thread(
            target=lambda: answers.append(
                requests.get(f"{url}/apis/story/slow", headers=KEY, timeout=10).status_code
            )
        )
        getter.start()
        time.sleep(0.4)  # the request is asleep in the server now
        proc.send_signal(signal.SIGTERM)
        getter.join(10)
        assert answers == [200]
        assert proc.wait(15) == 0


def test_killing_the_main_process_does_not_leave_a_worker_on_the_port() -> None:
    with serve() as (proc, url):
        proc.kill()  # SIGKILL: the worker gets no signal, only loses its parent
        proc.wait(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.get(f"{url}/__admin/health", timeout=1)
            except requests.ConnectionError:
                break
            time.sleep(0.2)
        else:
            pytest.fail("a worker still answers 10 s after its main process was killed")


def test_latency_counts_from_the_arrival_of_the_request() -> None:
    waits: list[float] = []
    config = {"MOCKCAMB_DELAY": waits.append}
    arrived = time.perf_counter() - 0.15  # 150 ms went on answering already
    wait_out(config, 0.2, arrived)
    wait_out(config, 0.1, arrived)  # already late: no wait at all
    wait_out(config, 0.2)  # no arrival time: the whole latency
    assert len(waits) == 2
    assert 0.03 < waits[0] <= 0.05 and waits[1] == 0.2


SPAWN_SCRIPT = """
import multiprocessing, sys
from mockcamb.cli import main
if __name__ == "__main__":
    multiprocessing.set_start_method("spawn")  # as on macOS and Python 3.14
    sys.exit(main(["serve", *sys.argv[1:]]))
"""


def test_workers_started_by_spawn_rebuild_the_app_from_the_command_line(tmp_path: Path) -> None:
    """Where workers are spawned, not forked, each rebuilds the app from the same options."""
    script = tmp_path / "spawned.py"
    script.write_text(SPAWN_SCRIPT)
    config = tmp_path / "c.yaml"
    config.write_text("tasks:\n  - {kind: story, task_id: pre, scenario: error}\n")
    argv = [sys.executable, str(script), "--port", "0", "--config", str(config), "--seed", "9"]
    with serve(argv=argv) as (proc, url):
        r = requests.get(f"{url}/apis/story/pre", headers=KEY, timeout=5)
        assert r.json() == {"status": "PENDING", "run_id": None}
        assert requests.get(f"{url}/__admin/settings", timeout=5).json()["seed"] == 9
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_a_host_name_is_bound_by_its_address(server: str) -> None:
    with serve("--server", server, "--host", "localhost") as (_, url):
        assert url.startswith("http://localhost:")
        assert requests.get(f"{url}/__admin/health", timeout=5).json()["status"] == "ok"


def test_serve_starts_without_importing_what_it_does_not_use(tmp_path: Path) -> None:
    """Start-up: `mockcamb serve` on granian imports neither waitress nor the dashboard's
    page (imported on its first request); both were a tenth of its import time. The garbage
    collector, paused while it starts, runs again once it serves."""
    modules = tmp_path / "modules.txt"
    code = (
        "import atexit, gc, runpy, sys; out = sys.argv[1]; "
        "atexit.register(lambda: open(out, 'a').write("
        "'\\n'.join([*sys.modules, f'gc-enabled-{gc.isenabled()}']) + '\\n')); "
        "sys.argv = ['mockcamb', *sys.argv[2:]]; runpy.run_module('mockcamb', run_name='__main__')"
    )
    argv = [sys.executable, "-c", code, str(modules), "serve", "--port", "0"]
    with serve(argv=argv) as (proc, url):
        assert requests.get(f"{url}/apis/story/x", headers=KEY, timeout=5).status_code == 404
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    loaded = set(modules.read_text().split())
    assert "mockcamb.http.asgi" in loaded and "granian" in loaded
    assert "gc-enabled-True" in loaded and "gc-enabled-False" not in loaded  # paused, then back
    assert not {"waitress", "mockcamb.serve.waitress", "mockcamb.http.dashboard"} & loaded


def test_the_collector_pause_restores_what_it_found() -> None:
    import gc

    from mockcamb._gc import gc_paused

    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("start-up failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off: it stays off
    finally:
        gc.enable()
    code = "import gc, mockcamb; print(gc.isenabled())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
