"""``chat``: a line-oriented chat in the terminal, on top of ChatClient.

    chat --user alice chats                    # your chats, numbered, unread counts as badges
    chat --user alice create bob --title Hi    # a new group; prints its id
    chat --user alice dm bob                   # the direct chat with bob, opened (interactive)
    chat --user alice open Hi                  # a chat by id, id prefix, title prefix or number
    chat --user alice send c_01... "hello"     # send one message (@bob mentions bob)
    chat --user alice reply c_01... 3 "yes"    # answer message 3 (the number shown beside it)
    chat --user alice edit c_01... 4 "hello"   # a new text for your message 4
    chat --user alice delete c_01... 4         # delete message 4 for everyone
    chat --user alice react c_01... 3 👍       # react to message 3 (no emoji: take it back)
    chat --user alice report c_01... 5 spam   # report message 5 to the operators, with a reason
    chat --user alice file c_01... beach.jpg "the view"  # send a file (at most 25 MiB), with text
    chat --user alice save c_01... 7 ~/Downloads       # save message 7's files there
    chat --user alice notify c_01... mentions  # push only for mentions and replies (all, none)
    chat --user alice read c_01...             # mark everything in it read
    chat --user alice members c_01...          # who is in it (admins marked)
    chat --user alice add c_01... carol dave   # admins: add members
    chat --user alice remove c_01... carol     # admins: remove members
    chat --user alice rename c_01... New title # admins: rename (no title: clear it)
    chat --user alice leave c_01...            # leave the chat
    chat --user alice mute c_01...             # notifications to none, as notify none (unmute: all)
    chat --user alice devices                  # devices registered for push notifications
    chat --user alice block bob                # block bob (unblock bob; blocks: whom you block)
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
import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable

from chatclient.cli.arguments import (
    CHAT_HELP,
    INTERACTIVE,
    REGISTER_USAGE,
    HelpShown,
    Spec,
    UsageError,
    environment_text,
    parse_seq,
)
from chatclient.cli.output import error_line, out
from chatclient.cli.shell import Shell
from chatclient.client import ChatClient
from chatclient.errors import (
    AuthError,
    CannotConnect,
    ConnectionLost,
    DownloadFailed,
    RequestTimeout,
    UploadFailed,
)
from chatclient.models import ChatError


class CliFailure(Exception):
    """The CLI cannot go on (no server, a refused token): one line says why and what to do."""


# -- one-shot subcommands --------------------------------------------------------------------------

OneShot = Callable[[Shell, argparse.Namespace], Awaitable[None]]


def _one_shot_help(command: str) -> str:
    """An interactive command's help said of ``CHAT`` and the one-shot commands."""
    text = INTERACTIVE[command].help.replace("the open chat", "CHAT")
    return text.replace("/notify", "chat notify").replace("/chats", "chat chats")


async def _interactive_after(step: Awaitable[None], shell: Shell) -> None:
    await step
    await shell.interactive()


async def _chat_id(shell: Shell, ns: argparse.Namespace) -> str:
    return await shell.chat_named(" ".join(ns.chat) if isinstance(ns.chat, list) else str(ns.chat))


async def _send(sh: Shell, ns: argparse.Namespace) -> None:
    await sh.say(await _chat_id(sh, ns), " ".join(ns.text))


def _seq(ns: argparse.Namespace, command: str) -> int:
    return parse_seq(ns.seq, f"chat {command} {ONE_SHOT[command][0].arguments}")


async def _reply(sh: Shell, ns: argparse.Namespace) -> None:
    await sh.say(await _chat_id(sh, ns), " ".join(ns.text), reply_to=_seq(ns, "reply"))


async def _edit(sh: Shell, ns: argparse.Namespace) -> None:
    await sh.edit(await _chat_id(sh, ns), _seq(ns, "edit"), " ".join(ns.text))


