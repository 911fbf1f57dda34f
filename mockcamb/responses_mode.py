"""In-process mode: ``requests`` calls to the API are answered by an :class:`Emulator` through
the ``responses`` library, with no server and no port.

A second thin adapter beside the Flask app: it parses the request with werkzeug (as Flask
does), calls the same emulator methods and turns the :class:`Reply` into a ``responses``
answer. A dropped connection raises ``requests.exceptions.ConnectionError``; latency sleeps
for real (through a reference taken at import, so virtual sleep never skips it).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import responses
from werkzeug.exceptions import HTTPException
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from .app import API_PREFIX, MAX_BODY
from .emulator import Emulator, Reply, error_reply
from .testing import CAMB_BASE_URL, DEFAULT_API_KEY, MockCamb, build_emulator

if TYPE_CHECKING:
    from requests import PreparedRequest

_sleep = time.sleep  # captured at import: a virtual sleep in the client never skips latency
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_STATUS = re.compile(r"^/(story|project-setup)/(.+)$", re.DOTALL)
_RESULT = re.compile(r"^/(story|project-setup)-result/(.+)$", re.DOTALL)
_CREATE = re.compile(r"^/(story|project-setup)$")

Answer = tuple[int, dict[str, str], bytes]


class ResponsesAdapter:
    """Answers ``requests`` calls under ``base_url`` from ``emulator``; :meth:`register` it
    on a ``responses.RequestsMock`` (or on the default ``responses`` mock)."""

    def __init__(self, emulator: Emulator, base_url: str = CAMB_BASE_URL) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url: must be an http(s) URL, got {base_url!r}")
        self.emulator = emulator
        self.base_url = base_url.rstrip("/")
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path
        self.pattern = re.compile(re.escape(self.base_url) + r"(?:[/?#].*)?$", re.DOTALL)

    def register(self, rsps: Any = responses.mock) -> None:
        """Route every method under ``base_url`` to the emulator on ``rsps``."""
        for method in METHODS:
            rsps.add_callback(method, self.pattern, callback=self, content_type=None)

    def __call__(self, prepared: PreparedRequest) -> Answer | Exception:
        reply = self.reply_for(prepared)
        if reply.delay > 0:
            _sleep(reply.delay)
        if reply.drop:
            return requests.exceptions.ConnectionError(
                "mockcamb: connection dropped by the scenario (injected fault)",
                request=prepared,
            )
        headers = {"Content-Type": reply.content_type, **reply.headers}
        body = b"" if prepared.method == "HEAD" else reply.payload()
        return reply.status_code, headers, body

    def reply_for(self, prepared: PreparedRequest) -> Reply:
        """The emulator's reply to one prepared request, routed exactly as the Flask app."""
        request = self._request(prepared)
        if request is None:
            return error_reply(413, "The data value transmitted exceeds the capacity limit.")
        try:
            return self._route(request)
        except HTTPException as exc:  # e.g. a body too large for the form parser
            return error_reply(exc.code or 400, exc.description or exc.name)

    def _request(self, prepared: PreparedRequest) -> Request | None:
        body = _body_bytes(prepared.body)
        if len(body) > MAX_BODY:
            return None
        parts = urlsplit(prepared.url or "")
        builder = EnvironBuilder(
            path=parts.path or "/",
            base_url=self._origin,
            query_string=parts.query,
            method=prepared.method or "GET",
            headers=list(prepared.headers.items()),
            data=body,
        )
        try:
            request = Request(builder.get_environ())
        finally:
            builder.close()
        request.max_content_length = MAX_BODY
        return request

    def _route(self, request: Request) -> Reply:
        emu = self.emulator
        path = request.path
        key = request.headers.get("x-api-key")
        headers = list(request.headers.items())
        rest = path[len(self._prefix) :] if path.startswith(self._prefix) else path
        method = "GET" if request.method == "HEAD" else request.method
        if method == "GET":
            if m := _RESULT.match(rest):
                api_base = self._origin + API_PREFIX
                return emu.result(m[1], m[2], key, base_url=api_base, path=path, headers=headers)
            if m := _STATUS.match(rest):
                return emu.status(m[1], m[2], key, path=path, headers=headers)
        if method == "POST" and (m := _CREATE.match(rest)):
            scenario = request.headers.get("x-mockcamb-scenario")
            if m[1] == "story":
                fields = (
                    request.form.to_dict()
                    if request.mimetype.startswith("multipart/") or request.form
                    else {}
                )
                return emu.create(
                    "story",
                    key,
                    fields,
                    has_file="file" in request.files,
                    scenario=scenario,
                    path=path,
                    headers=headers,
                )
            return emu.create(
                "project-setup",
                key,
                request.get_json(silent=True),
                scenario=scenario,
                path=path,
                headers=headers,
            )
        return emu.unknown_route(request.method, path, key, headers)


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
    any other URL fail as ``responses`` makes them fail, unless you add a passthrough.
    """
    emu = emulator if emulator is not None else build_emulator(settings)
    if emulator is not None and settings:
        emu.configure(settings)
    adapter = ResponsesAdapter(emu, base_url)
    if rsps is not None:
        adapter.register(rsps)
        yield MockCamb(emu, adapter.base_url, api_key, responses=rsps)
        return
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        adapter.register(mock)
        yield MockCamb(emu, adapter.base_url, api_key, responses=mock)


__all__ = ["ResponsesAdapter", "intercept"]
