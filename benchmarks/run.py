"""mockcamb benchmarks: every figure of issue 6, side by side with Prism, Mountebank and
WireMock (issue 15).

Run with ``make bench`` (or ``.venv/bin/python benchmarks/run.py``). Everything runs on
127.0.0.1; each load run is bounded (``--seconds``, at most 10 by default). Prints the machine,
the versions and the exact commands, then one line per figure and a summary of the targets.

    python benchmarks/run.py                     # everything (about 9 minutes)
    python benchmarks/run.py --only throughput   # one section: throughput, latency,
                                                 # one-connection, virtual-time, memory,
                                                 # startup, dashboard, sdk-in-process,
                                                 # adapters, cap
    python benchmarks/run.py --no-peers          # skip npm and the peers
    python benchmarks/run.py --json out.json     # also write the figures as JSON
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    API_KEY,
    HOST,
    ROOT,
    Proc,
    WrkResult,
    ensure_wrk,
    fmt_ms,
    free_port,
    machine_info,
    print_machine,
    run_wrk,
    self_rss_kb,
    settle,
    start_answering,
    start_process,
    start_redis,
    tree_rss_kb,
    wait_until_answers,
)

SECTIONS = (
    "throughput",
    "latency",
    "one-connection",
    "virtual-time",
    "memory",
    "startup",
    "dashboard",
    "sdk-in-process",
    "adapters",
    "cap",
)
#: Sections that run without wrk.
_NO_WRK_SECTIONS = frozenset({"dashboard", "sdk-in-process", "cap"})
#: Tasks kept at the ``max_tasks`` cap in section 5c, and tasks created there.
CAP_TASKS = 200_000
CAP_CREATES = 50_000
HERE = Path(__file__).resolve().parent
KEY_HEADER = {"x-api-key": API_KEY}
STATUS_PATH = "/apis/story/bench"
SLOW_PATH = "/apis/story/slow"
FIXED_MS = 200.0
#: Seconds of load at c256 on a server before its latency is measured (issue 15: 4 s).
LATENCY_WARM_UP_S = 4
#: The latency target relative to the floor measured in the same run: p99 at most this
#: many ms above the floor's p99 (and below WireMock's); p50 in 200-205 ms; throughput at
#: least this share of 256 / 0.2 s.
P99_OVER_FLOOR_MS = 10.0
P50_RANGE_MS = (200.0, 205.0)
MIN_SHARE_OF_IDEAL = 0.97
#: c32 throughput: at least this many times the best peer's (Prism, Mountebank, WireMock).
THROUGHPUT_VS_BEST_PEER = 2.0
# (label, serve arguments or None for the floor app, warm-up burst first, run the probe,
# needs a throwaway redis-server). `mockcamb serve` as shipped (granian, status GETs on the
# event loop); "fresh" is the first burst a new server sees; `--store redis` is served on
# granian's WSGI interface (threads); `--server waitress` is the threaded pure-Python
# server; the floor is benchmarks/floor_app.py on granian with the settings mockcamb uses:
# a bare ASGI app that only awaits asyncio.sleep(0.2), the server stack's own limit.
LATENCY_VARIANTS: tuple[tuple[str, tuple[str, ...] | None, bool, bool, bool], ...] = (
    ("default (granian, event loop)", (), True, True, False),
    ("default, fresh", (), False, True, False),
    ("--store redis", (), True, False, True),
    ("--server waitress", ("--server", "waitress"), True, True, False),
    ("floor: bare ASGI sleep on granian", None, True, False, False),
)
FLOOR_LABEL = "floor: bare ASGI sleep on granian"
DEFAULT_LABEL = "default (granian, event loop)"
# The floor app on granian: the options `mockcamb serve` passes to granian
# (mockcamb/serve/granian.py), from the command line.
GRANIAN_FLOOR_ARGS = (
    "--interface",
    "asginl",
    "--runtime-mode",
    "st",
    "--http",
    "1",
    "--no-ws",
    "--loop",
    "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
    "--backlog",
    "2048",
    "--log-level",
    "warning",
)
# A request without latency must not queue behind the delayed ones: its p50 and p99 while
# 256 delayed requests are in flight (wrk shares the 2 cores, so not the c1 figures).
PROBE_P50_MS = 5.0
PROBE_P99_MS = 100.0
# The dashboard with 1,000 tasks renders in well under a second: each view, every run.
DASHBOARD_TASKS = 1000
DASHBOARD_RUNS = 10
DASHBOARD_LIMIT_S = 1.0
DASHBOARD_MIX = ("happy_path", "flaky_network", "rate_limited", "garbage_bodies", "error")

CONFIG_YAML = f"""# preloaded by benchmarks/run.py
tasks:
  - {{kind: story, task_id: bench, scenario: never_finishes}}
  - kind: story
    task_id: slow
    scenario:
      steps: [{{status: PENDING}}]
      latency: {{fixed_ms: {FIXED_MS:g}}}
"""

Results = dict[str, Any]


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)), flush=True)
    print(f"  load average (1/5/15 min): {load_average()}", flush=True)


def load_average() -> str:
    """The machine's load averages now, as ``uptime`` gives them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def show(label: str, text: str) -> None:
    print(f"  {label:<34} {text}", flush=True)


