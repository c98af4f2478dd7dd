"""The client: one WebSocket kept open, requests correlated by ``req``, and message delivery to
the application exactly once, in ``seq`` order per chat, across reconnects.

How "exactly once, in order" holds: for every chat the client keeps ``last`` (the highest seq
the application has been given, or had before it started, and never below the user's
``joined_seq``: earlier messages are not theirs to see). A message with ``seq <= last`` is a
duplicate and dropped; one with ``seq > last + 1`` means a gap, filled from ``chat.history
after=last`` before it is delivered. System messages (members added, removed, left, the chat
renamed) take seqs like text and travel the same road. After every reconnect, ``chat.list``
(every page) says each chat's ``last_seq``, and the chats that moved are filled the same way; a
chat the client knew that is no longer listed is probed, and forgotten if the server says the
user is no longer a member. Per chat, a lock serialises delivery, so live frames and resync
never interleave. The application's own sends are not delivered back to it (it has the ack);
they only advance ``last``.

A message of a chat not tracked yet (it reached a newly added member before ``chat:added``)
first brings the earlier messages the user may see. Frames of a chat the user is out of are
ignored until ``chat:added``, and a ``(chat_id, seq)`` is handed over at most once in the
client's life: a fan-out redelivered late can re-post an old frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import itertools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import websockets

from chatclient.backoff import Backoff
from chatclient.models import (
    Ack,
    Chat,
    ChatError,
    ChatPage,
    Device,
    Members,
    Message,
    Opened,
    Receipt,
    Typing,
)
from chatclient.push import register_fields
from chatclient.token import token_subject

log = logging.getLogger("chatclient")

Handler = Callable[[Any], Any]  # sync or async; gets a Message, Receipt, Typing, Chat, chat id or state
TokenSource = str | Callable[[], str | Awaitable[str]]
HISTORY_PAGE = 100
RATE_LIMIT_RETRIES = 5  # a request refused rate_limited is sent again up to this many times
MAX_RATE_LIMIT_PAUSE = 30.0  # seconds; longer retry_after_ms values are cut to this
CATCH_UP_TRIES = 6  # an incomplete resync is tried again this many times while online
CLOSE_TIMEOUT = 2.0  # seconds to wait for the server's half of a closing handshake, or a task


class ConnectionLost(Exception):
    """The connection went away before the reply came (the request may or may not have run), or
    the server did not know the connection (nothing ran; the client connects again)."""


class RequestTimeout(Exception):
    """No reply within the timeout (the request may or may not have run)."""


class AuthError(Exception):
    """The server refused the handshake (HTTP 401 or 403): the token is bad, expired or signed
    with another secret. Retrying with the same token cannot help, so the client stops."""

    def __init__(self, url: str, status: int, reason: str) -> None:
        super().__init__(f"{url} refused the token: HTTP {status} {reason}".rstrip())
        self.url = url
        self.status = status
        self.reason = reason


class CannotConnect(Exception):
    """The first connection could not be made within ``connect_timeout`` (no server at the
    URL, a wrong URL, a server that refuses): ``cause`` is the last attempt's error."""

    def __init__(self, url: str, seconds: float, cause: BaseException | None) -> None:
        self.why = _plain_cause(cause)
        super().__init__(f"cannot reach {url} (tried for {seconds:g} s: {self.why})")
        self.url = url
        self.cause = cause


def _plain_cause(cause: BaseException | None) -> str:
    if cause is None:
        return "no answer"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, TimeoutError):
        return "no answer"
    return str(cause) or type(cause).__name__


