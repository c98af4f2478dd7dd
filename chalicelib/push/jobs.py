"""Handing push work off the send path: one SQS message per member to notify.

The sending Lambda already read every member's presence item, which says whether they are
connected, whether they have a device and which chats they muted: deciding who gets a push
costs no extra request, and a member without a device costs nothing at all. Each job carries
what the worker needs to build the notification, so the worker reads only the member's devices
and their unread counts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.records import ChatRecord, Message, Reach
from chalicelib.queues import Queue

log = logging.getLogger(__name__)

JOB_VERSION = 1
PUSH_KIND = "push"


def job_kind(body: str) -> str:
    """The kind of a job on the push queue (``push`` when it names none); ValueError if the
    body is not a JSON object."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("a job is a JSON object")
    return str(data.get("kind") or PUSH_KIND)


@dataclass(frozen=True)
class PushJob:
    """Notify a member of a message: all their devices, or (a retry) one of them."""

    user_id: str
    chat_id: str
    chat_title: str | None
    chat_kind: str
    sender_name: str | None
    message: dict[str, Any]  # the message's wire form
    device_id: str | None = None  # a retry: this device only
    attempt: int = 0  # tries made so far for that device
    failing_since: float | None = None  # epoch seconds of its first failure
    not_before: float | None = None  # epoch seconds: a retry delayed beyond what SQS can delay

    @property
    def seq(self) -> int:
        return int(self.message["seq"])

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "v": JOB_VERSION,
            "user_id": self.user_id,
            "chat": {"chat_id": self.chat_id, "title": self.chat_title, "kind": self.chat_kind},
            "sender_name": self.sender_name,
            "message": self.message,
        }
        if self.device_id is not None:
            data["retry"] = {
                "device_id": self.device_id,
                "attempt": self.attempt,
                "failing_since": self.failing_since,
                "not_before": self.not_before,
            }
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, body: str) -> PushJob:
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("v") != JOB_VERSION:
            raise ValueError("not a push job of a version this worker knows")
        chat = data["chat"]
        message = data["message"]
        if not isinstance(message, dict) or not isinstance(chat, dict):
            raise ValueError("a push job needs a chat and a message")
        for key in ("chat_id", "seq", "message_id", "sender_id", "text"):
            if key not in message:
                raise ValueError(f"a push job's message lacks {key}")
        retry = data.get("retry") or {}
        if not isinstance(retry, dict):
            raise ValueError("a push job's retry is an object")
        return cls(
            user_id=str(data["user_id"]),
            chat_id=str(chat["chat_id"]),
            chat_title=chat.get("title"),
            chat_kind=str(chat.get("kind") or "group"),
            sender_name=data.get("sender_name"),
            message=message,
            device_id=str(retry["device_id"]) if retry.get("device_id") else None,
            attempt=int(retry.get("attempt") or 0),
            failing_since=_seconds(retry.get("failing_since")),
            not_before=_seconds(retry.get("not_before")),
        )


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


def to_notify(reach: Mapping[str, Reach], users: Iterable[str], chat_id: str) -> list[str]:
    """Of ``users``, those to push to: no live connection, a device, the chat not muted."""
    return sorted(u for u in set(users) if u in reach and reach[u].wants_push(chat_id))


class Notifier:
    """Queues one push job per member to notify (10 per SendMessageBatch); nothing without a
    queue (push not configured) or without anyone to notify."""

    def __init__(self, queue: Queue | None) -> None:
        self.queue = queue

    def notify(
        self, users: Iterable[str], chat: ChatRecord, message: Message, sender_name: str | None
    ) -> int:
        users = list(users)
        if self.queue is None or not users:
            return 0
        wire = message.to_wire()
        jobs = [
            PushJob(
                user_id=user,
                chat_id=chat.chat_id,
                chat_title=chat.title,
                chat_kind=chat.kind,
                sender_name=sender_name,
                message=wire,
            ).to_json()
            for user in users
        ]
        unsent = self.queue.send(jobs)
        if unsent:
            log.error(
                "%d of %d push jobs for %s seq %d were not queued",
                len(unsent),
                len(jobs),
                chat.chat_id,
                message.seq,
            )
        return len(jobs) - len(unsent)
