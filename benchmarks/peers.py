"""The peers mockcamb is compared with: Prism and Mountebank from npm, in a scratch folder.

Each peer serves the same static JSON answer to ``GET /apis/story/<id>`` on 127.0.0.1.
If npm or the install fails, the caller reports the published figures instead (marked as
not measured).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from common import HOST, Proc, start_answering

NPM_PACKAGES = ("@stoplight/prism-cli", "mountebank")
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
    if (bins / "prism").exists() and (bins / "mb").exists():
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
