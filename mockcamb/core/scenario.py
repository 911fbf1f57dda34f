"""Scenarios: the life of one task, as steps, faults and latency, parsed from JSON or YAML."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

from .documents import load_document, read_document
from .errors import ScenarioError
from .fault_spec import (
    FAULT_TYPES,
    MAX_TEXT_BODY,
    RETRY_AFTER_FORMATS,
    TEXT_BODY_FAULTS,
    Fault,
    FaultType,
    RetryAfterFormat,
    fault_from,
    parse_fault,
)
from .parsing import (
    MAX_PROBLEMS,
    Found,
    describe,
    is_int,
    is_number,
    mapping,
    no_unknown,
    positive_int,
    suggest,
)
from .problems import FieldPath, LineMap, Problem, plural
from .spelling import closest
from .statuses import DOCUMENTED_STATUSES, is_final

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"
MAX_LATENCY_MS = 60_000.0
MAX_STEPS = 1_000
MAX_FAULTS = 1_000
MAX_STEP_SECONDS = 10 * 365 * 86_400.0

LatencyKind = Literal["fixed", "uniform", "lognormal"]
_PRESET_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")


@dataclass(frozen=True, slots=True)
class Latency:
    """How long an answer waits, in real wall time. ``a``/``b`` depend on ``kind``:
    fixed (a = ms), uniform (a = lo ms, b = hi ms), lognormal (a = median ms, b = sigma)."""

    kind: LatencyKind
    a: float
    b: float = 0.0

    def sample(self, u1: float, u2: float) -> float:
        """Seconds to wait, from two uniform draws in [0, 1)."""
        if self.kind == "fixed":
            ms = self.a
        elif self.kind == "uniform":
            ms = self.a + (self.b - self.a) * u1
        else:
            z = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
            ms = min(self.a * math.exp(self.b * z), MAX_LATENCY_MS)
        return ms / 1000.0

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "fixed":
            return {"fixed_ms": self.a}
        if self.kind == "uniform":
            return {"uniform_ms": [self.a, self.b]}
        return {"lognormal": {"median_ms": self.a, "sigma": self.b}}


@dataclass(frozen=True, slots=True)
class Step:
    """A status held for ``polls`` answered polls or ``seconds`` of clock time."""

    status: str
    polls: int | None = None
    seconds: float | None = None
    run_id: int | None = None
    message: str | dict[str, Any] | None = None
    exception_reason: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        for name in ("polls", "seconds", "run_id", "message", "exception_reason"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.extra:
            out["extra"] = dict(self.extra)
        return out


@dataclass(frozen=True, slots=True)
class Scenario:
    """The whole life of one task. The last step is final and holds for ever."""

    steps: tuple[Step, ...]
    faults: tuple[Fault, ...] = ()
    latency: Latency | None = None
    seed: int | None = None
    name: str | None = None
    description: str | None = None
    #: The body the task's result route answers instead of the generated one (a recorded
    #: result, say): a JSON object, served for every result route with the family's first
    #: route's builder (``/story-result/{run_id}`` and ``/stories-results``).
    result: Mapping[str, Any] | None = None

    @property
    def has_probability_faults(self) -> bool:
        return any(f.probability is not None for f in self.faults)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"steps": [s.to_dict() for s in self.steps]}
        if self.faults:
            out["faults"] = [f.to_dict() for f in self.faults]
        if self.latency is not None:
            out["latency"] = self.latency.to_dict()
        for name in ("seed", "name", "description", "result"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


# --- parsing ---------------------------------------------------------------------------


def _ms(value: Any, path: FieldPath, found: Found) -> float | None:
    if not is_number(value) or value < 0 or value > MAX_LATENCY_MS:
        found.add(
            path,
            f"must be a number of milliseconds from 0 to {MAX_LATENCY_MS:g}, got {describe(value)}",
        )
        return None
    return float(value)


_LATENCY_KINDS = ("fixed_ms", "uniform_ms", "lognormal")


def _latency(value: Any, path: FieldPath, found: Found) -> Latency | None:
    if value is None:
        return None
    doc = mapping(value, path, found)
    if doc is None:
        return None
    no_unknown(doc, _LATENCY_KINDS, path, found)
    kinds = [k for k in _LATENCY_KINDS if k in doc]
    if len(kinds) != 1:
        found.add(path, "needs exactly one of fixed_ms, uniform_ms, lognormal")
        return None
    kind = kinds[0]
    where = (*path, kind)
    if kind == "fixed_ms":
        ms = _ms(doc[kind], where, found)
        return None if ms is None else Latency("fixed", ms)
    if kind == "uniform_ms":
        pair = doc[kind]
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            found.add(where, f"must be [lo, hi], got {describe(pair)}")
            return None
        lo = _ms(pair[0], (*where, 0), found)
        hi = _ms(pair[1], (*where, 1), found)
        if lo is None or hi is None:
            return None
        if hi < lo:
            found.add(where, f"hi ({hi:g}) is below lo ({lo:g})")
            return None
        return Latency("uniform", lo, hi)
    ln = mapping(doc[kind], where, found)
    if ln is None:
        return None
    before = found.count
    no_unknown(ln, ("median_ms", "sigma"), where, found)
    median = None
    if "median_ms" not in ln:
        found.add((*where, "median_ms"), "is required")
    else:
        median = _ms(ln["median_ms"], (*where, "median_ms"), found)
    sigma = ln.get("sigma", 0.5)
    if not is_number(sigma) or not 0 <= sigma <= 5:
        found.add((*where, "sigma"), f"must be a number from 0 to 5, got {describe(sigma)}")
    if median is None or found.count > before:
        return None
    return Latency("lognormal", median, float(sigma))


def parse_latency(value: Any, where: str = "latency") -> Latency | None:
    """Parse ``{"fixed_ms": N}``, ``{"uniform_ms": [lo, hi]}`` or
    ``{"lognormal": {"median_ms": M, "sigma": S}}``; ``None`` means no added latency.
    Raises :class:`ScenarioError` with every problem, under ``where``."""
    found = Found()
    latency = _latency(value, (), found)
    found.raise_any(where)
    return latency


_STEP_FIELDS = ("status", "polls", "seconds", "run_id", "message", "exception_reason", "extra")
_RESERVED = ("status", "run_id", "message", "exception_reason")


def _step(value: Any, path: FieldPath, last: bool, found: Found) -> Step | None:
    doc = mapping(value, path, found)
    if doc is None:
        return None
    before = found.count
    no_unknown(doc, _STEP_FIELDS, path, found)
    status = doc.get("status")
    status_ok = isinstance(status, str) and bool(status.strip()) and len(status) <= 100
    if not status_ok:
        found.add(
            (*path, "status"),
            f"must be a non-empty string of at most 100 characters, got {describe(status)}",
        )
    polls = seconds = None
    if "polls" in doc:
        polls = positive_int(doc["polls"], (*path, "polls"), found)
    if "seconds" in doc:
        s = doc["seconds"]
        if not is_number(s) or not 0 < s <= MAX_STEP_SECONDS:
            found.add(
                (*path, "seconds"), f"must be a number > 0 (at most 10 years), got {describe(s)}"
            )
        else:
            seconds = float(s)
    timed = "polls" in doc or "seconds" in doc
    if "polls" in doc and "seconds" in doc:
        found.add(path, "has both 'polls' and 'seconds'; give one")
    elif last and timed:
        found.add(
            path,
            "is the last step, which holds for ever; remove 'polls'/'seconds' "
            "or add a step after it",
        )
    if not last:
        if not timed:
            found.add(path, "needs 'polls' or 'seconds' (only the last step may omit them)")
        if status_ok and isinstance(status, str) and is_final(status):
            found.add(
                (*path, "status"),
                f"{status} is final and may only be the last step's status (a final status "
                "never changes)",
            )
    run_id = doc.get("run_id")
    if run_id is not None and (not is_int(run_id) or not 0 <= run_id < 2**63):
        found.add((*path, "run_id"), f"must be a non-negative integer, got {describe(run_id)}")
    message = doc.get("message")
    if message is not None and not isinstance(message, (str, Mapping)):
        found.add((*path, "message"), f"must be a string or an object, got {describe(message)}")
    reason = doc.get("exception_reason")
    if reason is not None and not isinstance(reason, str):
        found.add((*path, "exception_reason"), f"must be a string, got {describe(reason)}")
    extra = mapping(doc.get("extra", {}), (*path, "extra"), found)
    for key in extra or ():
        if key in _RESERVED:
            found.add((*path, "extra", key), f"set '{key}' on the step itself")
    if found.count > before or not isinstance(status, str):
        return None
    return Step(
        status,
        polls,
        seconds,
        run_id,
        dict(message) if isinstance(message, Mapping) else message,
        reason,
        dict(extra or {}),
    )


def parse_step(value: Any, where: str, last: bool) -> Step:
    """Parse one entry of ``steps``; ``last`` says whether it is the final, endless one.
    Raises :class:`ScenarioError` with every problem."""
    found = Found()
    step = _step(value, (), last, found)
    found.raise_any(where)
    assert step is not None
    return step


_SCENARIO_FIELDS = (
    "steps",
    "faults",
    "latency",
    "seed",
    "name",
    "description",
    "result",
    "$schema",
)
MAX_RESULT_BYTES = 1024 * 1024


def _result(value: Any, found: Found) -> dict[str, Any] | None:
    """``result``: a JSON object of at most :data:`MAX_RESULT_BYTES`, kept as plain JSON."""
    if value is None:
        return None
    doc = mapping(value, ("result",), found)
    if doc is None:
        return None
    try:
        text = json.dumps(doc, ensure_ascii=False, allow_nan=False)
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError, RecursionError):
        found.add(
            ("result",), "must be a JSON object (the result body), got a value JSON cannot hold"
        )
        return None
    if size > MAX_RESULT_BYTES:
        found.add(("result",), f"is {size} bytes as JSON; at most {MAX_RESULT_BYTES}")
        return None
    out: dict[str, Any] = json.loads(text)
    return out


def _scenario(value: Any, found: Found) -> Scenario | None:
    doc = mapping(value, (), found)
    if doc is None:
        return None
    no_unknown(doc, _SCENARIO_FIELDS, (), found)
    raw_steps = doc.get("steps")
    steps: list[Step | None] = []
    if not isinstance(raw_steps, list) or not raw_steps:
        found.add(("steps",), "must be a non-empty list of steps")
    elif len(raw_steps) > MAX_STEPS:
        found.add(("steps",), f"has {plural(len(raw_steps), 'step')}; at most {MAX_STEPS}")
    else:
        n = len(raw_steps)
        steps = [_step(s, ("steps", i), i == n - 1, found) for i, s in enumerate(raw_steps)]
    raw_faults = doc.get("faults", [])
    faults: list[Fault | None] = []
    if not isinstance(raw_faults, list):
        found.add(("faults",), "must be a list")
    elif len(raw_faults) > MAX_FAULTS:
        found.add(("faults",), f"has {plural(len(raw_faults), 'fault')}; at most {MAX_FAULTS}")
    else:
        faults = [fault_from(f, ("faults", i), found) for i, f in enumerate(raw_faults)]
    latency = _latency(doc.get("latency"), ("latency",), found)
    seed = doc.get("seed")
    if seed is not None and not is_int(seed):
        found.add(("seed",), f"must be an integer, got {describe(seed)}")
    name = doc.get("name")
    description = doc.get("description")
    for key, v in (("name", name), ("description", description)):
        if v is not None and not isinstance(v, str):
            found.add((key,), f"must be a string, got {describe(v)}")
    result = _result(doc.get("result"), found)
    if found.count:
        return None
    return Scenario(
        tuple(s for s in steps if s is not None),
        tuple(f for f in faults if f is not None),
        latency,
        seed,
        name,
        description,
        result,
    )


def parse_scenario(value: Any, where: str = "scenario") -> Scenario:
    """Validate a scenario document and build a :class:`Scenario`.

    Raises :class:`ScenarioError` listing every problem, each naming the field under
    ``where`` (``scenario.steps[1].polls``) and the fix.
    """
    found = Found()
    scenario = _scenario(value, found)
    found.raise_any(where)
    assert scenario is not None
    return scenario


def scenario_warnings(scenario: Scenario) -> tuple[Problem, ...]:
    """What is legal but probably a typo: a custom status a small edit (or a change of case)
    away from a documented one. A task never finishes on a custom status."""
    out: list[Problem] = []
    last = len(scenario.steps) - 1
    for i, step in enumerate(scenario.steps):
        if step.status in DOCUMENTED_STATUSES:
            continue
        guess = closest(step.status, DOCUMENTED_STATUSES)
        if guess is None:
            continue
        why = "so the task never finishes" if i == last else "which clients treat as still running"
        out.append(
            Problem(
                ("steps", i, "status"),
                f"{describe(step.status)} is a custom status, {why}; did you mean {guess}?",
                warning=True,
            )
        )
    return tuple(out)


# --- presets and files ------------------------------------------------------------------


def preset_names() -> list[str]:
    """Names of the presets shipped in ``fixtures/scenarios`` (``mockcamb/presets``)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


