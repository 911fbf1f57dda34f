"""Small status servers for testing the contract suite: one conforming base, and variants that
each break exactly one rule (or differ only in undocumented details, and still conform).

Each variant is a WSGI app over the same few tasks; :data:`TASK_IDS` lists them as the suite's
``--camb-task-id`` values. Served with waitress on a free port by ``tests/test_contract_suite``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask

API_KEY = "broken-server-key-5f3c9a1e7d"
PREFIX = "/apis/"

#: The tasks every variant holds: bodies per answered poll, the last one repeating for ever.
TASKS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("story", "t-pending"): [{"status": "PENDING"}],
    ("story", "t-done"): [{"status": "PENDING"}, {"status": "SUCCESS", "run_id": 501}],
    ("story", "t-failed"): [{"status": "FAILED", "message": "could not narrate"}],
    ("project-setup", "p-pending"): [{"status": "PENDING"}],
    ("project-setup", "p-done"): [{"status": "SUCCESS", "run_id": 601}],
    (
        "project-setup",
        "p-error",
    ): [{"status": "ERROR", "message": {"detail": "x"}, "exception_reason": "PROCESSING_ERROR"}],
}
TASK_IDS = [f"{kind}:{task_id}" for kind, task_id in TASKS]

Body = Any
Answer = tuple[int, dict[str, str], bytes]


def _json(status: int, body: Any, content_type: str = "application/json") -> Answer:
    return status, {"Content-Type": content_type}, json.dumps(body).encode()


@dataclass
class Variant:
    """How a server differs from the conforming base."""

    name: str
    #: The rule the suite must name (None: a conforming variant, the suite must pass).
    rule: str | None
    #: Turn a conforming body into the answer (status body of task ``kind``/``task_id``, the
    #: poll number); ``None`` keeps it.
    body: Callable[[str, str, int, dict[str, Any]], Answer | None] | None = None
    auth: str = "strict"  # strict | none | any-key | forbidden
    unknown: Callable[[str, str], Answer] | None = None
    #: True if the suite must only fail on project-setup tests.
    only_project_setup: bool = False


def _lowercase(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    return _json(200, {**body, "status": body["status"].lower()})


def _string_run_id(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    if "run_id" in body:
        body = {**body, "run_id": str(body["run_id"])}
    return _json(200, body)


def _no_run_id(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    return _json(200, {k: v for k, v in body.items() if k != "run_id"})


def _reverts(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    if body["status"] == "SUCCESS" and poll >= 3:
        return _json(200, {"status": "PENDING"})
    return _json(200, body)


def _final_changes(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    if body["status"] == "FAILED" and poll >= 2:
        return _json(200, {"status": "ERROR", "message": "now an error"})
    return _json(200, body)


def _text_plain(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    return _json(200, body, "text/plain; charset=utf-8")


def _list(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    return _json(200, [body])


def _outside(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    return _json(200, {**body, "status": "DONE" if body["status"] == "SUCCESS" else "RUNNING"})


def _run_id_changes(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    if body["status"] == "SUCCESS":
        return _json(200, {**body, "run_id": 1000 + poll})
    return _json(200, body)


def _missing_status(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    return _json(200, {"state": body["status"], **{k: v for k, v in body.items() if k != "status"}})


def _not_json(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    return 200, {"Content-Type": "application/json"}, f"status={body['status']}".encode()


def _echoes_key(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    """Not JSON, and it repeats the caller's key: the suite's report must not."""
    return (
        200,
        {"Content-Type": "application/json"},
        f"status={body['status']} key={API_KEY}".encode(),
    )


def _project_setup_only(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    if kind == "project-setup" and "run_id" in body:
        return _json(200, {**body, "run_id": f"run-{body['run_id']}"})
    return _json(200, body)


def _extra_fields(kind: str, task_id: str, poll: int, body: dict[str, Any]) -> Answer:
    out = {"message": None, "exception_reason": None, "run_id": None, **body}
    out.update({"progress": 42, "created_at": "2026-01-01T00:00:00Z", "meta": {"x": [1, 2]}})
    return _json(200, out)


def _html_404(kind: str, task_id: str) -> Answer:
    return 404, {"Content-Type": "text/html"}, b"<html><body><h1>Not Found</h1></body></html>"


def _error_500(kind: str, task_id: str) -> Answer:
    return _json(500, {"detail": "Internal Server Error"})


def _unprocessable(kind: str, task_id: str) -> Answer:
    return _json(
        422,
        {"detail": [{"loc": ["path", "task_id"], "msg": "unknown task", "type": "value_error"}]},
    )


def _crash_on_odd(kind: str, task_id: str) -> Answer:
    if not task_id.replace("-", "").isalnum() or not task_id.isascii():
        raise RuntimeError(f"cannot look up {task_id!r}")
    return _json(404, {"detail": "Not Found"})


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("lowercase_status", "status-vocabulary", body=_lowercase),
        Variant("string_run_id", "run-id-integer", body=_string_run_id),
        Variant("success_without_run_id", "success-run-id", body=_no_run_id),
        Variant("no_auth_check", "auth-missing-key", auth="none"),
        Variant("any_key_accepted", "auth-wrong-key", auth="any-key"),
        Variant("unknown_id_5xx", "unknown-id-4xx", unknown=_error_500),
        Variant("unknown_id_html", "error-json-body", unknown=_html_404),
        Variant("final_status_reverts", "final-never-reverts", body=_reverts),
        Variant("final_status_changes", "final-never-reverts", body=_final_changes),
        Variant("wrong_content_type", "json-content-type", body=_text_plain),
        Variant("list_body", "object-body", body=_list),
        Variant("status_outside_vocabulary", "status-vocabulary", body=_outside),
        Variant("run_id_changes", "run-id-stable", body=_run_id_changes),
        Variant("crash_on_odd_ids", "hostile-id-4xx", unknown=_crash_on_odd),
        Variant("missing_status_field", "status-field", body=_missing_status),
        Variant("body_not_json", "json-body", body=_not_json),
        Variant("body_echoes_the_key", "json-body", body=_echoes_key),
        Variant(
            "one_endpoint_wrong",
            "run-id-integer",
            body=_project_setup_only,
            only_project_setup=True,
        ),
        # Conforming: undocumented details differ.
        Variant("conforming_base", None),
        Variant("forbidden_403", None, auth="forbidden"),
        Variant("unknown_422", None, unknown=_unprocessable),
        Variant("extra_fields", None, body=_extra_fields),
    ]
}


class StatusServer:
    """A WSGI app answering ``GET /apis/{story,project-setup}/{task_id}`` as ``variant`` says."""

    def __init__(self, variant: Variant) -> None:
        self.variant = variant
        self.polls: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        try:
            status, headers, payload = self.answer(environ)
        except Exception:  # a crash, as a careless server would have it
            status, headers, payload = (
                500,
                {"Content-Type": "text/html"},
                b"<h1>Internal Server Error</h1>",
            )
        reason = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}.get(
            status, "Error"
        )
        hdrs = [*headers.items(), ("Content-Length", str(len(payload)))]
        start_response(f"{status} {reason}", hdrs)
        return [payload]

    def answer(self, environ: dict[str, Any]) -> Answer:
        v = self.variant
        if environ["REQUEST_METHOD"] != "GET":
            return _json(405, {"detail": "Method Not Allowed"})
        # waitress gives PATH_INFO percent-decoded, as latin-1 text of the UTF-8 bytes.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        if not path.startswith(PREFIX):
            return _json(404, {"detail": "Not Found"})
        kind, _, task_id = path[len(PREFIX) :].partition("/")
        if kind not in ("story", "project-setup") or not task_id:
            return _json(404, {"detail": "Not Found"})
        key = environ.get("HTTP_X_API_KEY")
        if v.auth != "none":
            bad = not key if v.auth == "any-key" else key != API_KEY
            if bad:
                code = 403 if v.auth == "forbidden" else 401
                return _json(code, {"detail": "Not authenticated"})
        bodies = TASKS.get((kind, task_id))
        if bodies is None:
            return v.unknown(kind, task_id) if v.unknown else _json(404, {"detail": "Not Found"})
        with self._lock:
            poll = self.polls.get((kind, task_id), 0) + 1
            self.polls[(kind, task_id)] = poll
        body = dict(bodies[min(poll, len(bodies)) - 1])
        if v.body is not None:
            answer = v.body(kind, task_id, poll, body)
            if answer is not None:
                return answer
        return _json(200, body)


def make_app(variant: Variant) -> Flask:
    """A Flask shell around the variant (so ``mockcamb.serve.waitress.Server`` can serve it); every
    request goes straight to the :class:`StatusServer`."""
    app = Flask(f"broken-{variant.name}")
    app.wsgi_app = StatusServer(variant)  # type: ignore[method-assign]
    return app
