"""GET /__admin/: the read-only HTML dashboard over real HTTP: its filters, paging, opened
tasks and timelines, links, escaping and key scrubbing (the page in headless Chromium is
tests/test_dashboard_browser.py)."""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime, timezone
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from mockcamb.core.routes import KINDS
from mockcamb.core.scenario import FAULT_TYPES
from mockcamb.http.dashboard import (
    MAX_OPEN,
    Origin,
    View,
    build_timeline,
    fault_class,
    fault_origin,
    status_class,
)
from mockcamb.testing import MockCamb, serve_in_thread

SECRET_KEY = "sk-live-0123456789abcdef"
HOSTILE_ID = "<img src=x onerror=alert(1)>&amp;\"'"
HOSTILE_NAME = "</td><script>document.title='pwned'</script>"


class Page(HTMLParser):
    """The parts of the page a test reads: tags and texts seen, the text of each cell of the
    rows of class ``task``/``request``/``answer``, the links, and the parts of the timelines
    of the opened tasks (``svg_marks``)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.texts: list[str] = []
        self.links: dict[str, list[str]] = {}  # by class of <a>, or its id
        self.ids: set[str] = set()
        self.svg_marks: list[str] = []  # classes of timeline parts inside opened details
        self.meta_refresh: str | None = None
        self.hidden: list[tuple[str, str]] = []
        self._rows: list[tuple[str, list[str]]] = []  # open rows, innermost last
        self._in_detail = 0
        self._in_timeline = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = {k: v or "" for k, v in attrs}
        cls = a.get("class", "")
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "tr":
            base = cls.split()[0] if cls else ""
            self._rows.append((base, []))
            if base == "detail":
                self._in_detail += 1
        elif tag == "td" and self._rows:
            self._rows[-1][1].append("")
        elif tag == "a" and "href" in a:
            self.links.setdefault(cls or a.get("id", ""), []).append(a["href"])
        elif tag == "meta" and a.get("http-equiv") == "refresh":
            self.meta_refresh = a.get("content")
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden.append((a.get("name", ""), a.get("value", "")))
        elif tag == "svg" and self._in_detail and cls == "tl":
            self._in_timeline = True
        elif self._in_timeline and tag in ("rect", "line", "polygon", "circle", "path"):
            self.svg_marks.append(cls)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._in_timeline = False
        if tag == "tr" and self._rows:
            base, cells = self._rows.pop()
            if base == "detail":
                self._in_detail -= 1
            if base in ("task", "request", "answer"):
                self.rows.setdefault(base, []).append([c.strip() for c in cells])

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._rows and self._rows[-1][1]:
            self._rows[-1][1][-1] += data

    def column(self, row_class: str, index: int) -> list[str]:
        return [r[index] for r in self.rows.get(row_class, [])]


def get(url: str, **params: str | list[str]) -> requests.Response:
    reply = requests.get(url, params=params, timeout=10)
    return reply


def page(mock: MockCamb, **params: str | list[str]) -> Page:
    reply = get(f"{mock.url}/__admin/", **params)
    assert reply.status_code == 200, reply.text
    return Page(reply.text)


def poll(mock: MockCamb, kind: str, task_id: str, key: str = SECRET_KEY) -> None:
    with contextlib.suppress(requests.ConnectionError):  # a dropped connection
        requests.get(f"{mock.base_url}/{kind}/{task_id}", headers={"x-api-key": key}, timeout=5)


def populate(mock: MockCamb) -> None:
    mock.configure(api_keys=[SECRET_KEY])
    mock.create_task("story", "flaky_network", task_id=HOSTILE_ID)
    mock.create_task(
        "project-setup",
        {"name": HOSTILE_NAME, "steps": [{"status": "PENDING", "polls": 1}, {"status": "ERROR"}]},
        task_id="ps-1",
    )
    for _ in range(3):
        poll(mock, "story", HOSTILE_ID)
        poll(mock, "project-setup", "ps-1")
    poll(mock, "story", SECRET_KEY)  # a key in a path
    mock.advance(42.5)


def test_the_page_lists_tasks_requests_and_the_clock(mockcamb: MockCamb) -> None:
    populate(mockcamb)
    reply = get(f"{mockcamb.url}/__admin/")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = reply.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "form-action 'self'" in csp
    assert "script-src" not in csp  # nothing may run
    assert reply.headers["Cache-Control"] == "no-store"
    p = Page(reply.text)
    tasks = p.rows["task"]
    assert [(t[0], t[1], t[2]) for t in tasks] == [
        ("project-setup", "ps-1", "ERROR"),
        ("story", HOSTILE_ID, "PENDING"),
    ]
    assert tasks[1][4] == "1 / 3"  # polls answered / requests (a 503, a 200, a 429)
    assert tasks[1][5] == "2"  # faults
    assert tasks[0][9] == HOSTILE_NAME
    assert p.column("request", 5)[-1] == "503"  # oldest last: the flaky task's first poll
    assert len(p.rows["request"]) == 7
    assert "42.500" in "".join(p.texts)
    assert "no-tasks" not in p.ids and {"filters", "legend", "pager", "tasks"} <= p.ids


def test_the_step_is_zero_based_as_in_the_api(mockcamb: MockCamb) -> None:
    """Item 9: the API's ``step`` is 0-based; the page shows the same number, labelled."""
    doc = {"steps": [{"status": "PENDING", "polls": 1}, {"status": "RUNNING", "polls": 1},
                     {"status": "SUCCESS"}]}  # fmt: skip
    mockcamb.create_task("story", doc, task_id="s")
    headers = mockcamb.headers
    html = get(f"{mockcamb.url}/__admin/").text
    assert "step <small>(0-based, as the API) / last</small>" in html
    for expected_step in (0, 1, 2):
        api_step = mockcamb.task("story", "s")["step"]
        assert api_step == expected_step
        assert page(mockcamb).column("task", 3) == [f"{api_step} / 2"]
        requests.get(f"{mockcamb.base_url}/story/s", headers=headers, timeout=5)


