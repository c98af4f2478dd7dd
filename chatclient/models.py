"""Typed views of the protocol's objects and events (field names as docs/protocol.md).

Version 2 fields are optional on the wire where the contract makes them so, and each class says
what an absent field becomes: ``Chat.members`` is ``None`` when the server leaves it out (chats
of more than 50 members: ask ``ChatClient.members``), ``Opened.receipts`` likewise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RETRYABLE = frozenset({"unavailable", "rate_limited", "internal"})
# How a ``forbidden`` error's message begins when the connection, not the chat, is unknown
# (for servers that do not send ``"reason": "unregistered"``).
UNREGISTERED = "this connection is not registered"
SYSTEM_TYPES = frozenset({"added", "removed", "left", "updated"})
PLATFORMS = ("apns", "fcm", "webpush")  # device.register's platforms


class ChatError(Exception):
    """An ``error`` frame: ``code`` is one of the protocol's codes; ``retry_after`` (seconds)
    is the server's ``retry_after_ms`` of a ``rate_limited`` error, else None."""

    def __init__(
        self, code: str, message: str, retry_after: float | None = None, reason: str | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.reason = reason

    @classmethod
    def from_frame(cls, frame: dict[str, Any]) -> ChatError:
        wait = frame.get("retry_after_ms")
        retry_after = None
        if isinstance(wait, int | float) and not isinstance(wait, bool) and 0 <= wait < 1e9:
            retry_after = wait / 1000
        reason = frame.get("reason")
        return cls(
            str(frame.get("code")),
            str(frame.get("message", "")),
            retry_after,
            reason if isinstance(reason, str) else None,
        )

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE

    @property
    def means_unregistered(self) -> bool:
        """The server has no record of this connection (it expired, or ``$connect`` did not
        complete): nothing about the chat, and only a new connection fixes it. Told by the
        frame's ``reason``; by the message of servers that do not send one."""
        if self.reason is not None:
            return self.code == "forbidden" and self.reason == "unregistered"
        return self.code == "forbidden" and self.message.startswith(UNREGISTERED)

    @property
    def means_not_a_member(self) -> bool:
        """The chat is gone for this user: removed, left, or never there."""
        return self.code in ("forbidden", "not_found") and not self.means_unregistered


def _users(value: Any) -> tuple[str, ...]:
    return tuple(str(user) for user in value or ())


@dataclass(frozen=True)
class SystemEvent:
    """What a system message records: ``type`` is added, removed, left or updated.

    ``title_changed`` tells "the title was cleared" (``title`` None) from "the title did not
    change"; ``admins`` is None when the event did not change the admins."""

    type: str
    users: tuple[str, ...] = ()
    title: str | None = None
    title_changed: bool = False
    admins: tuple[str, ...] | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> SystemEvent:
        admins = data.get("admins")
        title = data.get("title")
        return cls(
            type=str(data["type"]),
            users=_users(data.get("users")),
            title=None if title is None else str(title),
            title_changed="title" in data,
            admins=None if admins is None else _users(admins),
        )


@dataclass(frozen=True)
class Message:
    chat_id: str
    seq: int
    message_id: str
    client_msg_id: str
    sender_id: str
    text: str
    sent_at: str
    kind: str = "text"  # "text" or "system"
    system: SystemEvent | None = None  # set when kind is "system"

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Message:
        system = data.get("system")
        return cls(
            chat_id=str(data["chat_id"]),
            seq=int(data["seq"]),
            message_id=str(data["message_id"]),
            client_msg_id=str(data.get("client_msg_id", "")),
            sender_id=str(data["sender_id"]),
            text=str(data.get("text", "")),
            sent_at=str(data["sent_at"]),
            kind=str(data.get("kind", "text")),
            system=SystemEvent.from_wire(system) if isinstance(system, dict) else None,
        )

    @property
    def is_system(self) -> bool:
        return self.kind == "system"


@dataclass(frozen=True)
class Chat:
    chat_id: str
    title: str | None
    members: tuple[str, ...] | None  # None: not sent (more than 50 members); see member_count
    last_seq: int
    unread: int
    read_seq: int
    delivered_seq: int
    last_message: Message | None = None
    created_by: str = ""
    created_at: str = ""
    kind: str = "group"  # "group" or "direct"
    admins: tuple[str, ...] = ()
    member_count: int = 0
    joined_seq: int = 0  # this user sees only messages with seq > joined_seq
    muted: bool = False  # this user muted it: no push notifications for it, not in the badge

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Chat:
        last = data.get("last_message")
        members = data.get("members")
        member_tuple = None if members is None else _users(members)
        return cls(
            chat_id=str(data["chat_id"]),
            title=data.get("title"),
            members=member_tuple,
            last_seq=int(data.get("last_seq", 0)),
            unread=int(data.get("unread", 0)),
            read_seq=int(data.get("read_seq", 0)),
            delivered_seq=int(data.get("delivered_seq", 0)),
            last_message=Message.from_wire(last) if isinstance(last, dict) else None,
            created_by=str(data.get("created_by", "")),
            created_at=str(data.get("created_at", "")),
            kind=str(data.get("kind", "group")),
            admins=_users(data.get("admins")),
            member_count=int(data.get("member_count", len(member_tuple or ()))),
            joined_seq=int(data.get("joined_seq", 0)),
            muted=bool(data.get("muted", False)),
        )

    @property
    def is_direct(self) -> bool:
        return self.kind == "direct"

    def other_members(self, me: str | None) -> tuple[str, ...]:
        return tuple(m for m in self.members or () if m != me)

    def display_name(self, me: str | None = None) -> str:
        """The title; else, seen by ``me``, the other person of a direct chat, or the members."""
        if self.title:
            return self.title
        others = self.other_members(me)
        if others:
            return ", ".join(others)
        if self.members:  # only me
            return ", ".join(self.members)
        return f"{self.member_count} members"

    @property
    def name(self) -> str:
        return self.display_name(None)


@dataclass(frozen=True)
class ChatPage:
    """One ``chat:list`` page; ``next_cursor`` is None on the last one."""

    chats: list[Chat]
    next_cursor: str | None


@dataclass(frozen=True)
class Members:
    chat_id: str
    members: tuple[str, ...]
    admins: tuple[str, ...]

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Members:
        return cls(str(data["chat_id"]), _users(data.get("members")), _users(data.get("admins")))


@dataclass(frozen=True)
class Ack:
    chat_id: str
    client_msg_id: str
    seq: int
    message_id: str
    sent_at: str
    duplicate: bool

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Ack:
        return cls(
            chat_id=str(data["chat_id"]),
            client_msg_id=str(data["client_msg_id"]),
            seq=int(data["seq"]),
            message_id=str(data["message_id"]),
            sent_at=str(data["sent_at"]),
            duplicate=bool(data.get("duplicate", False)),
        )


@dataclass(frozen=True)
class Receipt:
    chat_id: str
    user_id: str
    delivered_seq: int
    read_seq: int


@dataclass(frozen=True)
class Pointers:
    delivered_seq: int
    read_seq: int

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Pointers:
        return cls(int(data.get("delivered_seq", 0)), int(data.get("read_seq", 0)))


@dataclass(frozen=True)
class Typing:
    chat_id: str
    user_id: str
    typing: bool


@dataclass(frozen=True)
class Opened:
    """``chat:opened``. ``has_more``: older visible messages exist (page them with
    ``history(before=messages[0].seq)``). ``receipts`` (per member) is None when the server
    leaves it out (more than 50 members); ``receipts_min`` is the lowest of the other members'
    pointers, what "delivered to all" and "read by all" ticks need (None from a v1 server)."""

    chat: Chat
    messages: list[Message]
    receipts: dict[str, dict[str, int]] | None = None
    has_more: bool = False
    receipts_min: Pointers | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Opened:
        receipts = data.get("receipts")
        receipts_min = data.get("receipts_min")
        return cls(
            chat=Chat.from_wire(data["chat"]),
            messages=[Message.from_wire(m) for m in data.get("messages", [])],
            receipts=dict(receipts) if isinstance(receipts, dict) else None,
            has_more=bool(data.get("has_more", False)),
            receipts_min=Pointers.from_wire(receipts_min) if isinstance(receipts_min, dict) else None,
        )


@dataclass(frozen=True)
class Device:
    """A device registered for push notifications (``device:registered``, ``device:list``).

    ``platform`` is apns, fcm or webpush; without ``preview`` its notifications say only "New
    message" (no text, no sender). The token or subscription is not echoed back by the server."""

    device_id: str
    platform: str
    preview: bool
    registered_at: str

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Device:
        return cls(
            device_id=str(data["device_id"]),
            platform=str(data["platform"]),
            preview=bool(data.get("preview", True)),
            registered_at=str(data.get("registered_at", "")),
        )
