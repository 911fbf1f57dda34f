"""Test helpers: the controller the pytest fixtures hand out, and :func:`serve_in_thread`.

One :class:`MockCamb` drives one :class:`~mockcamb.core.emulator.Emulator` directly (no admin HTTP
round trips): create tasks, move the clock, read the journal, change settings. The HTTP
fixture, the in-process ``responses`` and httpx fixtures and :func:`serve_in_thread` all hand
out this same class; only :attr:`MockCamb.base_url` differs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core.clock import Clock, make_clock
from .core.emulator import Emulator
from .core.errors import ConfigError
from .core.settings import Settings

if TYPE_CHECKING:
    from .http.wsgi import WSGIApp
    from .record.replay import Recorded
    from .serve.waitress import Server

#: The key the fixtures send unless told otherwise (any non-empty key is accepted by default).
DEFAULT_API_KEY = "mockcamb-test-key"
#: The real service's base URL, which the in-process mode intercepts.
CAMB_BASE_URL = "https://client.camb.ai/apis"


class MockCamb:
    """Control one emulator from a test.

    ``base_url`` (ending in ``/apis``) and ``api_key`` are what the code under test is given;
    the methods change what it will see. Everything is synchronous and takes effect at once.
    """

    def __init__(
        self,
        emulator: Emulator,
        base_url: str,
        api_key: str = DEFAULT_API_KEY,
        *,
        server: Server | None = None,
        responses: Any = None,
        recordings: Sequence[Recorded] = (),
        httpx: Any = None,
    ) -> None:
        self.emulator = emulator
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        #: The HTTP server (HTTP mode and :func:`serve_in_thread`), else ``None``.
        self.server = server
        #: The ``responses.RequestsMock`` (in-process ``responses`` mode), else ``None``.
        self.responses = responses
        #: The recorded tasks replayed (``replay=DIR``): preloaded again by :meth:`reset`.
        self.recordings: tuple[Recorded, ...] = tuple(recordings)
        #: The :class:`~mockcamb.httpx_mode.HttpxMode` (in-process httpx mode), else ``None``.
        self.httpx = httpx
        self._baseline = emulator.settings

    def __repr__(self) -> str:
        return f"<MockCamb {self.base_url} clock={self.clock.kind}:{self.now():g}s>"

    # --- what the code under test is given ----------------------------------------------

    @property
    def url(self) -> str:
        """The server root (``base_url`` without ``/apis``): ``/__admin/``, ``/openapi.json``."""
        return self.base_url.removesuffix("/apis")

    @property
    def headers(self) -> dict[str, str]:
        """The auth header a client sends: ``{"x-api-key": api_key}``."""
        return {"x-api-key": self.api_key}

    # --- tasks ----------------------------------------------------------------------------

    def create_task(self, kind: str, scenario: Any = None, task_id: str | None = None) -> str:
        """Create a task of any family (``story``, ``dub``, ``tts``...) and return its id.

        ``scenario`` is a preset name (``"flaky_network"``), a scenario document (a dict) or
        ``None`` for the default scenario; ``task_id`` defaults to a generated UUID.
        Raises :class:`~mockcamb.errors.MockCambError` naming the field for bad input.
        """
        return self.emulator.create_task(kind, task_id, scenario).task_id

    def task(self, kind: str, task_id: str) -> dict[str, Any]:
        """The admin view of a task (status, step, counts, history); reading it is not a poll."""
        task = self.emulator.get_task(kind, task_id)
        if task is None:
            raise ConfigError(f"task_id: no {kind} task {task_id!r}")
        return self.emulator.snapshot(task)

    def status(self, kind: str, task_id: str) -> str:
        """The task's current status at the current clock, without counting a poll."""
        status: str = self.task(kind, task_id)["status"]
        return status

    def tasks(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Admin views of every task (of one kind), oldest first."""
        return self.emulator.tasks(kind)

    # --- time -----------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self.emulator.clock

    def now(self) -> float:
        """Seconds on the emulator's clock since the last reset."""
        return self.emulator.clock.now()

    def advance(self, seconds: float) -> float:
        """Move the emulator's clock forward; returns the new time."""
        return self.emulator.advance(seconds)

    # --- journal --------------------------------------------------------------------------

    def requests(self, kind: str | None = None, task_id: str | None = None) -> list[dict[str, Any]]:
        """Journal entries of the requests the emulator answered since the last reset,
        oldest first (secret headers redacted), filtered by kind and task id."""
        return self.emulator.journal(kind, task_id)

    def clear_requests(self) -> None:
        self.emulator.clear_journal()

    # --- settings -------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.emulator.settings

    def configure(self, settings: Mapping[str, Any] | None = None, **fields: Any) -> Settings:
        """Change emulator settings until the next :meth:`reset` (in the fixtures: for this
        test only), e.g. ``configure(unknown_task="auto", latency={"fixed_ms": 50})``.

        Takes the fields of ``PUT /__admin/settings``; unknown fields are errors.
        """
        doc = {**(settings or {}), **fields}
        return self.emulator.configure(doc)

    @contextlib.contextmanager
    def settings_changed(
        self, settings: Mapping[str, Any] | None = None, **fields: Any
    ) -> Iterator[Settings]:
        """``with mock.settings_changed(api_keys=["k"]):`` changes settings for the block only."""
        before = self.emulator.settings
        try:
            yield self.configure(settings, **fields)
        finally:
            self._restore(before)

    def reset(self) -> None:
        """Forget every task and request, rewind the clock, undo :meth:`configure`; the
        recorded tasks being replayed start their lives again."""
        self._restore(self._baseline)
        self.emulator.reset()
        if self.recordings:
            from .record.replay import preload_recordings

            preload_recordings(self.emulator, self.recordings)

    def _restore(self, settings: Settings) -> None:
        emu = self.emulator
        if emu.settings is not settings:
            # configure() resizes the journal ring; then put back the very same object.
            emu.configure({"journal_size": settings.journal_size})
            emu.settings = settings


def build_emulator(
    settings: Mapping[str, Any] | None = None,
    clock: str | Clock = "manual",
    time_scale: float = 1.0,
) -> Emulator:
    """An emulator with ``settings`` applied (a settings document, as for the admin API)."""
    emu = Emulator(clock=make_clock(clock, time_scale) if isinstance(clock, str) else clock)
    if settings:
        emu.configure(settings)
    return emu


@contextlib.contextmanager
def serve_in_thread(
    *,
    settings: Mapping[str, Any] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str = DEFAULT_API_KEY,
    clock: str | Clock = "manual",
    time_scale: float = 1.0,
    admin_token: str | None = None,
    threads: int | None = None,
    middleware: Callable[[WSGIApp], WSGIApp] | None = None,
    stop_timeout: float = 5.0,
    replay: str | Path | None = None,
) -> Iterator[MockCamb]:
    """Serve a fresh emulator over HTTP in a background thread for the ``with`` block.

    ``with serve_in_thread() as mock:`` gives a :class:`MockCamb` whose ``base_url`` points
    at the server (a free port unless ``port`` is given). ``clock`` is ``"manual"`` (time
    moves only through ``mock.advance``), ``"real"`` (with ``time_scale``) or a clock object.
    ``threads`` sizes the server's pool (default: the server's own), ``middleware`` wraps the
    app's WSGI callable (it sees every request first), and at the end requests in flight get
    ``stop_timeout`` seconds to finish. ``replay`` names a directory of recordings
    (``mockcamb record --out DIR``): every recorded task is preloaded under its recorded
    family and id, and runs its recorded life from clock time 0 (again after each reset).
    """
    from .serve.waitress import DEFAULT_THREADS, serve_emulator

    emu = build_emulator(settings, clock, time_scale)
    recordings: list[Recorded] = []
    if replay is not None:
        from .record.replay import preload_recordings

        recordings = preload_recordings(emu, replay, "replay")
    server = serve_emulator(
        emu,
        host=host,
        port=port,
        admin_token=admin_token,
        threads=threads or DEFAULT_THREADS,
        middleware=middleware,
    ).start()
    try:
        yield MockCamb(emu, server.base_url, api_key, server=server, recordings=recordings)
    finally:
        server.stop(stop_timeout)


__all__ = ["CAMB_BASE_URL", "DEFAULT_API_KEY", "MockCamb", "build_emulator", "serve_in_thread"]
