"""A :class:`~mockcamb.core.emulator.Store` on Redis, so that several workers and hosts serve one
set of tasks: one poll count per task, one clock, one journal, one set of settings.

Every poll is one Lua script, atomic on the server: it counts the request, settles the task
to the shared clock, picks a by-number fault, advances the state machine, keeps the history
and appends to the journal. Scenarios that draw probability faults take two scripts (count,
then answer), because the draw is made in Python from the request number. Counters (run ids,
generated task ids, journal numbers) are Redis INCRs; the journal is a capped list; settings
are a JSON document with a version that every script checks, so a change made through one
worker is seen by the next request to any other. API keys are kept only as salted digests.

Needs the ``redis`` package (``pip install 'mockcamb[redis]'``); one Redis node (a primary,
with replicas if wanted), not Redis Cluster.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import json.encoder
import os
import secrets
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from ...core.clock import check_advance, wall_time
from ...core.emulator import (
    PickFault,
    Poll,
    SeedKey,
    StaleSettings,
    TaskState,
    journal_headers,
    valid_task_id,
)
from ...core.errors import ConfigError
from ...core.scenario import Fault, Scenario, parse_scenario
from ...core.settings import Settings, update_settings
from ...core.statuses import SUCCESS, is_final
from ...core.text import shorten

if TYPE_CHECKING:  # pragma: no cover
    import redis

DEFAULT_PREFIX = "mockcamb:"
_SCENARIO_CACHE = 4096

# --- Lua ---------------------------------------------------------------------------------

_LUA_COMMON = r"""
local P = ARGV[1]
local function fmt(x)
  local s = string.format('%.17g', x)
  if not string.find(s, '[%.eEn]') then s = s .. '.0' end
  return s
end
local function clock_now()
  local c = redis.call('HMGET', P .. 'clock', 'kind', 'scale', 'origin', 'offset')
  local off = tonumber(c[4]) or 0
  if c[1] == 'real' then
    local t = redis.call('TIME')
    local wall = tonumber(t[1]) + tonumber(t[2]) / 1000000
    return (wall - (tonumber(c[3]) or wall)) * (tonumber(c[2]) or 1) + off
  end
  return off
end
local function forget(member)
  local tk = P .. 't:' .. member
  local ri = redis.call('HGET', tk, 'ri')
  if ri and redis.call('HGET', P .. 'runs', ri) == member then
    redis.call('HDEL', P .. 'runs', ri)
  end
  redis.call('DEL', tk, P .. 'h:' .. member)
  redis.call('ZREM', P .. 'tasks', member)
  redis.call('ZREM', P .. 'fin', member)
end
local function expire(now, ttl)
  if ttl == '' then return end
  ttl = tonumber(ttl)
  while true do
    local first = redis.call('ZRANGE', P .. 'fin', 0, 0, 'WITHSCORES')
    if #first == 0 or now - tonumber(first[2]) < ttl then return end
    forget(first[1])
  end
end
local function insert(member, sc, sk, now, max_tasks, ttl)
  expire(now, ttl)
  while redis.call('ZCARD', P .. 'tasks') >= max_tasks do
    local victim = redis.call('ZRANGE', P .. 'fin', 0, 0)
    if #victim == 0 then victim = redis.call('ZRANGE', P .. 'tasks', 0, 0) end
    forget(victim[1])
  end
  local n = fmt(now)
  redis.call('HSET', P .. 't:' .. member, 'sc', sc, 'sk', sk, 'ca', n, 'st', 0, 'ss', n,
             'sp', 0, 'rq', 0, 'an', 0)
  redis.call('ZADD', P .. 'tasks', redis.call('INCR', P .. 'ctr:order'), member)
