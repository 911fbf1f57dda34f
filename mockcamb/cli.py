"""The ``mockcamb`` command: serve the emulator, validate scenarios, list presets, check clients."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any, NoReturn

import yaml

from . import __version__
from .errors import MockCambError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"mockcamb: error: {message}\n")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {text!r}")
    return int(text)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def build_parser(conform_options: bool = True) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mockcamb",
        description="Emulate CAMB.AI's asynchronous task API, check targets against its "
        "contract, and check polling clients for conformance.",
    )
    parser.add_argument("--version", action="version", version=f"mockcamb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    serve = sub.add_parser(
        "serve",
        help="run the emulator on a production WSGI server (waitress)",
        description="Run the emulator: the API under /apis, the admin API under /__admin. "
        "Command-line options override the --config file.",
    )
    serve.add_argument(
        "--host",
        default=None,
        help="address to bind (default 127.0.0.1; "
        "anything else exposes the emulator and prints a warning)",
    )
    serve.add_argument(
        "--port", type=_port, default=None, help="port (default 8080; 0 picks a free one)"
    )
    serve.add_argument(
        "--config",
        metavar="FILE",
        help="YAML/JSON file: settings, tasks to "
        "preload, clock, time_scale, host, port, admin_token",
    )
    serve.add_argument(
        "--clock",
        choices=("real", "manual"),
        default=None,
        help="real (default): time passes; manual: time moves only through "
        "POST /__admin/clock/advance",
    )
    serve.add_argument(
        "--time-scale",
        type=_positive_float,
        default=None,
        metavar="N",
        help="run the real clock N times faster (demos)",
    )
    serve.add_argument(
        "--seed",
        type=_int,
        default=None,
        metavar="N",
        help="seed for probability faults, latency draws and generated ids",
    )
    serve.add_argument(
        "--api-key",
        action="append",
        default=None,
        metavar="KEY",
        help="accept only this key (repeatable); default: any non-empty key",
    )
    serve.add_argument(
        "--unknown-task",
        choices=("404", "auto"),
        default=None,
        help="404 (default): unknown ids answer 404; auto: create the task on "
        "first poll with the default scenario",
    )
    serve.add_argument(
        "--default-scenario",
        metavar="NAME|FILE",
        default=None,
        help="preset name or scenario file for tasks created without one (default happy_path)",
    )
    serve.add_argument(
        "--latency-ms",
        type=float,
        default=None,
        metavar="MS",
        help="fixed latency added to every answer (scenarios may override)",
    )
    serve.add_argument(
        "--journal-size",
        type=_int,
        default=None,
        metavar="N",
        help="request journal ring size (default 10000; 0 turns it off)",
    )
    serve.add_argument(
        "--max-tasks",
        type=_int,
        default=None,
        metavar="N",
        help="most tasks kept; the oldest finished are evicted first (default 200000)",
    )
    serve.add_argument(
        "--finished-ttl",
        type=float,
        default=None,
        metavar="SECONDS",
        help="forget finished tasks this many clock seconds after they finish",
    )
    serve.add_argument(
        "--admin-token",
        default=None,
        metavar="TOKEN",
        help="require this token (x-admin-token header) on /__admin",
    )
    serve.add_argument(
        "--threads", type=_int, default=None, metavar="N", help="server worker threads (default 64)"
    )
    serve.add_argument("--quiet", action="store_true", help="no start-up banner")

    validate = sub.add_parser(
        "validate",
        help="check scenario files and exit 0 (valid) or 2 (with the reason)",
        description="Validate scenario files (YAML or JSON) without running them.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE")

    conform = sub.add_parser(
        "conform",
        help="check a polling client against generated task lives in virtual time",
        description="Run a polling client `poll(base_url, api_key, endpoint, task_id) -> dict` "
        "against the emulator through generated scenarios, in virtual time, and report each "
        "property it breaks with the smallest failing scenario. Exit 0 when it conforms, 1 "
        "when it does not, 2 for usage errors.",
    )
    if conform_options:  # hypothesis is heavy: load it only for `mockcamb conform`
        from .conformance import configure_parser

        configure_parser(conform)

    presets = sub.add_parser(
        "presets",
        help="list the shipped scenario presets, or show one",
        description="List presets, or print one as YAML.",
    )
    presets.add_argument("name", nargs="?", help="a preset to print")
    return parser


def _settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if args.api_key is not None:
        doc["api_keys"] = args.api_key
    if args.unknown_task is not None:
        doc["unknown_task"] = args.unknown_task
    if args.default_scenario is not None:
        doc["default_scenario"] = args.default_scenario
    if args.seed is not None:
        doc["seed"] = args.seed
    if args.latency_ms is not None:
        doc["latency"] = {"fixed_ms": args.latency_ms}
    if args.journal_size is not None:
        doc["journal_size"] = args.journal_size
    if args.max_tasks is not None:
        doc["max_tasks"] = args.max_tasks
    if args.finished_ttl is not None:
        doc["finished_ttl"] = args.finished_ttl
    return doc


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    from .app import create_app
    from .clock import make_clock
    from .config import load_config, preload
    from .emulator import Emulator
    from .server import DEFAULT_THREADS, PortInUseError, Server

    config = load_config(args.config) if args.config else {}
    host = args.host or config.get("host") or "127.0.0.1"
    port = args.port if args.port is not None else config.get("port", 8080)
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise MockCambError(f"port: must be 0 to 65535, got {port!r}")
    clock = make_clock(
        args.clock or config.get("clock", "real"),
        time_scale=args.time_scale or config.get("time_scale", 1.0),
    )
    emu = Emulator(clock=clock)
    preload(emu, config, where=args.config or "config")
    emu.configure(_settings_from_args(args), allow_files=True)
    token = args.admin_token or config.get("admin_token")
    app = create_app(emu, admin_token=token)
    threads = DEFAULT_THREADS if args.threads is None else args.threads
    if not 1 <= threads <= 4096:
        raise MockCambError(f"--threads: must be 1 to 4096, got {threads}")
    try:
        server = Server(app, host, port, threads=threads)
    except PortInUseError as exc:
        print(f"mockcamb: {exc.strerror}; choose another with --port", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"mockcamb: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    def _stop(signum: int, frame: FrameType | None) -> None:
        server.stop_soon()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    if not _is_loopback(host):
        print(
            f"mockcamb: WARNING: listening on {host}, reachable from other machines"
            + ("" if token else "; the admin API is open (set --admin-token)"),
            file=sys.stderr,
        )
    if not args.quiet:
        print(
            f"mockcamb {__version__} listening on {server.base_url} "
            f"(clock {clock.kind}, admin {server.url}/__admin, {len(emu.tasks())} preloaded tasks)",
            file=sys.stderr,
            flush=True,
        )

    server.serve_forever()
    if not args.quiet:
        print("mockcamb: stopped", file=sys.stderr)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .scenario import load_scenario_file

    bad = 0
    for path in args.files:
        try:
            scenario = load_scenario_file(path)
        except MockCambError as exc:
            print(f"{exc}", file=sys.stderr)
            bad += 1
        else:
            print(f"{path}: ok ({len(scenario.steps)} steps, {len(scenario.faults)} faults)")
    return EXIT_USAGE if bad else 0


def cmd_presets(args: argparse.Namespace) -> int:
    from .scenario import load_preset, preset_names

    if args.name:
        print(yaml.safe_dump(load_preset(args.name).to_dict(), sort_keys=False), end="")
        return 0
    for name in preset_names():
        print(f"{name:24} {load_preset(name).description or ''}")
    return 0


def _cmd_conform(args: argparse.Namespace) -> int:
    from .conformance import cmd_conform

    return cmd_conform(args)


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
    }[args.command]
    try:
        return handler(args)
    except MockCambError as exc:
        print(f"mockcamb: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `mockcamb presets | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