def _refusal(url: str, exc: BaseException) -> AuthError | None:
    """An ``AuthError`` if ``exc`` is a handshake refused with 401 or 403, else None."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if not isinstance(exc, websockets.InvalidStatus) or status not in (401, 403):
        return None
    return AuthError(url, int(status), _reason_text(response))


def _reason_text(response: Any) -> str:
    """The server's reason: the body's ``message`` (API Gateway's JSON), else its text, else the
    status line's phrase."""
    body = bytes(getattr(response, "body", b"") or b"")
    with contextlib.suppress(ValueError):
        parsed = json.loads(body)
        if isinstance(parsed, dict) and parsed.get("message"):
            return str(parsed["message"])
    text = body.decode("utf-8", "replace").strip()
    return text[:200] or str(getattr(response, "reason_phrase", ""))


class ProtocolViolation(Exception):
    """The server answered in a way the protocol rules out (for example a ``chat.list``
    cursor that leads back to an earlier page)."""


# What a resync step can fail with besides a lost connection: the server's refusal, or a reply
# the client cannot read. Either leaves that step for later instead of ending the connection.
RESYNC_REFUSALS = (ChatError, ProtocolViolation, KeyError, TypeError, ValueError, AttributeError)


class _Unset(enum.Enum):
    TOKEN = 0


UNSET: Final = _Unset.TOKEN  # "not given", as opposed to None ("clear it")


def _settle(future: asyncio.Future[Any]) -> None:
    """Cancel ``future`` if it is still waiting, else mark its exception (if any) as retrieved,
    so that asyncio never reports it as "never retrieved"."""
    if not future.done():
        future.cancel()
    elif not future.cancelled():
        future.exception()


async def _call(handler: Handler | None, value: Any) -> None:
    if handler is None:
        return
    try:
        result = handler(value)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("handler %r raised", handler)


def _user_list(users: Sequence[str], what: str, *, allow_empty: bool = False) -> list[str]:
    if isinstance(users, str):
        raise TypeError(f"{what}: give a list of user ids, not the string {users!r}")
    if not users and not allow_empty:
        raise ValueError(f"{what}: give at least one user id")
    return list(users)


def _page_fields(limit: int | None, cursor: str | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if limit is not None:
        fields["limit"] = limit
    if cursor is not None:
        fields["cursor"] = cursor
    return fields


def _chat_page(reply: dict[str, Any]) -> ChatPage:
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


async def _close_socket(ws: Any) -> None:
    """``ws.close()``, waiting at most ``CLOSE_TIMEOUT`` for the server to answer; then the
    socket is dropped. A server that never answers must not keep a closing client (or the CLI
    after Ctrl-C) waiting."""
    try:
        await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT)
    except TimeoutError:
        log.info("the server did not answer the closing handshake: dropping the connection")
        transport = getattr(ws, "transport", None)
        if transport is not None:
            transport.abort()
    except Exception as exc:  # already closed, reset...
        log.debug("closing the connection: %s", exc)


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
        connect_timeout: float | None = 10.0,
        connect: Callable[..., Any] = websockets.connect,
    ) -> None:
        self.url = url
        self._token = token
        self.request_timeout = request_timeout
        self.keepalive = keepalive
        self.backoff = backoff or Backoff()
        self.send_timeout = send_timeout
        self.connect_timeout = connect_timeout  # the first connect only; None: keep trying
        self._connect = connect

        self.state = "idle"  # idle, connecting, online, offline, failed, closed
        self.error: AuthError | CannotConnect | None = None  # why the client stopped (state "failed")
        self.connects = 0  # successful connections so far (1 + reconnects)
        self.user_id: str | None = None  # the token's subject, known from the first connect
        self._ws: Any = None
        self._online = asyncio.Event()
        self._failed = asyncio.Event()
        self._ever_online = False
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reqs = itertools.count(1)
        self._supervisor: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._closing = False

        self._last: dict[str, int] = {}  # chat_id -> highest seq the application has
        self._handed: dict[str, int] = {}  # chat_id -> highest seq ever handed over (never forgotten)
        self._removed_from: set[str] = set()  # chats we are out of, until a chat:added says otherwise
        self._own: dict[str, set[int]] = {}  # chat_id -> seqs of our own acked sends not yet passed
        self._sent_ids: set[str] = set()  # client_msg_ids this client sent
        self._locks: dict[str, asyncio.Lock] = {}
        self._synced_once = False

        self._chat_handlers: dict[str, Handler] = {}
        self.on_background: Handler | None = None
        self.on_receipt: Handler | None = None
        self.on_typing: Handler | None = None
        self.on_chat_added: Handler | None = None  # gets the Chat
        self.on_chat_removed: Handler | None = None  # gets the chat_id
        self.on_chat_updated: Handler | None = None  # gets the Chat
        self.on_state: Handler | None = None
        self.on_error: Handler | None = None  # gets the AuthError or CannotConnect that stopped it
        # Test hook: awaited right after a message.send frame is written.
        self.after_send_frame: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, wait: bool = True) -> ChatClient:
        """Connect in the background; with ``wait``, until online. Raises ``AuthError`` at once
        if the server refuses the token, ``CannotConnect`` after ``connect_timeout`` seconds
        without a connection (the client is closed in both cases)."""
        if self._supervisor is None:
            self._supervisor = asyncio.ensure_future(self._run())
            self._dispatcher = asyncio.ensure_future(self._dispatch_forever())
        if wait:
            try:
                await self.wait_online()
            except (AuthError, CannotConnect):
                await self.close()
                raise
        return self

    async def wait_online(self, timeout: float | None = None) -> None:
        """Until the client is online; raises the error that stopped it, if one did."""
        await asyncio.wait_for(self._until_online(), timeout)

    async def _until_online(self) -> None:
        if self.error is None and not self._online.is_set():
            online = asyncio.ensure_future(self._online.wait())
            failed = asyncio.ensure_future(self._failed.wait())
            try:
                await asyncio.wait({online, failed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                online.cancel()
                failed.cancel()
        if self.error is not None:
            raise self.error

    async def close(self) -> None:
        """Close the connection and stop; returns within a few seconds even when the server
        never answers the closing handshake (the socket is then dropped)."""
        self._closing = True
        if self._ws is not None:
            await _close_socket(self._ws)
        for task in (self._supervisor, self._dispatcher):
            if task is not None:
                task.cancel()
                done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)
                if not done:
                    log.warning("a client task did not stop within %.0f s of close()", CLOSE_TIMEOUT)
                elif not task.cancelled() and task.exception() is not None:
                    log.info("a client task ended with %r", task.exception())
        await self._set_state("closed")

    async def __aenter__(self) -> ChatClient:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def open_chats(self) -> list[str]:
        """The chats this client views (their messages go to their handlers)."""
        return list(self._chat_handlers)

    async def _token_value(self) -> str:
        value = self._token() if callable(self._token) else self._token
        return await value if inspect.isawaitable(value) else value

    async def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            await _call(self.on_state, state)

    async def _run(self) -> None:
        attempt = 0
        started = asyncio.get_running_loop().time()
        failure: Exception | None = None  # the last attempt's error, for CannotConnect
        while not self._closing:
            await self._set_state("connecting")
            try:
                self._ws = await self._connect_once(started)
            except (AuthError, CannotConnect) as exc:
                await self._stop(exc)
                return
            except Exception as exc:  # unreachable, reset, a server error...
                log.info("connect failed: %s", exc)
                # An attempt cut short by the deadline says less than the one before it.
                failure = failure if isinstance(exc, TimeoutError) and failure is not None else exc
                await self._set_state("offline")
                delay, left = self.backoff.delay(attempt), self._time_left(started)
                if left is not None and delay >= left:  # no time for another try
                    await asyncio.sleep(left)
                    await self._stop(CannotConnect(self.url, self.connect_timeout or 0.0, failure))
                    return
                await asyncio.sleep(delay)
                attempt += 1
                continue
            self.connects += 1
            if await self._serve_safely(self._ws):
                attempt = 0
            else:
                attempt += 1
            if not self._closing:
                await self._set_state("offline")
                await asyncio.sleep(self.backoff.delay(attempt))

    async def _connect_once(self, started: float) -> Any:
        """One handshake, bounded by what is left of ``connect_timeout`` before the first
        connection; a refused token is an ``AuthError``."""
        token = await self._token_value()
        self.user_id = token_subject(token) or self.user_id
        sep = "&" if "?" in self.url else "?"
        try:
            return await asyncio.wait_for(
                self._connect(f"{self.url}{sep}token={token}", max_size=None), self._time_left(started)
            )
        except Exception as exc:
            refusal = _refusal(self.url, exc)
            if refusal is not None:
                raise refusal from exc
            raise

    def _time_left(self, started: float) -> float | None:
        """Seconds left to make the first connection (None: no bound, or already online once)."""
        if self._ever_online or self.connect_timeout is None:
            return None
        return max(0.0, started + self.connect_timeout - asyncio.get_running_loop().time())

    async def _stop(self, exc: AuthError | CannotConnect) -> None:
        """Stop for good: the application hears why (``on_error``, state "failed", and every
        waiting or later request raises ``exc``)."""
        log.info("stopped: %s", exc)  # the application hears it; no output of its own
        self.error = exc
        self._failed.set()
        self._fail_pending()
        await self._set_state("failed")
        await _call(self.on_error, exc)

    async def _serve_safely(self, ws: Any) -> bool:
        """``_serve``, where anything unexpected ends this connection, never the client."""
        try:
            return await self._serve(ws)
        except Exception:
            log.exception("connection failed unexpectedly; reconnecting")
            return False

    async def _serve(self, ws: Any) -> bool:
        """Resync, then stay online until the connection ends; False if the connection was lost
        during the resync. A resync step the server refused does not keep the client offline: it
        goes online and tries that step again in the background (``_catch_up``)."""
        reader = asyncio.ensure_future(self._read(ws))
        catch_up: asyncio.Task[None] | None = None
        try:
            complete = await self._on_connected()
            self._ever_online = True
            await self._set_state("online")
            self._online.set()
            if not complete:
                catch_up = asyncio.ensure_future(self._catch_up())
            await self._keep_alive(reader)
            return True
        except (ConnectionLost, RequestTimeout, ChatError, ProtocolViolation) as exc:
            log.info("connection lost or refused during resync: %s", exc)
            return False
        except websockets.ConnectionClosed as exc:
            log.info("connection closed during resync: %s", exc)
            return False
        finally:
            self._online.clear()
            if catch_up is not None:
                catch_up.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await catch_up
            await _close_socket(ws)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self._fail_pending()

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
                req = frame.get("req")
                future = self._pending.pop(req, None) if isinstance(req, str) else None
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
        """One request and its reply; an ``error`` reply raises ``ChatError``, except that a
        connection the server does not know is closed and ``ConnectionLost`` raised. A ``rate_limited``
        refusal changed nothing on the server: the request is sent again after the server's
        ``retry_after_ms`` (a little more, so that requests refused together spread out), at most
        ``RATE_LIMIT_RETRIES`` times."""
        attempt = 0
        while True:
            ws = self._ws
            reply = await self._exchange(action, fields, timeout)
            if reply.get("event") != "error":
                return reply
            error = ChatError.from_frame(reply)
            if error.means_unregistered:
                # Nothing ran, and nothing will on this connection: close it, so that the
                # client connects again (and resyncs), as the server asks.
                log.warning("%s: the server does not know this connection; reconnecting", action)
                await _close_socket(ws)
                raise ConnectionLost(f"{action}: {error.message}")
            if error.code != "rate_limited" or attempt >= RATE_LIMIT_RETRIES:
                raise error
            pause = min(error.retry_after or 1.0, MAX_RATE_LIMIT_PAUSE)
            log.info("%s rate limited: sending again in %.3f s", action, pause)
            await asyncio.sleep(pause * self.backoff.rng.uniform(1.0, 1.25))
            attempt += 1

    async def _exchange(self, action: str, fields: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        """Send one frame and wait for the frame that answers it."""
        ws = self._ws
        if ws is None:
            raise ConnectionLost("not connected")
        req = f"q{next(self._reqs)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req] = future
        frame = {"action": action, "req": req, **fields}
        try:
            try:
                await ws.send(json.dumps(frame))
            except websockets.ConnectionClosed as exc:
                raise ConnectionLost(str(exc)) from exc
            if action == "message.send" and self.after_send_frame is not None:
                await self.after_send_frame(frame)
            try:
                return await asyncio.wait_for(future, timeout or self.request_timeout)
            except TimeoutError as exc:
                raise RequestTimeout(f"{action}: no reply in {timeout or self.request_timeout}s") from exc
        finally:
            # However the wait ended (a reply, a timeout, a lost connection, the caller cancelled),
            # the future leaves ``_pending`` with it, and an error set on it is marked as seen.
            self._pending.pop(req, None)
            _settle(future)

    async def request(self, action: str, **fields: Any) -> dict[str, Any]:
        """One request on the current connection, waiting for it if it is being re-established."""
        await self.wait_online(self.request_timeout)
        return await self._request(action, fields)

    async def ping(self) -> None:
        await self.request("ping")

    async def list_chats(self) -> list[Chat]:
        """All your chats, newest activity first: every page of ``chat.list``, each chat once."""
        return await follow_pages(self.list_chats_page)

    async def list_chats_page(self, cursor: str | None = None, limit: int | None = None) -> ChatPage:
        """One page of ``chat.list``; pass its ``next_cursor`` back for the next (None: the last)."""
        return _chat_page(await self.request("chat.list", **_page_fields(limit, cursor)))

    async def _list_page_now(self, cursor: str | None) -> ChatPage:
        """A page on the connection being set up (resync runs before the client is online)."""
        return _chat_page(await self._request("chat.list", _page_fields(None, cursor)))

    async def create_chat(self, members: list[str], title: str | None = None) -> Chat:
        """A new group chat with you as its admin."""
        fields: dict[str, Any] = {"members": _user_list(members, "create_chat", allow_empty=True)}
        if title:
            fields["title"] = title
        return await self._created(await self.request("chat.create", **fields))

    async def create_direct(self, user: str) -> Chat:
        """The one direct chat between you and ``user``, created the first time it is asked for."""
        if not isinstance(user, str) or not user:
            raise ValueError(f"create_direct: give one user id, not {user!r}")
        return await self._created(await self.request("chat.create", members=[user], direct=True))

    async def _created(self, reply: dict[str, Any]) -> Chat:
        chat = Chat.from_wire(reply["chat"])
        self._removed_from.discard(chat.chat_id)  # a direct chat we had left, created again
        self._track(chat, start=chat.last_seq)
        return chat

    async def members(self, chat_id: str) -> Members:
        """Every member and admin of a chat (``Chat.members`` is left out above 50 members)."""
        return Members.from_wire(await self.request("chat.members", chat_id=chat_id))

    async def add_members(self, chat_id: str, users: Sequence[str]) -> Chat:
        """Admins only. Members already in the chat are left as they are."""
        return await self._changed(
            chat_id, await self.request("chat.add", chat_id=chat_id, members=_user_list(users, "add_members"))
        )

    async def remove_members(self, chat_id: str, users: Sequence[str]) -> Chat:
        """Admins only; to remove yourself, ``leave``."""
        return await self._changed(
            chat_id,
            await self.request("chat.remove", chat_id=chat_id, members=_user_list(users, "remove_members")),
        )

    async def update_chat(
        self,
        chat_id: str,
        *,
        title: str | _Unset | None = UNSET,
        admins: Sequence[str] | None = None,
    ) -> Chat:
        """Admins only. ``title=None`` clears the title; leaving ``title`` out keeps it.
        ``admins`` replaces the admins (a non-empty subset of the members)."""
        fields: dict[str, Any] = {"chat_id": chat_id}
        if not isinstance(title, _Unset):
            fields["title"] = title
        if admins is not None:
            fields["admins"] = _user_list(admins, "update_chat admins")
        if len(fields) == 1:
            raise ValueError("update_chat: give title (None clears it) or admins")
        return await self._changed(chat_id, await self.request("chat.update", **fields))

    async def leave(self, chat_id: str) -> None:
        """Stop being a member; the client forgets the chat (your other devices get
        ``on_chat_removed``)."""
        await self.request("chat.leave", chat_id=chat_id)
        await self._forget(chat_id)

    async def _changed(self, chat_id: str, reply: dict[str, Any]) -> Chat:
        """After our own add/remove/update: the system message it stored is not pushed to the
        acting connection, so fetch it now and deliver it in order like any message."""
        chat = Chat.from_wire(reply["chat"])
        try:
            async with self._lock(chat_id):
                self._track(chat, start=chat.joined_seq)
                self._pass_own(chat_id)
                await self._fill(chat_id, chat.last_seq)
        except (ConnectionLost, RequestTimeout, ChatError) as exc:
            log.info("%s: system message not fetched yet (%s); the next resync does", chat_id, exc)
        return chat

    # -- push notifications ----------------------------------------------------------------------

    async def register_device(
        self,
        platform: str,
        token: str | None = None,
        subscription: Mapping[str, Any] | None = None,
        preview: bool = True,
    ) -> Device:
        """Push notifications to a device while you have no live connection: ``apns`` and
        ``fcm`` by ``token``, ``webpush`` by the browser's ``subscription``. ``preview=False``:
        they say "New message", without text or sender. Registering a token again returns the
        same ``device_id`` (and takes it over from whoever had it)."""
        fields = register_fields(platform, token, subscription, preview)
        return Device.from_wire((await self.request("device.register", **fields))["device"])

    async def devices(self) -> list[Device]:
        """Your registered devices, oldest first."""
        return [Device.from_wire(d) for d in (await self.request("device.list"))["devices"]]

    async def unregister_device(self, device_id: str) -> None:
        """No more notifications to that device (``ChatError`` not_found: not one of yours)."""
        if not isinstance(device_id, str) or not device_id:
            raise ValueError(f"unregister_device: give a device_id, not {device_id!r}")
        await self.request("device.unregister", device_id=device_id)

    async def mute(self, chat_id: str, muted: bool = True) -> bool:
        """Mute (or with ``muted=False`` unmute) a chat for you: no push notifications for it
        and its unread left out of the badge; it is still delivered and listed (``Chat.muted``)."""
        if not isinstance(muted, bool):
            raise TypeError(f"mute: muted must be True or False, not {muted!r}")
        return bool((await self.request("chat.mute", chat_id=chat_id, muted=muted))["muted"])

    async def history(
        self, chat_id: str, *, after: int | None = None, before: int | None = None, limit: int = 50
    ) -> tuple[list[Message], bool]:
        """One page (ascending) and ``has_more``. A page can hold fewer than ``limit`` messages
        and still have more (frames stay within 128 KiB): trust ``has_more``, not the count."""
        fields: dict[str, Any] = {"chat_id": chat_id, "limit": limit}
        if after is not None:
            fields["after"] = after
        if before is not None:
            fields["before"] = before
        reply = await self.request("chat.history", **fields)
        return [Message.from_wire(m) for m in reply["messages"]], bool(reply.get("has_more"))

    async def history_pages(
        self, chat_id: str, *, before: int | None = None, limit: int = 50
    ) -> AsyncIterator[list[Message]]:
        """Older and older pages (each ascending) until the server says there is no more."""
        while True:
            messages, has_more = await self.history(chat_id, before=before, limit=limit)
            if messages:
                yield messages
            if not has_more or not messages:
                return
            before = messages[0].seq

    async def open_chat(self, chat_id: str, handler: Handler) -> Opened:
        """View a chat: its ``chat:message`` frames (and its missed messages) go to ``handler``."""
        self._chat_handlers[chat_id] = handler
        try:
            opened = Opened.from_wire(await self.request("chat.open", chat_id=chat_id))
        except (ChatError, ConnectionLost, RequestTimeout):
            if self._chat_handlers.get(chat_id) is handler:
                del self._chat_handlers[chat_id]
            raise
        async with self._lock(chat_id):
            self._removed_from.discard(chat_id)  # opened: a member
            # What chat.open shows the application counts as delivered to it.
            self._track(opened.chat, start=opened.chat.last_seq)
            self._advance_to(chat_id, opened.chat.last_seq)
        return opened

    async def close_chat(self, chat_id: str) -> None:
        self._chat_handlers.pop(chat_id, None)
        await self.request("chat.close", chat_id=chat_id)

    async def mark_read(self, chat_id: str, seq: int) -> dict[str, Any]:
        return await self.request("message.read", chat_id=chat_id, seq=seq)

    async def mark_delivered(self, chat_id: str, seq: int) -> dict[str, Any]:
        return await self.request("message.delivered", chat_id=chat_id, seq=seq)

    async def typing(self, chat_id: str, typing: bool = True) -> None:
        await self.wait_online(self.request_timeout)
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
                await self.wait_online(self._remaining(deadline))
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

    # -- delivery state --------------------------------------------------------------------------

    def _lock(self, chat_id: str) -> asyncio.Lock:
        return self._locks.setdefault(chat_id, asyncio.Lock())

    def _track(self, chat: Chat, start: int) -> None:
        """Know ``chat``: ``last`` starts at ``start`` if it is new, and is never below
        ``joined_seq`` (the messages up to it are not this user's to see)."""
        last = self._last.get(chat.chat_id, start)
        self._last[chat.chat_id] = max(last, chat.joined_seq)

    async def _forget(self, chat_id: str) -> bool:
        """Drop a chat we are no longer in: its delivery state and its handler. True if known."""
        async with self._lock(chat_id):
            known = chat_id in self._last or chat_id in self._chat_handlers
            self._removed_from.add(chat_id)  # stray frames of it are ignored until chat:added
            self._last.pop(chat_id, None)
            self._own.pop(chat_id, None)
            self._chat_handlers.pop(chat_id, None)
        return known

    async def _removed(self, chat_id: str) -> None:
        """The server says we are out of ``chat_id``: forget it and tell the application once."""
        if await self._forget(chat_id):
            await _call(self.on_chat_removed, chat_id)

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

    # -- delivery --------------------------------------------------------------------------------

    async def _deliver_in_order(self, message: Message) -> None:
        """Deliver ``message`` after anything missing before it; drop it if already delivered."""
        chat_id = message.chat_id
        async with self._lock(chat_id):
            if chat_id in self._removed_from:
                log.info("message %d of chat %s, which we are out of: ignored", message.seq, chat_id)
                return
            if chat_id not in self._last:
                await self._start_tracking(chat_id, message.seq)
            self._pass_own(chat_id)
            if message.seq <= self._last[chat_id]:
                return
            if message.seq > self._last[chat_id] + 1:
                await self._fill(chat_id, upto=message.seq - 1)
            if message.seq == self._last.get(chat_id, 0) + 1:
                await self._hand_over(message)

    async def _start_tracking(self, chat_id: str, seq: int) -> None:
        """A message ``seq`` of a chat we do not track yet; the caller holds the lock.

        Before the first chat list, like every chat then, it is tracked from this message on
        (history before the client started is the application's to load). After it, the user
        joined the chat since (its ``chat:added`` has not come yet, or was lost): every message
        before ``seq`` that the user may see is theirs, so they are fetched (paging back, as the
        client does not know ``joined_seq`` yet) and handed over first."""
        if not self._synced_once:
            log.info("message for untracked chat %s: tracking from seq %d", chat_id, seq)
            self._last[chat_id] = seq - 1
            return
        earlier = await self._visible_before(chat_id, seq)
        log.info("message %d of new chat %s: %d earlier ones to deliver", seq, chat_id, len(earlier))
        self._last[chat_id] = earlier[0].seq - 1 if earlier else seq - 1
        for message in earlier:
            self._pass_own(chat_id)
            if message.seq == self._last[chat_id] + 1:
                await self._hand_over(message)

    async def _visible_before(self, chat_id: str, seq: int) -> list[Message]:
        """Every message below ``seq`` the user may see, ascending (pages of ``chat.history``
        ``before``, newest first, until the server says there is no more)."""
        pages: list[list[Message]] = []
        before = seq
        while True:
            fields = {"chat_id": chat_id, "before": before, "limit": HISTORY_PAGE}
            reply = await self._request("chat.history", fields)
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
        while upto is None or self._last.get(chat_id, 0) < upto:
            before = self._last.get(chat_id, 0)
            fields = {"chat_id": chat_id, "after": before, "limit": HISTORY_PAGE}
            reply = await self._request("chat.history", fields)
            for raw in reply["messages"]:
                message = Message.from_wire(raw)
                if upto is not None and message.seq > upto:
                    return
                self._pass_own(chat_id)
                if message.seq == self._last.get(chat_id, 0) + 1:
                    await self._hand_over(message)
            if not reply.get("has_more") or self._last.get(chat_id, 0) == before:
                return

    async def _hand_over(self, message: Message) -> None:
        """To the chat's handler while it is open, else to the background handler; never the
        same seq of a chat twice in the client's life (not even after a removal and re-add)."""
        self._last[message.chat_id] = message.seq
        if message.seq <= self._handed.get(message.chat_id, 0):
            return
        self._handed[message.chat_id] = message.seq
        if message.client_msg_id in self._sent_ids:
            return  # our own message, seen from this client's send
        handler = self._chat_handlers.get(message.chat_id)
        await _call(handler if handler is not None else self.on_background, message)

    # -- pushed frames ---------------------------------------------------------------------------

    async def _dispatch_forever(self) -> None:
        """Pushed frames, one at a time in arrival order (replies go straight to their request)."""
        while True:
            frame = await self._inbox.get()
            try:
                await self._dispatch(frame)
            except Exception:  # a frame the client cannot take must not stop the next ones
                log.exception("could not handle %r", frame)

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
        await self._deliver_in_order(Message.from_wire(frame["message"]))

    async def _on_chat_added(self, frame: dict[str, Any]) -> None:
        chat = Chat.from_wire(frame["chat"])
        async with self._lock(chat.chat_id):
            self._removed_from.discard(chat.chat_id)
            self._track(chat, start=chat.joined_seq)
        await _call(self.on_chat_added, chat)

    async def _on_chat_removed(self, frame: dict[str, Any]) -> None:
        await self._removed(str(frame["chat_id"]))

    async def _on_chat_updated(self, frame: dict[str, Any]) -> None:
        chat = Chat.from_wire(frame["chat"])
        async with self._lock(chat.chat_id):
            if chat.chat_id in self._last:
                self._track(chat, start=chat.joined_seq)
        await _call(self.on_chat_updated, chat)

    async def _on_receipt(self, frame: dict[str, Any]) -> None:
        receipt = Receipt(
            str(frame["chat_id"]), str(frame["user_id"]), int(frame["delivered_seq"]), int(frame["read_seq"])
        )
        await _call(self.on_receipt, receipt)

    async def _on_typing(self, frame: dict[str, Any]) -> None:
        typing = Typing(str(frame["chat_id"]), str(frame["user_id"]), bool(frame["typing"]))
        await _call(self.on_typing, typing)

    _routes: Final[dict[str, Callable[[ChatClient, dict[str, Any]], Awaitable[None]]]] = {
        "chat:message": _on_message,
        "chat:message:background": _on_message,
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
        known = set(self._last)  # before listing: chats added meanwhile are not "missing"
        try:
            chats = await follow_pages(self._list_page_now)
        except RESYNC_REFUSALS as exc:
            log.warning("resync: the chat list was refused (%s); trying again later", exc)
            return False
        if not self._synced_once:
            self._track_from_now(chats)
        self._synced_once = True
        complete = True
        for chat_id in list(self._chat_handlers):
            complete &= await self._resync_step(chat_id, self._reopen(chat_id))
        for chat in chats:
            complete &= await self._resync_step(chat.chat_id, self._resync_chat(chat))
        for chat_id in sorted(known - {chat.chat_id for chat in chats}):
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

    async def _catch_up(self) -> None:
        """Run the resync again, with backoff, until it completes (at most ``CATCH_UP_TRIES``
        times; the next reconnect starts over). Messages of a chat left behind also arrive
        through the gap fill of its next live message."""
        for attempt in range(1, CATCH_UP_TRIES + 1):
            await asyncio.sleep(self.backoff.delay(attempt))
            try:
                if await self._on_connected():
                    log.info("resync completed on catch-up try %d", attempt)
                    return
            except (ConnectionLost, RequestTimeout, websockets.ConnectionClosed) as exc:
                log.info("resync catch-up stopped: %s", exc)
                return  # the reconnect resyncs
        log.warning("resync still incomplete after %d more tries; the next reconnect retries", CATCH_UP_TRIES)

    async def _reopen(self, chat_id: str) -> None:
        await self._request("chat.open", {"chat_id": chat_id})

    def _track_from_now(self, chats: list[Chat]) -> None:
        """The first chat list: its chats are tracked from their ``last_seq`` (history before
        the client started is the application's to load). At once, with no wait in between, so
        that a live frame never finds a listed chat untracked."""
        for chat in chats:
            if chat.chat_id not in self._last:
                self._track(chat, start=chat.last_seq)

    async def _resync_chat(self, chat: Chat) -> None:
        chat_id = chat.chat_id
        async with self._lock(chat_id):
            self._removed_from.discard(chat_id)  # listed: a member again (its chat:added was lost)
            self._track(chat, start=chat.joined_seq)  # new to us: everything we may see
            self._pass_own(chat_id)
            if chat.last_seq > self._last[chat_id]:
                await self._fill(chat_id, chat.last_seq)

    async def _resync_missing(self, chat_id: str) -> None:
        """A chat we knew that the list did not show: ask for what follows ``last``. Refused
        means we were removed (or left elsewhere); answered means the list moved under us."""
        async with self._lock(chat_id):
            if chat_id in self._last:
                await self._fill(chat_id, None)
