"""What each command does, for the interactive shell and the one-shot subcommands alike: one
request (or a few) through ``ChatClient``, and its answer printed as lines. A chat is named by
its id, an id prefix, the start of its title (or of the other person's name) or its number in
the last ``/chats`` (``find_chat``); a message by its number, the ``seq`` printed beside it.
``@user`` in a text mentions that user (``mentions_in``).

Imports ``chatclient.client`` and the CLI's ``output`` and ``arguments``."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence

from chatclient.cli.arguments import NOTIFY_USAGE, UsageError, parse_create, parse_register
from chatclient.cli.output import chat_line, device_line, file_label, message_line, out, plural
from chatclient.client import ChatClient
from chatclient.models import NOTIFY_LEVELS, Chat, Message

# "@bob" mentions bob (user ids are 1-64 of A-Za-z0-9_.@-); not the "@" inside an address.
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9_.@-]{1,64})")


def mentions_in(text: str) -> list[str]:
    """The users a text mentions with ``@user``, in order, each once (a full stop after the
    name ends the sentence, not the name)."""
    found: list[str] = []
    for match in MENTION.finditer(text):
        user = match.group(1).rstrip(".")
        if user and user not in found:
            found.append(user)
    return found


def find_chat(query: str, chats: Sequence[Chat], me: str | None) -> Chat:
    """The one chat ``query`` names: its number in ``chats`` (from 1), its id or an id prefix,
    or the start of its display name (title, or the other person), ignoring case."""
    query = query.strip()
    if query.isdigit() and not any(c.chat_id.startswith(query) for c in chats):
        number = int(query)
        if not 1 <= number <= len(chats):
            raise UsageError(f"no chat number {number}: /chats lists {plural(len(chats), 'chat')}")
        return chats[number - 1]
    wanted = query.casefold()
    rules: tuple[Callable[[Chat], bool], ...] = (
        lambda c: c.chat_id == query,
        lambda c: c.chat_id.startswith(query),
        lambda c: c.display_name(me).casefold() == wanted,
        lambda c: c.display_name(me).casefold().startswith(wanted),
    )
    for match in rules:
        found = [chat for chat in chats if match(chat)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(f"{c.chat_id} {c.display_name(me)}" for c in found[:5])
            raise UsageError(f"{query!r} matches {plural(len(found), 'chat')} ({names}): say which")
    raise UsageError(f"no chat matches {query!r}: /chats lists yours")


class Commands:
    """The actions on one client; ``open`` is the chat being viewed (None: none)."""

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.open: str | None = None
        self.last_seen: dict[str, int] = {}
        self.listed: list[Chat] = []  # the last /chats, for /open NUMBER
        self.names: dict[str, str] = {}  # chat id -> its title or the other person, as last seen
        self.sent: dict[tuple[str, int], Message] = {}  # our own sends, for quoting replies to them

    @property
    def me(self) -> str | None:
        return self.client.user_id

    def remember(self, chat: Chat) -> None:
        """Keep the name a chat is shown by (its title, or the other person of a direct chat)."""
        self.names[chat.chat_id] = chat.display_name(self.me)

    def named(self, chat_id: str) -> str:
        """``c_01... Weekend -``: a chat's id and the name it is shown by, once known."""
        name = self.names.get(chat_id)
        return f"{chat_id} {name} -" if name else chat_id

    def quote_of(self, message: Message) -> Message | None:
        """The message ``message`` answers, if the client has seen it (or we sent it here)."""
        if message.reply_to is None:
            return None
        seen = self.client.local_message(message.chat_id, message.reply_to)
        return seen or self.sent.get((message.chat_id, message.reply_to))

    def show(self, message: Message) -> str:
        """``5 alice: hi``, a reply quoting the message it answers (when the client has it)."""
        return message_line(message, self.me, self.quote_of(message))

    def in_chat(self, message: Message) -> None:
        out(f"[{message.chat_id}] {self.show(message)}")
        self.last_seen[message.chat_id] = message.seq

    def changed(self, message: Message) -> None:
        """A message edited, deleted or reacted to by someone else (or by you elsewhere)."""
        out(f"[changed] {message.chat_id} {self.show(message)}")

    def need_open(self) -> str:
        if self.open is None:
            raise UsageError("no chat open: /open CHAT or /dm USER first (/chats lists them)")
        return self.open

    async def chats(self) -> None:
        self.listed = await self.client.list_chats()
        for number, chat in enumerate(self.listed, 1):
            self.remember(chat)
            out(f"{number}. {chat_line(chat, self.me)}")
        out("[end]")

    async def chat_named(self, query: str) -> str:
        """The id of the chat ``query`` names (see ``find_chat``)."""
        if not query.strip():
            raise UsageError("name a chat: its id, the start of its title, or its number in /chats")
        if query.isdigit() and self.listed:
            return find_chat(query, self.listed, self.me).chat_id
        chats = await self.client.list_chats()
        for chat in chats:
            self.remember(chat)
        if query.isdigit():
            self.listed = chats
        return find_chat(query, chats, self.me).chat_id

    async def close_open(self) -> None:
        chat_id = self.need_open()
        await self.client.close_chat(chat_id)
        self.open = None
        out(f"[closed] {chat_id}")

    async def create_command(self, words: list[str]) -> None:
        members, title = parse_create(words, "/create")
        await self.create(members, title)

    async def create(self, members: list[str], title: str | None) -> None:
        chat = await self.client.create_chat(members, title)
        self.remember(chat)
        out(f"[created] {chat.chat_id} {chat.display_name(self.me)}")

    async def read_open(self) -> None:
        chat_id = self.need_open()
        seq = self.last_seen.get(chat_id, 0)
        if seq:
            await self.client.mark_read(chat_id, seq)
        out(f"[read] {chat_id} up to {seq}")

    async def history_command(self, words: list[str]) -> None:
        chat_id = self.need_open()
        before = words[0] if words else ""
        if before and not before.isdigit():
            raise UsageError(f"/history takes a message number (SEQ), not {before!r}: /history [SEQ]")
        messages, has_more = await self.client.history(chat_id, before=int(before) if before else None)
        for message in messages:
            out(f"  {self.show(message)}")
        out(f"[more] /history {messages[0].seq} shows older" if has_more and messages else "[end]")

    async def say(self, chat_id: str, text: str, reply_to: int | None = None) -> None:
        mentions = mentions_in(text)
        ack = await self.client.send(chat_id, text, reply_to=reply_to, mentions=mentions or None)
        self.sent[(chat_id, ack.seq)] = Message(
            chat_id, ack.seq, ack.message_id, ack.client_msg_id, self.me or "", text, ack.sent_at
        )
        self.last_seen[chat_id] = max(ack.seq, self.last_seen.get(chat_id, 0))
        out(f"[ack] {ack.chat_id} seq {ack.seq}")

    async def send_file(self, chat_id: str, path: str, text: str = "") -> None:
        """Upload the file at ``path`` and send it (with ``text``) as one message."""
        text = text.strip()
        mentions = mentions_in(text)
        ack = await self.client.send_files(chat_id, [path], text or None, mentions=mentions or None)
        self.sent[(chat_id, ack.seq)] = Message(
            chat_id, ack.seq, ack.message_id, ack.client_msg_id, self.me or "", text, ack.sent_at
        )
        self.last_seen[chat_id] = max(ack.seq, self.last_seen.get(chat_id, 0))
        out(f"[ack] {ack.chat_id} seq {ack.seq}")

    async def save(self, chat_id: str, seq: int, folder: str | None) -> None:
        """Save the files of message ``seq`` into ``folder``, each under its own name (a name
        taken gets " (1)"): links fresh from ``chat.history``, so an old message's work too."""
        folder = folder or "."
        if not os.path.isdir(folder):
            raise UsageError(f"no folder {folder!r} to save into")
        messages, _ = await self.client.history(chat_id, after=seq - 1, limit=1)
        message = next((m for m in messages if m.seq == seq), None)
        if message is None:
            raise UsageError(f"no message {seq} in this chat that you can see")
        if not message.attachments:
            raise UsageError(f"message {seq} has no files")
        for attachment in message.attachments:
            where = await self.client.download(attachment, folder)
            out(f"[saved] {where} {file_label(attachment)}")

    async def edit(self, chat_id: str, seq: int, text: str) -> None:
        message = await self.client.edit(chat_id, seq, text, mentions=mentions_in(text))
        out(f"[edited] {chat_id} {self.show(message)}")

    async def delete(self, chat_id: str, seq: int) -> None:
        message = await self.client.delete(chat_id, seq)
        out(f"[deleted] {chat_id} {self.show(message)}")

    async def react(self, chat_id: str, seq: int, emoji: str | None) -> None:
        message = await self.client.react(chat_id, seq, emoji)
        out(f"[reacted] {chat_id} {self.show(message)}")

    async def report(self, chat_id: str, seq: int, reason: str | None) -> None:
        await self.client.report(chat_id, seq, reason)
        out(f"[reported] {chat_id} {seq}: the operators will review it")

    async def notify(self, chat_id: str, level: str | None) -> None:
        if level not in NOTIFY_LEVELS:
            raise UsageError(f"{NOTIFY_USAGE}, not {level!r}" if level else NOTIFY_USAGE)
        now = await self.client.set_notify(chat_id, level)
        out(f"[notify] {chat_id} {now}")

    async def open_chat(self, query: str) -> None:
        chat_id = await self.chat_named(query)
        opened = await self.client.open_chat(chat_id, self.in_chat)
        self.open = chat_id
        self.remember(opened.chat)
        count = plural(len(opened.messages), "message")
        out(f"[opened] {chat_id} {opened.chat.display_name(self.me)} ({count})")
        for message in opened.messages:
            out(f"  {self.show(message)}")
        if opened.messages:
            self.last_seen[chat_id] = opened.messages[-1].seq
            await self.client.mark_read(chat_id, opened.messages[-1].seq)

    async def dm(self, user: str) -> None:
        chat = await self.client.create_direct(user)
        await self.open_chat(chat.chat_id)

    async def members(self, chat_id: str) -> None:
        members = await self.client.members(chat_id)
        for user in members.members:
            out(f"  {user}{' (admin)' if user in members.admins else ''}")
        out("[end]")

    async def add(self, chat_id: str, users: list[str]) -> None:
        self.updated(await self.client.add_members(chat_id, users))

    async def remove(self, chat_id: str, users: list[str]) -> None:
        self.updated(await self.client.remove_members(chat_id, users))

    async def rename(self, chat_id: str, title: str | None) -> None:
        self.updated(await self.client.update_chat(chat_id, title=title))

    async def leave(self, chat_id: str) -> None:
        await self.client.leave(chat_id)
        if self.open == chat_id:
            self.open = None
        out(f"[left] {chat_id}")

    async def mute(self, chat_id: str, muted: bool) -> None:
        now_muted = await self.client.mute(chat_id, muted)
        out(f"[{'muted' if now_muted else 'unmuted'}] {chat_id}")

    async def devices(self) -> None:
        for device in await self.client.devices():
            out(device_line(device))
        out("[end]")

    async def register_device(self, words: list[str]) -> None:
        platform, token, subscription, preview = parse_register(words)
        device = await self.client.register_device(platform, token, subscription, preview)
        out(f"[registered] {device_line(device).strip()}")

    async def unregister_device(self, device_id: str) -> None:
        await self.client.unregister_device(device_id)
        out(f"[unregistered] {device_id}")

    async def block(self, user: str, blocked: bool) -> None:
        if blocked:
            await self.client.block(user)
        else:
            await self.client.unblock(user)
        out(f"[{'blocked' if blocked else 'unblocked'}] {user}")

    async def blocks(self) -> None:
        for user in await self.client.blocks():
            out(f"  {user}")
        out("[end]")

    def updated(self, chat: Chat) -> None:
        self.remember(chat)
        out(f"[updated] {chat.chat_id} {chat.display_name(self.me)} ({plural(chat.member_count, 'member')})")

    async def read(self, chat_id: str) -> None:
        chat = next((c for c in await self.client.list_chats() if c.chat_id == chat_id), None)
        if chat is None:
            raise UsageError(f"no chat {chat_id} among yours: chat chats lists them")
        if chat.last_seq:
            await self.client.mark_read(chat.chat_id, chat.last_seq)
        out(f"[read] {chat.chat_id} up to {chat.last_seq}")
