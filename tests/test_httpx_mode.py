"""The in-process httpx mode answers exactly as the HTTP server does, sync and async.

The same request sequence goes over real HTTP to a served emulator and through the httpx
mode to an identical emulator; status, the headers that matter, body, dropped connections
(the same httpx exception) and the journal (headers included) must match. Then: which
clients are covered (built before the intercept, proxies, mounts, ``httpx.get``), what
passes through, latency (real, virtual, and never blocking the event loop), every family
of the route table, and the plain transports.
"""

from __future__ import annotations

import asyncio
import json
import re
import string
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from _differential import KEY, Call, Runner, prepare, script
from _differential import journal as shared_journal
from _differential import run_both as differential
from hypothesis import given
from hypothesis import strategies as st

from mockcamb.core.bodies import example_request
from mockcamb.core.emulator import Emulator
from mockcamb.core.families import Family
from mockcamb.core.routes import FAMILIES, ROUTES, family
from mockcamb.httpx_mode import (
    DROPPED_MESSAGE,
    HttpxMode,
    async_transport,
    intercept,
    transport,
)
from mockcamb.leaks import CambHostRefused
from mockcamb.testing import CAMB_BASE_URL, MockCamb, build_emulator, serve_in_thread
from mockcamb.virtual_time import virtual_time

INSTANT = {**KEY, "x-mockcamb-scenario": "instant_success"}
#: Headers a server adds by itself (waitress: Date, Server; keep-alive framing).
SERVER_HEADERS = frozenset({"date", "server", "connection", "keep-alive"})


def _outcome(reply: httpx.Response, base: str) -> tuple[Any, ...]:
    headers = sorted(
        (k, v.replace(base, "BASE"))
        for k, v in reply.headers.multi_items()
        if k not in SERVER_HEADERS
    )
    return (reply.status_code, headers, reply.content.replace(base.encode(), b"BASE"))


def answer(client: httpx.Client, base_url: str, call: Call) -> tuple[Any, ...]:
    method, path, kwargs = call
    try:
        reply = client.request(method, base_url + path, **kwargs)
    except httpx.TransportError as exc:
        return (type(exc).__name__,)
    return _outcome(reply, base_url)


async def answer_async(client: httpx.AsyncClient, base_url: str, call: Call) -> tuple[Any, ...]:
    method, path, kwargs = call
    try:
        reply = await client.request(method, base_url + path, **kwargs)
    except httpx.TransportError as exc:
        return (type(exc).__name__,)
    return _outcome(reply, base_url)


def journal(mock: MockCamb) -> list[tuple[Any, ...]]:
    """The shared journal fields, and the headers each request came with."""
    out = []
    for fields, e in zip(shared_journal(mock), mock.requests(), strict=True):
        headers = {
            k: re.sub(r"boundary=\w+", "boundary=B", v)  # httpx draws one per request
            for k, v in e["headers"].items()
            if k.lower() != "host"
        }
        out.append((*fields, headers))
    return out


def _sync_run(mock: MockCamb, calls: list[Call]) -> list[tuple[Any, ...]]:
    with httpx.Client(timeout=10) as client:
        return [answer(client, mock.base_url, c) for c in calls]


def _async_run(mock: MockCamb, calls: list[Call]) -> list[tuple[Any, ...]]:
    async def go() -> list[tuple[Any, ...]]:
        async with httpx.AsyncClient(timeout=10) as client:
            return [await answer_async(client, mock.base_url, c) for c in calls]

    return asyncio.run(go())


