"""What the suite runs against: a named target from the options, or its own mockcamb."""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from mockcamb.core.routes import KINDS
from mockcamb.core.statuses import DOCUMENTED_STATUSES

from ._checks import Poll
from ._client import AdminClient, Client, RateLimiter, Secret, TransportError

DEFAULT_LIVE_RPS = 5.0
MIN_POLLS = 3

KEY_HINT = "set CAMB_API_KEY (or pass --camb-api-key KEY) to a key the target accepts"
IDS_HINT = (
    "set CAMB_TASK_IDS=story:ID,project-setup:ID (or pass --camb-task-id KIND:ID, repeatable) "
    "to tasks that exist on the target"
)

#: The tasks the suite creates on its own emulator: every state, on both endpoints.
OWN_SCENARIOS: dict[str, dict[str, Any]] = {
    "pending": {"steps": [{"status": "PENDING"}]},
    "success": {"steps": [{"status": "SUCCESS", "run_id": 4242}]},
    "success-generated-run-id": {"steps": [{"status": "SUCCESS"}]},
    "failed": {
        "steps": [{"status": "FAILED", "message": "Story generation failed"}],
    },
    "error": {
        "steps": [
            {
                "status": "ERROR",
                "message": {"detail": "cannot download"},
                "exception_reason": "ERROR_DOWNLOADING_SOURCE",
            }
        ]
    },
    "timeout": {"steps": [{"status": "TIMEOUT", "exception_reason": "PROCESSING_ERROR"}]},
    "payment-required": {
        "steps": [{"status": "PAYMENT_REQUIRED", "exception_reason": "PAYMENT_REQUIRED"}]
    },
    "pending-then-success": {"steps": [{"status": "PENDING", "polls": 2}, {"status": "SUCCESS"}]},
    "pending-then-error": {
        "steps": [
            {"status": "PENDING", "polls": 1, "extra": {"progress": 50}},
            {"status": "ERROR", "message": "boom"},
        ]
    },
}
#: The families a named target is checked on unless ``--camb-family`` says otherwise: the
#: two the CAMB documentation pages describe (plus those of any ``--camb-task-id``).
DEFAULT_FAMILIES: tuple[str, ...] = ("story", "project-setup")
#: The suite's own emulator has a task in every state for the default families, and one
#: in each final state for every other family.
OWN_TASK_REFS: list[tuple[str, str]] = [
    (kind, f"contract-{name}")
    for kind in KINDS
    for name in OWN_SCENARIOS
    if kind in DEFAULT_FAMILIES or name in ("success", "error")
]


@dataclass(frozen=True)
class Options:
    """The suite's options, from the command line or else the environment."""

    base_url: str | None
    api_key: Secret | None
    task_refs: tuple[tuple[str, str], ...]
    max_rps: float | None
    allowed_statuses: tuple[str, ...]
    polls: int
    families: tuple[str, ...] = DEFAULT_FAMILIES

    @property
    def own(self) -> bool:
        return self.base_url is None


def _opt(config: pytest.Config, name: str, env: str) -> Any:
    value = config.getoption(name)
    if value is None or value == []:
        raw = os.environ.get(env, "").strip()
        return raw or None
    return value


def _task_ref(text: str, origin: str) -> tuple[str, str]:
    kind, sep, task_id = text.strip().partition(":")
    if not sep or kind not in KINDS or not task_id:
        raise pytest.UsageError(
            f"{origin}: expected KIND:ID with KIND one of {', '.join(KINDS)}, got {text!r}"
        )
    return kind, task_id


def parse_options(config: pytest.Config) -> Options:
    """Read and check every option; a bad value is a usage error naming the option."""
    base = _opt(config, "camb_base_url", "CAMB_BASE_URL")
    if base is not None:
        base = str(base).rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise pytest.UsageError(
                f"--camb-base-url / CAMB_BASE_URL: must start with http:// or https://, got "
                f"{base!r} (e.g. https://client.camb.ai/apis)"
            )
    key = _opt(config, "camb_api_key", "CAMB_API_KEY")
    raw_ids = config.getoption("camb_task_id") or []
    refs = [_task_ref(t, "--camb-task-id") for t in raw_ids]
    if not raw_ids:
        env_ids = os.environ.get("CAMB_TASK_IDS", "")
        refs = [_task_ref(t, "CAMB_TASK_IDS") for t in env_ids.split(",") if t.strip()]
    rps_raw = _opt(config, "camb_max_rps", "CAMB_MAX_RPS")
    rps: float | None
    if rps_raw is None:
        rps = DEFAULT_LIVE_RPS if base is not None else None
    else:
        try:
            rps = float(rps_raw)
        except ValueError:
            rps = -1.0
        if not 0 <= rps <= 10_000:
            raise pytest.UsageError(
                f"--camb-max-rps / CAMB_MAX_RPS: must be a number of requests per second from "
                f"0 (no limit) to 10000, got {rps_raw!r}"
            )
        rps = rps or None
    extra = list(config.getoption("camb_allow_status") or [])
    if not extra:
        extra = [s for s in os.environ.get("CAMB_ALLOW_STATUSES", "").split(",") if s.strip()]
    for status in extra:
        if not status.strip():
            raise pytest.UsageError("--camb-allow-status: must be a non-empty string")
    allowed = tuple(dict.fromkeys([*DOCUMENTED_STATUSES, *(s.strip() for s in extra)]))
    polls_raw = _opt(config, "camb_polls", "CAMB_POLLS") or MIN_POLLS
    try:
        polls = int(polls_raw)
    except ValueError:
        polls = 0
    if not MIN_POLLS <= polls <= 100:
        raise pytest.UsageError(
            f"--camb-polls / CAMB_POLLS: must be an integer from {MIN_POLLS} to 100, "
            f"got {polls_raw!r}"
        )
    return Options(
        base,
        Secret(str(key), track=True) if key else None,
        tuple(dict.fromkeys(refs)),
        rps,
        allowed,
        polls,
        _families(config, base is None, refs),
    )