@cache
def load_preset(name: str) -> Scenario:
    """A shipped preset by name, parsed once and shared by every task that runs it."""
    if not _PRESET_NAME.match(name) or not (PRESET_DIR / f"{name}.yaml").is_file():
        guess = suggest(name, preset_names())
        raise ScenarioError(
            "scenario",
            f"no preset named {describe(name)}{guess} (presets: {', '.join(preset_names())})",
        )
    path = PRESET_DIR / f"{name}.yaml"
    scenario = parse_scenario(load_document(path), where=f"preset {name}")
    return scenario if scenario.name else _with_name(scenario, name)


def _with_name(s: Scenario, name: str) -> Scenario:
    return replace(s, name=name)


def check_scenario_file(path: str | Path) -> tuple[Scenario, tuple[Problem, ...]]:
    """A scenario from a YAML or JSON file, and its warnings, located in the file. Raises
    :class:`ScenarioError` with every error, each ``FILE:LINE: field: problem``."""
    p = Path(path)
    text, doc = read_document(p)
    try:
        scenario = parse_scenario(doc, where="")
    except ScenarioError as exc:
        located = sorted(LineMap.of(text).locate(exc.problems), key=lambda x: x.line or 0)
        raise ScenarioError("", located, file=str(p), more=exc.more) from None
    warnings = scenario_warnings(scenario)
    return scenario, LineMap.of(text).locate(warnings) if warnings else ()


