"""``mockcamb record --summary DIR``: what a directory of recordings holds, task by task and
family by family (polls, durations, statuses, error answers, results, replay fidelity)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from .recording import looks_like_status, read_record, record_files
from .scenario import convert


@dataclass(frozen=True, slots=True)
class TaskSummary:
    """One recorded task at a glance."""

    name: str
    family: str
    task_id: str
    polls: int
    seconds: float
    statuses: tuple[str, ...]
    errors: tuple[tuple[str, int], ...]
    created: bool
    result: bool
    differs: int

    @property
    def error_count(self) -> int:
        return sum(n for _, n in self.errors)


def summarize_record(doc: Mapping[str, Any]) -> TaskSummary:
    """The summary of one task record."""
    statuses: list[str] = []
    errors: Counter[str] = Counter()
    polls = doc.get("polls") or []
    for p in polls:
        if "transport" in p:
            errors[str(p["transport"])] += 1
            continue
        body = (p.get("body") or {}).get("json")
        if p.get("status_code") == 200 and looks_like_status(body):
            if not statuses or statuses[-1] != body["status"]:
                statuses.append(body["status"])
        else:
            errors[str(p.get("status_code"))] += 1
    times = [float(p["t"]) for p in polls]
    results = doc.get("results") or ()
    return TaskSummary(
        name=str(doc.get("name")),
        family=str(doc["family"]),
        task_id=str(doc["task_id"]),
        polls=int(doc.get("polls_total") or len(polls)),
        seconds=max(times, default=0.0),
        statuses=tuple(statuses),
        errors=tuple(sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))),
        created=bool(doc.get("create")),
        result=any(200 <= int(r.get("status_code") or 0) < 300 for r in results),
        differs=len(convert(doc).differs),
    )


def summarize(directory: str | Path) -> list[TaskSummary]:
    """Every task recorded in ``directory``."""
    path = Path(directory)
    if not path.is_dir():
        raise ConfigError(f"--summary: no such directory: {path}")
    out = []
    for record_path in record_files(path):
        doc = read_record(record_path)
        if doc is not None:
            out.append(summarize_record(doc))
    return out


def _errors(errors: tuple[tuple[str, int], ...]) -> str:
    return ", ".join(name if n == 1 else f"{name} x{n}" for name, n in errors) or "-"


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 600 else f"{s / 60:.1f} min"


def format_summary(directory: str | Path) -> str:
    """The summary as text, one line per task, then one per family."""
    tasks = summarize(directory)
    families = Counter(t.family for t in tasks)
    head = (
        f"{directory}: {len(tasks)} task{'s' if len(tasks) != 1 else ''} in "
        f"{len(families)} famil{'ies' if len(families) != 1 else 'y'}"
    )
    if not tasks:
        return head + "\n"
    rows = [("task", "polls", "time", "statuses", "error answers", "created", "result", "replay")]
    for t in tasks:
        rows.append(
            (
                t.name,
                str(t.polls),
                _seconds(t.seconds),
                " > ".join(t.statuses) or "-",
                _errors(t.errors),
                "yes" if t.created else "no",
                "yes" if t.result else "no",
                "exact" if not t.differs else f"{t.differs} polls differ",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [head]
    for row in rows:
        cells = (c.ljust(w) for c, w in zip(row, widths, strict=True))
        lines.append(("  " + "  ".join(cells)).rstrip())
    lines.append("families:")
    for family in sorted(families):
        mine = [t for t in tasks if t.family == family]
        spans = [t.seconds for t in mine]
        finals = Counter(t.statuses[-1] for t in mine if t.statuses)
        span = (
            _seconds(spans[0])
            if len(spans) == 1
            else f"{_seconds(min(spans))} to {_seconds(max(spans))} "
            f"(median {_seconds(statistics.median(spans))})"
        )
        lines.append(
            f"  {family}: {len(mine)} task{'s' if len(mine) != 1 else ''}, {span}, "
            f"{sum(t.error_count for t in mine)} error answers, ends: "
            + (", ".join(f"{s} {n}" for s, n in finals.most_common()) or "-")
        )
    return "\n".join(lines) + "\n"
