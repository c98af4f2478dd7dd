"""Keep Python's full garbage collections short in a process whose data is long-lived.

The embedded DynamoDB keeps every item as Python objects. CPython's full (generation 2)
collection walks all of them, holding the interpreter lock: with some 300,000 objects after a
benchmark's first sizes it took 80 to 300 ms, stalling every DynamoDB request in the process
meanwhile (the p99 of a lightly loaded chat). After each full collection, what survived it is
frozen (``gc.freeze``): the next full collection walks only what was made since (11-30 ms).

The cost: a reference cycle that was alive at a freeze (a request in flight, an exception and
its traceback, a deleted item) is not reclaimed when it later becomes garbage, since frozen
objects are never examined; objects without cycles are still freed by reference counting. So
at most every ``THAW_SECONDS`` the frozen objects are given back (``gc.unfreeze``): the next full
collection walks everything once, reclaims what leaked, and freezing starts again. One long
pause in ten minutes instead of one every few seconds of load.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

THAW_SECONDS = 600.0

_installed = False


def freeze_after_full_collections(
    thaw_seconds: float = THAW_SECONDS, clock: Callable[[], float] = time.monotonic
) -> None:
    """From now on, freeze the survivors of every full collection, and give them back every
    ``thaw_seconds`` (installed once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    thawed_at = clock()

    def after_collection(phase: str, info: dict[str, Any]) -> None:
        nonlocal thawed_at
        if phase != "stop" or info.get("generation") != 2:
            return
        if clock() - thawed_at >= thaw_seconds:
            gc.unfreeze()  # the next full collection walks (and reclaims) everything
            thawed_at = clock()
        else:
            gc.freeze()

    gc.callbacks.append(after_collection)