def run_both(
    calls: list[Call], run: Runner, setup: Callable[[MockCamb], None] = prepare
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    return differential(calls, run, intercept, setup=setup, journal=journal)


@pytest.mark.parametrize("run", [_sync_run, _async_run], ids=["sync", "async"])
def test_the_same_script_gets_the_same_answers_in_both_modes(run: Runner) -> None:
    run_both(script("content"), run)


def test_the_script_covers_every_kind_of_answer() -> None:
    with intercept() as mock:
        prepare(mock)
        answers = _sync_run(mock, script("content"))
    codes = {a[0] for a in answers}
    assert {"RemoteProtocolError", 200, 400, 401, 404, 405, 413, 418, 422, 429, 502, 503} <= codes
    bodies = [a[2] for a in answers if len(a) == 3]
    assert any(b.startswith(b"<html>") for b in bodies)  # non-JSON
    assert any(b.startswith(b'{"status"') and not b.endswith(b"}") for b in bodies)  # truncated
    assert b"" in bodies  # empty


Send = Callable[..., Awaitable[httpx.Response]]


async def every_family(send: Send, base: str) -> list[tuple[Any, ...]]:
    """Each family of the route table as its SDK drives it: create (from a finished run of
    the family it starts from, if any), every status path, every result route, bulk
    results; the outcome of each request, in order."""
    out: list[tuple[Any, ...]] = []
    runs: dict[str, int] = {}

    async def finish(fam: Family) -> int:
        if fam.name in runs:
            return runs[fam.name]
        path: dict[str, Any] = {}
        if fam.starts_from is not None:
            path = {"run_id": await finish(family(fam.starts_from)), "language": 54}
        fields, files = example_request(fam)
        kwargs: dict[str, Any] = {"headers": INSTANT}
        if fam.body == "json":
            kwargs["json"] = fields
        else:
            kwargs["data"] = {k: str(v) for k, v in fields.items()}
            kwargs["files"] = {n: (f"{n}.wav", b"RIFF....WAVE", "audio/wav") for n in files}
        created = await send("POST", fam.create.format(**path), **kwargs)
        out.append(_outcome(created, base))
        task_id = created.json()["task_id"]
        for status_path in fam.status:
            status = await send("GET", f"{status_path}/{task_id}", headers=KEY)
            out.append(_outcome(status, base))
            assert status.json()["status"] == "SUCCESS", (fam.name, status.text)
        runs[fam.name] = status.json()["run_id"]
        return runs[fam.name]

    for fam in FAMILIES:
        run_id = await finish(fam)
        for result in fam.results:
            if result.bulk:
                got = await send("POST", result.path, json={"run_ids": [run_id, 999]}, headers=KEY)
            else:
                filled = result.path.replace("{run_id}", str(run_id))
                filled = filled.replace("{language}", "54").replace("{target_language}", "54")
                got = await send("GET", filled, headers=KEY)
            assert got.status_code == 200, (result.path, got.text[:200])
            out.append(_outcome(got, base))
            if got.headers["content-type"] == "application/json":
                for url in re.findall(rf'"({re.escape(base)}/[^"]+)"', got.text):
                    linked = await send("GET", url.removeprefix(base))  # the files it links
                    assert linked.status_code == 200, url
                    out.append(_outcome(linked, base))
    return out


def _families_sync(mock: MockCamb, _: list[Call]) -> list[tuple[Any, ...]]:
    with httpx.Client(timeout=10) as client:

        async def send(method: str, path: str, **kwargs: Any) -> httpx.Response:
            return client.request(method, mock.base_url + path, **kwargs)

        return asyncio.run(every_family(send, mock.base_url))


def _families_async(mock: MockCamb, _: list[Call]) -> list[tuple[Any, ...]]:
    async def go() -> list[tuple[Any, ...]]:
        async with httpx.AsyncClient(timeout=10) as client:

            async def send(method: str, path: str, **kwargs: Any) -> httpx.Response:
                return await client.request(method, mock.base_url + path, **kwargs)

            return await every_family(send, mock.base_url)

    return asyncio.run(go())


@pytest.mark.parametrize("run", [_families_sync, _families_async], ids=["sync", "async"])
def test_every_family_of_the_route_table_answers_alike(run: Runner) -> None:
    """Create, status, results and bulk results of every family in the route table, to
    SUCCESS, over HTTP and in process: the same answers and the same journal."""
    in_process, local_journal = run_both([], run, setup=lambda mock: None)
    assert {e[2] for e in local_journal} >= {f.name for f in FAMILIES}
    files = [o for o in in_process if any(k == "content-type" and "audio" in v for k, v in o[1])]
    assert files, "no result file (audio) was fetched"


@pytest.fixture(scope="module")
def twins() -> Iterator[tuple[MockCamb, httpx.Client, Emulator, httpx.Client]]:
    """A served emulator and an in-process one in the same (empty) state, each with a client
    (the in-process one through the plain transport: the code path of the intercept)."""
    local = build_emulator({"seed": 3})
    with (
        serve_in_thread(settings={"seed": 3}) as served,
        httpx.Client(timeout=10) as over_http,
        httpx.Client(transport=transport(local)) as in_process,
    ):
        yield served, over_http, local, in_process


_segment = st.text(string.ascii_letters + string.digits + "-_.~%é/ ", min_size=0, max_size=12)
_prefixes = sorted({r.prefix.lstrip("/") for r in ROUTES} | {r.path.lstrip("/") for r in ROUTES})
_bodies = st.one_of(
    st.none(),
    st.binary(max_size=64),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    prefix=st.sampled_from(["", "x/", "/", "//", "story//", "//story/", *_prefixes]),
    rest=st.one_of(_segment, st.text(max_size=8)),
    keyed=st.booleans(),
    body=_bodies,
)
def test_arbitrary_requests_get_the_same_answers(
    twins: tuple[MockCamb, httpx.Client, Emulator, httpx.Client],
    method: str,
    prefix: str,
    rest: str,
    keyed: bool,
    body: bytes | dict[str, int] | None,
) -> None:
    served, over_http, local_emu, in_process = twins
    path = "/" + prefix + quote(rest, safe="/%")
    if "%" in path and not _valid_escapes(path):
        path = path.replace("%", "%25")
    kwargs: dict[str, Any] = {"headers": KEY} if keyed else {}
    if isinstance(body, bytes) and method not in ("GET", "HEAD", "OPTIONS"):
        kwargs["content"] = body
    elif isinstance(body, dict) and method not in ("GET", "HEAD", "OPTIONS"):
        kwargs["json"] = body
    call: Call = (method, path, kwargs)
    served.clear_requests()
    local_emu.clear_journal()
    a = answer(over_http, served.base_url, call)
    b = answer(in_process, CAMB_BASE_URL, call)
    assert a == b
    assert journal(served) == journal(MockCamb(local_emu, CAMB_BASE_URL))


def _valid_escapes(path: str) -> bool:
    parts = path.split("%")[1:]
    return all(len(p) >= 2 and all(c in string.hexdigits for c in p[:2]) for p in parts)


# --- faults as over the network -------------------------------------------------------------

DROP_THEN_OK = {
    "steps": [{"status": "SUCCESS"}],
    "faults": [{"poll": 1, "type": "drop_connection"}],
}


def test_a_dropped_connection_raises_what_httpx_raises_over_the_network() -> None:
    with serve_in_thread() as served, httpx.Client() as client:
        task_id = served.create_task("story", DROP_THEN_OK)
        with pytest.raises(httpx.TransportError) as over_http:
            client.get(f"{served.base_url}/story/{task_id}", headers=KEY)
    with intercept() as mock:
        task_id = mock.create_task("story", DROP_THEN_OK)
        with pytest.raises(httpx.RemoteProtocolError, match="dropped by the scenario") as local:
            httpx.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY)
        assert type(local.value) is type(over_http.value) is httpx.RemoteProtocolError
        assert local.value.request.url.path == f"/apis/story/{task_id}"
        assert httpx.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY).json()["status"] == (
            "SUCCESS"
        )
        assert [e["dropped"] for e in mock.requests()] == [True, False]


