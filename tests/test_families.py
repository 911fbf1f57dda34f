"""Every task family of the route table over real HTTP: create, every status path, every
result route, bulk results, the files results link to (decoded), and the 4xx of each."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import requests
import soundfile
from jsonschema import Draft202012Validator

from mockcamb.core.bodies import example_request
from mockcamb.core.emulator import Emulator
from mockcamb.core.families import FAMILIES, Family
from mockcamb.core.routes import family
from mockcamb.core.schemas import RESULT_SCHEMAS
from mockcamb.serve.waitress import Server

KEY = {"x-api-key": "k"}
INSTANT = {**KEY, "x-mockcamb-scenario": "instant_success"}
NAMES = [f.name for f in FAMILIES]


def create(
    server: Server, fam: Family, headers: dict[str, str] = INSTANT, **path: Any
) -> requests.Response:
    """POST the family's minimal create request, as its SDK sends it."""
    fields, files = example_request(fam)
    url = server.base_url + fam.create.format(**path)
    if fam.body == "json":
        return requests.post(url, json=fields, headers=headers, timeout=5)
    uploads = {name: (f"{name}.wav", b"RIFF....WAVE", "audio/wav") for name in files}
    data = {k: str(v) for k, v in fields.items()}
    return requests.post(url, data=data, files=uploads or None, headers=headers, timeout=5)


def finished_run(server: Server, name: str) -> tuple[str, int]:
    """Create a task of family ``name`` (and the run it starts from) and poll it to SUCCESS."""
    fam = family(name)
    path: dict[str, Any] = {}
    if fam.starts_from is not None:
        _, source = finished_run(server, fam.starts_from)
        path = {"run_id": source, "language": 54}
    created = create(server, fam, **path)
    assert created.status_code == 200, created.text
    task_id = created.json()["task_id"]
    status = requests.get(f"{server.base_url}{fam.status[0]}/{task_id}", headers=KEY, timeout=5)
    assert status.status_code == 200 and status.json()["status"] == "SUCCESS", status.text
    return task_id, status.json()["run_id"]


def result_url(server: Server, path: str, run_id: int) -> str:
    filled = path.replace("{run_id}", str(run_id))
    filled = filled.replace("{language}", "54").replace("{target_language}", "54")
    return server.base_url + filled


def urls_in(body: Any) -> list[str]:
    if isinstance(body, str):
        return [body] if body.startswith("http://") else []
    if isinstance(body, dict):
        return [u for v in body.values() for u in urls_in(v)]
    if isinstance(body, list):
        return [u for v in body for u in urls_in(v)]
    return []


def check_file(url: str) -> None:
    """A URL a result hands out serves a real file of its declared type."""
    got = requests.get(url, timeout=5)  # no key: result links are pre-signed URLs
    assert got.status_code == 200, f"{url}: {got.status_code} {got.text[:200]}"
    check_media(got, url)


def check_media(got: requests.Response, url: str) -> None:
    """The body is a valid file of the type its Content-Type declares (audio is decoded)."""
    kind = got.headers["Content-Type"]
    if kind.startswith("audio/"):
        samples, rate = soundfile.read(io.BytesIO(got.content))
        assert rate == 16_000 and len(samples) > 1000, url
        expected = {"audio/wav": "WAV", "audio/flac": "FLAC"}[kind]
        assert soundfile.info(io.BytesIO(got.content)).format == expected
    elif kind == "application/json":
        assert json.loads(got.content)["dialogue"]
    else:
        text = got.content.decode()
        assert "Once upon a time." in text, url
        if url.endswith(".vtt"):
            assert text.startswith("WEBVTT")
        if url.endswith(".srt"):
            assert "00:00:00,000 --> 00:00:02,500" in text


@pytest.mark.parametrize("name", NAMES)
def test_a_family_goes_create_poll_result(server: Server, name: str) -> None:
    fam = family(name)
    task_id, run_id = finished_run(server, name)
    for path in fam.status:  # every status path answers the same task
        again = requests.get(f"{server.base_url}{path}/{task_id}", headers=KEY, timeout=5)
        assert again.json() == {"status": "SUCCESS", "run_id": run_id}
    for result in fam.results:
        if result.bulk:
            continue
        got = requests.get(result_url(server, result.path, run_id), headers=KEY, timeout=5)
        assert got.status_code == 200, got.text
        if got.headers["Content-Type"].startswith("audio/"):
            check_media(got, result.path)
            continue
        body = got.json()
        assert result.schema is not None
        errors = list(Draft202012Validator(RESULT_SCHEMAS[result.schema]).iter_errors(body))
        assert errors == [], f"{result.path}: {errors[0].message}"
        for url in urls_in(body):
            check_file(url)
        missing = requests.get(result_url(server, result.path, 999_999), headers=KEY, timeout=5)
        assert missing.status_code == 404 and "No finished" in missing.json()["detail"]


@pytest.mark.parametrize("name", [f.name for f in FAMILIES if any(r.bulk for r in f.results)])
def test_bulk_results_are_keyed_by_run_id(server: Server, name: str) -> None:
    fam = family(name)
    _, run_id = finished_run(server, name)
    bulk = next(r for r in fam.results if r.bulk)
    url = server.base_url + bulk.path
    got = requests.post(url, json={"run_ids": [run_id, 999_999]}, headers=KEY, timeout=5)
    assert got.status_code == 200, got.text
    body = got.json()
    assert bulk.schema is not None
    schema = Draft202012Validator(RESULT_SCHEMAS[bulk.schema])
    if name == "project-setup":  # its SDK types the bulk answer as a list
        assert isinstance(body, list) and len(body) == 1 and body[0]["run_id"] == run_id
        items = body
    else:
        assert list(body) == [str(run_id)]
        items = list(body.values())
    for item in items:
        assert list(schema.iter_errors(item)) == []
    for bad in ({}, {"run_ids": "1"}, {"run_ids": [True]}, ["not", "an", "object"]):
        refused = requests.post(url, json=bad, headers=KEY, timeout=5)
        assert refused.status_code == 422 and isinstance(refused.json()["detail"], list)


