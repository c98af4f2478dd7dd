"""The client's public API: ``ChatClient``, one WebSocket kept open and message delivery to the
application exactly once, in ``seq`` order per chat, across reconnects (docs/client.md).

Three layers, each in its module, each a class on top of the one below:

    chatclient.connection  Connection  the socket: connect, keep-alive, reconnect with backoff,
                                       requests correlated by ``req``
    chatclient.delivery    Delivery    pushed frames, gap fill and resync, around the Sans-I/O
                                       ``chatclient.ordering`` (no socket: tested as plain code)
    chatclient.client      ChatClient  the requests an application makes (this module)
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import websockets

from chatclient.backoff import Backoff
from chatclient.connection import Handler, TokenSource
from chatclient.delivery import Delivery, changes_follow_open, chat_page, follow_pages, page_fields
from chatclient.errors import (
    AuthError,
    CannotConnect,
    ConnectionLost,
    DownloadFailed,
    ProtocolViolation,
    RequestTimeout,
    UploadFailed,
)
from chatclient.files.form import (
    MAX_FILES,
    FileChanged,
    Multipart,
    Next,
    Outgoing,
    UploadRetry,
    form_fields,
    outgoing,
)
from chatclient.files.transfer import TransferError, destination, fetch, post_form
from chatclient.models import (
    NOTIFY_LEVELS,
    Ack,
    Attachment,
    Changes,
    Chat,
    ChatError,
    ChatPage,
    Device,
    Members,
    Message,
    Opened,
)
from chatclient.push import register_fields
from chatclient.safety.blocks import Blocks
from chatclient.safety.reports import Reporting

__all__ = [
    "UNSET",
    "AuthError",
    "CannotConnect",
    "ChatClient",
    "ConnectionLost",
    "DownloadFailed",
    "ProtocolViolation",
    "RequestTimeout",
    "UploadFailed",
]

log = logging.getLogger("chatclient")

FORM_SECONDS = 15 * 60  # how long an upload form lasts, when its expires_at cannot be read


class _Unset(enum.Enum):
    TOKEN = 0


UNSET: Final = _Unset.TOKEN  # "not given", as opposed to None ("clear it")


def _user_list(users: Sequence[str], what: str, *, allow_empty: bool = False) -> list[str]:
    if isinstance(users, str):
        raise TypeError(f"{what}: give a list of user ids, not the string {users!r}")
    if not users and not allow_empty:
        raise ValueError(f"{what}: give at least one user id")
    return list(users)


def _seq(seq: int, what: str) -> int:
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise TypeError(f"{what}: seq is a message's number (an int), not {seq!r}")
    if seq < 1:
        raise ValueError(f"{what}: seq starts at 1, not {seq}")
    return seq


def _text(text: str, what: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what}: text must be a string, not {text!r}")
    return text


class ChatClient(Reporting, Delivery, Blocks):
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
        super().__init__(
            url,
            token,
            request_timeout=request_timeout,
            keepalive=keepalive,
            backoff=backoff,
            connect_timeout=connect_timeout,
            connect=connect,
        )
        self.send_timeout = send_timeout

    @property
    def open_chats(self) -> list[str]:
        """The chats this client views (their messages go to their handlers)."""
        return list(self._chat_handlers)

    # -- requests --------------------------------------------------------------------------------

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
        return chat_page(await self.request("chat.list", **page_fields(limit, cursor)))

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
        self._order.created(chat)  # also a direct chat we had left, created again
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
                self._order.changed(chat_id, chat)
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

    async def set_notify(self, chat_id: str, level: str) -> str:
        """Your notification level for a chat: ``"all"``, ``"mentions"`` (only messages that
        mention you or reply to one of yours) or ``"none"`` (muted). Returns the level now
        (``Chat.notify``; ``Chat.muted`` is True exactly at ``"none"``)."""
        if level not in NOTIFY_LEVELS:
            raise ValueError(f"set_notify: level is one of {', '.join(NOTIFY_LEVELS)}, not {level!r}")
        return str((await self.request("chat.notify", chat_id=chat_id, level=level))["notify"])

    # -- messages that change --------------------------------------------------------------------

    async def edit(self, chat_id: str, seq: int, text: str, mentions: Sequence[str] | None = None) -> Message:
        """Your own message's new text; ``mentions`` replaces its mentions (None keeps them).
        Returns the message as it now stands (``edited_at`` set, a higher ``rev``)."""
        fields: dict[str, Any] = {"chat_id": chat_id, "seq": _seq(seq, "edit"), "text": _text(text, "edit")}
        if mentions is not None:
            fields["mentions"] = _user_list(mentions, "edit mentions", allow_empty=True)
        return await self._own_change(await self.request("message.edit", **fields))

    async def delete(self, chat_id: str, seq: int) -> Message:
        """Delete your message (an admin of a group: anyone's). Its text, mentions, reactions
        and files are gone for everyone; what stays says it was deleted. Deleting it again
        changes nothing."""
        fields = {"chat_id": chat_id, "seq": _seq(seq, "delete")}
        return await self._own_change(await self.request("message.delete", **fields))

    async def react(self, chat_id: str, seq: int, emoji: str | None) -> Message:
        """Your reaction to a message: one per user, so it replaces your previous one; None
        takes it back. Returns the message with its reactions now."""
        if emoji is not None and (not isinstance(emoji, str) or not emoji):
            raise ValueError(f"react: give an emoji, or None to take yours back, not {emoji!r}")
        fields = {"chat_id": chat_id, "seq": _seq(seq, "react"), "emoji": emoji}
        return await self._own_change(await self.request("reaction.set", **fields))

    async def _own_change(self, reply: dict[str, Any]) -> Message:
        """``message:updated``, the reply to our own change: into the local copy (the server
        does not post it back to this connection); the application has it as the result."""
        message = Message.from_wire(reply["message"])
        async with self._lock(message.chat_id):
            return self._order.copies.offer(message)

    async def changes(self, chat_id: str, after_rev: int = 0, limit: int | None = None) -> Changes:
        """One page of ``chat.changes``: the messages changed past ``after_rev``, as they are
        now, by ``rev`` ascending. The client already asks for them after every reconnect
        (``local_messages`` has them); this is for reading them yourself."""
        if isinstance(after_rev, bool) or not isinstance(after_rev, int) or after_rev < 0:
            raise ValueError(f"changes: after_rev is an int >= 0, not {after_rev!r}")
        fields: dict[str, Any] = {"chat_id": chat_id, "after_rev": after_rev}
        if limit is not None:
            fields["limit"] = limit
        page = Changes.from_wire(await self.request("chat.changes", **fields))
        messages = [self._order.copies.offer(m) for m in page.messages]
        return Changes(page.chat_id, messages, page.last_rev, page.has_more)

    def local_messages(self, chat_id: str) -> list[Message]:
        """The client's copy of a chat: every message of it the client has seen (opened,
        fetched, delivered, changed), as it now stands, ascending by ``seq``."""
        return self._order.copies.of(chat_id)

    @property
    def local_chats(self) -> list[str]:
        """The chats the client keeps a local copy of (every chat it tracks)."""
        return sorted(self._order.copies.synced)

    def local_message(self, chat_id: str, seq: int) -> Message | None:
        """One message of the local copy, or None if the client has not seen it."""
        return self._order.copies.message(chat_id, seq)

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
        messages = [self._order.copies.offer(Message.from_wire(m)) for m in reply["messages"]]
        return messages, bool(reply.get("has_more"))

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
            reply = await self.request("chat.open", chat_id=chat_id)
            opened = Opened.from_wire(reply)
        except (ChatError, ConnectionLost, RequestTimeout):
            if self._chat_handlers.get(chat_id) is handler:
                del self._chat_handlers[chat_id]
            raise
        async with self._lock(chat_id):
            self._order.opened(chat_id, opened.chat)
            messages = [self._order.copies.offer(m) for m in opened.messages]
            opened = dataclasses.replace(opened, messages=messages)
            if changes_follow_open(reply) or self._order.copies.behind(chat_id, opened.chat.last_rev):
                try:  # changed while it was not viewed: bring the copy up to date
                    await self._changes(chat_id)
                except (ConnectionLost, RequestTimeout, ChatError) as exc:
                    log.info("%s: changes not fetched yet (%s); the next resync does", chat_id, exc)
        return opened

    async def close_chat(self, chat_id: str) -> None:
        self._chat_handlers.pop(chat_id, None)
        await self.request("chat.close", chat_id=chat_id)

    async def mark_read(self, chat_id: str, seq: int) -> dict[str, Any]:
        return await self.request("message.read", chat_id=chat_id, seq=seq)

    async def mark_delivered(self, chat_id: str, seq: int) -> dict[str, Any]:
        return await self.request("message.delivered", chat_id=chat_id, seq=seq)

    async def reply(self, chat_id: str, seq: int, text: str, mentions: Sequence[str] | None = None) -> Ack:
        """Send ``text`` as an answer to message ``seq`` (a ``send`` with ``reply_to``)."""
        return await self.send(chat_id, text, reply_to=seq, mentions=mentions)

    async def typing(self, chat_id: str, typing: bool = True) -> None:
        await self.wait_online(self.request_timeout)
        await self._post({"action": "typing", "chat_id": chat_id, "typing": typing})

    async def send(
        self,
        chat_id: str,
        text: str,
        client_msg_id: str | None = None,
        *,
        reply_to: int | None = None,
        mentions: Sequence[str] | None = None,
        attachments: Sequence[str] | None = None,
    ) -> Ack:
        """Send until acknowledged. Retries (timeouts, reconnects, ``unavailable``) reuse the
        ``client_msg_id``, so the backend stores the message once whatever happens.
        ``reply_to``: the seq of the message this one answers; ``mentions``: user ids (the
        server keeps the members among them, you excepted); ``attachments``: ids of files
        uploaded for this chat (``send_files`` does it all), and then ``text`` may be ""."""
        fields: dict[str, Any] = {"chat_id": chat_id, "text": _text(text, "send")}
        if attachments is not None:
            if isinstance(attachments, str) or not attachments:
                raise ValueError(f"send: attachments is a non-empty list of ids, not {attachments!r}")
            fields["attachments"] = list(attachments)
        if reply_to is not None:
            fields["reply_to"] = _seq(reply_to, "send reply_to")
        if mentions is not None:
            fields["mentions"] = _user_list(mentions, "send mentions", allow_empty=True)
        client_msg_id = client_msg_id or uuid.uuid4().hex
        fields["client_msg_id"] = client_msg_id
        self._order.sending(client_msg_id)
        loop = asyncio.get_running_loop()
        deadline = None if self.send_timeout is None else loop.time() + self.send_timeout
        attempt = 0
        while True:
            try:
                await self.wait_online(self._remaining(deadline))
                reply = await self._request("message.send", fields)
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

    # -- files -----------------------------------------------------------------------------------

    async def send_file(
        self,
        chat_id: str,
        path: str | os.PathLike[str],
        text: str | None = None,
        content_type: str | None = None,
        *,
        client_msg_id: str | None = None,
    ) -> Ack:
        """Send one file (with ``text``, if given) as a message: ``send_files`` of one file."""
        return await self.send_files(chat_id, [path], text, [content_type], client_msg_id=client_msg_id)

    async def send_files(
        self,
        chat_id: str,
        paths: Sequence[str | os.PathLike[str]],
        text: str | None = None,
        content_types: Sequence[str | None] | None = None,
        *,
        client_msg_id: str | None = None,
        reply_to: int | None = None,
        mentions: Sequence[str] | None = None,
    ) -> Ack:
        """Send up to 10 files (and ``text``) as one message, in the order given. Every file is
        checked first (``ValueError``: missing, empty, over 25 MiB...) before any request; each
        then gets an upload form (``attachment.create``) and is uploaded straight to S3, all at
        once, in threads. An upload that fails transiently is posted again with the same form,
        with a new form once that expired; if a file cannot be uploaded, ``UploadFailed`` and
        nothing is sent. Then one ``send`` (retried with one ``client_msg_id``). Content types:
        guessed from the names (``mimetypes``) where not given."""
        if isinstance(paths, str | os.PathLike) or not 1 <= len(paths) <= MAX_FILES:
            raise ValueError(f"send_files: give a list of 1 to {MAX_FILES} files, not {paths!r}")
        types = list(content_types) if content_types is not None else [None] * len(paths)
        if len(types) != len(paths):
            raise ValueError("send_files: give one content type (or None) per file")
        files = [outgoing(path, kind) for path, kind in zip(paths, types, strict=True)]
        if text is not None:
            _text(text, "send_files")
        uploads = [asyncio.ensure_future(self.upload(chat_id, file)) for file in files]
        try:
            ids = [attachment.attachment_id for attachment in await asyncio.gather(*uploads)]
        except BaseException:  # the first failure (or a cancel) stops the others: nothing is sent
            for task in uploads:
                task.cancel()
            await asyncio.gather(*uploads, return_exceptions=True)
            raise
        return await self.send(
            chat_id, text or "", client_msg_id, reply_to=reply_to, mentions=mentions, attachments=ids
        )

    async def upload(self, chat_id: str, file: Outgoing) -> Attachment:
        """One file's ``attachment.create`` and its upload to S3 (the first two steps of a file
        send; ``send(..., attachments=[id])`` is the third). ``UploadFailed`` if it cannot be."""
        loop = asyncio.get_running_loop()
        attachment, url, fields, expires = await self._upload_form(chat_id, file)
        retry = UploadRetry(expires_at=expires)
        attempt = 0
        while True:
            form = Multipart(fields, file.name, file.content_type, file.size)
            stop = threading.Event()
            try:
                await asyncio.to_thread(post_form, url, form, file.path, stop=stop)
                return attachment
            except TransferError as exc:
                decision = retry.after(exc.status, loop.time(), exc.code, exc.detail)
                failure = exc
            except FileChanged as exc:
                raise UploadFailed(file.path, str(exc)) from exc
            except BaseException:
                stop.set()  # cancelled: the thread stops at its next chunk
                raise
            if decision is Next.GIVE_UP:
                raise UploadFailed(file.path, str(failure), failure.status) from failure
            log.info("upload of %s: %s, again with the %s", file.path, failure, decision.value)
            await asyncio.sleep(self.backoff.delay(attempt))
            attempt += 1
            if decision is Next.NEW_FORM:
                attachment, url, fields, expires = await self._upload_form(chat_id, file)
                retry.renewed(expires)

    async def _upload_form(
        self, chat_id: str, file: Outgoing
    ) -> tuple[Attachment, str, dict[str, str], float]:
        """``attachment.create`` (asked again on a transient failure: an unused form costs
        nothing, it expires): the attachment, the form, and when it expires (``loop.time()``)."""
        fields = {"chat_id": chat_id, "name": file.name, "content_type": file.content_type, "size": file.size}
        attempt = 0
        while True:
            try:
                reply = await self.request("attachment.create", **fields)
                break
            except ChatError as exc:
                if not exc.retryable or attempt >= 4:
                    raise
            except (ConnectionLost, RequestTimeout):
                if attempt >= 4:
                    raise
            await asyncio.sleep(self.backoff.delay(attempt))
            attempt += 1
        url, form = form_fields(reply["upload"])
        lasts: float = FORM_SECONDS
        try:
            at = datetime.fromisoformat(str(reply["expires_at"]).replace("Z", "+00:00")).timestamp()
            lasts = min(FORM_SECONDS, at - time.time())  # a clock ahead of the server's: sooner
        except (KeyError, ValueError):
            pass
        attachment = Attachment.from_wire(reply["attachment"])
        return attachment, url, form, asyncio.get_running_loop().time() + lasts

    async def download(self, attachment: Attachment, path_or_dir: str | os.PathLike[str]) -> Path:
        """Save a message's file: into a folder under its own name (a name taken gets " (1)"...),
        or to exactly the path given (replacing a file there). Streamed to a temporary file
        beside it, renamed into place once complete; returns where it went. ``DownloadFailed``
        if it cannot be fetched (a link over an hour old may have expired: ``history`` gives
        fresh ones); then nothing is written."""
        if not attachment.url:
            raise ValueError(f"{attachment.name}: no download link (a deleted message's file?)")
        where = destination(attachment.name, attachment.attachment_id, path_or_dir)
        stop = threading.Event()
        try:
            await asyncio.to_thread(fetch, attachment.url, where, attachment.size or None, stop=stop)
        except TransferError as exc:
            raise DownloadFailed(attachment.name, str(exc), exc.status) from exc
        except BaseException:
            stop.set()
            raise
        return Path(where)
