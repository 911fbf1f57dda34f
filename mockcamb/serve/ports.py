"""Ports: whether one is free, and a listening socket forked workers can share. Apart from
:mod:`.waitress` so that granian's ``serve`` checks its port without importing waitress."""

from __future__ import annotations

import errno
import socket


class PortInUseError(OSError):
    """The port is taken; the CLI turns this into one clear line and exit code 2."""


def check_port_free(host: str, port: int) -> None:
    """Raise :class:`PortInUseError` if ``host:port`` cannot be bound."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortInUseError(
                    exc.errno, f"port {port} on {host} is already in use"
                ) from None
            raise


def listen_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0 picks a free port), to be shared by
    forked workers; raises :class:`PortInUseError` if the port is taken."""
    check_port_free(host, port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


__all__ = ["PortInUseError", "check_port_free", "listen_socket"]
