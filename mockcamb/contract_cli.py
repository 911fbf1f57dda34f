"""``mockcamb contract``: the contract suite (the ``contract_tests`` package, shipped in the same
wheel) against a target, from an installed package.

Each option is one of the suite's (``--base-url`` is ``--camb-base-url``...); the command runs
``python -m pytest`` on the installed suite in a fresh interpreter, with a configuration of its
own (the project it is run from has no say: no ``addopts``, no ``filterwarnings``), and maps
the outcome to an exit code: 0 every rule holds, 1 a rule is broken, 2 a usage error (the
suite's own checks of its options included), 3 the suite itself crashed, 130 interrupted. The
API key goes to the suite in the environment (``CAMB_API_KEY``), never on a command line.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from .core.errors import EXIT_USAGE
from .core.routes import KINDS

#: The suite's package name (``pytest --pyargs contract_tests`` runs it too).
SUITE: Final = "contract_tests"
#: Hypothesis profiles of :func:`mockcamb.strategies.load_profiles`.
PROFILES: Final = ("dev", "ci", "live")

# pytest's exit codes, and ours for each.
_EXIT: Final = {0: 0, 1: 1, 2: 130, 3: 3, 4: EXIT_USAGE, 5: EXIT_USAGE}


def _base_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(
            f"must start with http:// or https://, got {text!r} (e.g. https://client.camb.ai/apis)"
        )
    return text.rstrip("/")


def _task_ref(text: str) -> str:
    kind, sep, task_id = text.partition(":")
    if not sep or kind not in KINDS or not task_id:
        raise argparse.ArgumentTypeError(
            f"expected FAMILY:ID with FAMILY one of {', '.join(KINDS)}, got {text!r}"
        )
    return text


def _family(text: str) -> str:
    if text != "all" and text not in KINDS:
        raise argparse.ArgumentTypeError(
            f"must be `all` or one of {', '.join(KINDS)}, got {text!r}"
        )
    return text


def _non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a non-empty string")
    return text


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``mockcamb contract`` arguments (those of the suite, without ``camb-``)."""
    p.add_argument(
        "--base-url",
        type=_base_url,
        metavar="URL",
        help="API base of the target, e.g. https://client.camb.ai/apis (env CAMB_BASE_URL); "
        "unset: the suite starts its own mockcamb",
    )
    p.add_argument(
        "--api-key",
        type=_non_empty,
        metavar="KEY",
        help="a key the target accepts (env CAMB_API_KEY); handed over in the environment, "
        "never printed",
    )
    p.add_argument(
        "--task-id",
        action="append",
        default=[],
        type=_task_ref,
        metavar="FAMILY:ID",
        help=f"a task that exists on the target, FAMILY one of {', '.join(KINDS)}; repeatable "
        "(env CAMB_TASK_IDS, comma-separated)",
    )
    p.add_argument(
        "--family",
        action="append",
        default=[],
        type=_family,
        metavar="NAME",
        help="a task family to check (`all` for every one); repeatable (env CAMB_FAMILIES; "
        "default: every family against the suite's own emulator, else story, project-setup "
        "and those of --task-id)",
    )
    p.add_argument(
        "--max-rps",
        metavar="N",
        help="ceiling on requests per second (default 5 against a named target; 0: no limit)",
    )
    p.add_argument(
        "--allow-status",
        action="append",
        default=[],
        type=_non_empty,
        metavar="STATUS",
        help="admit a status beyond the documented vocabulary; repeatable",
    )
    p.add_argument(
        "--polls",
        metavar="N",
        help="polls per task id for the shape and lifecycle checks, at least 3 (default 3)",
    )
    p.add_argument(
        "--client",
        metavar="MODULE:FUNCTION",
        help="a polling client to check too (the suite's test_client_conformance.py)",
    )
    p.add_argument(
        "--conformance-relax",
        action="append",
        default=[],
        metavar="NAME",
        help="relax one client-conformance requirement by name; repeatable",
    )
    p.add_argument(
        "--profile",
        choices=PROFILES,
        help="hypothesis profile (env HYPOTHESIS_PROFILE; default live against a named "
        "target, where every example is a request, dev otherwise)",
    )
    p.add_argument(
        "pytest_args",
        nargs=argparse.REMAINDER,
        metavar="-- PYTEST_ARGS",
        help="after --: passed to pytest as they are (e.g. -- -k auth -x)",
    )


def suite_path() -> Path | None:
    """Where the installed suite lives (``None`` if it is not installed)."""
    spec = importlib.util.find_spec(SUITE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def pytest_command(args: argparse.Namespace, suite: Path, ini: Path) -> list[str]:
    """The pytest command line (the key is not on it)."""
    command = [sys.executable, "-m", "pytest", str(suite), "-c", str(ini)]
    command += ["--rootdir", str(suite.parent), "--confcutdir", str(suite)]
    command += ["-p", "no:cacheprovider", "-rfs"]
    if args.base_url:
        command += ["--camb-base-url", args.base_url]
    for ref in args.task_id:
        command += ["--camb-task-id", ref]
    for name in args.family:
        command += ["--camb-family", name]
    if args.max_rps is not None:
        command += ["--camb-max-rps", args.max_rps]
    for status in args.allow_status:
        command += ["--camb-allow-status", status]
    if args.polls is not None:
        command += ["--camb-polls", args.polls]
    if args.client:
        command += ["--camb-client", args.client]
    for name in args.conformance_relax:
        command += ["--camb-conformance-relax", name]
    extra = list(args.pytest_args or [])
    return command + (extra[1:] if extra[:1] == ["--"] else extra)


def cmd_contract(args: argparse.Namespace) -> int:
    """Run ``mockcamb contract``; the exit code as the module docstring says."""
    suite = suite_path()
    if suite is None:
        print(f"mockcamb contract: error: the {SUITE} package is not installed", file=sys.stderr)
        return EXIT_USAGE
    extra = list(args.pytest_args or [])
    if extra and extra[0] != "--":
        print(
            f"mockcamb contract: error: unrecognized arguments: {' '.join(extra)} "
            "(pytest's own options go after --)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    env = dict(os.environ)
    if args.api_key:
        env["CAMB_API_KEY"] = args.api_key
    named = args.base_url or env.get("CAMB_BASE_URL")
    profile = args.profile or env.get("HYPOTHESIS_PROFILE") or ("live" if named else "dev")
    env["HYPOTHESIS_PROFILE"] = profile
    with tempfile.TemporaryDirectory(prefix="mockcamb-contract-") as tmp:
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        try:
            code = subprocess.call(pytest_command(args, suite, ini), env=env)
        except KeyboardInterrupt:
            print("mockcamb contract: interrupted", file=sys.stderr)
            return 130
    if code == 5:
        print("mockcamb contract: error: no test was selected", file=sys.stderr)
    return _EXIT.get(code, 3)


__all__ = ["PROFILES", "SUITE", "cmd_contract", "configure_parser", "pytest_command", "suite_path"]
