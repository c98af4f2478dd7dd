"""The fields of ``device.register``, checked before anything is sent (pure).

apns and fcm devices are registered by their push token; a browser by its Web Push
subscription (``PushSubscription.toJSON()``: ``{endpoint, keys: {p256dh, auth}}``). The server
checks the rest (the token's length, an https endpoint) and answers ``bad_request``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chatclient.models import PLATFORMS

SUBSCRIPTION_KEYS = ("p256dh", "auth")


def register_fields(
    platform: str, token: str | None, subscription: Mapping[str, Any] | None, preview: bool
) -> dict[str, Any]:
    """The request fields for one device, or ValueError/TypeError saying what is wrong."""
    if platform not in PLATFORMS:
        raise ValueError(f"register_device: platform must be one of {', '.join(PLATFORMS)}, not {platform!r}")
    if not isinstance(preview, bool):
        raise TypeError(f"register_device: preview must be True or False, not {preview!r}")
    if platform == "webpush":
        if token is not None:
            raise ValueError("register_device: a webpush device is registered by subscription=, not token=")
        return {"platform": platform, "subscription": webpush_subscription(subscription), "preview": preview}
    if subscription is not None:
        raise ValueError(f"register_device: an {platform} device is registered by token=, not subscription=")
    if not isinstance(token, str) or not token:
        raise ValueError(f"register_device: an {platform} device needs token= (its push token)")
    return {"platform": platform, "token": token, "preview": preview}


def webpush_subscription(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{endpoint, keys: {p256dh, auth}}`` out of a browser's subscription JSON (other fields,
    such as ``expirationTime``, are left out)."""
    if not isinstance(value, Mapping):
        raise TypeError("register_device: subscription= must be a dict {endpoint, keys: {p256dh, auth}}")
    endpoint = value.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise ValueError("register_device: the subscription has no 'endpoint'")
    keys = value.get("keys")
    if not isinstance(keys, Mapping) or not all(_nonempty(keys.get(k)) for k in SUBSCRIPTION_KEYS):
        raise ValueError("register_device: the subscription needs keys.p256dh and keys.auth")
    return {"endpoint": endpoint, "keys": {k: keys[k] for k in SUBSCRIPTION_KEYS}}


def _nonempty(value: object) -> bool:
    return isinstance(value, str) and bool(value)
