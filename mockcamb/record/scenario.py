"""A recorded task as a scenario: its statuses as steps at the observed times, its error
answers as faults at the times they were seen (with their bodies as sent), its result body;
checked by replaying it on an emulator.

A change of status seen between two polls at times ``a < b`` becomes a ``seconds`` step that
ends in ``(a, b]``, so a client polling at the recorded times sees the recorded answers;
two different answers at the same clock time (possible only on a virtual clock) become a
``polls`` step. Likewise an error answer seen at time ``t`` becomes a fault on the window
``seconds: [t, u)``, ``u`` the time of the next poll (for ever after the last one), a run
of the same error one window; an error answer at the same clock time as another poll keeps
its poll number, since time cannot tell the two apart. Every answer the scenario cannot
reproduce byte for byte is named in the scenario's ``description``.
"""

from __future__ import annotations

import ast
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import yaml

from ..core.emulator import Emulator
from ..core.errors import MockCambError
from ..core.routes import FAMILIES, KINDS, family
from ..core.scenario import (
    MAX_FAULTS,
    MAX_RESULT_BYTES,
    MAX_STEPS,
    MAX_TEXT_BODY,
    parse_scenario,
    parse_step,
)
from ..core.statuses import is_final
from .recording import body_bytes, compact_json, looks_like_status

RESERVED = ("status", "run_id", "message", "exception_reason")
#: Notes kept in a scenario's description; the rest are counted.
MAX_NOTES = 6
_KEY = "recorded-replay-key"


@dataclass(slots=True)
class _Answer:
    n: int
    t: float
    step: dict[str, Any]
    key: bytes


@dataclass(slots=True)
class _Fault:
    n: int
    t: float
    spec: dict[str, Any]


@dataclass
class Conversion:
    """A recorded task turned into a scenario document, with what it cannot reproduce."""

    scenario: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    #: Polls whose replayed answer differs from the recorded one (code, body or Retry-After).
    differs: list[int] = field(default_factory=list)


