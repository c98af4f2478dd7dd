"""``chat``: a line-oriented chat in the terminal, on top of ChatClient.

    chat --user alice chats                    # your chats, numbered, unread counts as badges
    chat --user alice create bob --title Hi    # a new group; prints its id
    chat --user alice dm bob                   # the direct chat with bob, opened (interactive)
    chat --user alice open Hi                  # a chat by id, id prefix, title prefix or number
    chat --user alice send c_01... "hello"     # send one message
    chat --user alice read c_01...             # mark everything in it read
    chat --user alice members c_01...          # who is in it (admins marked)
    chat --user alice add c_01... carol dave   # admins: add members
    chat --user alice remove c_01... carol     # admins: remove members
    chat --user alice rename c_01... New title # admins: rename (no title: clear it)
    chat --user alice leave c_01...            # leave the chat
    chat --user alice mute c_01...             # no push notifications for it (unmute: again)
    chat --user alice devices                  # devices registered for push notifications
    chat --user alice register-device apns TOKEN [--no-preview]
    chat --user alice unregister-device dv_01...
    chat --user alice                          # interactive: /help lists the commands
    chat create --help                         # any command's usage

Wherever a command takes a chat, it may be the chat's id, a prefix of it, the start of its
title (or of the other person's name for a direct chat), or its number in the chat list.

Against the local stack (``make run``) a dev token is fetched for ``--user`` from ``--server``
(default http://127.0.0.1:8000), again on every reconnect. Against a deployment: ``--url
wss://...`` and the token in ``CHAT_TOKEN``. Output is one line per event, flushed, so scripts
and tests can read it. A server that cannot be reached or refuses the token is one ``[error]``
line saying what to do, and exit code 1; a command used wrongly, its usage and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from chatclient.client import ChatClient
from chatclient.errors import AuthError, CannotConnect, ConnectionLost, RequestTimeout
from chatclient.models import Chat, ChatError, Device, Message, Receipt, Typing

# The protocol's error codes, said plainly (the server's message follows).
PLAIN = {
    "forbidden": "not allowed",
    "not_found": "not found",  # a chat or a device: the server's message says which
    "bad_request": "refused",
    "too_large": "too large",
    "rate_limited": "too many requests, try again",
    "unavailable": "the server is busy, try again",
    "internal": "server error",
}


class UsageError(Exception):
    """A command used the wrong way; the message says how to use it."""


class HelpShown(Exception):
    """``--help`` was asked for and printed: nothing to run."""


class CliFailure(Exception):
    """The CLI cannot go on (no server, a refused token): one line says why and what to do."""


def out(line: str) -> None:
    print(line, flush=True)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def error_line(exc: ChatError) -> str:
    return f"[error] {PLAIN.get(exc.code, exc.code)}: {exc.message}"


# -- commands and their arguments ----------------------------------------------------------------


class CommandParser(argparse.ArgumentParser):
    """argparse for one command: a mistake is a ``UsageError`` (one line), ``--help`` prints the
    command's help and raises ``HelpShown``; neither exits the process."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.format_usage().strip()} ({message})")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise UsageError(message.strip())
        raise HelpShown()

    def print_help(self, file: Any = None) -> None:
        out(self.format_help().rstrip())


@dataclass(frozen=True)
class Spec:
    """A command: its arguments as in a usage line (``CHAT USER... [TITLE...] [--no-preview]``),
    and one line of help."""

    arguments: str
    help: str

    def parser(self, prog: str) -> CommandParser:
        usage = f"{prog} {self.arguments}".strip()
        parser = CommandParser(prog=prog, usage=usage, description=self.help, add_help=True)
        for word in self.arguments.split():
            _add_argument(parser, word)
        return parser

    def parse(self, prog: str, words: Sequence[str]) -> argparse.Namespace:
        return self.parser(prog).parse_intermixed_args(list(words))


def _add_argument(parser: CommandParser, word: str) -> None:
    optional = word.startswith("[") and word.endswith("]")
    name = word.strip("[]")
    if name == "--title":
        parser.add_argument("--title", "-t", metavar="TITLE", help="the chat's title (quote several words)")
    elif name.startswith("--"):
        parser.add_argument(name, action="store_true")
    elif name.endswith("..."):
        metavar = name.removesuffix("...")
        dest = "title_words" if metavar == "TITLE" else metavar.lower()  # the option is "title"
        parser.add_argument(dest, metavar=metavar, nargs="*" if optional else "+")
    elif name != "TITLE":  # "TITLE" alone is the --title option's metavar
        parser.add_argument(name.lower(), metavar=name, nargs="?" if optional else None)


