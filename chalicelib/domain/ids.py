"""Identifiers and timestamps.

Ids are ULIDs (48-bit millisecond time + 80 random bits, Crockford base32) with a short
prefix saying what they name: ``c_`` for chats, ``m_`` for messages. They sort by creation
time, which makes them pleasant in logs and consoles. A direct chat's id (``d_``) is a keyed
hash of its pair: the same for both users, and nobody without the deployment's secret can
compute it.
"""

from __future__ import annotations

import hashlib
import hmac
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


DIRECT_CHAT_KEY_LABEL = b"direct-chat-id"


def direct_chat_key(secret: str) -> bytes:
    """The key of direct chat ids, derived from the deployment's secret (the JWT secret) so that
    the secret itself never keys anything but tokens: HMAC-SHA256(secret, "direct-chat-id")."""
    return hmac.new(secret.encode(), DIRECT_CHAT_KEY_LABEL, hashlib.sha256).digest()


def _pair(user_a: str, user_b: str) -> bytes:
    """The sorted pair (user ids cannot hold a newline, so the join is unambiguous)."""
    first, second = sorted((user_a, user_b))
    return f"{first}\n{second}".encode()


def direct_chat_id(user_a: str, user_b: str, key: bytes) -> str:
    """The one chat id of a pair of users, whoever asks first: ``d_`` and 40 hex digits of an
    HMAC-SHA256 of the sorted pair under ``key`` (``direct_chat_key``)."""
    return "d_" + hmac.new(key, _pair(user_a, user_b), hashlib.sha256).hexdigest()[:40]


def legacy_direct_chat_id(user_a: str, user_b: str) -> str:
    """The id direct chats were created with before ids were keyed (anyone could compute it):
    ``d_`` and 40 hex digits of a plain SHA-256 of the sorted pair. Looked up so that a pair
    who already has a chat under it keeps that one chat."""
    return "d_" + hashlib.sha256(_pair(user_a, user_b)).hexdigest()[:40]


def new_message_id() -> str:
    return "m_" + ulid()


def new_attachment_id() -> str:
    return "a_" + ulid()


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_now() -> str:
    """UTC now as ISO 8601 with milliseconds and ``Z``: ``2026-11-24T10:00:01.234Z``."""
    return iso_from_epoch_ms(now_ms())


def iso_from_epoch_ms(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