end
"""

# A poll. ARGV: 1 prefix, 2 settings version, 3 member, 4 auto scenario id ('' = no),
# 5 auto seed key, 6 max_tasks, 7 finished_ttl ('' = none), 8 history limit,
# 9 global by-number faults (JSON [[polls], code, type]), 10 '1' if global probability faults,
# 11 journal size, 12 journal head (JSON members before "request"), 13 journal tail,
# 14 global fixed delay_ms ('' = none, 'x' = drawn per request),
# 15 phase: 'poll', or 'answer' with 16 n, 17 now, 18 fault code ('' = none), 19 fault type.
# Returns {'STALE'} | {'NONE'} | {'NOSC'} | {'BEGIN', n, now, sc, sk}
#       | {'OK', n, now, st, ri, fsrc, fidx, sc, sk, ca, journaled}
_LUA_POLL = (
    _LUA_COMMON
    + r"""
if redis.call('GET', P .. 'settings:v') ~= ARGV[2] then return {'STALE'} end
local member = ARGV[3]
local tk = P .. 't:' .. member
local answer = ARGV[15] == 'answer'
local now
if answer then now = tonumber(ARGV[17]) else now = clock_now() end
local t = redis.call('HMGET', tk, 'sc', 'sk', 'ca', 'st', 'ss', 'sp', 'an', 'ri', 'fa')
if not t[1] then
  if ARGV[4] == '' or answer then return {'NONE'} end
  if redis.call('EXISTS', P .. 'sc:' .. ARGV[4]) == 0 then return {'NOSC'} end
  insert(member, ARGV[4], ARGV[5], now, tonumber(ARGV[6]), ARGV[7])
  t = redis.call('HMGET', tk, 'sc', 'sk', 'ca', 'st', 'ss', 'sp', 'an', 'ri', 'fa')
end
local plan = cjson.decode(redis.call('HGET', P .. 'sc:' .. t[1], 'plan'))
local n
if answer then
  n = tonumber(ARGV[16])
else
  n = redis.call('HINCRBY', tk, 'rq', 1)
  if plan.p == 1 or ARGV[10] == '1' then return {'BEGIN', n, fmt(now), t[1], t[2]} end
end
local steps = plan.s
local last = #steps - 1
local st, ss, sp, an = tonumber(t[4]), tonumber(t[5]), tonumber(t[6]), tonumber(t[7])
local ri, fa = t[8], t[9]
while st < last do
  local sec = steps[st + 1][2]
  if sec < 0 or now - ss < sec then break end
  ss = ss + sec
  st = st + 1
  sp = 0
end
local step = steps[st + 1]
local answered_st = st
if step[4] == 1 and not ri then
  ri = step[5]
  if ri == '' then ri = tostring(redis.call('INCR', P .. 'ctr:run') + 999) end
  redis.call('HSET', P .. 'runs', ri, member)
end
local fsrc, fidx, fcode, ftype = 0, 0, nil, nil
if answer then
  if ARGV[18] ~= '' then fsrc, fcode, ftype = 9, tonumber(ARGV[18]), ARGV[19] end
else
  local sources = {plan.f, {}}
  if ARGV[9] ~= '[]' then sources[2] = cjson.decode(ARGV[9]) end
  for src = 1, 2 do
    for i, f in ipairs(sources[src]) do
      for _, p in ipairs(f[1]) do
        if p == n then fsrc, fidx, fcode, ftype = src, i - 1, f[2], f[3] break end
      end
      if fsrc ~= 0 then break end
    end
    if fsrc ~= 0 then break end
  end
end
if fsrc == 0 then
  an = an + 1
  sp = sp + 1
  if st == last then
    if not fa and step[3] == 1 then
      fa = fmt(now)
      redis.call('ZADD', P .. 'fin', fa, member)
    end
  elseif step[1] >= 0 and sp >= step[1] then
    st = st + 1
    sp = 0
    ss = now
  end