def step_of(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The step (without timing) whose answer is ``body``, or ``None`` if a scenario
    cannot give that answer."""
    step: dict[str, Any] = {"status": body["status"]}
    for name in RESERVED[1:]:
        if body.get(name) is not None:
            step[name] = body[name]
    extra = {k: v for k, v in body.items() if k not in RESERVED}
    if extra:
        step["extra"] = extra
    try:
        parse_step(step, "step", last=True)
    except MockCambError:
        return None
    return step


def _retry_after(headers: Mapping[str, str], notes: list[str], n: int) -> float | None:
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
            now = parsedate_to_datetime(headers.get("date", ""))
        except (TypeError, ValueError, IndexError):
            notes.append(f"poll {n}: Retry-After {raw!r} is not understood; not replayed")
            return None
        seconds = max(0.0, math.ceil((when - now).total_seconds()))
        notes.append(f"poll {n}: Retry-After {raw!r} (a date) replays as {seconds:g} seconds")
        return seconds
    if not math.isfinite(seconds) or not 0 <= seconds <= 86_400:
        notes.append(f"poll {n}: Retry-After {raw!r} is out of range; not replayed")
        return None
    return int(seconds) if seconds.is_integer() else seconds


def _python_literal(data: bytes) -> bool:
    """True for the ``str()`` of a Python dict (what a ``malformed_json`` fault sends)."""
    if len(data) > 65_536:
        return False
    try:
        return isinstance(ast.literal_eval(data.decode("utf-8")), dict)
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError):
        return False


def _classify(
    polls: Sequence[Mapping[str, Any]], notes: list[str]
) -> tuple[list[_Answer], list[_Fault]]:
    answers: list[_Answer] = []
    faults: list[_Fault] = []
    for p in polls:
        n, t = int(p["n"]), float(p["t"])
        if "transport" in p:
            faults.append(_Fault(n, t, {"type": "drop_connection"}))
            if p["transport"] != "reset":
                notes.append(f"poll {n}: {p['transport']}, replayed as a dropped connection")
            continue
        code = int(p["status_code"])
        body = p.get("body") or {}
        headers = p.get("headers") or {}
        if body.get("truncated") or body.get("undecoded"):
            notes.append(f"poll {n}: the body was not recorded whole")
        retry = _retry_after(headers, notes, n)
        spec: dict[str, Any]
        if "json" in body:
            value = body["json"]
            step = step_of(value) if looks_like_status(value) else None
            if 200 <= code < 300 and step is not None:
                answers.append(_Answer(n, t, step, compact_json(step)))
                if code != 200:
                    notes.append(f"poll {n}: a {code} status answer replays as 200")
                if retry is not None:
                    notes.append(f"poll {n}: Retry-After on a status answer is not replayed")
                continue
            if code >= 400 and value is not None:
                spec = {"type": "http_error", "http_status": code, "body": value}
            else:  # JSON, but no status and no error: sent as the text it was
                spec = {
                    "type": "malformed_json",
                    "http_status": code,
                    "body": compact_json(value).decode(),
                }
        else:
            data = body_bytes(body)
            if not data:
                spec = {"type": "empty_body", "http_status": code}
            else:
                kind = "non_json"
                if data.lstrip().startswith(b"{"):
                    kind = "malformed_json" if _python_literal(data) else "truncated_json"
                spec = {"type": kind, "http_status": code}
                text = body.get("text")
                if isinstance(text, str) and len(text) <= MAX_TEXT_BODY:
                    spec["body"] = text
                else:
                    notes.append(f"poll {n}: a binary body replays as mockcamb's own")
        if retry is not None:
            spec["retry_after"] = retry
        faults.append(_Fault(n, t, spec))
    return answers, faults


def _steps(groups: list[list[_Answer]]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    start = 0.0  # when the current step began, computed as the emulator computes it
    for j in range(len(groups) - 1):
        here, there = groups[j], groups[j + 1]
        a, b = here[-1].t, there[0].t
        # a time step ending in (a, b]: on whole milliseconds when that fits
        seconds = math.floor((b - start) * 1000) / 1000
        if not a - start < seconds <= b - start:
            seconds = b - start
        if b > a and seconds > 0 and a - start < seconds:
            steps.append({**here[0].step, "seconds": seconds})
            start += seconds
        else:  # both answers at one clock time: only a count of polls tells them apart
            steps.append({**here[0].step, "polls": len(here)})
            start = a
    steps.append(dict(groups[-1][0].step))
    return [_ordered(s) for s in steps]


def _ordered(step: dict[str, Any]) -> dict[str, Any]:
    order = ("status", "polls", "seconds", "run_id", "message", "exception_reason", "extra")
    return {k: step[k] for k in order if k in step}


def _windows(
    faults: list[_Fault], polls: Sequence[Mapping[str, Any]], complete: bool
) -> dict[int, tuple[float, float | None]]:
    """The faults placed by time, by poll number: the window ``[t, u)`` of each run of one
    error answer (in time order) from its first time to the next poll's (``None``: for ever,
    when the run is the last thing recorded). A fault at a clock time another poll shares
    is left out (it keeps its number), and so is a last run of a recording cut short."""
    times = Counter(float(p["t"]) for p in polls)
    spec_of = {f.n: json.dumps(f.spec, sort_keys=True) for f in faults}
    order = sorted(polls, key=lambda p: (float(p["t"]), int(p["n"])))
    out: dict[int, tuple[float, float | None]] = {}
    i = 0
    while i < len(order):
        n, t = int(order[i]["n"]), float(order[i]["t"])
        key = spec_of.get(n)
        if key is None or times[t] > 1:
            i += 1
            continue
        run = [n]
        j = i + 1
        while j < len(order):
            m, u = int(order[j]["n"]), float(order[j]["t"])
            if spec_of.get(m) != key or times[u] > 1:
                break
            run.append(m)
            j += 1
        end = float(order[j]["t"]) if j < len(order) else None
        if end is not None or complete:
            out.update((m, (t, end)) for m in run)
        i = j
    return out


def _fault_docs(
    faults: list[_Fault], windows: dict[int, tuple[float, float | None]], notes: list[str]
) -> list[dict[str, Any]]:
    """One fault per error answer and placement (by time, by number), in recorded order."""
    docs: dict[tuple[str, str], dict[str, Any]] = {}
    for f in faults:
        by = "seconds" if f.n in windows else "poll"
        key = (json.dumps(f.spec, sort_keys=True), by)
        if key not in docs:
            if len(docs) >= MAX_FAULTS:
                notes.append(f"more than {MAX_FAULTS} kinds of error answers: the rest dropped")
                break
            docs[key] = {by: [], **f.spec}
        placed = docs[key][by]
        if by == "poll":
            placed.append(f.n)
        elif not placed or list(windows[f.n]) != placed[-1]:
            placed.append(list(windows[f.n]))
    out = []
    for doc in docs.values():
        for by in ("poll", "seconds"):
            if by in doc and len(doc[by]) == 1:
                doc[by] = doc[by][0]
        out.append(doc)
    return out


def _result(record: Mapping[str, Any], notes: list[str]) -> dict[str, Any] | None:
    """The result body to serve on replay: the last successful JSON-object fetch of the
    family's first result route (``/story-result/<run id>``), one without a query first."""
    try:
        fam = family(emulator_family(str(record.get("family"))))
    except MockCambError:
        return None
    first = next((r for r in fam.results if not r.bulk), None)
    if first is None:
        return None
    shape = [s for s in first.path.split("/") if s]
    fetched = []
    for fetch in record.get("results") or ():
        path = str(fetch.get("path", ""))
        segs = [s for s in path.split("?", 1)[0].split("/") if s]
        code = fetch.get("status_code")
        body = fetch.get("body") or {}
        if (
            isinstance(code, int)
            and 200 <= code < 300
            and len(segs) == len(shape)
            and segs[0] == shape[0]
            and isinstance(body.get("json"), dict)
        ):
            fetched.append(("?" in path, body["json"]))
    if not fetched:
        if record.get("results"):
            notes.append("no JSON result was recorded: the result replays as mockcamb's own")
        return None
    plain = [b for queried, b in fetched if not queried]
    if not plain:
        notes.append("the result was fetched with a query; it replays for any query")
    result: dict[str, Any] = (plain or [b for _, b in fetched])[-1]
    if len(compact_json(result)) > MAX_RESULT_BYTES:
        notes.append("the result is too large to keep: it replays as mockcamb's own")
        return None
    return result


