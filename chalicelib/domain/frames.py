"""The frame budget: no frame the backend posts is larger than API Gateway will carry.

API Gateway posts at most 128 KiB to a connection (the management API answers 413 above), so
every reply that carries a list of variable size (messages, chats) is cut here to what fits,
item by item, never mid-item. ``fit`` measures exactly what ``encode`` will write: a JSON list
is ``[`` + items joined by ``,`` + ``]``, so each item costs its own encoding plus one comma.
``checked`` is the last line of defence for any frame: one that is still too large (a bug)
becomes an ``error`` frame, so a client never waits for a reply that could not be posted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 128 * 1024

Post = tuple[str, bytes]  # one encoded frame for one connection: (connection id, frame)


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def fit(
    payload: Mapping[str, Any],
    key: str,
    items: Sequence[Mapping[str, Any]],
    keep_last: bool = False,
    budget: int = MAX_FRAME_BYTES,
    reserve: int = 0,
) -> int:
    """How many of ``items`` fit as ``payload[key]`` within ``budget`` bytes (less ``reserve``,
    room for fields set after the cut). Counts from the start, or from the end with
    ``keep_last`` (the newest messages of a page that walks back)."""
    room = budget - reserve - len(encode({**payload, key: []}))
    order = reversed(items) if keep_last else iter(items)
    count = 0
    for item in order:
        cost = len(encode(item)) + (1 if count else 0)
        if cost > room:
            break
        room -= cost
        count += 1
    return count


def checked(payload: Mapping[str, Any]) -> bytes:
    """The encoded frame, or an ``error`` frame in its place if it is over the budget."""
    data = encode(payload)
    if len(data) <= MAX_FRAME_BYTES:
        return data
    log.error("a %r frame of %d bytes is over the budget", payload.get("event"), len(data))
    error: dict[str, Any] = {"event": "error"}
    if payload.get("req") is not None:
        error["req"] = payload["req"]
    error.update(code="too_large", message="the reply would be larger than 128 KiB")
    return encode(error)
