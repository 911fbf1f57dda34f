"""The in-process (responses) mode answers exactly as the HTTP server does.

The same request sequence goes to a served emulator over real HTTP and to an identical
emulator through the ``responses`` adapter; status, content type, body, Retry-After, dropped
connections and the journal must match.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st

from mockcamb.core.emulator import Emulator
from mockcamb.responses_mode import ResponsesAdapter, intercept
from mockcamb.testing import CAMB_BASE_URL, MockCamb, build_emulator, serve_in_thread

KEY = {"x-api-key": "k"}
GARBAGE = {
    "steps": [{"status": "PENDING", "polls": 1}, {"status": "SUCCESS"}],
    "faults": [
        {"poll": 1, "type": "non_json", "http_status": 502},
        {"poll": 2, "type": "truncated_json"},
        {"poll": 3, "type": "empty_body", "http_status": 504, "retry_after": 3},
        {"poll": 4, "type": "malformed_json"},
        {"poll": 5, "http_status": 418, "body": {"teapot": True}},
    ],
}

#: (method, path under /apis, keyword arguments for requests.request)
Call = tuple[str, str, dict[str, Any]]


def script() -> list[Call]:
    story = ("file", ("story.txt", b"Once upon a time", "text/plain"))
    calls: list[Call] = [("GET", "/story/flaky", {"headers": KEY})] * 8
    calls += [("GET", "/story/garbage", {"headers": KEY})] * 6
    calls += [
        ("GET", "/story/flaky", {}),
        ("GET", "/story/flaky", {"headers": {"x-api-key": ""}}),
        ("GET", "/story/missing", {"headers": KEY}),
        ("GET", "/story/a%2Fb", {"headers": KEY}),
        ("GET", "/story/caf%C3%A9", {"headers": KEY}),
        ("GET", "/story/flaky?verbose=1", {"headers": KEY}),
        ("GET", "/story/", {"headers": KEY}),
        ("GET", "/story", {"headers": KEY}),
        ("GET", "/", {"headers": KEY}),
        ("GET", "/nothing/here", {"headers": KEY}),
        ("PUT", "/story/flaky", {"headers": KEY}),
        ("DELETE", "/project-setup/flaky", {}),
        ("POST", "/story/flaky", {"headers": KEY}),
        ("HEAD", "/story/flaky", {"headers": KEY}),
        ("POST", "/story", {"headers": KEY, "files": [story], "data": {"source_language": "1"}}),
        ("POST", "/story", {"headers": KEY, "files": [story], "data": {"source_language": "x"}}),
        ("POST", "/story", {"headers": KEY, "data": {"source_language": "1"}}),
        ("POST", "/story", {"headers": KEY, "json": {"source_language": 1}}),
        ("POST", "/story", {"headers": KEY}),
        ("POST", "/story", {"files": [story], "data": {"source_language": "1"}}),
        (
            "POST",
            "/story",
            {
                "headers": {**KEY, "x-mockcamb-scenario": "no_such_preset"},
                "files": [story],
                "data": {"source_language": "1"},
            },
        ),
        (
            "POST",
            "/project-setup",
            {
                "headers": KEY,
                "json": {"media_url": "u", "source_language": 1, "target_languages": [2]},
            },
        ),
        (
            "POST",
            "/project-setup",
            {
                "headers": {**KEY, "x-mockcamb-scenario": "error"},
                "json": {"media_url": "u", "source_language": "7", "target_languages": []},
            },
        ),
        (
            "POST",
            "/project-setup",
            {"headers": KEY, "json": {"media_url": 5, "target_languages": "x"}},
        ),
        ("POST", "/project-setup", {"headers": KEY, "json": [1, 2]}),
        ("POST", "/project-setup", {"headers": KEY, "data": "not json"}),
        (
            "POST",
            "/project-setup",
            {"headers": {**KEY, "Content-Type": "application/json"}, "data": "{broken"},
        ),
        ("GET", "/story-result/1000", {"headers": KEY}),
        ("GET", "/story-result/1000", {}),
        ("GET", "/story-result/999999", {"headers": KEY}),
        ("GET", "/story-result/abc", {"headers": KEY}),
        ("GET", "/project-setup-result/1000", {"headers": KEY}),
        ("GET", "/project-setup-result/1001", {"headers": KEY}),
        ("GET", "/story-result/", {"headers": KEY}),
    ]
    return calls


def prepare(mock: MockCamb) -> None:
    mock.create_task("story", "flaky_network", task_id="flaky")
    mock.create_task("story", GARBAGE, task_id="garbage")
    mock.create_task("project-setup", "instant_success", task_id="ps")


def answer(base_url: str, call: Call, base: str) -> tuple[Any, ...]:
    method, path, kwargs = call
    try:
        r = requests.request(method, base_url + path, timeout=5, **kwargs)
    except requests.exceptions.ConnectionError:
        return ("dropped",)
    return (
        r.status_code,
        r.headers.get("Content-Type"),
        r.headers.get("Retry-After"),
        r.content.replace(base.encode(), b"BASE"),
    )


def journal(mock: MockCamb) -> list[tuple[Any, ...]]:
    keys = ("method", "path", "kind", "task_id", "request", "status_code", "task_status", "dropped")
    return [tuple(e[k] for k in keys) for e in mock.requests()]


def run_both(calls: list[Call], setup: Callable[[MockCamb], None] = prepare) -> None:
    with serve_in_thread(settings={"seed": 3}) as served:
        setup(served)
        over_http = [answer(served.base_url, c, served.base_url) for c in calls]
        http_journal = journal(served)
    with intercept(settings={"seed": 3}) as local:
        setup(local)
        in_process = [answer(local.base_url, c, local.base_url) for c in calls]
        local_journal = journal(local)
    for call, a, b in zip(calls, over_http, in_process, strict=True):
        assert a == b, f"{call[0]} {call[1]}: HTTP {a} != in-process {b}"
    assert http_journal == local_journal


def test_the_same_script_gets_the_same_answers_in_both_modes() -> None:
    run_both(script())


def test_the_script_covers_every_kind_of_answer() -> None:
    with intercept() as mock:
        prepare(mock)
        answers = [answer(mock.base_url, c, mock.base_url) for c in script()]
    codes = {a[0] for a in answers}
    assert {"dropped", 200, 400, 401, 404, 418, 422, 429, 502, 503, 504} <= codes
    assert any(a[1:2] == ("text/html; charset=utf-8",) for a in answers)
    assert ("dropped",) in answers


@pytest.fixture(scope="module")
def twins() -> Iterator[tuple[MockCamb, Emulator]]:
    """A served emulator and an in-process one in the same (empty) state."""
    with serve_in_thread(settings={"seed": 3}) as served:
        yield served, build_emulator({"seed": 3})


_segment = st.text(string.ascii_letters + string.digits + "-_.~%é/ ", min_size=0, max_size=12)


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    prefix=st.sampled_from(
        [
            "",
            "story",
            "story/",
            "project-setup/",
            "story-result/",
            "project-setup-result/",
            "project-setup",
            "x/",
            "/",
            "//",
            "story//",
            "//story/",
        ]
    ),
    rest=st.one_of(_segment, st.text(max_size=8)),
    keyed=st.booleans(),
)
def test_arbitrary_requests_get_the_same_answers(
    twins: tuple[MockCamb, Emulator], method: str, prefix: str, rest: str, keyed: bool
) -> None:
    served, local_emu = twins
    path = "/" + prefix + quote(rest, safe="/%")
    if "%" in rest and not _valid_escapes(path):
        path = path.replace("%", "%25")
    call: Call = (method, path, {"headers": KEY} if keyed else {})
    served.clear_requests()
    local_emu.clear_journal()
    over_http = answer(served.base_url, call, served.base_url)
    with intercept(local_emu) as local:
        in_process = answer(local.base_url, call, local.base_url)
    assert over_http == in_process
    assert journal(served) == journal(local)


def _valid_escapes(path: str) -> bool:
    parts = path.split("%")[1:]
    return all(len(p) >= 2 and all(c in string.hexdigits for c in p[:2]) for p in parts)


def test_a_dropped_connection_raises_connection_error_in_process() -> None:
    with intercept() as mock:
        task_id = mock.create_task(
            "story",
            {"steps": [{"status": "SUCCESS"}], "faults": [{"poll": 1, "type": "drop_connection"}]},
        )
        with pytest.raises(requests.exceptions.ConnectionError, match="dropped"):
            requests.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY)
        assert requests.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY).ok


def test_latency_really_waits_in_process() -> None:
    with intercept(settings={"latency": {"fixed_ms": 40}}) as mock:
        task_id = mock.create_task("story")
        reply = requests.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY)
        assert reply.elapsed.total_seconds() >= 0.0 and reply.ok
        assert mock.requests()[-1]["delay_ms"] == 40


def test_a_custom_base_url_and_an_existing_requests_mock() -> None:
    emu = Emulator()
    emu.create_task("story", "s1", "instant_success")
    with responses.RequestsMock() as rsps:
        ResponsesAdapter(emu, "http://camb.internal:8080/v1/apis/").register(rsps)
        reply = requests.get("http://camb.internal:8080/v1/apis/story/s1", headers=KEY)
        assert reply.json()["status"] == "SUCCESS"
        assert emu.journal()[-1]["path"] == "/v1/apis/story/s1"
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get("http://camb.internal:8080/v1/apisX/story/s1")


def test_intercept_can_join_a_mock_the_test_already_started() -> None:
    with responses.RequestsMock() as rsps:
        rsps.get("https://example.invalid/", body="hello")
        with intercept(rsps=rsps) as mock:
            assert mock.responses is rsps
            task_id = mock.create_task("story", "instant_success")
            assert requests.get(f"{mock.base_url}/story/{task_id}", headers=KEY).ok
        assert requests.get("https://example.invalid/").text == "hello"


def test_intercept_over_an_existing_emulator_applies_settings() -> None:
    emu = Emulator()
    with intercept(emu, settings={"unknown_task": "auto"}) as mock:
        assert mock.emulator is emu
        assert requests.get(f"{mock.base_url}/story/new", headers=KEY).ok


def test_bad_base_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="base_url"):
        ResponsesAdapter(Emulator(), "client.camb.ai/apis")


def test_bodies_of_every_shape_are_read() -> None:
    with intercept() as mock:

        def post(data: Any) -> int:
            return requests.post(
                f"{mock.base_url}/project-setup",
                data=data,
                headers={**KEY, "Content-Type": "application/json"},
            ).status_code

        doc = '{"media_url": "u", "source_language": 1, "target_languages": [1]}'
        assert post(doc) == 200
        assert post(doc.encode()) == 200
        assert post(iter([doc[:10].encode(), doc[10:].encode()])) == 200
        assert post(b"x" * (16 * 1024 * 1024 + 1)) == 413