CHAT_HELP = (
    "CHAT: an id, an id prefix, a title prefix, the other person of a direct chat, or a number from /chats"
)

# Interactive commands (they act on the open chat).
INTERACTIVE: dict[str, Spec] = {
    "/chats": Spec(
        "", "list your chats, numbered (unread in [brackets]; a direct chat shows the other person)"
    ),
    "/open": Spec(
        "CHAT...", "view a chat: its messages print as they come; lines you type go there. " + CHAT_HELP
    ),
    "/dm": Spec("USER", "open the direct chat with USER (created the first time)"),
    "/close": Spec("", "stop viewing the open chat"),
    "/create": Spec("USER... [--title TITLE]", "a new group with USERs (also: /create USER... -- TITLE)"),
    "/read": Spec("", "mark the open chat read"),
    "/history": Spec("[SEQ]", "the open chat's latest messages, or those before SEQ"),
    "/members": Spec("", "who is in the open chat (admins marked)"),
    "/add": Spec("USER...", "add members to the open chat (admins)"),
    "/remove": Spec("USER...", "remove members from the open chat (admins)"),
    "/rename": Spec("[TITLE...] [--title TITLE]", "rename the open chat; no TITLE clears it (admins)"),
    "/leave": Spec("", "leave the open chat"),
    "/mute": Spec("", "no push notifications for the open chat (muted chats say so in /chats)"),
    "/unmute": Spec("", "push notifications for the open chat again"),
    "/devices": Spec("", "your devices registered for push notifications"),
    "/help": Spec("[COMMAND]", "the commands, or one command's usage"),
    "/quit": Spec("", "leave the program (Ctrl-C and Ctrl-D too)"),
}


def _help_text() -> str:
    lines = ["commands:"]
    for name, spec in INTERACTIVE.items():
        usage = f"{name} {spec.arguments}".strip()
        lines.append(f"  {usage:<27} {spec.help.split('. ')[0]}")
    lines.append("anything else is sent to the open chat; /help COMMAND shows its usage")
    return "\n".join(lines)


HELP = _help_text()

REGISTER_USAGE = (
    "usage: chat register-device PLATFORM TOKEN [--no-preview] "
    "(PLATFORM apns or fcm; for webpush, TOKEN is the subscription JSON)"
)


def parse_register(words: list[str]) -> tuple[str, str | None, dict[str, object] | None, bool]:
    """``PLATFORM TOKEN [--no-preview]``: platform, token, subscription (webpush: TOKEN is the
    browser's subscription as JSON) and preview."""
    preview = "--no-preview" not in words
    rest = [word for word in words if word != "--no-preview"]
    if len(rest) != 2:
        raise UsageError(REGISTER_USAGE)
    platform, token = rest
    if platform != "webpush":
        return platform, token, None, preview
    try:
        subscription = json.loads(token)
    except ValueError:
        subscription = None
    if not isinstance(subscription, dict):
        raise UsageError('webpush: TOKEN is the subscription as JSON: {"endpoint": ..., "keys": {...}}')
    return platform, None, subscription, preview


def parse_create(rest: str | Sequence[str], prog: str = "/create") -> tuple[list[str], str | None]:
    """``bob carol --title "Weekend trip"``, ``--title=Trip bob`` or ``bob carol -- Weekend
    trip``: the members and the title."""
    words = shlex.split(rest) if isinstance(rest, str) else list(rest)
    title_words: list[str] = []
    if "--" in words:
        at = words.index("--")
        words, title_words = words[:at], words[at + 1 :]
    parsed = INTERACTIVE["/create"].parse(prog, words)
    title = parsed.title if parsed.title is not None else " ".join(title_words)
    return list(parsed.user), title or None


def parse_title(words: Sequence[str], prog: str) -> str | None:
    """``[TITLE...] [--title TITLE]``: the new title, None to clear it."""
    parsed = INTERACTIVE["/rename"].parse(prog, words)
    title = parsed.title if parsed.title is not None else " ".join(parsed.title_words)
    return title.strip() or None


# -- the server's answers, as lines ----------------------------------------------------------------


def message_text(message: Message) -> str:
    """``alice: hi`` for text, ``* alice added carol`` for a system message."""
    if message.is_system:
        return f"* {message.text or _describe_system(message)}"
    return f"{message.sender_id}: {message.text}"


