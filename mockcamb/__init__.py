"""mockcamb: an emulator, contract suite and client-conformance harness for CAMB.AI's task API."""

from __future__ import annotations

from ._gc import gc_paused

with gc_paused():  # the package's imports make no garbage (see _gc)
    from .core.clock import Clock, ManualClock, RealClock
    from .core.emulator import Emulator
    from .core.errors import ConfigError, MockCambError, ScenarioError
    from .core.machine import TaskState
    from .core.replies import Reply
    from .core.routes import FAMILIES, KINDS
    from .core.scenario import (
        Fault,
        Latency,
        Scenario,
        Step,
        load_preset,
        parse_scenario,
        preset_names,
    )
    from .core.settings import Settings
    from .core.statuses import (
        DOCUMENTED_STATUSES,
        ERROR,
        FAILED,
        FINAL_STATUSES,
        PAYMENT_REQUIRED,
        PENDING,
        SUCCESS,
        TIMEOUT,
    )
    from .testing import MockCamb, serve_in_thread
    from .version import __version__

__all__ = [
    "DOCUMENTED_STATUSES",
    "ERROR",
    "FAILED",
    "FAMILIES",
    "FINAL_STATUSES",
    "KINDS",
    "PAYMENT_REQUIRED",
    "PENDING",
    "SUCCESS",
    "TIMEOUT",
    "Clock",
    "ConfigError",
    "Emulator",
    "Fault",
    "Latency",
    "ManualClock",
    "MockCamb",
    "MockCambError",
    "RealClock",
    "Reply",
    "Scenario",
    "ScenarioError",
    "Settings",
    "Step",
    "TaskState",
    "__version__",
    "load_preset",
    "parse_scenario",
    "preset_names",
    "serve_in_thread",
]
