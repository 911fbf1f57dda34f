"""The emulated API's Flask views, generated from the route table: one view per
:data:`~mockcamb.core.routes.ROUTES` entry, and a catch-all that answers every other path
under ``/apis`` (401 without a key, else a JSON 404)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from ..core.bodies import json_body
from ..core.routes import API_PREFIX, ROUTES, Route
from .wsgi import emulator, to_response

View = Callable[..., Response]


def _headers() -> list[tuple[str, str]]:
    return list(request.headers.items())


def _key() -> str | None:
    return request.headers.get("x-api-key")


def _path() -> str:
    """The request path as the client sent it (with the mount point of an in-process app)."""
    return request.script_root + request.path


def _status_view(route: Route) -> View:
    kind = route.family.name

    def view(task_id: str) -> Response:
        reply = emulator().status(kind, task_id, _key(), path=_path(), headers=_headers())
        return to_response(reply)

    return view


def _create_body(route: Route) -> tuple[Any, frozenset[str]]:
    """The create request's fields (the JSON document or the form) and uploaded files."""
    if route.family.body == "json":
        return json_body(request.get_data(cache=True)), frozenset()
    multipart = request.mimetype.startswith("multipart/")
    fields = request.form.to_dict() if multipart or request.form else {}
    return fields, frozenset(request.files.keys())


def _create_view(route: Route) -> View:
    kind = route.family.name

    def view() -> Response:
        fields, files = _create_body(route)
        reply = emulator().create(
            kind,
            _key(),
            fields,
            files=files,
            scenario=request.headers.get("x-mockcamb-scenario"),
            path=_path(),
            headers=_headers(),
        )
        return to_response(reply)

    return view


def _result_view(route: Route) -> View:
    kind = route.family.name

    def view(run_id: str) -> Response:
        base = request.url_root.rstrip("/") + API_PREFIX
        reply = emulator().result(
            kind, run_id, _key(), base_url=base, path=_path(), headers=_headers()
        )
        return to_response(reply)

    return view


_VIEWS: dict[str, Callable[[Route], View]] = {
    "status": _status_view,
    "create": _create_view,
    "result": _result_view,
}

api = Blueprint("api", __name__, url_prefix=API_PREFIX)
for _route in ROUTES:
    api.add_url_rule(
        _route.werkzeug_rule.removeprefix(API_PREFIX),
        endpoint=_route.operation_id,
        view_func=_VIEWS[_route.action](_route),
        methods=[_route.method],
    )

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@api.route("/", defaults={"rest": ""}, methods=ALL_METHODS, strict_slashes=False)
@api.route("/<path:rest>", methods=ALL_METHODS)
def unknown(rest: str) -> Response:
    """Any other path under the API prefix."""
    reply = emulator().unknown_route(
        request.method, _path(), _key(), _headers(), route_path=request.path
    )
    return to_response(reply)


__all__ = ["ALL_METHODS", "api"]
