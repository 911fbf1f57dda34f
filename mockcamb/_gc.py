"""The garbage collector paused while start-up builds what lives on."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused(*, freeze: bool = False) -> Iterator[None]:
    """The cyclic garbage collector off for a block that only builds what lives on (the
    package's imports, the app): start-up allocates a few hundred thousand objects, each
    counted towards the next collection, and none of them is garbage. About 15 ms of
    ``mockcamb serve``'s start-up (BENCHMARKS.md, run 8). Restored as it was, even on an
    error. ``freeze``: then move every object there is out of the collector's view
    (``gc.freeze``), for a process that keeps them all until it ends (``mockcamb serve``
    freezes its heap before it forks in any case), so that the collections the pause put
    off never scan them."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was:
            gc.enable()
