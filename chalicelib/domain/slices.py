"""Fan-out slices: a large chat's message handed to the fan-out worker one roster page at a time
(the record and its JSON; ``actions.messages`` queues and runs them, ``delivery.fanout``'s worker
claims and posts them).

A send to a chat whose members are not on its item (above ``INLINE_MEMBERS``) reads neither
the roster nor anyone's presence: it queues one slice per roster page (the page numbers are on
the chat item), and the fan-out worker (``app.fanout``) does for each page what a small chat's
send does inline: read the page (1 GetItem), read its members' presence (1 BatchGetItem, a page
holds at most 100 users), post a frame to each of their connections, queue the push and reach
jobs of the page's members, and push to those whose every connection answered 410.

A slice's id is derived from the message and the page, so every slice of one message is the
same slice whoever queues it: the send, a retry of it that finds the fan-out unmarked, or
SQS delivering it twice. The worker claims the id before posting (one conditional PutItem in
the push log, as a shard's), so each page is posted once. The page is read when the slice runs:
a member removed since the message was sent gets nothing, a member added after its ``seq``
(``joined_seq`` in the page) gets nothing live either.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

SLICE_VERSION = 1
SLICE_KIND = "slice"


@dataclass(frozen=True)
class Slice:
    endpoint: str
    chat_id: str
    chat_title: str | None
    chat_kind: str
    page: int
    message: dict[str, Any]  # the message's wire form, without download URLs
    sender_name: str | None
    skip: str  # the sending connection (it gets the ack, not the message)

    @property
    def slice_id(self) -> str:
        seed = f"{self.chat_id}|{self.message['seq']}|{self.message['message_id']}|{self.page}"
        return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:32]

    @property
    def claim_key(self) -> str:
        return f"fanout:{self.slice_id}"

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": SLICE_VERSION,
                "kind": SLICE_KIND,
                "endpoint": self.endpoint,
                "chat": {"chat_id": self.chat_id, "title": self.chat_title, "kind": self.chat_kind},
                "page": self.page,
                "message": self.message,
                "sender_name": self.sender_name,
                "skip": self.skip,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, body: str) -> Slice:
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("kind") != SLICE_KIND or data.get("v") != SLICE_VERSION:
            raise ValueError("not a fan-out slice of a version this worker knows")
        chat, message = data["chat"], data["message"]
        if not isinstance(chat, dict) or not isinstance(message, dict):
            raise ValueError("a slice needs a chat and a message")
        if message.get("chat_id") != chat.get("chat_id"):
            raise ValueError("a slice's message is of another chat")
        page = data["page"]
        if not isinstance(page, int) or isinstance(page, bool) or page < 0:
            raise ValueError("a slice's page is a number")
        return cls(
            endpoint=str(data["endpoint"]),
            chat_id=str(chat["chat_id"]),
            chat_title=chat.get("title"),
            chat_kind=str(chat.get("kind") or "group"),
            page=page,
            message=message,
            sender_name=data.get("sender_name"),
            skip=str(data.get("skip") or ""),
        )


def is_slice(body: str) -> bool:
    """Whether a fan-out queue message is a slice (else a shard); False for what is no JSON object."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("kind") == SLICE_KIND