class Bench:
    """One benchmark run: a scratch folder, the mockcamb config, and the collected figures."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.seconds: float = args.seconds
        self.scratch = Path(args.scratch)
        self.logdir = Path(tempfile.mkdtemp(prefix="mockcamb-bench-logs-"))
        self.config = self.logdir / "bench-config.yaml"
        self.config.write_text(CONFIG_YAML)
        self.results: Results = {}

    # --- mockcamb processes ---------------------------------------------------------------

    def serve_argv(self, port: int, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "mockcamb",
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--quiet",
            "--api-key",
            API_KEY,
            "--config",
            str(self.config),
            *extra,
        ]

    @contextlib.contextmanager
    def mockcamb(self, name: str, *extra: str) -> Iterator[Proc]:
        port = free_port()
        with self.served(name, self.serve_argv(port, *extra), port) as proc:
            yield proc

    @contextlib.contextmanager
    def served(
        self, name: str, argv: list[str], port: int, cwd: Path | None = None
    ) -> Iterator[Proc]:
        proc = start_answering(
            name, argv, port, self.logdir, "/__admin/health", cwd=cwd or self.logdir
        )
        try:
            yield proc
        finally:
            proc.stop()

    @contextlib.contextmanager
    def redis(self) -> Iterator[str]:
        """A throwaway redis-server on a free port: no RDB, no AOF; stopped afterwards."""
        port = free_port()
        proc = start_redis(port, self.logdir)
        try:
            yield f"redis://{HOST}:{port}/0"
        finally:
            proc.stop()

    def wrk(self, port: int, path: str, connections: int, threads: int = 2) -> WrkResult:
        url = f"http://{HOST}:{port}{path}"
        run_wrk(url, threads=threads, connections=connections, seconds=2, headers=KEY_HEADER)
        return run_wrk(
            url, threads=threads, connections=connections, seconds=self.seconds, headers=KEY_HEADER
        )

    # --- 1. throughput ----------------------------------------------------------------------

    def throughput(self) -> None:
        section("1. Throughput: status GET, 32 connections (wrk -t2 -c32)")
        import peers

        res: Results = {"mockcamb": {}, "peers": {}, "peer_status": {}, "load": load_average()}
        # Each server is measured alone: a peer is started (WireMock warmed up) for its own
        # run, waited on until it is idle, and stopped after it. Peers left running beside
        # mockcamb's runs took CPU from them (a JVM compiles for seconds after its warm-up).
        starters: list[tuple[str, Callable[[], peers.Peer]]] = []
        if self.args.no_peers:
            res["peer_status"]["all"] = "skipped (--no-peers)"
        else:
            ok, why = peers.install(self.scratch)
            res["peer_status"]["npm"] = why
            if not ok:
                show("peers", f"NOT INSTALLED: {why}")
            else:
                starters = [
                    ("prism", lambda: peers.start_prism(self.scratch, free_port(), self.logdir)),
                    (
                        "mountebank",
                        lambda: peers.start_mountebank(
                            self.scratch, free_port(), free_port(), self.logdir
                        ),
                    ),
                ]
                java = peers.java_version()
                res["java"] = java
                if java is None:
                    res["peer_status"]["wiremock"] = "skipped: no Java (java -version)"
                    show("wiremock", "SKIPPED: no Java on PATH (java -version); install Java 17")
                else:
                    show("java", java)
                    starters.append(
                        (
                            "wiremock",
                            lambda: peers.start_wiremock(self.scratch, free_port(), self.logdir),
                        )
                    )
        # (label, extra serve arguments, needs a throwaway redis-server)
        variants: list[tuple[str, tuple[str, ...], bool]] = [
            ("mockcamb serve (default)", (), False),
            ("mockcamb serve --server waitress", ("--server", "waitress"), False),
        ]
        if shutil.which("redis-server"):
            variants += [
                (f"mockcamb serve --store redis --workers {w}", ("--workers", str(w)), True)
                for w in (1, 2)
            ]
        else:
            res["redis_status"] = "redis-server not found: Redis variants not measured"
            show("redis", "NOT MEASURED: redis-server not on PATH")
        for round_no in range(self.args.rounds):
            if self.args.rounds > 1:
                print(f"  -- round {round_no + 1}")
            for label, extra, needs_redis in variants:
                with contextlib.ExitStack() as stack:
                    if needs_redis:
                        url = stack.enter_context(self.redis())
                        extra = ("--store", url, *extra)
                    proc = stack.enter_context(self.mockcamb("mockcamb", *extra))
                    r = self.wrk(proc.port, STATUS_PATH, 32)
                show(label, r.brief())
                res["mockcamb"].setdefault(label, []).append(r.to_dict())
            for name, starter in starters:
                try:
                    peer = starter()
                except (OSError, TimeoutError) as exc:
                    res["peer_status"][name] = f"did not start: {exc}"
                    show(name, f"DID NOT START: {exc} (log {self.logdir / name}.log)")
                    continue
                try:
                    waited = settle(peer.proc)
                    r = self.wrk(peer.proc.port, peer.path, 32)
                finally:
                    peer.proc.stop()
                label = f"{peer.name} {peer.version}"
                show(label, f"{r.brief()}  (idle after {waited:.1f} s)")
                res["peers"].setdefault(peer.name, []).append({**r.to_dict(), "settled_s": waited})
                res["peer_status"][peer.name] = f"measured ({peer.version})"
        best = {k: max(x["rps"] for x in v) for k, v in res["mockcamb"].items()}
        peer_best = {k: max(x["rps"] for x in v) for k, v in res["peers"].items()}
        res["mockcamb_best_rps"] = best
        res["peer_best_rps"] = peer_best
        default = best["mockcamb serve (default)"]
        if peer_best:
            top_name, top = max(peer_best.items(), key=lambda kv: kv[1])
            res["ratio_default_vs_best_peer"] = default / top
            res["best_peer"] = top_name
            show("ratio default / best peer", f"{default / top:.2f} (best peer: {top_name})")
            for k, v in best.items():
                show(f"ratio {k.removeprefix('mockcamb serve ')}", f"{v / top:.2f}")
        else:
            top = max(peers.PUBLISHED_RPS["prism"], peers.PUBLISHED_RPS["mountebank"])
            res["ratio_default_vs_published_peer"] = default / top
            show(
                "ratio vs PUBLISHED (not measured)",
                f"{default / top:.2f} against {top:.0f} req/s from the issue text",
            )
        print("  published reference figures (issue text, NOT measured here):")
        for k, v in peers.PUBLISHED_RPS.items():
            print(f"    {k:<32} {v:8.0f} req/s")
        self.results["throughput"] = res

    # --- 2. latency fidelity ----------------------------------------------------------------

    def latency(self) -> None:
        section(f"2. Fixed {FIXED_MS:g} ms latency at 256 connections (wrk -t2 -c256)")
        res: Results = {"ideal_rps": 256 / (FIXED_MS / 1000), "load": load_average()}
        show(
            "target",
            f"p99 <= floor's + {P99_OVER_FLOOR_MS:g} ms and < WireMock's (same run), "
            f"p50 {P50_RANGE_MS[0]:g}-{P50_RANGE_MS[1]:g} ms, "
            f">= {MIN_SHARE_OF_IDEAL:.0%} of {res['ideal_rps']:.0f} req/s, "
            f"after a {LATENCY_WARM_UP_S} s warm-up",
        )
        for label, extra, warm_up, probe, needs_redis in LATENCY_VARIANTS:
            with contextlib.ExitStack() as stack:
                if needs_redis and not shutil.which("redis-server"):
                    show(label, "NOT MEASURED: redis-server not on PATH")
                    continue
                if extra is None:
                    port = free_port()
                    argv = self.floor_argv(port)
                    res["floor_command"] = " ".join(argv)
                    show("floor command", res["floor_command"])
                    proc = stack.enter_context(self.served("floor", argv, port, cwd=HERE))
                else:
                    if needs_redis:
                        extra = ("--store", stack.enter_context(self.redis()), *extra)
                    proc = stack.enter_context(self.mockcamb("mockcamb-latency", *extra))
                res[label] = self.latency_run(
                    label, proc.port, res["ideal_rps"], warm_up=warm_up, pid=proc.pid, probe=probe
                )
        res["peers"] = self.peer_latency(res["ideal_rps"])
        self.results["latency"] = res

    def peer_latency(self, ideal: float) -> list[Results]:
        """The same load on Mountebank (its ``wait`` behaviour) and WireMock (its
        ``fixedDelayMilliseconds``, after its JIT warm-up); Prism has no delay option."""
        import peers

        if self.args.no_peers:
            return []
        ok, why = peers.install(self.scratch)
        if not ok:
            show("peers", f"NOT INSTALLED: {why}")
            return []
        starters: list[tuple[str, Callable[[], peers.Peer]]] = [
            (
                f"wait {FIXED_MS:g} ms",
                lambda: peers.start_mountebank(
                    self.scratch, free_port(), free_port(), self.logdir, wait_ms=FIXED_MS
                ),
            )
        ]
        if peers.java_version() is None:
            show("wiremock", "SKIPPED: no Java on PATH (java -version); install Java 17")
        else:
            starters.append(
                (
                    f"fixedDelayMilliseconds {FIXED_MS:g}",
                    lambda: peers.start_wiremock(
                        self.scratch, free_port(), self.logdir, delay_ms=FIXED_MS
                    ),
                )
            )
        out: list[Results] = []
        for how, starter in starters:
            try:
                peer = starter()
            except (OSError, TimeoutError) as exc:
                show("peer", f"DID NOT START: {exc}")
                continue
            label = f"{peer.name} {peer.version}, {how}"
            try:
                settle(peer.proc)  # as in the throughput section
                run = self.latency_run(label, peer.proc.port, ideal, probe=False)
            finally:
                peer.proc.stop()
            out.append({**run, "label": label, "name": peer.name})
        return out

    def floor_argv(self, port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "granian",
            *GRANIAN_FLOOR_ARGS,
            "--host",
            HOST,
            "--port",
            str(port),
            "floor_app:app",
        ]

    def latency_run(
        self,
        label: str,
        port: int,
        ideal: float,
        *,
        warm_up: bool = True,
        pid: int | None = None,
        probe: bool = True,
    ) -> Results:
        url = f"http://{HOST}:{port}"
        if warm_up:
            run_wrk(url + SLOW_PATH, connections=256, seconds=LATENCY_WARM_UP_S, headers=KEY_HEADER)
        probed: list[WrkResult] = []
        # While 256 connections wait out their delay, one connection polls a task without
        # latency: an injected delay must not hold up other requests.
        t = threading.Thread(target=_probe, args=(url + STATUS_PATH, self.seconds, probed))
        threads: list[int] = []
        done = threading.Event()
        sampler = threading.Thread(target=_sample_threads, args=(pid, done, threads))
        if pid is not None:
            sampler.start()
        if probe:
            t.start()
        r = run_wrk(url + SLOW_PATH, connections=256, seconds=self.seconds, headers=KEY_HEADER)
        if probe:
            t.join()
        done.set()
        if pid is not None:
            sampler.join()
        show(f"{label}: 200 ms task", r.brief())
        if probe:
            show(f"{label}: no-delay probe (c1)", probed[0].brief() if probed else "no result")
        if threads:
            show(f"{label}: server threads", " ".join(map(str, threads)))
        return {
            "slow": r.to_dict(),
            "probe": probed[0].to_dict() if probed else None,
            "ok": _latency_ok(r),
            "probe_ok": bool(probed)
            and (probed[0].p50_ms or 1e9) <= PROBE_P50_MS
            and (probed[0].p99_ms or 1e9) <= PROBE_P99_MS,
            "rps_vs_ideal": r.rps / ideal,
            "server_threads": threads,
        }

    # --- 3. one connection ------------------------------------------------------------------

    def one_connection(self) -> None:
        section("3. One connection: status GET (wrk -t1 -c1)")
        with self.mockcamb("mockcamb-c1") as proc:
            r = self.wrk(proc.port, STATUS_PATH, 1, threads=1)
        show("mockcamb serve (default)", r.brief())
        self.results["one_connection"] = {"wrk": r.to_dict(), "ok": (r.p50_ms or 1e9) <= 0.5}

    # --- 4. virtual time --------------------------------------------------------------------

    def virtual_time(self) -> None:
        section("4. Virtual time: ten_minute_job polled every 15 s")
        res: Results = {}
        have = {
            m: importlib.util.find_spec(m) is not None
            for m in ("mockcamb.pytest_plugin", "mockcamb.testing", "mockcamb.virtual_time")
        }
        res["modules"] = have
        if not all(have.values()):
            missing = [m for m, ok in have.items() if not ok]
            show("fixtures", f"MISSING: {', '.join(missing)}")
        else:
            res["http"] = _time_virtual_poll("http", self.args.repeat)
            res["in_process"] = _time_virtual_poll("responses", self.args.repeat)
            for mode, limit in (("http", 0.2), ("in_process", 0.05)):
                d = res[mode]
                d["ok"] = d["median_s"] < limit
                show(
                    f"{mode} (target < {limit} s)",
                    f"median {d['median_s'] * 1000:.1f} ms, max {d['max_s'] * 1000:.1f} ms, "
                    f"{d['polls']} polls, {d['virtual_s']:.0f} virtual s",
                )
        res["core"] = _time_core_poll(self.args.repeat)
        show(
            "Emulator core, no transport",
            f"median {res['core']['median_s'] * 1000:.2f} ms ({res['core']['polls']} polls)",
        )
        self.results["virtual_time"] = res

    # --- 4b. the official SDK in process -------------------------------------------------------

    def sdk_in_process(self) -> None:
        section("4b. The official SDK in process (httpx mode): ten_minute_job every 15 s")
        if importlib.util.find_spec("camb") is None or importlib.util.find_spec("httpx") is None:
            show("camb-sdk", "MISSING: pip install camb-sdk")
            return
        res: Results = {}
        for mode in ("sync", "async"):
            d = _time_sdk_poll(mode, self.args.repeat)
            d["ok"] = d["median_s"] < 0.05
            res[mode] = d
            show(
                f"CambAI {mode} (target < 0.05 s)",
                f"median {d['median_s'] * 1000:.1f} ms, max {d['max_s'] * 1000:.1f} ms "
                f"(first run {d['first_s'] * 1000:.0f} ms), {d['polls']} polls, "
                f"{d['virtual_s']:.0f} virtual s; "
                f"building the client {d['client_s'] * 1000:.0f} ms",
            )
        self.results["sdk_in_process"] = res

    # --- 5. memory --------------------------------------------------------------------------

    def memory(self) -> None:
        section("5. Memory: idle tasks, journal ring, finished-task expiry")
        res: Results = {}
        n = self.args.tasks
        for mode in ("rss", "tracemalloc"):
            out = _child(["tasks", str(n), mode])
            res[f"tasks_{mode}"] = out
            show(
                f"{n:,} idle tasks ({mode})",
                f"{out['bytes_per_task']:.0f} B/task ({out['total_bytes'] / 2**20:.1f} MiB)",
            )
        res["tasks_ok"] = res["tasks_tracemalloc"]["bytes_per_task"] <= 1024
        m = self.args.requests
        out = _child(["journal", str(m)])
        res["journal_in_process"] = out
        show(
            f"{m:,} Emulator.status calls",
            f"RSS {out['rss_mib'][0]:.1f} -> {out['rss_mib'][-1]:.1f} MiB "
            f"(after ring filled: +{out['growth_after_fill_mib']:.2f} MiB), "
            f"{out['us_per_call']:.1f} us/call, journal {out['journal_len']} entries",
        )
        res["journal_http"] = self._http_rss()
        h = res["journal_http"]
        show(
            f"HTTP, {len(h['runs'])} x {self.seconds:g} s wrk -c32",
            f"RSS {' -> '.join(f'{x:.1f}' for x in h['rss_mib'])} MiB over "
            f"{h['requests']:,} requests",
        )
        res["ttl"] = _child(["ttl", "10000"])
        t = res["ttl"]
        show(
            "finished_ttl=60 s, 10,000 finished",
            f"tasks {t['before']:,} -> {t['after']:,} after advancing 61 s "
            f"(RSS {t['rss_before_mib']:.1f} -> {t['rss_after_mib']:.1f} MiB)",
        )
        self.results["memory"] = res

    def _http_rss(self) -> Results:
        runs = []
        with self.mockcamb("mockcamb-rss") as proc:
            # granian serves in a forked worker: the parent and its workers together
            rss = [tree_rss_kb(proc.pid) / 1024]
            for _ in range(3):
                r = run_wrk(
                    f"http://{HOST}:{proc.port}{STATUS_PATH}",
                    connections=32,
                    seconds=self.seconds,
                    headers=KEY_HEADER,
                )
                runs.append(r.to_dict())
                rss.append(tree_rss_kb(proc.pid) / 1024)
        return {"rss_mib": rss, "runs": runs, "requests": sum(r["requests"] for r in runs)}

    # --- 5c. creation at the max_tasks cap ----------------------------------------------------

    def cap(self) -> None:
        section(f"5c. Task creation at the max_tasks cap ({CAP_TASKS:,} tasks) and below it")
        res: Results = {}
        for store in ("memory", "redis"):
            out = _child(["cap", store, str(CAP_TASKS), str(CAP_CREATES)])
            res[store] = out
            if "missing" in out:
                show(f"{store} store", f"MISSING: {out['missing']}")
                continue
            show(
                f"{store} store, {out['creates']:,} creates",
                ", ".join(
                    f"{label} {out[key]['median_us']:.1f} us (p99 {out[key]['p99_us']:.1f})"
                    for key, label in (
                        ("below", "below the cap"),
                        ("cap_unfinished", "at the cap, evicting unfinished"),
                        ("cap_finished", "evicting finished"),
                    )
                ),
            )
        self.results["cap"] = res

    # --- 6. start-up ------------------------------------------------------------------------

    def startup(self) -> None:
        section("6. Start-up: first answer")
        res: Results = {}
        times = []
        for _ in range(self.args.repeat):
            port = free_port()
            t0 = time.perf_counter()
            proc = start_process(
                "startup", self.serve_argv(port), port, self.logdir, cwd=self.logdir
            )
            try:
                wait_until_answers(port, STATUS_PATH, KEY_HEADER, timeout=30)
                times.append(time.perf_counter() - t0)
            finally:
                proc.stop()
        res["serve"] = _stats(times)
        res["serve"]["ok"] = res["serve"]["median_s"] <= 0.5
        show(
            "mockcamb serve -> first answer",
            f"median {res['serve']['median_s'] * 1000:.0f} ms, "
            f"max {res['serve']['max_s'] * 1000:.0f} ms (n={len(times)}; target 500 ms)",
        )
        if importlib.util.find_spec("mockcamb.testing") is not None:
            res["serve_in_thread"] = _child(["fixture-start", str(self.args.repeat)])
            d = res["serve_in_thread"]
            show(
                "serve_in_thread() -> first answer",
                f"median {d['median_s'] * 1000:.1f} ms (imports done), fresh process with "
                f"imports {d['cold_s'] * 1000:.0f} ms",
            )
            res["pytest_fixture"] = _pytest_fixture_setup(self.logdir)
            p = res["pytest_fixture"]
            if "setup_s" in p:
                p["ok"] = p["setup_s"] <= 0.3
                show(
                    "pytest `mockcamb` fixture setup",
                    f"{p['setup_s'] * 1000:.0f} ms first test (server start), "
                    f"{p.get('next_setup_s', 0) * 1000:.0f} ms next test (target 300 ms)",
                )
            else:
                show("pytest `mockcamb` fixture setup", f"not measured: {p.get('error')}")
        else:
            show("pytest fixture", "MISSING: mockcamb.testing / mockcamb.pytest_plugin")
        self.results["startup"] = res

    # --- 7. dashboard -----------------------------------------------------------------------

    def dashboard(self) -> None:
        """GET /__admin/ on `mockcamb serve` holding 1,000 tasks of every family, each polled
        over HTTP (with faults, Retry-After and a global probability fault): the default page
        (100 rows, the filters and counts over all 1,000), every row on one page, a filtered
        view and one with ten tasks opened."""
        section(f"7. Dashboard: GET /__admin/ with {DASHBOARD_TASKS:,} tasks")
        import requests

        from mockcamb.core.routes import KINDS

        res: Results = {"tasks": DASHBOARD_TASKS, "runs": DASHBOARD_RUNS, "views": {}}
        with self.mockcamb("dashboard") as proc, requests.Session() as http:
            root = f"http://{HOST}:{proc.port}"
            http.headers["x-api-key"] = API_KEY
            http.put(
                f"{root}/__admin/settings",
                json={"faults": [{"probability": 0.05, "http_status": 500}]},
                timeout=10,
            ).raise_for_status()
            have = http.get(f"{root}/__admin/health", timeout=10).json()["tasks"]
            made: list[tuple[str, str]] = []
            for i in range(DASHBOARD_TASKS - have):
                kind = KINDS[i % len(KINDS)]
                doc = {"kind": kind, "task_id": f"d-{i:04d}", "scenario": DASHBOARD_MIX[i % 5]}
                http.post(f"{root}/__admin/tasks", json=doc, timeout=10).raise_for_status()
                made.append((kind, doc["task_id"]))
            for _ in range(3):
                for kind, task_id in made:
                    with contextlib.suppress(requests.ConnectionError):  # drop_connection
                        http.get(f"{root}/apis/{kind}/{task_id}", timeout=10)
                http.post(f"{root}/__admin/clock/advance", json={"seconds": 2}, timeout=10)
            opened = "&".join(f"open={k}/{t}" for k, t in made[-10:])
            views = {
                "default page (100 rows)": "",
                "all 1,000 rows on one page": "?per_page=1000",
                "filtered (family, faults, id)": f"?family={KINDS[0]}&faults=1&id=d-0",
                "100 rows, 10 tasks opened": f"?{opened}",
            }
            for label, query in views.items():
                url = f"{root}/__admin/{query}"
                http.get(url, timeout=30).raise_for_status()  # warm up
                times, size = [], 0
                for _ in range(DASHBOARD_RUNS):
                    t0 = time.perf_counter()
                    reply = http.get(url, timeout=30)
                    times.append(time.perf_counter() - t0)
                    reply.raise_for_status()
                    size = len(reply.content)
                p50, top = statistics.median(times), max(times)
                res["views"][label] = {"p50_s": p50, "max_s": top, "bytes": size, "query": query}
                show(
                    label,
                    f"p50 {p50 * 1000:.0f} ms, max {top * 1000:.0f} ms, {size / 1024:.0f} KiB",
                )
        worst = max(v["max_s"] for v in res["views"].values())
        res["ok"] = worst < DASHBOARD_LIMIT_S
        self.results["dashboard"] = res

    # --- 8. the WSGI-to-ASGI adapter ------------------------------------------------------

    def adapters(self) -> None:
        """The adapter that hands the Flask routes to the event loop, chosen by measurement:
        correctness checks, then c32 on a non-status route (/__admin/health), interleaved."""
        section("8. WSGI-to-ASGI adapters: the Flask routes on granian (wrk -t2 -c32)")
        res: Results = {"servers": {}}
        env = {**os.environ, "MOCKCAMB_BENCH_CONFIG": str(self.config)}
        with contextlib.ExitStack() as stack:
            servers: dict[str, Proc] = {}
            for name in ("a2wsgi", "asgiref", "wsgi"):
                if name != "wsgi" and importlib.util.find_spec(name) is None:
                    res.setdefault("skipped", {})[name] = "not installed"
                    show(name, f"SKIPPED: {name} is not installed (make install adds it)")
                    continue
                port = free_port()
                interface = ("--interface", "wsgi", "--blocking-threads", "512")
                if name != "wsgi":
                    interface = ("--interface", "asginl")
                argv = [sys.executable, "-m", "granian", *GRANIAN_FLOOR_ARGS, *interface]
                argv += ["--host", HOST, "--port", str(port), "adapter_app:app"]
                proc = start_process(
                    f"adapter-{name}",
                    argv,
                    port,
                    self.logdir,
                    cwd=HERE,
                    env={**env, "MOCKCAMB_ADAPTER": name},
                )
                stack.callback(proc.stop)
                wait_until_answers(port, "/__admin/health", timeout=30)
                servers[f"{name} (adapter_app.py)" if name != "wsgi" else "wsgi"] = proc
                res.setdefault("commands", {})[name] = " ".join(argv)
            proc = stack.enter_context(self.mockcamb("mockcamb-adapters"))
            servers["mockcamb serve (a2wsgi behind the loop app)"] = proc
            for label, proc in servers.items():
                checks = _adapter_checks(proc.port)
                res["servers"][label] = {"checks": checks, "runs": []}
                failed = [k for k, ok in checks.items() if not ok]
                show(
                    label,
                    "checks: " + ("all pass" if not failed else "FAILED " + ", ".join(failed)),
                )
            for _ in range(max(2, self.args.rounds)):
                for label, proc in servers.items():
                    r = self.wrk(proc.port, "/__admin/health", 32)
                    res["servers"][label]["runs"].append(r.to_dict())
                    show(label, r.brief())
        for d in res["servers"].values():
            d["best_rps"] = max(x["rps"] for x in d["runs"])
        res["servers"]["wsgi"]["note"] = "granian's own WSGI interface, no adapter (reference)"
        self.results["adapters"] = res

    # --- summary --------------------------------------------------------------------------

    def summary(self) -> None:
        section("Summary against the targets of issues 6 and 15")
        r = self.results
        rows: list[tuple[str, str, str]] = []

        def add(name: str, ok: bool | None, text: str) -> None:
            verdict = "n/a" if ok is None else ("PASS" if ok else "FAIL")
            rows.append((name, verdict, text))

        if "throughput" in r:
            t = r["throughput"]
            ratio = t.get("ratio_default_vs_best_peer")
            need = THROUGHPUT_VS_BEST_PEER
            if ratio is not None:
                add(
                    f"1 throughput c32 >= {need:g}x best peer",
                    ratio >= need,
                    f"{ratio:.2f}x {t['best_peer']} (same run; peers: "
                    + ", ".join(f"{k} {v:.0f}" for k, v in t["peer_best_rps"].items())
                    + " req/s)",
                )
            else:
                ratio = t.get("ratio_default_vs_published_peer", 0.0)
                add(f"1 throughput c32 >= {need:g}x best peer", None, f"{ratio:.2f}x published")
            base = t["mockcamb_best_rps"]["mockcamb serve (default)"]
            top = max(t["peer_best_rps"].values(), default=0.0)
            for label, rps in t["mockcamb_best_rps"].items():
                if label != "mockcamb serve (default)":
                    vs_peer = f", {rps / top:.2f}x best peer" if top else ""
                    add(
                        f"1 c32 {label.removeprefix('mockcamb serve ')}",
                        None,
                        f"{rps:.0f} req/s ({rps / base:.2f}x default{vs_peer})",
                    )
        if "latency" in r:
            lat = r["latency"]
            floor = lat.get(FLOOR_LABEL)
            floor_p99 = floor["slow"]["p99_ms"] if floor else None
            wiremock = next((x for x in lat.get("peers", []) if x["name"] == "wiremock"), None)
            wm_p99 = wiremock["slow"]["p99_ms"] if wiremock else None
            for label, extra, _, probe, _ in LATENCY_VARIANTS:
                d = lat.get(label)
                if d is None:
                    add(f"2 {label}", None, "not measured")
                    continue
                s = d["slow"]
                text = (
                    f"p50 {fmt_ms(s['p50_ms'])} p99 {fmt_ms(s['p99_ms'])} "
                    f"{s['rps']:.0f} req/s ({d['rps_vs_ideal']:.0%} of ideal)"
                )
                if extra is None:  # the floor is not mockcamb: no verdict, only the figure
                    add(f"2 {label}", None, text)
                    continue
                add(f"2 p50, req/s, no errors: {label}", d["ok"], text)
                if label == DEFAULT_LABEL:
                    p99 = s["p99_ms"] or 1e9
                    if floor_p99 is not None:
                        add(
                            f"2 p99 <= floor + {P99_OVER_FLOOR_MS:g} ms",
                            p99 <= floor_p99 + P99_OVER_FLOOR_MS,
                            f"{p99:.1f} ms vs floor {floor_p99:.1f} ms (+{p99 - floor_p99:.1f} ms)",
                        )
                    if wm_p99 is not None:
                        add(
                            "2 p99 below WireMock's",
                            p99 < wm_p99,
                            f"{p99:.1f} ms vs WireMock {wm_p99:.1f} ms",
                        )
                    else:
                        add("2 p99 below WireMock's", None, "WireMock not measured")
                if not probe:
                    continue
                pr = d["probe"]
                add(
                    f"2 probe p50 <= {PROBE_P50_MS:g}, p99 <= {PROBE_P99_MS:g} ms, {label}",
                    d["probe_ok"],
                    f"p50 {fmt_ms(pr['p50_ms'])} p99 {fmt_ms(pr['p99_ms'])}" if pr else "no result",
                )
            for peer in lat.get("peers", []):  # a peer, not mockcamb: the figure only
                s = peer["slow"]
                add(
                    f"2 {peer['label']}",
                    None,
                    f"p50 {fmt_ms(s['p50_ms'])} p99 {fmt_ms(s['p99_ms'])} {s['rps']:.0f} req/s",
                )
        if "adapters" in r:
            for name, d in r["adapters"]["servers"].items():
                checks = d.get("checks", {})
                failed = [k for k, ok in checks.items() if not ok]
                add(
                    f"8 adapter {name}: c32 /__admin/health",
                    None if name == "wsgi" else not failed,
                    f"{d['best_rps']:.0f} req/s"
                    + (f", failed: {', '.join(failed)}" if failed else ", all checks pass"),
                )
        if "one_connection" in r:
            w = r["one_connection"]["wrk"]
            add("3 one connection p50 <= 0.5 ms", r["one_connection"]["ok"], fmt_ms(w["p50_ms"]))
        if "virtual_time" in r:
            v = r["virtual_time"]
            for mode, limit in (("http", 0.2), ("in_process", 0.05)):
                if mode in v:
                    add(
                        f"4 virtual time {mode} < {limit} s",
                        v[mode]["ok"],
                        f"{v[mode]['median_s'] * 1000:.1f} ms",
                    )
                else:
                    add(f"4 virtual time {mode}", None, "fixture modules missing")
        if "sdk_in_process" in r:
            for mode, d in r["sdk_in_process"].items():
                add(f"4b SDK {mode} in process < 0.05 s", d["ok"], f"{d['median_s'] * 1000:.1f} ms")
        if "memory" in r:
            m = r["memory"]
            add(
                "5 bytes per idle task <= 1 KB",
                m["tasks_ok"],
                f"{m['tasks_tracemalloc']['bytes_per_task']:.0f} B traced, "
                f"{m['tasks_rss']['bytes_per_task']:.0f} B RSS",
            )
            j = m["journal_in_process"]
            add(
                "5 RSS flat over 1M requests",
                j["growth_after_fill_mib"] < 5,
                f"+{j['growth_after_fill_mib']:.2f} MiB after the ring filled",
            )
            add("5 finished tasks expire", m["ttl"]["after"] <= 1, f"{m['ttl']['after']} left")
        if "startup" in r:
            s = r["startup"]
            add(
                "6 serve first answer <= 0.5 s", s["serve"]["ok"], f"{s['serve']['median_s']:.3f} s"
            )
            p = s.get("pytest_fixture", {})
            add(
                "6 pytest fixture <= 0.3 s",
                p.get("ok"),
                f"{p['setup_s']:.3f} s" if "setup_s" in p else "not measured",
            )
        if "dashboard" in r:
            d = r["dashboard"]
            for label, v in d["views"].items():
                add(
                    f"7 dashboard < {DASHBOARD_LIMIT_S:g} s, {label}",
                    v["max_s"] < DASHBOARD_LIMIT_S,
                    f"p50 {v['p50_s'] * 1000:.0f} ms, max {v['max_s'] * 1000:.0f} ms",
                )
        for name, verdict, text in rows:
            print(f"  {verdict:<5} {name:<40} {text}")
        self.results["summary"] = [{"target": n, "verdict": v, "figure": t} for n, v, t in rows]


# --- helpers that run in this process or in a child ------------------------------------


def _latency_ok(r: WrkResult) -> bool:
    """The absolute part of the latency target: p50 in range, throughput, no errors (the
    p99 part is relative to the floor and WireMock: :meth:`Bench.summary`)."""
    p50 = r.p50_ms or 0.0
    errs = sum(r.socket_errors.values()) if r.socket_errors else 0
    ideal = 256 / (FIXED_MS / 1000)
    return (
        P50_RANGE_MS[0] <= p50 <= P50_RANGE_MS[1]
        and r.rps >= MIN_SHARE_OF_IDEAL * ideal
        and errs == 0
        and r.non_2xx == 0
    )


def _adapter_checks(port: int) -> dict[str, bool]:
    """What the Flask routes need from an adapter: JSON and multipart bodies, a chunked
    body, the 16 MiB limit (a JSON 413), request headers reaching the app."""
    import requests

    url = f"http://{HOST}:{port}"
    out: dict[str, bool] = {}
    with requests.Session() as s:
        s.headers.update(KEY_HEADER)
        tag = f"a{time.monotonic_ns()}"
        r = s.post(f"{url}/__admin/tasks", json={"kind": "story", "task_id": tag}, timeout=10)
        out["json body"] = r.status_code == 201 and r.json().get("task_id") == tag
        r = s.post(
            f"{url}/apis/story",
            data={"source_language": "1"},
            files={"file": ("s.txt", b"once upon a time")},
            timeout=10,
        )
        out["multipart"] = r.status_code == 200 and "task_id" in r.json()
        chunks = (x for x in (b'{"kind": "story", ', f'"task_id": "{tag}c"}}'.encode()))
        r = s.post(f"{url}/__admin/tasks", data=chunks, timeout=10)
        out["chunked body"] = r.status_code == 201
        big = b" " * (16 * 1024 * 1024 + 1)
        r = s.post(f"{url}/__admin/tasks", data=big, timeout=60)
        out["413 over 16 MiB"] = r.status_code == 413 and "detail" in r.json()
        r = s.get(f"{url}{STATUS_PATH}", headers={"X-Trace": tag}, timeout=10)
        journal = s.get(f"{url}/__admin/requests?task_id=bench", timeout=10).json()["requests"]
        out["request headers"] = r.status_code == 200 and any(
            e["headers"].get("x-trace") == tag for e in journal
        )
    return out


def _threads(pid: int) -> int:
    """Threads of ``pid`` (``/proc/PID/status``), 0 if it is gone."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        text = Path(f"/proc/{pid}/status").read_text()
        return int(next(x for x in text.splitlines() if x.startswith("Threads:")).split()[1])
    return 0


