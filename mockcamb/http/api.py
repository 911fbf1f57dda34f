"""The emulated API's Flask views, generated from the route table: one view per
:data:`~mockcamb.core.routes.ROUTES` entry, and a catch-all that answers every other path
under ``/apis`` (401 without a key; 405 for a routed path with another method; else a JSON
404 naming the closest route)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from ..core.bodies import json_body
from ..core.emulator import Emulator
from ..core.replies import Reply
from ..core.routes import API_PREFIX, ROUTES, Route
from .wsgi import emulator, to_response

View = Callable[..., Response]
Handler = Callable[[Emulator, Route, dict[str, str]], Reply]


def _headers() -> list[tuple[str, str]]:
    return list(request.headers.items())


def _key() -> str | None:
    return request.headers.get("x-api-key")


def _path() -> str:
    """The request path as the client sent it (with the mount point of an in-process app)."""
    return request.script_root + request.path


def _base_url() -> str:
    return request.url_root.rstrip("/") + API_PREFIX


def _query() -> dict[str, str]:
    return {k: v for k, v in request.args.items()}


def _kind(route: Route) -> str:
    assert route.family is not None  # every route but the files route has a family
    return route.family.name


def _status(emu: Emulator, route: Route, params: dict[str, str]) -> Reply:
    return emu.status(_kind(route), params["task_id"], _key(), path=_path(), headers=_headers())


def _create_body(route: Route) -> tuple[Any, frozenset[str]]:
    """The create request's fields (the JSON document or the form) and uploaded files."""
    assert route.family is not None
    if route.family.body == "json":
        return json_body(request.get_data(cache=True)), frozenset()
    multipart = request.mimetype.startswith("multipart/")
    fields = request.form.to_dict() if multipart or request.form else {}
    return fields, frozenset(request.files.keys())


def _create(emu: Emulator, route: Route, params: dict[str, str]) -> Reply:
    fields, files = _create_body(route)
    return emu.create(
        _kind(route),
        _key(),
        fields,
        files=files,
        scenario=request.headers.get("x-mockcamb-scenario"),
        params=params,
        path=_path(),
        headers=_headers(),
    )


def _result(emu: Emulator, route: Route, params: dict[str, str]) -> Reply:
    rest = {k: v for k, v in params.items() if k != "run_id"}
    return emu.result(
        _kind(route),
        params["run_id"],
        _key(),
        base_url=_base_url(),
        path=_path(),
        headers=_headers(),
        result=route.result,
        params=rest,
        query=_query(),
    )


def _bulk(emu: Emulator, route: Route, params: dict[str, str]) -> Reply:
    return emu.bulk_results(
        _kind(route),
        _key(),
        json_body(request.get_data(cache=True)),
        base_url=_base_url(),
        path=_path(),
        headers=_headers(),
        result=route.result,
        query=_query(),
    )


def _file(emu: Emulator, route: Route, params: dict[str, str]) -> Reply:
    return emu.result_file(
        params["family"], params["run_id"], params["name"], path=_path(), headers=_headers()
    )


_HANDLERS: dict[str, Handler] = {
    "status": _status,
    "create": _create,
    "result": _result,
    "bulk": _bulk,
    "file": _file,
}


def _view(route: Route) -> View:
    handler = _HANDLERS[route.action]

    def view(**params: str) -> Response:
        return to_response(handler(emulator(), route, params))

    return view


api = Blueprint("api", __name__, url_prefix=API_PREFIX)
for _route in ROUTES:
    api.add_url_rule(
        _route.werkzeug_rule.removeprefix(API_PREFIX),
        endpoint=_route.operation_id,
        view_func=_view(_route),
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
