"""Where ``mockcamb serve`` takes its secrets from: the API keys and the admin token.

A secret on the command line can be read by every user of the machine (``ps``,
``/proc/PID/cmdline``), and so can a forked worker's, which inherits the command line. A file
(``--api-key-file``, ``--admin-token-file``) or the environment (``MOCKCAMB_API_KEYS``,
``MOCKCAMB_ADMIN_TOKEN``; ``/proc/PID/environ`` is the owner's alone) keeps it out of sight.

Precedence, highest first, as in most command-line tools (the explicit beats the ambient):
the command line (``--api-key`` and ``--api-key-file`` add up; ``--admin-token`` and
``--admin-token-file`` exclude each other), then the environment, then the ``--config`` file
(``settings.api_keys``, ``admin_token``). The variables are removed from this process's
environment once read, so that no worker or server passes them on (granian's WSGI copies the
environment into every request)."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import MutableMapping

from ..core.errors import MockCambError

#: Comma-separated API keys (``--api-key`` without the command line).
ENV_API_KEYS = "MOCKCAMB_API_KEYS"
#: The admin token (``--admin-token`` without the command line).
ENV_ADMIN_TOKEN = "MOCKCAMB_ADMIN_TOKEN"


def read_secret_file(option: str, path: str) -> list[str]:
    """The non-blank lines of ``path``, stripped; :class:`MockCambError` (exit code 2) when
    it cannot be read or holds none. Warns (stderr) when other users may read it."""
    try:
        with open(path, encoding="utf-8") as f:
            mode = os.fstat(f.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise MockCambError(f"{option}: {path} is not a regular file")
            text = f.read(1 << 20)
    except OSError as exc:
        raise MockCambError(f"{option}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise MockCambError(f"{option}: {path} is not UTF-8 text") from None
    lines = [line.strip() for line in text.splitlines()]
    values = [line for line in lines if line]
    if not values:
        raise MockCambError(f"{option}: {path} is empty (expected one secret a line)")
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        print(
            f"mockcamb: WARNING: {option} {path} is readable by other users (chmod 600 it)",
            file=sys.stderr,
        )
    return values


def resolve_secrets(
    args: argparse.Namespace, environ: MutableMapping[str, str] | None = None
) -> None:
    """Set ``args.api_key`` (a list, or ``None``: the config's keys, else any key) and
    ``args.admin_token`` (or ``None``) from the command line, its files and ``environ``
    (default ``os.environ``), by the precedence above; clear the ``*_file`` options (read once)
    and remove both variables from ``environ``. Raises :class:`MockCambError`."""
    env = os.environ if environ is None else environ
    env_keys = env.pop(ENV_API_KEYS, None)
    env_token = env.pop(ENV_ADMIN_TOKEN, None)
    keys = list(args.api_key or [])
    if args.api_key_file is not None:
        keys += read_secret_file("--api-key-file", args.api_key_file)
        args.api_key_file = None
    if not keys and env_keys is not None:
        keys = [key.strip() for key in env_keys.split(",") if key.strip()]
        if not keys:
            raise MockCambError(f"{ENV_API_KEYS}: is set but holds no key (comma-separated)")
    args.api_key = keys or None
    if args.admin_token_file is not None:
        if args.admin_token is not None:
            raise MockCambError("--admin-token-file: give either it or --admin-token, not both")
        tokens = read_secret_file("--admin-token-file", args.admin_token_file)
        if len(tokens) > 1:
            raise MockCambError(
                f"--admin-token-file: {args.admin_token_file} holds {len(tokens)} lines; "
                "expected one token"
            )
        args.admin_token = tokens[0]
        args.admin_token_file = None
    if args.admin_token is None and env_token is not None:
        if not env_token.strip():
            raise MockCambError(f"{ENV_ADMIN_TOKEN}: is set but empty")
        args.admin_token = env_token.strip()


__all__ = ["ENV_ADMIN_TOKEN", "ENV_API_KEYS", "read_secret_file", "resolve_secrets"]
