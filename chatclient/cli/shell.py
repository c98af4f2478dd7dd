"""The interactive shell: lines from stdin, read by the event loop itself (``Lines``: Ctrl-C
and a stopped client end the wait at once), each run as a command (``/open CHAT``...) or sent
to the open chat, with what the server pushes printed as it comes. A line ending in a
backslash goes on on the next line (``Entry``): multi-line messages, and multi-line texts of
``/reply`` and ``/edit``, which take their text as typed (no shell quoting).

Imports ``chatclient.client`` and the CLI's ``output``, ``arguments`` and ``commands``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sys
from collections.abc import Awaitable, Callable

from chatclient.cli.arguments import HELP, INTERACTIVE, HelpShown, UsageError, parse_seq, parse_title
from chatclient.cli.commands import Commands
from chatclient.cli.output import error_line, message_text, out
from chatclient.client import ChatClient
from chatclient.errors import (
    AuthError,
    CannotConnect,
    ConnectionLost,
    DownloadFailed,
    RequestTimeout,
    UploadFailed,
)
from chatclient.models import Chat, ChatError, Message, Receipt, Typing


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


class Entry:
    """Typed lines into entries: a line ending in a backslash goes on on the next line (the
    backslash becomes a line break), so a message or a command's text can span lines."""

    def __init__(self) -> None:
        self.pending: list[str] = []

    def add(self, line: str) -> str | None:
        """The entry ``line`` completes, or None while it goes on."""
        line = line.rstrip("\r\n")  # a line read from a file keeps its line break
        if line.endswith("\\"):
            self.pending.append(line[:-1])
            return None
        return self.finish(line)

    def finish(self, line: str = "") -> str | None:
        """What is pending (the input ended), with ``line``; None if nothing is."""
        if not self.pending and not line:
            return None
        entry = "\n".join([*self.pending, line]) if self.pending else line
        self.pending = []
        return entry


RAW_TEXT = ("/reply", "/edit", "/report")  # SEQ and then the text as typed, line breaks and quotes kept


class Shell(Commands):
    """The interactive commands (``commands``: one per ``INTERACTIVE`` entry but ``/quit``) on
    top of the actions, and the client's pushed events printed as lines."""

    def __init__(self, client: ChatClient) -> None:
        super().__init__(client)
        self.lines: Lines | None = None
        client.on_background = self.background
        client.on_chat_added = lambda chat: self.chat_event("added", chat)
        client.on_chat_removed = self.removed
        client.on_chat_updated = lambda chat: self.chat_event("updated", chat)
        client.on_message_updated = self.changed
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
            "/reply": lambda a: self.raw_text_command("/reply", a[0]),
            "/edit": lambda a: self.raw_text_command("/edit", a[0]),
            "/delete": lambda a: self.delete(self.need_open(), parse_seq(a[0], "/delete SEQ")),
            "/react": self.react_command,
            "/report": lambda a: self.raw_text_command("/report", a[0]),
            "/file": lambda a: self.send_file(self.need_open(), a[0], " ".join(a[1:])),
            "/save": lambda a: self.save(
                self.need_open(), parse_seq(a[0], "/save SEQ [DIR]"), a[1] if len(a) > 1 else None
            ),
            "/notify": lambda a: self.notify(self.need_open(), a[0]),
            "/mute": lambda a: self.mute(self.need_open(), True),
            "/unmute": lambda a: self.mute(self.need_open(), False),
            "/devices": lambda a: self.devices(),
            "/block": lambda a: self.block(a[0], True),
            "/unblock": lambda a: self.block(a[0], False),
            "/blocks": lambda a: self.blocks(),
        }

    # -- what the server pushes ------------------------------------------------------------------

    def chat_event(self, what: str, chat: Chat) -> None:
        self.remember(chat)
        out(f"[{what}] {chat.chat_id} {chat.display_name(self.me)}")

    def background(self, message: Message) -> None:
        """A message of a chat you are not viewing: ``[bg] c_01... Weekend - alice: hi`` (the
        chat's title, or the other person of a direct chat, once the shell has seen the chat)."""
        out(f"[bg] {self.named(message.chat_id)} {message_text(message, self.me, self.quote_of(message))}")

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
        name, *others = line.split(maxsplit=1)  # a space or a line break ends the name
        rest = others[0] if others else ""
        if name == "/quit":
            return False
        command, spec = self.commands.get(name), INTERACTIVE.get(name)
        if command is None or spec is None:
            raise UsageError(f"unknown command {name!r}: /help lists them")
        if name in RAW_TEXT:  # the text as typed: no shell quoting, line breaks kept
            await command([rest])
            return True
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

    async def raw_text_command(self, name: str, rest: str) -> None:
        """``/reply SEQ TEXT``, ``/edit SEQ TEXT`` and ``/report SEQ [REASON]``: the text as typed
        (quotes, line breaks)."""
        usage = f"{name} {INTERACTIVE[name].arguments}"
        seq_word, *others = rest.split(maxsplit=1) or [""]
        text = others[0] if others else ""
        if seq_word in ("-h", "--help"):
            raise UsageError(INTERACTIVE[name].parser(name).format_help().rstrip())
        seq = parse_seq(seq_word or None, usage)
        if name == "/report":  # the reason is optional
            await self.report(self.need_open(), seq, text.strip() or None)
            return
        if not text.strip():
            raise UsageError(f"give the text too: {usage}")
        chat_id = self.need_open()
        if name == "/reply":
            await self.say(chat_id, text.strip(), reply_to=seq)
        else:
            await self.edit(chat_id, seq, text.strip())

    async def react_command(self, words: list[str]) -> None:
        seq = parse_seq(words[0] if words else None, "/react SEQ [EMOJI]")
        await self.react(self.need_open(), seq, words[1] if len(words) > 1 else None)

    async def help(self, words: list[str]) -> None:
        if not words:
            out(HELP)
            return
        name = words[0] if words[0].startswith("/") else f"/{words[0]}"
        spec = INTERACTIVE.get(name)
        if spec is None:
            raise UsageError(f"unknown command {name!r}: /help lists them")
        out(spec.parser(name).format_help().rstrip())

    async def interactive(self) -> None:
        """Lines from stdin until /quit, the end of input, or the client giving up."""
        self.lines = Lines()
        entry = Entry()
        with contextlib.suppress(ChatError, ConnectionLost, RequestTimeout):  # names for [bg] lines
            for chat in await self.client.list_chats():
                self.remember(chat)
        out("[ready] /help lists the commands")
        try:
            while self.client.error is None:
                line = await self.lines.queue.get()
                typed = entry.finish() if line is None else entry.add(line)
                if typed is not None and not await self.run_reporting(self.command(typed)):
                    return
                if line is None:
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
        except (UploadFailed, DownloadFailed) as exc:
            out(f"[error] {exc}")
        except (AuthError, CannotConnect):
            return False  # the client stopped: the caller says why
        return True
