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
from urllib.parse import quote, unquote, urlsplit

import requests
import responses
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from .core.emulator import Emulator, Reply, error_reply
from .http.app import API_PREFIX, MAX_BODY, json_body
from .testing import CAMB_BASE_URL, DEFAULT_API_KEY, MockCamb, build_emulator

if TYPE_CHECKING:
    from requests import PreparedRequest

_sleep = time.sleep  # captured at import: a virtual sleep in the client never skips latency
# The Flask routes, with werkzeug's ``<path:...>`` converter regex (no DOTALL, like werkzeug).
_PATH = "[^/].*?"
_STATUS = re.compile(rf"/(story|project-setup)/({_PATH})")
_RESULT = re.compile(rf"/(story|project-setup)-result/({_PATH})")
_CREATE = re.compile(r"/(story|project-setup)")
_ANY = re.compile(rf"/(?:{_PATH})?|//")  # werkzeug lets "/apis//" reach the "/apis/" route
_FAST_STATUS = re.compile(r"/(story|project-setup)/(.+)", re.DOTALL)  # app.StatusFastPath
_ROUTES = (
    (_STATUS, "status", ("GET", "HEAD")),
    (_RESULT, "result", ("GET", "HEAD")),
    (_CREATE, "create", ("POST",)),
)
_HTML = "text/html; charset=utf-8"
_ALLOW = "OPTIONS, GET, POST, PATCH, PUT, HEAD, DELETE"

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

    def register(self, rsps: Any = responses.mock) -> responses.BaseResponse:
        """Route every method under ``base_url`` to the emulator on ``rsps``; returns the
        registered response (``rsps.remove(it)`` undoes it)."""
        route = _AnyMethod(self)
        rsps.add(route)
        return route

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
        if prepared.method == "GET":  # the hot path, like the app's: no werkzeug request
            parts = urlsplit(prepared.url or "")
            path = unquote(parts.path)
            rest = path[len(self._prefix) :]
            if path.startswith(self._prefix) and (m := _FAST_STATUS.fullmatch(rest)):
                headers = [("Host", parts.netloc), *prepared.headers.items()]
                key = prepared.headers.get("x-api-key")
                return self.emulator.status(m[1], m[2], key, path=path, headers=headers)
        request = self._request(prepared)
        if request is None:
            return error_reply(413, "The data value transmitted exceeds the capacity limit.")
        try:
            return self._route(request)
        except HTTPException as exc:  # e.g. a body too large for the form parser
            return error_reply(exc.code or 400, exc.description or exc.name)
        finally:
            request.close()  # uploaded files live in temporary files until closed

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
            # The body is whole already (as a server hands it over after de-chunking).
            headers=[
                (k, v) for k, v in prepared.headers.items() if k.lower() != "transfer-encoding"
            ],
            data=body,
        )
        try:
            request = Request(builder.get_environ())
        finally:
            builder.close()
        request.max_content_length = MAX_BODY
        return request

    def _route(self, request: Request) -> Reply:
        """Route as the app does: its fast path for status GETs, then werkzeug's rules (a
        route, else the catch-all; else a redirect to the path with merged slashes; else 405
        or 404)."""
        path = request.path
        rest = path[len(self._prefix) :] if path.startswith(self._prefix) else path
        method = request.method
        if method == "GET" and (m := _FAST_STATUS.fullmatch(rest)):
            return self._call("status", m, request)
        if not rest:
            return self._redirect(request, "/")
        hit, wrong_method = _match(rest, method)
        if hit is None and "//" in rest:
            merged = re.sub("/{2,}", "/", rest)
            hit, wrong_merged = _match(merged, method)
            if hit is not None:
                return self._redirect(request, merged)
            wrong_method = wrong_method or wrong_merged
        if hit is None:
            if wrong_method:
                return error_reply(405, MethodNotAllowed.description, Allow=_ALLOW)
            return error_reply(404, NotFound.description)
        return self._call(hit[0], hit[1], request)

    def _redirect(self, request: Request, rest: str) -> Reply:
        query = request.query_string.decode("latin-1")
        target = quote(self._prefix + rest, safe="/!$&'()*+,:;=@")
        location = self._origin + target + (f"?{query}" if query else "")
        return Reply(308, raw=b"", content_type=_HTML, headers={"Location": location})

    def _call(self, action: str, m: re.Match[str], request: Request) -> Reply:
        if action == "options":  # Flask answers OPTIONS on its routes itself, unjournaled
            return Reply(200, raw=b"", content_type=_HTML, headers={"Allow": _ALLOW})
        emu = self.emulator
        path = request.path
        key = request.headers.get("x-api-key")
        headers = list(request.headers.items())
        if action == "unknown":
            return emu.unknown_route(request.method, path, key, headers)
        kind = m[1]
        if action == "status":
            return emu.status(kind, m[2], key, path=path, headers=headers)
        if action == "result":
            base = self._origin + API_PREFIX
            return emu.result(kind, m[2], key, base_url=base, path=path, headers=headers)
        scenario = request.headers.get("x-mockcamb-scenario")
        if kind == "story":
            multipart = request.mimetype.startswith("multipart/")
            return emu.create(
                kind,
                key,
                request.form.to_dict() if multipart or request.form else {},
                has_file="file" in request.files,
                scenario=scenario,
                path=path,
                headers=headers,
            )
        body = json_body(request.get_data(cache=True))
        return emu.create(kind, key, body, scenario=scenario, path=path, headers=headers)


def _match(rest: str, method: str) -> tuple[tuple[str, re.Match[str]] | None, bool]:
    """werkzeug's matching of the app's rules: the first route whose path matches and that
    allows ``method`` (OPTIONS always), else the catch-all; and whether some route matched
    the path but not the method."""
    wrong_method = False
    for pattern, action, methods in _ROUTES:
        if (m := pattern.fullmatch(rest)) is None:
            continue
        if method in methods:
            return (action, m), wrong_method
        if method == "OPTIONS":
            return ("options", m), wrong_method
        wrong_method = True
    if (m := _ANY.fullmatch(rest)) is not None:
        return ("unknown", m), wrong_method
    return None, wrong_method


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
    any other URL fail as ``responses`` makes them fail, unless you add a passthrough.
    """
    emu = emulator if emulator is not None else build_emulator(settings)
    if emulator is not None and settings:
        emu.configure(settings)
    adapter = ResponsesAdapter(emu, base_url)
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