def test_a_dropped_connection_shows_no_status_code(mockcamb: MockCamb) -> None:
    """Item 6: a dropped answer has no status code, in the request list and in the task."""
    mockcamb.create_task("story", "flaky_network", task_id="f")
    for _ in range(5):  # the 5th request of flaky_network drops the connection
        poll(mockcamb, "story", "f", mockcamb.api_key)
    p = page(mockcamb, open="story/f")
    assert p.column("request", 5)[0] == "connection dropped"  # newest first
    answers = p.rows["answer"]
    assert answers[4][0] == "5" and answers[4][3] == "connection dropped"
    assert answers[4][5] == "drop_connection"
    assert all("200" not in cell for cell in (p.column("request", 5)[0], answers[4][3]))
    assert "m drop_connection" in p.svg_marks


def test_everything_is_escaped_and_no_key_is_shown(mockcamb: MockCamb) -> None:
    populate(mockcamb)
    opened = f"story/{HOSTILE_ID}"
    for params in ({}, {"id": "<img", "open": opened, "status": "<u>PENDING"}):
        html = get(f"{mockcamb.url}/__admin/", **params).text
        assert "<img" not in html and "<script" not in html and "<u>" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert SECRET_KEY not in html
        assert "1 accepted" in html
    assert "/story/[redacted]" in get(f"{mockcamb.url}/__admin/").text
    # the key typed into a filter is not echoed either
    assert SECRET_KEY not in get(f"{mockcamb.url}/__admin/", id=SECRET_KEY).text


