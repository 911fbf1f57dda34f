"""The Flask app factory: the emulated API (views generated from the route table, behind the
status fast path), the admin API, the dashboard and the OpenAPI document, over one
:class:`~mockcamb.core.emulator.Emulator`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

from ..core.emulator import Emulator
from ..core.errors import MockCambError
from ..stores.base import StoreUnavailable, TaskGone, unavailable_reply
from .admin import admin
from .api import api
from .dashboard_route import dashboard
from .fastpath import StatusFastPath
from .openapi import openapi
from .wsgi import MAX_BODY, json_error, to_response

log = logging.getLogger("mockcamb")


class LazyBuildRule(Rule):
    """A URL rule whose URL builder (``url_for``'s half of a rule, which no route of the
    emulator uses) is compiled when first used, not when the rule is added: werkzeug writes
    each builder with ``ast``, about 0.5 ms a rule, a third of a second's tenth over the
    route table's rules at every app creation (``mockcamb serve``'s start-up, each test's
    app). Matching is unchanged. Should werkzeug stop calling ``_compile_builder``, rules
    are simply built as before."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        compiled: list[Callable[..., tuple[str, str]]] = []

        def build(rule: Rule, **values: Any) -> tuple[str, str]:
            if not compiled:
                compiled.append(Rule._compile_builder(rule, append_unknown))
            return compiled[0](rule, **values)

        return build


def create_app(
    emu: Emulator | None = None,
    *,
    admin_token: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> Flask:
    """Build the Flask app over ``emu`` (a fresh manual-clock emulator by default)."""
    app = Flask(__name__)
    app.url_rule_class = LazyBuildRule
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY, MOCKCAMB_ADMIN_TOKEN=admin_token)
    if config:
        app.config.update(config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["mockcamb"] = emu if emu is not None else Emulator()
    app.register_blueprint(api)
    app.register_blueprint(admin)
    app.register_blueprint(dashboard)  # GET /__admin/ (HTML, behind the same admin token)
    app.register_blueprint(openapi)  # GET /openapi.json
    app.wsgi_app = StatusFastPath(app.wsgi_app, app)  # type: ignore[method-assign]
    _error_handlers(app)
    return app


def _error_handlers(app: Flask) -> None:
    @app.errorhandler(MockCambError)
    def _user_error(exc: MockCambError) -> Response:
        return json_error(400, str(exc))

    @app.errorhandler(StoreUnavailable)
    def _store_unavailable(exc: StoreUnavailable) -> Response:  # logged once by the store
        return to_response(unavailable_reply(exc))

    @app.errorhandler(TaskGone)
    def _task_gone(exc: TaskGone) -> Response:  # an admin read of a task the store forgot
        return json_error(404, str(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        resp = json_error(exc.code or 500, exc.description or exc.name)
        if exc.code == 405:  # keep werkzeug's Allow header, as HTTP requires
            allow = dict(exc.get_headers()).get("Allow")
            if allow:
                resp.headers["Allow"] = allow
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:  # pragma: no cover - a bug if reached
        log.exception("internal error in mockcamb")
        return json_error(500, f"mockcamb internal error: {type(exc).__name__}")


__all__ = ["create_app"]
