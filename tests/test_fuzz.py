"""Fuzzing the emulator over real HTTP: every endpoint and method, random headers, random and
hostile JSON bodies, random scenario documents.

Every request must get a deliberate answer: a 2xx (or a redirect), or a 4xx whose JSON body
names the problem; never a 5xx (unless a scenario injected it), never a hung connection; and
tasks the request did not address keep their state. The server runs on a free port for the
module; each example starts from a reset emulator with three sentinel tasks.
"""

from __future__ import annotations

import json
import re
import socket
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import pytest
import requests
from _serve import serve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockcamb.core.clock import ManualClock
from mockcamb.core.emulator import Emulator
from mockcamb.core.families import FAMILIES
from mockcamb.core.routes import API_PREFIX, KINDS, ROUTES
from mockcamb.core.scenario import preset_names
from mockcamb.core.settings import SETTING_FIELDS, Settings
from mockcamb.core.statuses import FINAL_STATUSES
from mockcamb.http.app import create_app
from mockcamb.serve.waitress import Server
from mockcamb.strategies import hostile_task_ids, scenarios

API_KEY = "fuzz-key-0123456789"
TIMEOUT = (3.0, 10.0)  # connect, read: a request that takes longer counts as hung
JsonValue = Any


def fuzz_settings(factor: float = 1.0) -> settings:
    """Local settings scaled by the loaded profile (``HYPOTHESIS_PROFILE``): no global state."""
    base = settings.default
    examples = base.max_examples if base is not None else 100
    return settings(
        max_examples=max(10, int(examples * factor)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


# --- the server and its sentinels --------------------------------------------------------


@dataclass
class Sentinel:
    kind: str
    task_id: str
    scenario: dict[str, Any]
    polls: int


SENTINELS = (
    Sentinel(
        "story",
        f"sentinel-polls-{uuid.uuid4().hex}",
        {"steps": [{"status": "PENDING", "polls": 3}, {"status": "SUCCESS"}]},
        2,
    ),
    Sentinel(
        "project-setup",
        f"sentinel-time-{uuid.uuid4().hex}",
        {"steps": [{"status": "PENDING", "seconds": 100}, {"status": "SUCCESS"}]},
        1,
    ),
    Sentinel("story", f"sentinel-done-{uuid.uuid4().hex}", {"steps": [{"status": "FAILED"}]}, 1),
)
# fields of a task snapshot that only the task's own polls may change
POLL_FIELDS = ("kind", "task_id", "requests", "polls_answered", "history", "scenario")


class Env:
    """The module's server, a client session and the sentinel bookkeeping."""

    def __init__(self) -> None:
        self.emu = Emulator(clock=ManualClock())
        self.baseline: Settings = self.emu.settings
        self.server = Server(create_app(self.emu), "127.0.0.1", 0).start()
        self.session = requests.Session()

    @property
    def url(self) -> str:
        return self.server.url

    def prepare(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Reset everything, create and poll the sentinels; return their snapshots."""
        emu = self.emu
        if emu.settings is not self.baseline:
            emu.configure({"journal_size": self.baseline.journal_size})
            emu.settings = self.baseline
        emu.reset()
        for s in SENTINELS:
            emu.create_task(s.kind, s.task_id, s.scenario)
            for _ in range(s.polls):
                emu.status(s.kind, s.task_id, API_KEY)
        return self.sentinel_state()

    def sentinel_state(self) -> dict[tuple[str, str], dict[str, Any]]:
        out = {}
        for s in SENTINELS:
            task = self.emu.get_task(s.kind, s.task_id)
            out[(s.kind, s.task_id)] = {} if task is None else self.emu.snapshot(task)
        return out

    def close(self) -> None:
        self.session.close()
        self.server.stop()


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    e = Env()
    yield e
    e.close()


def check_sentinels(
    env: Env,
    before: dict[tuple[str, str], dict[str, Any]],
    clock_moved: bool,
    addressed: str = "",
) -> None:
    """Sentinel tasks keep their state, except one whose id is in ``addressed`` (the request's
    path: polling a task is meant to change it)."""
    after = env.sentinel_state()
    for key, snap in before.items():
        now = after[key]
        if addressed and key[1] in addressed:
            assert now, f"sentinel task {key} disappeared"
            continue
        assert now, f"sentinel task {key} disappeared"
        if clock_moved:  # time-driven steps may move on; what polls did must not change
            assert {k: now[k] for k in POLL_FIELDS} == {k: snap[k] for k in POLL_FIELDS}, key
            # a time-driven step may have reached SUCCESS, with its run id; one given stays
            assert snap["run_id"] is None or now["run_id"] == snap["run_id"], key
        else:
            assert now == snap, f"sentinel task {key} changed"


# --- what counts as a deliberate answer -------------------------------------------------


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def strict_json(raw: bytes) -> JsonValue:
    """Decode like a strict client: UTF-8, no NaN/Infinity."""
    return json.loads(raw.decode("utf-8"), parse_constant=_no_constants)


def check_deliberate(
    resp: requests.Response,
    method: str,
    injected: frozenset[int] = frozenset(),
) -> None:
    code = resp.status_code
    where = f"{method} {resp.request.path_url[:120]} -> {code} {resp.content[:300]!r}"
    if code in injected:
        return
    assert code < 500, f"server error: {where}"
    assert code >= 200, where
    if 300 <= code < 400:
        assert resp.headers.get("Location"), f"redirect without Location: {where}"
        return
    ctype = resp.headers.get("Content-Type", "")
    is_json = ctype.split(";")[0].strip() == "application/json"
    if code >= 400:
        assert is_json, f"4xx without a JSON body: {where} ({ctype})"
        if method == "HEAD":
            return
        body = strict_json(resp.content)
        assert isinstance(body, dict), where
        detail = body.get("detail")
        assert detail, f"4xx JSON without a detail: {where}"
        assert isinstance(detail, (str, list)), where
        return
    if is_json and method != "HEAD" and resp.content:
        strict_json(resp.content)  # 2xx JSON must be valid JSON


# --- strategies --------------------------------------------------------------------------

HEADER_VALUE = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.just(" "), max_size=60
).map(str.strip)
HEADER_NAME = st.from_regex(r"\A[A-Za-z][A-Za-z0-9\-]{0,24}\Z").filter(
    lambda n: n.lower() not in ("content-length", "transfer-encoding", "host", "connection")
)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "X")
KIND_VALUES = st.sampled_from([*KINDS, "", "STORY", "other", "story/"])
JUNK_TEXT = st.text(max_size=40)
SEGMENT = st.one_of(
    st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=20),
    hostile_task_ids(max_length=50),
    st.sampled_from([s.task_id for s in SENTINELS]),
)


def json_values(max_leaves: int = 12) -> st.SearchStrategy[JsonValue]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def mutate(doc: JsonValue, draw: st.DrawFn) -> JsonValue:
    """Replace one value somewhere in ``doc`` (or add a key) with random JSON."""
    if isinstance(doc, dict) and doc and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(doc)))
        return {**doc, key: mutate(doc[key], draw)}
    if isinstance(doc, list) and doc and draw(st.booleans()):
        i = draw(st.integers(0, len(doc) - 1))
        return [*doc[:i], mutate(doc[i], draw), *doc[i + 1 :]]
    if isinstance(doc, dict) and draw(st.booleans()):
        return {**doc, draw(st.text(max_size=12)): draw(json_values(4))}
    return draw(json_values(4))


@st.composite
def scenario_docs(draw: st.DrawFn) -> JsonValue:
    """Valid, nearly valid and random scenario documents."""
    valid = scenarios(custom=True, with_faults=True, probabilistic_faults=True)
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(valid)
    if choice == 1:
        return mutate(draw(valid), draw)
    if choice == 2:
        return draw(st.sampled_from([*preset_names(), "no_such_preset", "../etc/passwd", ""]))
    return draw(json_values())


@st.composite
def settings_docs(draw: st.DrawFn) -> JsonValue:
    plausible: dict[str, st.SearchStrategy[JsonValue]] = {
        "api_keys": st.one_of(st.none(), st.lists(JUNK_TEXT, max_size=3), json_values(3)),
        "unknown_task": st.one_of(st.sampled_from(["404", "auto", 404, "x"]), json_values(2)),
        "default_scenario": scenario_docs(),
        "latency": st.one_of(
            st.none(),
            st.builds(lambda ms: {"fixed_ms": ms}, st.floats(-1, 100)),
            json_values(3),
        ),
        "faults": st.one_of(st.lists(json_values(4), max_size=3), json_values(3)),
        "seed": st.one_of(st.integers(-(2**64), 2**64), json_values(2)),
        "journal_size": st.one_of(st.integers(-5, 20_000_000), json_values(2)),
        "journal_bytes": st.one_of(st.integers(-5, 2**35), json_values(2)),
        "max_tasks": st.one_of(st.integers(-5, 200_000_000), json_values(2)),
        "finished_ttl": st.one_of(st.none(), st.floats(-1, 1e13), json_values(2)),
        "history_limit": st.one_of(st.integers(-5, 200_000), json_values(2)),
    }
    names = draw(st.lists(st.sampled_from(SETTING_FIELDS), max_size=4, unique=True))
    doc = {n: draw(plausible.get(n, json_values(2))) for n in names}
    if draw(st.integers(0, 5)) == 0:
        doc[draw(st.text(max_size=10))] = draw(json_values(3))
    return doc


#: The create paths with a JSON body, and the bulk results paths (no placeholders in either).
JSON_CREATES = {
    API_PREFIX + f.create: f for f in FAMILIES if f.body == "json" and "{" not in f.create
}
FORM_FIELDS = sorted({f.name for fam in FAMILIES if fam.body == "multipart" for f in fam.fields})
FILE_FIELDS = sorted({f.name for fam in FAMILIES for f in fam.fields if f.type == "file"})
BULK_PATHS = frozenset(API_PREFIX + r.path for r in ROUTES if r.action == "bulk")


def body_for(path: str, draw: st.DrawFn) -> JsonValue:
    """A JSON body shaped for ``path`` (so deeper code runs), or random JSON."""
    if draw(st.integers(0, 3)) == 0:
        return draw(json_values())
    if path == "/__admin/tasks":
        doc: dict[str, Any] = {"kind": draw(KIND_VALUES)}
        if draw(st.booleans()):
            doc["task_id"] = draw(st.one_of(SEGMENT, JUNK_TEXT, json_values(2)))
        if draw(st.booleans()):
            doc["scenario"] = draw(scenario_docs())
        return doc
    if path == "/__admin/clock/advance":
        return {
            "seconds": draw(
                st.one_of(
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.integers(-(2**80), 2**80),
                    json_values(2),
                )
            )
        }
    if path == "/__admin/settings":
        return draw(settings_docs())
    if path == "/__admin/scenarios/validate":
        return draw(scenario_docs())
    family = JSON_CREATES.get(path)
    if family is not None:  # each field plausible, junk or missing
        return {
            f.name: draw(st.one_of(st.integers(), JUNK_TEXT, json_values(2)))
            for f in family.fields
            if draw(st.integers(0, 2))
        }
    if path in BULK_PATHS:
        return {
            "run_ids": draw(st.one_of(st.lists(st.integers(0, 2000), max_size=4), json_values(2)))
        }
    return draw(json_values())


#: Every route of the route table (each placeholder filled by a fuzzed segment), then the
#: paths around them.
ROUTE_PATHS = tuple(dict.fromkeys(re.sub(r"\{\w+\}", "{id}", API_PREFIX + r.path) for r in ROUTES))
PATHS = (
    *ROUTE_PATHS,
    "/apis/{id}",
    "/apis",
    "/apis/",
    "/__admin/tasks",
    "/__admin/tasks/{kind}/{id}",
    "/__admin/clock",
    "/__admin/clock/advance",
    "/__admin/requests",
    "/__admin/settings",
    "/__admin/reset",
    "/__admin/health",
    "/__admin/presets",
    "/__admin/scenarios/validate",
    "/__admin/",
    "/__admin",
    "/openapi.json",
    "/{id}",
    "/",
)


@dataclass
class FuzzRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes | None
    files: dict[str, tuple[str, bytes]] | None = None
    form: dict[str, str] | None = None

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        body = self.body if self.body is None or len(self.body) < 300 else self.body[:300]
        return (
            f"FuzzRequest({self.method} {self.path[:200]} params={self.params} "
            f"headers={self.headers} body={body!r} form={self.form} files={bool(self.files)})"
        )


@st.composite
def fuzz_requests(draw: st.DrawFn) -> FuzzRequest:
    template = draw(st.sampled_from(PATHS))
    path = template.replace("{kind}", quote(draw(KIND_VALUES), safe="")).replace(
        "{id}", draw(SEGMENT)
    )
    method = draw(st.sampled_from(METHODS))
    params: dict[str, str] = {}
    if draw(st.booleans()):
        for name in draw(st.lists(st.sampled_from(["kind", "task_id", "limit", "x"]), max_size=3)):
            params[name] = draw(
                st.one_of(JUNK_TEXT, st.integers(-5, 2_000_000).map(str), KIND_VALUES)
            )
    headers: dict[str, str] = {}
    key = draw(st.one_of(st.just(API_KEY), st.just(""), HEADER_VALUE, st.none()))
    if key is not None:
        headers["x-api-key"] = key
    if draw(st.booleans()):
        headers["x-mockcamb-scenario"] = draw(
            st.one_of(
                st.sampled_from(preset_names()),
                HEADER_VALUE,
                scenario_docs().map(lambda d: json.dumps(d)[:200]),
            )
        )
    headers.update(draw(st.dictionaries(HEADER_NAME, HEADER_VALUE, max_size=3)))
    ctype = draw(
        st.sampled_from(
            [None, "application/json", "text/plain", "application/x-www-form-urlencoded", "x/y"]
        )
    )
    body: bytes | None = None
    files = form = None
    shape = draw(st.integers(0, 5))
    if shape in (1, 2, 3):
        body = json.dumps(body_for(path.split("?")[0], draw)).encode()
        headers["Content-Type"] = ctype or "application/json"
    elif shape == 4:
        body = draw(st.binary(max_size=200))
        if ctype:
            headers["Content-Type"] = ctype
    elif shape == 5:
        form = draw(
            st.dictionaries(
                st.sampled_from([*FORM_FIELDS, "x"]),
                st.one_of(JUNK_TEXT, st.integers().map(str)),
                max_size=3,
            )
        )
        if draw(st.booleans()):
            files = {draw(st.sampled_from(FILE_FIELDS)): ("a.wav", draw(st.binary(max_size=50)))}
    return FuzzRequest(method, path, params, headers, body, files, form)


class Target(Protocol):
    """Where fuzzed requests go: the root URL and a session."""

    url: str
    session: requests.Session


def send(env: Target, req: FuzzRequest) -> requests.Response:
    url = env.url + req.path
    kwargs: dict[str, Any] = {
        "params": req.params,
        "headers": req.headers,
        "timeout": TIMEOUT,
        "allow_redirects": False,
    }
    if req.files is not None or req.form is not None:
        kwargs["files"] = req.files
        kwargs["data"] = req.form
        kwargs["headers"] = {k: v for k, v in req.headers.items() if k != "Content-Type"}
    else:
        kwargs["data"] = req.body
    try:
        return env.session.request(req.method, url, **kwargs)
    except requests.Timeout:
        pytest.fail(f"hung: no answer within {TIMEOUT[1]} s to {req!r}")


# --- the tests ---------------------------------------------------------------------------


@fuzz_settings(2)
@given(req=fuzz_requests())
def test_every_request_gets_a_deliberate_answer(env: Env, req: FuzzRequest) -> None:
    before = env.prepare()
    clock = env.emu.clock.now()
    resp = send(env, req)
    check_deliberate(resp, req.method)
    if req.method == "POST" and req.path == "/__admin/reset" and resp.status_code < 300:
        assert env.emu.task_count() == 0
        return
    check_sentinels(env, before, env.emu.clock.now() != clock, addressed=req.path)


def _injected(doc: dict[str, Any]) -> tuple[frozenset[int], bool]:
    """Status codes a scenario's faults may answer (their bodies are deliberately odd), and
    whether it drops connections."""
    faults = doc.get("faults", [])
    codes = {f.get("http_status", 200) for f in faults}  # their bodies are the scenario's
    drops = any(f.get("type") == "drop_connection" for f in faults)
    return frozenset(codes), drops


@fuzz_settings(1)
@given(
    doc=scenarios(custom=True, with_faults=True, probabilistic_faults=True, with_latency=False),
    kind=st.sampled_from(["story", "project-setup"]),
    polls=st.integers(1, 12),
    advance=st.sampled_from([0, 1, 60]),
)
def test_random_scenarios_answer_as_written(
    env: Env, doc: dict[str, Any], kind: str, polls: int, advance: float
) -> None:
    before = env.prepare()
    created = env.session.post(
        f"{env.url}/__admin/tasks", json={"kind": kind, "scenario": doc}, timeout=TIMEOUT
    )
    assert created.status_code == 201, created.text
    task_id = created.json()["task_id"]
    injected, drops = _injected(doc)
    url = f"{env.url}/apis/{kind}/{quote(task_id, safe='')}"
    seen: list[str] = []
    for _ in range(polls):
        try:
            resp = env.session.get(url, headers={"x-api-key": API_KEY}, timeout=TIMEOUT)
        except requests.ConnectionError:
            assert drops, "connection dropped without a drop_connection fault"
            continue
        except requests.Timeout:
            pytest.fail(f"hung polling {doc}")
        check_deliberate(resp, "GET", injected)
        if resp.status_code == 200:
            try:
                answer = strict_json(resp.content)
            except ValueError:
                assert 200 in injected, f"200 without JSON, no body fault: {resp.content!r}"
                continue
            if isinstance(answer, dict) and "status" in answer:
                seen.append(answer["status"])
        env.emu.advance(advance)
    # never reverts: once a final status was answered, every later answer repeats it
    finals = [i for i, status in enumerate(seen) if status in FINAL_STATUSES]
    if finals:
        assert len(set(seen[finals[0] :])) == 1, seen
    check_sentinels(env, before, clock_moved=advance > 0)


@fuzz_settings(1)
@given(doc=scenario_docs(), kind=KIND_VALUES)
def test_scenario_documents_are_accepted_or_named(env: Env, doc: JsonValue, kind: str) -> None:
    before = env.prepare()
    for path, body in (
        ("/__admin/scenarios/validate", doc),
        ("/__admin/tasks", {"kind": kind, "scenario": doc}),
        ("/__admin/settings", {"default_scenario": doc}),
    ):
        resp = env.session.request(
            "PUT" if path.endswith("settings") else "POST",
            env.url + path,
            json=body,
            timeout=TIMEOUT,
        )
        check_deliberate(resp, "POST")
        if resp.status_code == 400:
            detail = resp.json()["detail"]
            assert isinstance(detail, str)
            assert detail.split(":")[0].strip(), detail  # names the culprit first
    check_sentinels(env, before, clock_moved=False)


# --- hostile bodies and broken HTTP --------------------------------------------------------

JSON_ENDPOINTS = (
    ("POST", "/__admin/tasks"),
    ("POST", "/__admin/clock/advance"),
    ("PUT", "/__admin/settings"),
    ("POST", "/__admin/scenarios/validate"),
    ("POST", "/apis/project-setup"),
)
DEEP = b"[" * 100_000 + b"]" * 100_000
HOSTILE_BODIES: dict[str, bytes] = {
    "empty": b"",
    "null": b"null",
    "list": b"[1,2,3]",
    "string": b'"x"',
    "number": b"1e999",
    "huge-int": b'{"seconds": ' + b"9" * 5000 + b', "kind": 1}',
    "nan": b'{"seconds": NaN, "kind": NaN}',
    "infinity": b'{"seconds": Infinity, "kind": "story"}',
    "bad-utf8": b'{"kind": "\xff\xfe"}',
    "bom": b'\xef\xbb\xbf{"kind": "story"}',
    "utf16": '{"kind": "story"}'.encode("utf-16"),
    "duplicate-keys": b'{"kind": "story", "kind": "x"}',
    "truncated": b'{"kind": "sto',
    "long-string": b'{"kind": "' + b"a" * 1_000_000 + b'"}',
    "wide": b'{"scenario": {"steps": [' + b'{"status": "PENDING", "polls": 1},' * 5000 + b"{}]}}",
    "deep-array": DEEP,
    "deep-object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "nested-scenario": b'{"kind": "story", "scenario": ' + DEEP + b"}",
}


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_json_bodies(env: Env, name: str) -> None:
    before = env.prepare()
    for method, path in JSON_ENDPOINTS:
        resp = env.session.request(
            method,
            env.url + path,
            data=HOSTILE_BODIES[name],
            headers={"Content-Type": "application/json", "x-api-key": API_KEY},
            timeout=TIMEOUT,
        )
        check_deliberate(resp, method)
        # whatever was accepted must read back as strict JSON
        check_deliberate(env.session.get(env.url + "/__admin/tasks", timeout=TIMEOUT), "GET")
        check_deliberate(env.session.get(env.url + "/__admin/clock", timeout=TIMEOUT), "GET")
        check_deliberate(env.session.get(env.url + "/__admin/settings", timeout=TIMEOUT), "GET")
    check_sentinels(env, before, clock_moved=env.emu.clock.now() != 0)


def test_non_finite_numbers_in_a_scenario_never_reach_an_answer(env: Env) -> None:
    env.prepare()
    body = (
        b'{"kind": "story", "task_id": "nan", '
        b'"scenario": {"steps": [{"status": "FAILED", "message": {"x": NaN}}]}}'
    )
    resp = env.session.post(
        env.url + "/__admin/tasks",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    check_deliberate(resp, "POST")
    poll = env.session.get(env.url + "/apis/story/nan", headers={"x-api-key": API_KEY})
    check_deliberate(poll, "GET")


def test_clock_cannot_overflow(env: Env) -> None:
    env.prepare()
    for _ in range(2):
        resp = env.session.post(
            env.url + "/__admin/clock/advance", json={"seconds": 1e308}, timeout=TIMEOUT
        )
        check_deliberate(resp, "POST")
    check_deliberate(env.session.get(env.url + "/__admin/clock", timeout=TIMEOUT), "GET")


def test_oversized_body_is_refused(env: Env) -> None:
    env.prepare()
    resp = env.session.post(
        env.url + "/__admin/tasks",
        data=b" " * (16 * 1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
        timeout=(3, 30),
    )
    assert resp.status_code == 413
    # waitress refuses it before the app runs, so the body is its own text, not JSON


RAW_REQUESTS = (
    b"\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET /apis/story/x HTTP/1.1\r\nHost: a\r\nx-api-key: k\r\nContent-Length: -1\r\n\r\n",
    b"GET /apis/story/x HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
    b"POST /__admin/tasks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    b"POST /__admin/tasks HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET /apis/story/\x00\xff HTTP/1.1\r\nHost: a\r\nx-api-key: k\r\n\r\n",
    b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"b" * 70_000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n bad folding\r\n\r\n",
    b"GET /apis/story/x HTTP/1.1\r\nHost: a\r\nx-api-key: \xff\xfe\r\n\r\n",
    b'POST /__admin/tasks HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{"kind"',
)


@pytest.mark.parametrize("raw", RAW_REQUESTS, ids=range(len(RAW_REQUESTS)))
def test_broken_http_never_hangs_or_fails(env: Env, raw: bytes) -> None:
    """Malformed requests (the client then stops sending): an answer or a close, in time."""
    before = env.prepare()
    with socket.create_connection(("127.0.0.1", env.server.port), timeout=5) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server answered and closed before we finished: fine
            pass
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except TimeoutError:
            pytest.fail(f"hung: no answer or close within 5 s for {raw[:80]!r}")
        except OSError:  # reset by the server: a close
            pass
    if data:
        status_line = data.split(b"\r\n", 1)[0]
        assert status_line.startswith(b"HTTP/1."), data[:200]
        code = int(status_line.split()[1])
        assert code < 500, data[:300]
    check_sentinels(env, before, clock_moved=False)


def test_server_still_answers_after_the_fuzzing(env: Env) -> None:
    env.prepare()
    s = SENTINELS[0]  # PENDING for 3 answered polls (2 done by prepare), then SUCCESS
    url = f"{env.url}/apis/{s.kind}/{s.task_id}"
    answers = [
        env.session.get(url, headers={"x-api-key": API_KEY}, timeout=TIMEOUT).json()["status"]
        for _ in range(2)
    ]
    assert answers == ["PENDING", "SUCCESS"]


# --- the same fuzzing against `mockcamb serve` on granian --------------------------------
# The app is the one fuzzed above; these check what the server adds: HTTP parsing, limits,
# and that every request still gets a deliberate answer or a clean close, in time.


@dataclass
class Served:
    url: str
    session: requests.Session
    port: int


def add_sentinels(url: str, session: requests.Session) -> None:
    for sentinel in SENTINELS:
        doc = {"kind": sentinel.kind, "task_id": sentinel.task_id, "scenario": sentinel.scenario}
        assert session.post(url + "/__admin/tasks", json=doc, timeout=TIMEOUT).status_code == 201


@pytest.fixture(scope="module")
def granian() -> Iterator[Served]:
    with serve("--clock", "manual", "--api-key", API_KEY) as (_, url), requests.Session() as s:
        add_sentinels(url, s)
        yield Served(url, s, int(url.rsplit(":", 1)[1]))


@fuzz_settings()
@given(req=fuzz_requests())
def test_granian_gives_every_request_a_deliberate_answer(granian: Served, req: FuzzRequest) -> None:
    check_deliberate(send(granian, req), req.method)


# Without the first (blank lines only: HTTP lets a server wait for the request after them)
# and the last (a body still to come): the rest are complete, however malformed.
COMPLETE_RAW_REQUESTS = RAW_REQUESTS[1:-1]


@pytest.mark.parametrize("raw", COMPLETE_RAW_REQUESTS, ids=range(len(COMPLETE_RAW_REQUESTS)))
def test_granian_answers_broken_http_in_time(granian: Served, raw: bytes) -> None:
    """Complete but malformed requests, the connection left open (granian closes at once
    when the client half-closes, which would hide its answer): an answer or a close, in time."""
    with socket.create_connection(("127.0.0.1", granian.port), timeout=5) as sock:
        data = b""
        try:
            sock.sendall(raw)
            data = sock.recv(65536)
        except TimeoutError:
            pytest.fail(f"hung: no answer or close within 5 s for {raw[:80]!r}")
        except OSError:  # reset by the server: a close
            pass
    if data:
        code = int(data.split(b"\r\n", 1)[0].split()[1])
        assert code < 500, data[:300]


def test_granian_refuses_oversized_bodies_and_headers(granian: Served) -> None:
    too_big = granian.session.post(
        granian.url + "/__admin/tasks",
        data=b" " * (16 * 1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
        timeout=(3, 30),
    )
    assert too_big.status_code == 413 and too_big.json()["detail"]
    huge = granian.session.get(
        granian.url + "/__admin/health", headers={"X-Pad": "b" * 140_000}, timeout=TIMEOUT
    )
    assert huge.status_code == 431
    fits = granian.session.get(
        granian.url + "/__admin/health", headers={"X-Pad": "b" * 60_000}, timeout=TIMEOUT
    )
    assert fits.status_code == 200


def test_granian_still_answers_after_the_fuzzing(granian: Served) -> None:
    """After the fuzzing (which may have sent a reset or new settings), a reset and fresh
    sentinels are served as on a new server: the server is whole."""
    reset = granian.session.post(f"{granian.url}/__admin/reset", timeout=TIMEOUT)
    assert reset.status_code == 200, reset.text
    settings = {"api_keys": [API_KEY], "unknown_task": "404", "latency": None, "faults": []}
    put = granian.session.put(f"{granian.url}/__admin/settings", json=settings, timeout=TIMEOUT)
    assert put.status_code == 200, put.text
    add_sentinels(granian.url, granian.session)
    for sentinel in SENTINELS:
        r = granian.session.get(
            f"{granian.url}/apis/{sentinel.kind}/{sentinel.task_id}",
            headers={"x-api-key": API_KEY},
            timeout=TIMEOUT,
        )
        assert r.status_code == 200 and r.json()["status"], r.text