def _describe_system(message: Message) -> str:
    event = message.system
    if event is None:
        return f"{message.sender_id} changed the chat"
    return " ".join([message.sender_id, event.type, *event.users]).strip()


def chat_line(chat: Chat, me: str | None) -> str:
    muted = " (muted)" if chat.muted else ""
    badge = f" [{chat.unread}]" if chat.unread else ""
    last = f" - {message_text(chat.last_message)}" if chat.last_message else ""
    return f"{chat.chat_id} {chat.display_name(me)}{muted}{badge}{last}"


def device_line(device: Device) -> str:
    preview = "preview" if device.preview else "no preview"
    return f"  {device.device_id} {device.platform} ({preview}) since {device.registered_at}"


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


# -- reading lines without blocking Ctrl-C ----------------------------------------------------------


class Lines:
    """stdin as an asyncio queue of lines (None at the end), read by the event loop itself, so
    Ctrl-C and a stopped client end the wait at once (no thread blocked in ``readline``)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._buffer = b""
        self._fd = sys.stdin.fileno()
        self._loop = asyncio.get_running_loop()
        try:
            self._loop.add_reader(self._fd, self._readable)
        except (PermissionError, OSError):  # a regular file: reading it never blocks
            for line in sys.stdin:
                self.queue.put_nowait(line)
            self.queue.put_nowait(None)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except OSError:
            data = b""
        if not data:
            self.close()
            if self._buffer:
                self.queue.put_nowait(self._buffer.decode("utf-8", "replace"))
            self.queue.put_nowait(None)
            return
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        for line in lines:
            self.queue.put_nowait(line.decode("utf-8", "replace"))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._fd)


class Shell:
    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.open: str | None = None
        self.last_seen: dict[str, int] = {}
        self.listed: list[Chat] = []  # the last /chats, for /open NUMBER
        self.lines: Lines | None = None
        client.on_background = self.background
        client.on_chat_added = lambda chat: out(f"[added] {chat.chat_id} {chat.display_name(self.me)}")
        client.on_chat_removed = self.removed
        client.on_chat_updated = lambda chat: out(f"[updated] {chat.chat_id} {chat.display_name(self.me)}")
        client.on_receipt = self.receipt
        client.on_typing = self.typing
        client.on_state = lambda state: out(f"[{state}]") if state in ("offline", "online") else None
        client.on_error = self.stopped
        self.commands: dict[str, Callable[[list[str]], Awaitable[None]]] = {
            "/help": self.help,
            "/chats": lambda a: self.chats(),
            "/open": lambda a: self.open_chat(" ".join(a)),
            "/dm": lambda a: self.dm(a[0]),
            "/close": lambda a: self.close_open(),
            "/create": self.create_command,
            "/read": lambda a: self.read_open(),
            "/history": self.history_command,
            "/members": lambda a: self.members(self.need_open()),
            "/add": lambda a: self.add(self.need_open(), a),
            "/remove": lambda a: self.remove(self.need_open(), a),
            "/rename": lambda a: self.rename(self.need_open(), parse_title(a, "/rename")),
            "/leave": lambda a: self.leave(self.need_open()),
            "/mute": lambda a: self.mute(self.need_open(), True),
            "/unmute": lambda a: self.mute(self.need_open(), False),
            "/devices": lambda a: self.devices(),
        }

    @property
    def me(self) -> str | None:
        return self.client.user_id

    # -- what the server pushes ------------------------------------------------------------------

    def background(self, message: Message) -> None:
        out(f"[bg] {message.chat_id} {message_text(message)}")

    def in_chat(self, message: Message) -> None:
        out(f"[{message.chat_id}] {message_text(message)}")
        self.last_seen[message.chat_id] = message.seq

    def removed(self, chat_id: str) -> None:
        closed = "; closed it" if self.open == chat_id else ""
        if self.open == chat_id:
            self.open = None
        out(f"[removed] {chat_id}: you are no longer a member{closed}")

    def receipt(self, receipt: Receipt) -> None:
        r = receipt
        out(f"[receipt] {r.chat_id} {r.user_id} delivered {r.delivered_seq} read {r.read_seq}")

    def typing(self, typing: Typing) -> None:
        if typing.typing:
            out(f"[typing] {typing.chat_id} {typing.user_id}")

    def stopped(self, exc: Exception) -> None:
        """The client gave up (the token refused on a reconnect): end the interactive loop."""
        if self.lines is not None:
            self.lines.close()
            self.lines.queue.put_nowait(None)

    # -- input -----------------------------------------------------------------------------------

    async def command(self, line: str) -> bool:
        """Run one input line; False to quit."""
        line = line.strip()
        if not line:
            return True
        if not line.startswith("/"):
            await self.say(self.need_open(), line)
            return True
        name, _, rest = line.partition(" ")
        if name == "/quit":
            return False
        command, spec = self.commands.get(name), INTERACTIVE.get(name)
        if command is None or spec is None:
            raise UsageError(f"unknown command {name!r}: /help lists them")
        try:
            words = shlex.split(rest)
        except ValueError as exc:  # an unbalanced quote
            raise UsageError(
                f"{exc.args[0].lower()} in {line!r}: {name} {INTERACTIVE[name].arguments}"
            ) from exc
        if name not in ("/create", "/rename"):  # those two parse their own (a "--" title)
            spec.parse(name, words)
        await command(words)
        return True

    def need_open(self) -> str:
        if self.open is None:
            raise UsageError("no chat open: /open CHAT or /dm USER first (/chats lists them)")
        return self.open

    async def help(self, words: list[str]) -> None:
        if not words:
            out(HELP)
            return
        name = words[0] if words[0].startswith("/") else f"/{words[0]}"
        spec = INTERACTIVE.get(name)
        if spec is None:
            raise UsageError(f"unknown command {name!r}: /help lists them")
        out(spec.parser(name).format_help().rstrip())

    async def chats(self) -> None:
        self.listed = await self.client.list_chats()
        for number, chat in enumerate(self.listed, 1):
            out(f"{number}. {chat_line(chat, self.me)}")
        out("[end]")

    async def chat_named(self, query: str) -> str:
        """The id of the chat ``query`` names (see ``find_chat``)."""
        if not query.strip():
            raise UsageError("name a chat: its id, the start of its title, or its number in /chats")
        if query.isdigit() and self.listed:
            return find_chat(query, self.listed, self.me).chat_id
        chats = await self.client.list_chats()
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
            out(f"  {message.seq} {message_text(message)}")
        out(f"[more] /history {messages[0].seq} shows older" if has_more and messages else "[end]")

    # -- actions (interactive commands and one-shot subcommands alike) ---------------------------

    async def say(self, chat_id: str, text: str) -> None:
        ack = await self.client.send(chat_id, text)
        self.last_seen[chat_id] = max(ack.seq, self.last_seen.get(chat_id, 0))
        out(f"[ack] {ack.chat_id} seq {ack.seq}")

    async def open_chat(self, query: str) -> None:
        chat_id = await self.chat_named(query)
        opened = await self.client.open_chat(chat_id, self.in_chat)
        self.open = chat_id
        count = plural(len(opened.messages), "message")
        out(f"[opened] {chat_id} {opened.chat.display_name(self.me)} ({count})")
        for message in opened.messages:
            out(f"  {message.seq} {message_text(message)}")
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

    def updated(self, chat: Chat) -> None:
        out(f"[updated] {chat.chat_id} {chat.display_name(self.me)} ({plural(chat.member_count, 'member')})")

    async def read(self, chat_id: str) -> None:
        chat = next((c for c in await self.client.list_chats() if c.chat_id == chat_id), None)
        if chat is None:
            raise UsageError(f"no chat {chat_id} among yours: chat chats lists them")
        if chat.last_seq:
            await self.client.mark_read(chat.chat_id, chat.last_seq)
        out(f"[read] {chat.chat_id} up to {chat.last_seq}")

    async def interactive(self) -> None:
        """Lines from stdin until /quit, the end of input, or the client giving up."""
        self.lines = Lines()
        out("[ready] /help lists the commands")
        try:
            while self.client.error is None:
                line = await self.lines.queue.get()
                if line is None or not await self.run_reporting(self.command(line)):
                    return
        finally:
            self.lines.close()

    @staticmethod
    async def run_reporting(step: Awaitable[bool]) -> bool:
        """Run one command, printing what went wrong instead of raising; False to quit."""
        try:
            return await step
        except ChatError as exc:
            out(error_line(exc))
        except (UsageError, ValueError, TypeError) as exc:
            out(f"[error] {exc}")
        except HelpShown:
            pass
        except (ConnectionLost, RequestTimeout) as exc:
            out(f"[error] {exc}: try again")
        except (AuthError, CannotConnect):
            return False  # the client stopped: the caller says why
        return True


# -- one-shot subcommands --------------------------------------------------------------------------

OneShot = Callable[[Shell, argparse.Namespace], Awaitable[None]]


async def _interactive_after(step: Awaitable[None], shell: Shell) -> None:
    await step
    await shell.interactive()


async def _chat_id(shell: Shell, ns: argparse.Namespace) -> str:
    return await shell.chat_named(" ".join(ns.chat) if isinstance(ns.chat, list) else str(ns.chat))


async def _send(sh: Shell, ns: argparse.Namespace) -> None:
    await sh.say(await _chat_id(sh, ns), " ".join(ns.text))


async def _read(sh: Shell, ns: argparse.Namespace) -> None:
    await sh.read(await _chat_id(sh, ns))


async def _members(sh: Shell, ns: argparse.Namespace) -> None:
    await sh.members(await _chat_id(sh, ns))


async def _add(sh: Shell, ns: argparse.Namespace) -> None:
    await sh.add(await _chat_id(sh, ns), ns.user)


async def _remove(sh: Shell, ns: argparse.Namespace) -> None:
    await sh.remove(await _chat_id(sh, ns), ns.user)


async def _rename(sh: Shell, ns: argparse.Namespace) -> None:
    title = ns.title if ns.title is not None else " ".join(ns.title_words)
    await sh.rename(await _chat_id(sh, ns), title.strip() or None)


async def _leave(sh: Shell, ns: argparse.Namespace) -> None:
    await sh.leave(await _chat_id(sh, ns))


async def _mute(sh: Shell, ns: argparse.Namespace, muted: bool) -> None:
    await sh.mute(await _chat_id(sh, ns), muted)


async def _open(sh: Shell, ns: argparse.Namespace) -> None:
    await _interactive_after(sh.open_chat(" ".join(ns.chat)), sh)


async def _register(sh: Shell, ns: argparse.Namespace) -> None:
    words = [ns.platform, ns.token, *(["--no-preview"] if ns.no_preview else [])]
    await sh.register_device(words)


ONE_SHOT: dict[str, tuple[Spec, OneShot]] = {
    "chats": (Spec("", "list your chats, numbered"), lambda sh, ns: sh.chats()),
    "create": (
        Spec("USER... [--title TITLE]", "create a group with USERs; prints its id"),
        lambda sh, ns: sh.create(ns.user, ns.title),
    ),
    "send": (Spec("CHAT TEXT...", "send one message to CHAT"), _send),
    "read": (Spec("CHAT", "mark everything in CHAT read"), _read),
    "members": (Spec("CHAT", "who is in CHAT (admins marked)"), _members),
    "add": (Spec("CHAT USER...", "add members to CHAT (admins)"), _add),
    "remove": (Spec("CHAT USER...", "remove members from CHAT (admins)"), _remove),
    "rename": (Spec("CHAT [TITLE...] [--title TITLE]", "rename CHAT; no title clears it (admins)"), _rename),
    "leave": (Spec("CHAT", "leave CHAT"), _leave),
    "mute": (Spec("CHAT", "no push notifications for CHAT"), lambda sh, ns: _mute(sh, ns, True)),
    "unmute": (Spec("CHAT", "push notifications for CHAT again"), lambda sh, ns: _mute(sh, ns, False)),
    "devices": (Spec("", "your devices registered for push notifications"), lambda sh, ns: sh.devices()),
    "register-device": (
        Spec("PLATFORM TOKEN [--no-preview]", REGISTER_USAGE.split("] ", 1)[1].strip("()")),
        _register,
    ),
    "unregister-device": (
        Spec("DEVICE_ID", "no more push notifications to that device"),
        lambda sh, ns: sh.unregister_device(ns.device_id),
    ),
    "open": (Spec("CHAT...", "open a chat, then go on interactively. " + CHAT_HELP), _open),
    "dm": (
        Spec("USER", "open the direct chat with USER, then go on interactively"),
        lambda sh, ns: _interactive_after(sh.dm(ns.user), sh),
    ),
    "shell": (Spec("", "interactive (the default)"), lambda sh, ns: sh.interactive()),
}


# -- connecting ------------------------------------------------------------------------------------


def _why(reason: object) -> str:
    """A urllib or socket failure in a few plain words."""
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "no answer"
    if isinstance(reason, socket.gaierror):
        return "unknown host"
    return str(reason)


def dev_token(server: str, user: str, timeout: float = 10.0) -> str:
    """A token for ``user`` from the local stack's ``/dev/token``; ``CliFailure`` says why not."""
    server = server.rstrip("/")
    query = urllib.parse.urlencode({"user": user})
    try:
        with urllib.request.urlopen(f"{server}/dev/token?{query}", timeout=timeout) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        raise CliFailure(
            f"{server}/dev/token answered HTTP {exc.code} {exc.reason}: is {server} the local stack "
            "(`make run`)? For a deployment give --url and the token in CHAT_TOKEN"
        ) from exc
    except urllib.error.URLError as exc:
        raise CliFailure(f"cannot reach {server}: is `make run` running? ({_why(exc.reason)})") from exc
    except (OSError, ValueError) as exc:
        raise CliFailure(
            f"no token from {server}/dev/token ({_why(exc)}): is `make run` running there?"
        ) from exc
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise CliFailure(f"{server}/dev/token gave no token: is {server} the local stack (`make run`)?")
    return token


