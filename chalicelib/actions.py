"""What each protocol action does, given a verified connection and a parsed request.

Each action reads and writes through the ``Store`` and returns an ``Outcome``: the reply
frame for the requesting connection, and a function producing the posts to other connections,
run after the reply is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib import ids
from chalicelib.errors import BadRequest, Forbidden, NotFound, TooLarge, Unavailable
from chalicelib.model import ChatRecord, Message, Pointers, Presence, chat_view
from chalicelib.model import Connection as ConnectionRecord
from chalicelib.protocol import (
    MAX_MEMBERS,
    OPEN_PAGE_SIZE,
    ChatClose,
    ChatCreate,
    ChatHistory,
    ChatList,
    ChatOpen,
    MessageSend,
    Receipt,
    Request,
    Typing,
    encode,
    frame,
)
from chalicelib.retry import Contention
from chalicelib.storage import SeqConflict, Store

Post = tuple[str, bytes]


def _nothing() -> list[Post]:
    return []


@dataclass
class Outcome:
    """An action's reply, and the posts to others that follow it."""

    reply: dict[str, Any] | None
    then: Callable[[], list[Post]] = field(default=_nothing)


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


class Actions:
    def __init__(self, store: Store, contention: Contention | None = None) -> None:
        self.store = store
        self.contention = contention or Contention()

    def run(self, ctx: Context, request: Request) -> Outcome:
        handlers: dict[type, Callable[[Context, Any], Outcome]] = {
            ChatCreate: self._chat_create,
            ChatList: self._chat_list,
            ChatOpen: self._chat_open,
            ChatClose: self._chat_close,
            ChatHistory: self._chat_history,
            MessageSend: self._message_send,
            Receipt: self._receipt,
            Typing: self._typing,
        }
        handler = handlers.get(type(request))
        if handler is None:
            raise BadRequest("unsupported action")
        return handler(ctx, request)

    # ------------------------------------------------------------ helpers

    def _member_chat(self, ctx: Context, chat_id: str) -> ChatRecord:
        chat = self.store.get_chat(chat_id)
        if chat is None:
            raise NotFound(f"no chat {chat_id}")
        if ctx.user_id not in chat.members:
            raise Forbidden(f"not a member of chat {chat_id}")
        return chat

    def _connections(self, users: Iterable[str], skip_connection: str | None = None) -> list[Presence]:
        found = self.store.presence(users)
        return [p for conns in found.values() for p in conns if p.connection_id != skip_connection]

    def _to_others_viewing(self, ctx: Context, chat: ChatRecord, payload: dict[str, Any]) -> list[Post]:
        """Posts of one frame to other members' connections that view this chat."""
        others = [m for m in chat.members if m != ctx.user_id]
        if not others:
            return []
        data = encode(payload)
        return [(p.connection_id, data) for p in self._connections(others) if p.viewing == chat.chat_id]

    # ------------------------------------------------------------ chats

    def _chat_create(self, ctx: Context, r: ChatCreate) -> Outcome:
        members = tuple(sorted(set(r.members) | {ctx.user_id}))
        if len(members) > MAX_MEMBERS:
            raise TooLarge(f"a chat has at most {MAX_MEMBERS} members")
        chat = ChatRecord(
            chat_id=ids.new_chat_id(),
            title=r.title,
            members=members,
            created_by=ctx.user_id,
            created_at=ids.iso_now(),
        )
        self.store.create_chat(chat)
        view = chat_view(chat, Pointers())

        def announce() -> list[Post]:
            others = [m for m in members if m != ctx.user_id]
            if not others:
                return []
            data = encode(frame("chat:added", chat=view))
            return [(p.connection_id, data) for p in self._connections(others)]

        return Outcome(frame("chat:created", ctx.req, chat=view), announce)

    def _chat_list(self, ctx: Context, r: ChatList) -> Outcome:
        memberships = self.store.memberships_of(ctx.user_id)
        chats = self.store.get_chats(memberships) if memberships else []
        chats = [c for c in chats if ctx.user_id in c.members]
        chats.sort(key=lambda c: (c.last_activity, c.chat_id), reverse=True)
        views = [chat_view(c, memberships[c.chat_id]) for c in chats]
        return Outcome(frame("chat:list", ctx.req, chats=views))

    def _chat_open(self, ctx: Context, r: ChatOpen) -> Outcome:
        chat = self._member_chat(ctx, r.chat_id)
        page = self.store.messages(chat.chat_id, before=None, after=None, limit=OPEN_PAGE_SIZE)
        pointers = self.store.pointers(chat.chat_id, chat.members)
        self.store.set_viewing(ctx.connection, chat.chat_id)
        receipts = {m: pointers.get(m, Pointers()).to_wire() for m in chat.members}
        return Outcome(
            frame(
                "chat:opened",
                ctx.req,
                chat=chat_view(chat, pointers.get(ctx.user_id, Pointers())),
                messages=[m.to_wire() for m in page.messages],
                receipts=receipts,
            )
        )

    def _chat_close(self, ctx: Context, r: ChatClose) -> Outcome:
        chat = self._member_chat(ctx, r.chat_id)
        self.store.clear_viewing(ctx.connection, chat.chat_id)
        return Outcome(frame("chat:closed", ctx.req, chat_id=chat.chat_id))

    def _chat_history(self, ctx: Context, r: ChatHistory) -> Outcome:
        chat = self._member_chat(ctx, r.chat_id)
        page = self.store.messages(chat.chat_id, r.before, r.after, r.limit)
        return Outcome(
            frame(
                "chat:history",
                ctx.req,
                chat_id=chat.chat_id,
                messages=[m.to_wire() for m in page.messages],
                has_more=page.has_more,
            )
        )

    # ------------------------------------------------------------ messages

    def _message_send(self, ctx: Context, r: MessageSend) -> Outcome:
        chat = self._member_chat(ctx, r.chat_id)
        for _ in self.contention.attempts():  # each retry is one request: the loser learns the chat
            draft = Message(
                chat_id=chat.chat_id,
                seq=0,
                message_id=ids.new_message_id(),
                client_msg_id=r.client_msg_id,
                sender_id=ctx.user_id,
                text=r.text,
                sent_at=ids.iso_now(),
            )
            try:
                stored = self.store.append_message(chat, draft)
                break
            except SeqConflict as conflict:
                chat = conflict.current
                if ctx.user_id not in chat.members:
                    raise Forbidden(f"not a member of chat {chat.chat_id}") from None
        else:
            raise Unavailable("the chat is busy, retry")
        message = stored.message
        ack = frame(
            "message:ack",
            ctx.req,
            chat_id=message.chat_id,
            client_msg_id=message.client_msg_id,
            seq=message.seq,
            message_id=message.message_id,
            sent_at=message.sent_at,
            duplicate=stored.duplicate,
        )
        if stored.duplicate:
            return Outcome(ack)
        return Outcome(ack, lambda: self._message_posts(chat, message, ctx.connection_id))

    def _message_posts(self, chat: ChatRecord, message: Message, sender_connection: str) -> list[Post]:
        """One frame per connection of every member but the sending one."""
        wire = message.to_wire()
        live = encode(frame("chat:message", message=wire))
        background = encode(frame("chat:message:background", message=wire))
        return [
            (p.connection_id, live if p.viewing == chat.chat_id else background)
            for p in self._connections(chat.members, skip_connection=sender_connection)
        ]

    def _receipt(self, ctx: Context, r: Receipt) -> Outcome:
        chat = self._member_chat(ctx, r.chat_id)
        target = min(r.seq, chat.last_seq)
        for _ in self.contention.attempts():  # only the reader's own devices race here
            old = self.store.pointers(chat.chat_id, [ctx.user_id]).get(ctx.user_id, Pointers())
            new = old.advanced(target, read=r.read)
            if new == old or self.store.advance_pointers(chat.chat_id, ctx.user_id, old, new):
                break
        else:
            raise Unavailable("receipt contention, retry")
        reply = frame("receipt:ok", ctx.req, chat_id=chat.chat_id, **new.to_wire())
        if new == old:
            return Outcome(reply)
        notice = frame("chat:receipt", chat_id=chat.chat_id, user_id=ctx.user_id, **new.to_wire())
        return Outcome(reply, lambda: self._to_others_viewing(ctx, chat, notice))

    def _typing(self, ctx: Context, r: Typing) -> Outcome:
        chat = self._member_chat(ctx, r.chat_id)
        notice = frame("chat:typing", chat_id=chat.chat_id, user_id=ctx.user_id, typing=r.typing)
        return Outcome(None, lambda: self._to_others_viewing(ctx, chat, notice))