def test_a_dropped_connection_in_an_async_client() -> None:
    async def poll(task_id: str) -> list[str]:
        seen = []
        async with httpx.AsyncClient() as client:
            for _ in range(2):
                try:
                    reply = await client.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY)
                    seen.append(reply.json()["status"])
                except httpx.RemoteProtocolError as exc:
                    seen.append(str(exc))
        return seen

    with intercept() as mock:
        task_id = mock.create_task("story", DROP_THEN_OK)
        assert asyncio.run(poll(task_id)) == [DROPPED_MESSAGE, "SUCCESS"]


def test_non_json_and_truncated_bodies_arrive_as_bytes() -> None:
    scenario = {
        "steps": [{"status": "SUCCESS"}],
        "faults": [
            {"poll": 1, "type": "non_json", "http_status": 502},
            {"poll": 2, "type": "truncated_json"},
        ],
    }
    with intercept() as mock:
        task_id = mock.create_task("story", scenario)
        first = httpx.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY)
        assert first.status_code == 502 and first.headers["content-type"].startswith("text/html")
        with pytest.raises(json.JSONDecodeError):
            first.json()
        second = httpx.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY)
        assert second.status_code == 200 and second.content.startswith(b'{"status"')
        with pytest.raises(json.JSONDecodeError):
            second.json()


