"""The official TypeScript SDK (``@camb-ai/sdk`` from npm, run with the machine's node)
against ``mockcamb serve``: story, dub, tts and transcription through SUCCESS, its retries
riding through a 503 and a 429 with Retry-After. Installed into a scratch folder (kept in
``.venv`` between runs); skipped with the reason when node or npm is missing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml
from _serve import serve

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).with_name("ts") / "poll_families.mjs"
SDK_VERSION = "1.0.1"
SCRATCH = Path(sys.prefix) / "ts-sdk"


@pytest.fixture(scope="module")
def ts_sdk() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to install and run @camb-ai/sdk")
    installed = SCRATCH / "node_modules" / "@camb-ai" / "sdk" / "package.json"
    if not installed.exists():
        SCRATCH.mkdir(parents=True, exist_ok=True)
        (SCRATCH / "package.json").write_text('{"name": "mockcamb-ts-check", "private": true}')
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", f"@camb-ai/sdk@{SDK_VERSION}"],
            cwd=SCRATCH,
            capture_output=True,
            text=True,
            timeout=240,
        )
        if done.returncode != 0:
            pytest.skip(f"npm could not install @camb-ai/sdk: {done.stderr.strip()[-300:]}")
    shutil.copy(SCRIPT, SCRATCH / SCRIPT.name)
    return SCRATCH


def test_the_typescript_sdk_polls_four_families_through_faults(
    ts_sdk: Path, tmp_path: Path
) -> None:
    scenario = {
        "steps": [{"status": "PENDING", "polls": 1}, {"status": "SUCCESS"}],
        "faults": [
            {"type": "http_error", "http_status": 503, "poll": 2},
            {"type": "http_error", "http_status": 429, "poll": 3, "retry_after": 1},
        ],
    }
    file = tmp_path / "ride_through.yaml"
    file.write_text(yaml.safe_dump(scenario))
    args = ("--clock", "manual", "--api-key", "ts-key", "--default-scenario", str(file))
    with serve(*args) as (_, url):
        done = subprocess.run(
            ["node", SCRIPT.name, f"{url}/apis", "ts-key"],
            cwd=ts_sdk,
            capture_output=True,
            text=True,
            timeout=120,
        )
        journal = requests.get(f"{url}/__admin/requests", timeout=5).json()["requests"]
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"], report
    for result in report["results"]:
        assert result["statuses"] == ["PENDING", "SUCCESS"], result
        assert isinstance(result["run_id"], int)
    codes = {(e["kind"], e["status_code"]) for e in journal}
    for kind in ("story", "dub", "tts", "transcription"):
        assert {(kind, 503), (kind, 429), (kind, 200)} <= codes, kind
    sent = {e["headers"].get("x-fern-language") for e in journal}
    assert sent == {"JavaScript"}
