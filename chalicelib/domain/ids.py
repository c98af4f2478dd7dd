"""Identifiers and timestamps.

Ids are ULIDs (48-bit millisecond time + 80 random bits, Crockford base32) with a short
prefix saying what they name: ``c_`` for chats, ``m_`` for messages. They sort by creation
time, which makes them pleasant in logs and consoles.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import UTC, datetime

# \Z, not $: "$" also matches before a trailing newline ("bob\n" is not a user id).
USER_ID_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}\Z")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(now_ms: int | None = None) -> str:
    """A 26-character ULID string."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_chat_id() -> str:
    return "c_" + ulid()


def direct_chat_id(user_a: str, user_b: str) -> str:
    """The one chat id of a pair of users, whoever asks first: ``d_`` and 40 hex digits of a
    SHA-256 of the sorted pair (user ids cannot hold a newline, so the join is unambiguous)."""
    first, second = sorted((user_a, user_b))
    return "d_" + hashlib.sha256(f"{first}\n{second}".encode()).hexdigest()[:40]


def new_message_id() -> str:
    return "m_" + ulid()


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_now() -> str:
    """UTC now as ISO 8601 with milliseconds and ``Z``: ``2026-11-24T10:00:01.234Z``."""
    return iso_from_epoch_ms(now_ms())


def iso_from_epoch_ms(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