end
redis.call('HSET', tk, 'st', st, 'ss', fmt(ss), 'sp', sp, 'an', an)
if ri then redis.call('HSET', tk, 'ri', ri) end
if fa then redis.call('HSET', tk, 'fa', fa) end
local status_json = cjson.encode(step[6])
local limit = tonumber(ARGV[8])
if limit > 0 then
  local hk = P .. 'h:' .. member
  local entry
  if fsrc == 0 then
    entry = '[' .. n .. ',' .. fmt(now) .. ',200,' .. status_json .. ',null]'
  else
    entry = '[' .. n .. ',' .. fmt(now) .. ',' .. fcode .. ',null,' .. cjson.encode(ftype) .. ']'
  end
  redis.call('RPUSH', hk, entry)
  redis.call('LTRIM', hk, -limit, -1)
end
local journaled = 0
local size = tonumber(ARGV[11])
local delay = plan.l
if delay == '' then delay = ARGV[14] end
if size > 0 and delay ~= 'x' then
  if delay == '' then delay = '0.0' end
  local seq = redis.call('INCR', P .. 'j:seq')
  local request, code, tstatus, dropped = n, 200, status_json, 'false'
  if fsrc ~= 0 then
    code, tstatus = fcode, 'null'
    if ftype ~= 'http_error' then request = 'null' end
    if ftype == 'drop_connection' then dropped = 'true' end
  end
  local entry = '{"seq":' .. seq .. ',' .. ARGV[12] .. ',"request":' .. request ..
    ',"status_code":' .. code .. ',"task_status":' .. tstatus .. ',"dropped":' .. dropped ..
    ',"delay_ms":' .. delay .. ',"clock":' .. fmt(now) .. ',' .. ARGV[13] .. '}'
  redis.call('LPUSH', P .. 'j', entry)
  redis.call('LTRIM', P .. 'j', 0, size - 1)
  journaled = 1
end
if fa and ARGV[7] ~= '' then expire(now, ARGV[7]) end
return {'OK', n, fmt(now), answered_st, ri or '', fsrc, fidx, t[1], t[2], t[3], journaled}
"""
)

# ARGV: 1 prefix, 2 member, 3 scenario id, 4 seed key, 5 max_tasks, 6 ttl -> {0} | {1, now}
_LUA_ADD = (
    _LUA_COMMON
    + r"""
if redis.call('EXISTS', P .. 't:' .. ARGV[2]) == 1 then return {0} end
local now = clock_now()
insert(ARGV[2], ARGV[3], ARGV[4], now, tonumber(ARGV[5]), ARGV[6])
return {1, fmt(now)}
"""
)

# ARGV: 1 prefix, 2 journal size, 3 entry JSON without its leading '{"seq":N,'
_LUA_RECORD = r"""
local P = ARGV[1]
local seq = redis.call('INCR', P .. 'j:seq')
redis.call('LPUSH', P .. 'j', '{"seq":' .. seq .. ',' .. ARGV[3])
redis.call('LTRIM', P .. 'j', 0, tonumber(ARGV[2]) - 1)
return seq
"""

# ARGV: 1 prefix, 2 'now' | 'advance' | 'reset' | 'init', 3 seconds / kind, 4 scale
_LUA_CLOCK = (
    _LUA_COMMON
    + r"""
local op = ARGV[2]
local ck = P .. 'clock'
if op == 'advance' then
  local off = tonumber(redis.call('HGET', ck, 'offset')) or 0
  redis.call('HSET', ck, 'offset', fmt(off + tonumber(ARGV[3])))
elseif op == 'reset' or op == 'init' then
  local t = redis.call('TIME')
  local wall = fmt(tonumber(t[1]) + tonumber(t[2]) / 1000000)
  if op == 'init' then
    redis.call('HSET', ck, 'kind', ARGV[3], 'scale', ARGV[4])
    redis.call('HSETNX', ck, 'origin', wall)
    redis.call('HSETNX', ck, 'offset', '0')
  else
    redis.call('HSET', ck, 'origin', wall, 'offset', '0')
  end
