"""The request journal over real HTTP, on both stores (memory, and Redis on a real
redis-server): bounded by bytes as well as entries, paged, a dropped connection without a
status code, the near-miss 404 hints recorded, and no API key anywhere in it."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from _redis import redis_url
from hypothesis import given, settings
from hypothesis import strategies as st

from mockcamb.core import journal
from mockcamb.core.emulator import Emulator
from mockcamb.core.journal import Request, entry, entry_bytes, known_members
from mockcamb.core.redaction import is_secret_header, scrub_target, scrub_text
from mockcamb.core.settings import MIN_JOURNAL_BYTES
from mockcamb.http.app import create_app
from mockcamb.serve.waitress import Server
from mockcamb.stores.redis.store import RedisStore

KEY = "sk-live-0123456789abcdef"  # the one accepted key


@dataclass
class Served:
    emu: Emulator
    server: Server

    @property
    def url(self) -> str:
        return self.server.url

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(f"{self.url}{path}", headers={"x-api-key": KEY, **headers}, timeout=10)

    def admin(self, method: str, path: str, **kw: Any) -> requests.Response:
        return requests.request(method, f"{self.url}/__admin{path}", timeout=10, **kw)

    def journal(self, query: str = "") -> dict[str, Any]:
        r = self.admin("GET", f"/requests{query}")
        assert r.status_code == 200, r.text
        doc: dict[str, Any] = r.json()
        return doc


@pytest.fixture(params=["memory", "redis"])
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    store = None
    if request.param == "redis":
        store = RedisStore(f"{redis_url()}?prefix=journal-{uuid.uuid4().hex[:12]}:")
    emu = Emulator(store=store)
    emu.configure({"api_keys": [KEY]})
    server = Server(create_app(emu), "127.0.0.1", 0).start()
    try:
        yield Served(emu, server)
    finally:
        server.stop(5)
        if store is not None:
            store.reset()
            store.r.delete(*[store.prefix + k for k in ("settings", "settings:v", "salt", "clock")])
            store.close()


# --- 3. a dropped connection has no status code ------------------------------------------


def test_a_dropped_connection_is_journaled_without_a_status_code(served: Served) -> None:
    drop = {"poll": 1, "type": "drop_connection"}
    scenario = {"steps": [{"status": "PENDING"}], "faults": [drop]}
    served.emu.create_task("story", "d", scenario)
    with pytest.raises(requests.ConnectionError):
        served.get("/apis/story/d")
    assert served.get("/apis/story/d").status_code == 200
    dropped, answered = served.journal("?task_id=d")["requests"]
    assert dropped["status_code"] is None and dropped["dropped"] is True
    assert dropped["task_status"] is None
    assert answered["status_code"] == 200 and answered["dropped"] is False
    rows = served.admin("GET", "/").text.split('<tr class="request">')[1:]
    mine = [r.split("</tr>")[0] for r in rows if "/apis/story/d<" in r]
    assert len(mine) == 2  # newest first
    assert ">200<" in mine[0] and "connection dropped" not in mine[0]
    assert "connection dropped" in mine[1] and ">200<" not in mine[1]


def test_the_presets_show_no_status_code_on_a_dropped_connection() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "mockcamb", "presets", "flaky_network"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0
    drop = shown.stdout.split("type: drop_connection")[1].split("- type:")[0]
    assert "http_status" not in drop


# --- 4. the near-miss hints ------------------------------------------------------------


def test_the_near_miss_404_hints_are_journaled(served: Served) -> None:
    served.emu.create_task("story", "done", {"steps": [{"status": "SUCCESS", "run_id": 4242}]})
    assert served.get("/apis/story/done").json()["run_id"] == 4242
    cases = {
        "/apis/story/undefined": "no task id",
        "/apis/transcription/x": "/apis/transcribe/",
        "/apis/end_to_end_dubbing/5": "/dub",
        "/apis/story/4242": "run id",
    }
    for path in cases:
        r = served.get(path)
        assert r.status_code == 404, (path, r.text)
    entries = {e["path"]: e for e in served.journal()["requests"]}
    for path, words in cases.items():
        hint = entries[path]["hint"]
        assert isinstance(hint, str) and words in hint, (path, hint)
        assert hint in served.get(path).json()["detail"]  # what the client was told
    assert entries["/apis/story/done"]["hint"] is None
    hinted = served.journal("?hinted=true")["requests"]
    assert {e["path"] for e in hinted} >= set(cases) and all(e["hint"] for e in hinted)
    assert all(e["hint"] is None for e in served.journal("?hinted=false")["requests"])
    assert "did you mean" in served.admin("GET", "/").text  # the dashboard shows the hint


# --- 5. no API key in the journal ------------------------------------------------------


def test_no_api_key_shows_in_the_journal_or_the_dashboard(served: Served) -> None:
    served.emu.create_task("story", "t")
    served.get("/apis/story/t", **{"Api-Key": KEY, "X-Auth-Token": KEY})
    served.get(f"/apis/story/{KEY}")  # the key where the task id belongs
    served.get(f"/apis/story/t?api_key={KEY}&x=1")
    served.get(f"/apis/nothing/{KEY}")
    served.get(f"/apis/story/t?q={KEY}")
    requests.get(f"{served.url}/apis/story/t", headers={"Authorization": f"Bearer {KEY}"})
    text = served.admin("GET", "/requests").text
    assert served.journal()["requests"] and KEY not in text
    assert "[redacted]" in text
    assert KEY not in served.admin("GET", "/").text
    by_path = [e["path"] for e in served.journal()["requests"]]
    assert "/apis/story/[redacted]" in by_path and "/apis/nothing/[redacted]" in by_path


def test_a_target_loses_the_keys_in_its_path_and_query() -> None:
    keys = frozenset({KEY, "k"})
    assert scrub_target(f"/apis/story/{KEY}?x=1", keys) == "/apis/story/[redacted]?x=1"
    assert scrub_target("/apis/story/k/kk?a=k&token=t&b=kk", keys) == (
        "/apis/story/[redacted]/kk?a=[redacted]&token=[redacted]&b=kk"
    )
    sent = ("Bearer abcdefgh", "abcdefgh")  # the secrets the journal finds in the header
    assert scrub_target("/x/abcdefgh-more/y?q=abcdefgh", None, sent) == (
        "/x/[redacted]-more/y?q=[redacted]"
    )
    assert scrub_target(f"/x/{KEY.replace('-', '%2D')}", keys) == "/x/[redacted]"
    assert scrub_text(f"no story task {KEY!r}: did you mean", keys) == (
        "no story task '[redacted]': did you mean"
    )


def test_a_key_any_server_accepts_is_scrubbed_when_any_key_is_accepted(served: Served) -> None:
    """With no keys configured the key the request sent is the key: not kept either."""
    served.emu.configure({"api_keys": None})
    served.emu.create_task("story", "t")
    served.get(f"/apis/story/t?k={KEY}")
    served.get(f"/apis/story/{KEY}")
    assert KEY not in served.admin("GET", "/requests").text


@pytest.mark.parametrize("name", ["x-api-key", "X_API_KEY", "api-key", "Api_Key", "x-auth-token"])
def test_secret_header_names_in_any_spelling_are_redacted_in_both_stores(
    served: Served, name: str
) -> None:
    """Names as a caller of the emulator passes them (a server reads ``x_api_key`` as the key:
    ``HTTP_X_API_KEY``; waitress drops it, granian and the in-process modes pass it)."""
    emu = served.emu
    emu.create_task("story", "t")
    assert emu.status("story", "t", KEY, headers=[(name, KEY)]).status_code == 200
    (e,) = emu.journal(task_id="t")
    assert KEY not in json.dumps(e) and list(e["headers"].values()) == ["[redacted]"]


def test_every_header_name_auth_reads_is_secret() -> None:
    for name in ("x-api-key", "X_Api_Key", "x-admin-token", "Authorization", "api-key", "Cookie"):
        assert is_secret_header(name), name
    for name in ("x-mockcamb-key", "x-mockcamb-seq", "user-agent", "x-trace"):
        assert not is_secret_header(name), name


def test_recordings_and_the_journal_share_one_list_of_secret_headers() -> None:
    from mockcamb.core import redaction
    from mockcamb.record import redact

    assert redact.REDACTED is redaction.REDACTED
    assert redact.is_secret_name is redaction.is_secret_name
    assert not hasattr(journal, "SECRET_HEADERS")


# --- 1. bounded by bytes -----------------------------------------------------------------


def test_an_entry_is_capped_whatever_the_request_sends() -> None:
    headers = [(f"x-h{i}-" + "n" * 300, "v" * 5000) for i in range(200)]
    request = Request("M" * 5000, "/apis/story/" + "p" * 9000, headers)
    e, _ = entry(request, "story", "x" * 200, 1, 200, {}, hint="h" * 9000)
    text = json.dumps(e)
    assert len(text) < journal.MAX_ENTRY_BYTES and entry_bytes(e) <= journal.MAX_ENTRY_BYTES
    assert e["path"].endswith("...") and len(e["path"]) == journal.MAX_PATH
    assert all(v.endswith("...") for k, v in e["headers"].items() if k != journal.MORE_HEADERS)
    assert e["headers"][journal.MORE_HEADERS].endswith("more headers not kept")
    assert sum(len(k) + len(v) for k, v in e["headers"].items()) <= journal.MAX_HEADERS_TEXT + 64


def test_the_poll_scripts_members_cost_what_the_entry_costs() -> None:
    """poll.lua is handed the cost of the entry it writes: the one entry_bytes gives."""
    req = Request("GET", "/apis/story/t?x=1", [("X-Trace", "é" * 40), ("x-api-key", KEY)])
    head, tail, cost = known_members(req, "story", "t", frozenset({KEY}))
    e, _ = entry(req, "story", "t", 1, 200, {"status": "PENDING"}, keys=frozenset({KEY}))
    assert cost == entry_bytes(e)
    rebuilt = json.loads("{" + head + ',"request":1,' + tail + "}")
    assert {k: rebuilt[k] for k in ("method", "path", "kind", "task_id", "headers", "hint")} == {
        k: e[k] for k in ("method", "path", "kind", "task_id", "headers", "hint")
    }


@settings(max_examples=200, deadline=None)
@given(
    method=st.text(max_size=20),
    path=st.text(max_size=600),
    headers=st.lists(st.tuples(st.text(max_size=70), st.text(max_size=300)), max_size=40),
    hint=st.none() | st.text(max_size=600),
    task_id=st.none() | st.text(max_size=30),
)
def test_an_entry_costs_what_entry_bytes_counts(
    method: str, path: str, headers: list[tuple[str, str]], hint: str | None, task_id: str | None
) -> None:
    """The cost counted as the entry is made (the headers' share remembered with them) is
    the one entry_bytes counts from the entry, and both stores are given it."""
    request = Request(method, path, headers)
    e, cost = entry(request, "story", task_id, 1, 404, {"detail": "x"}, hint=hint)
    assert cost == entry_bytes(e)


def test_entries_of_the_same_headers_read_back_apart(served: Served) -> None:
    """A client's polls share what the journal keeps of their headers: a reader changing
    one entry's headers changes no other entry, nor what the journal keeps."""
    served.emu.configure({"unknown_task": "auto"})
    for _ in range(3):
        assert served.get("/apis/story/same", **{"X-Trace": "t1"}).status_code == 200
    first, second, _ = served.emu.journal(task_id="same")
    first["headers"]["x-trace"] = "changed"
    assert second["headers"]["x-trace"] == "t1"
    assert [e["headers"]["x-trace"] for e in served.emu.journal(task_id="same")] == ["t1"] * 3
    page, _ = served.emu.journal_page(task_id="same")
    page[0]["headers"].clear()
    assert served.emu.journal(task_id="same")[0]["headers"]["x-trace"] == "t1"


def test_a_remembered_target_is_scrubbed_of_the_keys_accepted_now(served: Served) -> None:
    """The journal remembers how it scrubbed a target, by the keys accepted then: a key
    accepted later is scrubbed from the same path, one no longer accepted is kept."""
    other = "sk-other-9876543210fedcba"
    served.emu.configure({"unknown_task": "auto"})
    path = f"/apis/story/{other}"
    for keys in ([KEY], [KEY, other], [KEY]):
        served.emu.configure({"api_keys": keys})
        assert served.get(path).status_code == 200
    paths = [e["path"] for e in served.emu.journal(kind="story")]
    assert paths == [path, "/apis/story/[redacted]", path]


def test_the_remembered_header_sets_and_targets_are_bounded() -> None:
    """A client sending new headers or paths on every request grows no cache: the journal
    remembers a bounded number of each."""
    for i in range(journal.HEADER_SETS_KEPT * 3):
        entry(Request("GET", f"/apis/story/{i}", [("x-n", str(i))]), "story", str(i), 1, 200, {})
    assert journal._headers_of.cache_info().currsize == journal.HEADER_SETS_KEPT
    for i in range(journal.TARGETS_KEPT + 10):
        journal.journal_target(f"/apis/story/{i}", None)
    assert journal._target.cache_info().currsize == journal.TARGETS_KEPT


def test_the_journal_keeps_within_its_byte_budget(served: Served) -> None:
    served.emu.configure({"journal_bytes": MIN_JOURNAL_BYTES, "unknown_task": "auto"})
    big = {f"x-big-{i}": "b" * 250 for i in range(20)}
    for i in range(60):
        served.get(f"/apis/story/t{i}", **big)  # status polls: journaled by poll.lua on Redis
        served.get(f"/apis/nothing/{i}", **big)  # 404s: journaled by Python
    entries = served.journal()["requests"]
    assert sum(entry_bytes(e) for e in entries) <= MIN_JOURNAL_BYTES
    assert 10 < len(entries) < 120
    assert entries[-1]["path"] == "/apis/nothing/59"  # the oldest went first
    assert [e["seq"] for e in entries] == list(range(121 - len(entries), 121))
    served.emu.configure({"journal_size": 3})  # either bound: the smaller binds
    assert [e["seq"] for e in served.journal()["requests"]] == [118, 119, 120]


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ({"journal_size": 10_000_000}, "journal_size: must be an integer from 0 to 1000000"),
        ({"journal_bytes": 100}, "journal_bytes: must be an integer from 65536 to 17179869184"),
        ({"journal_bytes": "big"}, "journal_bytes: must be an integer"),
        ({"journal_bytes": True}, "journal_bytes: must be an integer"),
    ],
)
def test_journal_bounds_are_validated(served: Served, doc: dict[str, Any], words: str) -> None:
    r = served.admin("PUT", "/settings", json=doc)
    assert r.status_code == 400 and words in r.json()["detail"]


