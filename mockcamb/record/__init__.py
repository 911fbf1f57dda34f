"""Record a real run, replay it in virtual time.

``mockcamb record --target URL`` runs a proxy (:func:`recording_proxy`) that forwards what a
client sends to the target and writes the life of every task it sees: one JSON record and
one scenario YAML per task (:mod:`.recording`, :mod:`.scenario`). :func:`load_recordings`
reads them back for an emulator to replay under the recorded ids, and :func:`format_summary`
says what a directory holds.

The names below load on first use, so ``mockcamb --help`` does not pay for the proxy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .proxy import Recording, recording_proxy
    from .recording import Recorder
    from .replay import (
        Recorded,
        RecordedBody,
        load_recordings,
        preload_recordings,
        recorded_scenarios,
    )
    from .scenario import convert, render_yaml, scenario_from_record
    from .summary import format_summary, summarize

_WHERE = {
    "Recording": "proxy",
    "recording_proxy": "proxy",
    "Recorder": "recording",
    "Recorded": "replay",
    "RecordedBody": "replay",
    "load_recordings": "replay",
    "preload_recordings": "replay",
    "recorded_scenarios": "replay",
    "convert": "scenario",
    "render_yaml": "scenario",
    "scenario_from_record": "scenario",
    "format_summary": "summary",
    "summarize": "summary",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "Recorded",
    "RecordedBody",
    "Recorder",
    "Recording",
    "convert",
    "format_summary",
    "load_recordings",
    "preload_recordings",
    "recorded_scenarios",
    "recording_proxy",
    "render_yaml",
    "scenario_from_record",
    "summarize",
]
