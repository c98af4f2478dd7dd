"""``chat``: a line-oriented chat in the terminal, on top of ChatClient.

    chat --user alice chats                    # your chats, unread counts as badges
    chat --user alice create bob --title Hi    # a new group; prints its id
    chat --user alice dm bob                   # the direct chat with bob, opened (interactive)
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

Against the local stack (``make run``) a dev token is fetched for ``--user`` from ``--server``
(default http://127.0.0.1:8000). Against a deployment: ``--url wss://...`` and the token in
``CHAT_TOKEN``. Output is one line per event, flushed, so scripts and tests can read it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable

from chatclient.client import ChatClient, ConnectionLost, RequestTimeout
from chatclient.models import Chat, ChatError, Device, Message, Receipt, Typing

HELP = """commands:
  /chats                  list chats (unread in [brackets]; a direct chat shows the other person)
  /open CHAT_ID           view a chat: its messages print as they come; lines you type go there
  /dm USER                open the direct chat with USER (created the first time)
  /close                  stop viewing it
  /create USER... [-- TITLE]
  /read                   mark the open chat read
  /history [SEQ]          the open chat's latest messages, or those before SEQ
  /members                who is in the open chat (admins marked)
  /add USER...            add members to the open chat (admins)
  /remove USER...         remove members from the open chat (admins)
  /rename [TITLE]         rename the open chat; no TITLE clears it (admins)
  /leave                  leave the open chat
  /mute                   no push notifications for the open chat (muted chats say so in /chats)
  /unmute                 push notifications for the open chat again
  /devices                your devices registered for push notifications
  /help                   this list
  /quit
