"""The dashboard's route, ``GET /__admin/``, behind the admin token: the blueprint the app
registers. The page itself (:mod:`.dashboard`: its model, filters and timelines, a dozen
dataclasses) is imported on the first request, not when the server starts: it was a tenth of
``mockcamb serve``'s import time."""

from __future__ import annotations

from typing import Final

from flask import Blueprint, Response, request

from .auth import check_admin_token
from .wsgi import ADMIN_PREFIX

_SECURITY_HEADERS: Final = {
    # form-action 'self': the filter form is a plain GET form to this page.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

dashboard = Blueprint("dashboard", __name__, url_prefix=ADMIN_PREFIX, template_folder="templates")


@dashboard.before_request
def _guard() -> Response | None:
    """The admin token check of ``/__admin``; a browser gives the token as the password of
    HTTP Basic auth (any user name), since it cannot send custom headers: a 401 asks it to."""
    denied = check_admin_token()
    if denied is not None:
        denied.headers["WWW-Authenticate"] = 'Basic realm="mockcamb admin"'
    return denied


@dashboard.get("/")
def dashboard_page() -> Response:
    from .dashboard import page  # on the first request (see the module)

    resp = Response(page(request.args), content_type="text/html; charset=utf-8")
    resp.headers.update(_SECURITY_HEADERS)
    return resp


__all__ = ["dashboard"]
