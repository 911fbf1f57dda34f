"""The client under test: ``poll(base_url, api_key, endpoint, task_id) -> dict``, loaded from
``package.module:function`` or given as a callable (``async def`` too)."""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
from collections.abc import Callable
from typing import Any

from ..core.errors import ConfigError
from ..virtual_time import patched

Client = Callable[[str, str, str, str], Any]


def load_client(target: str | Client) -> Client:
    """Resolve ``package.module:function`` (or a callable) into a client; async functions are
    wrapped to run with ``asyncio.run``. Raises :class:`ConfigError` with the fix."""
    if callable(target):
        return _wrap_async(target)
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"client: must look like package.module:function, got {target!r}")
    with patched():  # so that `from time import sleep` in the client is virtualisable
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # ImportError, or the module itself failing
            raise ConfigError(
                f"client: cannot import {module_name!r}: {type(exc).__name__}: {exc}"
            ) from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"client: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"client: {target!r} is not callable")
    return _wrap_async(obj)


def _wrap_async(func: Callable[..., Any]) -> Client:
    if not inspect.iscoroutinefunction(func):
        return func

    @functools.wraps(func)
    def run_async(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
        return asyncio.run(func(base_url, api_key, endpoint, task_id))

    return run_async


def target_name(target: str | Client) -> str:
    """How the report names the client: the target as given, or ``module:qualname``."""
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", "?")
    return f"{module}:{getattr(target, '__qualname__', repr(target))}"
