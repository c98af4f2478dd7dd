"""Devices a user registered for push: validation, identity, the wire shape."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain.errors import BadRequest

PLATFORMS = ("apns", "fcm", "webpush")
MAX_DEVICES = 20
MAX_TOKEN_CHARS = 4096


@dataclass(frozen=True)
class Device:
    device_id: str
    user_id: str
    platform: str
    token: str  # APNs/FCM token, or the Web Push subscription endpoint
    preview: bool
    registered_at: str
    p256dh: str | None = None  # Web Push subscription keys
    auth: str | None = None
    endpoint_arn: str | None = None  # SNS platform endpoint (apns, fcm)

    @property
    def token_key(self) -> str:
        return token_key(self.platform, self.token)

    def to_wire(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "platform": self.platform,
            "preview": self.preview,
            "registered_at": self.registered_at,
        }


def token_key(platform: str, token: str) -> str:
    """One key per token (or Web Push endpoint), whoever registered it."""
    return hashlib.sha256(f"{platform}\n{token}".encode()).hexdigest()


def check_endpoint(endpoint: str, allow_local_http: bool) -> None:
    """A Web Push endpoint is an https URL; the local stack also takes http on 127.0.0.1."""
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
    except ValueError:
        raise BadRequest("'subscription.endpoint' must be an https URL") from None
    if parts.scheme == "https" and host:
        return
    if allow_local_http and parts.scheme == "http" and host in ("127.0.0.1", "localhost"):
        return
    raise BadRequest("'subscription.endpoint' must be an https URL")