async def _delete(sh: Shell, ns: argparse.Namespace) -> None:
    await sh.delete(await _chat_id(sh, ns), _seq(ns, "delete"))


async def _react(sh: Shell, ns: argparse.Namespace) -> None:
    await sh.react(await _chat_id(sh, ns), _seq(ns, "react"), ns.emoji)


async def _report(sh: Shell, ns: argparse.Namespace) -> None:
    reason = " ".join(ns.reason).strip()
    await sh.report(await _chat_id(sh, ns), _seq(ns, "report"), reason or None)


async def _file(sh: Shell, ns: argparse.Namespace) -> None:
    await sh.send_file(await _chat_id(sh, ns), ns.path, " ".join(ns.text))


async def _save(sh: Shell, ns: argparse.Namespace) -> None:
    await sh.save(await _chat_id(sh, ns), _seq(ns, "save"), ns.dir)


async def _notify(sh: Shell, ns: argparse.Namespace) -> None:
    await sh.notify(await _chat_id(sh, ns), ns.level)


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
    "send": (Spec("CHAT TEXT...", "send one message to CHAT (@USER mentions USER)"), _send),
    "reply": (Spec("CHAT SEQ TEXT...", "answer message SEQ (the number shown beside it)"), _reply),
    "edit": (Spec("CHAT SEQ TEXT...", "a new text for your message SEQ"), _edit),
    "delete": (Spec("CHAT SEQ", "delete message SEQ for everyone (yours; an admin: anyone's)"), _delete),
    "react": (Spec("CHAT SEQ [EMOJI]", "react to message SEQ; no EMOJI takes your reaction back"), _react),
    "report": (Spec("CHAT SEQ [REASON...]", "report message SEQ (someone else's) to the operators"), _report),
    "file": (Spec("CHAT PATH [TEXT...]", "send the file at PATH (at most 25 MiB) to CHAT, with TEXT"), _file),
    "save": (Spec("CHAT SEQ [DIR]", "save the files of message SEQ into DIR (default: here)"), _save),
    "notify": (Spec("CHAT LEVEL", "notifications for CHAT: all, mentions (and replies) or none"), _notify),
    "read": (Spec("CHAT", "mark everything in CHAT read"), _read),
    "members": (Spec("CHAT", "who is in CHAT (admins marked)"), _members),
    "add": (Spec("CHAT USER...", "add members to CHAT (admins)"), _add),
    "remove": (Spec("CHAT USER...", "remove members from CHAT (admins)"), _remove),
    "rename": (Spec("CHAT [TITLE...] [--title TITLE]", "rename CHAT; no title clears it (admins)"), _rename),
    "leave": (Spec("CHAT", "leave CHAT"), _leave),
    "mute": (
        Spec("CHAT", _one_shot_help("/mute")),
        lambda sh, ns: _mute(sh, ns, True),
    ),
    "unmute": (
        Spec("CHAT", _one_shot_help("/unmute")),
        lambda sh, ns: _mute(sh, ns, False),
    ),
    "devices": (Spec("", "your devices registered for push notifications"), lambda sh, ns: sh.devices()),
    "block": (
        Spec("USER", "block USER: no messages between you in your direct chat, no pushes from them"),
        lambda sh, ns: sh.block(ns.user, True),
    ),
    "unblock": (Spec("USER", "stop blocking USER"), lambda sh, ns: sh.block(ns.user, False)),
    "blocks": (Spec("", "the users you block"), lambda sh, ns: sh.blocks()),
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
    except (ConnectionLost, RequestTimeout, UploadFailed, DownloadFailed) as exc:
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
        prog="chat",
        description=__doc__,
        epilog=environment_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--user", help="your user id (local stack: a dev token is fetched for it)")
    parser.add_argument(
        "--server",
        default=os.environ.get("CHAT_SERVER", "http://127.0.0.1:8000"),
        help="the local stack (default: CHAT_SERVER, else http://127.0.0.1:8000)",
    )
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
