"""The outcome a person reads: a :class:`Finding` per broken property and the :class:`Report`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .config import ConformanceConfig
from .families import FamilyPlan, label
from .properties import PROPERTIES, Property
from .records import Exchange, Run
from .text import one_line

SHOWN_EXCHANGES = 12  # a longer list of requests shows its first 6 and its last 5
_MODE_TEXT = {
    "http": "http (a mockcamb server on a free port of 127.0.0.1)",
    "httpx": "httpx (in process, at https://client.camb.ai/apis: no server, no port)",
}


@dataclass
class Finding:
    """A property the client breaks, with the smallest failing life found and what it did."""

    prop: Property
    message: str
    run: Run
    note: str = ""
    examples_run: int = 0

    def format(self, indent: str = "  ") -> str:
        run = self.run
        lines = [
            f"property {self.prop.number} ({self.prop.name}) failed: {self.message}",
            f"{indent}smallest failing life: {run.life.describe()}",
            f"{indent}scenario: {json.dumps(run.life.scenario(), separators=(',', ':'))}",
            f"{indent}the client {run.what_client_did()}",
            *_exchange_lines(run.exchanges, indent),
        ]
        if run.outcome == "raised" and run.traceback:
            tail = run.traceback.strip().splitlines()[-4:]
            lines.append(f"{indent}traceback (last lines):")
            lines += [f"{indent}  {t}" for t in tail]
        if run.output.strip():
            out = run.output.strip().splitlines()[-6:]
            lines.append(f"{indent}client output (last lines):")
            lines += [f"{indent}  {one_line(t, 160)}" for t in out]
        if self.note:
            lines.append(f"{indent}note: {self.note}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def _exchange_lines(exchanges: list[Exchange], indent: str) -> list[str]:
    if not exchanges:
        return [f"{indent}requests: none"]
    lines = [f"{indent}requests (t = virtual seconds):"]
    many = len(exchanges) > SHOWN_EXCHANGES
    shown = exchanges[:6] + exchanges[-5:] if many else exchanges
    for i, ex in enumerate(shown):
        if many and i == 6:
            lines.append(f"{indent}  ... {len(exchanges) - 11} more ...")
        lines.append(f"{indent}  {ex.describe()}")
    return lines


@dataclass
class Report:
    """The outcome of a conformance run: one entry per property checked."""

    target: str
    config: ConformanceConfig
    seed: int
    results: dict[str, Finding | None]
    examples: dict[str, int]
    seconds: float
    skipped: tuple[str, ...] = ()
    families: FamilyPlan | None = None
    """the families run (status paths), where they come from, and why the others were not"""
    lives_by_family: dict[str, dict[str, int]] = field(default_factory=dict)
    """property -> status path -> lives run"""
    not_run: dict[str, dict[str, str]] = field(default_factory=dict)
    """property -> status path -> why that family was not searched for it"""

    @property
    def ok(self) -> bool:
        return all(f is None for f in self.results.values())

    @property
    def failed(self) -> list[str]:
        return [name for name, f in self.results.items() if f is not None]

    def format(self) -> str:
        lines = [
            f"mockcamb conform {self.target}",
            f"  seed {self.seed}, up to {self.config.examples} task lives per property "
            "(split over the families)",
            *self._family_lines(),
            f"  mode: {_MODE_TEXT.get(self.config.mode, self.config.mode)}",
            "",
        ]
        for prop in PROPERTIES:
            lines += self._property_lines(prop)
        lines.append("")
        lines += self._verdict_lines()
        return "\n".join(lines)

    def _family_lines(self) -> list[str]:
        plan = self.families
        if plan is None:
            return []
        lines = [f"  families: {', '.join(map(label, plan.run))} ({plan.source()})"]
        by_reason: dict[str, list[str]] = {}
        for name, why in plan.skipped.items():
            by_reason.setdefault(why, []).append(name)
        lines += [f"  skipped: {', '.join(names)}: {why}" for why, names in by_reason.items()]
        return lines

    def _run_over(self, name: str) -> str:
        """``run over dub (3 lives), tts (3 lives); not run over ...``, or ``""``."""
        counts = self.lives_by_family.get(name, {})
        text = ", ".join(
            f"{label(ep)} ({n} {'life' if n == 1 else 'lives'})" for ep, n in counts.items()
        )
        text = f"run over {text}" if text else ""
        for ep, why in self.not_run.get(name, {}).items():
            text += f"; {label(ep)} {why}"
        return text

    def _property_lines(self, prop: Property) -> list[str]:
        if prop.name in self.results:
            finding = self.results[prop.name]
            mark = "PASS" if finding is None else "FAIL"
            lines = [f"{mark}  {prop.number} {prop.name}: {prop.title}"]
            over = self._run_over(prop.name)
            if over:
                lines.append(f"      {over}")
            if finding is not None:
                body = finding.format("      ")
                lines += [
                    "      " + line if i == 0 else line for i, line in enumerate(body.splitlines())
                ]
            return lines
        if prop.name in self.skipped:
            return [f"SKIP  {prop.number} {prop.name}: not checked (left out by --only or --relax)"]
        return []

    def _verdict_lines(self) -> list[str]:
        total = sum(self.examples.values())
        if self.ok:
            return [
                f"CONFORMS: {len(self.results)} properties held over {total} task lives "
                f"in {self.seconds:.1f} s"
            ]
        return [
            f"DOES NOT CONFORM: {len(self.failed)} of {len(self.results)} properties failed "
            f"({', '.join(self.failed)}); {total} task lives in {self.seconds:.1f} s",
            f"  reproduce with --seed {self.seed}; relax a property on purpose with --relax NAME",
        ]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``mockcamb conform --json``)."""
        return {
            "target": self.target,
            "ok": self.ok,
            "seed": self.seed,
            "examples": self.config.examples,
            "mode": self.config.mode,
            "seconds": round(self.seconds, 3),
            "families": self.families.to_dict() if self.families is not None else None,
            "properties": [self._property_dict(p) for p in PROPERTIES],
        }

    def _property_dict(self, prop: Property) -> dict[str, Any]:
        out: dict[str, Any] = {"number": prop.number, "name": prop.name, "title": prop.title}
        if prop.name not in self.results:
            out["result"] = "skip"
            out["reason"] = "left out by --only or --relax"
            return out
        finding = self.results[prop.name]
        out["result"] = "pass" if finding is None else "fail"
        out["lives"] = self.examples.get(prop.name, 0)
        out["families"] = dict(self.lives_by_family.get(prop.name, {}))
        out["not_run"] = dict(self.not_run.get(prop.name, {}))
        if finding is not None:
            run = finding.run
            out["message"] = finding.message
            out["smallest_life"] = run.life.describe()
            out["scenario"] = run.life.scenario()
            out["client"] = run.what_client_did()
            out["requests"] = [ex.describe() for ex in run.exchanges]
            if finding.note:
                out["note"] = finding.note
        return out
