"""The dashboard in headless Chromium, over a served emulator with 1,000 tasks: the DOM the
browser built (elements present, filters working, escaping holding, nothing injected) and a
screenshot checked for structure, not pixels (the status bands, fault marks and Retry-After
bars painted in their colours, which also shows the inline style survives the page's CSP).
Skipped, with the reason, when Chromium is not installed."""

from __future__ import annotations

import contextlib
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from test_dashboard import Page

from mockcamb.core.routes import KINDS
from mockcamb.core.scenario import FAULT_TYPES
from mockcamb.testing import MockCamb, serve_in_thread

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
APT_HINT = "apt-get install -y --no-install-recommends chromium"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=f"chromium is not installed ({APT_HINT})")

TASKS = 1000
SECRET_KEY = "sk-live-0123456789abcdef"
HOSTILE_ID = "<img src=x onerror=alert(1)><script>document.title='pwned'"  # no '/' in ids
SCENARIOS = ("happy_path", "flaky_network", "rate_limited", "garbage_bodies", "error")
WINDOW = (1280, 800)
#: Colours of the page's stylesheet the screenshot must show (fills of the timelines).
COLOURS = {
    "SUCCESS band": "5bbf75",
    "PENDING band": "8ea7e6",
    "failed band": "e06c64",
    "http_error mark": "d93025",
    "Retry-After wait": "fbbc04",
}


@pytest.fixture(scope="module")
def served() -> Iterator[MockCamb]:
    """1,000 tasks of every family; the newest 150 polled three times, a second apart, over
    HTTP; a hostile task id among them; a global probability fault."""
    with serve_in_thread(settings={"api_keys": [SECRET_KEY]}) as mock:
        mock.configure(faults=[{"probability": 0.05, "http_status": 500}])
        for i in range(TASKS - 1):
            kind = KINDS[i % len(KINDS)]
            mock.create_task(kind, SCENARIOS[i % len(SCENARIOS)], task_id=f"job-{i:04d}")
        mock.create_task("story", "flaky_network", task_id=HOSTILE_ID)
        polled = [(t["kind"], t["task_id"]) for t in mock.tasks()[-150:]]
        with requests.Session() as session:
            session.headers["x-api-key"] = SECRET_KEY
            for _ in range(3):
                for kind, task_id in polled:
                    with contextlib.suppress(requests.ConnectionError):  # dropped ones
                        session.get(f"{mock.base_url}/{kind}/{task_id}", timeout=5)
                mock.advance(1)
        yield mock


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One browser profile for the module's runs (a fresh one costs each run more)."""
    return tmp_path_factory.mktemp("chromium-profile")


def chromium(profile: Path, url: str, *args: str) -> str:
    """Run headless Chromium on ``url``; its standard output (the DOM with ``--dump-dom``)."""
    assert CHROMIUM is not None
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
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *args,
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def first_page(
    served: MockCamb, profile: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """The DOM and a screenshot of ``/__admin/`` as the browser built it, in one run."""
    shot = tmp_path_factory.mktemp("screenshot") / "dashboard.png"
    html = chromium(profile, f"{served.url}/__admin/", "--dump-dom", f"--screenshot={shot}")
    return html, shot


def test_the_page_chromium_builds_for_1000_tasks(
    served: MockCamb, first_page: tuple[str, Path]
) -> None:
    reply = requests.get(f"{served.url}/__admin/", timeout=10)
    assert "default-src 'none'" in reply.headers["Content-Security-Policy"]
    html = first_page[0]
    page = Page(html)
    assert "<title>mockcamb dashboard</title>" in html  # an injected script would retitle it
    assert "script" not in page.tags and "img" not in page.tags
    assert {"filters", "counts", "legend", "pager", "tasks", "requests"} <= page.ids
    text = " ".join("".join(page.texts).split())
    assert f"{TASKS} tasks match" in text and "page 1 of 10" in text
    rows = page.rows["task"]
    assert len(rows) == 100
    assert rows[0][1] == HOSTILE_ID  # newest first, and shown as text
    assert page.tags.count("svg") >= len(rows) + len(FAULT_TYPES)  # a timeline per row
    assert all(f in page.texts for f in FAULT_TYPES)  # the legend names each fault type
    assert SECRET_KEY not in html


def test_a_filtered_url_shows_only_matching_rows_and_escapes_the_opened_one(
    served: MockCamb, profile: Path
) -> None:
    """Family, faults and id filters together; the hostile task opened: it shows as text,
    with its requests, and injects nothing."""
    family = "story"
    expected = sorted(
        t["task_id"]
        for t in served.tasks()
        if t["kind"] == family
        and "o" in t["task_id"].lower()
        and any(h["fault"] for h in t["history"])
    )
    assert HOSTILE_ID in expected and len(expected) > 2  # the filter has something to find
    assert len(expected) < TASKS / 4  # and something to leave out
    query = urlencode(
        {"family": family, "faults": "1", "id": "O", "per_page": "500",
         "open": f"story/{HOSTILE_ID}"}
    )  # fmt: skip
    html = chromium(profile, f"{served.url}/__admin/?{query}", "--dump-dom")
    page = Page(html)
    assert sorted(page.column("task", 1)) == expected
    assert set(page.column("task", 0)) == {family}
    assert "script" not in page.tags and "img" not in page.tags
    assert "<title>mockcamb dashboard</title>" in html
    assert sum(i.endswith("-detail") for i in page.ids) == 1
    assert len(page.rows["answer"]) == 3  # its three requests, the timeline's text alternative


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, channels and the unfiltered rows of an 8-bit, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, width, height, channels = 8, [], 0, 0, 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + n
    raw = zlib.decompress(b"".join(chunks))
    stride, bpp = width * channels, channels
    prev = bytearray(stride)
    rows: list[bytes] = []
    for y in range(height):
        start = y * (stride + 1)
        kind_of_filter, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind_of_filter == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind_of_filter == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev, strict=True))
        elif kind_of_filter == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif kind_of_filter == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def has_colour(rows: list[bytes], channels: int, rgb: bytes) -> bool:
    for row in rows:
        i = row.find(rgb)
        while i != -1:
            if i % channels == 0:
                return True
            i = row.find(rgb, i + 1)
    return False


def test_the_screenshot_paints_the_timelines(first_page: tuple[str, Path]) -> None:
    shot = first_page[1]
    width, height, channels, rows = decode_png(shot.read_bytes())
    assert (width, height) == WINDOW
    missing = [
        name
        for name, hexa in COLOURS.items()
        if not has_colour(rows, channels, bytes.fromhex(hexa))
    ]
    assert not missing, f"not painted: {missing} (screenshot {shot})"