def _ws_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    server = str(args.server).rstrip("/")
    return server.replace("http://", "ws://").replace("https://", "wss://") + "/ws"


def failure_line(exc: AuthError | CannotConnect, args: argparse.Namespace) -> str:
    """What went wrong connecting, and what to do, in one line."""
    from_env = bool(os.environ.get("CHAT_TOKEN"))
    if isinstance(exc, AuthError):
        status = f"HTTP {exc.status} {exc.reason}".strip()
        if from_env:
            fix = "CHAT_TOKEN is expired or not for this server: set a fresh one"
        else:
            fix = "the dev token was not accepted there: do --url and --server name the same local stack?"
        return f"[error] {exc.url} refused the token ({status}): {fix}"
    hint = "check --url" if args.url else "is `make run` running?"
    return f"[error] cannot reach {exc.url}: {hint} ({exc.why})"


async def _connect(args: argparse.Namespace) -> ChatClient:
    token = os.environ.get("CHAT_TOKEN")
    if token:
        source: str | Callable[[], Awaitable[str]] = token
    else:
        first = dev_token(args.server, args.user, args.timeout)
        tokens = iter([first])

        async def fresh() -> str:  # a restarted local stack has a new secret: a new token each time
            cached = next(tokens, None)
            if cached is not None:
                return cached
            return await asyncio.get_running_loop().run_in_executor(
                None, dev_token, args.server, args.user, args.timeout
            )

        source = fresh
    client = ChatClient(_ws_url(args), source, request_timeout=args.timeout, connect_timeout=args.timeout)
    await client.start()
    return client


