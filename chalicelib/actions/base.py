"""What the actions share: who is asking, which chat they may act on, and who should hear of it.

Each action reads and writes through the ``Store`` and returns an ``Outcome`` (see ``router``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.actions.router import Context
from chalicelib.domain import ids
from chalicelib.domain.errors import Forbidden, Unavailable
from chalicelib.domain.frames import Post, checked
from chalicelib.domain.protocol import frame
from chalicelib.domain.records import Attachment, ChatRecord, Membership, Message, Presence, chat_view
from chalicelib.push.jobs import Notifier
from chalicelib.retry import Contention
from chalicelib.storage import Store
from chalicelib.storage.files import Files


class ActionBase:
    files: Files | None = None  # the attachments bucket (set by ``dispatch.Actions``)

    def __init__(
        self, store: Store, contention: Contention | None = None, notifier: Notifier | None = None
    ) -> None:
        self.store = store
        self.contention = contention or Contention()
        self.notifier = notifier or Notifier(None)

    def link(self, chat_id: str, attachment: Attachment) -> str:
        """An attachment's download URL, signed now (no request)."""
        if self.files is None:
            return ""
        return self.files.link(attachment.key(chat_id), attachment.name, attachment.content_type)

    def _wire(self, message: Message) -> dict[str, Any]:
        """The protocol's Message with fresh download URLs."""
        return message.to_wire(self.link)

    def _view(self, chat: ChatRecord, membership: Membership) -> dict[str, Any]:
        """The protocol's Chat as one member sees it, its last message's URLs fresh."""
        return chat_view(chat, membership, self.link)

    # -- which chat, as whom

    def _chat(self, chat_id: str) -> ChatRecord:
        """The chat; a missing one is refused as a chat one is not a member of is, word for word,
        so that nobody learns whether a chat they are not in exists."""
        chat = self.store.get_chat(chat_id)
        if chat is None:
            raise Forbidden(f"not a member of chat {chat_id}")
        return chat

    def _member_chat(self, ctx: Context, chat_id: str) -> tuple[ChatRecord, Membership]:
        """The chat and the user's membership of it (``forbidden`` for anyone else)."""
        chat = self._chat(chat_id)
        membership = self.store.membership(ctx.user_id, chat_id)
        if membership is None:
            raise Forbidden(f"not a member of chat {chat_id}")
        return chat, membership

    def _members(self, chat: ChatRecord) -> tuple[str, ...]:
        """Every member: from the chat item up to 50, else from the roster (read after it)."""
        if chat.members is not None:
            return chat.members
        return self.store.roster(chat).members()

    # -- who hears about it

    def _connections(self, users: Iterable[str], skip_connection: str | None = None) -> list[Presence]:
        found = self.store.presence(users)
        return [p for conns in found.values() for p in conns if p.connection_id != skip_connection]

    def _to_others_viewing(
        self, ctx: Context, chat_id: str, members: Iterable[str], payload: dict[str, Any]
    ) -> list[Post]:
        """Posts of one frame to other members' connections that view this chat."""
        others = [m for m in members if m != ctx.user_id]
        if not others:
            return []
        data = checked(payload)
        return [(p.connection_id, data) for p in self._connections(others) if p.viewing == chat_id]

    def _message_posts(
        self, presence: Iterable[Presence], message: Message, skip_connection: str | None
    ) -> list[Post]:
        """One frame per connection: ``chat:message`` where the chat is open, else background."""
        wire = self._wire(message)
        live = checked(frame("chat:message", message=wire))
        background = checked(frame("chat:message:background", message=wire))
        return [
            (p.connection_id, live if p.viewing == message.chat_id else background)
            for p in presence
            if p.connection_id != skip_connection
        ]


class DirectChatActions(ActionBase):
    """Actions that name a pair's direct chat (chats, blocks): its id is keyed with the
    deployment's secret (``ids.direct_chat_key``), read through ``direct_key`` when first needed."""

    def __init__(
        self,
        store: Store,
        contention: Contention | None = None,
        notifier: Notifier | None = None,
        direct_key: Callable[[], bytes] | None = None,
    ) -> None:
        super().__init__(store, contention, notifier)
        self._direct_key = direct_key

    def direct_chat_id(self, user_a: str, user_b: str) -> str:
        """The pair's direct chat id, keyed with the deployment's secret (``ids.direct_chat_key``)."""
        if self._direct_key is None:
            raise Unavailable("direct chats are not configured (no key)")
        return ids.direct_chat_id(user_a, user_b, self._direct_key())
