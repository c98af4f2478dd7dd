"""Plain domain records. Storage returns these; handlers render them as protocol objects; push
and storage share ``Device``. Nothing here does I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

INLINE_MEMBERS = 50  # a chat object lists its members up to this many (and the chat item keeps them)
MAX_MEMBERS = 1000
MAX_BLOCKED = 1000  # users one user may block
MAX_ADMINS = 100  # keeps chat objects and chat:members frames far inside 128 KiB
# How long a send's client_msg_id is remembered: a retry within it is answered duplicate: true;
# one after it would store the message again. Far longer than any client retries a send
# (chatclient gives up after 2 minutes; an outbox kept across restarts should give up sooner).
SEND_KEY_TTL_SECONDS = 7 * 24 * 3600


PLATFORMS = ("apns", "fcm", "webpush")  # where push notifications can go
MAX_DEVICES = 20
MAX_TOKEN_CHARS = 4096


@dataclass(frozen=True)
class SystemEvent:
    """What a membership change did, as the timeline records it."""

    type: str  # added | removed | left | updated
    users: tuple[str, ...] = ()
    title: str | None = None
    title_changed: bool = False
    admins: tuple[str, ...] | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "users": list(self.users)}
        if self.title_changed:
            out["title"] = self.title
        if self.admins is not None:
            out["admins"] = list(self.admins)
        return out

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> SystemEvent:
        admins = data.get("admins")
        return cls(
            type=str(data["type"]),
            users=tuple(data.get("users") or ()),
            title=data.get("title"),
            title_changed="title" in data,
            admins=tuple(admins) if admins is not None else None,
        )


MAX_ATTACHMENTS = 10  # files per message
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024  # 26,214,400: one file
ATTACHMENT_PREFIX = "attachments/"  # every object key starts with it (IAM grants this prefix only)


@dataclass(frozen=True)
class Attachment:
    """A file as a message carries it (the wire adds a download ``url``, signed when the frame is
    built). Its object's key is ``attachments/{chat_id}/{attachment_id}``."""

    attachment_id: str
    name: str
    content_type: str
    size: int

    def key(self, chat_id: str) -> str:
        return attachment_key(chat_id, self.attachment_id)

    def to_wire(self) -> dict[str, Any]:
        return {
            "attachment_id": self.attachment_id,
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
        }


def attachment_key(chat_id: str, attachment_id: str) -> str:
    return f"{ATTACHMENT_PREFIX}{chat_id}/{attachment_id}"


Link = Callable[[str, Attachment], str]  # (chat id, attachment) -> a download URL


@dataclass(frozen=True)
class AttachmentRecord:
    """An attachment as ``attachment.create`` made it: whose, for which chat, and the message
    (``seq``) it became part of, if any yet."""

    attachment: Attachment
    user_id: str
    chat_id: str
    created_at: str
    seq: int | None = None