def emulator_family(path_family: str) -> str:
    """The emulator's family for the first segment of a recorded status path: the same name
    (``story``, ``dub``), or the family polled there (``transcribe`` is ``transcription``,
    ``translate`` is ``translation``, ``sub`` is ``subtitles``). An unknown one stays as it
    is; the emulator names its families when asked to create it."""
    if path_family in KINDS:
        return path_family
    for fam in FAMILIES:
        if f"/{path_family}" in fam.status:
            return fam.name
    return path_family


class _SetClock:
    """A manual clock set to exact times (adding differences would round)."""

    kind = "manual"

    def __init__(self) -> None:
        self._now = 0.0

    def now(self) -> float:
        return self._now

    def set(self, t: float) -> None:
        self._now = max(self._now, t)

    def advance(self, seconds: float) -> float:
        self._now += seconds
        return self._now

    def reset(self) -> None:
        self._now = 0.0


def _check(
    scenario: dict[str, Any], polls: Sequence[Mapping[str, Any]]
) -> tuple[list[int], list[str]]:
    """Replay the recorded polls at their recorded times on an emulator running
    ``scenario``: the polls whose answer differs, and why."""
    clock = _SetClock()
    emu = Emulator(clock=clock)
    emu.configure({"journal_size": 0, "history_limit": 0})
    emu.create_task("story", "replay", parse_scenario(scenario))
    differs: list[int] = []
    why: list[str] = []
    for expected_n, p in enumerate(polls, start=1):
        if int(p["n"]) != expected_n:
            break  # polls beyond what was kept: nothing to compare with
        clock.set(float(p["t"]))
        reply = emu.status("story", "replay", _KEY)
        if "transport" in p:
            ok, what = reply.drop, "a dropped connection"
        else:
            headers = p.get("headers") or {}
            want = (int(p["status_code"]), body_bytes(p.get("body")), headers.get("retry-after"))
            got = (reply.status_code, reply.payload(), reply.headers.get("Retry-After"))
            ok = not reply.drop and want == got
            what = "the same answer"
            if ok and "json" in (p.get("body") or {}) and not p["body"].get("compact", True):
                why.append(f"poll {p['n']}: JSON replays in compact form")
        if not ok:
            differs.append(int(p["n"]))
            why.append(f"poll {p['n']}: does not replay as {what}")
    return differs, why


