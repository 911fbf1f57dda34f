"""Scenarios: the life of one task, as steps, faults and latency, parsed from JSON or YAML."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from .errors import ScenarioError
from .problems import FieldPath, LineMap, Problem, plural
from .spelling import closest
from .statuses import DOCUMENTED_STATUSES, is_final
from .text import shorten

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"
MAX_LATENCY_MS = 60_000.0
MAX_STEPS = 1_000
MAX_FAULTS = 1_000
MAX_STEP_SECONDS = 10 * 365 * 86_400.0

FaultType = Literal[
    "http_error", "non_json", "empty_body", "truncated_json", "malformed_json", "drop_connection"
]
#: Every fault type, in the order the documents list them (from :data:`FaultType` alone).
FAULT_TYPES: tuple[FaultType, ...] = get_args(FaultType)
#: Faults whose ``body`` may be a string: the exact text sent instead of the generated one.
TEXT_BODY_FAULTS: tuple[FaultType, ...] = ("non_json", "truncated_json", "malformed_json")
MAX_TEXT_BODY = 1024 * 1024
LatencyKind = Literal["fixed", "uniform", "lognormal"]
#: How a fault's ``retry_after`` is sent: delta-seconds (``Retry-After: 5``) or an HTTP date
#: (``Retry-After: Thu, 01 Jan 1970 00:00:05 GMT``; see :func:`mockcamb.core.faults.http_now`).
RetryAfterFormat = Literal["seconds", "date"]
RETRY_AFTER_FORMATS: tuple[RetryAfterFormat, ...] = get_args(RetryAfterFormat)
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
class Fault:
    """One injected misbehaviour, on given request numbers or with a probability."""

    type: FaultType
    polls: frozenset[int] = frozenset()
    probability: float | None = None
    http_status: int = 503
    retry_after: float | None = None
    body: Any = None
    retry_after_format: RetryAfterFormat = "seconds"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type != "drop_connection":  # a dropped answer has no status code
            out["http_status"] = self.http_status
        if self.probability is not None:
            out["probability"] = self.probability
        else:
            ps = sorted(self.polls)
            out["poll"] = ps[0] if len(ps) == 1 else ps
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        if self.retry_after_format != "seconds":
            out["retry_after_format"] = self.retry_after_format
        if self.body is not None:
            out["body"] = self.body
        return out


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

    @property
    def has_probability_faults(self) -> bool:
        return any(f.probability is not None for f in self.faults)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"steps": [s.to_dict() for s in self.steps]}
        if self.faults:
            out["faults"] = [f.to_dict() for f in self.faults]
        if self.latency is not None:
            out["latency"] = self.latency.to_dict()
        for name in ("seed", "name", "description"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


# --- parsing ---------------------------------------------------------------------------

#: The most problems kept for one document; the rest are counted.
MAX_PROBLEMS = 50


class _Found:
    """The problems found so far in one document: the first :data:`MAX_PROBLEMS`, and a count
    of the rest."""

    __slots__ = ("more", "problems")

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.more = 0

    def add(self, path: FieldPath, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(path, message))
        else:
            self.more += 1

    @property
    def count(self) -> int:
        return len(self.problems) + self.more

    def raise_any(self, where: str) -> None:
        if self.problems:
            raise ScenarioError(where, self.problems, more=self.more)


def _describe(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return shorten(text, 60)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _guess(word: Any, known: Sequence[str]) -> str:
    """``; did you mean X?`` for a string near one of ``known``, else nothing."""
    guess = closest(word, known) if isinstance(word, str) else None
    return f"; did you mean {guess}?" if guess else ""


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from JSON's "\ud800"
        return False
    return True


def _mapping(value: Any, path: FieldPath, found: _Found) -> Mapping[str, Any] | None:
    if not isinstance(value, Mapping):
        found.add(path, f"must be an object, got {_describe(value)}")
        return None
    for key in value:
        if not isinstance(key, str):
            found.add(path, f"keys must be strings, got {_describe(key)}")
            return None
    return value


def _no_unknown(
    doc: Mapping[str, Any], allowed: Sequence[str], path: FieldPath, found: _Found
) -> None:
    for key in doc:
        if key not in allowed:
            guess = _guess(key, [a for a in allowed if not a.startswith("$")])
            found.add((*path, key), f"unknown field{guess} (expected one of: {', '.join(allowed)})")


def _positive_int(value: Any, path: FieldPath, found: _Found, minimum: int = 1) -> int | None:
    if not _is_int(value) or value < minimum:
        found.add(path, f"must be an integer >= {minimum}, got {_describe(value)}")
        return None
    return int(value)


def _ms(value: Any, path: FieldPath, found: _Found) -> float | None:
    if not _is_number(value) or value < 0 or value > MAX_LATENCY_MS:
        found.add(
            path,
            f"must be a number of milliseconds from 0 to {MAX_LATENCY_MS:g}, "
            f"got {_describe(value)}",
        )
        return None
    return float(value)


_LATENCY_KINDS = ("fixed_ms", "uniform_ms", "lognormal")


def _latency(value: Any, path: FieldPath, found: _Found) -> Latency | None:
    if value is None:
        return None
    doc = _mapping(value, path, found)
    if doc is None:
        return None
    _no_unknown(doc, _LATENCY_KINDS, path, found)
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
            found.add(where, f"must be [lo, hi], got {_describe(pair)}")
            return None
        lo = _ms(pair[0], (*where, 0), found)
        hi = _ms(pair[1], (*where, 1), found)
        if lo is None or hi is None:
            return None
        if hi < lo:
            found.add(where, f"hi ({hi:g}) is below lo ({lo:g})")
            return None
        return Latency("uniform", lo, hi)
    ln = _mapping(doc[kind], where, found)
    if ln is None:
        return None
    before = found.count
    _no_unknown(ln, ("median_ms", "sigma"), where, found)
    median = None
    if "median_ms" not in ln:
        found.add((*where, "median_ms"), "is required")
    else:
        median = _ms(ln["median_ms"], (*where, "median_ms"), found)
    sigma = ln.get("sigma", 0.5)
    if not _is_number(sigma) or not 0 <= sigma <= 5:
        found.add((*where, "sigma"), f"must be a number from 0 to 5, got {_describe(sigma)}")
    if median is None or found.count > before:
        return None
    return Latency("lognormal", median, float(sigma))


def parse_latency(value: Any, where: str = "latency") -> Latency | None:
    """Parse ``{"fixed_ms": N}``, ``{"uniform_ms": [lo, hi]}`` or
    ``{"lognormal": {"median_ms": M, "sigma": S}}``; ``None`` means no added latency.
    Raises :class:`ScenarioError` with every problem, under ``where``."""
    found = _Found()
    latency = _latency(value, (), found)
    found.raise_any(where)
    return latency


_FAULT_FIELDS = (
    "poll",
    "probability",
    "type",
    "http_status",
    "retry_after",
    "retry_after_format",
    "body",
)


def _fault(value: Any, path: FieldPath, found: _Found) -> Fault | None:
    doc = _mapping(value, path, found)
    if doc is None:
        return None
    before = found.count
    _no_unknown(doc, _FAULT_FIELDS, path, found)
    ftype = doc.get("type", "http_error")
    type_ok = ftype in FAULT_TYPES
    if not type_ok:
        found.add(
            (*path, "type"),
            f"must be one of {', '.join(FAULT_TYPES)}, got {_describe(ftype)}"
            + _guess(ftype, FAULT_TYPES),
        )
    if ("poll" in doc) == ("probability" in doc):
        found.add(path, "needs exactly one of 'poll' (request numbers) or 'probability'")
    polls: frozenset[int] = frozenset()
    probability: float | None = None
    if "poll" in doc:
        raw = doc["poll"]
        if isinstance(raw, list):
            if not raw:
                found.add((*path, "poll"), "must not be empty")
            items = [((*path, "poll", i), p) for i, p in enumerate(raw)]
        else:
            items = [((*path, "poll"), raw)]
        numbers = [_positive_int(p, where, found) for where, p in items]
        polls = frozenset(n for n in numbers if n is not None)
    if "probability" in doc:
        p = doc["probability"]
        if not _is_number(p) or not 0 <= p <= 1:
            found.add((*path, "probability"), f"must be a number from 0 to 1, got {_describe(p)}")
        else:
            probability = float(p)
    low = 400 if ftype == "http_error" else 200
    status = doc.get("http_status", 200)
    if "http_status" in doc:
        if not _is_int(status) or not low <= status <= 599:
            found.add(
                (*path, "http_status"),
                f"must be an integer from {low} to 599, got {_describe(status)}",
            )
    elif ftype == "http_error":
        found.add((*path, "http_status"), "is required for an http_error fault")
    retry_after = doc.get("retry_after")
    if retry_after is not None and (not _is_number(retry_after) or not 0 <= retry_after <= 86_400):
        found.add(
            (*path, "retry_after"),
            f"must be a number of seconds from 0 to 86400, got {_describe(retry_after)}",
        )
    ra_format = doc.get("retry_after_format", "seconds")
    if ra_format not in RETRY_AFTER_FORMATS:
        found.add(
            (*path, "retry_after_format"),
            f"must be one of {', '.join(RETRY_AFTER_FORMATS)}, got {_describe(ra_format)}"
            + _guess(ra_format, RETRY_AFTER_FORMATS),
        )
    elif "retry_after_format" in doc and retry_after is None:
        found.add((*path, "retry_after_format"), "needs retry_after (the seconds)")
    body = doc.get("body")
    if body is not None and type_ok and ftype != "http_error":
        if ftype not in TEXT_BODY_FAULTS:
            found.add(
                (*path, "body"), f"is only allowed on http_error and {', '.join(TEXT_BODY_FAULTS)}"
            )
        elif not isinstance(body, str) or len(body) > MAX_TEXT_BODY or not _utf8(body):
            found.add(
                (*path, "body"),
                f"on a {ftype} fault must be a string of at most {MAX_TEXT_BODY} characters "
                "(the exact text sent; a JSON body goes on an http_error fault), "
                f"got {_describe(body)}",
            )
    if found.count > before:
        return None
    return Fault(ftype, polls, probability, int(status), retry_after, body, ra_format)


def parse_fault(value: Any, where: str) -> Fault:
    """Parse one entry of ``faults``; raises :class:`ScenarioError` with every problem."""
    found = _Found()
    fault = _fault(value, (), found)
    found.raise_any(where)
    assert fault is not None
    return fault


_STEP_FIELDS = ("status", "polls", "seconds", "run_id", "message", "exception_reason", "extra")
_RESERVED = ("status", "run_id", "message", "exception_reason")


def _step(value: Any, path: FieldPath, last: bool, found: _Found) -> Step | None:
    doc = _mapping(value, path, found)
    if doc is None:
        return None
    before = found.count
    _no_unknown(doc, _STEP_FIELDS, path, found)
    status = doc.get("status")
    status_ok = isinstance(status, str) and bool(status.strip()) and len(status) <= 100
    if not status_ok:
        found.add(
            (*path, "status"),
            f"must be a non-empty string of at most 100 characters, got {_describe(status)}",
        )
    polls = seconds = None
    if "polls" in doc:
        polls = _positive_int(doc["polls"], (*path, "polls"), found)
    if "seconds" in doc:
        s = doc["seconds"]
        if not _is_number(s) or not 0 < s <= MAX_STEP_SECONDS:
            found.add(
                (*path, "seconds"), f"must be a number > 0 (at most 10 years), got {_describe(s)}"
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
    if run_id is not None and (not _is_int(run_id) or not 0 <= run_id < 2**63):
        found.add((*path, "run_id"), f"must be a non-negative integer, got {_describe(run_id)}")
    message = doc.get("message")
    if message is not None and not isinstance(message, (str, Mapping)):
        found.add((*path, "message"), f"must be a string or an object, got {_describe(message)}")
    reason = doc.get("exception_reason")
    if reason is not None and not isinstance(reason, str):
        found.add((*path, "exception_reason"), f"must be a string, got {_describe(reason)}")
    extra = _mapping(doc.get("extra", {}), (*path, "extra"), found)
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
    found = _Found()
    step = _step(value, (), last, found)
    found.raise_any(where)
    assert step is not None
    return step


_SCENARIO_FIELDS = ("steps", "faults", "latency", "seed", "name", "description", "$schema")


def _scenario(value: Any, found: _Found) -> Scenario | None:
    doc = _mapping(value, (), found)
    if doc is None:
        return None
    _no_unknown(doc, _SCENARIO_FIELDS, (), found)
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
        faults = [_fault(f, ("faults", i), found) for i, f in enumerate(raw_faults)]
    latency = _latency(doc.get("latency"), ("latency",), found)
    seed = doc.get("seed")
    if seed is not None and not _is_int(seed):
        found.add(("seed",), f"must be an integer, got {_describe(seed)}")
    name = doc.get("name")
    description = doc.get("description")
    for key, v in (("name", name), ("description", description)):
        if v is not None and not isinstance(v, str):
            found.add((key,), f"must be a string, got {_describe(v)}")
    if found.count:
        return None
    return Scenario(
        tuple(s for s in steps if s is not None),
        tuple(f for f in faults if f is not None),
        latency,
        seed,
        name,
        description,
    )


def parse_scenario(value: Any, where: str = "scenario") -> Scenario:
    """Validate a scenario document and build a :class:`Scenario`.

    Raises :class:`ScenarioError` listing every problem, each naming the field under
    ``where`` (``scenario.steps[1].polls``) and the fix.
    """
    found = _Found()
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
                f"{_describe(step.status)} is a custom status, {why}; did you mean {guess}?",
                warning=True,
            )
        )
    return tuple(out)


# --- presets and files ------------------------------------------------------------------


def _yaml_problem(exc: yaml.YAMLError) -> tuple[str, int | None]:
    """A one-line description of a YAML error, and its line (PyYAML's own text names the
    source ``<unicode string>``)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        text = exc.problem or exc.context or "cannot be parsed"
        if exc.problem and exc.context:
            cm = exc.context_mark
            text += f" ({exc.context}" + (f" at line {cm.line + 1})" if cm else ")")
        return text, None if mark is None else mark.line + 1
    if isinstance(exc, yaml.reader.ReaderError):
        return f"{exc.reason} (character {exc.position})", None
    return type(exc).__name__, None