@dataclass(frozen=True)
class Message:
    """A message as it is now. ``reactions`` holds each reacting user's one emoji as sorted
    ``(user, emoji)`` pairs (the wire groups them by emoji); ``rev`` is the chat's change counter
    at the message's latest change (0: never changed). A deleted message keeps only what
    identifies it: its text is ``""`` and its mentions, reactions and reply are gone."""

    chat_id: str
    seq: int
    message_id: str
    client_msg_id: str
    sender_id: str
    text: str
    sent_at: str
    system: SystemEvent | None = None
    reply_to: int | None = None
    mentions: tuple[str, ...] = ()
    reactions: tuple[tuple[str, str], ...] = ()
    edited_at: str | None = None
    deleted: bool = False
    rev: int = 0
    attachments: tuple[Attachment, ...] = ()

    @property
    def kind(self) -> str:
        return "system" if self.system is not None else "text"

    def reactions_wire(self) -> dict[str, list[str]]:
        """``{emoji: sorted user ids}``, the protocol's shape (no emoji without users)."""
        grouped: dict[str, list[str]] = {}
        for user, emoji in sorted(self.reactions):
            grouped.setdefault(emoji, []).append(user)
        return grouped

    def to_wire(self, link: Link | None = None) -> dict[str, Any]:
        """The protocol's Message; ``link`` gives each attachment its download URL (signed now)."""
        files = [a.to_wire() for a in self.attachments]
        if link is not None:
            for entry, attachment in zip(files, self.attachments, strict=True):
                entry["url"] = link(self.chat_id, attachment)
        out: dict[str, Any] = {
            "chat_id": self.chat_id,
            "seq": self.seq,
            "message_id": self.message_id,
            "client_msg_id": self.client_msg_id,
            "sender_id": self.sender_id,
            "text": self.text,
            "sent_at": self.sent_at,
            "kind": self.kind,
            "reply_to": self.reply_to,
            "mentions": list(self.mentions),
            "attachments": files,
            "reactions": self.reactions_wire(),
            "edited_at": self.edited_at,
            "deleted": self.deleted,
            "rev": self.rev,
        }
        if self.system is not None:
            out["system"] = self.system.to_wire()
        return out


def message_from_wire(data: dict[str, Any]) -> Message:
    """A sent (not system, not changed) message from its wire form (``Message.to_wire``), as a
    fan-out slice carries it: ValueError for anything else."""
    if not isinstance(data, dict) or data.get("kind", "text") != "text" or data.get("system"):
        raise ValueError("not a sent message's wire form")
    files = data.get("attachments") or []
    if not isinstance(files, list):
        raise ValueError("a message's attachments are a list")
    reply_to = data.get("reply_to")
    return Message(
        chat_id=str(data["chat_id"]),
        seq=int(data["seq"]),
        message_id=str(data["message_id"]),
        client_msg_id=str(data["client_msg_id"]),
        sender_id=str(data["sender_id"]),
        text=str(data["text"]),
        sent_at=str(data["sent_at"]),
        reply_to=int(reply_to) if reply_to is not None else None,
        mentions=tuple(str(m) for m in data.get("mentions") or ()),
        attachments=tuple(
            Attachment(str(f["attachment_id"]), str(f["name"]), str(f["content_type"]), int(f["size"]))
            for f in files
        ),
    )


@dataclass(frozen=True)
class ChatRecord:
    """The chat item: what the chat is and how far its sequence has gone.

    ``members`` is kept on the item while the chat has at most ``INLINE_MEMBERS`` members
    (None above that: the roster pages hold them). ``members_seq`` is the seq of the last
    membership change, so a reader can tell whether a roster it holds is still current.
    """

    chat_id: str
    title: str | None
    members: tuple[str, ...] | None
    created_by: str
    created_at: str
    last_seq: int = 0
    last_message: Message | None = None
    kind: str = "group"
    admins: tuple[str, ...] = ()
    member_count: int = 0
    members_seq: int = 0
    last_activity: str = ""
    last_rev: int = 0  # the chat's change counter: the rev of its latest message change
    blocked_by: frozenset[str] = frozenset()  # a direct chat's: which of the pair block the other
    # The roster's page numbers, kept on the item while members are not (above INLINE_MEMBERS):
    # a send queues one fan-out slice per page without reading the roster. () on chats from
    # before it was kept (their sends read the roster).
    pages: tuple[int, ...] = ()

    @property
    def activity(self) -> str:
        """When the chat last changed; chats from before v2 count from their creation until
        their next message (what ``chat.list`` can read without the last message)."""
        return self.last_activity or self.created_at

    @property
    def is_direct(self) -> bool:
        return self.kind == "direct"


