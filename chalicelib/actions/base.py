"""What each protocol action does, given a verified connection and a parsed request.

Each action reads and writes through the ``Store`` and returns an ``Outcome``: the reply
frame for the requesting connection, and a function producing the posts to other connections,
run after the reply is sent. The actions live in ``chat_actions`` (chats and who is in them)
and ``message_actions`` (messages, receipts, typing); this module holds what they share: who
is asking, which chat they may act on, and who should hear about it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import BadRequest, Forbidden, NotFound
from chalicelib.domain.frames import Post, checked
from chalicelib.domain.protocol import Request, frame
from chalicelib.domain.records import ChatRecord, Membership, Message, Presence
from chalicelib.domain.records import Connection as ConnectionRecord
from chalicelib.push.jobs import Notifier
from chalicelib.push.providers import Providers
from chalicelib.retry import Contention
from chalicelib.storage import Store


def _nothing() -> list[Post]:
    return []


def _no_op() -> None:
    pass


@dataclass
class Outcome:
    """An action's reply, the posts to others that follow it, and what to record once those
    posts were handed to delivery (``done``: not run when producing or dispatching them failed)."""

    reply: dict[str, Any] | None
    then: Callable[[], list[Post]] = field(default=_nothing)
    done: Callable[[], None] = field(default=_no_op)


@dataclass(frozen=True)
class Context:
    connection: ConnectionRecord
    req: str | None

    @property
    def user_id(self) -> str:
        return self.connection.user_id

    @property
    def connection_id(self) -> str:
        return self.connection.connection_id


class ActionBase:
    def __init__(
        self, store: Store, contention: Contention | None = None, notifier: Notifier | None = None
    ) -> None:
        self.store = store
        self.contention = contention or Contention()
        self.notifier = notifier or Notifier(None)

    # -- which chat, as whom

    def _chat(self, chat_id: str) -> ChatRecord:
        chat = self.store.get_chat(chat_id)
        if chat is None:
            raise NotFound(f"no chat {chat_id}")
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
        wire = message.to_wire()
        live = checked(frame("chat:message", message=wire))
        background = checked(frame("chat:message:background", message=wire))
        return [
            (p.connection_id, live if p.viewing == message.chat_id else background)
            for p in presence
            if p.connection_id != skip_connection
        ]


class Actions:
    """Runs a request through the action that handles its type."""

    def __init__(
        self,
        store: Store,
        contention: Contention | None = None,
        notifier: Notifier | None = None,
        providers: Providers | None = None,
        allow_local_http: bool = False,
    ) -> None:
        from chalicelib.actions.chats import ChatActions
        from chalicelib.actions.devices import DeviceActions
        from chalicelib.actions.messages import MessageActions

        self.chats = ChatActions(store, contention, notifier)
        self.messages = MessageActions(store, contention, notifier)
        self.devices = DeviceActions(store, providers or Providers({}), allow_local_http, contention)
        self._handlers: dict[type, Callable[[Context, Any], Outcome]] = {
            **self.chats.handlers(),
            **self.messages.handlers(),
            **self.devices.handlers(),
        }

    @property
    def contention(self) -> Contention:
        return self.messages.contention

    @contention.setter
    def contention(self, value: Contention) -> None:
        """How long a write that lost a race keeps trying (tests set a fake clock here)."""
        self.chats.contention = value
        self.messages.contention = value
        self.devices.contention = value

    def run(self, ctx: Context, request: Request) -> Outcome:
        handler = self._handlers.get(type(request))
        if handler is None:
            raise BadRequest("unsupported action")
        return handler(ctx, request)