anything else is sent to the open chat"""

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


def out(line: str) -> None:
    print(line, flush=True)


def error_line(exc: ChatError) -> str:
    return f"[error] {PLAIN.get(exc.code, exc.code)}: {exc.message}"


def _dev_token(server: str, user: str) -> str:
    query = urllib.parse.urlencode({"user": user})
    with urllib.request.urlopen(f"{server.rstrip('/')}/dev/token?{query}", timeout=10) as response:
        return str(json.load(response)["token"])


def _ws_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    server = str(args.server).rstrip("/")
    return server.replace("http://", "ws://").replace("https://", "wss://") + "/ws"


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


def parse_create(rest: str) -> tuple[list[str], str | None]:
    """``bob carol -- Title`` or ``bob carol --title Title``: the members and the title."""
    words = rest.split()
    for marker in ("--title", "--"):
        if marker in words:
            at = words.index(marker)
            return words[:at], " ".join(words[at + 1 :]) or None
    return words, None


class Shell:
    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.open: str | None = None
        self.last_seen: dict[str, int] = {}
        client.on_background = self.background
        client.on_chat_added = lambda chat: out(f"[added] {chat.chat_id} {chat.display_name(self.me)}")
        client.on_chat_removed = self.removed
        client.on_chat_updated = lambda chat: out(f"[updated] {chat.chat_id} {chat.display_name(self.me)}")
        client.on_receipt = self.receipt
        client.on_typing = self.typing
        client.on_state = lambda state: out(f"[{state}]") if state in ("offline", "online") else None
        self.commands: dict[str, Callable[[str], Awaitable[None]]] = {
            "/help": self.help,
            "/chats": self.chats,
            "/open": self.open_command,
            "/dm": self.dm_command,
            "/close": self.close_command,
            "/create": self.create_command,
            "/read": self.read_command,
            "/history": self.history_command,
            "/members": lambda rest: self.members(self.need_open()),
            "/add": lambda rest: self.add(self.need_open(), self.need_users(rest, "/add USER...")),
            "/remove": lambda rest: self.remove(self.need_open(), self.need_users(rest, "/remove USER...")),
            "/rename": lambda rest: self.rename(self.need_open(), rest.strip()),
            "/leave": lambda rest: self.leave(self.need_open()),
            "/mute": lambda rest: self.mute(self.need_open(), True),
            "/unmute": lambda rest: self.mute(self.need_open(), False),
            "/devices": lambda rest: self.devices(),
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
        command = self.commands.get(name)
        if command is None:
            raise UsageError(f"unknown command {line!r}: /help lists them")
        await command(rest)
        return True

    def need_open(self) -> str:
        if self.open is None:
            raise UsageError("no chat open: /open CHAT_ID or /dm USER first")
        return self.open

    @staticmethod
    def need_users(rest: str, usage: str) -> list[str]:
        users = rest.split()
        if not users:
            raise UsageError(f"usage: {usage}")
        return users

    async def help(self, rest: str) -> None:
        out(HELP)

    async def chats(self, rest: str = "") -> None:
        for chat in await self.client.list_chats():
            out(chat_line(chat, self.me))
        out("[end]")

    async def open_command(self, rest: str) -> None:
        chat_id = rest.strip()
        if not chat_id:
            raise UsageError("usage: /open CHAT_ID (/chats lists them)")
        await self.open_chat(chat_id)

    async def dm_command(self, rest: str) -> None:
        users = rest.split()
        if len(users) != 1:
            raise UsageError("usage: /dm USER")
        await self.dm(users[0])

    async def close_command(self, rest: str) -> None:
        chat_id = self.need_open()
        await self.client.close_chat(chat_id)
        self.open = None
        out(f"[closed] {chat_id}")

    async def create_command(self, rest: str) -> None:
        members, title = parse_create(rest)
        chat = await self.client.create_chat(members, title)
        out(f"[created] {chat.chat_id} {chat.display_name(self.me)}")

    async def read_command(self, rest: str) -> None:
        chat_id = self.need_open()
        seq = self.last_seen.get(chat_id, 0)
        if seq:
            await self.client.mark_read(chat_id, seq)
        out(f"[read] {chat_id} up to {seq}")

    async def history_command(self, rest: str) -> None:
        chat_id = self.need_open()
        before = rest.strip()
        if before and not before.isdigit():
            raise UsageError("usage: /history [SEQ]")
        messages, has_more = await self.client.history(chat_id, before=int(before) if before else None)
        for message in messages:
            out(f"  {message.seq} {message_text(message)}")
        out(f"[more] /history {messages[0].seq} shows older" if has_more and messages else "[end]")

    # -- actions (interactive commands and one-shot subcommands alike) ---------------------------

    async def say(self, chat_id: str, text: str) -> None:
        ack = await self.client.send(chat_id, text)
        self.last_seen[chat_id] = max(ack.seq, self.last_seen.get(chat_id, 0))
        out(f"[ack] {ack.chat_id} seq {ack.seq}")

    async def open_chat(self, chat_id: str) -> None:
        opened = await self.client.open_chat(chat_id, self.in_chat)
        self.open = chat_id
        out(f"[opened] {chat_id} {opened.chat.display_name(self.me)} ({len(opened.messages)} messages)")
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

    async def rename(self, chat_id: str, title: str) -> None:
        self.updated(await self.client.update_chat(chat_id, title=title or None))

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
        out(f"[updated] {chat.chat_id} {chat.display_name(self.me)} ({chat.member_count} members)")

    async def read(self, chat_id: str) -> None:
        chat = next((c for c in await self.client.list_chats() if c.chat_id == chat_id), None)
        if chat is None:
            raise UsageError(f"no chat {chat_id} among yours: chat chats lists them")
        if chat.last_seq:
            await self.client.mark_read(chat.chat_id, chat.last_seq)
        out(f"[read] {chat.chat_id} up to {chat.last_seq}")

    async def interactive(self) -> None:
        loop = asyncio.get_running_loop()
        out("[ready] /help lists the commands")
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:  # end of input
                return
            if not await self.run_reporting(self.command(line)):
                return

    @staticmethod
    async def run_reporting(step: Awaitable[bool]) -> bool:
        """Run one command, printing what went wrong instead of raising; False to quit."""
        try:
            return await step
        except ChatError as exc:
            out(error_line(exc))
        except (UsageError, ValueError) as exc:
            out(f"[error] {exc}")
        except (ConnectionLost, RequestTimeout) as exc:
            out(f"[error] {exc}")
        return True


# One-shot subcommands: usage, the least number of arguments, and what to do with them.
OneShot = Callable[[Shell, list[str]], Awaitable[None]]


async def _interactive_after(step: Awaitable[None], shell: Shell) -> None:
    await step
    await shell.interactive()


ONE_SHOT: dict[str, tuple[str, int, OneShot]] = {
    "chats": ("chat chats", 0, lambda sh, a: sh.chats()),
    "create": ("chat create USER... [--title TITLE]", 0, lambda sh, a: sh.create_command(" ".join(a))),
    "send": ("chat send CHAT_ID TEXT", 2, lambda sh, a: sh.say(a[0], " ".join(a[1:]))),
    "read": ("chat read CHAT_ID", 1, lambda sh, a: sh.read(a[0])),
    "members": ("chat members CHAT_ID", 1, lambda sh, a: sh.members(a[0])),
    "add": ("chat add CHAT_ID USER...", 2, lambda sh, a: sh.add(a[0], a[1:])),
    "remove": ("chat remove CHAT_ID USER...", 2, lambda sh, a: sh.remove(a[0], a[1:])),
    "rename": ("chat rename CHAT_ID [TITLE]", 1, lambda sh, a: sh.rename(a[0], " ".join(a[1:]))),
    "leave": ("chat leave CHAT_ID", 1, lambda sh, a: sh.leave(a[0])),
    "mute": ("chat mute CHAT_ID", 1, lambda sh, a: sh.mute(a[0], True)),
    "unmute": ("chat unmute CHAT_ID", 1, lambda sh, a: sh.mute(a[0], False)),
    "devices": ("chat devices", 0, lambda sh, a: sh.devices()),
    "register-device": (REGISTER_USAGE.removeprefix("usage: "), 2, lambda sh, a: sh.register_device(a)),
    "unregister-device": ("chat unregister-device DEVICE_ID", 1, lambda sh, a: sh.unregister_device(a[0])),
    "open": ("chat open CHAT_ID", 1, lambda sh, a: _interactive_after(sh.open_chat(a[0]), sh)),
    "dm": ("chat dm USER", 1, lambda sh, a: _interactive_after(sh.dm(a[0]), sh)),
    "shell": ("chat shell", 0, lambda sh, a: sh.interactive()),
}


async def _main(args: argparse.Namespace) -> int:
    usage, least, action = ONE_SHOT[args.command or "shell"]
    if len(args.args) < least:
        out(f"usage: {usage}")
        return 2
    token = os.environ.get("CHAT_TOKEN")
    if not token:
        if not args.user:
            out("give --user ID (local stack) or set CHAT_TOKEN")
            return 2
        token = _dev_token(args.server, args.user)
    client = ChatClient(_ws_url(args), token, request_timeout=args.timeout)
    await client.start()
    try:
        await action(Shell(client), args.args)
    except ChatError as exc:
        out(error_line(exc))
        return 1
    except (UsageError, ValueError) as exc:
        out(f"[error] {exc}")
        return 2
    finally:
        await client.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="chat", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--user", help="your user id (local stack: a dev token is fetched for it)")
    parser.add_argument("--server", default=os.environ.get("CHAT_SERVER", "http://127.0.0.1:8000"))
    parser.add_argument("--url", help="WebSocket URL (default: the server's /ws); use with CHAT_TOKEN")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a reply")
    parser.add_argument("command", nargs="?", choices=sorted(ONE_SHOT))
    parser.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        out(f"[error] cannot reach the server: {exc}")
        return 1