def test_the_byte_budget_is_a_setting_everywhere(served: Served) -> None:
    assert served.admin("GET", "/settings").json()["journal_bytes"] == 64 * 1024 * 1024
    r = served.admin("PUT", "/settings", json={"journal_bytes": 1 << 20})
    assert r.status_code == 200 and r.json()["journal_bytes"] == 1 << 20


def test_the_cli_takes_and_checks_journal_bytes() -> None:
    from mockcamb.cli import build_parser
    from mockcamb.serve.command import app_from_args

    args = build_parser().parse_args(["serve", "--journal-bytes", "1048576"])
    assert app_from_args(args).extensions["mockcamb"].settings.journal_bytes == 1 << 20
    bad = subprocess.run(
        [sys.executable, "-m", "mockcamb", "serve", "--port", "0", "--journal-bytes", "12"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "journal_bytes" in bad.stderr, bad.stderr


# --- 2. pages ------------------------------------------------------------------------------


def test_the_journal_comes_in_pages(served: Served) -> None:
    served.emu.create_task("story", "t")
    for _ in range(25):
        served.get("/apis/story/t")
    served.get("/apis/story/nope")
    doc = served.journal("?task_id=t&limit=10")
    seqs = [[e["seq"] for e in doc["requests"]]]
    assert doc["last_seq"] == 26
    while doc["next"]:  # backwards, the newest page first
        r = requests.get(served.url + doc["next"], timeout=10)
        doc = r.json()
        seqs.append([e["seq"] for e in doc["requests"]])
    assert seqs == [list(range(16, 26)), list(range(6, 16)), list(range(1, 6))]
    doc = served.journal("?task_id=t&limit=10&after_seq=0")  # forwards
    forward = [[e["seq"] for e in doc["requests"]]]
    while doc["next"]:
        doc = requests.get(served.url + doc["next"], timeout=10).json()
        forward.append([e["seq"] for e in doc["requests"]])
    assert forward == [list(range(1, 11)), list(range(11, 21)), list(range(21, 26))]
    assert "task_id=t" in served.journal("?task_id=t&limit=10")["next"]
    assert [e["seq"] for e in served.journal("?before_seq=3")["requests"]] == [1, 2]
    assert len(served.journal()["requests"]) == 26 and served.journal()["next"] is None
    assert served.journal("?kind=story&limit=1")["requests"][0]["path"] == "/apis/story/nope"


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=abc",
        "limit=10001",
        "limit=-1",
        "limit=1e3",
        "after_seq=-1",
        "after_seq=x",
        "before_seq=99999999999999999999999",
        "after_seq=1&before_seq=5",
        "hinted=yes",
        "kind=nope",
    ],
)
def test_bad_page_arguments_are_json_400s(served: Served, query: str) -> None:
    r = served.admin("GET", f"/requests?{query}")
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/json"
    assert isinstance(r.json()["detail"], str)