def load_scenario_file(path: str | Path) -> Scenario:
    """A scenario from a YAML or JSON file."""
    return check_scenario_file(path)[0]


def is_file_spec(spec: str) -> bool:
    """Whether a scenario named by a string is a file (``.yaml``, ``.yml``, ``.json`` or a path
    with a ``/``) rather than a preset."""
    return spec.endswith((".yaml", ".yml", ".json")) or "/" in spec


# --- the library: named scenarios of one emulator (recorded lives, say) ---------------------

#: How a scenario of the library is named where a preset name goes (``recorded/<name>``).
LIBRARY_PREFIX = "recorded/"
MAX_LIBRARY = 10_000
#: Library names listed in an error at most.
_SHOWN_NAMES = 20


def check_library_name(name: Any, where: str = "name") -> str:
    """A name for the library: 1-100 letters, digits, ``_`` and ``-`` (as presets)."""
    if not isinstance(name, str) or not _PRESET_NAME.match(name):
        raise ScenarioError(
            where, f"must be 1 to 100 letters, digits, '_' or '-', got {describe(name)}"
        )
    return name


def library_name(spec: Any) -> str | None:
    """The library name in a ``recorded/<name>`` spec, else None."""
    if isinstance(spec, str) and spec.startswith(LIBRARY_PREFIX):
        name = spec[len(LIBRARY_PREFIX) :]
        return name if _PRESET_NAME.match(name) else None
    return None