def test_filters_by_family_status_id_and_faults(mockcamb: MockCamb) -> None:
    made: dict[str, tuple[str, str]] = {}  # id -> (kind, scenario)
    for i in range(24):
        kind = KINDS[i % len(KINDS)]
        scenario = ("happy_path", "flaky_network", "error")[i % 3]
        task_id = f"Job-{i:02d}" if i % 4 else f"other-{i:02d}"
        mockcamb.create_task(kind, scenario, task_id=task_id)
        made[task_id] = (kind, scenario)
    for task_id, (kind, _) in made.items():
        for _ in range(3):
            poll(mockcamb, kind, task_id, mockcamb.api_key)
    truth = {t["task_id"]: t for t in mockcamb.tasks()}

    def ids(**params: str) -> list[str]:
        return sorted(page(mockcamb, per_page="1000", **params).column("task", 1))

    assert ids() == sorted(truth)
    for kind in KINDS:
        assert ids(family=kind) == sorted(t for t, (k, _) in made.items() if k == kind)
    for status in {t["status"] for t in truth.values()}:
        assert ids(status=status) == sorted(t for t, s in truth.items() if s["status"] == status)
    assert ids(id="job-1") == sorted(t for t in truth if "job-1" in t.lower())
    faulty = sorted(t for t, s in truth.items() if any(h["fault"] for h in s["history"]))
    assert faulty and faulty != sorted(truth)
    assert ids(faults="1") == faulty
    assert ids(faults="0") == sorted(truth)
    combined = ids(family=KINDS[0], faults="1", id="job")
    assert combined == sorted(t for t in faulty if made[t][0] == KINDS[0] and "job" in t.lower())
    empty = page(mockcamb, id="no-such-task")
    assert "task" not in empty.rows and "no-tasks" in empty.ids
    assert "No task matches these filters." in "".join(empty.texts)


def test_the_status_counts_link_to_their_filter(mockcamb: MockCamb) -> None:
    for i in range(5):
        mockcamb.create_task("story", "instant_success" if i < 2 else "never_finishes")
    for t in mockcamb.tasks():
        poll(mockcamb, "story", t["task_id"], mockcamb.api_key)
    p = page(mockcamb)
    text = " ".join("".join(p.texts).split())
    assert "5 tasks match" in text and "SUCCESS 2" in text and "PENDING 3" in text
    base = f"{mockcamb.url}/__admin/"
    success = next(h for h in p.links[""] if "status=SUCCESS" in h)
    assert Page(requests.get(urljoin(base, success), timeout=5).text).column("task", 2) == [
        "SUCCESS",
        "SUCCESS",
    ]


def test_bad_parameters_are_json_400s(mockcamb: MockCamb) -> None:
    url = f"{mockcamb.url}/__admin/"
    for params, field in (
        ({"family": "nope"}, "kind"),
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"per_page": "5000"}, "per_page"),
        ({"faults": "yes"}, "faults"),
        ({"refresh": "0;url=x"}, "refresh"),
        ({"open": [f"story/{i}" for i in range(MAX_OPEN + 1)]}, "open"),
    ):
        reply = requests.get(url, params=params, timeout=5)
        assert reply.status_code == 400, params
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.json()["detail"].startswith(f"{field}:")
    # empty values are "any", as a submitted form sends them
    blank = {"family": "", "status": "", "id": "", "faults": "", "per_page": "", "page": ""}
    assert requests.get(url, params=blank, timeout=5).status_code == 200


def test_paging_keeps_the_filters(mockcamb: MockCamb) -> None:
    for i in range(130):
        mockcamb.create_task("story" if i % 2 else KINDS[-1], None, task_id=f"t{i:03d}")
    seen: list[str] = []
    p = page(mockcamb, family="story", per_page="25")
    pages = 1
    while True:
        seen += p.column("task", 1)
        nav = [
            h
            for h in p.links.get("", [])
            if parse_qs(urlsplit(h).query).get("page") == [str(pages + 1)]
        ]
        if not nav:
            break
        query = parse_qs(urlsplit(nav[0]).query)
        assert query["family"] == ["story"] and query["per_page"] == ["25"]
        p = Page(requests.get(urljoin(f"{mockcamb.url}/__admin/", nav[0]), timeout=5).text)
        pages += 1
    assert pages == 3  # 65 story tasks, 25 a page
    assert seen == [f"t{i:03d}" for i in range(129, -1, -1) if i % 2]  # newest first, all once
    last = page(mockcamb, family="story", per_page="25", page="99")  # clamped to the last
    assert len(last.rows["task"]) == 15 and "page 3 of 3" in "".join(last.texts)


