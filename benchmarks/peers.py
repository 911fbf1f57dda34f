"""The peers mockcamb is compared with: Prism, Mountebank and WireMock from npm, in a
scratch folder (the npm package ``wiremock`` ships WireMock's standalone jar, run here with
the machine's ``java``).

Each peer serves the same static JSON answer to ``GET /apis/story/<id>`` on 127.0.0.1.
If npm or the install fails, the caller reports the published figures instead (marked as
not measured); without Java, WireMock is skipped and said so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from common import HOST, Proc, run_wrk, start_answering

NPM_PACKAGES = ("@stoplight/prism-cli", "mountebank", "wiremock")
#: WireMock as its docs advise for load, with the settings of issue 15: asynchronous
#: responses (a delayed answer holds no Jetty thread), more container threads, no logging
#: of each request. Its request journal stays on (its default, unbounded), as mockcamb
#: journals every request; BENCHMARKS.md gives the figures without it and bounded.
WIREMOCK_OPTIONS = (
    "--async-response-enabled",
    "true",
    "--container-threads",
    "300",
    "--disable-request-logging",
    "--disable-banner",
)
#: The JIT warm-up WireMock gets before it is measured (wrk -c32 on the stub, seconds).
WIREMOCK_WARM_UP_S = 8
BODY = {"status": "SUCCESS", "run_id": 123}

#: Figures from the issue (same machine class, wrk -t2 -c32, static JSON GET); used only
#: when a peer cannot be installed or started here, and always printed as "not measured".
PUBLISHED_RPS = {
    "prism": 3350.0,
    "mountebank": 3270.0,
    "pytest-httpserver": 2960.0,
    "json-server": 2640.0,
    "mockoon": 640.0,
    "flask-gunicorn-gthread-2x4": 4680.0,
    "raw-wsgi-gunicorn-gthread-2x4": 8510.0,
}

PRISM_SPEC = f"""openapi: 3.0.3
info: {{title: camb-story-status, version: "1.0"}}
paths:
  /apis/story/{{task_id}}:
    get:
      parameters:
        - {{name: task_id, in: path, required: true, schema: {{type: string}}}}
      responses:
        "200":
          description: status
          content:
            application/json:
              example: {json.dumps(BODY)}
"""


@dataclass
class Peer:
    name: str
    version: str
    proc: Proc
    path: str


def install(scratch: Path) -> tuple[bool, str]:
    """``npm install --prefix scratch`` the peers unless they are there already."""
    bins = scratch / "node_modules" / ".bin"
    if (bins / "prism").exists() and (bins / "mb").exists() and wiremock_jar(scratch):
        return True, "already installed"
    npm = shutil.which("npm")
    if npm is None:
        return False, "npm not found"
    scratch.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(scratch), *NPM_PACKAGES]
    print("  $ " + " ".join(cmd), flush=True)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        return False, "npm install timed out after 600 s"
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        return False, f"npm install failed ({out.returncode}): {' | '.join(tail)}"
    return True, "installed"


def _version(scratch: Path, package: str) -> str:
    try:
        doc = json.loads((scratch / "node_modules" / package / "package.json").read_text())
        return str(doc.get("version", "?"))
    except (OSError, ValueError):
        return "?"


def start_prism(scratch: Path, port: int, logdir: Path) -> Peer:
    spec = scratch / "camb-story.yaml"
    spec.write_text(PRISM_SPEC)
    argv = [
        str(scratch / "node_modules" / ".bin" / "prism"),
        "mock",
        str(spec),
        "-h",
        HOST,
        "-p",
        str(port),
        "-v",
        "silent",
    ]
    proc = start_answering("prism", argv, port, logdir, "/apis/story/warm", cwd=scratch, timeout=60)
    return Peer("prism", _version(scratch, "@stoplight/prism-cli"), proc, "/apis/story/bench")


def start_mountebank(
    scratch: Path, port: int, admin_port: int, logdir: Path, wait_ms: float | None = None
) -> Peer:
    """Mountebank serving the static body; with ``wait_ms``, each answer after that delay
    (its ``wait`` behaviour), to compare latency fidelity."""
    response: dict[str, object] = {
        "is": {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(BODY),
        }
    }
    if wait_ms is not None:
        response["_behaviors"] = {"wait": wait_ms}
    imposters = {
        "imposters": [
            {
                "port": port,
                "protocol": "http",
                "stubs": [
                    {
                        "predicates": [{"startsWith": {"method": "GET", "path": "/apis/story/"}}],
                        "responses": [response],
                    }
                ],
            }
        ]
    }
    config = scratch / "imposters.json"
    config.write_text(json.dumps(imposters))
    argv = [
        str(scratch / "node_modules" / ".bin" / "mb"),
        "start",
        "--port",
        str(admin_port),
        "--localOnly",
        "--configfile",
        str(config),
        "--noParse",
        "--nologfile",
        "--loglevel",
        "warn",
        "--pidfile",
        str(scratch / "mb.pid"),
    ]
    proc = start_answering(
        "mountebank", argv, port, logdir, "/apis/story/warm", cwd=scratch, timeout=60
    )
    return Peer("mountebank", _version(scratch, "mountebank"), proc, "/apis/story/bench")


def wiremock_jar(scratch: Path) -> Path | None:
    """The standalone jar the npm package ``wiremock`` ships, if installed."""
    found = sorted((scratch / "node_modules" / "wiremock").glob("**/wiremock-standalone-*.jar"))
    return found[-1] if found else None


def java_version() -> str | None:
    """``java -version``'s first line, or ``None`` when there is no usable Java."""
    java = shutil.which("java")
    if java is None:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (out.stderr or out.stdout).strip().splitlines()
    return lines[0] if out.returncode == 0 and lines else None


def start_wiremock(
    scratch: Path, port: int, logdir: Path, delay_ms: float | None = None, warm_up: bool = True
) -> Peer:
    """WireMock serving the static body (after ``delay_ms``, its ``fixedDelayMilliseconds``),
    then warmed up for :data:`WIREMOCK_WARM_UP_S` seconds so the JIT has compiled the hot
    path before it is measured. Raises OSError without Java or the jar."""
    jar = wiremock_jar(scratch)
    if jar is None:
        raise OSError("the wiremock npm package has no standalone jar")
    java = shutil.which("java")
    if java is None or java_version() is None:
        raise OSError("no Java on PATH (java -version)")
    root = scratch / f"wiremock-root-{port}"
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    response: dict[str, object] = {
        "status": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(BODY),
    }
    if delay_ms is not None:
        response["fixedDelayMilliseconds"] = int(delay_ms)
    stub = {"request": {"method": "GET", "urlPathPattern": "/apis/story/.+"}, "response": response}
    (root / "mappings" / "status.json").write_text(json.dumps(stub))
    argv = [java, "-jar", str(jar), "--port", str(port), "--bind-address", HOST]
    argv += ["--root-dir", str(root), *WIREMOCK_OPTIONS]
    proc = start_answering(
        "wiremock", argv, port, logdir, "/apis/story/warm", cwd=scratch, timeout=90
    )
    version = m.group(1) if (m := re.search(r"standalone-(.+)\.jar$", jar.name)) else "?"
    if warm_up:
        url = f"http://{HOST}:{port}/apis/story/warm"
        run_wrk(url, connections=256 if delay_ms else 32, seconds=WIREMOCK_WARM_UP_S)
    return Peer("wiremock", version, proc, "/apis/story/bench")