def in_library(scenario: Scenario, name: str) -> Scenario:
    """``scenario`` as the library keeps it under ``name``: named ``recorded/<name>`` unless
    it has a name of its own."""
    return scenario if scenario.name else _with_name(scenario, LIBRARY_PREFIX + name)


def library_scenario(name: str, library: Mapping[str, Scenario]) -> Scenario:
    """The library's scenario ``name``; a :class:`ScenarioError` naming the known ones."""
    found = library.get(name)
    if found is not None:
        return found
    known = sorted(library)
    shown = ", ".join(LIBRARY_PREFIX + k for k in known[:_SHOWN_NAMES])
    more = f" and {len(known) - _SHOWN_NAMES} more" if len(known) > _SHOWN_NAMES else ""
    listed = f"recorded: {shown}{more}" if known else "the library is empty: load it with "
    if not known:
        listed += "serve --replay DIR, settings.scenarios or PUT /__admin/scenarios/<name>"
    if not _PRESET_NAME.match(name):
        listed += "; a name is 1 to 100 letters, digits, '_' or '-'"
    raise ScenarioError(
        "scenario",
        f"no scenario named {describe(LIBRARY_PREFIX + name)}"
        f"{suggest(LIBRARY_PREFIX + name, [LIBRARY_PREFIX + k for k in known])} ({listed})",
    )