def test_opened_tasks_and_refresh_stay_in_every_link(mockcamb: MockCamb) -> None:
    for i in range(30):
        mockcamb.create_task("story", "rate_limited", task_id=f"r{i:02d}")
    poll(mockcamb, "story", "r05", mockcamb.api_key)
    base = f"{mockcamb.url}/__admin/"
    p = page(mockcamb, per_page="25", refresh="5", open="story/r05", id="r")
    assert p.meta_refresh == "5"  # no url=: the browser reloads this very URL, query included
    assert "task-" in "".join(p.ids) and any(i.endswith("-detail") for i in p.ids)
    assert ("open", "story/r05") in p.hidden and ("refresh", "5") in p.hidden
    links = [parse_qs(urlsplit(h).query) for h in (*p.links[""], *p.links["clear"])]
    assert len(links) > 5  # pager, status counts, reload choices, clear filters
    for query in links:  # the state rides along
        assert query["open"] == ["story/r05"], query
    assert [q.get("refresh") for q in links].count(None) == 1  # only "reload: off" drops it
    assert {q["refresh"][0] for q in links if "refresh" in q} == {"2", "5", "30"}
    # the toggle of the opened task closes it and keeps the rest
    closing = [h for h in p.links["toggle"] if "open=story%2Fr05" not in h]
    assert len(closing) == 1
    closed = Page(requests.get(urljoin(base, closing[0]), timeout=5).text)
    assert not any(i.endswith("-detail") for i in closed.ids)
    assert closed.meta_refresh == "5"
    # opening a second one keeps the first open
    second = next(h for h in p.links["toggle"] if "open=story%2Fr06" in h)
    both = parse_qs(urlsplit(second).query)["open"]
    assert both == ["story/r05", "story/r06"]


def test_the_timeline_shows_statuses_faults_and_retry_after(mockcamb: MockCamb) -> None:
    mockcamb.configure(faults=[{"poll": 6, "type": "non_json", "http_status": 502}])
    mockcamb.create_task("story", "rate_limited", task_id="rl")
    for gap in (1, 1, 6, 1, 1, 1):  # three 429s with Retry-After 5, then PENDING, SUCCESS...
        poll(mockcamb, "story", "rl", mockcamb.api_key)
        mockcamb.advance(gap)
    p = page(mockcamb, open="story/rl")
    answers = p.rows["answer"]
    assert [a[3] for a in answers] == ["429", "429", "429", "200", "200", "502"]
    assert [a[6] for a in answers] == ["scenario fault #1"] * 3 + [
        "",
        "",
        "global settings fault #1",
    ]
    assert [a[5] for a in answers] == ["http_error"] * 3 + ["", "", "non_json"]
    assert [a[7] for a in answers][:3] == ["5 s"] * 3
    assert answers[0][8] == "1.000 s (before Retry-After)"  # the client came back too early
    assert answers[2][8] == "6.000 s"  # waited long enough
    assert [a[4] for a in answers][3:5] == ["PENDING", "SUCCESS"]
    marks = p.svg_marks
    assert marks.count("m http_error") == 3 and marks.count("m non_json") == 1
    assert marks.count("m poll") == 2
    assert marks.count("wait early") == 2 and marks.count("wait") == 1
    assert "seg PENDING" in marks and "seg SUCCESS" in marks and "seg none" in marks
    text = "".join(p.texts)
    assert "Retry-After 5 s from 0.000 s; next request 1.000 s later (too early)" in text
    assert "http_error 429 on requests 1, 2, 3, Retry-After 5 s" in text
    assert "non_json 502 on request 6" in text
    # the legend names every fault type, each with its own mark
    legend = Page(get(f"{mockcamb.url}/__admin/").text)
    assert all(f in legend.texts for f in FAULT_TYPES)


def test_wall_clock_times_come_from_the_journal(mockcamb: MockCamb) -> None:
    mockcamb.create_task("story", "flaky_network", task_id="w")
    for _ in range(5):
        poll(mockcamb, "story", "w", mockcamb.api_key)  # at one clock reading: 0.0 s
    html = get(f"{mockcamb.url}/__admin/", open="story/w").text
    journal = mockcamb.requests("story", "w")
    assert len(journal) == 5
    for entry in journal:
        stamp = datetime.fromtimestamp(entry["wall"], timezone.utc)
        assert f'datetime="{stamp.isoformat(timespec="milliseconds")}"' in html


