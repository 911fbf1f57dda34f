"""A small read-only HTML dashboard at ``GET /__admin/``: tasks with their status and history,
the last requests, the clock. Every value is HTML-escaped (task ids come from users) and no
API key is ever shown; the admin token guards it like the rest of ``/__admin``."""

from __future__ import annotations

from typing import Any, Final

from flask import Blueprint, Response, render_template, request

from ..core.emulator import REDACTED
from ..core.statuses import FAILURE_STATUSES, PENDING, SUCCESS
from .auth import admin_token, check_admin_token, token_matches
from .wsgi import ADMIN_PREFIX, emulator

MAX_TASKS_SHOWN: Final = 200
MAX_REQUESTS_SHOWN: Final = 100
_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

dashboard = Blueprint("dashboard", __name__, url_prefix=ADMIN_PREFIX, template_folder="templates")


@dashboard.before_request
def _guard() -> Response | None:
    """The admin token check of ``/__admin``; a browser may also give the token as the
    password of HTTP Basic auth (any user name), since it cannot send custom headers."""
    if admin_token() is None:
        return None
    auth = request.authorization
    if auth is not None and auth.type == "basic" and token_matches(auth.password or ""):
        return None
    denied = check_admin_token()
    if denied is not None:
        denied.headers["WWW-Authenticate"] = 'Basic realm="mockcamb admin"'
    return denied


def status_class(status: str) -> str:
    """A fixed CSS class for a status (never the user-controlled string itself)."""
    if status in (SUCCESS, PENDING):
        return status
    return "failed" if status in FAILURE_STATUSES else "custom"


def _refresh() -> int | None:
    raw = request.args.get("refresh", "")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= 3600 else None


def _scrub(value: Any, secrets: frozenset[str]) -> Any:
    """Replace any accepted API key that appears in a string (paths, ids) by a marker."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


@dashboard.get("/")
def dashboard_page() -> Response:
    emu = emulator()
    settings = emu.settings
    secrets = settings.api_keys or frozenset()
    task_count = emu.task_count()
    tasks = emu.tasks(limit=MAX_TASKS_SHOWN)[::-1]
    journal = emu.journal()
    for entry in journal:
        entry.pop("headers", None)  # redacted already; shown nowhere, to be sure
    html = render_template(
        "dashboard.html",
        clock={"kind": emu.clock.kind, "now": emu.clock.now()},
        task_count=task_count,
        tasks=_scrub(tasks, secrets),
        journal_count=len(journal),
        requests=_scrub(journal[-MAX_REQUESTS_SHOWN:][::-1], secrets),
        request_limit=MAX_REQUESTS_SHOWN,
        default_scenario=settings.default_scenario.name or "custom",
        api_keys="any non-empty key"
        if settings.api_keys is None
        else f"{len(settings.api_keys)} accepted",
        unknown_task=settings.unknown_task,
        refresh=_refresh(),
        status_class=status_class,
    )
    resp = Response(html, content_type="text/html; charset=utf-8")
    resp.headers.update(_SECURITY_HEADERS)
    return resp


__all__ = ["dashboard", "status_class"]
