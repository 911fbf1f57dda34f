"""A lean connection for the Redis store's hot path: EVALSHA over a plain socket per thread,
in the Redis protocol (RESP2), without redis-py's command machinery."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from typing import TYPE_CHECKING, Any

from ...core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import redis


def import_redis() -> Any:
    try:
        import redis
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "--store redis://...: needs the redis package: pip install 'mockcamb[redis]'"
        ) from None
    return redis


class RawScript:
    """EVALSHA of one script over a plain socket per thread: the hot path skips redis-py's
    command machinery. Plain TCP only (``redis://``, with optional password and db);
    anything else goes through redis-py. Errors close the connection and surface as
    ``redis.RedisError`` like redis-py's own (``TimeoutError`` past the client's socket
    timeouts, ``ConnectionError`` otherwise). A thread's connection that turns out dead
    (Redis restarted since its last call) is reopened and the call sent again, once;
    a script Redis forgot (NOSCRIPT) is loaded again."""

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
        self._connect_timeout = kw.get("socket_connect_timeout") or self._timeout

    def _connect(self) -> Any:
        sock: socket.socket | None = None
        try:
            sock = socket.create_connection(
                (self._host, self._port), timeout=self._connect_timeout
            )
            sock.settimeout(self._timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = sock.makefile("rb")
            for command in self._auth:
                sock.sendall(command)
                line = reader.readline()
                if not line.startswith(b"+"):
                    sock.close()
                    raise redis_error()(f"Redis refused {command.split()[2]!r}: {line!r}")
        except OSError as exc:
            if sock is not None:
                sock.close()
            raise _lost(exc) from None
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
        reused = conn is not None and conn[0] == os.getpid()  # not inherited through a fork
        if not reused:
            conn = self._connect()
        sha = self._script.sha.encode()
        words = [
            b"EVALSHA",
            sha,
            b"0",
            *(a if isinstance(a, bytes) else str(a).encode() for a in args),
        ]
        packed = _pack(words)
        try:
            reply = self._send(conn, packed)
        except OSError as exc:
            if not reused or isinstance(exc, TimeoutError):
                raise _lost(exc) from None
            # a connection from before Redis restarted: the command never reached it
            reply = self._send(self._connect(), packed)
        if isinstance(reply, _ReplyError):
            if reply.message.startswith("NOSCRIPT"):
                self._client.script_load(self._script.script)
                return self(args)
            if reply.message.startswith("LOADING"):  # restarted, reading its data back
                raise redis_error("BusyLoadingError")(reply.message)
            raise redis_error("ResponseError")(reply.message)
        return reply  # type: ignore[no-any-return]

    def _send(self, conn: Any, packed: bytes) -> Any:
        """Send one command on ``conn`` and read its reply; on any error close ``conn``
        and raise an OSError (``TimeoutError`` for a socket timeout)."""
        try:
            conn[1].sendall(packed)
            return _read(conn[2])
        except (OSError, ValueError) as exc:
            self._local.conn = None
            with self._lock, contextlib.suppress(ValueError):
                self._open.remove((conn[1], conn[2]))
            with contextlib.suppress(OSError):
                conn[2].close()
                conn[1].close()
            if isinstance(exc, OSError):
                raise
            raise ConnectionResetError(str(exc)) from None


def _lost(exc: OSError) -> Any:
    """The redis-py error for a socket error: ``TimeoutError`` or ``ConnectionError``."""
    if isinstance(exc, TimeoutError):
        return redis_error("TimeoutError")(f"Redis did not answer in time: {exc}")
    return redis_error()(f"Redis connection lost: {exc}")


class _ReplyError:
    def __init__(self, message: str) -> None:
        self.message = message


def redis_error(name: str = "ConnectionError") -> Any:
    return getattr(import_redis(), name)


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
