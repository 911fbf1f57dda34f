"""The ``mockcamb`` command: serve the emulator, validate scenarios, list presets, check clients."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, NoReturn

import yaml

from .core.errors import MockCambError
from .version import __version__

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
        help="run the emulator on a production WSGI server (granian, or waitress)",
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
        "preload, clock, time_scale, host, port, admin_token, store, store_prefix",
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
        "--server",
        choices=("granian", "waitress"),
        default="granian",
        help="granian (default): the fastest, forks its workers; waitress: pure Python, "
        "and drop_connection faults cut before the status line",
    )
    serve.add_argument(
        "--threads",
        type=_int,
        default=None,
        metavar="N",
        help="Python threads per worker: granian's most (default 512, started on demand), "
        "waitress's pool (default 64, grows while latencies sleep)",
    )
    serve.add_argument(
        "--store",
        default=None,
        metavar="memory|URL",
        help="where state lives: memory (default, this process only) or "
        "redis://host:port/db[?prefix=P] to share tasks, clock, journal and settings "
        "between workers and hosts (needs pip install 'mockcamb[redis]')",
    )
    serve.add_argument(
        "--store-prefix",
        default=None,
        metavar="PREFIX",
        help="key prefix in Redis (default mockcamb:); emulators on other prefixes are apart",
    )
    serve.add_argument(
        "--workers",
        type=_int,
        default=1,
        metavar="N",
        help="worker processes accepting on one port (default 1; more needs --store redis://)",
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


#: ``serve`` options that set an emulator setting of the same meaning: (option, setting).
_SETTING_OPTIONS = (
    ("api_key", "api_keys"),
    ("unknown_task", "unknown_task"),
    ("default_scenario", "default_scenario"),
    ("seed", "seed"),
    ("journal_size", "journal_size"),
    ("max_tasks", "max_tasks"),
    ("finished_ttl", "finished_ttl"),
)


def _settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    doc: dict[str, Any] = {
        setting: getattr(args, option)
        for option, setting in _SETTING_OPTIONS
        if getattr(args, option) is not None
    }
    if args.latency_ms is not None:
        doc["latency"] = {"fixed_ms": args.latency_ms}
    return doc


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _make_emulator(args: argparse.Namespace, config: dict[str, Any]) -> tuple[Any, str]:
    """The emulator and a description of its store, from ``--store`` and the clock options."""
    from .core.clock import make_clock
    from .core.emulator import Emulator

    clock_kind = args.clock or config.get("clock", "real")
    time_scale = args.time_scale or config.get("time_scale", 1.0)
    store_url = args.store or "memory"
    if store_url == "memory":
        if args.store_prefix is not None:
            raise MockCambError("--store-prefix: only applies with --store redis://...")
        return Emulator(clock=make_clock(clock_kind, time_scale)), "memory"
    from .stores.redis.store import RedisStore

    store = RedisStore(store_url, prefix=args.store_prefix, clock=clock_kind, time_scale=time_scale)
    return Emulator(store=store), store.describe()


def _config_and_store(args: argparse.Namespace) -> dict[str, Any]:
    """The --config file's contents; its store settings fill in what the options left out."""
    from .core.config import load_config

    config = load_config(args.config) if args.config else {}
    if args.store is None:
        args.store = config.get("store")
    if args.store_prefix is None:
        args.store_prefix = config.get("store_prefix")
    return config


def _build_app(args: argparse.Namespace, config: dict[str, Any]) -> tuple[Any, Any, str]:
    """The Flask app, its emulator and a description of the store, from the serve options."""
    from .core.config import preload
    from .http.app import create_app

    emu, store_desc = _make_emulator(args, config)
    preload(emu, config, where=args.config or "config")
    emu.configure(_settings_from_args(args), allow_files=True)
    token = args.admin_token or config.get("admin_token")
    return create_app(emu, admin_token=token), emu, store_desc


def app_from_argv(argv: list[str]) -> Any:
    """Build the app ``mockcamb serve ARGV`` serves (in a spawned granian worker)."""
    args = build_parser(conform_options=False).parse_args(["serve", *argv])
    return _build_app(args, _config_and_store(args))[0]


