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

Faults of Redis itself: every call has a socket connect and read timeout (1 s unless the URL
says ``?socket_timeout=S&socket_connect_timeout=S``); a connection or timeout error surfaces
as :class:`~mockcamb.stores.base.StoreUnavailable` (the HTTP layers answer a JSON 503 with
``Retry-After``) and is logged once per outage, with one more line when Redis is back. A
store found empty again (``settings:v`` gone) is re-seeded from this process: its salt, a new
epoch, its settings, and its clock from the last value it saw; a store found with another
epoch was started afresh by another process, whose salt and settings are adopted. Either
way the loss is counted in ``lost`` and reported by :meth:`RedisStore.health` and by the 404
of a task that is gone.

Needs the ``redis`` package (``pip install 'mockcamb[redis]'``); one Redis node (a primary,
with replicas if wanted), not Redis Cluster.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import parse_qs, urlsplit

from ...core import machine
from ...core.clock import check_advance
from ...core.errors import ConfigError
from ...core.journal import Request, entry_bytes, known_members
from ...core.machine import Poll, TaskState
from ...core.scenario import Fault, Scenario, parse_scenario
from ...core.settings import Settings, update_settings
from ..base import StaleSettings, StoreUnavailable, TaskGone
from . import scripts
from .wire import RawScript, import_redis

if TYPE_CHECKING:  # pragma: no cover
    import redis

DEFAULT_PREFIX = "mockcamb:"
#: The socket connect and read timeouts of every Redis call, unless the URL sets them: a
#: stalled Redis is answered 503 after this long, not waited on.
DEFAULT_TIMEOUT = 1.0
_SCENARIO_CACHE = 4096
_DIGEST_CACHE = 1024
_DRAWN_RUN_IDS = machine.FIRST_RUN_ID + 2**31  # run ids above are a scenario's own

log = logging.getLogger("mockcamb")
_P = ParamSpec("_P")
_T = TypeVar("_T")


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


def _version_base() -> int:
    """Where a new store's settings versions start: at random, so that a version seen before
    Redis lost its data is never taken for one given after (a process would keep its
    settings, never reloading them)."""
    return secrets.randbelow(2**40) * 1000


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, timezone.utc).isoformat(timespec="seconds")


class _Outage:
    """This process's view of Redis's availability: when the current outage began, why, and
    how many calls failed in it; thread-safe, so that each outage is logged once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None  # monotonic time of the first failure
        self.reason = ""
        self.failures = 0
        self.count = 0  # outages seen by this process

    def begin(self, reason: str) -> bool:
        """Count a failed call; True if it starts an outage."""
        with self._lock:
            self.failures += 1
            if self.since is not None:
                return False
            self.since, self.reason, self.count = time.monotonic(), reason, self.count + 1
            return True

    def end(self) -> tuple[float, int] | None:
        """A call succeeded: the outage's length and failed calls if this ends one."""
        with self._lock:
            if self.since is None:
                return None
            out = time.monotonic() - self.since, self.failures
            self.since, self.failures = None, 0
            return out