end
return fmt(clock_now())
"""
)


# --- helpers -----------------------------------------------------------------------------


def _import_redis() -> Any:
    try:
        import redis
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "--store redis://...: needs the redis package: pip install 'mockcamb[redis]'"
        ) from None
    return redis


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


def _optional_float(value: Any) -> float | None:
    return None if value is None else _fnum(value)


class _DigestSet(frozenset[str]):
    """Accepted API keys as salted digests: ``key in keys`` hashes the key first."""

    digest: Callable[[str], str]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and frozenset.__contains__(self, self.digest(key))


def _fault_list(faults: tuple[Fault, ...]) -> list[list[Any]]:
    return [[sorted(f.polls), f.http_status, f.type] for f in faults if f.probability is None]


def _fixed_delay_ms(latency: Any) -> str:
    """The journal's ``delay_ms`` text for a latency known in advance, else 'x' or ''."""
    if latency is None:
        return ""
    if latency.kind != "fixed":
        return "x"
    return json.dumps(round(latency.sample(0.0, 0.0) * 1000, 3))


def _plan(scenario: Scenario) -> str:
    """The compact form of a scenario the Lua scripts run."""
    steps = [
        [
            -1 if s.polls is None else s.polls,
            -1 if s.seconds is None else s.seconds,
            1 if is_final(s.status) else 0,
            1 if s.status == SUCCESS else 0,
            "" if s.run_id is None else str(s.run_id),
            s.status,
        ]
        for s in scenario.steps
    ]
    # A probability fault anywhere in the list decides the order of the whole list in Python.
    prob = 1 if scenario.has_probability_faults else 0
    return json.dumps(
        {
            "s": steps,
            "f": _fault_list(scenario.faults),
            "p": prob,
            "l": _fixed_delay_ms(scenario.latency),
        }
    )


# --- a lean connection for the hot path ------------------------------------------------