def _sample_threads(pid: int | None, done: threading.Event, out: list[int]) -> None:
    """The server's thread count every 0.5 s until ``done``: the process and its direct
    children (granian's workers are forked children of ``mockcamb serve``)."""
    while pid is not None and not done.wait(0.5):
        total = _threads(pid)
        with contextlib.suppress(OSError, ValueError):
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            total += sum(_threads(int(c)) for c in children)
        out.append(total)


def _probe(url: str, seconds: float, out: list[WrkResult]) -> None:
    out.append(run_wrk(url, threads=1, connections=1, seconds=seconds, headers=KEY_HEADER))


def _stats(times: list[float]) -> Results:
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "n": len(times),
    }


def _poll_until_final(session: Any, url: str, headers: dict[str, str]) -> int:
    """A plain polling client: GET the status every 15 s until it is final."""
    polls = 0
    while True:
        polls += 1
        body = session.get(url, headers=headers, timeout=5).json()
        if body["status"] in ("SUCCESS", "FAILED", "ERROR", "TIMEOUT", "PAYMENT_REQUIRED"):
            return polls
        time.sleep(15)


def _time_virtual_poll(mode: str, repeat: int) -> Results:
    """Time the ten-minute task through the HTTP fixture's controller or in process."""
    import requests

    from mockcamb.virtual_time import virtual_time

    if mode == "http":
        from mockcamb.testing import serve_in_thread

        ctx: Any = serve_in_thread()
    else:
        from mockcamb.responses_mode import intercept

        ctx = intercept()
    times: list[float] = []
    polls = 0
    virtual = 0.0
    with ctx as mock, requests.Session() as session:
        for _ in range(repeat):
            mock.reset()
            t0 = time.perf_counter()
            task_id = mock.create_task("story", "ten_minute_job")
            with virtual_time(mock.advance) as vt:
                polls = _poll_until_final(session, f"{mock.base_url}/story/{task_id}", mock.headers)
            times.append(time.perf_counter() - t0)
            virtual = vt.elapsed
    return {**_stats(times), "polls": polls, "virtual_s": virtual}