def load_scenario_dir(path: str | Path) -> dict[str, Scenario]:
    """Every ``*.yaml`` / ``*.yml`` scenario file of a directory (a ``mockcamb record --out``
    directory is one), by file name without its suffix."""
    directory = Path(path)
    if not directory.is_dir():
        raise ScenarioError("", f"no such directory: {directory}")
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))
    out: dict[str, Scenario] = {}
    for file in files:
        if file.name.startswith(".") or not _PRESET_NAME.match(file.stem):
            continue
        out[file.stem] = in_library(load_scenario_file(file), file.stem)
    return out


def resolve_scenario(
    spec: Any, *, allow_files: bool = False, library: Mapping[str, Scenario] | None = None
) -> Scenario:
    """A scenario from a preset name, ``recorded/<name>`` of ``library``, a document, or
    (CLI only) a file path."""
    if isinstance(spec, Scenario):
        return spec
    if isinstance(spec, str):
        name = library_name(spec)
        if name is not None and library is not None:
            return library_scenario(name, library)
        if allow_files and is_file_spec(spec):
            return load_scenario_file(spec)
        if spec.startswith(LIBRARY_PREFIX):  # a name the library cannot hold, or no library
            return library_scenario(spec.removeprefix(LIBRARY_PREFIX), library or {})
        return load_preset(spec)
    return parse_scenario(spec)


__all__ = [
    "FAULT_TYPES",
    "LIBRARY_PREFIX",
    "MAX_FAULTS",
    "MAX_LATENCY_MS",
    "MAX_LIBRARY",
    "MAX_PROBLEMS",
    "MAX_RESULT_BYTES",
    "MAX_STEPS",
    "MAX_STEP_SECONDS",
    "MAX_TEXT_BODY",
    "PRESET_DIR",
    "RETRY_AFTER_FORMATS",
    "TEXT_BODY_FAULTS",
    "Fault",
    "FaultType",
    "Latency",
    "RetryAfterFormat",
    "Scenario",
    "Step",
    "check_library_name",
    "check_scenario_file",
    "in_library",
    "is_file_spec",
    "library_name",
    "library_scenario",
    "load_document",
    "load_preset",
    "load_scenario_dir",
    "load_scenario_file",
    "parse_fault",
    "parse_latency",
    "parse_scenario",
    "parse_step",
    "preset_names",
    "read_document",
    "resolve_scenario",
    "scenario_warnings",
]
