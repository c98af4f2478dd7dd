"""Handing push work off the send path: one SQS message per member to notify now, and one
delayed reach job per send for the members who had a live connection.

The sending Lambda already read every member's presence item, which says whether they are
connected, whether they have a device and which chats they muted: deciding who gets a push
costs no extra request, and a member without a device costs nothing at all. Each job carries
what the worker needs to build the notification, so the worker reads only the member's devices
and their unread counts.

Reach (PROTOCOL v3): a live connection is no proof the person got the message, so the members
who had one and have devices go into a ``ReachJob`` that SQS holds back ``REACH_DELAY_SECONDS``
(at most ``REACH_SHARD`` members per job, so that the worker reads their ``delivered_seq`` in
one BatchGetItem); the worker then notifies those who have not confirmed the message
(``chalicelib.push.reach``). A member whose every connection answered 410 to the message's post
is offline for it at once: ``Notifier.notify`` now. The push log's claim per device and message
keeps the two paths from notifying a device twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.domain.records import ChatRecord, Message, Reach
from chalicelib.queues import Queue

log = logging.getLogger(__name__)

JOB_VERSION = 1
REACH_VERSION = 1
REACH_KIND = "reach"
# Held back this long, the job runs when the member had 10 s to confirm (it is queued after the
# ack); the poll and the sends take well under the 5 s left of the protocol's 15.
REACH_DELAY_SECONDS = 10
REACH_SHARD = 100  # members per reach job: one BatchGetItem of their memberships

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


@dataclass(frozen=True)
class ReachJob:
    """Members who had a live connection when the message was sent: each is notified unless
    their ``delivered_seq`` reached the message's ``seq`` by the time the job runs."""

    user_ids: tuple[str, ...]
    push: PushJob  # the job each unconfirmed member gets (its ``user_id`` is theirs)

    @property
    def seq(self) -> int:
        return self.push.seq

    def for_user(self, user_id: str) -> PushJob:
        return PushJob(
            user_id=user_id,
            chat_id=self.push.chat_id,
            chat_title=self.push.chat_title,
            chat_kind=self.push.chat_kind,
            sender_name=self.push.sender_name,
            message=self.push.message,
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": REACH_VERSION,
                "kind": REACH_KIND,
                "users": list(self.user_ids),
                "chat": {
                    "chat_id": self.push.chat_id,
                    "title": self.push.chat_title,
                    "kind": self.push.chat_kind,
                },
                "sender_name": self.push.sender_name,
                "message": self.push.message,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, body: str) -> ReachJob:
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("kind") != REACH_KIND or data.get("v") != REACH_VERSION:
            raise ValueError("not a reach job of a version this worker knows")
        users = data["users"]
        if not isinstance(users, list) or not users or len(users) > REACH_SHARD:
            raise ValueError(f"a reach job names 1 to {REACH_SHARD} users")
        push = PushJob.from_json(json.dumps({**data, "v": JOB_VERSION, "user_id": str(users[0])}))
        return cls(user_ids=tuple(str(u) for u in users), push=push)


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


class Replied(Protocol):
    def sender(self) -> str | None:
        """Who sent the message a reply answers (None: not a reply, or not known)."""


def notified(
    reach: Mapping[str, Reach], users: Iterable[str], message: Message, replied: Replied
) -> list[str]:
    """Of ``users``, those whose notification level lets ``message`` notify them: "all"; or
    "mentions" when it mentions them or replies to a message of theirs (``replied`` is asked
    only then); never "none". Users with no presence item have the default level, "all"."""
    out = []
    for user in users:
        level = reach[user].level(message.chat_id) if user in reach else "all"
        if level == "all" or (level == "mentions" and (user in message.mentions or replied.sender() == user)):
            out.append(user)
    return out


def to_notify(reach: Mapping[str, Reach], users: Iterable[str], chat_id: str) -> list[str]:
    """Of ``users``, those to push to now: no live connection, a device, the chat not muted."""
    return sorted(u for u in set(users) if u in reach and reach[u].wants_push(chat_id))


def to_confirm(reach: Mapping[str, Reach], users: Iterable[str], chat_id: str) -> list[str]:
    """Of ``users``, those a reach job checks later: a live connection, a device, not muted."""
    return sorted(
        u
        for u in set(users)
        if u in reach and reach[u].connections and reach[u].has_devices and chat_id not in reach[u].muted
    )


def offline_after(reach: Mapping[str, Reach], users: Iterable[str], gone: Iterable[str]) -> list[str]:
    """Of ``users``, those whose every live connection answered 410 (``gone``) to the post."""
    lost = set(gone)
    return sorted(
        u
        for u in set(users)
        if u in reach and reach[u].connections and all(p.connection_id in lost for p in reach[u].connections)
    )


class Notifier:
    """Queues one push job per member to notify (10 per SendMessageBatch); nothing without a
    queue (push not configured) or without anyone to notify."""

    def __init__(self, queue: Queue | None, reach_delay_seconds: int = REACH_DELAY_SECONDS) -> None:
        self.queue = queue
        self.reach_delay_seconds = reach_delay_seconds

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

    def confirm_later(
        self, users: Iterable[str], chat: ChatRecord, message: Message, sender_name: str | None
    ) -> int:
        """Queue the reach jobs of these live members (``REACH_SHARD`` per job), held back
        ``reach_delay_seconds``; nothing (no request) without a queue or without members."""
        users = sorted(set(users))
        if self.queue is None or not users:
            return 0
        push = PushJob(
            user_id=users[0],
            chat_id=chat.chat_id,
            chat_title=chat.title,
            chat_kind=chat.kind,
            sender_name=sender_name,
            message=message.to_wire(),
        )
        jobs = [
            ReachJob(tuple(users[start : start + REACH_SHARD]), push).to_json()
            for start in range(0, len(users), REACH_SHARD)
        ]
        unsent = self.queue.send(jobs, delay_seconds=self.reach_delay_seconds)
        if unsent:
            log.error(
                "%d of %d reach jobs for %s seq %d were not queued",
                len(unsent),
                len(jobs),
                chat.chat_id,
                message.seq,
            )
        return len(jobs) - len(unsent)
