"""BENCHMARKS.md's side-by-side tables from the JSON of one or more ``run.py --json`` runs.

    python benchmarks/tables.py run1.json [run2.json ...]

One column per server (mockcamb, the floor, WireMock, Prism, Mountebank), one row per run,
for c32 throughput and for the c256 latency test, with each run's load and verdicts on the
targets of issue 15 (p99 <= floor + 10 ms, p99 below WireMock's, p50 200-205 ms,
throughput >= 97 % of 1,280 req/s, c32 >= 2x the best peer).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from run import (
    DEFAULT_LABEL,
    FLOOR_LABEL,
    MIN_SHARE_OF_IDEAL,
    P50_RANGE_MS,
    P99_OVER_FLOOR_MS,
    THROUGHPUT_VS_BEST_PEER,
)

PEERS = ("wiremock", "prism", "mountebank")


def _best(runs: list[dict[str, Any]] | None) -> float | None:
    return max(r["rps"] for r in runs) if runs else None


def _n(x: float | None, fmt: str = "{:,.0f}") -> str:
    return "—" if x is None else fmt.format(x)


def throughput_rows(name: str, doc: dict[str, Any]) -> str | None:
    t = doc.get("throughput")
    if not t:
        return None
    mc = _best(t["mockcamb"].get("mockcamb serve (default)"))
    peers = {p: _best(t["peers"].get(p)) for p in PEERS}
    top = max((v for v in peers.values() if v), default=None)
    ratio = mc / top if mc and top else None
    verdict = "—" if ratio is None else ("pass" if ratio >= THROUGHPUT_VS_BEST_PEER else "fail")
    cells = [_n(mc), *(_n(peers[p]) for p in PEERS), _n(ratio, "{:.2f}x"), verdict]
    load = t.get("load", doc["machine"]["loadavg_at_start"]).split()[0]
    return f"| {name} | {load} | " + " | ".join(cells) + " |"


def latency_rows(name: str, doc: dict[str, Any]) -> str | None:
    lat = doc.get("latency")
    if not lat or DEFAULT_LABEL not in lat:
        return None

    def fig(d: dict[str, Any] | None) -> str:
        if not d:
            return "—"
        s = d["slow"]
        return f"{s['p50_ms']:.1f} / {s['p99_ms']:.1f} / {s['rps']:,.0f}"

    mc, floor = lat[DEFAULT_LABEL], lat.get(FLOOR_LABEL)
    peers = {p["name"]: p for p in lat.get("peers", [])}
    s = mc["slow"]
    p99 = s["p99_ms"]
    checks = [
        floor is not None and p99 <= floor["slow"]["p99_ms"] + P99_OVER_FLOOR_MS,
        "wiremock" in peers and p99 < peers["wiremock"]["slow"]["p99_ms"],
        P50_RANGE_MS[0] <= s["p50_ms"] <= P50_RANGE_MS[1],
        s["rps"] >= MIN_SHARE_OF_IDEAL * lat["ideal_rps"] and not any(s["socket_errors"].values()),
    ]
    verdict = ", ".join("pass" if ok else "fail" for ok in checks)
    cells = [fig(mc), fig(floor), fig(peers.get("wiremock")), fig(peers.get("mountebank"))]
    load = lat.get("load", doc["machine"]["loadavg_at_start"]).split()[0]
    return f"| {name} | {load} | " + " | ".join(cells) + f" | {verdict} |"


def main(paths: list[str]) -> None:
    docs = [(Path(p).stem, json.loads(Path(p).read_text())) for p in paths]
    print("| run | load | mockcamb | WireMock | Prism | Mountebank | ratio | 2x best peer |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, doc in docs:
        row = throughput_rows(name, doc)
        if row:
            print(row)
    print()
    print(
        "| run | load | mockcamb p50 / p99 / req/s | floor | WireMock | Mountebank "
        "| p99 <= floor + 10, p99 < WireMock, p50, req/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, doc in docs:
        row = latency_rows(name, doc)
        if row:
            print(row)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main(sys.argv[1:])
