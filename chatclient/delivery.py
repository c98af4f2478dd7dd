"""Delivery to the application: exactly once, in ``seq`` order per chat, across reconnects.

``Delivery`` is the asyncio half of ``chatclient.ordering``: it asks the ``Ordering`` what to
do with each message, fetches what it asks for (a gap's ``chat.history``, the earlier messages
of a chat seen before its ``chat:added``), and hands messages to the chat's handler while it is
open, else to the background handler. Per chat, a lock serialises delivery, so live frames and
resync never interleave. It takes the pushed frames (``_dispatch``: messages, ``chat:added``,
``chat:removed``, ``chat:updated``, receipts, typing) and, on every new connection, resyncs
(``_on_connected``): every page of ``chat.list``, the viewed chats opened again, what moved
filled, and the known chats the list no longer has probed.

Each chat's messages that arrive as frames are confirmed with ``message.delivered`` as
``chatclient.confirm`` decides (the highest seq, at most once a second per chat), so the
backend does not push to the user's phone what this connection already has (PROTOCOL v3,
"Reach"). ``auto_confirm = False`` turns that off.

Messages change (edits, deletes, reactions): every message the client sees goes into the
``Ordering``'s local copy (``Copies``), which keeps the newest view of each. A
``chat:message:updated`` frame replaces the copy's view when its ``rev`` is higher, and the
application hears of it (``on_message_updated``); a message is handed over as the copy has it,
so a change that overtook its message is not lost. After every reconnect, each listed chat whose
``last_rev`` is past what the copy knows is asked ``chat.changes`` (every page), after its
messages are filled: what changed while the client was offline reaches the copy and the
application as if it had been online.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from chatclient.confirm import Confirmations
from chatclient.connection import Connection, Handler, TokenSource, call_handler
from chatclient.errors import ConnectionLost, ProtocolViolation, RequestTimeout
from chatclient.models import Ack, Changes, Chat, ChatError, ChatPage, Message, Receipt, Typing
from chatclient.ordering import Ordering, Verdict, earlier_request

log = logging.getLogger("chatclient")

# What a resync step can fail with besides a lost connection: the server's refusal, or a reply
# the client cannot read. Either leaves that step for later instead of ending the connection.
RESYNC_REFUSALS = (ChatError, ProtocolViolation, KeyError, TypeError, ValueError, AttributeError)


def changes_follow_open(reply: dict[str, Any]) -> bool:
    """After ``chat.open`` (a v3 server: its chat has ``last_rev``), ``chat.changes`` is asked
    whatever the rev: the server reads the chat before the connection counts as viewing it, so
    a change made in between is in neither the reply nor a frame; the walk reads after."""
    chat = reply.get("chat")
    return isinstance(chat, dict) and "last_rev" in chat


def page_fields(limit: int | None, cursor: str | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if limit is not None:
        fields["limit"] = limit
    if cursor is not None:
        fields["cursor"] = cursor
    return fields


def chat_page(reply: dict[str, Any]) -> ChatPage:
    cursor = reply.get("next_cursor")
    return ChatPage([Chat.from_wire(c) for c in reply["chats"]], None if cursor is None else str(cursor))


async def follow_pages(fetch: Callable[[str | None], Awaitable[ChatPage]]) -> list[Chat]:
    """Every chat over every page, newest activity first, each once (a chat that moves while
    the pages are read can be listed twice: the copy with the higher ``last_seq`` wins)."""
    chats: dict[str, Chat] = {}
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        page = await fetch(cursor)
        for chat in page.chats:
            known = chats.get(chat.chat_id)
            if known is None or chat.last_seq >= known.last_seq:
                chats[chat.chat_id] = chat
        cursor = page.next_cursor
        if cursor is None:
            return list(chats.values())
        if cursor in seen:
            raise ProtocolViolation(f"chat.list gave the cursor {cursor!r} twice")
        seen.add(cursor)


class Delivery(Connection):
    def __init__(self, url: str, token: TokenSource, **connection: Any) -> None:
        super().__init__(url, token, **connection)
        self._order = Ordering()
        self._locks: dict[str, asyncio.Lock] = {}
        self._chat_handlers: dict[str, Handler] = {}
        self.on_background: Handler | None = None
        self.on_receipt: Handler | None = None
        self.on_typing: Handler | None = None
        self.on_chat_added: Handler | None = None  # gets the Chat
        self.on_chat_removed: Handler | None = None  # gets the chat_id
        self.on_chat_updated: Handler | None = None  # gets the Chat
        self.on_message_updated: Handler | None = None  # gets the Message, edited, deleted or reacted to
        self.auto_confirm = True  # message.delivered for what arrives (see chatclient.confirm)
        self._confirms = Confirmations()
        self._confirming: set[asyncio.Future[None]] = set()

    @property
    def _last(self) -> dict[str, int]:
        """chat_id -> highest seq the application has (the ``Ordering``'s, for tests to read)."""
        return self._order.last

    # -- delivery state --------------------------------------------------------------------------

    def _lock(self, chat_id: str) -> asyncio.Lock:
        return self._locks.setdefault(chat_id, asyncio.Lock())

    async def _forget(self, chat_id: str) -> bool:
        """Drop a chat we are no longer in: its delivery state and its handler. True if known."""
        async with self._lock(chat_id):
            viewed = chat_id in self._chat_handlers
            self._chat_handlers.pop(chat_id, None)
            tracked = self._order.forget(chat_id)  # stray frames of it are ignored until chat:added
            self._confirms.forget(chat_id)
        return tracked or viewed

    async def _removed(self, chat_id: str) -> None:
        """The server says we are out of ``chat_id``: forget it and tell the application once."""
        if await self._forget(chat_id):
            await call_handler(self.on_chat_removed, chat_id)

    async def _own_sent(self, ack: Ack) -> None:
        async with self._lock(ack.chat_id):
            self._order.own_sent(ack.chat_id, ack.seq)

    # -- delivery --------------------------------------------------------------------------------

    async def _deliver_in_order(self, message: Message) -> None:
        """Deliver ``message`` after anything missing before it; drop it if already delivered."""
        chat_id = message.chat_id
        async with self._lock(chat_id):
            verdict = self._order.classify(message)
            if verdict is Verdict.IGNORE:
                log.info("message %d of chat %s, which we are out of: ignored", message.seq, chat_id)
                return
            if verdict is Verdict.UNTRACKED:
                await self._start_tracking(chat_id, message.seq)
                verdict = self._order.classify(message)
            if verdict is Verdict.DUPLICATE:
                return
            if verdict is Verdict.GAP:
                await self._fill(chat_id, upto=message.seq - 1)
            if self._order.is_next(message):
                await self._hand_over(message)

    async def _start_tracking(self, chat_id: str, seq: int) -> None:
        """A message ``seq`` of a chat we do not track yet; the caller holds the lock.

        Before the first chat list, like every chat then, it is tracked from this message on
        (history before the client started is the application's to load). After it, the user
        joined the chat since (its ``chat:added`` has not come yet, or was lost): every message
        before ``seq`` that the user may see is theirs, so they are fetched (paging back, as the
        client does not know ``joined_seq`` yet) and handed over first."""
        if not self._order.synced_once:
            log.info("message for untracked chat %s: tracking from seq %d", chat_id, seq)
            self._order.start_before(chat_id, seq, [])
            return
        earlier = await self._visible_before(chat_id, seq)
        log.info("message %d of new chat %s: %d earlier ones to deliver", seq, chat_id, len(earlier))
        self._order.start_before(chat_id, seq, earlier)
        for message in earlier:
            if self._order.accept(message):
                await self._hand_over(message)

    async def _visible_before(self, chat_id: str, seq: int) -> list[Message]:
        """Every message below ``seq`` the user may see, ascending (pages of ``chat.history``
        ``before``, newest first, until the server says there is no more)."""
        pages: list[list[Message]] = []
        before = seq
        while True:
            reply = await self._request("chat.history", earlier_request(chat_id, before))
            page = [Message.from_wire(raw) for raw in reply["messages"]]
            page = [m for m in page if m.seq < before]
            if page:
                pages.append(page)
                before = page[0].seq
            if not page or not reply.get("has_more"):
                return [message for page in reversed(pages) for message in page]

    async def _fill(self, chat_id: str, upto: int | None) -> None:
        """Fetch and deliver what came after ``last``, up to ``upto`` (None: up to the newest);
        the caller holds the lock.

        Uses the connection directly (not ``request``), as it also runs while resyncing, before
        the client reports itself online."""
        while self._order.behind(chat_id, upto):
            after = self._order.last_of(chat_id)
            reply = await self._request("chat.history", self._order.fill_request(chat_id))
            for raw in reply["messages"]:
                message = self._order.copies.offer(Message.from_wire(raw))
                if upto is not None and message.seq > upto:
                    return
                if self._order.accept(message):
                    await self._hand_over(message)
            if not self._order.more_to_fill(chat_id, after, bool(reply.get("has_more"))):
                return

    async def _hand_over(self, message: Message) -> None:
        """To the chat's handler while it is open, else to the background handler (unless the
        ``Ordering`` says the application had it already, or sent it), as the local copy has
        it: a change that came before the message is not lost."""
        message = self._order.copies.offer(message)
        if self._order.hand_over(message):
            handler = self._chat_handlers.get(message.chat_id)
            await call_handler(handler if handler is not None else self.on_background, message)

    # -- pushed frames ---------------------------------------------------------------------------

    async def _dispatch(self, frame: dict[str, Any]) -> None:
        event = str(frame.get("event"))
        route = self._routes.get(event)
        if route is None:
            log.debug("unhandled frame %s", frame)
            return
        try:
            await route(self, frame)
        except (ConnectionLost, RequestTimeout) as exc:
            log.info("%s not completed (%s): the next resync catches up", event, exc)
        except ChatError as exc:
            await self._refused(frame, exc)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("malformed %s frame: %s", event, exc)

    async def _refused(self, frame: dict[str, Any], exc: ChatError) -> None:
        """Filling a gap was refused: out of the chat means forget it; else resync catches up."""
        message = frame.get("message")
        chat_id = message.get("chat_id") if isinstance(message, dict) else None
        if chat_id and exc.means_not_a_member:
            await self._removed(str(chat_id))
        else:
            log.info("%s not completed (%s): the next resync catches up", frame.get("event"), exc)

    async def _on_message(self, frame: dict[str, Any]) -> None:
        message = Message.from_wire(frame["message"])
        await self._deliver_in_order(message)
        self._received(message)

    async def _on_message_updated(self, frame: dict[str, Any]) -> None:
        message = Message.from_wire(frame["message"])
        async with self._lock(message.chat_id):
            if self._order.message_changed(message):
                await call_handler(self.on_message_updated, message)

    async def _changes(self, chat_id: str) -> None:
        """Every change of ``chat_id`` past what the copy knows (``chat.changes``, every page),
        into the copy, and to the application; the caller holds the lock."""
        after: int | None = None
        while True:
            fields = self._order.copies.changes_request(chat_id, after)
            page = Changes.from_wire(await self._request("chat.changes", fields))
            for message in page.messages:
                if message.chat_id == chat_id and self._order.message_changed(message):
                    await call_handler(self.on_message_updated, message)
            after = self._order.copies.changes_page(fields["after_rev"], page)
            if after is None:
                return

    # -- confirming what arrived -----------------------------------------------------------------

    def _received(self, message: Message) -> None:
        """Confirm a message that arrived as a frame, now or when the chat's second is up; not
        our own (sending moved our pointers) nor one of a chat we are out of."""
        if message.sender_id != self.user_id:
            self._arrived(message.chat_id, message.seq)

    def _arrived(self, chat_id: str, seq: int) -> None:
        """Confirm ``seq`` of a chat we are in (a message, or the system message that added us)."""
        if not self.auto_confirm or not self._order.tracks(chat_id):
            return
        loop = asyncio.get_running_loop()
        step = self._confirms.received(chat_id, seq, loop.time())
        if step.confirm is not None:
            self._spawn_confirm(chat_id, step.confirm)
        elif step.wait is not None:
            loop.call_later(step.wait, self._confirm_due, chat_id)

    def _confirm_due(self, chat_id: str) -> None:
        seq = self._confirms.due(chat_id, asyncio.get_running_loop().time())
        if seq is not None and not self._closing:
            self._spawn_confirm(chat_id, seq)

    def _spawn_confirm(self, chat_id: str, seq: int) -> None:
        task = asyncio.ensure_future(self._confirm(chat_id, seq))
        self._confirming.add(task)
        task.add_done_callback(self._confirming.discard)

    async def _confirm(self, chat_id: str, seq: int) -> None:
        try:
            await self._request("message.delivered", {"chat_id": chat_id, "seq": seq})
        except (ChatError, ConnectionLost, RequestTimeout) as exc:
            log.info("confirming %s seq %d failed (%s): the next message confirms it", chat_id, seq, exc)
            self._confirms.failed(chat_id, seq)

    async def _on_chat_added(self, frame: dict[str, Any]) -> None:
        chat = Chat.from_wire(frame["chat"])
        async with self._lock(chat.chat_id):
            self._order.added(chat)
        if chat.last_seq > 0:
            self._arrived(chat.chat_id, chat.last_seq)  # the message that added us (Reach)
        await call_handler(self.on_chat_added, chat)

    async def _on_chat_removed(self, frame: dict[str, Any]) -> None:
        await self._removed(str(frame["chat_id"]))

    async def _on_chat_updated(self, frame: dict[str, Any]) -> None:
        chat = Chat.from_wire(frame["chat"])
        async with self._lock(chat.chat_id):
            self._order.updated(chat)
        await call_handler(self.on_chat_updated, chat)

    async def _on_receipt(self, frame: dict[str, Any]) -> None:
        receipt = Receipt(
            str(frame["chat_id"]), str(frame["user_id"]), int(frame["delivered_seq"]), int(frame["read_seq"])
        )
        await call_handler(self.on_receipt, receipt)

    async def _on_typing(self, frame: dict[str, Any]) -> None:
        typing = Typing(str(frame["chat_id"]), str(frame["user_id"]), bool(frame["typing"]))
        await call_handler(self.on_typing, typing)

    _routes: Final[dict[str, Callable[[Delivery, dict[str, Any]], Awaitable[None]]]] = {
        "chat:message": _on_message,
        "chat:message:background": _on_message,
        "chat:message:updated": _on_message_updated,
        "chat:added": _on_chat_added,
        "chat:removed": _on_chat_removed,
        "chat:updated": _on_chat_updated,
        "chat:receipt": _on_receipt,
        "chat:typing": _on_typing,
    }

    # -- resync ----------------------------------------------------------------------------------

    async def _on_connected(self) -> bool:
        """Resync: list every chat, re-open the chats being viewed, fill what moved, and find
        out about known chats the list no longer has (removed while we were away).

        True when every step succeeded. A step the server refused (an error reply other than
        "not a member", or a reply the client cannot read) is logged and skipped, and the
        result is False: ``_catch_up`` runs the resync again later. A lost connection raises."""
        known = self._order.known()  # before listing: chats added meanwhile are not "missing"
        try:
            chats = await follow_pages(self._list_page_now)
        except RESYNC_REFUSALS as exc:
            log.warning("resync: the chat list was refused (%s); trying again later", exc)
            return False
        plan = self._order.listed(chats, known, viewing=self._chat_handlers)
        complete = True
        for chat_id in plan.reopen:
            complete &= await self._resync_step(chat_id, self._reopen(chat_id))
        for chat in plan.listed:
            complete &= await self._resync_step(chat.chat_id, self._resync_chat(chat))
        for chat_id in plan.missing:
            complete &= await self._resync_step(chat_id, self._resync_missing(chat_id))
        return complete

    async def _resync_step(self, chat_id: str, step: Awaitable[None]) -> bool:
        """Run one chat's part of the resync: "not a member" forgets the chat; any other refusal
        leaves the chat for later (False)."""
        try:
            await step
        except ChatError as exc:
            if not exc.means_not_a_member:
                log.warning("resync of %s refused (%s); trying again later", chat_id, exc)
                return False
            await self._removed(chat_id)  # removed while we were away
        except RESYNC_REFUSALS as exc:
            log.warning("resync of %s: unreadable reply (%s); trying again later", chat_id, exc)
            return False
        return True

    async def _list_page_now(self, cursor: str | None) -> ChatPage:
        """A page on the connection being set up (resync runs before the client is online)."""
        return chat_page(await self._request("chat.list", page_fields(None, cursor)))

    async def _reopen(self, chat_id: str) -> None:
        reply = await self._request("chat.open", {"chat_id": chat_id})
        async with self._lock(chat_id):  # its messages as they stand now: changes while away
            for raw in reply.get("messages") or ():
                message = Message.from_wire(raw)
                if self._order.message_changed(message):
                    await call_handler(self.on_message_updated, message)
            if changes_follow_open(reply):
                await self._changes(chat_id)

    async def _resync_chat(self, chat: Chat) -> None:
        async with self._lock(chat.chat_id):
            if self._order.relisted(chat):  # a member again, if its chat:added was lost
                await self._fill(chat.chat_id, chat.last_seq)
            if self._order.copies.behind(chat.chat_id, chat.last_rev):  # changed while away
                await self._changes(chat.chat_id)

    async def _resync_missing(self, chat_id: str) -> None:
        """A chat we knew that the list did not show: ask for what follows ``last``. Refused
        means we were removed (or left elsewhere); answered means the list moved under us."""
        async with self._lock(chat_id):
            if self._order.tracks(chat_id):
                await self._fill(chat_id, None)