# --- latency ----------------------------------------------------------------------------------

SLOW = {"steps": [{"status": "SUCCESS"}], "latency": {"fixed_ms": 300}}


def test_latency_is_real_by_default_even_in_virtual_time() -> None:
    with intercept() as mock:
        task_id = mock.create_task("story", SLOW)
        with virtual_time(mock.advance) as vt:
            started = time.perf_counter()
            reply = httpx.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY)
            assert vt.elapsed == 0 and reply.status_code == 200
        assert time.perf_counter() - started >= 0.29
        assert mock.requests()[-1]["delay_ms"] == 300 and mock.now() == 0


def test_virtual_latency_moves_the_virtual_clock_instead() -> None:
    with intercept(latency="virtual") as mock:
        task_id = mock.create_task("story", SLOW)
        with virtual_time(mock.advance) as vt:
            started = time.perf_counter()
            reply = httpx.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY)
            assert time.perf_counter() - started == pytest.approx(0.3, abs=0.05)  # virtual
        assert reply.status_code == 200
        assert vt.sleeps == [pytest.approx(0.3, abs=0.05)]
        assert mock.now() == pytest.approx(0.3, abs=0.05)
        mock.httpx.latency = "real"  # switched at run time
        started = time.perf_counter()
        httpx.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY)
        assert time.perf_counter() - started >= 0.29


def test_async_latency_does_not_block_the_event_loop() -> None:
    with intercept() as mock:
        task_id = mock.create_task("story", SLOW)

        async def main() -> tuple[int, float]:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            tick = asyncio.create_task(ticker())
            started = time.perf_counter()
            async with httpx.AsyncClient() as client:
                replies = await asyncio.gather(
                    *(client.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY) for _ in range(3))
                )
            tick.cancel()
            assert all(r.status_code == 200 for r in replies)
            return ticks, time.perf_counter() - started

        ticks, seconds = asyncio.run(main())
        assert 0.29 <= seconds < 0.85, "three 300 ms answers must wait side by side"
        assert ticks >= 10, "the event loop was blocked while the latency ran"


# --- which requests are answered, which pass, which are refused ------------------------------


def test_clients_built_before_the_intercept_and_module_functions_are_answered() -> None:
    early = httpx.Client()
    early_async = httpx.AsyncClient()
    try:
        with intercept() as mock:
            task_id = mock.create_task("story", "instant_success")
            url = f"{CAMB_BASE_URL}/story/{task_id}"
            assert early.get(url, headers=KEY).json()["status"] == "SUCCESS"
            assert httpx.get(url, headers=KEY).json()["status"] == "SUCCESS"
            with httpx.stream("GET", url, headers=KEY) as streamed:
                assert b"SUCCESS" in b"".join(streamed.iter_bytes())
            reply = asyncio.run(early_async.get(url, headers=KEY))
            assert reply.json()["status"] == "SUCCESS"
            assert len(mock.requests()) == 4
    finally:
        early.close()
        asyncio.run(early_async.aclose())