def _families(config: pytest.Config, own: bool, refs: list[tuple[str, str]]) -> tuple[str, ...]:
    """The families to check: ``--camb-family`` (``all`` for every one); else every family
    on the suite's own emulator, and the documented two plus those of the task ids on a
    named target."""
    raw = list(config.getoption("camb_family") or [])
    if not raw:
        raw = [f for f in os.environ.get("CAMB_FAMILIES", "").split(",") if f.strip()]
    names = [f.strip() for f in raw]
    if "all" in names:
        return KINDS
    for name in names:
        if name not in KINDS:
            raise pytest.UsageError(
                f"--camb-family / CAMB_FAMILIES: must be all or one of {', '.join(KINDS)}, "
                f"got {name!r}"
            )
    if names:
        return tuple(dict.fromkeys(names))
    if own:
        return KINDS
    return tuple(dict.fromkeys([*DEFAULT_FAMILIES, *(kind for kind, _ in refs)]))


class Target:
    """The server under test and how to reach it. Not a dataclass: hypothesis prints a
    dataclass field by field with every falsifying example, this prints as one line."""

    def __init__(
        self,
        options: Options,
        client: Client,
        base_url: str,
        api_key: Secret | None,
        task_refs: list[tuple[str, str]],
        admin: AdminClient | None = None,
        own_server: contextlib.ExitStack | None = None,
        emulator: Any = None,
    ) -> None:
        self.options = options
        self.client = client
        self.base_url = base_url
        self.api_key = api_key
        self.task_refs = task_refs
        self.admin = admin
        self.own_server = own_server  # closing it stops the suite's own mockcamb
        self.emulator = emulator
        self._polls: dict[tuple[str, str], list[Poll]] = {}

    def __repr__(self) -> str:  # short: hypothesis prints it with every falsifying example
        return f"Target({self.base_url})"

    @property
    def own(self) -> bool:
        return self.admin is not None

    @property
    def allowed(self) -> tuple[str, ...]:
        return self.options.allowed_statuses

    def need_key(self) -> Secret:
        if self.api_key is None:
            pytest.skip(f"live-only test: no API key for {self.base_url}; {KEY_HINT}")
        return self.api_key

    def need_own(self) -> AdminClient:
        if self.admin is None:
            pytest.skip(
                "emulator-only test: runs only against the suite's own mockcamb "
                "(leave --camb-base-url / CAMB_BASE_URL unset)"
            )
        return self.admin

    def polls(self, kind: str, task_id: str) -> list[Poll]:
        """The task's polls, made once per session and shared by the shape and lifecycle
        checks (so the target sees ``--camb-polls`` requests per task, not more)."""
        key = (kind, task_id)
        if key not in self._polls:
            out: list[Poll] = []
            for n in range(1, self.options.polls + 1):
                try:
                    out.append(Poll(n, self.client.get_status(kind, wire_id(task_id))))
                except TransportError as exc:
                    out.append(Poll(n, error=exc))
            self._polls[key] = out
        return self._polls[key]

    def some_task_id(self, kind: str) -> str | None:
        """A task id of ``kind`` that exists on the target, if the suite knows one."""
        for k, task_id in self.task_refs:
            if k == kind:
                return task_id
        return None

    def close(self) -> None:
        self.client.close()
        if self.own_server is not None:
            self.own_server.close()


def wire_id(task_id: str) -> str:
    """A task id as it goes on the wire: every reserved character percent-encoded."""
    from urllib.parse import quote

    return quote(task_id, safe="")


def start(options: Options) -> Target:
    """Connect to the named target, or start mockcamb with a task in every state."""
    limiter = RateLimiter(options.max_rps)
    if options.base_url is not None:
        client = Client(options.base_url, options.api_key, limiter)
        return Target(options, client, options.base_url, options.api_key, list(options.task_refs))

    key = Secret("mc-" + secrets.token_hex(16), track=True)
    token = "admin-" + secrets.token_hex(8)
    with contextlib.ExitStack() as stack:  # stops the server if the set-up fails
        own = stack.enter_context(serve_own(key, token))
        admin = AdminClient(own.url, token)
        for kind, task_id in OWN_TASK_REFS:
            name = task_id.removeprefix("contract-")
            admin.ok(
                "POST",
                "/tasks",
                {"kind": kind, "task_id": task_id, "scenario": OWN_SCENARIOS[name]},
            )
        own_server = stack.pop_all()
    client = Client(own.base_url, key, limiter)
    refs = list(OWN_TASK_REFS)
    return Target(options, client, own.base_url, key, refs, admin, own_server, own.emulator)


def serve_own(key: Secret, token: str) -> contextlib.AbstractContextManager[Any]:
    """A fresh mockcamb of the suite's own on a free port, for the ``with`` block: the manual
    clock, only ``key`` accepted, ``token`` required on the admin API. Enters as a
    :class:`mockcamb.testing.MockCamb` (``url``, ``base_url``, ``emulator``, ``server``)."""
    from mockcamb.testing import serve_in_thread

    return serve_in_thread(settings={"api_keys": [key.reveal()]}, admin_token=token)