def read_document(path: Path) -> tuple[str, Any]:
    """A YAML or JSON file's text and its contents, read with a safe loader. Raises
    :class:`ScenarioError` located in the file (``FILE:LINE: is not valid YAML: ...``)."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError("", f"cannot be read: {exc}", file=file) from None
    kind = "JSON" if path.suffix == ".json" else "YAML"
    line: int | None = None
    try:
        if kind == "JSON":
            return text, json.loads(text)
        return text, yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        problem, line = f"{exc.msg} (column {exc.colno})", exc.lineno
    except yaml.YAMLError as exc:
        problem, line = _yaml_problem(exc)
    except (ValueError, RecursionError):
        problem = "nested too deeply" if kind == "YAML" else "cannot be decoded"
    raise ScenarioError("", [Problem((), f"is not valid {kind}: {problem}", line=line)], file=file)


def load_document(path: Path) -> Any:
    """Read a YAML or JSON file with a safe loader."""
    return read_document(path)[1]


def preset_names() -> list[str]:
    """Names of the presets shipped in ``fixtures/scenarios`` (``mockcamb/presets``)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


@cache
def load_preset(name: str) -> Scenario:
    """A shipped preset by name, parsed once and shared by every task that runs it."""
    if not _PRESET_NAME.match(name) or not (PRESET_DIR / f"{name}.yaml").is_file():
        guess = _guess(name, preset_names())
        raise ScenarioError(
            "scenario",
            f"no preset named {_describe(name)}{guess} (presets: {', '.join(preset_names())})",
        )
    path = PRESET_DIR / f"{name}.yaml"
    scenario = parse_scenario(load_document(path), where=f"preset {name}")
    return scenario if scenario.name else _with_name(scenario, name)


def _with_name(s: Scenario, name: str) -> Scenario:
    return Scenario(s.steps, s.faults, s.latency, s.seed, name, s.description)


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


def resolve_scenario(spec: Any, *, allow_files: bool = False) -> Scenario:
    """A scenario from a preset name, a document, or (CLI only) a file path."""
    if isinstance(spec, Scenario):
        return spec
    if isinstance(spec, str):
        if allow_files and is_file_spec(spec):
            return load_scenario_file(spec)
        return load_preset(spec)
    return parse_scenario(spec)
