"""The settings of a conformance run (:class:`ConformanceConfig`) and ``--relax`` items."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from ..core.errors import ConfigError
from .families import endpoints_named
from .properties import PROPERTIES, property_named

#: How a client under test reaches the emulator (:attr:`ConformanceConfig.mode`).
MODES = ("http", "httpx")


@dataclass(frozen=True)
class ConformanceConfig:
    """What to check and how hard. Every field can be set from the command line."""

    examples: int = 100
    """task lives generated per property (hypothesis max_examples), split over the families
    run, at least one each"""
    seed: int | None = None
    """hypothesis seed; None picks one (printed in the report, for reproduction)"""
    properties: tuple[str, ...] = tuple(p.name for p in PROPERTIES)
    endpoints: tuple[str, ...] = ()
    """``--endpoint``: restrict the run to these status paths (or family names: story, dub,
    transcription...). Empty: every family the client declares (``poll.families``), or the
    default (story and project-setup) when it declares none; see :mod:`.families`"""
    min_interval: float = 1.0
    """minimum virtual seconds between two polls"""
    max_requests: int = 1000
    """request budget per client call; a careful client stays far below"""
    max_virtual_seconds: float = 7 * 86_400.0
    """virtual-time budget per client call"""
    max_burst: int = 100
    """requests in a row without any virtual time passing before the client counts as a hot
    loop"""
    permanent_retries: int = 3
    """requests allowed after a permanent error (401/403/404/422) before it must raise"""
    max_faults_in_row: int = 3
    """transient faults generated in a row at most"""
    max_task_seconds: float = 900.0
    """virtual seconds a generated task stays PENDING at most (sum of time-driven steps)"""
    max_retry_after: int = 60
    """largest Retry-After generated, in seconds"""
    wall_timeout: float = 20.0
    """real seconds one client call may take before the watchdog stops it"""
    shrink: bool = True
    shrink_seconds: float = 15.0
    """real seconds spent shrinking one failing property at most"""
    capture_output: bool = True
    """hide what the client prints (the report shows the failing run's output)"""
    lives: str | None = None
    """a directory of recordings (``mockcamb record``): each recorded life that ends in a
    final status is run too, once per property it can judge"""
    give_up_within: float = 86_400.0
    """gives-up: virtual seconds within which a client must give up on a task that never
    finishes (raise, or return a non-SUCCESS)"""
    backoff_polls: int = 40
    """backoff: polls allowed in any 10 virtual minutes of a long PENDING"""
    timely_lag: float = 60.0
    """timely: virtual seconds the next poll may come after the task has finished..."""
    timely_fraction: float = 0.5
    """...or this fraction of the time the task took, whichever is larger"""
    max_stall_wait: float = 600.0
    """timeouts: virtual seconds a client may wait for the answer to a stalled request"""
    mode: str = "http"
    """how the client reaches the emulator: ``http`` (a server on a free port) or ``httpx``
    (in process, through the httpx mode: no port; for httpx-based clients)"""

    def __post_init__(self) -> None:
        for name in ("examples", "max_requests", "max_burst", "max_retry_after", "backoff_polls"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be at least 1, got {getattr(self, name)!r}")
        for name in ("permanent_retries", "max_faults_in_row"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must be at least 0, got {getattr(self, name)!r}")
        for name in (
            "min_interval",
            "max_virtual_seconds",
            "max_task_seconds",
            "wall_timeout",
            "shrink_seconds",
            "give_up_within",
            "timely_lag",
            "timely_fraction",
            "max_stall_wait",
        ):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name}: must be a finite number >= 0, got {value!r}")
        if self.wall_timeout <= 0:
            raise ConfigError("wall_timeout: must be > 0")
        for name in self.properties:
            property_named(name)
        object.__setattr__(self, "endpoints", endpoints_named(self.endpoints))
        if self.mode not in MODES:
            raise ConfigError(f"mode: must be one of {', '.join(MODES)}, got {self.mode!r}")


_NUMERIC = {
    "examples": int,
    "seed": int,
    "max_requests": int,
    "max_burst": int,
    "permanent_retries": int,
    "max_faults_in_row": int,
    "max_retry_after": int,
    "min_interval": float,
    "max_virtual_seconds": float,
    "max_task_seconds": float,
    "wall_timeout": float,
    "shrink_seconds": float,
    "give_up_within": float,
    "backoff_polls": int,
    "timely_lag": float,
    "timely_fraction": float,
    "max_stall_wait": float,
}
_TUNABLES = {name.replace("_", "-"): name for name in _NUMERIC}


def relax(config: ConformanceConfig, items: Iterable[str]) -> ConformanceConfig:
    """Apply ``--relax`` items: a property name (or number) drops that property;
    ``name=value`` changes a setting (``min-interval=0.5``, ``permanent-retries=10``,
    ``give-up-within=3600``, ``backoff-polls=60``, ``timely-lag=120``, ``max-stall-wait=900``,
    ``examples=20``, ``seed=3``, ``endpoint=story``)."""
    props = list(config.properties)
    changes: dict[str, Any] = {}
    for raw in items:
        item = raw.strip()
        if "=" in item:
            name, _, value = item.partition("=")
            changes.update(_setting(name, value))
        else:
            prop = property_named(item)
            if prop.name in props:
                props.remove(prop.name)
    return replace(config, properties=tuple(props), **changes)


def _setting(name: str, value: str) -> dict[str, Any]:
    """The config change one ``name=value`` relax item asks for."""
    if name.strip().lower() in ("endpoint", "endpoints"):
        return {"endpoints": tuple(v.strip() for v in value.split(",") if v.strip())}
    key = _TUNABLES.get(name.strip().lower().replace("_", "-"))
    if key is None:
        raise ConfigError(
            f"relax: unknown setting {name!r}; expected one of endpoint, "
            f"{', '.join(sorted(_TUNABLES))}"
        )
    try:
        return {key: _NUMERIC[key](value.strip())}
    except ValueError:
        raise ConfigError(f"relax: {name} needs a number, got {value!r}") from None
