"""No request to the CAMB host leaves the process while an in-process mode is active.

The in-process modes answer one client library each (``requests`` through ``responses``,
httpx through its transports). While any of them is active, :func:`guard` makes sure that a
request to the CAMB host that *no* mode answers (another library, another URL on that host,
a proxy in between) is refused with :class:`CambHostRefused`, naming the fixture to use,
instead of reaching the live service. The guarded origins are the base URL of every active
mode and CAMB's real host, ``client.camb.ai``, on any port.

The checks sit where each library turns a URL into a connection, so they also see requests
that go through a proxy:

- urllib3 (and so ``requests``, when ``responses`` does not answer it):
  ``HTTPConnectionPool.urlopen``;
- ``urllib.request``: ``AbstractHTTPHandler.do_open``;
- aiohttp, when it is imported: ``BaseConnector.connect``;
- httpx: its transports, patched by :mod:`mockcamb.httpx_mode` (which the modes enter);
- anything else that resolves or connects by name (``http.client``, raw sockets, a library
  imported later): ``socket.getaddrinfo`` and ``socket.create_connection``.

The patches are installed when the first guard starts and removed when the last one ends
(unless something patched over them meanwhile); while installed they look up the active
guards on every call, so another thread's request is checked as well.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import urllib3.connectionpool

from .core.errors import MockCambError

#: The live service's host: always guarded while a mode is active, whatever its base URL.
CAMB_HOST: Final = "client.camb.ai"

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}

#: What answers each library in process, for the refusal's hint.
_LOCAL_SERVER = (
    "use the `mockcamb` fixture (a real local server, or mockcamb.serve_in_thread()) and give "
    "the code its base_url"
)
_HINTS: Final = {
    "httpx": "httpx requests under the base URL are answered in process by the "
    "`mockcamb_httpx` fixture (mockcamb.httpx_mode.intercept())",
    "urllib3": "requests calls are answered in process by the `mockcamb_responses` fixture "
    "(mockcamb.responses_mode.intercept()); for code that uses urllib3 itself, " + _LOCAL_SERVER,
    "aiohttp": "aiohttp is not answered in process: " + _LOCAL_SERVER,
    "urllib.request": "urllib.request is not answered in process: " + _LOCAL_SERVER,
    "socket": "only requests (`mockcamb_responses`) and httpx (`mockcamb_httpx`) are answered "
    "in process; for anything else, " + _LOCAL_SERVER,
}


class CambHostRefused(MockCambError):
    """A request to the CAMB host that no in-process mode answers, refused before it left
    the process (not an ``OSError``: retry loops must not swallow it)."""


@dataclass(frozen=True, slots=True)
class Guarded:
    """One active mode: its name (the fixture) and the origin it answers."""

    mode: str
    base_url: str
    host: str
    port: int


_lock = threading.Lock()
_active: tuple[Guarded, ...] = ()  # replaced whole under the lock, read without it
_patches: list[tuple[Any, str, Any, Any]] = []  # (owner, name, original, replacement)


def _norm_host(host: object) -> str:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return str(host or "").strip("[]").rstrip(".").lower()


def _port(value: object, scheme: str = "") -> int | None:
    """A port as an int (``None``: unknown, any port matches)."""
    if isinstance(value, int):
        return value
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        return _DEFAULT_PORTS.get(value.lower())
    return _DEFAULT_PORTS.get(scheme.lower())


def active() -> tuple[Guarded, ...]:
    """The active guards, innermost last."""
    return _active


def refusal(host: object, port: object, library: str, url: str = "") -> CambHostRefused | None:
    """The error for a ``library`` request to ``host:port``, or ``None`` when it may go."""
    guards = _active
    if not guards:
        return None
    name, number = _norm_host(host), _port(port)
    hit = name == CAMB_HOST or any(
        name == g.host and (number is None or number == g.port) for g in guards
    )
    if not hit:
        return None
    modes = ", ".join(f"{g.mode} ({g.base_url})" for g in guards)
    where = url or (f"{name}:{number}" if number is not None else name)
    return CambHostRefused(
        f"mockcamb: refused a request to {where} (by {library}): an in-process mode is active "
        f"[{modes}] and no request to the CAMB host may leave the process; "
        f"{_HINTS.get(library, _HINTS['socket'])}"
    )


def check_url(url: str, library: str) -> None:
    """Raise :class:`CambHostRefused` if a ``library`` request to ``url`` must not leave."""
    if not _active:
        return
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    error = refusal(parts.hostname, port if port is not None else parts.scheme, library, url)
    if error is not None:
        raise error


# --- the patches ---------------------------------------------------------------------------


def _patch_getaddrinfo(original: Callable[..., Any]) -> Callable[..., Any]:
    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        error = refusal(host, port, "socket") if _active else None
        if error is not None:
            raise error
        return original(host, port, *args, **kwargs)

    return getaddrinfo


def _patch_create_connection(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        if _active and isinstance(address, tuple) and len(address) >= 2:
            error = refusal(address[0], address[1], "socket")
            if error is not None:
                raise error
        return original(address, *args, **kwargs)

    return create_connection


def _patch_urlopen(original: Callable[..., Any]) -> Callable[..., Any]:
    def urlopen(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if _active:
            if "://" in str(url):  # an absolute URL: sent through an HTTP proxy
                check_url(str(url), "urllib3")
            else:
                error = refusal(self.host, _port(self.port, self.scheme), "urllib3")
                if error is not None:
                    raise error
        return original(self, method, url, *args, **kwargs)

    return urlopen


def _patch_do_open(original: Callable[..., Any]) -> Callable[..., Any]:
    def do_open(self: Any, http_class: Any, req: Any, **kwargs: Any) -> Any:
        if _active:
            check_url(req.full_url, "urllib.request")
        return original(self, http_class, req, **kwargs)

    return do_open


def _patch_aiohttp_connect(original: Callable[..., Any]) -> Callable[..., Any]:
    async def connect(self: Any, req: Any, *args: Any, **kwargs: Any) -> Any:
        if _active:
            check_url(str(req.url), "aiohttp")
        return await original(self, req, *args, **kwargs)

    return connect


def _targets() -> list[tuple[Any, str, Callable[[Callable[..., Any]], Callable[..., Any]]]]:
    """(owner, attribute, wrapper factory) of every patch; aiohttp only once imported (it is
    heavy to import, and the socket patch covers it until then)."""
    found: list[tuple[Any, str, Callable[[Callable[..., Any]], Callable[..., Any]]]] = [
        (socket, "getaddrinfo", _patch_getaddrinfo),
        (socket, "create_connection", _patch_create_connection),
        (urllib3.connectionpool.HTTPConnectionPool, "urlopen", _patch_urlopen),
        (urllib.request.AbstractHTTPHandler, "do_open", _patch_do_open),
    ]
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None:
        found.append((aiohttp.BaseConnector, "connect", _patch_aiohttp_connect))
    return found


def _install() -> None:
    """Patch what is not patched yet (called under the lock at every guard's start, so that
    aiohttp imported since the last start is covered too)."""
    done = {(id(owner), name) for owner, name, _, _ in _patches}
    for owner, name, factory in _targets():
        if (id(owner), name) in done:
            continue
        original = getattr(owner, name)
        replacement = factory(original)
        setattr(owner, name, replacement)
        _patches.append((owner, name, original, replacement))


def _uninstall() -> None:
    while _patches:
        owner, name, original, replacement = _patches.pop()
        if getattr(owner, name) is replacement:  # else someone patched over it: leave theirs
            setattr(owner, name, original)


@contextlib.contextmanager
def guard(base_url: str, mode: str) -> Iterator[Guarded]:
    """While the block runs, refuse every request to ``base_url``'s origin and to
    :data:`CAMB_HOST` that no in-process mode answers; ``mode`` names the fixture."""
    global _active
    parts = urlsplit(base_url)
    port = _port(parts.port, parts.scheme)
    entry = Guarded(mode, base_url.rstrip("/"), _norm_host(parts.hostname), port or 0)
    with _lock:
        _install()
        _active = (*_active, entry)
    try:
        yield entry
    finally:
        with _lock:
            rest = list(_active)
            rest.remove(entry)
            _active = tuple(rest)
            if not _active:
                _uninstall()


__all__ = ["CAMB_HOST", "CambHostRefused", "Guarded", "active", "check_url", "guard", "refusal"]
