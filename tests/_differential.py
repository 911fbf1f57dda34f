"""The harness the in-process modes' differential tests share (``test_httpx_mode``,
``test_responses_mode``): one request script, the tasks it polls, and :func:`run_both`, which
sends the same calls to a served emulator over real HTTP and to an identical one in process
and asserts the same answers and the same journal."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from mockcamb.core.journal import FIELDS
from mockcamb.testing import MockCamb, serve_in_thread

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
SETUP = {"media_url": "u", "source_language": 1, "target_languages": [2]}
#: The journal fields the modes must agree on (not the times, nor the headers).
JOURNAL_KEYS = tuple(f for f in FIELDS if f not in ("seq", "delay_ms", "clock", "wall", "headers"))

#: (method, path under /apis, keyword arguments for the client's request())
Call = tuple[str, str, dict[str, Any]]
Runner = Callable[[MockCamb, list[Call]], list[tuple[Any, ...]]]
Journal = Callable[[MockCamb], list[tuple[Any, ...]]]


def script(raw: str) -> list[Call]:
    """The calls both modes answer: polls of a flaky and a garbage task, odd paths and
    methods, creates with good and bad bodies, results. ``raw`` is the keyword the client
    takes a raw body in (httpx: ``content``, requests: ``data``)."""
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
        ("OPTIONS", "/story/flaky", {"headers": KEY}),
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
        ("POST", "/project-setup", {"headers": KEY, "json": SETUP}),
        (
            "POST",
            "/project-setup",
            {"headers": {**KEY, "x-mockcamb-scenario": "error"}, "json": SETUP},
        ),
        ("POST", "/project-setup", {"headers": KEY, "json": {"media_url": 5}}),
        ("POST", "/project-setup", {"headers": KEY, "json": {"target_languages": "x"}}),
        ("POST", "/project-setup", {"headers": KEY, "json": [1, 2]}),
        ("POST", "/project-setup", {"headers": KEY, raw: b"not json"}),
        (
            "POST",
            "/project-setup",
            {"headers": {**KEY, "Content-Type": "application/json"}, raw: b"{broken"},
        ),
        ("POST", "/project-setup", {"headers": KEY, raw: b"x" * (16 * 1024 * 1024 + 1)}),
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
    """The tasks the script polls."""
    mock.create_task("story", "flaky_network", task_id="flaky")
    mock.create_task("story", GARBAGE, task_id="garbage")
    mock.create_task("project-setup", "instant_success", task_id="ps")


def journal(mock: MockCamb) -> list[tuple[Any, ...]]:
    """The journal as the modes must agree on it (no headers)."""
    return [tuple(e[k] for k in JOURNAL_KEYS) for e in mock.requests()]


def run_both(
    calls: list[Call],
    run: Runner,
    in_process: Callable[..., AbstractContextManager[MockCamb]],
    *,
    setup: Callable[[MockCamb], None] = prepare,
    journal: Journal = journal,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Send ``calls`` (with ``run``) to a served emulator and to one in process (the mode's
    ``intercept``), both seeded alike and prepared by ``setup``: the answers and the
    journals must be the same. Returns them (the in-process ones)."""
    with serve_in_thread(settings={"seed": 3}) as served:
        setup(served)
        over_http = run(served, calls)
        http_journal = journal(served)
    with in_process(settings={"seed": 3}) as local:
        setup(local)
        answered = run(local, calls)
        local_journal = journal(local)
    # a runner may make calls of its own (calls empty): the whole lists are compared below
    for call, a, b in zip(calls, over_http, answered, strict=False):
        assert a == b, f"{call[0]} {call[1]}: HTTP {a} != in-process {b}"
    assert over_http == answered
    assert http_journal == local_journal
    return answered, local_journal
