"""Typed views of the protocol's objects and events (field names as docs/protocol.md).

Version 2 fields are optional on the wire where the contract makes them so, and each class says
what an absent field becomes: ``Chat.members`` is ``None`` when the server leaves it out (chats
of more than 50 members: ask ``ChatClient.members``), ``Opened.receipts`` likewise. Version 3
fields (a message's ``reply_to``, ``mentions``, ``attachments``, ``reactions``, ``edited_at``,
``deleted``, ``rev``; a chat's ``last_rev`` and ``notify``) take the values a message or chat
that never changed has when a version 2 server leaves them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RETRYABLE = frozenset({"unavailable", "rate_limited", "internal"})
# How a ``forbidden`` error's message begins when the connection, not the chat, is unknown
# (for servers that do not send ``"reason": "unregistered"``).
UNREGISTERED = "this connection is not registered"
SYSTEM_TYPES = frozenset({"added", "removed", "left", "updated"})
PLATFORMS = ("apns", "fcm", "webpush")  # device.register's platforms
NOTIFY_LEVELS = ("all", "mentions", "none")  # chat.notify's levels


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


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class Attachment:
    """A file of a message. ``url`` downloads it for a while (an hour at least): a fresh one
    comes with every ``chat.history``, so two views of one message may differ in it only."""

    attachment_id: str
    name: str
    content_type: str
    size: int
    url: str = field(default="", compare=False)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Attachment:
        return cls(
            attachment_id=str(data["attachment_id"]),
            name=str(data.get("name", "")),
            content_type=str(data.get("content_type", "")),
            size=int(data.get("size", 0)),
            url=str(data.get("url", "")),
        )


def _reactions(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        return {}
    return {str(emoji): _users(users) for emoji, users in value.items() if users}


@dataclass(frozen=True)
class Message:
    """A message as the server last showed it. ``rev`` orders its versions: 0 for a message
    never changed, else the chat's ``rev`` at its latest change (an edit, a delete, a
    reaction); of two views of one message, the one with the higher ``rev`` is the newer.
    A deleted message keeps ``seq``, ``message_id``, ``sender_id`` and ``sent_at``; its text is
    ``""`` and its mentions, attachments, reactions and ``reply_to`` are gone."""

    chat_id: str
    seq: int
    message_id: str
    client_msg_id: str
    sender_id: str
    text: str
    sent_at: str
    kind: str = "text"  # "text" or "system"
    system: SystemEvent | None = None  # set when kind is "system"
    reply_to: int | None = None  # the seq this message answers
    mentions: tuple[str, ...] = ()  # sorted user ids
    attachments: tuple[Attachment, ...] = ()
    reactions: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)  # emoji -> users
    edited_at: str | None = None  # when the text last changed
    deleted: bool = False
    rev: int = 0

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Message:
        system = data.get("system")
        edited_at = data.get("edited_at")
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
            reply_to=_int_or_none(data.get("reply_to")),
            mentions=_users(data.get("mentions")),
            attachments=tuple(
                Attachment.from_wire(a) for a in data.get("attachments") or () if isinstance(a, dict)
            ),
            reactions=_reactions(data.get("reactions")),
            edited_at=None if edited_at is None else str(edited_at),
            deleted=bool(data.get("deleted", False)),
            rev=int(data.get("rev", 0)),
        )

    @property
    def is_system(self) -> bool:
        return self.kind == "system"

    @property
    def edited(self) -> bool:
        return self.edited_at is not None and not self.deleted

    def reaction_of(self, user: str | None) -> str | None:
        """The emoji ``user`` reacted with (a user has at most one per message), or None."""
        return next((emoji for emoji, users in self.reactions.items() if user in users), None)

    def reaction_counts(self) -> list[tuple[str, int]]:
        """``[(emoji, how many)]``, the most used first (ties by emoji)."""
        return sorted(((e, len(u)) for e, u in self.reactions.items()), key=lambda p: (-p[1], p[0]))


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
    last_rev: int = 0  # the chat's change counter: its latest edit, delete or reaction
    notify: str = "all"  # this user's level: "all", "mentions" (mentions and replies) or "none"

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
            last_rev=int(data.get("last_rev", 0)),
            notify=str(data.get("notify", "none" if data.get("muted") else "all")),
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


@dataclass(frozen=True)
class Changes:
    """One ``chat:changes`` page: the messages whose ``rev`` is past the ``after_rev`` asked
    for, as they are now, by ``rev`` ascending; ``last_rev`` is the chat's; ``has_more``: ask
    again with ``after_rev`` the last message's ``rev``."""

    chat_id: str
    messages: list[Message]
    last_rev: int
    has_more: bool

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Changes:
        return cls(
            chat_id=str(data["chat_id"]),
            messages=[Message.from_wire(m) for m in data.get("messages", [])],
            last_rev=int(data.get("last_rev", 0)),
            has_more=bool(data.get("has_more", False)),
        )