def _time_sdk_poll(mode: str, repeat: int) -> Results:
    """Time the ten-minute story through the official SDK (``CambAI`` or ``AsyncCambAI``, built
    as an application builds it) in the httpx mode, in virtual time: the task is created and
    polled every 15 s to SUCCESS inside the timed span. The client is built before it, as an
    application keeps one; building it is timed apart (``client_s``: httpx loads the CA bundle
    into a new SSL context, in process or not)."""
    import asyncio

    from camb.client import AsyncCambAI, CambAI

    from mockcamb.httpx_mode import intercept
    from mockcamb.virtual_time import virtual_time

    async def poll_async(client: Any, task_id: str) -> int:
        polls = 1
        while (await client.story.get_story_status(task_id)).status != "SUCCESS":
            polls += 1
            await asyncio.sleep(15)
        return polls

    def poll_sync(client: Any, task_id: str) -> int:
        polls = 1
        while client.story.get_story_status(task_id).status != "SUCCESS":
            polls += 1
            time.sleep(15)
        return polls

    times: list[float] = []
    builds: list[float] = []
    polls = 0
    virtual = 0.0
    with intercept() as mock:
        for _ in range(repeat + 1):  # the first run warms the SDK's lazy imports up
            mock.reset()
            t0 = time.perf_counter()
            client = AsyncCambAI(api_key="k") if mode == "async" else CambAI(api_key="k")
            builds.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            task_id = mock.create_task("story", "ten_minute_job")
            with virtual_time(mock.advance) as vt:
                if mode == "async":
                    polls = asyncio.run(poll_async(client, task_id))
                else:
                    polls = poll_sync(client, task_id)
            times.append(time.perf_counter() - t0)
            virtual = vt.elapsed
    first = times.pop(0)
    return {
        **_stats(times),
        "first_s": first,
        "client_s": statistics.median(builds[1:]),
        "polls": polls,
        "virtual_s": virtual,
    }