async def _main(args: argparse.Namespace) -> int:
    spec, action = ONE_SHOT[args.command or "shell"]
    try:
        parsed = spec.parse(f"chat {args.command or 'shell'}", args.args)
    except HelpShown:
        return 0
    except UsageError as exc:
        out(str(exc))
        return 2
    if not os.environ.get("CHAT_TOKEN") and not args.user:
        out("give --user ID (local stack) or set CHAT_TOKEN")
        return 2
    try:
        client = await _connect(args)
    except (AuthError, CannotConnect) as exc:
        out(failure_line(exc, args))
        return 1
    try:
        await action(Shell(client), parsed)
    except ChatError as exc:
        out(error_line(exc))
        return 1
    except (UsageError, ValueError, TypeError) as exc:
        out(f"[error] {exc}")
        return 2
    except (ConnectionLost, RequestTimeout) as exc:
        out(f"[error] {exc}")
        return 1
    except (AuthError, CannotConnect) as exc:
        out(failure_line(exc, args))
        return 1
    finally:
        await client.close()
    if client.error is not None:  # stopped while interactive
        out(failure_line(client.error, args))
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="chat", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--user", help="your user id (local stack: a dev token is fetched for it)")
    parser.add_argument("--server", default=os.environ.get("CHAT_SERVER", "http://127.0.0.1:8000"))
    parser.add_argument("--url", help="WebSocket URL (default: the server's /ws); use with CHAT_TOKEN")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the server or a reply (default 10)"
    )
    parser.add_argument("command", nargs="?", choices=sorted(ONE_SHOT), help="one command, then exit")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments (chat COMMAND --help)")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except KeyboardInterrupt:
        out("")  # end the prompt's line
        return 130
    except CliFailure as exc:
        out(f"[error] {exc}")
        return 1
