"""The Flask adapter: routes the emulated API and the admin API onto an :class:`Emulator`."""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from ..core.emulator import Emulator, Reply, check_task_id
from ..core.errors import ConfigError, MockCambError
from ..core.scenario import load_preset, parse_scenario, preset_names
from ..core.statuses import KINDS

API_PREFIX = "/apis"
ADMIN_PREFIX = "/__admin"
MAX_BODY = 16 * 1024 * 1024
_sleep = time.sleep  # captured at import: virtual sleep in a client never speeds up latency
_clock = time.perf_counter  # likewise: latency is measured on the real clock
#: WSGI environ key: when the request reached the app (the start of its injected latency).
START_KEY = "mockcamb.start"
log = logging.getLogger("mockcamb")


def emulator() -> Emulator:
    """The emulator behind the current Flask app."""
    emu: Emulator = current_app.extensions["mockcamb"]
    return emu


class CutShort:
    """An empty response body sent under a ``Content-Length`` that promises a megabyte: the
    server must close the connection without finishing the answer (granian closes it before
    the status line or right after the headers). The ``drop_connection`` fault where the
    socket is out of reach."""

    def __iter__(self) -> CutShort:
        return self

    def __next__(self) -> bytes:
        raise StopIteration


def to_response(reply: Reply) -> Response:
    """Turn a transport-neutral reply into a Flask response, waiting out its latency."""
    if reply.delay > 0:
        wait_out(current_app.config, reply.delay, request.environ.get(START_KEY))
    payload = reply.payload()
    resp = Response(payload, status=reply.status_code, content_type=reply.content_type)
    for name, value in reply.headers.items():
        resp.headers[name] = value
    if reply.drop:
        dropper = current_app.config.get("MOCKCAMB_DROP_CONNECTION")
        if dropper is not None and dropper(request.environ):
            return resp  # the socket is shut already: the client sees no answer at all
        # No socket access (granian, another WSGI server): promise more than we send, so the
        # server must close the connection mid-answer (the client sees IncompleteRead).
        resp = Response(CutShort(), status=200, content_type=reply.content_type)
        resp.headers["Content-Length"] = "1048576"
        resp.direct_passthrough = True
    return resp


class _NotJSON:
    """What :func:`json_body` returns for a body that is not strict JSON."""


NOT_JSON = _NotJSON()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body(data: bytes) -> Any:
    """Parse a request body as strict JSON: NaN/Infinity, bad UTF-8 and absurd nesting
    give :data:`NOT_JSON` (so a 4xx), never an exception."""
    if not data:
        return NOT_JSON
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return NOT_JSON


def wait_out(config: Mapping[str, Any], seconds: float, since: float | None = None) -> None:
    """Wait out an injected latency: through the server's hook when it has one (it grows
    the worker pool so a sleeping request never holds a worker others need), else sleep.
    With ``since`` (a ``perf_counter`` reading when the request arrived) the time already
    spent answering counts toward the latency, so the answer leaves ``seconds`` after the
    request came in, not later."""
    if since is not None:
        seconds -= _clock() - since
        if seconds <= 0:
            return
    hook = config.get("MOCKCAMB_DELAY")
    if hook is not None:
        hook(seconds)
    else:
        _sleep(seconds)


def _json_error(status: int, detail: Any) -> Response:
    return to_response(Reply(status, {"detail": detail}))


def _headers() -> list[tuple[str, str]]:
    return list(request.headers.items())


def _key() -> str | None:
    return request.headers.get("x-api-key")


# --- the emulated API ----------------------------------------------------------------

api = Blueprint("api", __name__, url_prefix=API_PREFIX)


@api.get("/story/<path:task_id>")
def story_status(task_id: str) -> Response:
    return to_response(
        emulator().status("story", task_id, _key(), path=request.path, headers=_headers())
    )


@api.get("/project-setup/<path:task_id>")
def project_setup_status(task_id: str) -> Response:
    return to_response(
        emulator().status("project-setup", task_id, _key(), path=request.path, headers=_headers())
    )


@api.post("/story")
def create_story() -> Response:
    fields = (
        request.form.to_dict() if request.mimetype.startswith("multipart/") or request.form else {}
    )
    return to_response(
        emulator().create(
            "story",
            _key(),
            fields,
            has_file="file" in request.files,
            scenario=request.headers.get("x-mockcamb-scenario"),
            path=request.path,
            headers=_headers(),
        )
    )


@api.post("/project-setup")
def create_project_setup() -> Response:
    body = json_body(request.get_data(cache=True))
    return to_response(
        emulator().create(
            "project-setup",
            _key(),
            body,
            scenario=request.headers.get("x-mockcamb-scenario"),
            path=request.path,
            headers=_headers(),
        )
    )


