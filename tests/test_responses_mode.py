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
from _differential import KEY, Call, journal, prepare, script
from _differential import run_both as differential
from hypothesis import given
from hypothesis import strategies as st

from mockcamb.core.emulator import Emulator
from mockcamb.responses_mode import ResponsesAdapter, intercept
from mockcamb.testing import CAMB_BASE_URL, MockCamb, build_emulator, serve_in_thread


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


def _run(mock: MockCamb, calls: list[Call]) -> list[tuple[Any, ...]]:
    return [answer(mock.base_url, c, mock.base_url) for c in calls]


def run_both(calls: list[Call], setup: Callable[[MockCamb], None] = prepare) -> None:
    differential(calls, _run, intercept, setup=setup)


def test_the_same_script_gets_the_same_answers_in_both_modes() -> None:
    run_both(script("data"))


def test_the_script_covers_every_kind_of_answer() -> None:
    with intercept() as mock:
        prepare(mock)
        answers = _run(mock, script("data"))
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
