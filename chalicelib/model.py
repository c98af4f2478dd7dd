"""Plain domain records. Storage returns these; handlers render them as protocol objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Message:
    chat_id: str
    seq: int
    message_id: str
    client_msg_id: str
    sender_id: str
    text: str
    sent_at: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "chat_id": self.chat_id,
            "seq": self.seq,
            "message_id": self.message_id,
            "client_msg_id": self.client_msg_id,
            "sender_id": self.sender_id,
            "text": self.text,
            "sent_at": self.sent_at,
        }


@dataclass(frozen=True)
class ChatRecord:
    """The chat item: who is in it and how far its sequence has gone."""

    chat_id: str
    title: str | None
    members: tuple[str, ...]
    created_by: str
    created_at: str
    last_seq: int = 0
    last_message: Message | None = None

    @property
    def last_activity(self) -> str:
        return self.last_message.sent_at if self.last_message else self.created_at


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

    def to_wire(self) -> dict[str, int]:
        return {"delivered_seq": self.delivered_seq, "read_seq": self.read_seq}


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
class StoredSend:
    """The outcome of storing a message: the message, and whether it was a retry."""

    message: Message
    duplicate: bool


@dataclass
class Page:
    messages: list[Message] = field(default_factory=list)
    has_more: bool = False


def chat_view(chat: ChatRecord, pointers: Pointers) -> dict[str, Any]:
    """The protocol's Chat object as seen by one member."""
    return {
        "chat_id": chat.chat_id,
        "title": chat.title,
        "members": list(chat.members),
        "created_by": chat.created_by,
        "created_at": chat.created_at,
        "last_seq": chat.last_seq,
        "last_message": chat.last_message.to_wire() if chat.last_message else None,
        "unread": max(0, chat.last_seq - pointers.read_seq),
        "read_seq": pointers.read_seq,
        "delivered_seq": pointers.delivered_seq,
    }
