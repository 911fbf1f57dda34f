"""The README's family table is the route table: regenerated here, compared whole."""

from __future__ import annotations

import re
from pathlib import Path

from mockcamb.core.families import FAMILIES, Family

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- families:start -->", "<!-- families:end -->"


def _results(fam: Family) -> str:
    parts = []
    for r in fam.results:
        query = f" `?{'&'.join(q + '=' for q in r.query)}`" if r.query else ""
        method = "POST" if r.bulk else "GET"
        parts.append(f"`{method} {r.path}`{query}")
    return "<br>".join(parts) or "none (as in the SDKs)"


def _create(fam: Family) -> str:
    required = ", ".join(f"`{f.name}`" for f in fam.fields if f.required)
    for group in fam.one_of:
        required += (", " if required else "") + " or ".join(f"`{g}`" for g in group)
    source = f"; starts from a finished {fam.starts_from} run" if fam.starts_from else ""
    kind = "multipart" if fam.body == "multipart" else "JSON"
    return f"`POST {fam.create}` ({kind}: {required}){source}"


def family_table() -> str:
    rows = ["| family (`kind`) | create | status | results |", "|---|---|---|---|"]
    for fam in FAMILIES:
        status = ", ".join(f"`{p}/{{task_id}}`" for p in fam.status)
        rows.append(f"| {fam.name} | {_create(fam)} | {status} | {_results(fam)} |")
    return "\n".join(rows)


def test_the_readme_family_table_is_the_route_table() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(re.escape(START) + r"\n(.*?)\n" + re.escape(END), text, re.DOTALL)
    assert match, "README.md lacks the families block"
    assert match.group(1) == family_table(), (
        "README.md's family table is stale; replace it with:\n" + family_table()
    )
