"""``mockcamb serve``: from the parsed options to an emulator behind granian or waitress,
served until SIGTERM or SIGINT. The options themselves are declared in :mod:`mockcamb.cli`."""

from __future__ import annotations

import argparse
import copy
import functools
import importlib
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._gc import gc_paused
from ..argtypes import is_loopback
from ..core.errors import EXIT_USAGE, MockCambError
from ..version import __version__
from .keysources import resolve_secrets

if TYPE_CHECKING:
    from flask import Flask

    from ..core.emulator import Emulator

#: ``serve`` options that set an emulator setting of the same meaning: (option, setting).
_SETTING_OPTIONS = (
    ("api_key", "api_keys"),
    ("unknown_task", "unknown_task"),
    ("default_scenario", "default_scenario"),
    ("seed", "seed"),
    ("journal_size", "journal_size"),
    ("journal_bytes", "journal_bytes"),
    ("max_tasks", "max_tasks"),
    ("finished_ttl", "finished_ttl"),
)
#: The URL schemes of a store that worker processes can share.
_SHARED_STORES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class Built:
    """What the serve options build: the app, its emulator and a description of its store."""

    app: Flask
    emulator: Emulator
    store: str


def read_config(
    args: argparse.Namespace, on_warning: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """The --config file's contents; its store settings fill in what the options left out.
    Its warnings (near-miss statuses in its scenarios) go to ``on_warning``."""
    from ..core.config import load_config

    config = load_config(args.config, on_warning=on_warning) if args.config else {}
    if args.store is None:
        args.store = config.get("store")
    if args.store_prefix is None:
        args.store_prefix = config.get("store_prefix")
    return config


def build(args: argparse.Namespace, config: dict[str, Any]) -> Built:
    """The Flask app and its emulator, from the serve options and the --config contents."""
    from ..core.config import preload
    from ..http.app import create_app

    emu, store_desc = _make_emulator(args, config)
    preload(emu, config, where=args.config or "config")
    if args.replay is not None:
        from ..record.replay import preload_recordings

        # on a shared store, a task another worker preloaded already is kept as it is
        preload_recordings(emu, args.replay, keep_existing=store_desc != "memory")
    emu.configure(_settings_from_args(args), allow_files=True)
    token = args.admin_token or config.get("admin_token")
    return Built(create_app(emu, admin_token=token), emu, store_desc)


def app_from_args(args: argparse.Namespace) -> Flask:
    """The app ``mockcamb serve`` serves for these options (a spawned granian worker's)."""
    return build(args, read_config(args)).app


def _make_emulator(args: argparse.Namespace, config: dict[str, Any]) -> tuple[Emulator, str]:
    """The emulator and a description of its store, from ``--store`` and the clock options."""
    from ..core.clock import make_clock
    from ..core.emulator import Emulator

    clock_kind = args.clock or config.get("clock", "real")
    time_scale = args.time_scale or config.get("time_scale", 1.0)
    store_url = args.store or "memory"
    if store_url == "memory":
        if args.store_prefix is not None:
            raise MockCambError("--store-prefix: only applies with --store redis://...")
        return Emulator(clock=make_clock(clock_kind, time_scale)), "memory"
    from ..stores.redis.store import RedisStore

    store = RedisStore(store_url, prefix=args.store_prefix, clock=clock_kind, time_scale=time_scale)
    return Emulator(store=store), store.describe()


def _settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    doc: dict[str, Any] = {
        setting: getattr(args, option)
        for option, setting in _SETTING_OPTIONS
        if getattr(args, option) is not None
    }
    if args.latency_ms is not None:
        doc["latency"] = {"fixed_ms": args.latency_ms}
    return doc


def serve(args: argparse.Namespace) -> int:
    """Run ``mockcamb serve``: 0 when stopped by a signal, 1 if a worker died (on a shared
    store: died again right after it was replaced), 2 when the port cannot be had (bad
    options raise :class:`MockCambError`)."""
    resolve_secrets(args)  # before the copy: a spawned worker gets the keys, not the files
    rebuild = functools.partial(app_from_args, copy.copy(args))  # before read_config fills it
    with gc_paused(freeze=True):  # what start-up builds lives until the server ends (see _gc)
        config = read_config(args, lambda line: print(f"mockcamb: {line}", file=sys.stderr))
        host = args.host or config.get("host") or "127.0.0.1"
        port = args.port if args.port is not None else config.get("port", 8080)
        _check_options(args, port)
        built = build(args, config)
        if args.server == "granian":  # its modules too, with the collector paused
            importlib.import_module("granian.server")
            importlib.import_module("mockcamb.serve.granian")
    try:
        bound = _Bound.take(args.server, host, port)
    except OSError as exc:
        print(_cannot_listen(exc, host, port), file=sys.stderr)
        return EXIT_USAGE
    token = built.app.config["MOCKCAMB_ADMIN_TOKEN"]
    if not is_loopback(host):
        print(
            f"mockcamb: WARNING: listening on {host}, reachable from other machines"
            + ("" if token else "; the admin API is open (set --admin-token)"),
            file=sys.stderr,
        )
    url = f"http://{f'[{host}]' if ':' in host else host}:{bound.port}"
    banner = _banner(url, built, args.workers, args.server)

    def announce() -> None:
        if not args.quiet:
            print(banner, file=sys.stderr, flush=True)

    if args.server == "granian":
        code = _serve_granian(built, args, bound, rebuild, announce)
    else:
        assert bound.sock is not None
        code = _serve_waitress(built, args, bound.sock, announce)
    if not args.quiet:
        print("mockcamb: stopped", file=sys.stderr)
    return code


def _check_options(args: argparse.Namespace, port: Any) -> None:
    """Raise :class:`MockCambError` for a port, thread or worker count that cannot run."""
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise MockCambError(f"port: must be 0 to 65535, got {port!r}")
    if args.threads is not None and not 1 <= args.threads <= 4096:
        raise MockCambError(f"--threads: must be 1 to 4096, got {args.threads}")
    workers = args.workers
    if not 1 <= workers <= 256:
        raise MockCambError(f"--workers: must be 1 to 256, got {workers}")
    if workers > 1 and not (args.store or "").startswith(_SHARED_STORES):
        raise MockCambError(
            "--workers: more than one worker needs a shared store: add --store redis://HOST:6379/0"
        )
    if workers > 1 and args.server == "waitress" and not hasattr(os, "fork"):
        raise MockCambError("--workers: more than one waitress worker needs os.fork")


@dataclass(frozen=True)
class _Bound:
    """Where the server will listen: waitress gets a listening socket (shared by forked
    workers); granian binds by itself, to a numeric host, so it gets only a free port."""

    host: str
    port: int
    sock: socket.socket | None = None

    @classmethod
    def take(cls, server: str, host: str, port: int) -> _Bound:
        """Raises :class:`~.ports.PortInUseError` (or another OSError) if it cannot."""
        from .ports import check_port_free, listen_socket

        if server == "waitress":
            sock = listen_socket(host, port)
            return cls(host, int(sock.getsockname()[1]), sock)
        from .granian import numeric_host

        check_port_free(host, port)
        bind_host = numeric_host(host)
        if port == 0:  # granian binds by number: take a port that is free now
            with listen_socket(bind_host, 0) as probe:
                port = int(probe.getsockname()[1])
        return cls(bind_host, port)


def _cannot_listen(exc: OSError, host: str, port: int) -> str:
    from .ports import PortInUseError

    if isinstance(exc, PortInUseError):
        return f"mockcamb: {exc.strerror}; choose another with --port"
    return f"mockcamb: cannot listen on {host}:{port}: {exc.strerror or exc}"


def _banner(url: str, built: Built, workers: int, server: str) -> str:
    emu = built.emulator
    tasks = f", {emu.task_count()} tasks" if workers == 1 else f", {workers} workers"
    return (
        f"mockcamb {__version__} listening on {url}/apis (clock {emu.clock.kind}, "
        f"store {built.store}, server {server}{tasks}, admin {url}/__admin)"
    )


def _serve_granian(
    built: Built,
    args: argparse.Namespace,
    bound: _Bound,
    rebuild: Callable[[], Flask],
    announce: Callable[[], None],
) -> int:
    from . import granian

    built.emulator.close()  # each worker opens its own store connections after the fork
    threads = granian.DEFAULT_THREADS if args.threads is None else args.threads
    return granian.serve(
        built.app,
        rebuild,
        host=bound.host,
        port=bound.port,
        workers=args.workers,
        threads=threads,
        on_ready=announce,
    )


def _serve_waitress(
    built: Built, args: argparse.Namespace, sock: socket.socket, announce: Callable[[], None]
) -> int:
    """Serve on waitress here for one worker, else in ``--workers`` forked processes."""
    from . import waitress, workers

    threads = waitress.DEFAULT_THREADS if args.threads is None else args.threads

    def make() -> waitress.Server:
        return waitress.Server(built.app, threads=threads, sock=sock)

    if args.workers == 1:
        return workers.serve_here(make, announce)
    built.emulator.close()  # each worker opens its own connections after the fork
    return workers.serve_forked(make, args.workers, sock, announce)
