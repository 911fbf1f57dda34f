"""GET /__admin/: the read-only HTML dashboard, checked over HTTP and rendered in headless
Chromium (skipped with a reason when Chromium is not installed)."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from mockcamb.http.dashboard import status_class
from mockcamb.testing import MockCamb, serve_in_thread

SECRET_KEY = "sk-live-0123456789abcdef"
HOSTILE_ID = "<img src=x onerror=alert(1)>&amp;\"'"
HOSTILE_NAME = "</td><script>document.title='pwned'</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
APT_HINT = "apt-get install -y --no-install-recommends chromium"


class Page(HTMLParser):
    """The parts of the page a test reads: tags seen, the text of each row by class."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.texts: list[str] = []
        self._row: list[str] | None = None
        self._row_class = ""
        self._depth = 0  # of nested tables inside the current row
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        cls = dict(attrs).get("class") or ""
        if tag == "tr" and cls in ("task", "request") and self._row is None:
            self._row, self._row_class = [], cls
        elif tag == "table" and self._row is not None:
            self._depth += 1
        elif tag == "td" and self._row is not None and self._depth == 0:
            self._row.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._row is not None and self._depth:
            self._depth -= 1
        elif tag == "tr" and self._row is not None and self._depth == 0:
            self.rows.setdefault(self._row_class, []).append([c.strip() for c in self._row])
            self._row = None

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._row and self._depth == 0:
            self._row[-1] += data


def populate(mock: MockCamb) -> None:
    mock.configure(api_keys=[SECRET_KEY])
    key = {"x-api-key": SECRET_KEY}
    mock.create_task("story", "flaky_network", task_id=HOSTILE_ID)
    mock.create_task(
        "project-setup",
        {"name": HOSTILE_NAME, "steps": [{"status": "PENDING", "polls": 1}, {"status": "ERROR"}]},
        task_id="ps-1",
    )
    for _ in range(3):
        requests.get(f"{mock.base_url}/story/{HOSTILE_ID}", headers=key)
        requests.get(f"{mock.base_url}/project-setup/ps-1", headers=key)
    requests.get(f"{mock.base_url}/story/{SECRET_KEY}", headers=key)  # a key in a path
    mock.advance(42.5)


def test_the_page_lists_tasks_requests_and_the_clock(mockcamb: MockCamb) -> None:
    populate(mockcamb)
    reply = requests.get(f"{mockcamb.url}/__admin/", timeout=5)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in reply.headers["Content-Security-Policy"]
    assert reply.headers["Cache-Control"] == "no-store"
    page = Page(reply.text)
    tasks = page.rows["task"]
    assert [(t[0], t[1], t[2]) for t in tasks] == [
        ("project-setup", "ps-1", "ERROR"),
        ("story", HOSTILE_ID, "PENDING"),
    ]
    assert tasks[1][4] == "1 / 3"  # polls answered / requests (a 503, a 200, a 429)
    assert tasks[0][8] == HOSTILE_NAME
    requests_seen = page.rows["request"]
    assert len(requests_seen) == 7
    assert requests_seen[-1][4] == "503"  # oldest last: the flaky task's first poll
    assert "42.500" in "".join(page.texts)


def test_everything_is_escaped_and_no_key_is_shown(mockcamb: MockCamb) -> None:
    populate(mockcamb)
    html = requests.get(f"{mockcamb.url}/__admin/", timeout=5).text
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert SECRET_KEY not in html
    assert "/story/[redacted]" in html
    assert "1 accepted" in html


def test_empty_state_and_refresh(mockcamb: MockCamb) -> None:
    page = requests.get(f"{mockcamb.url}/__admin/?refresh=5", timeout=5).text
    assert "No tasks yet." in page and "No requests yet." in page
    assert '<meta http-equiv="refresh" content="5">' in page
    assert "http-equiv" not in requests.get(f"{mockcamb.url}/__admin/?refresh=0;url=x").text
    assert requests.get(f"{mockcamb.url}/__admin", timeout=5).url.endswith("/__admin/")


def test_the_admin_token_guards_the_dashboard() -> None:
    with serve_in_thread(admin_token="t0ken") as mock:
        url = f"{mock.url}/__admin/"
        denied = requests.get(url, timeout=5)
        assert denied.status_code == 401
        assert denied.headers["WWW-Authenticate"] == 'Basic realm="mockcamb admin"'
        assert requests.get(url, auth=("anyone", "wrong"), timeout=5).status_code == 401
        assert requests.get(url, auth=("anyone", "t0ken"), timeout=5).status_code == 200
        assert requests.get(url, headers={"x-admin-token": "t0ken"}, timeout=5).status_code == 200
        bearer = {"Authorization": "Bearer t0ken"}
        assert requests.get(url, headers=bearer, timeout=5).status_code == 200


def test_status_classes_never_echo_the_status() -> None:
    assert status_class("SUCCESS") == "SUCCESS"
    assert status_class("PENDING") == "PENDING"
    assert status_class("TIMEOUT") == "failed"
    assert status_class('x" onmouseover="alert(1)') == "custom"


@pytest.mark.skipif(CHROMIUM is None, reason=f"chromium is not installed ({APT_HINT})")
def test_chromium_renders_the_dashboard_without_running_injected_code(
    mockcamb: MockCamb, tmp_path: Path
) -> None:
    populate(mockcamb)
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,900",
    ]
    url = f"{mockcamb.url}/__admin/"
    dom = subprocess.run(
        [*command, "--dump-dom", url], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    page = Page(dom)
    assert "<title>mockcamb dashboard</title>" in dom  # an injected script would retitle it
    assert "script" not in page.tags and "img" not in page.tags
    assert [row[1] for row in page.rows["task"]] == ["ps-1", HOSTILE_ID]
    assert len(page.rows["request"]) == 7
    assert SECRET_KEY not in dom
