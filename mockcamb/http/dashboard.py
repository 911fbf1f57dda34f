"""The read-only HTML dashboard at ``GET /__admin/``: tasks filtered by family, status, task id
and faults, paged, each with a timeline of its answers; the last requests; the clock.

Everything the page shows is in its URL (filters, page, opened tasks, refresh), so a view can
be linked and a reload keeps it. The page runs no script; its timelines are server-rendered
SVG. Every value is HTML-escaped (task ids come from users) and no API key is ever shown;
the admin token guards it like the rest of ``/__admin``.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Final
from urllib.parse import quote, urlencode

from flask import render_template
from markupsafe import Markup, escape

from ..core.clock import wall_time
from ..core.emulator import Emulator
from ..core.errors import ConfigError
from ..core.machine import TaskState
from ..core.redaction import REDACTED, scrub_text
from ..core.routes import FAMILIES, KINDS, family
from ..core.scenario import FAULT_TYPES
from ..core.statuses import DOCUMENTED_STATUSES, FAILURE_STATUSES, PENDING, SUCCESS
from ..core.text import shorten
from .wsgi import emulator

#: The newest tasks the filters look at (the page says so when there are more).
MAX_SCANNED: Final = 5_000
DEFAULT_PER_PAGE: Final = 100
MAX_PER_PAGE: Final = 1_000
PER_PAGE_CHOICES: Final = (25, 100, 500, 1_000)
#: At most this many tasks opened at once (their details are rendered in full).
MAX_OPEN: Final = 50
MAX_REQUESTS_SHOWN: Final = 100
#: Widths of the timelines, in SVG user units (pixels).
ROW_WIDTH: Final = 260
DETAIL_WIDTH: Final = 900
#: Each family's status paths (a journal entry on one of them is a poll of the task).
_STATUS_PATHS: Final = {f.name: f.status for f in FAMILIES}

def status_class(status: str) -> str:
    """A fixed CSS class for a status (never the user-controlled string itself)."""
    if status in (SUCCESS, PENDING):
        return status
    return "failed" if status in FAILURE_STATUSES else "custom"


def fault_class(fault_type: str | None) -> str:
    """A fixed CSS class for a fault type (one of :data:`FAULT_TYPES`, else ``other``)."""
    return fault_type if fault_type in FAULT_TYPES else "other"


# --- the state in the URL -----------------------------------------------------------------


def _int_param(args: Mapping[str, str], name: str, default: int, hi: int) -> int:
    raw = args.get(name, "")
    if raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= hi:
        raise ConfigError(f"{name}: must be an integer from 1 to {hi}, got {shorten(raw)!r}")
    return int(raw)


@dataclass(frozen=True, slots=True)
class View:
    """What the page shows. All of it lives in the query string, so that a view can be
    linked and a reload (``<meta http-equiv=refresh>`` or the browser's) keeps it."""

    family: str | None = None
    status: str | None = None
    #: Substring of the task id (case-insensitive).
    id: str = ""
    #: Only tasks that got at least one fault answer (in their kept history).
    faults: bool = False
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    #: Opened tasks, as ``kind/task_id``.
    open: tuple[str, ...] = ()
    refresh: int | None = None

    @classmethod
    def from_args(cls, args: Any) -> View:
        """Parse ``request.args``; a bad value is a :class:`ConfigError` (a JSON 400)."""
        fam = args.get("family", "")
        if fam:
            family(fam)  # raises, naming the families
        faults = args.get("faults", "")
        if faults not in ("", "0", "1"):
            raise ConfigError(f"faults: must be 1 or 0, got {shorten(faults)!r}")
        opened = tuple(dict.fromkeys(v for v in args.getlist("open") if v))
        if len(opened) > MAX_OPEN:
            raise ConfigError(f"open: at most {MAX_OPEN} tasks, got {len(opened)}")
        refresh = args.get("refresh", "")
        return cls(
            family=fam or None,
            status=args.get("status", "") or None,
            id=args.get("id", ""),
            faults=faults == "1",
            page=_int_param(args, "page", 1, 1_000_000),
            per_page=_int_param(args, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE),
            open=opened,
            refresh=_int_param(args, "refresh", 0, 3600) if refresh else None,
        )

    def pairs(self) -> list[tuple[str, str]]:
        """The query parameters of this view, defaults left out."""
        out: list[tuple[str, str]] = []
        if self.family:
            out.append(("family", self.family))
        if self.status:
            out.append(("status", self.status))
        if self.id:
            out.append(("id", self.id))
        if self.faults:
            out.append(("faults", "1"))
        if self.page != 1:
            out.append(("page", str(self.page)))
        if self.per_page != DEFAULT_PER_PAGE:
            out.append(("per_page", str(self.per_page)))
        out.extend(("open", key) for key in self.open)
        if self.refresh:
            out.append(("refresh", str(self.refresh)))
        return out

    def url(self, anchor: str = "", **changes: Any) -> str:
        """A link to this view with ``changes``, relative to the page (``?...``); a change
        of filters or page size goes back to page 1 unless ``page`` is given."""
        if changes and "page" not in changes and set(changes) - {"open", "refresh"}:
            changes["page"] = 1
        view = replace(self, **changes) if changes else self
        query = urlencode(view.pairs())
        return (f"?{query}" if query else "./") + (f"#{anchor}" if anchor else "")

    def toggled(self, key: str) -> tuple[str, ...]:
        """``open`` with ``key`` added, or removed if it is open already."""
        if key in self.open:
            return tuple(k for k in self.open if k != key)
        return (*self.open, key)[-MAX_OPEN:]

    @property
    def filtered(self) -> bool:
        return bool(self.family or self.status or self.id or self.faults)


# --- what a task's answers came to -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    """Which defined fault an answer came from, as far as the definitions tell."""

    source: str  # "scenario", "settings" or "unknown"
    index: int  # 1-based position in its list; 0 when unknown
    retry_after: float | None
    ambiguous: bool = False

    @property
    def label(self) -> str:
        if self.source == "unknown":
            return "not in the current faults"
        where = "scenario" if self.source == "scenario" else "global settings"
        return f"{where} fault #{self.index}" + (" (or a later one)" if self.ambiguous else "")


def fault_origin(
    n: int,
    fault_type: str,
    http_status: int | None,
    scenario_faults: Sequence[Mapping[str, Any]],
    settings_faults: Sequence[Mapping[str, Any]],
) -> Origin:
    """The fault that answered request ``n`` with ``fault_type``/``http_status``, found as the
    emulator picks one: the task's scenario faults first, then the global settings' faults,
    each in order. A by-number fault on ``n`` is certain; a probability fault is the first
    candidate, ``ambiguous`` when a later one could have struck instead."""
    candidates: list[tuple[str, int, Mapping[str, Any]]] = []
    for source, faults in (("scenario", scenario_faults), ("settings", settings_faults)):
        for i, f in enumerate(faults, 1):
            if f.get("type") != fault_type:
                continue
            if (
                fault_type != "drop_connection"
                and http_status is not None
                and f.get("http_status") != http_status
            ):
                continue
            polls = f.get("poll")
            on = polls if isinstance(polls, list) else [polls]
            if "probability" in f or "seconds" in f or n in on:  # a window: by its time
                candidates.append((source, i, f))
    if not candidates:
        return Origin("unknown", 0, None)
    source, i, f = candidates[0]
    ra = f.get("retry_after")
    return Origin(
        source,
        i,
        float(ra) if isinstance(ra, (int, float)) else None,
        ambiguous=("probability" in f or "seconds" in f) and len(candidates) > 1,
    )


@dataclass(frozen=True, slots=True)
class Stamp:
    """A moment as clock seconds and, where the journal knows it, wall-clock time."""

    clock: float
    wall: float | None = None

    @property
    def wall_iso(self) -> str:
        if self.wall is None:
            return ""
        return datetime.fromtimestamp(self.wall, timezone.utc).isoformat(timespec="milliseconds")

    @property
    def wall_text(self) -> str:
        if self.wall is None:
            return ""
        return datetime.fromtimestamp(self.wall, timezone.utc).strftime("%H:%M:%S.%f")[:-3]


@dataclass(slots=True)
class Answer:
    """One request to a task, as its history and the journal tell it."""

    request: int
    at: Stamp
    http: str  # "200", "503" or "connection dropped": a dropped answer has no status code
    bad: bool
    status: str | None
    status_cls: str
    fault: str | None
    fault_cls: str
    origin: Origin | None
    #: Seconds the answer's Retry-After header asked for (faults only).
    retry_after: int | None
    #: Seconds until the next request, if there was one.
    next_after: float | None = None

    @property
    def early(self) -> bool:
        """The client came back before the Retry-After wait was over."""
        return (
            self.retry_after is not None
            and self.next_after is not None
            and self.next_after < self.retry_after
        )

    @property
    def text(self) -> str:
        """What the answer was, in words (the timeline's text alternative)."""
        if self.fault is None:
            return f"#{self.request} at {self.at.clock:.3f} s: {self.http} {self.status}"
        out = f"#{self.request} at {self.at.clock:.3f} s: fault {self.fault}, {self.http}"
        if self.origin is not None:
            out += f", {self.origin.label}"
        if self.retry_after is not None:
            out += f", Retry-After {self.retry_after} s"
        return out


# --- timelines --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    x: float
    w: float
    cls: str
    title: str


@dataclass(frozen=True, slots=True)
class Mark:
    x: float
    cls: str  # "poll" or a fault class
    answer: Answer


@dataclass(frozen=True, slots=True)
class Wait:
    x: float
    w: float
    early: bool
    title: str


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    label: str


@dataclass(slots=True)
class Timeline:
    """A task's answers over clock time, laid out for an SVG of ``width`` units."""

    width: int
    start: float
    end: float
    segments: list[Segment] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    waits: list[Wait] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    label: str = ""


def _x(t: float, start: float, span: float, width: int) -> float:
    return round((t - start) / span * width, 1)


def build_timeline(
    created: float,
    answers: Sequence[Answer],
    start: float,
    end: float,
    width: int,
    *,
    complete: bool,
    ticks: int = 0,
) -> Timeline:
    """Statuses as answered over time (a band), each request as a mark, each Retry-After
    wait as a bar, on an axis from ``start`` to ``end`` clock seconds. ``complete``: the
    history holds every request (else the band starts at the first kept one)."""
    span = max(end - start, 1e-9)
    line = Timeline(width, start, end)
    pieces: list[tuple[float, str | None]] = []  # (from, status); None: not answered yet
    first = answers[0].at.clock if answers else end
    pieces.append((created if complete else first, None))
    for a in answers:
        if a.status is not None and a.status != pieces[-1][1]:
            pieces.append((a.at.clock, a.status))
    for i, (t0, status) in enumerate(pieces):
        t1 = pieces[i + 1][0] if i + 1 < len(pieces) else end
        if t1 <= t0 and i + 1 < len(pieces):
            continue
        x0, x1 = _x(t0, start, span, width), _x(max(t1, t0), start, span, width)
        if status is None:
            cls, title = "none", f"{t0:.3f}-{t1:.3f} s: no answer yet"
        else:
            cls, title = status_class(status), f"{t0:.3f}-{t1:.3f} s: {status}"
        line.segments.append(Segment(x0, max(x1 - x0, 0.5), cls, title))
    for a in answers:
        x = _x(a.at.clock, start, span, width)
        line.marks.append(Mark(x, "poll" if a.fault is None else a.fault_cls, a))
        if a.retry_after is not None:
            w = _x(a.at.clock + a.retry_after, start, span, width) - x
            title = f"Retry-After {a.retry_after} s from {a.at.clock:.3f} s"
            if a.next_after is not None:
                title += f"; next request {a.next_after:.3f} s later"
                title += " (too early)" if a.early else ""
            line.waits.append(Wait(x, max(w, 1.0), a.early, title))
    for k in range(ticks + 1) if ticks else ():
        t = start + span * k / ticks
        line.ticks.append(Tick(_x(t, start, span, width), f"{t:.1f}"))
    faults = sum(1 for a in answers if a.fault is not None)
    statuses = [s for _, s in pieces if s is not None]
    line.label = (
        f"{len(answers)} request{'s' if len(answers) != 1 else ''} shown, {faults} fault"
        f"{'s' if faults != 1 else ''}; statuses " + (" then ".join(statuses) or "none yet")
    )
    return line


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a timeline's parts sit in its SVG (user units)."""

    height: int
    band_y: int
    band_h: int
    wait_y: int
    wait_h: int
    r: int  # half the size of a mark


ROW_LAYOUT: Final = Layout(18, 5, 8, 0, 4, 4)
DETAIL_LAYOUT: Final = Layout(64, 22, 14, 10, 8, 6)


def _n(v: float) -> str:
    return f"{v:.1f}"


def mark_svg(cls: str, x: float, cy: float, r: float, title: str = "") -> str:
    """One request mark: a tick for an answered poll, a shape of its own per fault type."""
    t = f"<title>{escape(title)}</title>" if title else ""
    a, b, c, d = _n(x - r), _n(x + r), _n(cy - r), _n(cy + r)
    xs, ys = _n(x), _n(cy)
    if cls == "poll":
        return f'<line class="m poll" x1="{xs}" x2="{xs}" y1="{c}" y2="{d}">{t}</line>'
    if cls == "http_error":
        s = _n(r * 1.6)
        return (
            f'<rect class="m http_error" x="{_n(x - r * 0.8)}" y="{_n(cy - r * 0.8)}" '
            f'width="{s}" height="{s}">{t}</rect>'
        )
    if cls == "non_json":
        pts = f"{xs},{c} {b},{ys} {xs},{d} {a},{ys}"
        return f'<polygon class="m non_json" points="{pts}">{t}</polygon>'
    if cls == "empty_body":
        return f'<circle class="m empty_body" cx="{xs}" cy="{ys}" r="{_n(r * 0.8)}">{t}</circle>'
    if cls == "truncated_json":
        pts = f"{xs},{c} {b},{d} {a},{d}"
        return f'<polygon class="m truncated_json" points="{pts}">{t}</polygon>'
    if cls == "malformed_json":
        pts = f"{a},{c} {b},{c} {xs},{d}"
        return f'<polygon class="m malformed_json" points="{pts}">{t}</polygon>'
    if cls == "drop_connection":
        path = f"M{a} {c}L{b} {d}M{a} {d}L{b} {c}"
        return f'<path class="m drop_connection" d="{path}">{t}</path>'
    return f'<circle class="m other" cx="{xs}" cy="{ys}" r="{_n(r * 0.7)}">{t}</circle>'


def timeline_svg(line: Timeline, lay: Layout, *, poll_titles: bool = True) -> Markup:
    """The SVG of a timeline; every text in it is escaped (statuses come from users).
    ``poll_titles``: a tooltip on each answered request too, not only on faults."""
    w, h = line.width, lay.height
    label = escape(line.label)
    out = [
        f'<svg class="tl" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="{label}"><title>{label}</title>'
    ]
    for s in line.segments:
        out.append(
            f'<rect class="seg {s.cls}" x="{_n(s.x)}" y="{lay.band_y}" width="{_n(s.w)}" '
            f'height="{lay.band_h}"><title>{escape(s.title)}</title></rect>'
        )
    for wt in line.waits:
        cls = "wait early" if wt.early else "wait"
        out.append(
            f'<rect class="{cls}" x="{_n(wt.x)}" y="{lay.wait_y}" width="{_n(wt.w)}" '
            f'height="{lay.wait_h}"><title>{escape(wt.title)}</title></rect>'
        )
    cy = lay.band_y + lay.band_h / 2
    for m in line.marks:
        title = m.answer.text if poll_titles or m.cls != "poll" else ""
        out.append(mark_svg(m.cls, m.x, cy, lay.r, title))
    if line.ticks:
        y = h - 14
        out.append(f'<line class="axis" x1="0" x2="{w}" y1="{y}" y2="{y}"/>')
        last = len(line.ticks) - 1
        for i, k in enumerate(line.ticks):
            anchor = "start" if i == 0 else "end" if i == last else "middle"
            out.append(
                f'<line class="axis" x1="{_n(k.x)}" x2="{_n(k.x)}" y1="{y - 2}" y2="{y + 3}"/>'
                f'<text class="tick" x="{_n(k.x)}" y="{h - 2}" text-anchor="{anchor}">'
                f"{escape(k.label)} s</text>"
            )
    out.append("</svg>")
    return Markup("".join(out))


def legend_mark(cls: str, size: int = 14) -> Markup:
    """A mark alone, for the legend and the tables."""
    half = size / 2
    body = mark_svg(cls, half, half, size * 0.36)
    return Markup(f'<svg width="{size}" height="{size}" aria-hidden="true">{body}</svg>')


# --- the rows ---------------------------------------------------------------------------


class Scrubber:
    """Replaces any accepted API key inside a user-given string (ids, paths) by a marker:
    every occurrence of a plain key, and any word that is a key when ``keys`` is a set of
    digests (a shared store keeps no plain key: it tests each word it is asked about)."""

    def __init__(self, keys: frozenset[str] | None) -> None:
        # a digest set's members are digests, which it does not take for keys
        known = keys or frozenset()
        self.plain = tuple(k for k in known if k and k in known)
        #: Only a digest set needs each word tested: a plain key is replaced wherever it is.
        self.digests = keys if len(self.plain) < len(known) else None

    def __call__(self, value: str) -> str:
        for secret in self.plain:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value if self.digests is None else scrub_text(value, self.digests)


@dataclass(slots=True)
class Row:
    """One task as the page shows it (every string already scrubbed)."""

    kind: str
    task_id: str
    anchor: str
    status: str
    status_cls: str
    step: int
    last_step: int
    requests: int
    answered: int
    run_id: int | None
    scenario: str
    created: Stamp
    finished: Stamp | None
    answers: list[Answer]
    fault_count: int
    fault_kinds: str
    complete: bool
    opened: bool
    json_url: str
    journal_url: str
    toggle_url: str
    timeline: Markup | None = None
    detail: Markup | None = None
    definitions: list[tuple[str, str]] = field(default_factory=list)


def _fault_summary(f: Mapping[str, Any]) -> str:
    ftype = str(f.get("type"))
    out = ftype if ftype == "drop_connection" else f"{ftype} {f.get('http_status')}"
    if "probability" in f:
        out += f" with probability {f['probability']:g}"
    else:
        polls = f.get("poll")
        on = polls if isinstance(polls, list) else [polls]
        out += " on request" + ("s " if len(on) > 1 else " ") + ", ".join(str(p) for p in on)
    if f.get("retry_after") is not None:
        out += f", Retry-After {math.ceil(f['retry_after'])} s"
    return out


def _walls(
    history: Sequence[Mapping[str, Any]], seen: Sequence[tuple[float, float]]
) -> list[float | None]:
    """The wall time of each history entry, from the journal's status requests of the same
    task (``seen``: (clock, wall), oldest first). Both keep the newest entries, so entries
    at one clock reading are matched from the last one back."""
    by_clock: dict[float, list[float]] = {}
    for clock, wall in seen:
        by_clock.setdefault(clock, []).append(wall)
    counts: dict[float, int] = {}
    for h in history:
        counts[h["clock"]] = counts.get(h["clock"], 0) + 1
    used: dict[float, int] = {}
    out: list[float | None] = []
    for h in history:
        clock = h["clock"]
        walls = by_clock.get(clock, [])
        i = used.get(clock, 0)
        used[clock] = i + 1
        j = len(walls) - counts[clock] + i
        out.append(walls[j] if 0 <= j < len(walls) else None)
    return out


def _answers(
    snap: Mapping[str, Any],
    walls: Sequence[float | None],
    settings_faults: Sequence[Mapping[str, Any]],
    scrub: Scrubber,
) -> list[Answer]:
    scenario_faults = snap["scenario"].get("faults", ())
    out: list[Answer] = []
    for h, wall in zip(snap["history"], walls, strict=True):
        fault = h["fault"]
        code = h["http_status"]
        dropped = fault == "drop_connection"
        http = "connection dropped" if dropped or code is None else str(code)
        origin = None
        retry_after = None
        if fault is not None:
            origin = fault_origin(h["request"], fault, code, scenario_faults, settings_faults)
            if origin.retry_after is not None and not dropped:
                retry_after = math.ceil(origin.retry_after)
        status = h["status"]
        out.append(
            Answer(
                request=h["request"],
                at=Stamp(h["clock"], wall),
                http=http,
                bad=dropped or (code is not None and code >= 400),
                status=scrub(status) if status is not None else None,
                status_cls=status_class(status) if status is not None else "",
                fault=fault,
                fault_cls=fault_class(fault),
                origin=origin,
                retry_after=retry_after,
            )
        )
    for a, b in itertools.pairwise(out):
        if b.request == a.request + 1:
            a.next_after = b.at.clock - a.at.clock
    return out


def _anchor(key: str) -> str:
    return "task-" + hashlib.sha1(key.encode("utf-8", "replace")).hexdigest()[:12]


def _toggler(shown: View) -> Callable[[str, str], str]:
    """The link that opens (or closes) one task, keeping the rest of ``shown``: the same
    query as :meth:`View.url`, with the parts every row shares encoded once."""
    head = urlencode(replace(shown, open=(), refresh=None).pairs())
    tail = f"refresh={shown.refresh}" if shown.refresh else ""
    opened = {k: "open=" + quote(k, safe="") for k in shown.open}

    def link(key: str, anchor: str) -> str:
        if key in opened:
            parts = [v for k, v in opened.items() if k != key]
        else:
            parts = [*opened.values(), "open=" + quote(key, safe="")][-MAX_OPEN:]
        query = "&".join(p for p in (head, *parts, tail) if p)
        return (f"?{query}" if query else "./") + f"#{anchor}"

    return link


def _row(
    snap: Mapping[str, Any],
    view: View,
    toggle: Callable[[str, str], str],
    seen: Sequence[tuple[float, float]],
    created_wall: float | None,
    settings_faults: Sequence[Mapping[str, Any]],
    scrub: Scrubber,
) -> Row:
    kind, raw_id = snap["kind"], snap["task_id"]
    task_id = scrub(raw_id)
    key = f"{kind}/{raw_id}"
    history = snap["history"]
    answers = _answers(snap, _walls(history, seen), settings_faults, scrub)
    finished = None
    if snap["finished_at"] is not None:
        at = snap["finished_at"]
        wall = next((a.at.wall for a in answers if a.at.clock == at and a.fault is None), None)
        finished = Stamp(at, wall)
    kinds: dict[str, int] = {}
    for a in answers:
        if a.fault is not None:
            kinds[a.fault] = kinds.get(a.fault, 0) + 1
    link_id, link_kind = quote(task_id, safe=""), quote(kind, safe="")
    status = snap["status"]
    opened = key in view.open
    anchor = _anchor(key)
    scenario = snap["scenario"]
    row = Row(
        kind=kind,
        task_id=task_id,
        anchor=anchor,
        status=scrub(status),
        status_cls=status_class(status),
        step=snap["step"],
        last_step=len(scenario["steps"]) - 1,
        requests=snap["requests"],
        answered=snap["polls_answered"],
        run_id=snap["run_id"],
        scenario=scrub(scenario.get("name") or "custom"),
        created=Stamp(snap["created_at"], created_wall),
        finished=finished,
        answers=answers,
        fault_count=sum(kinds.values()),
        fault_kinds=", ".join(f"{k} x{n}" for k, n in kinds.items()),
        complete=not history or history[0]["request"] == 1,
        opened=opened,
        json_url=f"tasks/{link_kind}/{link_id}",
        journal_url=f"requests?kind={link_kind}&task_id={link_id}",
        toggle_url=toggle(scrub(key), anchor),
    )
    if opened:
        lists = (("scenario", scenario.get("faults", ())), ("global settings", settings_faults))
        for where, faults in lists:
            for i, f in enumerate(faults, 1):
                row.definitions.append((f"{where} fault #{i}", _fault_summary(f)))
    return row


def _has_fault(snap: Mapping[str, Any]) -> bool:
    return any(h["fault"] is not None for h in snap["history"])


def _is_status_path(path: str, kind: str, task_id: str) -> bool:
    return path.endswith(tuple(f"{p}/{task_id}" for p in _STATUS_PATHS.get(kind, ())))


@dataclass(slots=True)
class Pager:
    page: int
    pages: int
    first: int  # 1-based number of the first row shown
    last: int
    total: int


def _request_row(entry: Mapping[str, Any], scrub: Scrubber) -> dict[str, Any]:
    code = entry.get("status_code")
    dropped = bool(entry.get("dropped"))
    status = entry.get("task_status")
    return {
        "seq": entry["seq"],
        "at": Stamp(entry["clock"], entry.get("wall")),
        "method": scrub(str(entry["method"])),
        "path": scrub(str(entry["path"])),
        "http": "connection dropped" if dropped or code is None else str(code),
        "bad": dropped or (isinstance(code, int) and code >= 400),
        "task_status": scrub(status) if isinstance(status, str) else None,
        "status_cls": status_class(status) if isinstance(status, str) else "",
        "delay_ms": entry.get("delay_ms") or "",
        "hint": scrub(hint) if isinstance(hint := entry.get("hint"), str) else None,
    }


def page_context(emu: Emulator, view: View) -> dict[str, Any]:
    """Everything the template needs for ``view``, computed once per request."""
    settings = emu.settings
    scrub = Scrubber(settings.api_keys)
    now = emu.clock.now()
    task_count = emu.task_count()
    states: list[TaskState] = emu.store.all(view.family, MAX_SCANNED)[::-1]  # newest first
    scanned = len(states)
    if view.id:
        needle = view.id.casefold()
        states = [t for t in states if needle in t.task_id.casefold()]
    snaps = [emu.snapshot(t) for t in states]
    if view.faults:
        snaps = [s for s in snaps if _has_fault(s)]
    counts: dict[str, int] = {}
    for s in snaps:
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    if view.status:
        snaps = [s for s in snaps if s["status"] == view.status]
    total = len(snaps)
    pages = max(1, math.ceil(total / view.per_page))
    page = min(view.page, pages)
    view = replace(view, page=page)
    chosen = snaps[(page - 1) * view.per_page : page * view.per_page]

    wanted = {(s["kind"], s["task_id"]) for s in chosen}
    seen: dict[tuple[str, str], list[tuple[float, float]]] = {}
    created: dict[tuple[str, str], float] = {}
    journal = emu.journal()
    for e in journal:
        key = (e["kind"], e["task_id"])
        if key not in wanted:
            continue
        if e["method"] == "POST":
            created[key] = e["wall"]
        elif _is_status_path(e["path"], *key):
            seen.setdefault(key, []).append((e["clock"], e["wall"]))
    settings_faults = [f.to_dict() for f in settings.faults]
    shown = replace(
        view,
        status=scrub(view.status) if view.status else None,
        id=scrub(view.id),
        open=tuple(scrub(k) for k in view.open),
    )
    toggle = _toggler(shown)
    rows = [
        _row(
            s,
            view,
            toggle,
            seen.get((s["kind"], s["task_id"]), ()),
            created.get((s["kind"], s["task_id"])),
            settings_faults,
            scrub,
        )
        for s in chosen
    ]
    start = min((r.created.clock for r in rows), default=now)
    end = now
    for r in rows:
        for a in r.answers:
            end = max(end, a.at.clock + (a.retry_after or 0))
    for r in rows:
        line = build_timeline(
            r.created.clock, r.answers, start, end, ROW_WIDTH, complete=r.complete
        )
        r.timeline = timeline_svg(line, ROW_LAYOUT, poll_titles=False)
        if r.opened:
            r_end = max([now, *(a.at.clock + (a.retry_after or 0) for a in r.answers)])
            line = build_timeline(
                r.created.clock,
                r.answers,
                r.created.clock,
                r_end,
                DETAIL_WIDTH,
                complete=r.complete,
                ticks=6,
            )
            r.detail = timeline_svg(line, DETAIL_LAYOUT)

    shown_requests = [
        e
        for e in journal
        if (view.family is None or e["kind"] == view.family)
        and (not view.id or view.id.casefold() in (e["task_id"] or "").casefold())
    ]
    statuses = sorted(
        {s.status for t in states for s in t.scenario.steps} | set(DOCUMENTED_STATUSES)
    )
    return {
        "view": shown,
        "clock": {"kind": emu.clock.kind, "now": now, "wall": Stamp(now, wall_time())},
        "task_count": task_count,
        "scanned": scanned,
        "rows": rows,
        "pager": Pager(
            page,
            pages,
            (page - 1) * view.per_page + 1 if chosen else 0,
            (page - 1) * view.per_page + len(chosen),
            total,
        ),
        "counts": [
            (scrub(k), status_class(k), n, shown.url(status=scrub(k)))
            for k, n in sorted(counts.items())
        ],
        "families": KINDS,
        "statuses": [scrub(s) for s in statuses],
        "per_page_choices": PER_PAGE_CHOICES,
        "axis": (start, end),
        "fault_types": FAULT_TYPES,
        "failure_statuses": FAILURE_STATUSES,
        "legend_mark": legend_mark,
        "journal_count": len(journal),
        "requests": [_request_row(e, scrub) for e in shown_requests[-MAX_REQUESTS_SHOWN:][::-1]],
        "requests_filtered": len(shown_requests) != len(journal),
        "request_limit": MAX_REQUESTS_SHOWN,
        "default_scenario": scrub(settings.default_scenario.name or "custom"),
        "api_keys": "any non-empty key"
        if settings.api_keys is None
        else f"{len(settings.api_keys)} accepted",
        "unknown_task": settings.unknown_task,
        "history_limit": settings.history_limit,
    }


def page(args: Mapping[str, str]) -> str:
    """The dashboard page's HTML for the query ``args``; a bad one raises ConfigError."""
    return render_template("dashboard.html", **page_context(emulator(), View.from_args(args)))


__all__ = [
    "Origin",
    "View",
    "build_timeline",
    "fault_class",
    "fault_origin",
    "page",
    "page_context",
    "status_class",
]