@pytest.mark.parametrize("name", NAMES)
def test_a_create_missing_its_fields_names_each_one(server: Server, name: str) -> None:
    fam = family(name)
    path: dict[str, Any] = {}
    if fam.starts_from is not None:
        path = {"run_id": finished_run(server, fam.starts_from)[1], "language": 54}
    url = server.base_url + fam.create.format(**path)
    if fam.body == "json":
        got = requests.post(url, json={}, headers=KEY, timeout=5)
    else:
        got = requests.post(url, data={"x": "1"}, files={"other": b"x"}, headers=KEY, timeout=5)
    assert got.status_code == 422, got.text
    detail = got.json()["detail"]
    named = {tuple(p["loc"]) for p in detail}
    required = {("body", f.name) for f in fam.fields if f.required}
    assert required <= named
    if fam.one_of:
        assert any("send one of" in p["msg"] for p in detail)


@pytest.mark.parametrize("name", [f.name for f in FAMILIES if f.starts_from])
def test_a_family_that_starts_from_a_run_refuses_a_missing_or_foreign_run(
    server: Server, name: str
) -> None:
    fam = family(name)
    missing = create(server, fam, run_id=424242, language=54)
    assert missing.status_code == 404
    assert f"No finished {fam.starts_from} run with id '424242'" in missing.json()["detail"]
    other = "tts" if fam.starts_from != "tts" else "dub"
    _, foreign = finished_run(server, other)
    wrong = create(server, fam, run_id=foreign, language=54)
    assert wrong.status_code == 404 and f"(it is a {other} run)" in wrong.json()["detail"]
    not_a_number = create(server, fam, run_id="abc", language=54)
    assert not_a_number.status_code == 422
    assert not_a_number.json()["detail"][0]["loc"] == ["path", "run_id"]


def test_the_translated_story_create_says_a_message(server: Server) -> None:
    _, story_run = finished_run(server, "story")
    got = create(server, family("translated-story"), run_id=story_run)
    assert set(got.json()) == {"message", "task_id"}


@pytest.mark.parametrize(
    ("path", "query", "kind"),
    [
        ("/tts-result/{run_id}", {}, "audio/flac"),
        ("/tts-result/{run_id}", {"output_type": "file_url"}, "application/json"),
        ("/text-to-sound-result/{run_id}", {}, "audio/wav"),
        ("/transcription-result/{run_id}", {"format_type": "srt", "data_type": "raw_data"}, ""),
    ],
)
def test_the_query_chooses_the_form(
    server: Server, path: str, query: dict[str, str], kind: str
) -> None:
    name = {"/tts": "tts", "/tex": "text-to-sound", "/tra": "transcription"}[path[:4]]
    _, run_id = finished_run(server, name)
    got = requests.get(result_url(server, path, run_id), params=query, headers=KEY, timeout=5)
    assert got.status_code == 200
    if kind:
        assert got.headers["Content-Type"] == kind
    else:
        assert got.json()["transcript"].startswith("1\n00:00:00,000 --> 00:00:02,500\n")
    bad = requests.get(
        result_url(server, path, run_id),
        params={"output_type": "x", "format_type": "x"},
        headers=KEY,
        timeout=5,
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][0] == "query"


def test_transcript_exports_are_valid_for_their_format(server: Server) -> None:
    _, run_id = finished_run(server, "transcription")
    for fmt in ("srt", "vtt", "txt"):
        got = requests.get(
            result_url(server, "/transcription-result/{run_id}", run_id),
            params={"format_type": fmt},
            headers=KEY,
            timeout=5,
        ).json()
        assert got["transcript"] == got["file_url"] and got["file_url"].endswith(f".{fmt}")
        check_file(got["file_url"])


def test_files_of_unknown_runs_or_types_are_404(server: Server, emu: Emulator) -> None:
    _, run_id = finished_run(server, "story")
    base = f"{server.base_url}/__files"
    assert requests.get(f"{base}/story/{run_id}/audio.wav", timeout=5).status_code == 200
    for path in (
        f"story/{run_id + 1}/audio.wav",
        f"dub/{run_id}/audio.wav",
        f"story/{run_id}/audio.exe",
        f"story/{run_id}/noext",
        f"nope/{run_id}/audio.wav",
        "story/abc/audio.wav",
    ):
        got = requests.get(f"{base}/{path}", timeout=5)
        assert got.status_code == 404 and got.json()["detail"], path


def test_every_family_can_be_created_by_the_admin_api_and_fails_as_told(
    server: Server, emu: Emulator
) -> None:
    error = {"steps": [{"status": "ERROR", "message": "boom"}]}
    for fam in FAMILIES:
        made = requests.post(
            f"{server.url}/__admin/tasks",
            json={"kind": fam.name, "task_id": f"e-{fam.name}", "scenario": error},
            timeout=5,
        )
        assert made.status_code == 201, made.text
        got = requests.get(
            f"{server.base_url}{fam.status[-1]}/e-{fam.name}", headers=KEY, timeout=5
        )
        assert got.json() == {"status": "ERROR", "run_id": None, "message": "boom"}
    bad = requests.post(f"{server.url}/__admin/tasks", json={"kind": "dubbing"}, timeout=5)
    assert bad.status_code == 400 and "dub" in bad.json()["detail"]
