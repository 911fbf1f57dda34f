"""``mockcamb conform``: its arguments, the configuration they make, and the command."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..core.errors import ConfigError
from ..core.routes import KINDS
from .clients import load_client
from .config import MODES, ConformanceConfig, relax
from .families import ATTRIBUTE, DEFAULT_ENDPOINTS, plan_families
from .harness import check_client
from .properties import PROPERTIES, property_named
from .report import Finding


def _setting_flags(d: ConformanceConfig) -> tuple[tuple[str, type, str, str], ...]:
    """(flag, type, metavar, help) of the settings that are flags too."""
    return (
        (
            "min-interval",
            float,
            "S",
            f"minimum virtual seconds between polls (default {d.min_interval:g})",
        ),
        ("max-requests", int, "N", f"request budget per task (default {d.max_requests})"),
        ("max-virtual-seconds", float, "S", "virtual-time budget per task (default 7 days)"),
        (
            "permanent-retries",
            int,
            "N",
            f"requests allowed after a 401/403/404/422 (default {d.permanent_retries})",
        ),
        (
            "max-faults-in-row",
            int,
            "N",
            f"transient faults in a row at most (default {d.max_faults_in_row})",
        ),
        (
            "max-task-seconds",
            float,
            "S",
            f"virtual seconds a task stays PENDING at most (default {d.max_task_seconds:g})",
        ),
        (
            "wall-timeout",
            float,
            "S",
            f"real seconds per client call before it is stopped (default {d.wall_timeout:g})",
        ),
        (
            "give-up-within",
            float,
            "S",
            "gives-up: virtual seconds to give up on a task that never finishes "
            f"(default {d.give_up_within:g}, 24 h)",
        ),
        (
            "backoff-polls",
            int,
            "N",
            f"backoff: polls allowed in any 10 minutes of a long PENDING (default "
            f"{d.backoff_polls})",
        ),
        (
            "timely-lag",
            float,
            "S",
            f"timely: seconds the next poll may come after the task finished (default "
            f"{d.timely_lag:g}, or --timely-fraction of its duration if larger)",
        ),
        (
            "timely-fraction",
            float,
            "F",
            f"timely: that lag as a fraction of the task's duration (default "
            f"{d.timely_fraction:g})",
        ),
        (
            "max-stall-wait",
            float,
            "S",
            f"timeouts: seconds a client may wait on a stalled request (default "
            f"{d.max_stall_wait:g})",
        ),
    )


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``mockcamb conform`` arguments to ``p``."""
    p.add_argument("target", help="the client to check, as package.module:function")
    p.add_argument(
        "--examples",
        type=int,
        default=100,
        help="task lives per property, split over the families run, at least one each "
        "(default 100)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed, to reproduce a run")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PROPERTY",
        help="check only this property (name or number; repeatable)",
    )
    p.add_argument(
        "--relax",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="skip a property (e.g. politeness) or change a setting (e.g. min-interval=0.5, "
        "permanent-retries=10, give-up-within=3600); repeatable",
    )
    p.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="FAMILY",
        help="poll only this family or status path: story, dub, transcription, discord/dub... "
        f"(repeatable; of {', '.join(KINDS)}). Default: the families the client declares "
        f"(poll.{ATTRIBUTE} = (...)), else {' and '.join(DEFAULT_ENDPOINTS)}",
    )
    d = ConformanceConfig()
    for flag, kind, metavar, text in _setting_flags(d):
        default = getattr(d, flag.replace("-", "_"))
        p.add_argument(f"--{flag}", type=kind, default=default, metavar=metavar, help=text)
    p.add_argument(
        "--lives",
        metavar="DIR",
        default=None,
        help="also run the client through every life recorded in DIR by mockcamb record "
        "(what the real service did), once per property it can judge",
    )
    p.add_argument(
        "--mode",
        choices=MODES,
        default="http",
        help="http (default): the client gets a server on a free port; httpx: an httpx-based "
        "client (the official SDK...) is answered in process through the httpx mode, no port",
    )
    for flag, text in (
        ("--no-shrink", "report the first failing life found, without shrinking it"),
        ("--json", "print the report as JSON instead of text"),
        ("--show-output", "let the client print to the terminal instead of capturing it"),
    ):
        p.add_argument(flag, action="store_true", help=text)


def config_from_args(args: argparse.Namespace) -> ConformanceConfig:
    """Build the configuration from parsed ``mockcamb conform`` arguments."""
    props = (
        tuple(property_named(n).name for n in args.only)
        if args.only
        else tuple(p.name for p in PROPERTIES)
    )
    cfg = ConformanceConfig(
        examples=args.examples,
        seed=args.seed,
        properties=props,
        endpoints=tuple(args.endpoint),
        min_interval=args.min_interval,
        max_requests=args.max_requests,
        max_virtual_seconds=args.max_virtual_seconds,
        permanent_retries=args.permanent_retries,
        max_faults_in_row=args.max_faults_in_row,
        max_task_seconds=args.max_task_seconds,
        wall_timeout=args.wall_timeout,
        give_up_within=args.give_up_within,
        backoff_polls=args.backoff_polls,
        timely_lag=args.timely_lag,
        timely_fraction=args.timely_fraction,
        max_stall_wait=args.max_stall_wait,
        shrink=not args.no_shrink,
        capture_output=not args.show_output,
        lives=args.lives,
        mode=args.mode,
    )
    return relax(cfg, args.relax)


def cmd_conform(args: argparse.Namespace) -> int:
    """Run ``mockcamb conform``: 0 when the client conforms, 1 when not, 2 on bad usage
    (130 when interrupted)."""
    try:
        cfg = config_from_args(args)
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())
        client = load_client(args.target)
        plan_families(client, cfg.endpoints)  # a bad declaration is a usage error, at once
    except ConfigError as exc:
        print(f"mockcamb conform: error: {exc}", file=sys.stderr)
        return 2

    def progress(name: str, finding: Finding | None) -> None:
        mark = "ok" if finding is None else "FAIL"
        print(f"  checked {name}: {mark}", file=sys.stderr, flush=True)

    try:
        report = check_client(client, cfg, on_result=progress)
    except KeyboardInterrupt:
        print("mockcamb conform: interrupted", file=sys.stderr)
        return 130
    report.target = args.target
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format())
    return 0 if report.ok else 1