def convert(record: Mapping[str, Any]) -> Conversion:
    """The scenario of one task record (see :mod:`mockcamb.record.recording`)."""
    notes: list[str] = []
    polls = sorted(record.get("polls") or (), key=lambda p: int(p["n"]))
    answers, faults = _classify(polls, notes)
    groups: list[list[_Answer]] = []
    for answer in answers:
        if groups and groups[-1][0].key == answer.key:
            groups[-1].append(answer)
        else:
            groups.append([answer])
    final = next((i for i, g in enumerate(groups) if is_final(g[0].step["status"])), None)
    if final is not None and final < len(groups) - 1:
        later = sum(len(g) for g in groups[final + 1 :])
        notes.append(f"{later} answers after the final status differ; they replay as the final one")
        del groups[final + 1 :]
    if len(groups) > MAX_STEPS:
        notes.append(f"{len(groups)} distinct answers: only the first {MAX_STEPS} are kept")
        del groups[MAX_STEPS:]
    if groups:
        steps = _steps(groups)
    else:
        steps = [{"status": "PENDING"}]
        notes.append("no status answer was recorded: PENDING is assumed")
    scenario: dict[str, Any] = {"name": f"recorded/{record['name']}", "steps": steps}
    complete = int(record.get("polls_total") or len(polls)) <= len(polls)
    fault_docs = _fault_docs(faults, _windows(faults, polls, complete), notes)
    if fault_docs:
        scenario["faults"] = fault_docs
    result = _result(record, notes)
    if result is not None:
        scenario["result"] = result
    differs, why = _check(scenario, polls)
    scenario["description"] = _description(record, polls, len(faults), differs, notes + why)
    parse_scenario(scenario)  # a bug if this ever fails: recordings must always replay
    return Conversion(scenario, notes + why, differs)


def _description(
    record: Mapping[str, Any],
    polls: Sequence[Mapping[str, Any]],
    errors: int,
    differs: list[int],
    notes: list[str],
) -> str:
    total = int(record.get("polls_total") or len(polls))
    span = float(polls[-1]["t"]) if polls else 0.0
    created = " (created by this client)" if record.get("create") else ""
    text = (
        f"Recorded by mockcamb record from {record.get('target') or 'a target'} at "
        f"{record.get('recorded_at', '?')}: {record['family']} task {record['task_id']}"
        f"{created}, {total} polls over {span:g} s, {errors} error answers. "
    )
    text += (
        "Replays every recorded answer exactly."
        if not differs
        else f"Replays every recorded answer exactly except polls {_ranges(differs)}."
    )
    if notes:
        shown = notes[:MAX_NOTES]
        more = len(notes) - len(shown)
        text += " Notes: " + "; ".join(shown) + (f"; and {more} more" if more else "") + "."
    return text


def _ranges(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


def scenario_from_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario document of one task record."""
    return convert(record).scenario


def render_yaml(record: Mapping[str, Any]) -> str:
    """A task record's scenario as a YAML file (``mockcamb validate`` accepts it), with a
    header naming the record it comes from and its revision."""
    scenario = scenario_from_record(record)
    header = (
        f"# A task life recorded by `mockcamb record`: {record['family']} task "
        f"{json.dumps(record['task_id'])}.\n"
        f"# From {record['name']}.json, revision {int(record.get('revision', 0))}; edit freely "
        "(recording this task again rewrites this file).\n"
    )
    return header + yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True, width=100)


def revision_of(text: str) -> int | None:
    """The record revision a scenario file was written from (its header), if it says."""
    for line in text.splitlines()[:5]:
        if line.startswith("# From ") and ", revision " in line:
            tail = line.split(", revision ", 1)[1].split(";", 1)[0]
            return int(tail) if tail.isdigit() else None
    return None