def test_links_lead_to_the_tasks_json_and_journal(mockcamb: MockCamb) -> None:
    populate(mockcamb)
    base = f"{mockcamb.url}/__admin/"
    p = page(mockcamb)
    tasks = [requests.get(urljoin(base, h), timeout=5) for h in p.links["json"]]
    assert [t.json()["task_id"] for t in tasks] == ["ps-1", HOSTILE_ID]
    journals = [requests.get(urljoin(base, h), timeout=5).json() for h in p.links["journal"]]
    assert [{e["task_id"] for e in j["requests"]} for j in journals] == [{"ps-1"}, {HOSTILE_ID}]
    assert len(journals[1]["requests"]) == 3


def test_empty_state_and_refresh(mockcamb: MockCamb) -> None:
    html = get(f"{mockcamb.url}/__admin/", refresh="5").text
    assert "No tasks yet." in html and "No requests yet." in html
    assert '<meta http-equiv="refresh" content="5">' in html
    assert "http-equiv" not in get(f"{mockcamb.url}/__admin/").text
    assert requests.get(f"{mockcamb.url}/__admin", timeout=5).url.endswith("/__admin/")


def test_the_admin_token_guards_the_dashboard_and_its_links() -> None:
    with serve_in_thread(admin_token="t0ken") as mock:
        mock.create_task("story", None, task_id="a")
        url = f"{mock.url}/__admin/"
        denied = requests.get(url, timeout=5)
        assert denied.status_code == 401
        assert denied.headers["WWW-Authenticate"] == 'Basic realm="mockcamb admin"'
        assert requests.get(url, auth=("anyone", "wrong"), timeout=5).status_code == 401
        html = requests.get(url, auth=("anyone", "t0ken"), timeout=5)
        assert html.status_code == 200
        assert requests.get(url, headers={"x-admin-token": "t0ken"}, timeout=5).status_code == 200
        bearer = {"Authorization": "Bearer t0ken"}
        assert requests.get(url, headers=bearer, timeout=5).status_code == 200
        # the browser sends the same Basic credentials on to the JSON the page links to
        for href in (*Page(html.text).links["json"], *Page(html.text).links["journal"]):
            linked = urljoin(url, href)
            assert requests.get(linked, timeout=5).status_code == 401
            assert requests.get(linked, auth=("u", "t0ken"), timeout=5).status_code == 200
            assert requests.get(linked, auth=("u", "nope"), timeout=5).status_code == 401


def test_status_and_fault_classes_never_echo_user_strings() -> None:
    assert status_class("SUCCESS") == "SUCCESS"
    assert status_class("PENDING") == "PENDING"
    assert status_class("TIMEOUT") == "failed"
    assert status_class('x" onmouseover="alert(1)') == "custom"
    assert [fault_class(f) for f in FAULT_TYPES] == list(FAULT_TYPES)
    assert fault_class('x" onload="y') == "other" and fault_class(None) == "other"


def test_fault_origin_follows_the_order_faults_are_picked_in() -> None:
    scenario = [
        {"type": "http_error", "http_status": 500, "probability": 0.1},
        {"type": "http_error", "http_status": 429, "poll": [1, 2], "retry_after": 2.5},
        {"type": "drop_connection", "http_status": 200, "poll": 3},
    ]
    settings = [{"type": "http_error", "http_status": 500, "poll": 4, "retry_after": 9}]
    assert fault_origin(2, "http_error", 429, scenario, settings) == Origin("scenario", 2, 2.5)
    assert fault_origin(3, "drop_connection", None, scenario, settings) == Origin(
        "scenario", 3, None
    )
    # a probability fault first, and a by-number one later that could have struck instead
    both = fault_origin(4, "http_error", 500, scenario, settings)
    assert both == Origin("scenario", 1, None, ambiguous=True)
    assert both.label == "scenario fault #1 (or a later one)"
    assert fault_origin(4, "http_error", 500, [], settings).label == "global settings fault #1"
    assert fault_origin(7, "non_json", 502, scenario, settings).label == (
        "not in the current faults"
    )