@dataclass(frozen=True)
class Pointers:
    """One member's receipt pointers in one chat."""

    delivered_seq: int = 0
    read_seq: int = 0

    def advanced(self, seq: int, read: bool) -> Pointers:
        """Move forward only; reading implies delivery."""
        delivered = max(self.delivered_seq, seq)
        read_seq = max(self.read_seq, seq) if read else self.read_seq
        return Pointers(delivered_seq=max(delivered, read_seq), read_seq=read_seq)

    def at_least(self, seq: int) -> Pointers:
        """The pointers as others should see them: nothing before ``seq`` is waiting."""
        return Pointers(max(self.delivered_seq, seq), max(self.read_seq, seq))

    def to_wire(self) -> dict[str, int]:
        return {"delivered_seq": self.delivered_seq, "read_seq": self.read_seq}


NOTIFY_LEVELS = ("all", "mentions", "none")  # a member's notification level in a chat


@dataclass(frozen=True)
class Membership:
    """One user's side of one chat: their pointers, where their visible timeline starts, and
    which of its messages notify them (``notify``: one of ``NOTIFY_LEVELS``)."""

    pointers: Pointers = Pointers()
    joined_seq: int = 0
    notify: str = "all"
    joined_at: str = ""  # ISO time it was written ("" for memberships from before v2)
    # The chat's change counter when they were added (0: a first member, or not recorded): every
    # change up to it is of a message from before they joined, so hidden from them.
    joined_rev: int = 0

    @property
    def muted(self) -> bool:
        """v2's two levels: muted is the level ``none``."""
        return self.notify == "none"


@dataclass(frozen=True)
class Connection:
    connection_id: str
    user_id: str
    name: str | None
    connected_at: int  # epoch seconds
    expires_at: int  # epoch seconds (TTL)


@dataclass(frozen=True)
class Presence:
    """One live connection of a user, as fan-out sees it."""

    connection_id: str
    viewing: str | None  # chat id the connection has open, if any
    expires_at: int


@dataclass(frozen=True)
class Reach:
    """How a user can be reached now: their live connections, and for push whether they have
    devices and which chats they muted (all from the one presence item a send reads)."""

    connections: tuple[Presence, ...] = ()
    has_devices: bool = False
    muted: frozenset[str] = frozenset()  # chats at level "none"
    mentions_only: frozenset[str] = frozenset()  # chats at level "mentions"

    def level(self, chat_id: str) -> str:
        """The user's notification level in a chat (``NOTIFY_LEVELS``)."""
        if chat_id in self.muted:
            return "none"
        return "mentions" if chat_id in self.mentions_only else "all"

    def wants_push(self, chat_id: str) -> bool:
        """Offline, with a device, and the chat not muted."""
        return not self.connections and self.has_devices and chat_id not in self.muted


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


@dataclass(frozen=True)
class StoredSend:
    """The outcome of storing a message: the message, whether it was a retry, and (for a
    retry) whether the first send got as far as handing the message to delivery."""

    message: Message
    duplicate: bool
    fanned_out: bool = False


@dataclass
class Page:
    messages: list[Message] = field(default_factory=list)
    has_more: bool = False


def chat_view(chat: ChatRecord, membership: Membership, link: Link | None = None) -> dict[str, Any]:
    """The protocol's Chat object as seen by one member."""
    joined = membership.joined_seq
    pointers = membership.pointers
    last = chat.last_message if chat.last_message and chat.last_message.seq > joined else None
    view: dict[str, Any] = {
        "chat_id": chat.chat_id,
        "kind": chat.kind,
        "title": chat.title,
        "created_by": chat.created_by,
        "created_at": chat.created_at,
        "admins": list(chat.admins),
        "member_count": chat.member_count,
        "last_seq": chat.last_seq,
        "last_rev": chat.last_rev,
        "last_message": last.to_wire(link) if last else None,
        "unread": max(0, chat.last_seq - max(pointers.read_seq, joined)),
        "read_seq": pointers.read_seq,
        "delivered_seq": pointers.delivered_seq,
        "joined_seq": joined,
        "muted": membership.muted,
        "notify": membership.notify,
    }
    if chat.members is not None and chat.member_count <= INLINE_MEMBERS:
        view["members"] = list(chat.members)
    return view