def _banner(url: str, emu: Any, store_desc: str, workers: int, server: str) -> str:
    tasks = f", {emu.task_count()} tasks" if workers == 1 else f", {workers} workers"
    return (
        f"mockcamb {__version__} listening on {url}/apis (clock {emu.clock.kind}, "
        f"store {store_desc}, server {server}{tasks}, admin {url}/__admin)"
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import DEFAULT_THREADS as DEFAULT_WAITRESS_THREADS
    from .server import PortInUseError, check_port_free, listen_socket

    config = _config_and_store(args)
    host = args.host or config.get("host") or "127.0.0.1"
    port = args.port if args.port is not None else config.get("port", 8080)
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise MockCambError(f"port: must be 0 to 65535, got {port!r}")
    if args.threads is not None and not 1 <= args.threads <= 4096:
        raise MockCambError(f"--threads: must be 1 to 4096, got {args.threads}")
    workers = args.workers
    if not 1 <= workers <= 256:
        raise MockCambError(f"--workers: must be 1 to 256, got {workers}")
    if workers > 1 and not (args.store or "").startswith(("redis://", "rediss://", "unix://")):
        raise MockCambError(
            "--workers: more than one worker needs a shared store: add --store redis://HOST:6379/0"
        )
    if workers > 1 and args.server == "waitress" and not hasattr(os, "fork"):
        raise MockCambError("--workers: more than one waitress worker needs os.fork")
    app, emu, store_desc = _build_app(args, config)
    token = app.config["MOCKCAMB_ADMIN_TOKEN"]
    sock = None
    bind_host = host
    try:
        if args.server == "granian":
            from .granian_server import numeric_host

            check_port_free(host, port)
            bind_host = numeric_host(host)
            if port == 0:  # granian binds by number: take a port that is free now
                with listen_socket(bind_host, 0) as probe:
                    port = probe.getsockname()[1]
        else:
            sock = listen_socket(host, port)
            port = sock.getsockname()[1]
    except PortInUseError as exc:
        print(f"mockcamb: {exc.strerror}; choose another with --port", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"mockcamb: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE

    if not _is_loopback(host):
        print(
            f"mockcamb: WARNING: listening on {host}, reachable from other machines"
            + ("" if token else "; the admin API is open (set --admin-token)"),
            file=sys.stderr,
        )
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    banner = _banner(url, emu, store_desc, workers, args.server)

    def _announce() -> None:
        if not args.quiet:
            print(banner, file=sys.stderr, flush=True)

    if args.server == "granian":
        code = _serve_granian(app, args, bind_host, port, workers, emu, _announce)
    else:
        assert sock is not None
        threads = DEFAULT_WAITRESS_THREADS if args.threads is None else args.threads
        code = _serve_workers(app, sock, workers, threads, emu, _announce)
    if not args.quiet:
        print("mockcamb: stopped", file=sys.stderr)
    return code


def _serve_granian(
    app: Any,
    args: argparse.Namespace,
    host: str,
    port: int,
    workers: int,
    emu: Any,
    announce: Callable[[], None],
) -> int:
    import functools

    from .granian_server import DEFAULT_THREADS, serve

    emu.close()  # each worker opens its own store connections after the fork
    build = functools.partial(app_from_argv, list(args.argv))
    threads = DEFAULT_THREADS if args.threads is None else args.threads
    return serve(
        app, build, host=host, port=port, workers=workers, threads=threads, on_ready=announce
    )


def _worker(app: Any, threads: int, sock: Any) -> NoReturn:
    """One forked worker: serve on the shared socket until SIGTERM/SIGINT, then exit."""
    from .server import Server

    box: list[Server] = []

    def _stop(signum: int, frame: FrameType | None) -> None:
        if box:
            box[0].stop_soon()
        else:
            os._exit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    parent = os.getppid()

    def _orphan_watch() -> None:  # the parent was killed outright: do not serve on alone
        while os.getppid() == parent:
            time.sleep(1)
        _stop(signal.SIGTERM, None)

    code = 1
    try:
        box.append(Server(app, threads=threads, sock=sock))
        threading.Thread(target=_orphan_watch, name="mockcamb-orphan-watch", daemon=True).start()
        box[0].serve_forever()
        code = 0
    except BaseException:  # pragma: no cover - reported, then the worker ends
        logging.getLogger("mockcamb").exception("worker %d failed", os.getpid())
    finally:
        sys.stderr.flush()
        os._exit(code)


def _serve_workers(
    app: Any, sock: Any, workers: int, threads: int, emu: Any, announce: Callable[[], None]
) -> int:
    """Serve ``app`` on waitress on ``sock``: here for one worker, else in ``workers`` forked
    processes; SIGTERM or SIGINT stops them all. Exit 0 when stopped, 1 if a worker died."""
    from .server import Server

    if workers == 1:
        server = Server(app, threads=threads, sock=sock)

        def _stop(signum: int, frame: FrameType | None) -> None:
            server.stop_soon()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        announce()
        server.serve_forever()
        return 0
    emu.close()  # each worker opens its own connections after the fork
    stopping = False
    children: set[int] = set()

    def _forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # held until every worker runs
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            _worker(app, threads, sock)
        children.add(pid)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
    sock.close()
    announce()
    failed = False
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries os.wait
            continue
        children.discard(pid)
        if os.waitstatus_to_exitcode(status) != 0 and not stopping:
            failed = True
            _forward(signal.SIGTERM, None)
    return 1 if failed else 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .core.scenario import load_scenario_file

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
    from .core.scenario import load_preset, preset_names

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
    args.argv = [] if args.command is None else words[words.index(args.command) + 1 :]
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
