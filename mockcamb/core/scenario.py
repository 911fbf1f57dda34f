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
from .statuses import is_final

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
class Fault:
    """One injected misbehaviour, on given request numbers or with a probability."""

    type: FaultType
    polls: frozenset[int] = frozenset()
    probability: float | None = None
    http_status: int = 503
    retry_after: float | None = None
    body: Any = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "http_status": self.http_status}
        if self.probability is not None:
            out["probability"] = self.probability
        else:
            ps = sorted(self.polls)
            out["poll"] = ps[0] if len(ps) == 1 else ps
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
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


def _describe(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScenarioError(where, f"must be an object, got {_describe(value)}")
    for key in value:
        if not isinstance(key, str):
            raise ScenarioError(where, f"keys must be strings, got {_describe(key)}")
    return value


def _no_unknown(doc: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in doc:
        if key not in allowed:
            raise ScenarioError(
                f"{where}.{key}", f"unknown field; expected one of: {', '.join(allowed)}"
            )


def _positive_int(value: Any, where: str, minimum: int = 1) -> int:
    if not _is_int(value) or value < minimum:
        raise ScenarioError(where, f"must be an integer >= {minimum}, got {_describe(value)}")
    return int(value)


def _ms(value: Any, where: str) -> float:
    if not _is_number(value) or value < 0 or value > MAX_LATENCY_MS:
        raise ScenarioError(
            where,
            f"must be a number of milliseconds from 0 to {MAX_LATENCY_MS:g}, "
            f"got {_describe(value)}",
        )
    return float(value)


def parse_latency(value: Any, where: str = "latency") -> Latency | None:
    """Parse ``{"fixed_ms": N}``, ``{"uniform_ms": [lo, hi]}`` or
    ``{"lognormal": {"median_ms": M, "sigma": S}}``; ``None`` means no added latency."""
    if value is None:
        return None
    doc = _mapping(value, where)
    kinds = [k for k in ("fixed_ms", "uniform_ms", "lognormal") if k in doc]
    _no_unknown(doc, ("fixed_ms", "uniform_ms", "lognormal"), where)
    if len(kinds) != 1:
        raise ScenarioError(where, "needs exactly one of fixed_ms, uniform_ms, lognormal")
    kind = kinds[0]
    if kind == "fixed_ms":
        return Latency("fixed", _ms(doc[kind], f"{where}.fixed_ms"))
    if kind == "uniform_ms":
        pair = doc[kind]
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise ScenarioError(f"{where}.uniform_ms", f"must be [lo, hi], got {_describe(pair)}")
        lo = _ms(pair[0], f"{where}.uniform_ms[0]")
        hi = _ms(pair[1], f"{where}.uniform_ms[1]")
        if hi < lo:
            raise ScenarioError(f"{where}.uniform_ms", f"hi ({hi:g}) is below lo ({lo:g})")
        return Latency("uniform", lo, hi)
    ln = _mapping(doc[kind], f"{where}.lognormal")
    _no_unknown(ln, ("median_ms", "sigma"), f"{where}.lognormal")
    if "median_ms" not in ln:
        raise ScenarioError(f"{where}.lognormal.median_ms", "is required")
    median = _ms(ln["median_ms"], f"{where}.lognormal.median_ms")
    sigma = ln.get("sigma", 0.5)
    if not _is_number(sigma) or not 0 <= sigma <= 5:
        raise ScenarioError(
            f"{where}.lognormal.sigma", f"must be a number from 0 to 5, got {_describe(sigma)}"
        )
    return Latency("lognormal", median, float(sigma))


_FAULT_FIELDS = ("poll", "probability", "type", "http_status", "retry_after", "body")


def parse_fault(value: Any, where: str) -> Fault:
    """Parse one entry of ``faults``."""
    doc = _mapping(value, where)
    _no_unknown(doc, _FAULT_FIELDS, where)
    ftype = doc.get("type", "http_error")
    if ftype not in FAULT_TYPES:
        raise ScenarioError(
            f"{where}.type", f"must be one of {', '.join(FAULT_TYPES)}, got {_describe(ftype)}"
        )
    if ("poll" in doc) == ("probability" in doc):
        raise ScenarioError(where, "needs exactly one of 'poll' (request numbers) or 'probability'")
    polls: frozenset[int] = frozenset()
    probability: float | None = None
    if "poll" in doc:
        raw = doc["poll"]
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise ScenarioError(f"{where}.poll", "must not be empty")
        polls = frozenset(_positive_int(p, f"{where}.poll") for p in items)
    else:
        p = doc["probability"]
        if not _is_number(p) or not 0 <= p <= 1:
            raise ScenarioError(
                f"{where}.probability", f"must be a number from 0 to 1, got {_describe(p)}"
            )
        probability = float(p)
    if ftype == "http_error":
        if "http_status" not in doc:
            raise ScenarioError(f"{where}.http_status", "is required for an http_error fault")
        low = 400
    else:
        low = 200
    status = doc.get("http_status", 200)
    if not _is_int(status) or not low <= status <= 599:
        raise ScenarioError(
            f"{where}.http_status", f"must be an integer from {low} to 599, got {_describe(status)}"
        )
    retry_after = doc.get("retry_after")
    if retry_after is not None and (not _is_number(retry_after) or not 0 <= retry_after <= 86_400):
        raise ScenarioError(
            f"{where}.retry_after",
            f"must be a number of seconds from 0 to 86400, got {_describe(retry_after)}",
        )
    body = doc.get("body")
    if body is not None and ftype != "http_error":
        raise ScenarioError(f"{where}.body", "is only allowed on http_error faults")
    return Fault(ftype, polls, probability, int(status), retry_after, body)


_STEP_FIELDS = ("status", "polls", "seconds", "run_id", "message", "exception_reason", "extra")
_RESERVED = ("status", "run_id", "message", "exception_reason")


def parse_step(value: Any, where: str, last: bool) -> Step:
    """Parse one entry of ``steps``; ``last`` says whether it is the final, endless one."""
    doc = _mapping(value, where)
    _no_unknown(doc, _STEP_FIELDS, where)
    status = doc.get("status")
    if not isinstance(status, str) or not status.strip() or len(status) > 100:
        raise ScenarioError(
            f"{where}.status",
            f"must be a non-empty string of at most 100 characters, got {_describe(status)}",
        )
    polls = seconds = None
    if "polls" in doc:
        polls = _positive_int(doc["polls"], f"{where}.polls")
    if "seconds" in doc:
        s = doc["seconds"]
        if not _is_number(s) or not 0 < s <= MAX_STEP_SECONDS:
            raise ScenarioError(
                f"{where}.seconds", f"must be a number > 0 (at most 10 years), got {_describe(s)}"
            )
        seconds = float(s)
    if polls is not None and seconds is not None:
        raise ScenarioError(where, "has both 'polls' and 'seconds'; give one")
    if last and (polls is not None or seconds is not None):
        raise ScenarioError(
            where,
            "is the last step, which holds for ever; remove 'polls'/'seconds' "
            "or add a step after it",
        )
    if not last:
        if polls is None and seconds is None:
            raise ScenarioError(
                where, "needs 'polls' or 'seconds' (only the last step may omit them)"
            )
        if is_final(status):
            raise ScenarioError(
                f"{where}.status",
                f"{status} is final and may only be the last step's status (a final status "
                "never changes)",
            )
    run_id = doc.get("run_id")
    if run_id is not None and (not _is_int(run_id) or not 0 <= run_id < 2**63):
        raise ScenarioError(
            f"{where}.run_id", f"must be a non-negative integer, got {_describe(run_id)}"
        )
    message = doc.get("message")
    if message is not None and not isinstance(message, (str, Mapping)):
        raise ScenarioError(
            f"{where}.message", f"must be a string or an object, got {_describe(message)}"
        )
    reason = doc.get("exception_reason")
    if reason is not None and not isinstance(reason, str):
        raise ScenarioError(
            f"{where}.exception_reason", f"must be a string, got {_describe(reason)}"
        )
    extra = _mapping(doc.get("extra", {}), f"{where}.extra")
    for key in extra:
        if key in _RESERVED:
            raise ScenarioError(f"{where}.extra.{key}", f"set '{key}' on the step itself")
    return Step(
        status,
        polls,
        seconds,
        run_id,
        dict(message) if isinstance(message, Mapping) else message,
        reason,
        dict(extra),
    )


_SCENARIO_FIELDS = ("steps", "faults", "latency", "seed", "name", "description", "$schema")


def parse_scenario(value: Any, where: str = "scenario") -> Scenario:
    """Validate a scenario document and build a :class:`Scenario`.

    Raises :class:`ScenarioError` naming the field (``scenario.steps[1].polls``) and the fix.
    """
    doc = _mapping(value, where)
    _no_unknown(doc, _SCENARIO_FIELDS, where)
    raw_steps = doc.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScenarioError(f"{where}.steps", "must be a non-empty list of steps")
    if len(raw_steps) > MAX_STEPS:
        raise ScenarioError(f"{where}.steps", f"has {len(raw_steps)} steps; at most {MAX_STEPS}")
    n = len(raw_steps)
    steps = tuple(
        parse_step(s, f"{where}.steps[{i}]", last=(i == n - 1)) for i, s in enumerate(raw_steps)
    )
    raw_faults = doc.get("faults", [])
    if not isinstance(raw_faults, list):
        raise ScenarioError(f"{where}.faults", "must be a list")
    if len(raw_faults) > MAX_FAULTS:
        raise ScenarioError(
            f"{where}.faults", f"has {len(raw_faults)} faults; at most {MAX_FAULTS}"
        )
    faults = tuple(parse_fault(f, f"{where}.faults[{i}]") for i, f in enumerate(raw_faults))
    latency = parse_latency(doc.get("latency"), f"{where}.latency")
    seed = doc.get("seed")
    if seed is not None and not _is_int(seed):
        raise ScenarioError(f"{where}.seed", f"must be an integer, got {_describe(seed)}")
    name = doc.get("name")
    description = doc.get("description")
    for key, v in (("name", name), ("description", description)):
        if v is not None and not isinstance(v, str):
            raise ScenarioError(f"{where}.{key}", f"must be a string, got {_describe(v)}")
    return Scenario(steps, faults, latency, seed, name, description)


# --- presets and files ------------------------------------------------------------------


def load_document(path: Path) -> Any:
    """Read a YAML or JSON file with a safe loader."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), f"cannot be read: {exc}") from None
    try:
        if path.suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ScenarioError(
            str(path), f"is not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}"
        ) from None


def preset_names() -> list[str]:
    """Names of the presets shipped in ``fixtures/scenarios`` (``mockcamb/presets``)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


@cache
def load_preset(name: str) -> Scenario:
    """A shipped preset by name, parsed once and shared by every task that runs it."""
    if not _PRESET_NAME.match(name) or not (PRESET_DIR / f"{name}.yaml").is_file():
        raise ScenarioError(
            "scenario", f"no preset named {_describe(name)}; presets: {', '.join(preset_names())}"
        )
    path = PRESET_DIR / f"{name}.yaml"
    scenario = parse_scenario(load_document(path), where=f"preset {name}")
    return scenario if scenario.name else _with_name(scenario, name)


def _with_name(s: Scenario, name: str) -> Scenario:
    return Scenario(s.steps, s.faults, s.latency, s.seed, name, s.description)


def load_scenario_file(path: str | Path) -> Scenario:
    """A scenario from a YAML or JSON file."""
    p = Path(path)
    return parse_scenario(load_document(p), where=str(p))


def resolve_scenario(spec: Any, *, allow_files: bool = False) -> Scenario:
    """A scenario from a preset name, a document, or (CLI only) a file path."""
    if isinstance(spec, Scenario):
        return spec
    if isinstance(spec, str):
        if allow_files and (spec.endswith((".yaml", ".yml", ".json")) or "/" in spec):
            return load_scenario_file(spec)
        return load_preset(spec)
    return parse_scenario(spec)
