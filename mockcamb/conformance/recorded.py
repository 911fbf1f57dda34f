"""Recorded lives (``mockcamb conform CLIENT --lives DIR``): what the real service did, as
recorded by ``mockcamb record``, run once for each property it can judge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.routes import family
from ..core.statuses import SUCCESS, is_final
from ..record.replay import load_recordings
from .lives import Life


@dataclass(frozen=True)
class RecordedLife(Life):
    """A :class:`Life` whose scenario is a recorded one, not generated."""

    name: str = ""
    doc: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """the recorded scenario document"""

    def scenario(self) -> dict[str, Any]:
        return dict(self.doc)

    def describe(self) -> str:
        parts = []
        for step in self.doc.get("steps", ()):
            hold = (
                f" x{step['polls']}"
                if "polls" in step
                else (f" {step['seconds']:g} s" if "seconds" in step else "")
            )
            parts.append(f"{step['status']}{hold}")
        text = f"{self.endpoint} (recorded, {self.name}): " + " -> ".join(parts)
        faults = []
        for fault in self.doc.get("faults", ()):
            what = fault.get("http_status", "") if fault["type"] == "http_error" else fault["type"]
            if "seconds" in fault:  # windows of clock time: [from, to), to None for ever
                spans = (
                    fault["seconds"]
                    if isinstance(fault["seconds"][0], list)
                    else [fault["seconds"]]
                )
                faults += [f"{a:g}-{'' if b is None else f'{b:g}'} s: {what}" for a, b in spans]
                continue
            polls = fault["poll"] if isinstance(fault["poll"], list) else [fault["poll"]]
            faults += [f"request {n}: {what}" for n in polls]
        if faults:
            text += "; faults: " + ", ".join(faults[:10]) + (" ..." if len(faults) > 10 else "")
        return text


def recorded_lives(directory: str | Path) -> list[RecordedLife]:
    """The lives recorded in ``directory`` that end in a final status (a life the recording
    left running has nothing to judge a client by)."""
    lives = []
    for rec in load_recordings(directory, "--lives"):
        last = rec.scenario.steps[-1]
        if not is_final(last.status):
            continue
        lives.append(
            RecordedLife(
                endpoint=family(rec.family).status[0].lstrip("/"),
                final=last.status,
                run_id=last.run_id,
                exception_reason=last.exception_reason,
                name=str(rec.scenario.name),
                doc=rec.scenario.to_dict(),
            )
        )
    return lives


def properties_of(life: RecordedLife) -> tuple[str, ...]:
    """The properties a recorded life judges: the key and politeness always; ``success``
    when it ends in SUCCESS with its run id, ``final-status`` when it ends in a failure."""
    if life.final == SUCCESS:
        return ("api-key", "politeness") + (("success",) if life.run_id is not None else ())
    return ("api-key", "politeness", "final-status")
