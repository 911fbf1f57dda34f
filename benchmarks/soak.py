"""Soak test (opt-in, ``make soak``): many concurrent pollers over thousands of poll- and
time-driven tasks with random faults, against ``mockcamb serve`` on 127.0.0.1, bounded in time.

Afterwards every task's observed answers must follow its scenario exactly: the client's record
of each request matches the server's per-task history, and an independent replay of the
scenario (steps, poll and probability faults, clock-driven steps, at the clock the server
stamped on each request) predicts every answer. Nothing reverts, no request is answered 5xx
unless a scenario injected it, and after finished tasks expire the server's memory is back
within bounds. Exit status 0 when all of that holds, 1 otherwise.

With ``--redis-restart`` the server is ``mockcamb serve --store redis://... --workers 2`` on a
redis-server of the soak's own, which is shut down (``SHUTDOWN SAVE``) halfway through and
started again on its saved data after ``--redis-down`` seconds. Then, besides the above: every
answer during the outage is a JSON 503 with ``Retry-After``, none comes after Redis is back;
no answer given before is lost (each is in the server's history, in order); no task reverts
(one that answered a final status never answers another); a request that reached Redis
just as it went down may be counted without an answer (a 503 to the client), nothing else.

    python benchmarks/soak.py                         # 60 s, 3,000 tasks, 64 pollers
    python benchmarks/soak.py --seconds 20 --tasks 500 --pollers 16
    python benchmarks/soak.py --redis-restart --seconds 40 --tasks 1500 --pollers 32
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    API_KEY,
    HOST,
    Proc,
    free_port,
    http_json,
    machine_info,
    print_machine,
    redis_command,
    start_process,
    start_redis,
    tree_rss_kb,
    wait_until_answers,
)

from mockcamb.core import rand
from mockcamb.core.statuses import FINAL_STATUSES

GARBAGE_FAULTS = ("non_json", "empty_body", "truncated_json", "malformed_json")
HISTORY_LIMIT = 400  # per-task history kept by the server; polls per task stay below it
EXTRA_FINAL_POLLS = 3  # polls after the first final answer, to see that nothing reverts
#: The start of the detail of the 503 the Redis store answers while it is unavailable.
OUTAGE_MARK = b"mockcamb's store (Redis at"


# --- scenarios ---------------------------------------------------------------------------


def make_scenario(rng: random.Random, i: int) -> dict[str, Any]:
    """A random scenario: poll-driven, time-driven or mixed steps; faults; some latency."""
    mode = rng.choice(("polls", "seconds", "mixed"))
    steps: list[dict[str, Any]] = []
    for j in range(rng.randint(1, 3)):
        status = "PENDING" if j == 0 else rng.choice(("PENDING", "RUNNING", "QUEUED"))
        use_polls = mode == "polls" or (mode == "mixed" and rng.random() < 0.5)
        if use_polls:
            steps.append({"status": status, "polls": rng.randint(1, 8)})
        else:
            steps.append({"status": status, "seconds": rng.choice((15, 30, 60, 120, 300, 600))})
    if rng.random() < 0.1:
        steps.append({"status": "PENDING"})  # never finishes
    else:
        final = rng.choice(("SUCCESS", "SUCCESS", "SUCCESS", "FAILED", "ERROR", "TIMEOUT"))
        last: dict[str, Any] = {"status": final}
        if final == "SUCCESS" and rng.random() < 0.5:
            last["run_id"] = rng.randint(1, 2**40)
        if final != "SUCCESS":
            last["message"] = f"failed on purpose ({i})"
        steps.append(last)
    faults: list[dict[str, Any]] = []
    for _ in range(rng.choice((0, 0, 1, 2, 3))):
        ftype = rng.choice(("http_error",) * 4 + ("drop_connection", *GARBAGE_FAULTS))
        fault: dict[str, Any] = {"type": ftype}
        if rng.random() < 0.3:
            fault["probability"] = rng.choice((0.02, 0.05, 0.2))
        else:
            fault["poll"] = sorted(rng.sample(range(1, 15), rng.randint(1, 3)))
        if ftype == "http_error":
            fault["http_status"] = rng.choice((429, 500, 502, 503, 504))
            if fault["http_status"] in (429, 503) and rng.random() < 0.5:
                fault["retry_after"] = rng.choice((1, 5))
        elif ftype != "drop_connection" and rng.random() < 0.5:
            fault["http_status"] = rng.choice((200, 500, 502))
        faults.append(fault)
    doc: dict[str, Any] = {"steps": steps, "faults": faults, "seed": rng.randint(0, 2**31)}
    if rng.random() < 0.05:
        doc["latency"] = {"uniform_ms": [0, 20]}
    return doc


# --- the client's record -----------------------------------------------------------------


@dataclass
class Observation:
    code: int | None  # None: the connection dropped
    body: bytes
    error: str | None = None
    at: float = 0.0  # time.monotonic() when the answer came
    retry_after: str | None = None

    @property
    def outage(self) -> bool:
        """A 503 of the store's outage (not one a scenario injected)."""
        return self.code == 503 and OUTAGE_MARK in self.body


