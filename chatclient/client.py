"""The client: one WebSocket kept open, requests correlated by ``req``, and message delivery to
the application exactly once, in ``seq`` order per chat, across reconnects.

How "exactly once, in order" holds: for every chat the client keeps ``last`` (the highest seq
the application has been given, or had before it started). A message with ``seq <= last`` is a
duplicate and dropped; one with ``seq > last + 1`` means a gap, filled from ``chat.history
after=last`` before it is delivered. After every reconnect, ``chat.list`` says each chat's
``last_seq``, and the chats that moved are filled the same way. Per chat, a lock serialises
delivery, so live frames and resync never interleave. The application's own sends are not
delivered back to it (it has the ack); they only advance ``last``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import websockets

from chatclient.backoff import Backoff
from chatclient.models import Ack, Chat, ChatError, Message, Opened, Receipt, Typing

log = logging.getLogger("chatclient")

Handler = Callable[[Any], Any]  # sync or async; gets a Message, Receipt, Typing, Chat or state
TokenSource = str | Callable[[], str | Awaitable[str]]
HISTORY_PAGE = 100


class ConnectionLost(Exception):
    """The connection went away before the reply came (the request may or may not have run)."""


class RequestTimeout(Exception):
    """No reply within the timeout (the request may or may not have run)."""


async def _call(handler: Handler | None, value: Any) -> None:
    if handler is None:
        return
    try:
        result = handler(value)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("handler %r raised", handler)


class ChatClient:
    def __init__(
        self,
        url: str,
        token: TokenSource,
        *,
        request_timeout: float = 10.0,
        keepalive: float = 300.0,
        backoff: Backoff | None = None,
        send_timeout: float | None = 120.0,
        connect: Callable[..., Any] = websockets.connect,
    ) -> None:
        self.url = url
        self._token = token
        self.request_timeout = request_timeout
        self.keepalive = keepalive
        self.backoff = backoff or Backoff()
        self.send_timeout = send_timeout
        self._connect = connect

        self.state = "idle"  # idle, connecting, online, offline, closed
        self.connects = 0  # successful connections so far (1 + reconnects)
        self._ws: Any = None
        self._online = asyncio.Event()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reqs = itertools.count(1)
        self._supervisor: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._closing = False

        self._last: dict[str, int] = {}  # chat_id -> highest seq the application has
        self._own: dict[str, set[int]] = {}  # chat_id -> seqs of our own acked sends not yet passed
        self._sent_ids: set[str] = set()  # client_msg_ids this client sent
        self._locks: dict[str, asyncio.Lock] = {}
        self._synced_once = False

        self._chat_handlers: dict[str, Handler] = {}
        self.on_background: Handler | None = None
        self.on_receipt: Handler | None = None
        self.on_typing: Handler | None = None
        self.on_chat_added: Handler | None = None
        self.on_state: Handler | None = None
        # Test hook: awaited right after a message.send frame is written.
        self.after_send_frame: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, wait: bool = True) -> ChatClient:
        if self._supervisor is None:
            self._supervisor = asyncio.ensure_future(self._run())
            self._dispatcher = asyncio.ensure_future(self._dispatch_forever())
        if wait:
            await self.wait_online()
        return self

    async def wait_online(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._online.wait(), timeout)

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        for task in (self._supervisor, self._dispatcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._set_state("closed")

    async def __aenter__(self) -> ChatClient:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _token_value(self) -> str:
        value = self._token() if callable(self._token) else self._token
        return await value if inspect.isawaitable(value) else value

    async def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            await _call(self.on_state, state)

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            await self._set_state("connecting")
            try:
                token = await self._token_value()
                sep = "&" if "?" in self.url else "?"
                self._ws = await self._connect(f"{self.url}{sep}token={token}", max_size=None)
            except Exception as exc:  # refused, unreachable, a bad token...
                log.info("connect failed: %s", exc)
                await self._set_state("offline")
                await asyncio.sleep(self.backoff.delay(attempt))
                attempt += 1
                continue
            attempt = 0
            self.connects += 1
            reader = asyncio.ensure_future(self._read(self._ws))
            try:
                await self._on_connected()
                await self._set_state("online")
                self._online.set()
                await self._keep_alive(reader)
            except (ConnectionLost, RequestTimeout, websockets.ConnectionClosed) as exc:
                log.info("connection lost during setup: %s", exc)
            finally:
                self._online.clear()
                with contextlib.suppress(Exception):
                    await self._ws.close()
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
                self._fail_pending()
            if not self._closing:
                await self._set_state("offline")
                await asyncio.sleep(self.backoff.delay(0))

    async def _keep_alive(self, reader: asyncio.Task[None]) -> None:
        """Until the connection ends: a ``ping`` well inside API Gateway's 10-minute idle limit."""
        while not reader.done():
            done, _ = await asyncio.wait({reader}, timeout=self.keepalive)
            if done:
                return
            try:
                await self._request("ping", {})
            except (RequestTimeout, ConnectionLost):
                return  # a dead connection: reconnect

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionLost("connection lost before the reply"))
        self._pending.clear()

    async def _read(self, ws: Any) -> None:
        try:
            async for raw in ws:
                try:
                    frame = json.loads(raw)
                except ValueError:
                    log.warning("not JSON: %r", raw[:200])
                    continue
                if not isinstance(frame, dict):
                    continue
                future = self._pending.pop(frame.get("req", ""), None) if frame.get("req") else None
                if future is not None:
                    if not future.done():
                        future.set_result(frame)
                else:
                    self._inbox.put_nowait(frame)
        except websockets.ConnectionClosed:
            pass

    # -- requests --------------------------------------------------------------------------------

    async def _request(
        self, action: str, fields: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        ws = self._ws
        if ws is None:
            raise ConnectionLost("not connected")
        req = f"q{next(self._reqs)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req] = future
        frame = {"action": action, "req": req, **fields}
        try:
            await ws.send(json.dumps(frame))
        except websockets.ConnectionClosed as exc:
            self._pending.pop(req, None)
            raise ConnectionLost(str(exc)) from exc
        if action == "message.send" and self.after_send_frame is not None:
            await self.after_send_frame(frame)
        try:
            reply = await asyncio.wait_for(future, timeout or self.request_timeout)
        except TimeoutError as exc:
            self._pending.pop(req, None)
            raise RequestTimeout(f"{action}: no reply in {timeout or self.request_timeout}s") from exc
        if reply.get("event") == "error":
            raise ChatError(str(reply.get("code")), str(reply.get("message", "")))
        return reply

    async def request(self, action: str, **fields: Any) -> dict[str, Any]:
        """One request on the current connection, waiting for it if it is being re-established."""
        await asyncio.wait_for(self._online.wait(), self.request_timeout)
        return await self._request(action, fields)

    async def ping(self) -> None:
        await self.request("ping")

    async def list_chats(self) -> list[Chat]:
        reply = await self.request("chat.list")
        return [Chat.from_wire(c) for c in reply["chats"]]

    async def create_chat(self, members: list[str], title: str | None = None) -> Chat:
        fields: dict[str, Any] = {"members": members}
        if title:
            fields["title"] = title
        chat = Chat.from_wire((await self.request("chat.create", **fields))["chat"])
        self._last.setdefault(chat.chat_id, chat.last_seq)
        return chat

    async def history(
        self, chat_id: str, *, after: int | None = None, before: int | None = None, limit: int = 50
    ) -> tuple[list[Message], bool]:
        fields: dict[str, Any] = {"chat_id": chat_id, "limit": limit}
        if after is not None:
            fields["after"] = after
        if before is not None:
            fields["before"] = before
        reply = await self.request("chat.history", **fields)
        return [Message.from_wire(m) for m in reply["messages"]], bool(reply.get("has_more"))

    async def open_chat(self, chat_id: str, handler: Handler) -> Opened:
        """View a chat: its ``chat:message`` frames (and its missed messages) go to ``handler``."""
        self._chat_handlers[chat_id] = handler
        reply = await self.request("chat.open", chat_id=chat_id)
        chat = Chat.from_wire(reply["chat"])
        messages = [Message.from_wire(m) for m in reply.get("messages", [])]
        async with self._lock(chat_id):
            # What chat.open shows the application counts as delivered to it.
            self._advance_to(chat_id, chat.last_seq)
        return Opened(chat, messages, dict(reply.get("receipts") or {}))

    async def close_chat(self, chat_id: str) -> None:
        self._chat_handlers.pop(chat_id, None)
        await self.request("chat.close", chat_id=chat_id)

    async def mark_read(self, chat_id: str, seq: int) -> dict[str, Any]:
        return await self.request("message.read", chat_id=chat_id, seq=seq)

    async def mark_delivered(self, chat_id: str, seq: int) -> dict[str, Any]:
        return await self.request("message.delivered", chat_id=chat_id, seq=seq)

    async def typing(self, chat_id: str, typing: bool = True) -> None:
        await asyncio.wait_for(self._online.wait(), self.request_timeout)
        await self._ws.send(json.dumps({"action": "typing", "chat_id": chat_id, "typing": typing}))

    async def send(self, chat_id: str, text: str, client_msg_id: str | None = None) -> Ack:
        """Send until acknowledged. Retries (timeouts, reconnects, ``unavailable``) reuse the
        ``client_msg_id``, so the backend stores the message once whatever happens."""
        client_msg_id = client_msg_id or uuid.uuid4().hex
        self._sent_ids.add(client_msg_id)
        loop = asyncio.get_running_loop()
        deadline = None if self.send_timeout is None else loop.time() + self.send_timeout
        attempt = 0
        while True:
            try:
                await asyncio.wait_for(self._online.wait(), self._remaining(deadline))
                reply = await self._request(
                    "message.send", {"chat_id": chat_id, "client_msg_id": client_msg_id, "text": text}
                )
                ack = Ack.from_wire(reply)
                await self._own_sent(ack)
                return ack
            except ChatError as exc:
                if not exc.retryable:
                    raise
                failure: Exception = exc
            except (TimeoutError, ConnectionLost, RequestTimeout) as exc:
                failure = exc
            if deadline is not None and loop.time() >= deadline:
                raise RequestTimeout(f"message not acknowledged in {self.send_timeout}s") from failure
            log.info("send %s: retrying after %s", client_msg_id, failure)
            await asyncio.sleep(min(self.backoff.delay(attempt), self._remaining(deadline) or 0.0))
            attempt += 1

    @staticmethod
    def _remaining(deadline: float | None) -> float | None:
        if deadline is None:
            return None
        return max(0.0, deadline - asyncio.get_running_loop().time())

    # -- delivery --------------------------------------------------------------------------------

    def _lock(self, chat_id: str) -> asyncio.Lock:
        return self._locks.setdefault(chat_id, asyncio.Lock())

    def _advance_to(self, chat_id: str, seq: int) -> None:
        if seq > self._last.get(chat_id, 0):
            self._last[chat_id] = seq
        own = self._own.get(chat_id)
        if own:
            own.difference_update({s for s in own if s <= self._last[chat_id]})

    def _pass_own(self, chat_id: str) -> None:
        """Our own acked sends next in line are passed over (the application has their acks)."""
        own = self._own.get(chat_id)
        while own and self._last.get(chat_id, 0) + 1 in own:
            self._last[chat_id] = self._last.get(chat_id, 0) + 1
            own.discard(self._last[chat_id])

    async def _own_sent(self, ack: Ack) -> None:
        async with self._lock(ack.chat_id):
            if ack.seq > self._last.get(ack.chat_id, 0):
                self._own.setdefault(ack.chat_id, set()).add(ack.seq)
                self._pass_own(ack.chat_id)

    async def _deliver_in_order(self, message: Message) -> None:
        """Deliver ``message`` after anything missing before it; drop it if already delivered."""
        chat_id = message.chat_id
        async with self._lock(chat_id):
            self._pass_own(chat_id)
            if message.seq <= self._last.get(chat_id, 0):
                return
            if message.seq > self._last.get(chat_id, 0) + 1:
                await self._fill(chat_id, upto=message.seq - 1)
            if message.seq == self._last.get(chat_id, 0) + 1:
                await self._hand_over(message)

    async def _fill(self, chat_id: str, upto: int) -> None:
        """Fetch and deliver what came after ``last``, up to ``upto``; the caller holds the lock.

        Uses the connection directly (not ``request``), as it also runs while resyncing, before
        the client reports itself online."""
        while self._last.get(chat_id, 0) < upto:
            before = self._last.get(chat_id, 0)
            fields = {"chat_id": chat_id, "after": before, "limit": HISTORY_PAGE}
            reply = await self._request("chat.history", fields)
            for raw in reply["messages"]:
                message = Message.from_wire(raw)
                if message.seq > upto:
                    return
                self._pass_own(chat_id)
                if message.seq == self._last.get(chat_id, 0) + 1:
                    await self._hand_over(message)
            if not reply.get("has_more") or self._last.get(chat_id, 0) == before:
                return

    async def _hand_over(self, message: Message) -> None:
        """To the chat's handler while it is open, else to the background handler."""
        self._last[message.chat_id] = message.seq
        if message.client_msg_id in self._sent_ids:
            return  # our own message, seen from this client's send
        handler = self._chat_handlers.get(message.chat_id)
        await _call(handler if handler is not None else self.on_background, message)

    async def _dispatch_forever(self) -> None:
        """Pushed frames, one at a time in arrival order (replies go straight to their request)."""
        while True:
            frame = await self._inbox.get()
            await self._dispatch(frame)

    async def _dispatch(self, frame: dict[str, Any]) -> None:
        event = frame.get("event")
        try:
            if event in ("chat:message", "chat:message:background"):
                message = Message.from_wire(frame["message"])
                await self._deliver_in_order(message)
            elif event == "chat:added":
                chat = Chat.from_wire(frame["chat"])
                self._last.setdefault(chat.chat_id, 0)
                await _call(self.on_chat_added, chat)
            elif event == "chat:receipt":
                await _call(
                    self.on_receipt,
                    Receipt(
                        frame["chat_id"],
                        frame["user_id"],
                        int(frame["delivered_seq"]),
                        int(frame["read_seq"]),
                    ),
                )
            elif event == "chat:typing":
                await _call(self.on_typing, Typing(frame["chat_id"], frame["user_id"], bool(frame["typing"])))
            else:
                log.debug("unhandled frame %s", frame)
        except (ConnectionLost, RequestTimeout) as exc:
            log.info("%s not completed (%s): the next resync catches up", event, exc)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("malformed %s frame: %s", event, exc)

    async def _on_connected(self) -> None:
        """Resync: learn every chat's last_seq, re-open the chats being viewed, fill what moved."""
        reply = await self._request("chat.list", {})
        chats = [Chat.from_wire(c) for c in reply["chats"]]
        first = not self._synced_once
        self._synced_once = True
        for chat_id in list(self._chat_handlers):
            await self._request("chat.open", {"chat_id": chat_id})
        for chat in chats:
            if first and chat.chat_id not in self._last:
                self._last[chat.chat_id] = chat.last_seq  # history before start is the app's to load
                continue
            if chat.last_seq > self._last.get(chat.chat_id, 0):
                async with self._lock(chat.chat_id):
                    self._pass_own(chat.chat_id)
                    await self._fill(chat.chat_id, chat.last_seq)