def test_proxies_and_mounts_are_answered_too() -> None:
    proxied = httpx.Client(proxy="http://proxy.invalid:3128")
    mounted = httpx.Client(mounts={"https://client.camb.ai": httpx.HTTPTransport(retries=2)})
    try:
        with intercept() as mock:
            task_id = mock.create_task("story", "instant_success")
            for client in (proxied, mounted):
                assert client.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY).is_success
            assert len(mock.requests()) == 2
    finally:
        proxied.close()
        mounted.close()


def test_other_hosts_pass_through_untouched() -> None:
    with serve_in_thread() as other, intercept() as mock:
        task_id = other.create_task("story", "instant_success")
        reply = httpx.get(f"{other.base_url}/story/{task_id}", headers=KEY)
        assert reply.json()["status"] == "SUCCESS"
        assert other.requests() and not mock.requests()


def test_the_camb_host_outside_the_base_url_is_refused() -> None:
    with intercept() as mock:
        for url in ("https://client.camb.ai/apisx/story/1", "http://client.camb.ai/apis/story/1"):
            with pytest.raises(CambHostRefused, match="mockcamb_httpx"):
                httpx.get(url, headers=KEY)
        assert mock.requests() == []


def test_a_custom_base_url_and_nested_intercepts() -> None:
    with intercept(base_url="http://camb.internal:8080/v1/apis/") as outer:
        outer.create_task("story", "instant_success", task_id="o")
        with intercept() as inner:
            inner.create_task("story", "instant_success", task_id="i")
            assert httpx.get(f"{CAMB_BASE_URL}/story/i", headers=KEY).is_success
            assert httpx.get("http://camb.internal:8080/v1/apis/story/o", headers=KEY).is_success
        assert outer.emulator.journal()[-1]["path"] == "/v1/apis/story/o"
        assert len(inner.requests()) == 1
        with pytest.raises(CambHostRefused):
            httpx.get("http://camb.internal:8080/v1/apisX/story/o")
    # once every intercept is over, httpx is httpx again
    assert httpx.HTTPTransport.handle_request.__module__ == "httpx._transports.default"


def test_an_intercept_answers_requests_from_other_threads() -> None:
    with intercept() as mock:
        task_id = mock.create_task("story", "instant_success")
        seen: list[int] = []
        worker = threading.Thread(
            target=lambda: seen.append(
                httpx.get(f"{CAMB_BASE_URL}/story/{task_id}", headers=KEY).status_code
            )
        )
        worker.start()
        worker.join(10)
        assert seen == [200]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="latency"):
        HttpxMode(Emulator(), latency="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="base_url"):
        HttpxMode(Emulator(), "client.camb.ai/apis")


# --- the plain transports ---------------------------------------------------------------------


def test_plain_transports_answer_a_client_they_are_given() -> None:
    emu = build_emulator()
    emu.create_task("story", "t", "instant_success")
    with httpx.Client(transport=transport(emu), base_url=CAMB_BASE_URL) as client:
        assert client.get("/story/t", headers=KEY).json()["status"] == "SUCCESS"
        assert httpx.HTTPTransport.handle_request.__module__ == "httpx._transports.default"

    async def go() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=async_transport(emu)) as client:
            reply = await client.get(f"{CAMB_BASE_URL}/story/t", headers=KEY)
            result: dict[str, Any] = reply.json()
            return result

    assert asyncio.run(go())["status"] == "SUCCESS"
    assert [e["path"] for e in emu.journal()] == ["/apis/story/t"] * 2
