"""The CLI's argument parsing: each command's arguments as in a usage line (``Spec``), read by
argparse without ever exiting the process (a mistake is one ``UsageError`` line; ``--help``
prints and raises ``HelpShown``), the interactive commands and their help, and the parsers of
``create``, ``rename`` and ``register-device``. No I/O but printing a command's help.

Imports only ``chatclient.cli.output``."""

from __future__ import annotations

import argparse
import json
import shlex
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from chatclient.cli.output import out


class UsageError(Exception):
    """A command used the wrong way; the message says how to use it."""


class HelpShown(Exception):
    """``--help`` was asked for and printed: nothing to run."""


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
    "/reply": Spec("SEQ TEXT...", "answer message SEQ (the number beside it) in the open chat"),
    "/edit": Spec("SEQ TEXT...", "give your message SEQ a new text (its @mentions too)"),
    "/delete": Spec("SEQ", "delete message SEQ for everyone (yours; an admin: anyone's)"),
    "/react": Spec("SEQ [EMOJI]", "react to message SEQ with EMOJI; no EMOJI takes yours back"),
    "/report": Spec("SEQ [REASON...]", "report message SEQ (someone else's) to the operators, with a reason"),
    "/file": Spec("PATH [TEXT...]", "send the file at PATH (at most 25 MiB) to the open chat, with TEXT"),
    "/save": Spec("SEQ [DIR]", "save the files of message SEQ into DIR (default: the current folder)"),
    "/notify": Spec("LEVEL", "notifications for the open chat: all, mentions (and replies to you) or none"),
    "/mute": Spec(
        "",
        "set the open chat's notifications to none, as /notify none: no push notifications, its unread "
        "left out of your badge; its messages still arrive (/chats says (muted))",
    ),
    "/unmute": Spec(
        "", "set the open chat's notifications to all, as /notify all (a mentions level is not kept)"
    ),
    "/devices": Spec("", "your devices registered for push notifications"),
    "/block": Spec("USER", "block USER: no messages between you in your direct chat, no pushes from them"),
    "/unblock": Spec("USER", "stop blocking USER"),
    "/blocks": Spec("", "the users you block"),
    "/help": Spec("[COMMAND]", "the commands, or one command's usage"),
    "/quit": Spec("", "leave the program (Ctrl-C and Ctrl-D too)"),
}


# Every environment variable the CLI and the client read (a test greps chatclient/ for them).
ENVIRONMENT: dict[str, str] = {
    "CHAT_SERVER": "the local stack's address when --server is not given (default http://127.0.0.1:8000)",
    "CHAT_TOKEN": "a token to use instead of a dev token for --user (a deployment: give --url too)",
}

HELP_WIDTH = 100  # no line of /help is longer: a long help goes on, indented, on the next lines
USAGE_COLUMN = 30  # where each command's help starts


def _entry(usage: str, text: str) -> list[str]:
    """One command of /help: its usage, then its whole help, wrapped (never cut)."""
    return textwrap.wrap(
        text,
        width=HELP_WIDTH,
        initial_indent=f"  {usage:<{USAGE_COLUMN - 3}} ",
        subsequent_indent=" " * USAGE_COLUMN,
        break_long_words=False,
        break_on_hyphens=False,
    )


def environment_text() -> str:
    """The environment variables, for /help's footer and ``chat --help``."""
    lines = ["environment:"]
    for name, text in ENVIRONMENT.items():
        lines.extend(_entry(name, text))
    return "\n".join(lines)


def _help_text() -> str:
    lines = ["commands:"]
    for name, spec in INTERACTIVE.items():
        lines.extend(_entry(f"{name} {spec.arguments}".strip(), spec.help))
    lines.append("anything else is sent to the open chat; /help COMMAND shows its usage")
    lines.append("@USER in a message mentions USER; a line ending in \\ goes on on the next line")
    lines.append(environment_text())
    return "\n".join(lines)


HELP = _help_text()

NOTIFY_USAGE = "give a level: all, mentions (only mentions of you and replies to you) or none"
SEQ_USAGE = "the message's number, as shown beside it"


def parse_seq(word: str | None, usage: str) -> int:
    """A message's number (its ``seq``, shown beside it); ``usage``: the command's usage line."""
    if word is None or not word.isdigit() or int(word) < 1:
        shown = "nothing" if word is None else repr(word)
        raise UsageError(f"give {SEQ_USAGE}, not {shown}: {usage}")
    return int(word)


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