def test_the_timeline_band_follows_the_answers() -> None:
    from mockcamb.http.dashboard import Answer, Stamp

    def answer(n: int, t: float, status: str | None, fault: str | None = None) -> Answer:
        return Answer(n, Stamp(t), "200", False, status, status_class(status or ""), fault,
                      fault_class(fault), None, None)  # fmt: skip

    answers = [answer(1, 2, None, "http_error"), answer(2, 4, "PENDING"), answer(3, 6, "DONE")]
    line = build_timeline(0, answers, 0, 10, 100, complete=True)
    assert [(s.x, s.w, s.cls) for s in line.segments] == [
        (0, 40, "none"),
        (40, 20, "PENDING"),
        (60, 40, "custom"),
    ]
    assert [(m.x, m.cls) for m in line.marks] == [(20, "http_error"), (40, "poll"), (60, "poll")]
    assert line.label == "3 requests shown, 1 fault; statuses PENDING then DONE"
    # history that no longer holds the first requests starts at the first one it holds
    late = build_timeline(0, answers[1:], 0, 10, 100, complete=False)
    assert late.segments[0].x == 40


def test_view_urls_round_trip() -> None:
    view = View(family="story", status="PENDING", id="a b&c", faults=True, page=3,
                per_page=25, open=("story/x",), refresh=2)  # fmt: skip
    from werkzeug.datastructures import MultiDict

    query = view.url().removeprefix("?")
    assert View.from_args(MultiDict(parse_qs(query, keep_blank_values=True))) == view

    def page_of(url: str) -> list[str] | None:
        return parse_qs(urlsplit(url).query).get("page")

    assert page_of(view.url(status="SUCCESS")) is None  # a new filter goes to page 1
    assert page_of(view.url(open=())) == ["3"]  # opening or closing keeps the page
    assert View().url() == "./"


def test_the_dashboard_reads_a_shared_redis_store() -> None:
    """Tasks, history, journal and settings faults come from the store, whichever it is."""
    from _redis import redis_url

    from mockcamb.core.emulator import Emulator
    from mockcamb.http.app import create_app
    from mockcamb.serve.waitress import Server
    from mockcamb.stores.redis.store import RedisStore

    store = RedisStore(f"{redis_url()}?prefix=dash-{uuid.uuid4().hex[:12]}:")
    emu = Emulator(store=store)
    server = Server(create_app(emu), "127.0.0.1", 0).start()
    try:
        mock = MockCamb(emu, server.base_url)
        emu.configure({"faults": [{"poll": 2, "type": "empty_body", "http_status": 200}]})
        mock.create_task("story", "flaky_network", task_id="f")
        mock.create_task(KINDS[-1], "happy_path", task_id="h")
        for _ in range(5):
            poll(mock, "story", "f", mock.api_key)
            mock.advance(1)
        p = page(mock, open="story/f", faults="1")
        assert p.column("task", 1) == ["f"]
        answers = p.rows["answer"]
        assert [a[3] for a in answers] == ["503", "200", "429", "200", "connection dropped"]
        assert [a[5] for a in answers] == [
            "http_error", "empty_body", "http_error", "", "drop_connection"
        ]  # fmt: skip
        assert [a[6] for a in answers] == [
            "scenario fault #1", "global settings fault #1", "scenario fault #2", "",
            "scenario fault #3",
        ]  # fmt: skip
        assert answers[2][7] == "2 s"
        assert all(a[2] for a in answers)  # wall-clock times, from the store's journal
        assert sorted(page(mock).column("task", 1)) == ["f", "h"]
    finally:
        server.stop()
        store.reset()
        store.close()


@pytest.mark.parametrize("kind", KINDS)
def test_every_family_is_a_filter_choice(mockcamb: MockCamb, kind: str) -> None:
    html = get(f"{mockcamb.url}/__admin/", family=kind).text
    assert f'<option value="{kind}" selected>{kind}</option>' in html