def test_the_journal_page_is_documented_in_openapi(served: Served) -> None:
    from jsonschema import Draft202012Validator

    from mockcamb.http.openapi import JOURNAL_ENTRY_SCHEMA, JOURNAL_PAGE_SCHEMA

    served.emu.create_task("story", "t", "flaky_network")
    for _ in range(6):
        with contextlib.suppress(requests.ConnectionError):  # poll 5 drops the connection
            served.get("/apis/story/t")
    served.get("/apis/story/undefined")
    doc = requests.get(f"{served.url}/openapi.json", timeout=10).json()
    item = doc["paths"]["/__admin/requests"]
    assert item["servers"] == [{"url": f"{served.url}/__admin"}]
    names = {p["name"] for p in item["get"]["parameters"]}
    assert names == {"kind", "task_id", "hinted", "limit", "after_seq", "before_seq"}
    assert set(JOURNAL_ENTRY_SCHEMA["properties"]) == set(journal.FIELDS)
    page = served.journal("?limit=3")
    page_schema = {**JOURNAL_PAGE_SCHEMA, "properties": {**JOURNAL_PAGE_SCHEMA["properties"]}}
    page_schema["properties"]["requests"] = {"type": "array", "items": JOURNAL_ENTRY_SCHEMA}
    Draft202012Validator(page_schema).validate(page)
    for e in served.journal()["requests"]:
        Draft202012Validator(JOURNAL_ENTRY_SCHEMA).validate(e)
    assert any(e["status_code"] is None for e in served.journal()["requests"])


def test_a_task_named_after_the_key_shows_no_key_on_the_dashboard(served: Served) -> None:
    """With ``unknown_task: auto`` a poll of ``/apis/story/<KEY>`` makes a task whose id is
    the key; the dashboard's scrubber compared the keys it could list, which on Redis are
    digests, so the task column and its links showed the key in clear."""
    served.emu.configure({"unknown_task": "auto"})
    assert served.get(f"/apis/story/{KEY}").status_code == 200
    served.emu.clear_journal()
    page = served.admin("GET", "/").text
    assert KEY not in page and "[redacted]" in page