def _guarded(
    fn: Callable[Concatenate[RedisStore, _P], _T],
) -> Callable[Concatenate[RedisStore, _P], _T]:
    """A store method whose Redis connection and timeout errors become StoreUnavailable,
    and whose first success after an outage ends it (:meth:`RedisStore._back`)."""

    def call(self: RedisStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            out = fn(self, *args, **kwargs)
        except self._down_errors as exc:
            raise self._unavailable(exc) from None
        if self._outage.since is not None:
            self._back()
        return out

    functools.update_wrapper(call, fn)
    return call


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
        self._down_errors: tuple[type[Exception], ...] = (
            redis_mod.ConnectionError,
            redis_mod.TimeoutError,
        )
        self._outage = _Outage()
        try:
            # a connection found dead (Redis restarted) is opened again and the command
            # sent again, once; a timeout is not retried
            retry = redis_mod.retry.Retry(
                redis_mod.backoff.NoBackoff(), 1, supported_errors=(redis_mod.ConnectionError,)
            )
            self.r: redis.Redis = client or redis_mod.Redis.from_url(
                conn_url,
                socket_connect_timeout=DEFAULT_TIMEOUT,
                socket_timeout=DEFAULT_TIMEOUT,
                max_connections=256,
                retry=retry,
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
        self._page = self.r.register_script(scripts.source("page"))
        self._clock_script = self.r.register_script(scripts.source("clock"))
        self._seed = self.r.register_script(scripts.source("seed"))
        self._forget = self.r.register_script(scripts.source("forget"))
        pipe = self.r.pipeline(transaction=True)
        pipe.set(p + "salt", secrets.token_hex(16), nx=True)
        pipe.set(p + "epoch", secrets.token_hex(8), nx=True)
        pipe.get(p + "salt")
        pipe.get(p + "epoch")
        pipe.hmget(p + "lost", "count", "at", "clock")
        salt, epoch, lost = pipe.execute()[2:]
        self._salt = _str(salt).encode()
        self._epoch = _str(epoch)
        self._digests: dict[str, str] = {}
        self._losses = int(lost[0] or 0)
        self._loss_lock = threading.Lock()
        self._lost_at: float | None = None if lost[1] is None else _fnum(lost[1])
        self._lost_clock: float | None = None if lost[2] is None else _fnum(lost[2])
        self._last_now = 0.0  # the clock's last value seen here: resumed if Redis loses it
        self._last_created = 0  # and the counters': never counted again from 0
        self._last_run = 0
        self._scenarios: dict[str, Scenario] = {}
        self._ids: dict[int, tuple[Scenario, str]] = {}
        self._stored: set[str] = set()
        self._version = ""
        self._settings = Settings()
        self._static: list[bytes] = []
        self.clock = RedisClock(self, clock, time_scale)
        if settings is not None or self.r.get(self._k_version) is None:
            self.set_settings(settings or self._settings)
        else:
            self._load()

    # --- plumbing -----------------------------------------------------------------------

    @_guarded
    def _clock_op(self, op: str, a: str = "", b: str = "") -> float:
        now = _fnum(self._clock_script(args=[self.prefix, op, a, b]))
        self._last_now = now
        return now

    def _digest(self, key: str) -> str:
        out = self._digests.get(key)
        if out is None:
            out = hmac.new(
                self._salt, key.encode("utf-8", "surrogatepass"), hashlib.sha256
            ).hexdigest()
            if len(self._digests) >= _DIGEST_CACHE:
                self._digests.clear()
            self._digests[key] = out
        return out

    # --- faults of Redis ------------------------------------------------------------------

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        """The StoreUnavailable for a Redis error; the first of an outage is logged."""
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        if self._outage.begin(reason):
            log.warning(
                "the Redis store at %s is unavailable (%s); answering 503 with Retry-After "
                "until it is back",
                self.describe(),
                reason,
            )
        return StoreUnavailable(
            f"mockcamb's store (Redis at {_safe_url(self.url)}) is unavailable ({reason}); "
            "retry later"
        )

    def _back(self) -> None:
        """A call succeeded after an outage: log it, once, and check what Redis came back
        with: its settings (re-seeded if it is empty), its counters (raised to what this
        process saw); scripts reload by themselves, on NOSCRIPT."""
        ended = self._outage.end()
        if ended is None:
            return
        seconds, failures = ended
        log.warning(
            "the Redis store at %s is back after %.1f s (%d calls failed meanwhile)",
            self.describe(),
            seconds,
            failures,
        )
        try:
            self._refresh()
            # back from an older snapshot, Redis would hand out ids and run ids again
            self._seed(args=[self.prefix, "floor", "", "", "", "", "", "", *self._counters(), ""])
        except self._down_errors as exc:
            self._unavailable(exc)
        except StoreUnavailable:
            pass

    def _set_salt(self, salt: str) -> None:
        """Adopt the salt Redis holds (set by another process on an empty store)."""
        if salt and salt.encode() != self._salt:
            self._salt = salt.encode()
            self._digests = {}

    def _note_loss(self, count: Any, at: Any, clock: Any, how: str) -> None:
        """Record a loss counted in ``lost``; log it if this process had not seen it."""
        losses = int(count or 0)
        with self._loss_lock:
            if losses <= self._losses:
                return
            self._losses = losses
            self._lost_at = _fnum(at) if at not in (None, b"", "") else time.time()
            self._lost_clock = _fnum(clock) if clock not in (None, b"", "") else None
            self._stored.clear()
        log.warning(
            "the Redis store at %s was lost at %s (%s); tasks created before then are gone",
            self.describe(),
            _iso(self._lost_at),
            how,
        )

    def _counters(self) -> list[str]:
        """The floors of ctr:created and ctr:run for seed.lua."""
        return [str(self._last_created), str(self._last_run - machine.FIRST_RUN_ID + 1)]

    def _reseed(self) -> None:
        """``settings:v`` is gone: Redis came back empty (or was flushed). Seed it again
        from this process (see seed.lua), or adopt what another process seeded first."""
        doc = self._settings_doc()
        clock = self.clock
        out = self._seed(
            args=[
                self.prefix,
                "seed",
                self._salt.decode(),
                secrets.token_hex(8),
                json.dumps(doc),
                clock.kind,
                repr(clock.time_scale),
                repr(self._last_now),
                *self._counters(),
                str(_version_base()),
            ]
        )
        seeded, salt, epoch, version = int(out[0]), _str(out[1]), _str(out[2]), _str(out[3])
        self._set_salt(salt)
        self._epoch = epoch
        if seeded:
            self._note_loss(
                out[4],
                out[5],
                out[6],
                f"it came back empty: this process re-seeded its salt, settings and "
                f"{clock.kind} clock, at {self._last_now:g}",
            )
            self._adopt(self._settings, version)
        elif version:
            self._load()
        else:  # another process set the salt and is writing its settings: wait for it
            raise StoreUnavailable(
                f"mockcamb's store (Redis at {_safe_url(self.url)}) came back empty and "
                "is being set up again by another process; retry later"
            )

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
            self._put_scenario(sid, scenario)
        return sid

    def _put_scenario(self, sid: str, scenario: Scenario) -> None:
        key = self.prefix + "sc:" + sid
        doc = json.dumps(scenario.to_dict(), separators=(",", ":"))
        pipe = self.r.pipeline(transaction=False)
        pipe.hsetnx(key, "doc", doc)
        pipe.hsetnx(key, "plan", scripts.plan(scenario))
        pipe.execute()
        if len(self._stored) >= _SCENARIO_CACHE:
            self._stored.clear()
        self._stored.add(sid)

    def _scenario(self, sid: str, kind: str, task_id: str) -> Scenario:
        """Task ``kind``/``task_id``'s scenario ``sid``: TaskGone if it is gone from Redis
        and unknown here."""
        sc = self._scenarios.get(sid)
        if sc is None:
            doc = self.r.hget(self.prefix + "sc:" + sid, "doc")
            if doc is None:
                raise self._gone(kind, task_id, sid)
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

    def _poll_task(self, args: list[Any], kind: str, task_id: str) -> list[Any]:
        """poll.lua; on NOPLAN (the task's sc:<sid> is gone) the scenario is written again
        from this process's cache and the call made again (NOPLAN comes before anything is
        counted), else the task is forgotten (TaskGone)."""
        out = self._poll(args)
        if _str(out[0]) != "NOPLAN":
            return out
        sid = _str(out[1])
        scenario = self._scenarios.get(sid)
        if scenario is not None:
            self._put_scenario(sid, scenario)
            out = self._poll(args)
            if _str(out[0]) != "NOPLAN":
                return out
        raise self._gone(kind, task_id, sid)

    def _gone(self, kind: str, task_id: str, sid: str) -> TaskGone:
        """Forget a task whose scenario is gone from Redis and unknown to this process; the
        TaskGone naming the likely cause."""
        self._stored.discard(sid)
        self._forget(args=[self.prefix, self._member(kind, task_id), sid])
        log.warning(
            "the Redis store at %s held %s task %r without its scenario (sc:%s); forgot it",
            self.describe(),
            kind,
            task_id[:80],
            sid,
        )
        return TaskGone(
            kind,
            task_id,
            f"its scenario (Redis key {self.prefix}sc:{sid}) was missing from the store and "
            "unknown to this worker: POST /__admin/reset probably ran while the task was being "
            "created, or the key was deleted by hand; the task is forgotten, create it again",
        )

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
            "journal_bytes": s.journal_bytes,
            "global_delay": scripts.fixed_delay_ms(s.latency),
            "first_run_id": machine.FIRST_RUN_ID,
        }
        names = scripts.POLL_ARGV[: scripts.SETTINGS_ARGS]
        self._static = [str(values[name]).encode() for name in names]

    def _settings_doc(self) -> dict[str, Any]:
        doc = self._settings.to_dict()
        keys = self._settings.api_keys
        doc["api_keys"] = None if keys is None else sorted(keys)
        return doc

    @_guarded
    def set_settings(self, settings: Settings) -> None:
        self._adopt(settings, "")
        doc = self._settings_doc()
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self._k_settings, json.dumps(doc))
        pipe.set(self._k_version, _version_base(), nx=True)
        pipe.incr(self._k_version)
        self._version = str(pipe.execute()[2])
        self._trim_journal()
        self._restatic()

    @_guarded
    def refresh(self) -> bool:
        return self._refresh()

    def _refresh(self) -> bool:
        version = self.r.get(self._k_version)
        if version is None:  # Redis lost its data: seed it again
            self._reseed()
            return True
        if _str(version) == self._version:
            return False
        self._load()
        return True

    def _load(self) -> None:
        """Load the settings, with the salt of their digests and the record of losses."""
        p = self.prefix
        pipe = self.r.pipeline(transaction=True)
        pipe.get(self._k_version)
        pipe.get(self._k_settings)
        pipe.get(p + "salt")
        pipe.get(p + "epoch")
        pipe.hmget(p + "lost", "count", "at", "clock")
        version, raw, salt, epoch, lost = pipe.execute()
        if version is None or raw is None:
            self._reseed()
            return
        self._set_salt(_str(salt or b""))
        if epoch is not None and _str(epoch) != self._epoch:  # another process started afresh
            self._epoch = _str(epoch)
            out = self._seed(args=[p, "note", "", "", "", "", "", "", *self._counters(), ""])
            self._note_loss(
                out[4], out[5], None, "another process found it empty and set it up afresh"
            )
        else:
            self._note_loss(lost[0], lost[1], lost[2], "another process found it empty")
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

    def health(self) -> dict[str, Any]:
        return {
            "kind": "redis",
            "state": "ok" if self._lost_at is None else "recovered",
            "outages": self._outage.count,
            "losses": self._losses,
            "lost_at": None if self._lost_at is None else _iso(self._lost_at),
            "clock_resumed_at": self._lost_clock,
        }

    # --- tasks --------------------------------------------------------------------------

    @_guarded
    def next_created(self) -> int:
        created = int(self.r.incr(self.prefix + "ctr:created"))
        self._last_created = max(self._last_created, created)
        return created

    @_guarded
    def add(self, task: TaskState) -> bool:
        s = self._settings
        sid = self._scenario_id(task.scenario)
        member = self._member(task.kind, task.task_id)
        args: list[Any] = [self.prefix, member, sid, str(task.seed_key), s.max_tasks, _ttl(s)]
        out = self._add(args=args)
        if int(out[0]) == 2:  # sc:<sid> is gone (reset or lost since we stored it)
            self._put_scenario(sid, task.scenario)
            out = self._add(args=args)
        if int(out[0]) != 1:
            return False
        task.created_at = task.step_started = self._last_now = _fnum(out[1])
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
        task = TaskState(kind, task_id, self._scenario(_str(h["sc"]), kind, task_id), 0.0, 0)
        for name, attr in scripts.TASK_FIELDS.items():
            if name != "sc" and name in h:
                setattr(task, attr, _fnum(h[name]) if attr in _FLOAT_ATTRS else int(h[name]))
        if history:  # as poll.lua trimmed it (MemoryStore trims at the next poll too)
            task.history = deque(tuple(json.loads(e)) for e in got[1])
        return task

    @_guarded
    def get(self, kind: str, task_id: str) -> TaskState | None:
        return self._load_task(kind, task_id, history=False)

    @_guarded
    def fresh(self, task: TaskState) -> TaskState:
        # poll.lua's 'view' phase: machine.settle on the server (run id, finish), not counted
        unused = [b""] * (scripts.PHASE_ARG - scripts.SETTINGS_ARGS - 1)  # auto_sid .. journal
        args = [*self._static, self._member(task.kind, task.task_id), *unused, b"view"]
        while _str(self._poll_task(args, task.kind, task.task_id)[0]) == "STALE":
            self._load()
            args[: scripts.SETTINGS_ARGS] = self._static
        current = self._load_task(task.kind, task.task_id, history=True)
        if current is None:  # gone meanwhile: its steps only
            task.settle(self.clock.now())
            return task
        return current

    @_guarded
    def count(self) -> int:
        return int(self.r.zcard(self.prefix + "tasks"))

    @_guarded
    def all(self, kind: str | None, limit: int) -> list[TaskState]:
        members = [_str(m) for m in self.r.zrange(self.prefix + "tasks", 0, -1)]
        pairs = [m.split("\n", 1) for m in members]
        chosen = [(k, t) for k, t in pairs if kind is None or k == kind][-limit:]
        out: list[TaskState] = []
        for k, t in chosen:
            try:
                task = self._load_task(k, t, history=False)
            except TaskGone:  # forgotten: its scenario is gone
                continue
            if task is not None:
                out.append(task)
        return out

    @_guarded
    def run_task(self, run_id: int) -> TaskState | None:
        member = self.r.hget(self.prefix + "runs", str(run_id))
        if member is None:
            return None
        kind, task_id = _str(member).split("\n", 1)
        return self._load_task(kind, task_id, history=False)

    @_guarded
    def poll(
        self, kind: str, task_id: str, auto: Scenario | None, request: Request
    ) -> Poll | None:
        s = self._settings
        auto_id, auto_key = "", ""
        scenario = machine.created_with(auto, task_id)
        if scenario is not None:
            auto_id = self._scenario_id(scenario)
            auto_key = str(machine.seed_key(kind, task_id, scenario, s.seed))
        head, tail, cost = known_members(request, kind, task_id, s.api_keys)
        args: list[Any] = [*self._static, self._member(kind, task_id), auto_id, auto_key]
        args += (head, tail, cost, b"poll")
        out = self._poll_task(args, kind, task_id)
        tag = _str(out[0])
        if tag == "NOSC" and scenario is not None:  # the store was reset by another worker
            self._put_scenario(auto_id, scenario)
            out = self._poll_task(args, kind, task_id)
            tag = _str(out[0])
        if tag == "STALE":
            self._load()
            raise StaleSettings
        fault: Fault | None = None
        if tag == "BEGIN":  # probability faults: the draw is made here, from the number
            n, now = int(out[1]), _fnum(out[2])
            age = now - _fnum(out[5])
            drawn_from, seed_key = self._scenario(_str(out[3]), kind, task_id), int(out[4])
            while True:  # the request is counted: answer it under the settings of now
                fault = machine.pick_fault(drawn_from, self._settings.faults, seed_key, n, age)
                code, ftype = ("", "") if fault is None else (fault.http_status, fault.type)
                args[: scripts.SETTINGS_ARGS] = self._static
                args[scripts.PHASE_ARG :] = [b"answer", n, repr(now), code, ftype]
                out = self._poll_task(args, kind, task_id)
                tag = _str(out[0])
                if tag != "STALE":  # else the settings changed between the two calls
                    break
                self._load()
        if tag != "OK":
            return None
        return self._polled(kind, task_id, out, fault)

    def _polled(self, kind: str, task_id: str, out: list[Any], fault: Fault | None) -> Poll:
        """The :class:`Poll` of poll.lua's 'OK' answer. Its task is partial: what answering
        and journaling read (scenario, seed key, created_at, requests, step)."""
        n, now, step_i, run_id = int(out[1]), _fnum(out[2]), int(out[3]), _str(out[4])
        self._last_now = now
        if run_id.isdigit() and self._last_run < int(run_id) < _DRAWN_RUN_IDS:
            self._last_run = int(run_id)  # drawn from ctr:run, most likely
        src, idx = int(out[5]), int(out[6])
        scenario = self._scenario(_str(out[7]), kind, task_id)
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

    @_guarded
    def peek_seq(self) -> int:
        return int(self.r.get(self.prefix + "j:seq") or 0)

    @_guarded
    def record(self, entry: dict[str, Any], cost: int | None = None) -> None:
        s = self._settings
        if s.journal_size == 0:
            return
        text = json.dumps(entry, separators=(",", ":"))
        rest = text[text.index(",") + 1 :]
        cost = entry_bytes(entry) if cost is None else cost
        self._record(args=[self.prefix, s.journal_size, s.journal_bytes, cost, rest])

    def _trim_journal(self) -> None:
        """Trim the journal to the bounds of the settings (as MemoryStore.set_settings)."""
        s = self._settings
        self._record(args=[self.prefix, s.journal_size, s.journal_bytes, 0, ""])

    @_guarded
    def journal(self) -> list[dict[str, Any]]:
        raw = self.r.lrange(self.prefix + "j", 0, -1)
        out = [json.loads(_str(e).partition(" ")[2]) for e in reversed(raw)]  # after its cost
        size = self._settings.journal_size
        return out[-size:] if size else []

    @_guarded
    def journal_page(
        self, limit: int, after_seq: int | None, before_seq: int | None
    ) -> tuple[list[dict[str, Any]], bool]:
        def arg(seq: int | None) -> str:
            return "" if seq is None else str(seq)

        got = self._page(args=[self.prefix, limit, arg(after_seq), arg(before_seq)])
        return [json.loads(_str(e).partition(" ")[2]) for e in got[1:]], bool(int(got[0]))

    @_guarded
    def clear_journal(self) -> None:
        self.r.delete(self.prefix + "j", self.prefix + "j:bytes")

    @_guarded
    def reset(self) -> None:
        """Delete every key under the prefix but the settings, the salt, the clock's kind
        and the record of losses; rewind the shared clock."""
        p = self.prefix
        keep = {self._k_settings, self._k_version, p + "salt", p + "clock", p + "epoch", p + "lost"}
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
        self._last_created = self._last_run = 0
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


__all__ = ["DEFAULT_PREFIX", "DEFAULT_TIMEOUT", "RedisClock", "RedisStore", "parse_store_url"]
