"""``chat``: a line-oriented chat in the terminal, on top of ChatClient.

    chat --user alice chats                 # your chats, unread counts as badges
    chat --user alice create bob --title Hi # a new chat; prints its id
    chat --user alice send c_01... "hello"  # send one message
    chat --user alice read c_01...          # mark everything in it read
    chat --user alice                       # interactive: /help lists the commands

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

from chatclient.client import ChatClient, ConnectionLost, RequestTimeout
from chatclient.models import Chat, ChatError, Message, Receipt, Typing

HELP = """commands:
  /chats                  list chats (unread in [brackets])
  /open CHAT_ID           view a chat: its messages print as they come; lines you type go there
  /close                  stop viewing it
  /create USER... [-- TITLE]
  /read                   mark the open chat read
  /history                the open chat's latest messages
  /quit
anything else is sent to the open chat"""


def out(line: str) -> None:
    print(line, flush=True)


def _dev_token(server: str, user: str) -> str:
    query = urllib.parse.urlencode({"user": user})
    with urllib.request.urlopen(f"{server.rstrip('/')}/dev/token?{query}", timeout=10) as response:
        return str(json.load(response)["token"])


def _ws_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    server = str(args.server).rstrip("/")
    return server.replace("http://", "ws://").replace("https://", "wss://") + "/ws"


def _chat_line(chat: Chat) -> str:
    badge = f" [{chat.unread}]" if chat.unread else ""
    last = f" - {chat.last_message.sender_id}: {chat.last_message.text}" if chat.last_message else ""
    return f"{chat.chat_id} {chat.name}{badge}{last}"


class Shell:
    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.open: str | None = None
        self.last_seen: dict[str, int] = {}
        client.on_background = self.background
        client.on_chat_added = lambda chat: out(f"[added] {chat.chat_id} {chat.name}")
        client.on_receipt = self.receipt
        client.on_typing = self.typing
        client.on_state = lambda state: out(f"[{state}]") if state in ("offline", "online") else None

    def background(self, message: Message) -> None:
        out(f"[bg] {message.chat_id} {message.sender_id}: {message.text}")

    def in_chat(self, message: Message) -> None:
        out(f"[{message.chat_id}] {message.sender_id}: {message.text}")
        self.last_seen[message.chat_id] = message.seq

    def receipt(self, receipt: Receipt) -> None:
        r = receipt
        out(f"[receipt] {r.chat_id} {r.user_id} delivered {r.delivered_seq} read {r.read_seq}")

    def typing(self, typing: Typing) -> None:
        if typing.typing:
            out(f"[typing] {typing.chat_id} {typing.user_id}")

    async def command(self, line: str) -> bool:
        """Run one input line; False to quit."""
        line = line.strip()
        if not line:
            return True
        if not line.startswith("/"):
            if self.open is None:
                out("[error] no chat open: /open CHAT_ID first")
                return True
            ack = await self.client.send(self.open, line)
            self.last_seen[self.open] = ack.seq
            out(f"[ack] {ack.chat_id} seq {ack.seq}")
            return True
        name, _, rest = line.partition(" ")
        if name == "/quit":
            return False
        if name == "/help":
            out(HELP)
        elif name == "/chats":
            for chat in await self.client.list_chats():
                out(_chat_line(chat))
            out("[end]")
        elif name == "/open":
            await self.open_chat(rest.strip())
        elif name == "/close" and self.open:
            await self.client.close_chat(self.open)
            out(f"[closed] {self.open}")
            self.open = None
        elif name == "/create":
            members, _, title = rest.partition("--")
            chat = await self.client.create_chat(members.split(), title.strip() or None)
            out(f"[created] {chat.chat_id} {chat.name}")
        elif name == "/read" and self.open:
            seq = self.last_seen.get(self.open, 0)
            if seq:
                await self.client.mark_read(self.open, seq)
            out(f"[read] {self.open} up to {seq}")
        elif name == "/history" and self.open:
            messages, _ = await self.client.history(self.open)
            for message in messages:
                out(f"  {message.seq} {message.sender_id}: {message.text}")
            out("[end]")
        else:
            out(f"[error] unknown command {line!r}: /help lists them")
        return True

    async def open_chat(self, chat_id: str) -> None:
        opened = await self.client.open_chat(chat_id, self.in_chat)
        self.open = chat_id
        out(f"[opened] {chat_id} {opened.chat.name} ({len(opened.messages)} messages)")
        for message in opened.messages:
            out(f"  {message.seq} {message.sender_id}: {message.text}")
        if opened.messages:
            self.last_seen[chat_id] = opened.messages[-1].seq
            await self.client.mark_read(chat_id, opened.messages[-1].seq)

    async def interactive(self) -> None:
        loop = asyncio.get_running_loop()
        out("[ready] /help lists the commands")
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:  # end of input
                return
            try:
                if not await self.command(line):
                    return
            except ChatError as exc:
                out(f"[error] {exc.code}: {exc.message}")
            except (ConnectionLost, RequestTimeout) as exc:
                out(f"[error] {exc}")


async def _main(args: argparse.Namespace) -> int:
    token = os.environ.get("CHAT_TOKEN")
    if not token:
        if not args.user:
            out("give --user ID (local stack) or set CHAT_TOKEN")
            return 2
        token = _dev_token(args.server, args.user)
    client = ChatClient(_ws_url(args), token, request_timeout=args.timeout)
    await client.start()
    shell = Shell(client)
    try:
        if args.command == "chats":
            await shell.command("/chats")
        elif args.command == "create":
            await shell.command("/create " + " ".join(args.args))
        elif args.command == "send":
            if len(args.args) < 2:
                out("usage: chat send CHAT_ID TEXT")
                return 2
            ack = await client.send(args.args[0], " ".join(args.args[1:]))
            out(f"[ack] {ack.chat_id} seq {ack.seq}")
        elif args.command == "read":
            chats = {c.chat_id: c for c in await client.list_chats()}
            chat = chats.get(args.args[0]) if args.args else None
            if chat is None:
                out("usage: chat read CHAT_ID (one of yours)")
                return 2
            if chat.last_seq:
                await client.mark_read(chat.chat_id, chat.last_seq)
            out(f"[read] {chat.chat_id} up to {chat.last_seq}")
        elif args.command == "open":
            await shell.open_chat(args.args[0])
            await shell.interactive()
        else:
            await shell.interactive()
    except ChatError as exc:
        out(f"[error] {exc.code}: {exc.message}")
        return 1
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
    parser.add_argument("command", nargs="?", choices=["chats", "create", "send", "read", "open", "shell"])
    parser.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        out(f"[error] cannot reach the server: {exc}")
        return 1
