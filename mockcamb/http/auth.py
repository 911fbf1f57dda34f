"""The admin token check shared by the admin API and the dashboard."""

from __future__ import annotations

import hmac

from flask import Response, current_app, request

from .wsgi import ADMIN_PREFIX, json_error


def admin_token() -> str | None:
    """The token this app's admin API needs, or ``None`` when it is open."""
    token: str | None = current_app.config.get("MOCKCAMB_ADMIN_TOKEN")
    return token or None


def token_matches(given: str) -> bool:
    """Whether ``given`` is the admin token (compared in constant time)."""
    token = admin_token()
    return token is None or hmac.compare_digest(given.encode(), token.encode())


def check_admin_token() -> Response | None:
    """``None`` if the request may use ``/__admin`` (``x-admin-token``, a bearer token, or
    the password of HTTP Basic auth, which a browser that opened the dashboard sends on to
    the JSON it links to), else the 401 to answer. ``/__admin/health`` is always open."""
    if admin_token() is None or request.path == f"{ADMIN_PREFIX}/health":
        return None
    basic = request.authorization
    if basic is not None and basic.type == "basic" and token_matches(basic.password or ""):
        return None
    given = request.headers.get("x-admin-token") or ""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        given = given or auth[7:]
    if not token_matches(given):
        return json_error(401, "This admin API needs the x-admin-token header")
    return None


__all__ = ["admin_token", "check_admin_token", "token_matches"]
