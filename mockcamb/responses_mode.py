"""In-process mode: ``requests`` calls to the API are answered by an :class:`Emulator` through
the ``responses`` library, with no server and no port.

Each request runs through the real WSGI app (:class:`~mockcamb.http.inprocess.InProcessApp`),
so routing, faults and answers are those of ``mockcamb serve``. A dropped connection raises
``requests.exceptions.ConnectionError``; latency sleeps for real (a client's virtual sleep
never skips it). While :func:`intercept` is active, a request to the CAMB host that it does not
answer (httpx, urllib3, ``urllib.request``, aiohttp...) is refused (:mod:`mockcamb.leaks`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import requests
import responses

from . import leaks
from .core.emulator import Emulator
from .http.inprocess import InProcessApp
from .testing import CAMB_BASE_URL, DEFAULT_API_KEY, MockCamb, build_emulator

if TYPE_CHECKING:
    from requests import PreparedRequest

Answer = tuple[int, dict[str, str], bytes]


class ResponsesAdapter:
    """Answers ``requests`` calls under ``base_url`` from ``emulator``; :meth:`register` it
    on a ``responses.RequestsMock`` (or on the default ``responses`` mock)."""

    def __init__(self, emulator: Emulator, base_url: str = CAMB_BASE_URL) -> None:
        self.app = InProcessApp(emulator, base_url)
        self.emulator = emulator
        self.base_url = self.app.base_url
        self.pattern = re.compile(re.escape(self.base_url) + r"(?:[/?#].*)?$", re.DOTALL)

    def register(self, rsps: Any = responses.mock) -> responses.BaseResponse:
        """Route every method under ``base_url`` to the emulator on ``rsps``; returns the
        registered response (``rsps.remove(it)`` undoes it)."""
        route = _AnyMethod(self)
        rsps.add(route)
        return route

    def __call__(self, prepared: PreparedRequest) -> Answer | Exception:
        answer = self.app.call(
            prepared.method or "GET",
            prepared.url or "",
            prepared.headers.items(),
            _body_bytes(prepared.body),
        )
        if answer.dropped:
            return requests.exceptions.ConnectionError(
                "mockcamb: connection dropped by the scenario (injected fault)",
                request=prepared,
            )
        headers: dict[str, str] = {}
        for name, value in answer.headers:
            if name.lower() != "content-length":  # responses frames the body itself
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return answer.status_code, headers, answer.body


class _AnyMethod(responses.CallbackResponse):
    """One registration for every HTTP method: the emulator answers the methods it does not
    route (404, as the server does), and ``assert_all_requests_are_fired`` sees one entry."""

    def __init__(self, adapter: ResponsesAdapter) -> None:
        super().__init__("GET", adapter.pattern, callback=adapter, content_type=None)
        self._pattern = adapter.pattern

    def matches(self, request: PreparedRequest) -> tuple[bool, str]:
        if self._pattern.match(str(request.url)) is None:
            return False, "URL does not match"
        return True, ""


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if isinstance(body, Iterable):
        return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)
    return bytes(body)


@contextlib.contextmanager
def intercept(
    emulator: Emulator | None = None,
    *,
    base_url: str = CAMB_BASE_URL,
    api_key: str = DEFAULT_API_KEY,
    settings: Mapping[str, Any] | None = None,
    rsps: Any = None,
) -> Iterator[MockCamb]:
    """Answer ``requests`` calls under ``base_url`` in process for the ``with`` block.

    ``with intercept() as mock:`` gives a :class:`MockCamb` over a fresh manual-clock
    emulator (or ``emulator``); ``mock.responses`` is the active ``responses.RequestsMock``
    (pass ``rsps`` to reuse one you started), where other routes can be added. Requests to
    any other URL fail as ``responses`` makes them fail, unless you add a passthrough; requests
    to the CAMB host by other libraries are refused.
    """
    emu = emulator if emulator is not None else build_emulator(settings)
    if emulator is not None and settings:
        emu.configure(settings)
    adapter = ResponsesAdapter(emu, base_url)
    with leaks.guard(adapter.base_url, "mockcamb_responses"), _httpx_guarded():
        yield from _intercepting(adapter, api_key, rsps)


def _httpx_guarded() -> contextlib.AbstractContextManager[None]:
    """httpx's transports refuse the CAMB host too, when httpx is installed."""
    if importlib.util.find_spec("httpx") is None:
        return contextlib.nullcontext()
    from .httpx_mode import patched_transports

    return patched_transports()


def _intercepting(adapter: ResponsesAdapter, api_key: str, rsps: Any) -> Iterator[MockCamb]:
    emu = adapter.emulator
    if rsps is not None:
        route = adapter.register(rsps)
        try:
            yield MockCamb(emu, adapter.base_url, api_key, responses=rsps)
        finally:
            rsps.remove(route)
        return
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        adapter.register(mock)
        yield MockCamb(emu, adapter.base_url, api_key, responses=mock)


__all__ = ["ResponsesAdapter", "intercept"]
