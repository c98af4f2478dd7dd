"""Make moto's DynamoDB handle one request at a time, as DynamoDB is atomic per request.

moto's ``transact_write_items`` deep-copies table state for rollback without a lock, so two
threads writing at once can corrupt each other ("dictionary changed size during iteration")
and its transactions are not atomic against concurrent writers. Real DynamoDB isolates each
request; a process-wide lock around moto's request handling gives the test double the same
property, so concurrency tests exercise our code and not moto's races.
"""

from __future__ import annotations

import functools
import threading

from moto.dynamodb.responses import DynamoHandler

_lock = threading.RLock()


def serialize_dynamodb_requests() -> None:
    original = DynamoHandler.call_action
    if getattr(original, "_serialized", False):
        return

    @functools.wraps(original)
    def call_action(self):  # type: ignore[no-untyped-def]
        with _lock:
            return original(self)

    call_action._serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