@api.get("/story-result/<path:run_id>")
def story_result(run_id: str) -> Response:
    return to_response(_result("story", run_id))


@api.get("/project-setup-result/<path:run_id>")
def project_setup_result(run_id: str) -> Response:
    return to_response(_result("project-setup", run_id))


def _result(kind: str, run_id: str) -> Reply:
    base = request.host_url.rstrip("/") + API_PREFIX
    return emulator().result(
        kind, run_id, _key(), base_url=base, path=request.path, headers=_headers()
    )


_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@api.route("/", defaults={"rest": ""}, methods=_ALL_METHODS, strict_slashes=False)
@api.route("/<path:rest>", methods=_ALL_METHODS)
def unknown(rest: str) -> Response:
    return to_response(emulator().unknown_route(request.method, request.path, _key(), _headers()))


# --- the admin API --------------------------------------------------------------------

admin = Blueprint("admin", __name__, url_prefix=ADMIN_PREFIX)


@admin.before_request
def _check_admin_token() -> Response | None:
    token: str | None = current_app.config.get("MOCKCAMB_ADMIN_TOKEN")
    if not token or request.path == f"{ADMIN_PREFIX}/health":
        return None
    given = request.headers.get("x-admin-token") or ""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        given = given or auth[7:]
    if not hmac.compare_digest(given.encode(), token.encode()):
        return _json_error(401, "This admin API needs the x-admin-token header")
    return None


def _body() -> dict[str, Any]:
    data = request.get_data(cache=True)
    if not data:
        return {}
    doc = json_body(data)
    if not isinstance(doc, dict):
        raise ConfigError("body: must be a JSON object")
    return doc


def _kind(value: Any) -> str:
    if value not in KINDS:
        raise ConfigError(f"kind: must be 'story' or 'project-setup', got {value!r}")
    return str(value)


def _int_arg(name: str, default: int | None) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 0 < int(raw) <= 1_000_000:
        raise ConfigError(f"{name}: must be an integer from 1 to 1000000, got {raw!r}")
    return int(raw)


@admin.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok", "tasks": emulator().task_count(), "clock": emulator().clock.kind}


@admin.post("/tasks")
def admin_create_task() -> tuple[dict[str, Any], int]:
    doc = _body()
    unknown_fields = set(doc) - {"kind", "task_id", "scenario"}
    if unknown_fields:
        raise ConfigError(
            f"{sorted(unknown_fields)[0]}: unknown field; expected kind, task_id, scenario"
        )
    kind = _kind(doc.get("kind"))
    task_id = doc.get("task_id")
    if task_id is not None:
        check_task_id(task_id)
    emu = emulator()
    task = emu.create_task(kind, task_id, doc.get("scenario"))
    return emu.snapshot(task), 201


@admin.get("/tasks")
def admin_tasks() -> dict[str, Any]:
    kind = request.args.get("kind")
    if kind is not None:
        _kind(kind)
    limit = _int_arg("limit", 1000) or 1000
    return {"tasks": emulator().tasks(kind, limit)}


@admin.get("/tasks/<kind>/<path:task_id>")
def admin_task(kind: str, task_id: str) -> Response | dict[str, Any]:
    emu = emulator()
    task = emu.get_task(_kind(kind), task_id)
    if task is None:
        return _json_error(404, f"No {kind} task with id {task_id[:80]!r}")
    return emu.snapshot(task)


@admin.get("/clock")
def admin_clock() -> dict[str, Any]:
    clock = emulator().clock
    return {"now": clock.now(), "kind": clock.kind}


@admin.post("/clock/advance")
def admin_advance() -> dict[str, Any]:
    doc = _body()
    if "seconds" not in doc:
        raise ConfigError('seconds: is required, e.g. {"seconds": 30}')
    emu = emulator()
    return {"now": emu.advance(doc["seconds"]), "kind": emu.clock.kind}


@admin.get("/requests")
def admin_requests() -> dict[str, Any]:
    kind = request.args.get("kind")
    if kind is not None:
        _kind(kind)
    entries = emulator().journal(kind, request.args.get("task_id"), _int_arg("limit", None))
    return {"requests": entries}


@admin.delete("/requests")
def admin_clear_requests() -> dict[str, Any]:
    emulator().clear_journal()
    return {"cleared": True}


@admin.get("/settings")
def admin_get_settings() -> dict[str, Any]:
    return emulator().settings.to_dict()


@admin.put("/settings")
def admin_put_settings() -> dict[str, Any]:
    return emulator().configure(_body()).to_dict()


@admin.post("/reset")
def admin_reset() -> dict[str, Any]:
    emulator().reset()
    return {"reset": True}


