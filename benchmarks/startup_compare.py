"""``mockcamb serve``'s start-up for two commits side by side: from exec to the first answered
status GET, the runs interleaved (A, B, A, B...) so that the machine's drift falls on both.

Each commit's ``mockcamb/`` is exported with ``git archive`` into a temporary folder and run
by this venv's Python with ``PYTHONPATH=<export>``, from a folder outside the checkout:
``python -m`` puts the current folder first on ``sys.path``, so run from the checkout it would
import the working tree whatever ``PYTHONPATH`` says. Both commits get this venv's
dependencies.

Two modes: with the package's bytecode written beforehand (as a wheel install, or ``make
install``, leaves it), and without (every start compiles the sources: an editable install
with ``PYTHONDONTWRITEBYTECODE`` set).

    python benchmarks/startup_compare.py 8d28c94 HEAD [--repeat 9] [--json FILE]

Each line gives the time to the first answer and, apart, the time to the fork of granian's
worker: what the main process imports and builds before it (the rest is the worker's start).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, free_port, wait_until_answers

KEY = "startup-key"
#: ``python -m mockcamb ARGS``, noting on stderr when the server first forks (granian's worker).
FORK_HOOK = r"""
import os, runpy, sys, time
started = float(sys.argv[1])
real_fork = os.fork
def fork():
    if real_fork is not None:
        sys.stderr.write("mockcamb-fork %.6f\n" % (time.time() - started)); sys.stderr.flush()
    return real_fork()
os.fork = fork
sys.argv = ["mockcamb", *sys.argv[2:]]
runpy.run_module("mockcamb", run_name="__main__")
"""
CONFIG = "tasks:\n  - {kind: story, task_id: bench, scenario: never_finishes}\n"
MODES = ("bytecode written", "no bytecode")


def export(rev: str, into: Path) -> str:
    """``rev``'s ``mockcamb/`` under ``into``; its short commit id."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", rev],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "mockcamb"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return commit


def prepare(tree: Path, mode: str) -> None:
    for cache in tree.rglob("__pycache__"):
        shutil.rmtree(cache)
    if mode == "bytecode written":
        compileall.compile_dir(str(tree), quiet=1)


def first_answer(tree: Path, config: Path) -> tuple[float, float]:
    """Seconds from exec to the first answered status GET, and from exec to the fork of
    granian's worker (what the parent imports and builds; the rest is the worker's)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    argv = [sys.executable, "-c", FORK_HOOK, "", "serve", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--quiet", "--api-key", KEY, "--config", str(config)]
    started = time.time()
    argv[3] = repr(started)
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=config.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_until_answers(port, "/apis/story/bench", {"x-api-key": KEY}, timeout=30)
        answered = time.time() - started
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            err = proc.communicate(timeout=15)[1]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            err = proc.communicate(timeout=5)[1]
    forks = [float(ln.split()[1]) for ln in err.splitlines() if ln.startswith("mockcamb-fork")]
    return answered, forks[0] if forks else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("a", help="a commit (the one before)")
    p.add_argument("b", help="another commit (the one after)")
    p.add_argument("--repeat", type=int, default=9, help="starts of each commit in each mode")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = p.parse_args(argv)
    if not 1 <= args.repeat <= 50:
        p.error(f"--repeat: must be 1 to 50, got {args.repeat}")
    out: dict[str, Any] = {"load_at_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="mockcamb-startup-") as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(CONFIG)
        trees: dict[str, Path] = {}
        for rev in (args.a, args.b):
            try:
                commit = export(rev, Path(tmp) / f"tree-{len(trees)}")
            except subprocess.CalledProcessError as exc:
                print(f"startup_compare: cannot export {rev!r}: {exc.stderr}", file=sys.stderr)
                return 2
            trees[commit] = Path(tmp) / f"tree-{len(trees)}"
        print(f"load {out['load_at_start']:.2f}; {args.repeat} starts of each, interleaved")
        for mode in MODES:
            for tree in trees.values():
                prepare(tree, mode)
            times: dict[str, list[tuple[float, float]]] = {commit: [] for commit in trees}
            for _ in range(args.repeat):
                for commit, tree in trees.items():
                    times[commit].append(first_answer(tree, config))
            for commit, got in times.items():
                total = [t for t, _ in got]
                fork = [f for _, f in got]
                row = {
                    "median_s": statistics.median(total),
                    "min_s": min(total),
                    "max_s": max(total),
                    "to_fork_median_s": statistics.median(fork),
                    "to_fork_min_s": min(fork),
                    "n": len(got),
                }
                out.setdefault(mode, {})[commit] = row
                print(
                    f"  {mode:17s} {commit:10s} median {row['median_s'] * 1000:4.0f} ms"
                    f"  min {row['min_s'] * 1000:4.0f}  max {row['max_s'] * 1000:4.0f}"
                    f"  (to the worker's fork: median {row['to_fork_median_s'] * 1000:4.0f},"
                    f" min {row['to_fork_min_s'] * 1000:4.0f})"
                )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
