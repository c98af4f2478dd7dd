"""Keep Python's full garbage collections short in a process whose data is long-lived.

The embedded DynamoDB keeps every item as Python objects. CPython's full (generation 2)
collection walks all of them, holding the interpreter lock: with some 300,000 objects after a
benchmark's first sizes it took 80 to 300 ms, stalling every DynamoDB request in the process
meanwhile (the p99 of a lightly loaded chat). After each full collection, what survived it is
frozen (``gc.freeze``): the next full collection walks only what was made since.

The cost: a reference cycle among frozen objects that later becomes garbage is not reclaimed
(objects without cycles still are, by reference counting). In the embedded DynamoDB that is
what a deleted item leaves, if anything; for a local stack that is a fair trade.
"""

from __future__ import annotations

import gc
from typing import Any

_installed = False


def freeze_after_full_collections() -> None:
    """From now on, freeze the survivors of every full collection (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    gc.callbacks.append(_after_collection)


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()
