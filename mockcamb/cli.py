"""The ``mockcamb`` command: serve the emulator, validate scenarios, list presets, check clients,
run the contract suite.

This module declares the options and dispatches; ``serve`` runs in :mod:`mockcamb.serve.command`,
``conform`` in :mod:`mockcamb.conformance`, ``contract`` in :mod:`mockcamb.contract_cli`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn, TypeAlias

import yaml

from .argtypes import integer, port, positive_float
from .core.errors import EXIT_USAGE, MockCambError
from .stores.base import StoreUnavailable
from .version import __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"mockcamb: error: {message}\n")


def build_parser(conform_options: bool = True) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mockcamb",
        description="Emulate CAMB.AI's asynchronous task API, check targets against its "
        "contract, and check polling clients for conformance.",
    )
    parser.add_argument("--version", action="version", version=f"mockcamb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_serve(sub)
    _add_validate(sub)
    _add_conform(sub, conform_options)
    _add_record(sub)
    _add_contract(sub)
    _add_presets(sub)
    return parser


#: What ``add_subparsers`` returns; each ``_add_COMMAND`` adds one subcommand to it.
Subcommands: TypeAlias = "argparse._SubParsersAction[_Parser]"


def _add_serve(sub: Subcommands) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the emulator on a production WSGI server (granian, or waitress)",
        description="Run the emulator: the API under /apis, the admin API under /__admin. "
        "Command-line options override the --config file.",
    )
    _add_setup_options(serve)
    _add_emulator_options(serve)
    _add_server_options(serve)
    serve.add_argument("--quiet", action="store_true", help="no start-up banner")


def _add_setup_options(serve: argparse.ArgumentParser) -> None:
    """Where to listen, the config file, and the clock."""
    serve.add_argument(
        "--host",
        help="address to bind (default 127.0.0.1; "
        "anything else exposes the emulator and prints a warning)",
    )
    serve.add_argument("--port", type=port, help="port (default 8080; 0 picks a free one)")
    serve.add_argument(
        "--config",
        metavar="FILE",
        help="YAML/JSON file: settings, tasks to "
        "preload, clock, time_scale, host, port, admin_token, store, store_prefix",
    )
    serve.add_argument(
        "--replay",
        metavar="DIR",
        help="preload every task recorded in DIR (mockcamb record --out DIR) under its "
        "recorded family and id, running its recorded life from the start",
    )
    serve.add_argument(
        "--clock",
        choices=("real", "manual"),
        help="real (default): time passes; manual: time moves only through "
        "POST /__admin/clock/advance",
    )
    serve.add_argument(
        "--time-scale",
        type=positive_float,
        metavar="N",
        help="run the real clock N times faster (demos)",
    )


def _add_emulator_options(serve: argparse.ArgumentParser) -> None:
    """The options that set emulator settings (:mod:`mockcamb.serve.command` maps each to its
    setting), then the admin token."""
    serve.add_argument(
        "--seed",
        type=integer,
        metavar="N",
        help="seed for probability faults, latency draws and generated ids",
    )
    serve.add_argument(
        "--api-key",
        action="append",
        metavar="KEY",
        help="accept only this key (repeatable; visible in ps: prefer --api-key-file or "
        "MOCKCAMB_API_KEYS); default: any non-empty key",
    )
    serve.add_argument(
        "--api-key-file",
        metavar="FILE",
        help="accept only the keys in FILE, one a line (adds to --api-key); without either, "
        "the comma-separated keys in MOCKCAMB_API_KEYS, else the --config file's",
    )
    serve.add_argument(
        "--unknown-task",
        choices=("404", "auto"),
        help="404 (default): unknown ids answer 404; auto: create the task on "
        "first poll with the default scenario",
    )
    serve.add_argument(
        "--default-scenario",
        metavar="NAME|FILE",
        help="preset name or scenario file for tasks created without one (default happy_path)",
    )
    serve.add_argument(
        "--latency-ms",
        type=float,
        metavar="MS",
        help="fixed latency added to every answer (scenarios may override)",
    )
    serve.add_argument(
        "--journal-size",
        type=integer,
        metavar="N",
        help="request journal ring size (default 10000, at most 1000000; 0 turns it off)",
    )
    serve.add_argument(
        "--journal-bytes",
        type=integer,
        metavar="BYTES",
        help="the journal's byte budget: the oldest entries go first beyond it "
        "(default 67108864, 64 MiB; 65536 to 17179869184)",
    )
    serve.add_argument(
        "--max-tasks",
        type=integer,
        metavar="N",
        help="most tasks kept; the oldest finished are evicted first (default 200000)",
    )
    serve.add_argument(
        "--finished-ttl",
        type=float,
        metavar="SECONDS",
        help="forget finished tasks this many clock seconds after they finish",
    )
    serve.add_argument(
        "--admin-token",
        metavar="TOKEN",
        help="require this token (x-admin-token header) on /__admin (visible in ps: prefer "
        "--admin-token-file or MOCKCAMB_ADMIN_TOKEN)",
    )
    serve.add_argument(
        "--admin-token-file",
        metavar="FILE",
        help="the admin token is the one line of FILE; without it or --admin-token, "
        "MOCKCAMB_ADMIN_TOKEN, else the --config file's admin_token",
    )


def _add_server_options(serve: argparse.ArgumentParser) -> None:
    """The server, its threads, the store and the worker processes."""
    serve.add_argument(
        "--server",
        choices=("granian", "waitress"),
        default="granian",
        help="granian (default): the fastest, forks its workers; waitress: pure Python, "
        "and drop_connection faults cut before the status line",
    )
    serve.add_argument(
        "--threads",
        type=integer,
        metavar="N",
        help="Python threads per worker: granian's most (default 512, started on demand), "
        "waitress's pool (default 64, grows while latencies sleep)",
    )
    serve.add_argument(
        "--store",
        metavar="memory|URL",
        help="where state lives: memory (default, this process only) or "
        "redis://host:port/db[?prefix=P] to share tasks, clock, journal and settings "
        "between workers and hosts (needs pip install 'mockcamb[redis]')",
    )
    serve.add_argument(
        "--store-prefix",
        metavar="PREFIX",
        help="key prefix in Redis (default mockcamb:); emulators on other prefixes are apart",
    )
    serve.add_argument(
        "--workers",
        type=integer,
        default=1,
        metavar="N",
        help="worker processes accepting on one port (default 1; more needs --store redis://)",
    )


def _add_validate(sub: Subcommands) -> None:
    validate = sub.add_parser(
        "validate",
        help="check scenario files and exit 0 (valid) or 2 (with the reason)",
        description="Validate scenario files (YAML or JSON) without running them. Every "
        "problem is printed as FILE:LINE: field: problem; warnings (a custom status one typo "
        "away from a documented one) do not fail the check unless --strict.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument(
        "--strict", action="store_true", help="treat warnings as errors (exit 2 on any)"
    )


def _add_conform(sub: Subcommands, with_options: bool) -> None:
    conform = sub.add_parser(
        "conform",
        help="check a polling client against generated task lives in virtual time",
        description="Run a polling client `poll(base_url, api_key, endpoint, task_id) -> dict` "
        "against the emulator through generated scenarios, in virtual time, and report each "
        "property it breaks with the smallest failing scenario. Exit 0 when it conforms, 1 "
        "when it does not, 2 for usage errors.",
    )
    if with_options:  # hypothesis is heavy: load it only for `mockcamb conform`
        from .conformance import configure_parser

        configure_parser(conform)


def _add_record(sub: Subcommands) -> None:
    from .record.cli import configure_parser

    record = sub.add_parser(
        "record",
        help="record a real run through a proxy: each task's life becomes a scenario",
        description="Forward a client's requests to --target unchanged and record the life "
        "of every task (statuses with their times, error answers, results) as scenarios that "
        "mockcamb replays in virtual time. Secrets are never written.",
    )
    configure_parser(record)


def _add_contract(sub: Subcommands) -> None:
    from .contract_cli import configure_parser

    contract = sub.add_parser(
        "contract",
        help="run the contract suite against a target (or against its own mockcamb)",
        description="Run the contract suite (the installed contract_tests package) against the "
        "target named by --base-url, or against a mockcamb of its own when none is named. "
        "Exit 0 when every rule holds, 1 when one is broken, 2 for usage errors.",
    )
    configure_parser(contract)


def _add_presets(sub: Subcommands) -> None:
    presets = sub.add_parser(
        "presets",
        help="list the shipped scenario presets, or show one",
        description="List presets, or print one as YAML.",
    )
    presets.add_argument("name", nargs="?", help="a preset to print")


def cmd_serve(args: argparse.Namespace) -> int:
    from ._gc import gc_paused

    with gc_paused(freeze=True):  # the server keeps all it has imported until it ends
        from .serve.command import serve
    return serve(args)


def cmd_validate(args: argparse.Namespace) -> int:
    from .core.problems import plural
    from .core.scenario import check_scenario_file

    bad = 0
    for path in args.files:
        try:
            scenario, warnings = check_scenario_file(path)
        except MockCambError as exc:
            print(exc, file=sys.stderr)
            bad += 1
            continue
        label = "" if args.strict else "warning"
        for warning in warnings:
            print(warning.describe("", path, label), file=sys.stderr)
        if warnings and args.strict:
            bad += 1
            continue
        counts = f"{plural(len(scenario.steps), 'step')}, {plural(len(scenario.faults), 'fault')}"
        noted = f", {plural(len(warnings), 'warning')}" if warnings else ""
        print(f"{path}: ok ({counts}){noted}")
    return EXIT_USAGE if bad else 0


def cmd_presets(args: argparse.Namespace) -> int:
    from .core.scenario import load_preset, preset_names

    if args.name:
        print(yaml.safe_dump(load_preset(args.name).to_dict(), sort_keys=False), end="")
        return 0
    for name in preset_names():
        print(f"{name:24} {load_preset(name).description or ''}")
    return 0


def _cmd_record(args: argparse.Namespace) -> int:
    from .record.cli import cmd_record

    return cmd_record(args)


def _cmd_conform(args: argparse.Namespace) -> int:
    from .conformance import cmd_conform

    return cmd_conform(args)


def _cmd_contract(args: argparse.Namespace) -> int:
    from .contract_cli import cmd_contract

    return cmd_contract(args)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(conform_options="conform" in words)
    args = parser.parse_args(words)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler = {
        "serve": cmd_serve,
        "validate": cmd_validate,
        "presets": cmd_presets,
        "conform": _cmd_conform,
        "record": _cmd_record,
        "contract": _cmd_contract,
    }[args.command]
    try:
        return handler(args)
    except MockCambError as exc:
        for line in str(exc).splitlines():
            print(f"mockcamb: error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except StoreUnavailable as exc:  # Redis went away while serve was starting
        print(f"mockcamb: error: {exc.detail}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `mockcamb presets | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
