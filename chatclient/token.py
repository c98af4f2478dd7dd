"""What the client may read from its own token without the secret: who it is (for display).

The server verifies the token; the client only needs its user id to name a direct chat after
the other person and to notice when an action removes itself from a chat."""

from __future__ import annotations

import base64
import json


def token_subject(token: str) -> str | None:
    """The ``sub`` claim of a JWT, unverified; None if ``token`` is not a JWT with one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:  # bad base64, bad UTF-8 or bad JSON
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) and subject else None
