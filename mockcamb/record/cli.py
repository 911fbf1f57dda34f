"""``mockcamb record``: the options and the command (``mockcamb.cli`` only wires it in)."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from ..argtypes import is_loopback, port, positive_float
from ..core.errors import ConfigError
from ..version import __version__

DEFAULT_PORT = 8081


def configure_parser(p: argparse.ArgumentParser) -> None:
    """The options of ``mockcamb record``."""
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--target",
        metavar="URL",
        help="the API base to forward to, e.g. https://client.camb.ai/apis (or a staging "
        "server, or another mockcamb)",
    )
    what.add_argument(
        "--summary",
        metavar="DIR",
        help="print what DIR holds (tasks, families, durations, error answers) and exit",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; anything else prints a warning)",
    )
    p.add_argument(
        "--port",
        type=port,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default="recordings",
        help="where recordings go (default ./recordings); a second run adds to it",
    )
    p.add_argument(
        "--max-rps",
        type=positive_float,
        default=None,
        metavar="N",
        help="forward at most N requests per second, evenly spaced (default: no limit)",
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=300.0,
        metavar="S",
        help="seconds to wait for the target's answer before answering 504 (default 300)",
    )
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")


def cmd_record(args: argparse.Namespace) -> int:
    """Run the recording proxy until SIGINT or SIGTERM, or print a summary."""
    from .proxy import ProxyServer, RecordingProxy, Target
    from .recording import Recorder
    from .scenario import render_yaml
    from .summary import format_summary

    if args.summary is not None:
        sys.stdout.write(format_summary(args.summary))
        return 0
    target = Target(args.target)

    def _announce(family: str, task_id: str, how: str) -> None:
        if not args.quiet:
            print(f"mockcamb record: {how} task {family}/{task_id}", file=sys.stderr, flush=True)

    recorder = Recorder(args.out, target.url, render=render_yaml, on_task=_announce).open()
    try:
        app = RecordingProxy(target, recorder, max_rps=args.max_rps, timeout=args.timeout)
        server = ProxyServer(app, args.host, args.port)
    except ConfigError:
        recorder.close()
        raise

    def _stop(signum: int, frame: FrameType | None) -> None:
        server.stop_soon()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if not is_loopback(args.host):
        print(
            f"mockcamb record: WARNING: listening on {args.host}: anyone who can reach it can "
            f"send requests to {target.url} through it",
            file=sys.stderr,
            flush=True,
        )
    if not args.quiet:
        print(
            f"mockcamb {__version__} record: listening on {server.url}, forwarding to "
            f"{target.url}, writing to {recorder.directory}/ (give your client the base URL "
            f"{server.url})",
            file=sys.stderr,
            flush=True,
        )
    try:
        server.serve_forever()
    finally:
        server.stop()
        recorder.close()
    stats = recorder.stats
    if not args.quiet:
        print(
            f"mockcamb record: stopped; {stats['exchanges']} requests forwarded, "
            f"{stats['tasks_new']} new tasks, {stats['tasks_continued']} continued, in "
            f"{recorder.directory}/ (mockcamb record --summary {recorder.directory})",
            file=sys.stderr,
        )
    return 1 if stats["write_errors"] else 0