@admin.get("/presets")
def admin_presets() -> dict[str, Any]:
    return {"presets": {name: load_preset(name).to_dict() for name in preset_names()}}


@admin.post("/scenarios/validate")
def admin_validate() -> dict[str, Any]:
    return {"valid": True, "scenario": parse_scenario(_body()).to_dict()}


# --- the hot path ----------------------------------------------------------------------

_STATUS_PREFIXES = (("/apis/story/", "story"), ("/apis/project-setup/", "project-setup"))
_JSON_HEADERS = [("Content-Type", "application/json")]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class StatusFastPath:
    """WSGI middleware answering status GETs straight from the emulator, without Flask's
    request machinery; every other request goes to Flask. Same replies, several times faster."""

    def __init__(self, wsgi_app: WSGIApp, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.emu: Emulator = app.extensions["mockcamb"]

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        environ[START_KEY] = _clock()
        if environ.get("REQUEST_METHOD") == "GET":
            path: str = environ.get("PATH_INFO", "")
            for prefix, kind in _STATUS_PREFIXES:
                if path.startswith(prefix) and len(path) > len(prefix):
                    return self._status(environ, start_response, path, prefix, kind)
        return self.wsgi_app(environ, start_response)

    def _status(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        path: str,
        prefix: str,
        kind: str,
    ) -> Iterable[bytes]:
        # PEP 3333 hands the path over as latin-1; decode as UTF-8 like werkzeug does.
        path = path.encode("latin-1", "replace").decode("utf-8", "replace")
        headers = [
            (_header_name(key), value) for key, value in environ.items() if key[:5] == "HTTP_"
        ]
        reply = self.emu.status(
            kind, path[len(prefix) :], environ.get("HTTP_X_API_KEY"), path=path, headers=headers
        )
        dropper = self.app.config.get("MOCKCAMB_DROP_CONNECTION") if reply.drop else None
        # Everything is ready before the wait, so that little is left to do once it ends.
        body: Iterable[bytes]
        if reply.drop:  # cut short where the server cannot shut the socket (see CutShort)
            status, body = "200 OK", CutShort()
            out = [("Content-Type", "application/json"), ("Content-Length", "1048576")]
        else:
            payload = reply.payload()
            status, body = _status_line(reply.status_code), [payload]
            out = (
                _JSON_HEADERS
                if reply.content_type == "application/json"
                else [("Content-Type", reply.content_type)]
            ) + [("Content-Length", str(len(payload))), *reply.headers.items()]
        if reply.delay > 0:
            wait_out(self.app.config, reply.delay, environ[START_KEY])
        if dropper is not None and dropper(environ):  # the socket is shut: no answer at all
            start_response("500 Internal Server Error", [("Content-Length", "0")])
            return [b""]
        start_response(status, out)
        return body


_HEADER_NAMES: dict[str, str] = {}


def _header_name(key: str) -> str:
    """``HTTP_X_API_KEY`` -> ``X-Api-Key``, remembered for the usual few hundred names."""
    name = _HEADER_NAMES.get(key)
    if name is None:
        name = key[5:].replace("_", "-").title()
        if len(_HEADER_NAMES) < 512:  # hostile clients may send endless new names
            _HEADER_NAMES[key] = name
    return name


def _status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


# --- the factory -----------------------------------------------------------------------


def create_app(
    emu: Emulator | None = None,
    *,
    admin_token: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> Flask:
    """Build the Flask app over ``emu`` (a fresh manual-clock emulator by default)."""
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY, MOCKCAMB_ADMIN_TOKEN=admin_token)
    if config:
        app.config.update(config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["mockcamb"] = emu if emu is not None else Emulator()
    app.register_blueprint(api)
    app.register_blueprint(admin)
    from .dashboard import dashboard  # GET /__admin/ (HTML, behind the same admin token)
    from .openapi import openapi  # GET /openapi.json

    app.register_blueprint(dashboard)
    app.register_blueprint(openapi)

    app.wsgi_app = StatusFastPath(app.wsgi_app, app)  # type: ignore[method-assign]

    @app.errorhandler(MockCambError)
    def _user_error(exc: MockCambError) -> Response:
        return _json_error(400, str(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        resp = _json_error(exc.code or 500, exc.description or exc.name)
        if exc.code == 405:  # keep werkzeug's Allow header, as HTTP requires
            allow = dict(exc.get_headers()).get("Allow")
            if allow:
                resp.headers["Allow"] = allow
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:  # pragma: no cover - a bug if reached
        log.exception("internal error in mockcamb")
        return _json_error(500, f"mockcamb internal error: {type(exc).__name__}")

    return app
