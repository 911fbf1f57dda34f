"""Client conformance: run any polling client against mockcamb through generated task lives.

A client is ``poll(base_url, api_key, endpoint, task_id) -> dict`` (``endpoint`` is a status
path: ``story``, ``dub``, ``transcribe``...). It may declare the families it supports as an
attribute, ``poll.families = ("dub", "tts")`` (see :mod:`.families`); undeclared, it is run
over story and project-setup. :func:`check_client` serves an in-process emulator on a free
port, and for each property and family lets hypothesis generate task lives (scenarios), runs
the client through each one over real HTTP in virtual time (see :mod:`mockcamb.virtual_time`)
and judges what it did from the emulator's journal. A failing property is reported with the
smallest life hypothesis finds.

The client's virtual time follows it into the threads it starts or hands work to, and its
``time.time()`` agrees with the emulator's HTTP dates; a request a life stalls (accepted, never
answered) is waited out in virtual time for as long as the client's socket timeout says.

A client that never stops is stopped by a budget (requests, virtual seconds, requests without
any virtual time passing) and a wall-clock watchdog, so a run never hangs.

The modules, in the order a run uses them: ``properties`` (the catalogue), ``config`` (the
settings), ``lives`` (generated task lives), ``clients`` (loading the client), ``harness``
(the emulator behind the ``gate``; ``watch`` keeps the budget of the run in progress and
``threads`` runs and stops the client's thread), ``search`` (hypothesis), ``recorded`` (the
lives ``mockcamb record`` wrote, for ``--lives DIR``), ``judges`` (one per property),
``records`` and ``report`` (what happened, and its text), ``cli`` (the command).
"""

from __future__ import annotations

from .cli import cmd_conform, config_from_args, configure_parser
from .clients import load_client
from .config import ConformanceConfig, relax
from .families import DEFAULT_ENDPOINTS, FamilyPlan, plan_families
from .harness import Harness, check_client
from .judges import (
    judge_api_key,
    judge_backoff,
    judge_final_status,
    judge_gives_up,
    judge_permanent,
    judge_politeness,
    judge_success,
    judge_timely,
    judge_timeouts,
    judge_unknown_status,
)
from .lives import FaultSpec, Life, Wait, fault_values, life_values
from .properties import PROPERTIES, Property, property_named
from .records import Exchange, Run, Stall
from .report import Finding, Report

__all__ = [
    "DEFAULT_ENDPOINTS",
    "PROPERTIES",
    "ConformanceConfig",
    "Exchange",
    "FamilyPlan",
    "FaultSpec",
    "Finding",
    "Harness",
    "Life",
    "Property",
    "Report",
    "Run",
    "Stall",
    "Wait",
    "check_client",
    "cmd_conform",
    "config_from_args",
    "configure_parser",
    "fault_values",
    "judge_api_key",
    "judge_backoff",
    "judge_final_status",
    "judge_gives_up",
    "judge_permanent",
    "judge_politeness",
    "judge_success",
    "judge_timely",
    "judge_timeouts",
    "judge_unknown_status",
    "life_values",
    "load_client",
    "plan_families",
    "property_named",
    "relax",
]
