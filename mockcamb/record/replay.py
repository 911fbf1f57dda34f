"""Reading recordings back: every recorded task with its family, id, scenario and result, to
preload an emulator under the recorded ids or to use a recorded life for new tasks."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ..core.emulator import Emulator
from ..core.errors import ConfigError, MockCambError
from ..core.scenario import Scenario, library_name, load_document, parse_scenario
from .recording import body_bytes, read_record, record_files
from .scenario import convert, emulator_family, revision_of

log = logging.getLogger("mockcamb.record")


@dataclass(frozen=True, slots=True)
class RecordedBody:
    """A recorded answer body (a result fetch): its code, Content-Type and bytes."""

    status_code: int
    content_type: str | None
    data: bytes

    def json(self) -> Any:
        return json.loads(self.data)


class Recorded(NamedTuple):
    """One recorded task: ``for family, task_id, scenario, result in load_recordings(d)``.
    ``family`` is the emulator's name for it (see :func:`emulator_family`); ``scenario.name``
    is ``recorded/<name>``; ``result`` is the last successful result fetch."""

    family: str
    task_id: str
    scenario: Scenario
    result: RecordedBody | None


def _directory(directory: str | Path, option: str) -> Path:
    path = Path(directory)
    if not path.is_dir():
        raise ConfigError(f"{option}: no such directory: {path}")
    return path


def _scenario(doc: dict[str, Any], record_path: Path) -> Scenario:
    """The task's scenario file if it is as new as its record (a user may have edited it),
    else the scenario built afresh from the record (a crash came between the two writes)."""
    yaml_path = record_path.with_suffix(".yaml")
    if yaml_path.is_file():
        text = yaml_path.read_text(encoding="utf-8")
        revision = revision_of(text)
        if revision is None or revision == int(doc.get("revision", 0)):
            return parse_scenario(load_document(yaml_path), where=str(yaml_path))
        log.warning("%s is older than its record; using the record", yaml_path)
    return parse_scenario(convert(doc).scenario, where=str(record_path))


def _result(doc: dict[str, Any]) -> RecordedBody | None:
    for fetch in reversed(doc.get("results") or ()):
        code = fetch.get("status_code")
        if isinstance(code, int) and 200 <= code < 300:
            headers = fetch.get("headers") or {}
            return RecordedBody(code, headers.get("content-type"), body_bytes(fetch.get("body")))
    return None


def load_recordings(directory: str | Path, option: str = "--replay") -> Iterator[Recorded]:
    """Every task recorded in ``directory``, in name order. A scenario file that does not
    validate stops the load with a :class:`~mockcamb.core.errors.ConfigError` naming it."""
    path = _directory(directory, option)
    for record_path in record_files(path):
        doc = read_record(record_path)
        if doc is None:
            continue
        try:
            scenario = _scenario(doc, record_path)
        except MockCambError as exc:
            raise ConfigError(f"{option}: {exc}") from None
        yield Recorded(emulator_family(doc["family"]), doc["task_id"], scenario, _result(doc))


def recorded_scenarios(directory: str | Path, option: str = "--replay") -> dict[str, Scenario]:
    """The recorded lives by name (``recorded/<name>``), to run as scenarios of new tasks."""
    return {str(rec.scenario.name): rec.scenario for rec in load_recordings(directory, option)}


def _library(loaded: Sequence[Recorded]) -> dict[str, Scenario]:
    """The recorded lives as the emulator's library keeps them: by ``<name>`` of their
    ``recorded/<name>`` (a scenario renamed otherwise by hand is left out)."""
    out = {}
    for rec in loaded:
        name = library_name(rec.scenario.name)
        if name is not None:
            out[name] = rec.scenario
    return out


def preload_recordings(
    emulator: Emulator,
    directory: str | Path | Sequence[Recorded],
    option: str = "--replay",
    *,
    keep_existing: bool = False,
) -> list[Recorded]:
    """Create every recorded task (of ``directory``, or already loaded) on ``emulator`` under
    its recorded family and id, running its recorded scenario from the emulator's current
    clock time, and add every recorded life to the emulator's library (new tasks run one with
    ``x-mockcamb-scenario: recorded/<name>``). ``keep_existing``: leave a task that exists
    already as it is (a shared store that another worker preloaded)."""
    if isinstance(directory, (str, Path)):
        loaded = list(load_recordings(directory, option))
    else:
        loaded = list(directory)
    for rec in loaded:
        if keep_existing and emulator.get_task(rec.family, rec.task_id) is not None:
            continue
        try:
            emulator.create_task(rec.family, rec.task_id, rec.scenario)
        except MockCambError as exc:
            raise ConfigError(
                f"{option}: {rec.family} task {rec.task_id!r} ({rec.scenario.name}): {exc}"
            ) from None
    if loaded:
        emulator.add_scenarios(_library(loaded))
    return loaded