def _time_core_poll(repeat: int) -> Results:
    from mockcamb.core.clock import ManualClock
    from mockcamb.core.emulator import Emulator

    times: list[float] = []
    polls = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        emu = Emulator(clock=ManualClock())
        task = emu.create_task("story", None, "ten_minute_job")
        polls = 0
        while True:
            polls += 1
            if emu.status("story", task.task_id, "k").body["status"] == "SUCCESS":
                break
            emu.advance(15)
        times.append(time.perf_counter() - t0)
    return {**_stats(times), "polls": polls}


def _child(argv: list[str]) -> Results:
    """Run ``run.py --child ...`` in a fresh interpreter (clean RSS) and read its JSON."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", *argv],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {argv} failed: {out.stderr[-2000:]}")
    result: Results = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _pytest_fixture_setup(logdir: Path) -> Results:
    """Run two tiny tests with the `mockcamb` fixture; read their setup durations."""
    test = logdir / "test_fixture_startup.py"
    test.write_text(
        "import requests\n\n"
        "def test_first(mockcamb):\n"
        "    r = requests.get(f'{mockcamb.base_url}/story/x', headers=mockcamb.headers)\n"
        "    assert r.status_code == 404\n\n"
        "def test_second(mockcamb):\n"
        "    r = requests.get(f'{mockcamb.base_url}/story/x', headers=mockcamb.headers)\n"
        "    assert r.status_code == 404\n"
    )
    argv = [
        sys.executable,
        "-m",
        "pytest",
        str(test),
        "-q",
        "-p",
        "no:cacheprovider",
        "--durations=0",
        "--durations-min=0",
        "--rootdir",
        str(logdir),
        "-c",
        os.devnull,
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, cwd=logdir)
    text = out.stdout + out.stderr
    found = dict(
        (name, float(sec)) for sec, name in re.findall(r"([\d.]+)s setup\s+\S+::(test_\w+)", text)
    )
    if "test_first" not in found:
        return {"error": f"pytest exit {out.returncode}: {text[-500:]}", "command": argv}
    return {
        "setup_s": found["test_first"],
        "next_setup_s": found.get("test_second", 0.0),
        "command": " ".join(argv),
    }


# --- children -------------------------------------------------------------------------


def child_tasks(n: int, mode: str) -> Results:
    """Bytes per idle task: ``n`` tasks with generated ids, default scenario."""
    from mockcamb.core.clock import ManualClock
    from mockcamb.core.emulator import Emulator

    emu = Emulator(clock=ManualClock())
    emu.create_task("story")  # warm caches (preset parse, id generator)
    gc.collect()
    if mode == "tracemalloc":
        import tracemalloc

        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = self_rss_kb() * 1024
    t0 = time.perf_counter()
    for i in range(n):
        emu.create_task("story" if i % 2 else "project-setup")
    elapsed = time.perf_counter() - t0
    gc.collect()
    after = tracemalloc.get_traced_memory()[0] if mode == "tracemalloc" else self_rss_kb() * 1024
    return {
        "tasks": emu.task_count(),
        "total_bytes": after - before,
        "bytes_per_task": (after - before) / n,
        "create_us": elapsed / n * 1e6,
    }


def child_journal(n: int) -> Results:
    """RSS over ``n`` Emulator.status calls with the journal on (default ring of 10,000)."""
    from mockcamb.core.clock import RealClock
    from mockcamb.core.emulator import Emulator

    emu = Emulator(clock=RealClock())
    ids = [emu.create_task("story", f"t{i}", "never_finishes").task_id for i in range(1000)]
    headers = [("Host", f"{HOST}:8080"), ("x-api-key", API_KEY), ("User-Agent", "bench")]
    gc.collect()
    rss = [self_rss_kb() / 1024]
    step = max(1, n // 10)
    t0 = time.perf_counter()
    for i in range(n):
        task_id = ids[i % 1000]
        emu.status("story", task_id, API_KEY, path=f"/apis/story/{task_id}", headers=headers)
        if (i + 1) % step == 0:
            rss.append(self_rss_kb() / 1024)
    elapsed = time.perf_counter() - t0
    return {
        "calls": n,
        "rss_mib": rss,
        "growth_after_fill_mib": max(rss[1:]) - rss[1],
        "us_per_call": elapsed / n * 1e6,
        "journal_len": len(emu.journal()),
        "journal_size": emu.settings.journal_size,
    }


def child_ttl(n: int) -> Results:
    from mockcamb.core.clock import ManualClock
    from mockcamb.core.emulator import Emulator

    emu = Emulator(clock=ManualClock())
    emu.configure({"finished_ttl": 60})
    ids = [emu.create_task("story", None, "instant_success").task_id for _ in range(n)]
    for task_id in ids:
        emu.status("story", task_id, API_KEY)
    emu.clear_journal()
    gc.collect()
    rss_before = self_rss_kb() / 1024
    before = emu.task_count()
    emu.advance(61)
    emu.create_task("story")  # expiry runs on the next create or poll
    after = emu.task_count()
    gc.collect()
    return {
        "before": before,
        "after": after,
        "rss_before_mib": rss_before,
        "rss_after_mib": self_rss_kb() / 1024,
    }


def child_cap(store_kind: str, cap: int, creates: int) -> Results:
    """The cost of ``Emulator.create_task`` below ``max_tasks``, then at it with only
    unfinished tasks to evict (the oldest goes), then with finished ones (they go first)."""
    from mockcamb.core.clock import ManualClock
    from mockcamb.core.emulator import Emulator

    if store_kind == "redis":
        redis_server = shutil.which("redis-server")
        if redis_server is None or importlib.util.find_spec("redis") is None:
            return {"missing": "redis-server and pip install redis"}
        port = free_port()
        server = subprocess.Popen(
            [redis_server, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        # a tenth of the tasks: each create is a network round trip
        cap, creates = cap // 10, creates // 10
        try:
            return _cap_figures(_redis_emulator(port), cap, creates)
        finally:
            server.terminate()
            server.wait(10)
    return _cap_figures(Emulator(clock=ManualClock()), cap, creates)


def _redis_emulator(port: int) -> Any:
    from mockcamb.core.emulator import Emulator
    from mockcamb.stores.redis.store import RedisStore

    deadline = time.monotonic() + 10
    while True:
        try:
            return Emulator(store=RedisStore(f"redis://{HOST}:{port}/0", clock="manual"))
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _cap_figures(emu: Any, cap: int, creates: int) -> Results:
    def timed(scenario: str, n: int) -> Results:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            emu.create_task("story", None, scenario)
            times.append(time.perf_counter() - t0)
        times.sort()
        return {
            "median_us": times[len(times) // 2] * 1e6,
            "p99_us": times[int(len(times) * 0.99)] * 1e6,
            "mean_us": statistics.mean(times) * 1e6,
        }

    emu.configure({"max_tasks": cap, "journal_size": 0})
    emu.create_task("story", None, "never_finishes")  # parse the preset first
    for _ in range(cap - creates - 1):
        emu.create_task("story", None, "never_finishes")
    out: Results = {"cap": cap, "creates": creates, "below": timed("never_finishes", creates)}
    out["cap_unfinished"] = timed("never_finishes", creates)
    for _ in range(creates):  # finished tasks to evict first
        task = emu.create_task("story", None, "instant_success")
        emu.status("story", task.task_id, API_KEY)
    out["cap_finished"] = timed("never_finishes", creates)
    out["tasks"] = emu.task_count()
    return out


def child_fixture_start(repeat: int) -> Results:
    t_cold = time.perf_counter()
    import requests

    from mockcamb.testing import serve_in_thread

    times = []
    cold = 0.0
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        with serve_in_thread() as mock:
            requests.get(f"{mock.base_url}/story/x", headers=mock.headers, timeout=5)
            dt = time.perf_counter() - t0
        if i == 0:
            cold = time.perf_counter() - t_cold
        else:
            times.append(dt)
    # the interpreter's own start-up is not in t_cold; the parent adds nothing either
    return {**_stats(times), "cold_s": cold}


def run_child(argv: list[str]) -> None:
    kind, *rest = argv
    handlers: dict[str, Callable[..., Results]] = {
        "tasks": lambda n, mode: child_tasks(int(n), mode),
        "journal": lambda n: child_journal(int(n)),
        "ttl": lambda n: child_ttl(int(n)),
        "fixture-start": lambda n: child_fixture_start(int(n)),
        "cap": lambda store, cap, n: child_cap(store, int(cap), int(n)),
    }
    print(json.dumps(handlers[kind](*rest)))


# --- main -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run (<= 10)")
    p.add_argument(
        "--rounds", type=int, default=2, help="throughput rounds (interleaved; best of each)"
    )
    p.add_argument("--repeat", type=int, default=5, help="repeats for start-up/virtual time")
    p.add_argument("--tasks", type=int, default=100_000, help="idle tasks for the memory figure")
    p.add_argument("--requests", type=int, default=1_000_000, help="in-process status calls")
    p.add_argument("--no-peers", action="store_true", help="do not install or run the peers")
    p.add_argument(
        "--scratch",
        default=os.environ.get("MOCKCAMB_BENCH_SCRATCH", "/tmp/mockcamb-bench-peers"),
        help="folder for the npm peers (default /tmp/mockcamb-bench-peers)",
    )
    p.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    p.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        run_child(args.child)
        return 0
    args.seconds = min(max(args.seconds, 1.0), 10.0)
    print("mockcamb benchmarks (issue 6): loopback only, each load run bounded")
    info = machine_info()
    print_machine(info)
    print(f"command     {' '.join([sys.executable, *sys.argv])}")
    chosen = args.only or list(SECTIONS)
    if set(chosen) - _NO_WRK_SECTIONS and ensure_wrk() is None:
        print("wrk is not available and could not be installed: apt-get install -y wrk")
        return 2
    bench = Bench(args)
    bench.results["machine"] = info
    print(f"logs        {bench.logdir}")
    print(f"serve argv  {' '.join(bench.serve_argv(0))}  (port chosen per run)")
    print(f"load        wrk -t2 -c32 -d{args.seconds:g}s --latency -H 'x-api-key: ...' URL")
    steps: dict[str, Callable[[], None]] = {
        "throughput": bench.throughput,
        "latency": bench.latency,
        "one-connection": bench.one_connection,
        "virtual-time": bench.virtual_time,
        "memory": bench.memory,
        "startup": bench.startup,
        "dashboard": bench.dashboard,
        "sdk-in-process": bench.sdk_in_process,
        "adapters": bench.adapters,
        "cap": bench.cap,
    }
    for name in SECTIONS:
        if name in chosen:
            steps[name]()
    bench.summary()
    if args.json:
        Path(args.json).write_text(json.dumps(bench.results, indent=2, default=str))
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
