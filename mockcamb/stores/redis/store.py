"""A :class:`~mockcamb.stores.base.Store` on Redis, so that several workers and hosts serve
one set of tasks: one poll count per task, one clock, one journal, one set of settings.

Every poll is one Lua script (poll.lua), atomic on the server: the rules of
:mod:`mockcamb.core.machine` mirrored, and the journal entry of :mod:`mockcamb.core.journal`
appended in the same step. Scenarios that draw probability faults take two calls (count,
then answer), because the draw (:func:`~mockcamb.core.machine.pick_fault`) is made in Python
from the request number. Counters (run ids, generated task ids, journal numbers) are Redis
INCRs; the journal is a capped list; settings are a JSON document with a version that every
script checks, so a change made through one worker is seen by the next request to any
other. API keys are kept only as salted digests. The keys: :mod:`.scripts`.

Needs the ``redis`` package (``pip install 'mockcamb[redis]'``); one Redis node (a primary,
with replicas if wanted), not Redis Cluster.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from ...core import machine
from ...core.clock import check_advance
from ...core.errors import ConfigError
from ...core.journal import Request, known_members
from ...core.machine import Poll, TaskState
from ...core.scenario import Fault, Scenario, parse_scenario
from ...core.settings import Settings, update_settings
from ..base import StaleSettings
from . import scripts
from .wire import RawScript, import_redis

if TYPE_CHECKING:  # pragma: no cover
    import redis

DEFAULT_PREFIX = "mockcamb:"
_SCENARIO_CACHE = 4096


# --- helpers -----------------------------------------------------------------------------


def parse_store_url(url: str) -> tuple[str, str]:
    """Split ``redis://host:port/db?prefix=p:`` into the connection URL and the key prefix."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"--store: must be 'memory' or a redis://host:port/db URL, got {url[:100]!r}"
        )
    query = parse_qs(parts.query)
    prefix = query.pop("prefix", [DEFAULT_PREFIX])[-1]
    if not prefix or len(prefix) > 100:
        raise ConfigError("--store: prefix must be 1 to 100 characters")
    rest = "&".join(f"{k}={v}" for k, vs in query.items() for v in vs)
    return parts._replace(query=rest).geturl(), prefix


def _fnum(text: Any) -> float:
    return float(text.decode() if isinstance(text, bytes) else text)


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ttl(settings: Settings) -> str:
    return "" if settings.finished_ttl is None else repr(settings.finished_ttl)


_FLOAT_ATTRS = frozenset({"created_at", "step_started", "finished_at"})


class _DigestSet(frozenset[str]):
    """Accepted API keys as salted digests: ``key in keys`` hashes the key first."""

    digest: Callable[[str], str]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and frozenset.__contains__(self, self.digest(key))


# --- the clock ---------------------------------------------------------------------------


class RedisClock:
    """The clock every worker shares: a manual offset, or wall time (Redis server time) since
    an origin, times ``time_scale``, plus the offset. Each read is one round trip."""

    def __init__(self, store: RedisStore, kind: str, time_scale: float = 1.0) -> None:
        if kind not in ("manual", "real"):
            raise ConfigError(f"clock: must be 'real' or 'manual', got {kind!r}")
        if not isinstance(time_scale, (int, float)) or not time_scale > 0:
            raise ConfigError(f"time_scale: must be a number > 0, got {time_scale!r}")
        self.kind = kind
        self.time_scale = float(time_scale)
        self._store = store
        store._clock_op("init", kind, repr(self.time_scale))

    def now(self) -> float:
        return self._store._clock_op("now")

    def advance(self, seconds: float) -> float:
        return self._store._clock_op("advance", repr(check_advance(seconds, self.now())))

    def reset(self) -> None:
        self._store._clock_op("reset")


# --- the store ---------------------------------------------------------------------------


