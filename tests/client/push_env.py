"""What the local stack needs to take Web Push registrations today: a VAPID key (a real one, so
the stack can sign what it sends once its push worker runs) and http endpoints on 127.0.0.1.
The browser tier uses it too."""

from __future__ import annotations

import base64


def local_push_env() -> dict[str, str]:
    from py_vapid import Vapid

    vapid = Vapid()
    vapid.generate_keys()
    raw = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    key = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return {"CHAT_VAPID_PRIVATE_KEY": key, "CHAT_PUSH_ALLOW_LOCAL_HTTP": "1"}
