"""Typed views of the protocol's objects and events (field names as docs/protocol.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RETRYABLE = frozenset({"unavailable", "rate_limited", "internal"})


class ChatError(Exception):
    """An ``error`` frame: ``code`` is one of the protocol's codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE


@dataclass(frozen=True)
class Message:
    chat_id: str
    seq: int
    message_id: str
    client_msg_id: str
    sender_id: str
    text: str
    sent_at: str

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Message:
        return cls(
            chat_id=str(data["chat_id"]),
            seq=int(data["seq"]),
            message_id=str(data["message_id"]),
            client_msg_id=str(data.get("client_msg_id", "")),
            sender_id=str(data["sender_id"]),
            text=str(data["text"]),
            sent_at=str(data["sent_at"]),
        )


@dataclass(frozen=True)
class Chat:
    chat_id: str
    title: str | None
    members: tuple[str, ...]
    last_seq: int
    unread: int
    read_seq: int
    delivered_seq: int
    last_message: Message | None = None
    created_by: str = ""
    created_at: str = ""

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Chat:
        last = data.get("last_message")
        return cls(
            chat_id=str(data["chat_id"]),
            title=data.get("title"),
            members=tuple(data.get("members", ())),
            last_seq=int(data.get("last_seq", 0)),
            unread=int(data.get("unread", 0)),
            read_seq=int(data.get("read_seq", 0)),
            delivered_seq=int(data.get("delivered_seq", 0)),
            last_message=Message.from_wire(last) if isinstance(last, dict) else None,
            created_by=str(data.get("created_by", "")),
            created_at=str(data.get("created_at", "")),
        )

    @property
    def name(self) -> str:
        return self.title or ", ".join(self.members)


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
class Typing:
    chat_id: str
    user_id: str
    typing: bool


@dataclass(frozen=True)
class Opened:
    chat: Chat
    messages: list[Message]
    receipts: dict[str, dict[str, int]] = field(default_factory=dict)