class RedisStore:
    """Emulator state in Redis under ``prefix``; safe for any number of workers and hosts."""

    shared = True

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str | None = None,
        clock: str = "manual",
        time_scale: float = 1.0,
        settings: Settings | None = None,
        client: redis.Redis | None = None,
    ) -> None:
        redis_mod = import_redis()
        conn_url, url_prefix = parse_store_url(url)
        self.url = url
        self.prefix = prefix or url_prefix
        try:
            self.r: redis.Redis = client or redis_mod.Redis.from_url(
                conn_url, socket_connect_timeout=5, socket_timeout=30, max_connections=256
            )
            self.r.ping()
        except ValueError as exc:
            raise ConfigError(f"--store: bad Redis URL {url[:100]!r}: {exc}") from None
        except redis_mod.RedisError as exc:
            raise ConfigError(
                f"--store: cannot reach Redis at {_safe_url(conn_url)}: {exc}"
            ) from None
        p = self.prefix
        self._k_settings, self._k_version = p + "settings", p + "settings:v"
        self._poll_script = self.r.register_script(scripts.source("poll"))
        self._poll_script.sha = self.r.script_load(self._poll_script.script)
        self._raw = RawScript(self.r, self._poll_script)
        self._add = self.r.register_script(scripts.source("add"))
        self._record = self.r.register_script(scripts.source("record"))
        self._clock_script = self.r.register_script(scripts.source("clock"))
        self.r.set(p + "salt", secrets.token_hex(16), nx=True)
        self._salt = _str(self.r.get(p + "salt")).encode()
        self._scenarios: dict[str, Scenario] = {}
        self._ids: dict[int, tuple[Scenario, str]] = {}
        self._stored: set[str] = set()
        self._version = ""
        self._settings = Settings()
        self._static: list[bytes] = []
        self.clock = RedisClock(self, clock, time_scale)
        if settings is not None:
            self.set_settings(settings)
        elif not self.refresh():
            self.set_settings(self._settings)

    # --- plumbing -----------------------------------------------------------------------

    def _clock_op(self, op: str, a: str = "", b: str = "") -> float:
        return _fnum(self._clock_script(args=[self.prefix, op, a, b]))

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one store per process
    def _digest(self, key: str) -> str:
        return hmac.new(
            self._salt, key.encode("utf-8", "surrogatepass"), hashlib.sha256
        ).hexdigest()

    def _scenario_id(self, scenario: Scenario) -> str:
        """The content address of a scenario, stored in Redis (doc for Python, plan for Lua)."""
        hit = self._ids.get(id(scenario))
        if hit is not None and hit[0] is scenario:
            sid = hit[1]
        else:
            doc = json.dumps(scenario.to_dict(), sort_keys=True, separators=(",", ":"))
            sid = hashlib.sha256(doc.encode()).hexdigest()[:32]
            if len(self._ids) >= _SCENARIO_CACHE:
                self._ids.clear()
            self._ids[id(scenario)] = (scenario, sid)
            self._scenarios.setdefault(sid, scenario)
        if sid not in self._stored:
            key = self.prefix + "sc:" + sid
            doc = json.dumps(scenario.to_dict(), separators=(",", ":"))
            pipe = self.r.pipeline(transaction=False)
            pipe.hsetnx(key, "doc", doc)
            pipe.hsetnx(key, "plan", scripts.plan(scenario))
            pipe.execute()
            if len(self._stored) >= _SCENARIO_CACHE:
                self._stored.clear()
            self._stored.add(sid)
        return sid

    def _scenario(self, sid: str) -> Scenario:
        sc = self._scenarios.get(sid)
        if sc is None:
            doc = self.r.hget(self.prefix + "sc:" + sid, "doc")
            if doc is None:
                raise ConfigError(f"store: scenario {sid} is missing from Redis")
            sc = parse_scenario(json.loads(doc))
            if len(self._scenarios) >= _SCENARIO_CACHE:
                self._scenarios.clear()
            self._scenarios[sid] = sc
        return sc

    def _poll(self, args: list[Any]) -> list[Any]:
        if self._raw.usable:
            return self._raw(args)
        out: list[Any] = self._poll_script(args=args)
        return out

    @staticmethod
    def _member(kind: str, task_id: str) -> str:
        return f"{kind}\n{task_id}"

    # --- settings -----------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self._settings

    def _adopt(self, settings: Settings, version: str) -> None:
        keys = settings.api_keys
        if keys is not None and not isinstance(keys, _DigestSet):
            digests = _DigestSet(self._digest(k) for k in keys)
            digests.digest = self._digest
            settings = replace(settings, api_keys=digests)
        elif isinstance(keys, _DigestSet):
            keys.digest = self._digest
        self._settings = settings
        self._version = version
        self._scenario_id(settings.default_scenario)
        self._restatic()

    def _restatic(self) -> None:
        """poll.lua's arguments that change only with the settings, pre-encoded."""
        s = self._settings
        values: dict[str, Any] = {
            "prefix": self.prefix,
            "version": self._version,
            "max_tasks": s.max_tasks,
            "ttl": _ttl(s),
            "history_limit": s.history_limit,
            "global_faults": json.dumps(scripts.fault_list(s.faults)),
            "global_prob": "1" if any(f.probability is not None for f in s.faults) else "0",
            "journal_size": s.journal_size,
            "global_delay": scripts.fixed_delay_ms(s.latency),
            "first_run_id": machine.FIRST_RUN_ID,
        }
        names = scripts.POLL_ARGV[: scripts.SETTINGS_ARGS]
        self._static = [str(values[name]).encode() for name in names]

    def set_settings(self, settings: Settings) -> None:
        self._adopt(settings, "")
        doc = self._settings.to_dict()
        keys = self._settings.api_keys
        doc["api_keys"] = None if keys is None else sorted(keys)
        size = self._settings.journal_size
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self._k_settings, json.dumps(doc))
        pipe.incr(self._k_version)
        if size:  # the journal ring keeps its last ``size`` entries, as MemoryStore's does
            pipe.ltrim(self.prefix + "j", 0, size - 1)
        else:
            pipe.delete(self.prefix + "j")
        self._version = str(pipe.execute()[1])
        self._restatic()

    def refresh(self) -> bool:
        version = self.r.get(self._k_version)
        if version is None or _str(version) == self._version:
            return False
        self._load()
        return True

    def _load(self) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.get(self._k_version)
        pipe.get(self._k_settings)
        version, raw = pipe.execute()
        if version is None or raw is None:  # the database was flushed: share ours again
            self.set_settings(self._settings)
            return
        doc = json.loads(raw)
        digests = doc.pop("api_keys", None)
        settings = update_settings(Settings(), doc)
        if digests is not None:
            keys = _DigestSet(digests)
            keys.digest = self._digest
            settings = replace(settings, api_keys=keys)
        self._adopt(settings, _str(version))

    def now(self) -> float:
        return self.clock.now()

    # --- tasks --------------------------------------------------------------------------

    def next_created(self) -> int:
        return int(self.r.incr(self.prefix + "ctr:created"))

    def add(self, task: TaskState) -> bool:
        s = self._settings
        sid = self._scenario_id(task.scenario)
        member = self._member(task.kind, task.task_id)
        out = self._add(
            args=[self.prefix, member, sid, str(task.seed_key), s.max_tasks, _ttl(s)]
        )
        if not int(out[0]):
            return False
        task.created_at = task.step_started = _fnum(out[1])
        return True

    def _load_task(self, kind: str, task_id: str, history: bool) -> TaskState | None:
        member = self._member(kind, task_id)
        pipe = self.r.pipeline(transaction=True)
        pipe.hgetall(self.prefix + "t:" + member)
        if history:
            pipe.lrange(self.prefix + "h:" + member, 0, -1)
        got = pipe.execute()
        h = {_str(k): v for k, v in got[0].items()}
        if "sc" not in h:
            return None
        task = TaskState(kind, task_id, self._scenario(_str(h["sc"])), 0.0, 0)
        for name, attr in scripts.TASK_FIELDS.items():
            if name != "sc" and name in h:
                setattr(task, attr, _fnum(h[name]) if attr in _FLOAT_ATTRS else int(h[name]))
        if history:  # as poll.lua trimmed it (MemoryStore trims at the next poll too)
            task.history = deque(tuple(json.loads(e)) for e in got[1])
        return task

    def get(self, kind: str, task_id: str) -> TaskState | None:
        return self._load_task(kind, task_id, history=False)

    def fresh(self, task: TaskState) -> TaskState:
        # poll.lua's 'view' phase: machine.settle on the server (run id, finish), not counted
        args = [*self._static, self._member(task.kind, task.task_id), b"", b"", b"", b"", b"view"]
        while _str(self._poll(args)[0]) == "STALE":
            self._load()
            args[: scripts.SETTINGS_ARGS] = self._static
        current = self._load_task(task.kind, task.task_id, history=True)
        if current is None:  # gone meanwhile: its steps only
            task.settle(self.clock.now())
            return task
        return current

    def count(self) -> int:
        return int(self.r.zcard(self.prefix + "tasks"))

    def all(self, kind: str | None, limit: int) -> list[TaskState]:
        members = [_str(m) for m in self.r.zrange(self.prefix + "tasks", 0, -1)]
        pairs = [m.split("\n", 1) for m in members]
        chosen = [(k, t) for k, t in pairs if kind is None or k == kind][-limit:]
        out = [self._load_task(k, t, history=False) for k, t in chosen]
        return [t for t in out if t is not None]

    def run_task(self, run_id: int) -> TaskState | None:
        member = self.r.hget(self.prefix + "runs", str(run_id))
        if member is None:
            return None
        kind, task_id = _str(member).split("\n", 1)
        return self._load_task(kind, task_id, history=False)

    def poll(
        self, kind: str, task_id: str, auto: Scenario | None, request: Request
    ) -> Poll | None:
        s = self._settings
        auto_id, auto_key = "", ""
        scenario = machine.created_with(auto, task_id)
        if scenario is not None:
            auto_id = self._scenario_id(scenario)
            auto_key = str(machine.seed_key(kind, task_id, scenario, s.seed))
        head, tail = known_members(request, kind, task_id)
        args: list[Any] = [*self._static, self._member(kind, task_id), auto_id, auto_key]
        args += (head, tail, b"poll")
        out = self._poll(args)
        tag = _str(out[0])
        if tag == "NOSC" and scenario is not None:  # the store was reset by another worker
            self._stored.discard(auto_id)
            self._scenario_id(scenario)
            out = self._poll(args)
            tag = _str(out[0])
        if tag == "STALE":
            self._load()
            raise StaleSettings
        fault: Fault | None = None
        if tag == "BEGIN":  # probability faults: the draw is made here, from the number
            n, now, age = int(out[1]), _fnum(out[2]), _fnum(out[2]) - _fnum(out[5])
            fault = machine.pick_fault(self._scenario(_str(out[3])), s.faults, int(out[4]), n, age)
            code, ftype = ("", "") if fault is None else (fault.http_status, fault.type)
            args[scripts.PHASE_ARG :] = [b"answer", n, repr(now), code, ftype]
            out = self._poll(args)
            tag = _str(out[0])
        if tag != "OK":
            return None
        return self._polled(kind, task_id, out, fault)

    def _polled(self, kind: str, task_id: str, out: list[Any], fault: Fault | None) -> Poll:
        """The :class:`Poll` of poll.lua's 'OK' answer. Its task is partial: what answering
        and journaling read (scenario, seed key, created_at, requests, step)."""
        n, now, step_i, run_id = int(out[1]), _fnum(out[2]), int(out[3]), _str(out[4])
        src, idx = int(out[5]), int(out[6])
        scenario = self._scenario(_str(out[7]))
        task = TaskState(kind, task_id, scenario, _fnum(out[9]), int(out[8]))
        task.requests = n
        task.step = step_i
        if src == 1:
            fault = scenario.faults[idx]
        elif src == 2:
            fault = self._settings.faults[idx]
        step = scenario.steps[step_i]
        return Poll(task, n, now, step, fault, int(run_id) if run_id else None, bool(int(out[10])))

    # --- journal ------------------------------------------------------------------------

    def peek_seq(self) -> int:
        return int(self.r.get(self.prefix + "j:seq") or 0)

    def record(self, entry: dict[str, Any]) -> None:
        size = self._settings.journal_size
        if size == 0:
            return
        text = json.dumps(entry, separators=(",", ":"))
        rest = text[text.index(",") + 1 :]
        self._record(args=[self.prefix, size, rest])

    def journal(self) -> list[dict[str, Any]]:
        raw = self.r.lrange(self.prefix + "j", 0, -1)
        out = [json.loads(e) for e in reversed(raw)]
        size = self._settings.journal_size
        return out[-size:] if size else []

    def clear_journal(self) -> None:
        self.r.delete(self.prefix + "j")

    def reset(self) -> None:
        """Delete every key under the prefix but the settings, the salt and the clock's
        kind; rewind the shared clock."""
        keep = {self._k_settings, self._k_version, self.prefix + "salt", self.prefix + "clock"}
        batch: list[bytes] = []
        for key in self.r.scan_iter(match=_glob_escape(self.prefix) + "*", count=1000):
            if _str(key) not in keep:
                batch.append(key)
            if len(batch) >= 500:
                self.r.unlink(*batch)
                batch.clear()
        if batch:
            self.r.unlink(*batch)
        self._stored.clear()
        self._adopt(self._settings, self._version)
        self.clock.reset()

    def describe(self) -> str:
        """Where the state is, for banners: no password, ever."""
        return f"{_safe_url(self.url)} (prefix {self.prefix})"

    def close(self) -> None:
        """Drop this process's connections (they reopen on next use, e.g. after a fork)."""
        self._raw.close()
        self.r.connection_pool.disconnect()


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _safe_url(url: str) -> str:
    """``url`` without its user and password."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=netloc, query="").geturl()


__all__ = ["DEFAULT_PREFIX", "RedisClock", "RedisStore", "parse_store_url"]
