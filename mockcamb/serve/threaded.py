"""Serving a bound waitress server here or in a daemon thread: what the emulator's
:class:`~mockcamb.serve.waitress.Server` and the record proxy's
:class:`~mockcamb.record.proxy.ProxyServer` share."""

from __future__ import annotations

import threading
from typing import Any, ClassVar, TypeVar

_T = TypeVar("_T", bound="ThreadedServer")


class ThreadedServer:
    """A waitress server (``_server``, bound already) on ``host:port``: :meth:`serve_forever`
    serves in the calling thread, :meth:`start` in a daemon thread named
    :attr:`thread_name`; ``_stopped`` is set once the loop has ended."""

    thread_name: ClassVar[str] = "mockcamb-server"
    _server: Any
    host: str
    port: int

    def _init_serving(self, server: Any, host: str) -> None:
        """Keep the bound ``server`` and the events a stop reads."""
        self._server = server
        self.host = host
        self.port = int(server.effective_port)
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        """The server's root, e.g. ``http://127.0.0.1:8080`` (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        """Serve until stopped (from another thread or a signal handler)."""
        try:
            self._server.run()
        finally:
            self._server.task_dispatcher.shutdown(timeout=2)
            self._stopped.set()

    def start(self: _T) -> _T:
        """Serve in a daemon thread; the socket is bound already, so it answers at once."""
        self._thread = threading.Thread(
            target=self.serve_forever, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self