@dataclass
class Task:
    kind: str
    task_id: str
    scenario: dict[str, Any]
    seen: list[Observation] = field(default_factory=list)
    final_at: int | None = None  # index of the first final answer
    done: bool = False

    @property
    def path(self) -> str:
        return f"/apis/{self.kind}/{quote(self.task_id, safe='')}"


class Poller(threading.Thread):
    """Polls its own tasks round-robin on one keep-alive connection until the deadline."""

    def __init__(self, port: int, tasks: list[Task], deadline: float, rng: random.Random):
        super().__init__(daemon=True)
        self.port = port
        self.tasks = tasks
        self.deadline = deadline
        self.rng = rng
        self.requests = 0
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        return self.conn

    def _drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def poll(self, task: Task) -> None:
        conn = self._connection()
        try:
            conn.request("GET", task.path, headers={"x-api-key": API_KEY})
            resp = conn.getresponse()
            body = resp.read()
            obs = Observation(resp.status, body, retry_after=resp.getheader("Retry-After"))
            if resp.getheader("Connection", "").lower() == "close":
                self._drop()
        except (http.client.HTTPException, ConnectionError) as exc:
            obs = Observation(None, b"", type(exc).__name__)
            self._drop()
        except TimeoutError as exc:  # a hung answer: recorded, and fails the check
            obs = Observation(None, b"", f"timeout: {exc}")
            self._drop()
        self.requests += 1
        obs.at = time.monotonic()
        task.seen.append(obs)
        status = _status_of(obs)
        if task.final_at is None and status in FINAL_STATUSES:
            task.final_at = len(task.seen) - 1
        if task.final_at is not None and len(task.seen) - task.final_at > EXTRA_FINAL_POLLS:
            task.done = True
        if len(task.seen) >= HISTORY_LIMIT - 10:
            task.done = True

    def run(self) -> None:
        try:
            while time.monotonic() < self.deadline:
                live = [t for t in self.tasks if not t.done]
                if not live:
                    return
                self.rng.shuffle(live)
                for task in live:
                    if time.monotonic() >= self.deadline:
                        return
                    self.poll(task)
                    # clients poll every few (scaled) seconds, not flat out
                    time.sleep(self.rng.uniform(0, 0.01))
        finally:
            self._drop()


def _status_of(obs: Observation) -> str | None:
    if obs.code != 200:
        return None
    try:
        doc = json.loads(obs.body)
    except ValueError:
        return None
    status = doc.get("status") if isinstance(doc, dict) else None
    return status if isinstance(status, str) else None


