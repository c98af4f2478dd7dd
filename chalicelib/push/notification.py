"""What a stored message becomes on a phone or a browser: the notification every platform's
payload is built from, and the payloads themselves. Pure."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

BODY_CHARS = 120
PRIVATE_BODY = "New message"


@dataclass(frozen=True)
class Notification:
    chat_id: str
    seq: int
    message_id: str
    title: str
    body: str
    badge: int
    collapse_key: str
    sender_id: str | None  # None without preview
    text: str | None  # None without preview

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "chat_id": self.chat_id,
            "seq": self.seq,
            "message_id": self.message_id,
            "title": self.title,
            "body": self.body,
            "badge": self.badge,
            "collapse_key": self.collapse_key,
        }
        if self.sender_id is not None:
            out["sender_id"] = self.sender_id
        return out


def cut(text: str, limit: int = BODY_CHARS) -> str:
    """At most ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _files_line(message: dict[str, Any]) -> str:
    """A message of files only: a paperclip and its first file's name (files keep their order)."""
    files = message.get("attachments") or []
    return f"📎 {files[0]['name']}" if files else ""


def build(
    message: dict[str, Any],
    chat_title: str | None,
    chat_kind: str,
    sender_name: str | None,
    badge: int,
    preview: bool,
) -> Notification:
    """The notification of ``message`` (its wire form) for one device."""
    sender = sender_name or str(message["sender_id"])
    group = chat_kind == "group"
    if preview:
        title = chat_title if group and chat_title else sender
        text = str(message["text"]) or _files_line(message)
        system = message.get("kind") == "system"  # "alice added carol" names its sender already
        body = cut(f"{sender}: {text}" if group and not system else text)
    else:
        title = chat_title if group and chat_title else PRIVATE_BODY
        body = PRIVATE_BODY
    return Notification(
        chat_id=str(message["chat_id"]),
        seq=int(message["seq"]),
        message_id=str(message["message_id"]),
        title=title,
        body=body,
        badge=badge,
        collapse_key=str(message["chat_id"]),
        sender_id=str(message["sender_id"]) if preview else None,
        text=str(message["text"]) if preview else None,
    )


def _data(n: Notification) -> dict[str, str]:
    """The app's own keys, as strings (FCM data values must be strings)."""
    data = {"chat_id": n.chat_id, "seq": str(n.seq), "message_id": n.message_id, "badge": str(n.badge)}
    if n.sender_id is not None:
        data["sender_id"] = n.sender_id
    return data


def apns_payload(n: Notification) -> dict[str, Any]:
    return {
        "aps": {
            "alert": {"title": n.title, "body": n.body},
            "badge": n.badge,
            "sound": "default",
            "thread-id": n.chat_id,
        },
        **_data(n),
    }


def fcm_payload(n: Notification) -> dict[str, Any]:
    """FCM HTTP v1 message, as SNS takes it under ``GCM`` with ``fcmV1Message``."""
    return {
        "fcmV1Message": {
            "message": {
                "notification": {"title": n.title, "body": n.body},
                "data": _data(n),
                "android": {
                    "collapse_key": n.collapse_key,
                    "notification": {"tag": n.collapse_key, "notification_count": n.badge},
                },
                "apns": {"payload": {"aps": {"badge": n.badge}}},
            }
        }
    }


def sns_message(n: Notification) -> str:
    """The ``Message`` of an SNS ``Publish`` with ``MessageStructure=json``."""
    apns = json.dumps(apns_payload(n), ensure_ascii=False)
    return json.dumps(
        {
            "default": n.body,
            "APNS": apns,
            "APNS_SANDBOX": apns,
            "GCM": json.dumps(fcm_payload(n), ensure_ascii=False),
        },
        ensure_ascii=False,
    )


def webpush_payload(n: Notification) -> bytes:
    """What the service worker receives (decrypted): the notification's fields, and no more
    (push services refuse payloads much over 4 KB; the body is already cut to 120 characters)."""
    return json.dumps(n.to_wire(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def webpush_topic(chat_id: str) -> str:
    """RFC 8030 Topic: at most 32 URL-safe base64 characters; one per chat, so a newer
    notification of the chat replaces a pending older one."""
    return base64.urlsafe_b64encode(hashlib.sha256(chat_id.encode()).digest()).decode()[:32]