class _RawScript:
    """EVALSHA of one script over a plain socket per thread: the hot path skips redis-py's
    command machinery (a third of a poll's cost). Plain TCP only (``redis://``, with optional
    password and db); anything else goes through redis-py. Errors close the connection and
    surface as ``redis.RedisError`` like redis-py's own."""

    def __init__(self, client: redis.Redis, script: Any) -> None:
        self._client = client
        self._script = script
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[tuple[socket.socket, Any]] = []
        pool = client.connection_pool
        kw = pool.connection_kwargs
        self.usable = pool.connection_class.__name__ == "Connection" and "host" in kw
        self._host, self._port = kw.get("host", ""), int(kw.get("port", 6379))
        self._auth: list[bytes] = []
        if kw.get("password"):
            user = kw.get("username")
            words = [b"AUTH", *([user.encode()] if user else []), str(kw["password"]).encode()]
            self._auth.append(_pack(words))
        if kw.get("db"):
            self._auth.append(_pack([b"SELECT", str(kw["db"]).encode()]))
        self._timeout = kw.get("socket_timeout") or 30.0

    def _connect(self) -> Any:
        sock = socket.create_connection((self._host, self._port), timeout=self._timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        for command in self._auth:
            sock.sendall(command)
            line = reader.readline()
            if not line.startswith(b"+"):
                sock.close()
                raise _redis_error()(f"Redis refused {command.split()[2]!r}: {line!r}")
        self._local.conn = (os.getpid(), sock, reader)
        with self._lock:
            self._open.append((sock, reader))
        return self._local.conn

    def close(self) -> None:
        """Close every thread's connection (each reconnects on its next call)."""
        with self._lock:
            conns, self._open = self._open, []
        for sock, reader in conns:
            with contextlib.suppress(OSError):
                reader.close()
                sock.close()
        self._local = threading.local()

    def __call__(self, args: list[Any]) -> list[Any]:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn[0] != os.getpid():  # none yet, or inherited through a fork
            conn = self._connect()
        sha = self._script.sha.encode()
        words = [
            b"EVALSHA",
            sha,
            b"0",
            *(a if isinstance(a, bytes) else str(a).encode() for a in args),
        ]
        try:
            conn[1].sendall(_pack(words))
            reply = _read(conn[2])
        except (OSError, ValueError) as exc:
            self._local.conn = None
            with contextlib.suppress(OSError):
                conn[2].close()
                conn[1].close()
            raise _redis_error()(f"Redis connection lost: {exc}") from None
        if isinstance(reply, _ReplyError):
            if reply.message.startswith("NOSCRIPT"):
                self._client.script_load(self._script.script)
                return self(args)
            raise _redis_error("ResponseError")(reply.message)
        return reply  # type: ignore[no-any-return]


class _ReplyError:
    def __init__(self, message: str) -> None:
        self.message = message


def _redis_error(name: str = "ConnectionError") -> Any:
    return getattr(_import_redis(), name)


def _pack(words: list[bytes]) -> bytes:
    out = [b"*%d\r\n" % len(words)]
    for w in words:
        out.append(b"$%d\r\n%s\r\n" % (len(w), w))
    return b"".join(out)


def _read(reader: Any) -> Any:
    line = reader.readline()
    if not line.endswith(b"\r\n"):
        raise ValueError("connection closed")
    tag, body = line[:1], line[1:-2]
    if tag == b"$":
        n = int(body)
        return None if n < 0 else reader.read(n + 2)[:-2]
    if tag == b":":
        return int(body)
    if tag == b"*":
        n = int(body)
        return None if n < 0 else [_read(reader) for _ in range(n)]
    if tag == b"+":
        return body
    if tag == b"-":
        return _ReplyError(body.decode("utf-8", "replace"))
    raise ValueError(f"unexpected reply {line[:40]!r}")


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
        redis_mod = _import_redis()
        conn_url, url_prefix = parse_store_url(url)
        self.url = url
        self.prefix = prefix or url_prefix
        self.lock: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
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
        self._poll_script = self.r.register_script(_LUA_POLL)
        self._poll_script.sha = self.r.script_load(_LUA_POLL)
        self._raw = _RawScript(self.r, self._poll_script)
        self._add = self.r.register_script(_LUA_ADD)
        self._record = self.r.register_script(_LUA_RECORD)
        self._clock_script = self.r.register_script(_LUA_CLOCK)
        self.r.set(p + "salt", secrets.token_hex(16), nx=True)
        self._salt = _str(self.r.get(p + "salt")).encode()
        self._scenarios: dict[str, Scenario] = {}
        self._ids: dict[int, tuple[Scenario, str]] = {}
        self._stored: set[str] = set()
        self._version = ""
        self._settings = Settings()
        self._derived: tuple[str, str, str, str] = ("", "[]", "0", "")
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
            pipe.hsetnx(key, "plan", _plan(scenario))
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
        self._derived = (
            self._scenario_id(settings.default_scenario),
            json.dumps(_fault_list(settings.faults)),
            "1" if any(f.probability is not None for f in settings.faults) else "0",
            _fixed_delay_ms(settings.latency),
        )
        self._restatic()

    def _restatic(self) -> None:
        """The poll script's arguments that change only with the settings, pre-encoded."""
        s = self._settings
        _, faults, prob, delay = self._derived
        ttl = "" if s.finished_ttl is None else repr(s.finished_ttl)
        self._static = [
            str(x).encode()
            for x in (
                self.prefix,
                self._version,
                s.max_tasks,
                ttl,
                s.history_limit,
                faults,
                prob,
                s.journal_size,
                delay,
            )
        ]

    def set_settings(self, settings: Settings) -> None:
        self._adopt(settings, "")
        doc = self._settings.to_dict()
        keys = self._settings.api_keys
        doc["api_keys"] = None if keys is None else sorted(keys)
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self._k_settings, json.dumps(doc))
        pipe.incr(self._k_version)
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
        ttl = "" if s.finished_ttl is None else repr(s.finished_ttl)
        out = self._add(
            args=[
                self.prefix,
                self._member(task.kind, task.task_id),
                sid,
                str(task.seed_key),
                s.max_tasks,
                ttl,
            ]
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
        task = TaskState(kind, task_id, self._scenario(_str(h["sc"])), _fnum(h["ca"]), 0)
        task.seed_key = int(h["sk"])
        task.step = int(h["st"])
        task.step_started = _fnum(h["ss"])
        task.step_polls = int(h["sp"])
        task.requests = int(h["rq"])
        task.answered = int(h["an"])
        task.run_id = int(h["ri"]) if "ri" in h else None
        task.finished_at = _optional_float(h.get("fa"))
        if history:
            limit = self._settings.history_limit
            task.history = deque((tuple(json.loads(e)) for e in got[1]), maxlen=limit or None)
        return task

    def get(self, kind: str, task_id: str) -> TaskState | None:
        return self._load_task(kind, task_id, history=False)

    def fresh(self, task: TaskState) -> TaskState:
        current = self._load_task(task.kind, task.task_id, history=True) or task
        current.settle(self.clock.now())
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
        self,
        kind: str,
        task_id: str,
        auto: Scenario | None,
        seed_key: SeedKey,
        pick_fault: PickFault,
        method: str,
        path: str | None,
        headers: Iterable[tuple[str, str]],
    ) -> Poll | None:
        s = self._settings
        auto_sid = self._derived[0]
        auto_id, auto_key = "", ""
        if auto is not None and valid_task_id(task_id):
            auto_id, auto_key = auto_sid, str(seed_key(kind, task_id, auto))
        # the journal entry's fields known before the poll, as JSON members
        head = (
            f'"method":{_q(method)},"path":{_q(shorten(path or f"/{kind}/{task_id}", 512))},'
            f'"kind":{_q(kind)},"task_id":{_q(task_id)}'
        )
        hdrs = ",".join(f"{_q(k)}:{_q(v)}" for k, v in journal_headers(headers).items())
        tail = f'"wall":{wall_time()!r},"headers":{{{hdrs}}}'
        a = self._static
        args: list[Any] = [
            a[0],
            a[1],
            self._member(kind, task_id),
            auto_id,
            auto_key,
            a[2],
            a[3],
            a[4],
            a[5],
            a[6],
            a[7],
            head,
            tail,
            a[8],
            b"poll",
        ]
        out = self._poll(args)
        tag = _str(out[0])
        if tag == "NOSC" and auto is not None:  # the store was reset by another worker
            self._stored.discard(auto_sid)
            self._scenario_id(auto)
            out = self._poll(args)
            tag = _str(out[0])
        if tag == "STALE":
            self._load()
            raise StaleSettings
        fault: Fault | None = None
        if tag == "BEGIN":  # probability faults: the draw is made here, from the number
            n, now = int(out[1]), _fnum(out[2])
            task = TaskState(kind, task_id, self._scenario(_str(out[3])), now, int(out[4]))
            fault = pick_fault(task, n)
            args[14:] = [
                "answer",
                n,
                repr(now),
                "" if fault is None else fault.http_status,
                "" if fault is None else fault.type,
            ]
            out = self._poll(args)
            tag = _str(out[0])
        if tag != "OK":
            return None
        n, now, step_i = int(out[1]), _fnum(out[2]), int(out[3])
        ri = _str(out[4])
        src, idx = int(out[5]), int(out[6])
        scenario = self._scenario(_str(out[7]))
        task = TaskState(kind, task_id, scenario, _fnum(out[9]), int(out[8]))
        task.requests = n
        task.step = step_i
        task.run_id = int(ri) if ri else None
        if src == 1:
            fault = scenario.faults[idx]
        elif src == 2:
            fault = s.faults[idx]
        return Poll(task, n, now, scenario.steps[step_i], fault, task.run_id, bool(int(out[10])))

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


_q: Callable[[str], str] = json.encoder.encode_basestring_ascii


__all__ = ["DEFAULT_PREFIX", "RedisClock", "RedisStore", "parse_store_url"]