class AdminChurn(threading.Thread):
    """Reads the journal and task list and jumps the clock now and then, while pollers run."""

    def __init__(self, port: int, deadline: float, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.port, self.deadline, self.rng = port, deadline, rng
        self.calls = 0
        self.errors: list[str] = []
        self.outage_503s: list[float] = []  # when a call answered the store's 503

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            choice = self.rng.random()
            try:
                if choice < 0.4:
                    code, body = http_json(self.port, "GET", "/__admin/requests?limit=100")
                elif choice < 0.7:
                    code, body = http_json(self.port, "GET", "/__admin/tasks?limit=50")
                else:
                    seconds = self.rng.choice((1, 5, 15, 30))
                    code, body = http_json(
                        self.port, "POST", "/__admin/clock/advance", {"seconds": seconds}
                    )
                if code == 503 and OUTAGE_MARK.decode() in json.dumps(body):
                    self.outage_503s.append(time.monotonic())
                elif code >= 500:
                    self.errors.append(f"admin call answered {code}")
            except OSError as exc:
                self.errors.append(f"admin call failed: {exc}")
            self.calls += 1
            time.sleep(self.rng.uniform(0.05, 0.3))


# --- the reference model -----------------------------------------------------------------


def replay(
    doc: dict[str, Any],
    created_at: float,
    seed: int,
    history: list[dict[str, Any]],
    *,
    gaps: bool = False,
) -> list[str]:
    """Check the server's history of one task against an independent replay of its scenario.
    With ``gaps``, request numbers may skip (requests counted, then cut short by an outage:
    no answer, so no step moved).

    Returns a list of problems (empty when every request was answered as the scenario says).
    """
    steps = doc["steps"]
    faults = doc.get("faults", [])
    last = len(steps) - 1
    step, step_polls, step_started = 0, 0, created_at
    answered_final: str | None = None
    problems: list[str] = []
    for i, h in enumerate(history):
        n, now = h["request"], h["clock"]
        if n != i + 1 and not (gaps and n > (history[i - 1]["request"] if i else 0)):
            problems.append(f"history request numbers not consecutive at {i}: {n}")
            break
        while step < last and "seconds" in steps[step]:
            if now - step_started < steps[step]["seconds"]:
                break
            step_started += steps[step]["seconds"]
            step += 1
            step_polls = 0
        fault = None
        for j, f in enumerate(faults):
            if "probability" in f:
                if rand.uniform(seed, n, 1000 + j) < f["probability"]:
                    fault = f
                    break
            elif n in (f["poll"] if isinstance(f["poll"], list) else [f["poll"]]):
                fault = f
                break
        status = steps[step]["status"]
        if fault is not None:
            want_code = fault.get("http_status", 200)
            want = (want_code, None, fault.get("type", "http_error"))
        else:
            want = (200, status, None)
            step_polls += 1
            if step < last and "polls" in steps[step] and step_polls >= steps[step]["polls"]:
                step += 1
                step_polls = 0
                step_started = now
        got = (h["http_status"], h["status"], h["fault"])
        if got != want:
            problems.append(f"request {n} at clock {now:.3f}: server {got}, scenario says {want}")
        if got[1] is not None:
            if answered_final is not None and got[1] != answered_final:
                problems.append(f"request {n}: reverted from {answered_final} to {got[1]}")
            if got[1] in FINAL_STATUSES:
                answered_final = got[1]
    return problems


def compare(task: Task, snap: dict[str, Any], *, outage: bool = False) -> list[str]:
    """The client's observations against the server's record, request by request. With
    ``outage``, the store's 503s are left out: each may (just as Redis went down) or may
    not have been counted, so as many entries of the history may go unmatched."""
    problems: list[str] = []
    history = snap["history"]
    seen = [o for o in task.seen if not o.outage] if outage else task.seen
    spare = len(task.seen) - len(seen)  # history entries that may have no answer
    if not len(seen) <= snap["requests"] <= len(seen) + spare:
        problems.append(f"server counted {snap['requests']} requests, client sent {len(task.seen)}")
    injected_codes = {f.get("http_status", 200) for f in task.scenario.get("faults", [])}
    run_ids: set[Any] = set()
    pairs: list[tuple[Observation, dict[str, Any]]] = []
    j = 0
    for obs in seen:
        while spare and j < len(history) and _mismatch(obs, history[j], injected_codes, set()):
            j, spare = j + 1, spare - 1  # counted, cut short by the outage: a 503 here
        if j >= len(history):
            problems.append(f"an answer the client got is missing from the server's history ({j})")
            break
        pairs.append((obs, history[j]))
        j += 1
    for obs, h in pairs:
        problems += _mismatch(obs, h, injected_codes, run_ids)
    if len(run_ids) > 1:
        problems.append(f"run_id changed between SUCCESS answers: {sorted(map(str, run_ids))}")
    if None in run_ids:
        problems.append("SUCCESS without a run_id")
    return problems


def _mismatch(
    obs: Observation, h: dict[str, Any], injected_codes: set[int], run_ids: set[Any]
) -> list[str]:
    """How one answer the client got differs from the server's history entry for it."""
    n = h["request"]
    if obs.error is not None and obs.error.startswith("timeout"):
        return [f"request {n}: no answer ({obs.error})"]
    if h["fault"] == "drop_connection":
        if obs.code is not None:
            return [f"request {n}: dropped by the server, client got {obs.code}"]
        return []
    if obs.code is None:
        return [f"request {n}: connection dropped ({obs.error}) without a fault"]
    problems: list[str] = []
    if obs.code != h["http_status"]:
        problems.append(f"request {n}: client got {obs.code}, server says {h['http_status']}")
    if obs.code >= 500 and (h["fault"] is None or obs.code not in injected_codes):
        problems.append(f"request {n}: {obs.code} not injected by the scenario")
    if h["fault"] is None:
        try:
            body = json.loads(obs.body)
        except ValueError:
            return [*problems, f"request {n}: 200 without JSON: {obs.body[:80]!r}"]
        if body.get("status") != h["status"]:
            problems.append(f"request {n}: client saw {body.get('status')}, server {h['status']}")
        if body.get("status") == "SUCCESS":
            run_ids.add(body.get("run_id"))
    elif h["fault"] == "http_error":
        try:
            json.loads(obs.body)
        except ValueError:
            problems.append(f"request {n}: injected error without a JSON body")
    return problems


def reverted(task: Task) -> list[str]:
    """A final status answered, then another status: what the client saw, in order."""
    final: str | None = None
    for i, obs in enumerate(task.seen):
        status = _status_of(obs)
        if status is None:
            continue
        if final is not None and status != final:
            return [f"answer {i}: {status} after {final}: the task reverted"]
        if status in FINAL_STATUSES:
            final = status
    return []


class RedisRestart(threading.Thread):
    """Halfway through, shuts the soak's Redis down (``SHUTDOWN SAVE``), waits ``down``
    seconds and starts it again in the same directory, on the data it saved."""

    def __init__(self, redis: Proc, logdir: Path, at: float, down: float) -> None:
        super().__init__(daemon=True)
        self.redis, self.logdir, self.at, self.down = redis, logdir, at, down
        self.went_down = self.started = self.up = 0.0  # time.monotonic() of each
        self.error: str | None = None

    def run(self) -> None:
        time.sleep(max(0.0, self.at - time.monotonic()))
        try:
            self.went_down = time.monotonic()
            with contextlib.suppress(OSError):
                redis_command(self.redis.port, "SHUTDOWN", "SAVE")
            self.redis.popen.wait(30)
            time.sleep(self.down)
            self.started = time.monotonic()
            self.redis = start_redis(self.redis.port, self.logdir, "redis-restarted")
            self.up = time.monotonic()
        except Exception as exc:  # reported by main
            self.error = f"the Redis restart failed: {exc}"


def check_outage(
    restart: RedisRestart, tasks: list[Task], churn: AdminChurn, t0: float
) -> list[str]:
    """Print the restart's figures; the problems with the answers given around it."""
    if restart.error is not None or not restart.up:
        return [restart.error or "Redis was never restarted"]
    failures: list[str] = []
    seen = [o for t in tasks for o in t.seen]
    outage = [o for o in seen if o.outage]
    if not outage:
        return ["no answer during the outage was a 503: was Redis down at all?"]
    served = [o.at for o in seen if o.at >= restart.up and o.code is not None and not o.outage]
    recovered = min(served, default=restart.up)
    late = [o for o in outage if o.at > recovered + 5.0]  # a slow first call at most
    for o in outage:
        try:
            detail = json.loads(o.body)["detail"]
        except (ValueError, KeyError, TypeError):
            failures.append(f"an outage 503 without a JSON detail: {o.body[:80]!r}")
            break
        if not o.retry_after or not o.retry_after.isdigit() or not detail:
            failures.append(f"an outage 503 without Retry-After: {o.retry_after!r}")
            break
    early = [o for o in outage if o.at < restart.went_down]
    start = restart.went_down - time.monotonic() + time.perf_counter() - t0
    print(
        f"restart     Redis SHUTDOWN SAVE at {start:.1f} s into the polling, down "
        f"{restart.started - restart.went_down:.1f} s, answering again "
        f"{restart.up - restart.started:.2f} s after its start; first answer served "
        f"{recovered - restart.up:.2f} s after that"
    )
    first, last = min(o.at for o in outage), max(o.at for o in outage)
    print(
        f"outage      status answers 503 from {first - restart.went_down:.2f} s after the "
        f"shutdown to {last - restart.up:.2f} s after Redis answered again: {last - first:.1f} s"
    )
    print(
        f"            {len(outage):,} status answers 503 (JSON, Retry-After) and "
        f"{len(churn.outage_503s)} admin answers 503; {len(late)} more than 5 s after "
        "the first answer served again"
    )
    if early:
        failures.append(f"{len(early)} outage 503s before Redis went down")
    if late:
        failures.append(f"{len(late)} outage 503s more than 5 s after Redis was back")
    return failures


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0, help="how long pollers run (<= 600)")
    p.add_argument("--tasks", type=int, default=3000)
    p.add_argument("--pollers", type=int, default=64)
    p.add_argument("--threads", type=int, default=64, help="server worker threads")
    p.add_argument("--time-scale", type=float, default=30.0, help="server clock speed-up")
    p.add_argument("--seed", type=int, default=20261123)
    p.add_argument("--max-rss-mib", type=float, default=300.0, help="memory bound at the end")
    p.add_argument(
        "--redis-restart",
        action="store_true",
        help="serve on a redis-server of its own (2 workers), restarted halfway through",
    )
    p.add_argument("--redis-down", type=float, default=2.0, help="seconds Redis stays down")
    args = p.parse_args(argv)
    seconds = min(max(args.seconds, 5.0), 600.0)
    rng = random.Random(args.seed)

    print("mockcamb soak test: loopback only, bounded in time")
    print_machine(machine_info())
    port = free_port()
    argv_serve = [
        sys.executable, "-m", "mockcamb", "serve", "--host", HOST, "--port", str(port),
        "--quiet", "--clock", "real", "--time-scale", str(args.time_scale),
        "--api-key", API_KEY, "--threads", str(args.threads), "--seed", str(args.seed),
    ]  # fmt: skip
    logdir = Path("/tmp") / f"mockcamb-soak-{port}"
    logdir.mkdir(parents=True, exist_ok=True)
    redis: Proc | None = None
    if args.redis_restart:
        redis_port = free_port()
        redis = start_redis(redis_port, logdir)
        store = f"redis://{HOST}:{redis_port}/0?prefix=soak:"
        argv_serve += ["--store", store, "--workers", "2"]
    print(f"command     {' '.join([sys.executable, *sys.argv])}")
    print(f"server      {' '.join(argv_serve)}")
    proc = start_process("mockcamb-soak", argv_serve, port, logdir, cwd=logdir)
    restart: RedisRestart | None = None
    failures: list[str] = []
    try:
        wait_until_answers(port, "/__admin/health", timeout=30)
        code, _ = http_json(port, "PUT", "/__admin/settings", {"history_limit": HISTORY_LIMIT})
        assert code == 200, code
        rss_start = tree_rss_kb(proc.pid) / 1024

        tasks: list[Task] = []
        t0 = time.perf_counter()
        for i in range(args.tasks):
            kind = "story" if i % 2 else "project-setup"
            doc = make_scenario(rng, i)
            task_id = f"soak-{i}-{rng.getrandbits(32):08x}"
            code, body = http_json(
                port, "POST", "/__admin/tasks", {"kind": kind, "task_id": task_id, "scenario": doc}
            )
            if code != 201:
                failures.append(f"creating task {i} answered {code}: {body}")
                continue
            tasks.append(Task(kind, task_id, doc))
        created_s = time.perf_counter() - t0
        rss_created = tree_rss_kb(proc.pid) / 1024
        kinds = Counter(
            "time"
            if all("polls" not in s for s in t.scenario["steps"][:-1])
            and len(t.scenario["steps"]) > 1
            else "polls/mixed"
            for t in tasks
        )
        print(
            f"\ncreated     {len(tasks):,} tasks in {created_s:.1f} s ({dict(kinds)}), "
            f"{sum(len(t.scenario['faults']) for t in tasks):,} faults"
        )

        deadline = time.monotonic() + seconds
        shards: list[list[Task]] = [[] for _ in range(args.pollers)]
        for i, task in enumerate(tasks):
            shards[i % args.pollers].append(task)
        pollers = [Poller(port, shard, deadline, random.Random(rng.random())) for shard in shards]
        churn = AdminChurn(port, deadline, random.Random(rng.random()))
        rss_peak = rss_created
        t0 = time.perf_counter()
        for poller in pollers:
            poller.start()
        churn.start()
        if redis is not None:
            restart = RedisRestart(redis, logdir, time.monotonic() + seconds / 2, args.redis_down)
            restart.start()
        while any(p.is_alive() for p in pollers):
            time.sleep(0.5)
            rss_peak = max(rss_peak, tree_rss_kb(proc.pid) / 1024)
        churn.join()
        if restart is not None:
            restart.join(60)
        elapsed = time.perf_counter() - t0
        total = sum(p.requests for p in pollers)
        print(
            f"polled      {total:,} requests by {args.pollers} pollers in {elapsed:.1f} s "
            f"({total / elapsed:.0f} req/s), {churn.calls} admin calls alongside"
        )
        failures += churn.errors

        # --- verification -------------------------------------------------------------
        checked = finished = answered = cut_short = 0
        codes: Counter[str] = Counter()
        for task in tasks:
            code, snap = http_json(
                port, "GET", f"/__admin/tasks/{task.kind}/{quote(task.task_id, safe='')}"
            )
            if code != 200:
                failures.append(f"{task.task_id}: admin snapshot answered {code}")
                continue
            if snap["requests"] >= HISTORY_LIMIT:
                failures.append(f"{task.task_id}: more requests than the history holds")
                continue
            outage = restart is not None
            problems = compare(task, snap, outage=outage) + reverted(task)
            seed = task.scenario["seed"]
            history = snap["history"]
            problems += replay(task.scenario, snap["created_at"], seed, history, gaps=outage)
            for problem in problems:
                failures.append(f"{task.kind}/{task.task_id}: {problem}")
            checked += 1
            cut_short += snap["requests"] - sum(not o.outage for o in task.seen)
            finished += task.final_at is not None
            answered += len(task.seen)
            for obs in task.seen:
                codes["dropped" if obs.code is None else str(obs.code)] += 1
        print(
            f"verified    {checked:,} tasks, {answered:,} answers against their scenarios; "
            f"{finished:,} reached a final status"
        )
        print(f"answers     {dict(sorted(codes.items()))}")
        if restart is not None:
            failures += check_outage(restart, tasks, churn, t0)
            print(f"cut short   {cut_short} requests counted by Redis but answered 503")

        # --- memory: expire finished tasks, clear the journal --------------------------
        code, _ = http_json(port, "PUT", "/__admin/settings", {"finished_ttl": 0})
        http_json(port, "POST", "/__admin/clock/advance", {"seconds": 1})
        http_json(port, "POST", "/__admin/tasks", {"kind": "story"})  # expiry runs on create
        http_json(port, "DELETE", "/__admin/requests")
        _, health = http_json(port, "GET", "/__admin/health")
        left = health["tasks"] if isinstance(health, dict) else -1
        unfinished = sum(1 for t in tasks if t.final_at is None)
        rss_end = tree_rss_kb(proc.pid) / 1024
        print(
            f"memory      server RSS (process + workers) {rss_start:.1f} MiB at start, "
            f"{rss_created:.1f} after creating, peak {rss_peak:.1f}, {rss_end:.1f} after expiry "
            f"(bound {args.max_rss_mib:g} MiB)"
        )
        print(f"expiry      {left:,} tasks left after finished_ttl=0 ({unfinished:,} unfinished)")
        if left > unfinished + 1:
            failures.append(f"{left} tasks left after expiry, expected at most {unfinished + 1}")
        if rss_end > args.max_rss_mib:
            failures.append(f"server RSS {rss_end:.1f} MiB above {args.max_rss_mib:g} MiB")
        if proc.popen.poll() is not None:
            failures.append("the server exited during the soak")
    finally:
        proc.stop()
        if restart is not None:
            restart.redis.stop()
        elif redis is not None:
            redis.stop()
        with contextlib.suppress(OSError):
            log = (logdir / "mockcamb-soak.log").read_text()
            if "Traceback" in log or "internal error" in log:
                failures.append(f"server log has errors: see {logdir / 'mockcamb-soak.log'}")
            if restart is not None:
                down, back = log.count("is unavailable ("), log.count("is back after")
                print(f"server log  {down} 'unavailable' and {back} 'back' lines (2 workers)")
                if not 1 <= down <= 2 or not 1 <= back <= 2:
                    failures.append(f"{down} outage and {back} recovery log lines, not 1-2 each")

    if failures:
        print(f"\nFAIL: {len(failures)} problems; the first 20:")
        for line in failures[:20]:
            print(f"  {line}")
        return 1
    print("\nPASS: every answer followed its scenario; no unexpected 5xx; memory within bounds")
    if restart is not None:
        print("      and through the Redis restart: no answer lost, no task reverted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
