"""What the request journal costs in memory when every request carries big headers, on the
memory store (this process's RSS) and on the Redis store (redis-server's RSS and
``used_memory``): ``journal_size`` at its maximum, so only the byte budget can bound it.

Each store is measured in a fresh child process: the emulator is built, warmed up with a few
requests, its RSS read; then ``--requests`` status polls (through ``Emulator.status``, the call
every transport makes) each with ``--headers`` headers of ``--value`` characters; the RSS read
again. Bounded: it stops after ``--seconds`` (at most 60) whatever the count reached.

    python benchmarks/journal_bytes.py [--requests 30000] [--seconds 50] [--json FILE]

Runs against the mockcamb on ``sys.path`` (``PYTHONPATH=/path/to/other/checkout`` measures
another; one without ``journal_bytes`` is run with ``journal_size`` 10,000,000 instead).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port


def rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(store_url: str, requests: int, headers: int, value: int, seconds: float) -> None:
    """One measurement, printed as one JSON line."""
    from mockcamb.core.emulator import Emulator
    from mockcamb.core.settings import Settings

    store = None
    redis_pid = None
    if store_url != "memory":
        from mockcamb.stores.redis.store import RedisStore

        store = RedisStore(f"{store_url}?prefix=jb-{uuid.uuid4().hex[:8]}:")
        redis_pid = int(store.r.info("server")["process_id"])
    emu = Emulator(store=store)
    bounded = "journal_bytes" in Settings().to_dict()
    doc: dict[str, Any] = {"unknown_task": "auto", "history_limit": 0}
    doc["journal_size"] = 1_000_000 if bounded else 10_000_000
    emu.configure(doc)
    hdrs = [(f"X-Big-{i}", chr(97 + i % 26) * value) for i in range(headers)]

    def measure() -> dict[str, float]:
        out = {"rss_mib": rss_mib()}
        if store is not None and redis_pid is not None:
            out["redis_rss_mib"] = rss_mib(redis_pid)
            out["redis_used_mib"] = int(store.r.info("memory")["used_memory"]) / 2**20
        return out

    for i in range(100):
        emu.status("story", f"t{i % 100}", "k", headers=hdrs)
    emu.clear_journal()
    before = measure()
    start = time.perf_counter()
    done = 0
    while done < requests and time.perf_counter() - start < seconds:
        emu.status("story", f"t{done % 100}", "k", headers=hdrs)
        done += 1
    elapsed = time.perf_counter() - start
    after = measure()
    journal = emu.journal()
    text = sum(len(json.dumps(e)) for e in journal)
    print(
        json.dumps(
            {
                "store": "memory" if store is None else "redis",
                "bounded": bounded,
                "requests": done,
                "seconds": round(elapsed, 2),
                "us_per_request": round(elapsed / max(done, 1) * 1e6, 1),
                "kept": len(journal),
                "journal_json_mib": round(text / 2**20, 2),
                "entry_json_bytes": round(text / max(len(journal), 1)),
                "before": before,
                "after": after,
            }
        )
    )
    if store is not None:
        store.reset()
        store.close()


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="jb-redis-")
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    proc = subprocess.Popen(
        [*argv, "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(
                ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
            )
            if ping.stdout.strip() == "PONG":
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=30_000)
    ap.add_argument("--headers", type=int, default=32)
    ap.add_argument("--value", type=int, default=400)
    ap.add_argument("--seconds", type=float, default=25.0, help="per store, at most 30")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    seconds = min(args.seconds, 30.0)
    if args.child:
        child(args.child, args.requests, args.headers, args.value, seconds)
        return 0
    results = []
    with contextlib.ExitStack() as stack:
        urls = ["memory"]
        if shutil.which("redis-server"):
            urls.append(stack.enter_context(redis_server()))
        else:
            print("redis-server not on PATH: the Redis store is not measured")
        for url in urls:
            argv = [sys.executable, __file__, "--child", url, "--requests", str(args.requests)]
            argv += ["--headers", str(args.headers), "--value", str(args.value)]
            argv += ["--seconds", str(seconds)]
            out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
            if out.returncode:
                print(out.stderr, file=sys.stderr)
                return 1
            res = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(res)
            print(json.dumps(res))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
