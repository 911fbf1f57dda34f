"""The garbage collector paused while start-up builds what lives on."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a block that only builds what lives on (the
    package's imports, the app): start-up allocates a few hundred thousand objects, each
    counted towards the next collection, and none of them is garbage. About 15 ms of
    ``mockcamb serve``'s start-up (BENCHMARKS.md, run 8). Restored as it was, even on an
    error."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
