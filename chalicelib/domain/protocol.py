"""Wire protocol (v1, v2 and v3): parse client frames into typed requests, render server frames.

Pure functions, no I/O. ``parse_request`` either returns one of the request dataclasses below
or raises a ``ChatError`` (with the frame's ``req`` attached when it could be read), so every
frame gets exactly one reply.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.changes import MAX_MENTIONS
from chalicelib.domain.errors import BadRequest, ChatError, TooLarge
from chalicelib.domain.frames import MAX_FRAME_BYTES as MAX_FRAME_BYTES
from chalicelib.domain.frames import encode as encode
from chalicelib.domain.ids import USER_ID_RE
from chalicelib.domain.records import (
    MAX_ADMINS,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_MEMBERS,
    MAX_TOKEN_CHARS,
    NOTIFY_LEVELS,
    PLATFORMS,
)
from chalicelib.domain.requests import LIST_DEFAULT_LIMIT as LIST_DEFAULT_LIMIT
from chalicelib.domain.requests import AttachmentCreate as AttachmentCreate
from chalicelib.domain.requests import ChatAdd as ChatAdd
from chalicelib.domain.requests import ChatChanges as ChatChanges
from chalicelib.domain.requests import ChatClose as ChatClose
from chalicelib.domain.requests import ChatCreate as ChatCreate
from chalicelib.domain.requests import ChatHistory as ChatHistory
from chalicelib.domain.requests import ChatLeave as ChatLeave
from chalicelib.domain.requests import ChatList as ChatList
from chalicelib.domain.requests import ChatMembers as ChatMembers
from chalicelib.domain.requests import ChatMute as ChatMute
from chalicelib.domain.requests import ChatNotify as ChatNotify
from chalicelib.domain.requests import ChatOpen as ChatOpen
from chalicelib.domain.requests import ChatRemove as ChatRemove
from chalicelib.domain.requests import ChatUpdate as ChatUpdate
from chalicelib.domain.requests import DeviceList as DeviceList
from chalicelib.domain.requests import DeviceRegister as DeviceRegister
from chalicelib.domain.requests import DeviceUnregister as DeviceUnregister
from chalicelib.domain.requests import MessageDelete as MessageDelete
from chalicelib.domain.requests import MessageEdit as MessageEdit
from chalicelib.domain.requests import MessageReport as MessageReport
from chalicelib.domain.requests import MessageSend as MessageSend
from chalicelib.domain.requests import Ping as Ping
from chalicelib.domain.requests import ReactionSet as ReactionSet
from chalicelib.domain.requests import Receipt as Receipt
from chalicelib.domain.requests import Request as Request
from chalicelib.domain.requests import Typing as Typing
from chalicelib.domain.requests import UserBlock as UserBlock
from chalicelib.domain.requests import UserBlocks as UserBlocks

MAX_TEXT_CHARS = 4096
MAX_TITLE_CHARS = 200
MAX_REQ_CHARS = 64
P256_POINT_BYTES = 65
AUTH_SECRET_BYTES = 16
MAX_CURSOR_CHARS = 512
HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100
OPEN_PAGE_SIZE = 50
CHANGES_DEFAULT_LIMIT = 50
MAX_EMOJI_CHARS = 16
MAX_REASON_CHARS = 500

ATTACHMENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
# type/subtype, each an RFC 6838 restricted name (no parameters: "; charset=" is not a type)
CONTENT_TYPE_RE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\Z"
)
MAX_NAME_CHARS = 200
CHAT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
CLIENT_MSG_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
WEBPUSH_KEY_RE = re.compile(r"^[A-Za-z0-9_=+/-]+\Z")


@dataclass(frozen=True)
class Envelope:
    """A parsed frame: the request and the ``req`` its reply must echo."""

    request: Request
    req: str | None


class FrameError(Exception):
    """A ChatError together with the ``req`` of the frame that caused it (if readable)."""

    def __init__(self, error: ChatError, req: str | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.req = req


# ---------------------------------------------------------------- field readers


def _fail(message: str) -> BadRequest:
    return BadRequest(message)


def _valid_unicode(value: str, name: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(f"'{name}' is not valid Unicode (lone surrogate)") from None
    return value


def _string(body: Mapping[str, Any], name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = body.get(name)
    if value is None:
        raise _fail(f"'{name}' is required")
    if not isinstance(value, str):
        raise _fail(f"'{name}' must be a string")
    if pattern is not None and not pattern.match(value):
        raise _fail(f"'{name}' is not a valid id")
    return _valid_unicode(value, name)


def _int(body: Mapping[str, Any], name: str, minimum: int, required: bool = True) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise _fail(f"'{name}' is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(f"'{name}' must be an integer")
    if value < minimum:
        raise _fail(f"'{name}' must be at least {minimum}")
    if value > 2**53:
        raise _fail(f"'{name}' is out of range")
    return value


def _chat_id(body: Mapping[str, Any]) -> str:
    return _string(body, "chat_id", CHAT_ID_RE)


# ---------------------------------------------------------------- per-action parsers


def _user_ids(body: Mapping[str, Any], name: str, limit: int) -> tuple[str, ...]:
    """A list of user ids, duplicates dropped (in first-seen order) before the limit applies."""
    values = body.get(name)
    if not isinstance(values, list):
        raise _fail(f"'{name}' must be a list of user ids")
    for value in values:
        if not isinstance(value, str) or not USER_ID_RE.match(value):
            raise _fail(f"'{name}' must be a list of user ids (1-64 of A-Za-z0-9_.@-)")
    unique = tuple(dict.fromkeys(values))
    if len(unique) > limit:
        raise TooLarge(f"'{name}' names more than {limit} users")
    return unique


def _title(body: Mapping[str, Any]) -> str | None:
    title = body.get("title")
    if title is None:
        return None
    if not isinstance(title, str):
        raise _fail("'title' must be a string")
    _valid_unicode(title, "title")
    if len(title) > MAX_TITLE_CHARS:
        raise TooLarge(f"'title' is longer than {MAX_TITLE_CHARS} characters")
    return title


def _bool(body: Mapping[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise _fail(f"'{name}' must be true or false")
    return value


def _parse_create(body: Mapping[str, Any]) -> ChatCreate:
    members = _user_ids(body, "members", MAX_MEMBERS)
    title = _title(body)
    if title is not None and not title.strip():
        title = None  # as chat.update: a blank title is no title
    direct = _bool(body, "direct", False)
    if direct and title is not None:
        raise _fail("a direct chat has no title")
    return ChatCreate(members=members, title=title, direct=direct)


def _parse_list(body: Mapping[str, Any]) -> ChatList:
    limit = _int(body, "limit", 1, required=False)
    if limit is None:
        limit = LIST_DEFAULT_LIMIT
    elif limit > LIST_DEFAULT_LIMIT:
        raise _fail(f"'limit' must be between 1 and {LIST_DEFAULT_LIMIT}")
    cursor = body.get("cursor")
    if cursor is not None and (not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR_CHARS):
        raise _fail("'cursor' must be the next_cursor of an earlier chat:list")
    return ChatList(limit=limit, cursor=cursor)


def _parse_update(body: Mapping[str, Any]) -> ChatUpdate:
    admins = _user_ids(body, "admins", MAX_ADMINS) if body.get("admins") is not None else None
    title_given = "title" in body
    title = _title(body)
    if title is not None and not title.strip():
        title = None  # a blank title clears it
    if not title_given and admins is None:
        raise _fail("chat.update needs 'title' or 'admins'")
    return ChatUpdate(chat_id=_chat_id(body), title=title, title_given=title_given, admins=admins)


def _key_part(keys: Mapping[str, Any], name: str, size: int) -> str:
    """A subscription key as the browser gives it: base64url of ``size`` bytes (p256dh: an
    uncompressed P-256 point, 65 bytes from 0x04; auth: a 16-byte secret)."""
    value = keys.get(name)
    problem = f"'subscription.keys.{name}' must be the browser's base64url key ({size} bytes)"
    if not isinstance(value, str) or not 0 < len(value) <= 512 or not WEBPUSH_KEY_RE.match(value):
        raise _fail(problem)
    try:
        raw = base64.urlsafe_b64decode(value.replace("+", "-").replace("/", "_").rstrip("=") + "==")
    except (binascii.Error, ValueError):
        raise _fail(problem) from None
    if len(raw) != size or (size == P256_POINT_BYTES and raw[0] != 4):
        raise _fail(problem)
    return value


def _parse_register(body: Mapping[str, Any]) -> DeviceRegister:
    platform = body.get("platform")
    if platform not in PLATFORMS:
        raise _fail("'platform' must be one of " + ", ".join(PLATFORMS))
    preview = _bool(body, "preview", True)
    if platform != "webpush":
        token = body.get("token")
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS or not token.isprintable():
            raise _fail(f"'token' must be 1-{MAX_TOKEN_CHARS} printable characters")
        return DeviceRegister(platform=str(platform), token=token, preview=preview)
    subscription = body.get("subscription")
    if not isinstance(subscription, dict):
        raise _fail("'subscription' must be the browser's PushSubscription as JSON")
    endpoint = subscription.get("endpoint")
    if not isinstance(endpoint, str) or not 0 < len(endpoint) <= MAX_TOKEN_CHARS:
        raise _fail("'subscription.endpoint' must be an https URL")
    keys = subscription.get("keys")
    if not isinstance(keys, dict):
        raise _fail("'subscription.keys' must hold p256dh and auth")
    return DeviceRegister(
        platform="webpush",
        token=_valid_unicode(endpoint, "subscription.endpoint"),
        preview=preview,
        p256dh=_key_part(keys, "p256dh", P256_POINT_BYTES),
        auth=_key_part(keys, "auth", AUTH_SECRET_BYTES),
    )


def _parse_mute(body: Mapping[str, Any]) -> ChatMute:
    muted = body.get("muted")
    if not isinstance(muted, bool):
        raise _fail("'muted' must be true or false")
    return ChatMute(chat_id=_chat_id(body), muted=muted)


def _parse_history(body: Mapping[str, Any]) -> ChatHistory:
    chat_id = _chat_id(body)
    before = _int(body, "before", 1, required=False)
    after = _int(body, "after", 0, required=False)
    limit = _int(body, "limit", 1, required=False)
    if limit is None:
        limit = HISTORY_DEFAULT_LIMIT
    elif limit > HISTORY_MAX_LIMIT:
        raise _fail(f"'limit' must be between 1 and {HISTORY_MAX_LIMIT}")
    return ChatHistory(chat_id=chat_id, before=before, after=after, limit=limit)


def _text(body: Mapping[str, Any]) -> str:
    text = body.get("text")
    if not isinstance(text, str):
        raise _fail("'text' must be a string")
    if not text:
        raise _fail("'text' must not be empty")
    if len(text) > MAX_TEXT_CHARS:
        raise TooLarge(f"'text' is longer than {MAX_TEXT_CHARS} characters")
    return _valid_unicode(text, "text")


def _mentions(body: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The user ids a message mentions as sent (None when absent); more than 50 is refused."""
    if body.get("mentions") is None:
        return None
    values = body["mentions"]
    if not isinstance(values, list) or not all(isinstance(v, str) and USER_ID_RE.match(v) for v in values):
        raise _fail("'mentions' must be a list of user ids (1-64 of A-Za-z0-9_.@-)")
    if len(values) > MAX_MENTIONS:
        raise _fail(f"'mentions' names more than {MAX_MENTIONS} users")
    return tuple(values)


def _seq(body: Mapping[str, Any], name: str = "seq") -> int:
    seq = _int(body, name, 1)
    assert seq is not None
    return seq


def _attachment_ids(body: Mapping[str, Any]) -> tuple[str, ...]:
    """1 to 10 distinct attachment ids, or none when absent."""
    values = body.get("attachments")
    if values is None:
        return ()
    if not isinstance(values, list) or not all(
        isinstance(v, str) and ATTACHMENT_ID_RE.match(v) for v in values
    ):
        raise _fail("'attachments' must be a list of attachment ids")
    if not 0 < len(values) <= MAX_ATTACHMENTS:
        raise _fail(f"'attachments' must name 1 to {MAX_ATTACHMENTS} attachments")
    if len(set(values)) != len(values):
        raise _fail("'attachments' names an attachment twice")
    return tuple(values)


def _parse_send(body: Mapping[str, Any]) -> MessageSend:
    chat_id = _chat_id(body)
    client_msg_id = body.get("client_msg_id")
    if not isinstance(client_msg_id, str) or not CLIENT_MSG_ID_RE.match(client_msg_id):
        raise _fail("'client_msg_id' must be 1-64 characters of A-Za-z0-9_-")
    attachments = _attachment_ids(body)
    # With files, the text may be "" or absent: the files are the message.
    text = "" if attachments and body.get("text") in (None, "") else _text(body)
    return MessageSend(
        chat_id=chat_id,
        client_msg_id=client_msg_id,
        text=text,
        reply_to=_int(body, "reply_to", 1, required=False),
        mentions=_mentions(body) or (),
        attachments=attachments,
    )


def _parse_attachment(body: Mapping[str, Any]) -> AttachmentCreate:
    chat_id = _chat_id(body)
    name = body.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS:
        raise _fail(f"'name' must be a file name of 1-{MAX_NAME_CHARS} characters")
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in _valid_unicode(name, "name")):
        raise _fail("'name' must not contain control characters")
    content_type = body.get("content_type")
    if not isinstance(content_type, str) or not CONTENT_TYPE_RE.match(content_type):
        raise _fail("'content_type' must be a media type, type/subtype (like image/jpeg)")
    size = body.get("size")
    if isinstance(size, bool) or not isinstance(size, int):
        raise _fail("'size' must be an integer number of bytes")
    if size < 1:
        raise _fail("'size' must be at least 1 byte")
    if size > MAX_ATTACHMENT_BYTES:
        raise TooLarge(f"'size' is over {MAX_ATTACHMENT_BYTES} bytes (25 MiB)")
    return AttachmentCreate(chat_id=chat_id, name=name, content_type=content_type.lower(), size=size)


def _parse_edit(body: Mapping[str, Any]) -> MessageEdit:
    return MessageEdit(chat_id=_chat_id(body), seq=_seq(body), text=_text(body), mentions=_mentions(body))


def _emoji(body: Mapping[str, Any]) -> str | None:
    """One emoji (or any short symbol): 1-16 characters, no whitespace, no control characters.
    Joiners and variation selectors (format characters) are allowed: emoji sequences need them."""
    if "emoji" not in body:
        raise _fail("'emoji' is required (null takes your reaction back)")
    emoji = body["emoji"]
    if emoji is None:
        return None
    if not isinstance(emoji, str) or not 0 < len(emoji) <= MAX_EMOJI_CHARS:
        raise _fail(f"'emoji' must be 1-{MAX_EMOJI_CHARS} characters, or null")
    for char in _valid_unicode(emoji, "emoji"):
        if char.isspace() or unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            raise _fail("'emoji' must not contain whitespace or control characters")
    return emoji


def _parse_changes(body: Mapping[str, Any]) -> ChatChanges:
    chat_id = _chat_id(body)
    after_rev = _int(body, "after_rev", 0)
    assert after_rev is not None
    limit = _int(body, "limit", 1, required=False)
    if limit is None:
        limit = CHANGES_DEFAULT_LIMIT
    elif limit > HISTORY_MAX_LIMIT:
        raise _fail(f"'limit' must be between 1 and {HISTORY_MAX_LIMIT}")
    return ChatChanges(chat_id=chat_id, after_rev=after_rev, limit=limit)


def _parse_notify(body: Mapping[str, Any]) -> ChatNotify:
    level = body.get("level")
    if level not in NOTIFY_LEVELS:
        raise _fail("'level' must be one of " + ", ".join(f'"{v}"' for v in NOTIFY_LEVELS))
    return ChatNotify(chat_id=_chat_id(body), level=str(level))


def _parse_receipt(read: bool) -> Callable[[Mapping[str, Any]], Receipt]:
    def parse(body: Mapping[str, Any]) -> Receipt:
        seq = _int(body, "seq", 0)
        assert seq is not None
        return Receipt(chat_id=_chat_id(body), seq=seq, read=read)

    return parse


def _parse_typing(body: Mapping[str, Any]) -> Typing:
    chat_id = _chat_id(body)
    typing = body.get("typing")
    if not isinstance(typing, bool):
        raise _fail("'typing' must be true or false")
    return Typing(chat_id=chat_id, typing=typing)


def _parse_report(body: Mapping[str, Any]) -> MessageReport:
    """A report's optional reason: a string of at most 500 characters; blank is none."""
    reason = body.get("reason")
    if reason is not None:
        if not isinstance(reason, str):
            raise _fail("'reason' must be a string")
        if len(_valid_unicode(reason, "reason")) > MAX_REASON_CHARS:
            raise TooLarge(f"'reason' is longer than {MAX_REASON_CHARS} characters")
    return MessageReport(
        chat_id=_chat_id(body), seq=_seq(body), reason=reason if reason and reason.strip() else None
    )


_PARSERS: dict[str, Callable[[Mapping[str, Any]], Request]] = {
    "ping": lambda body: Ping(),
    "chat.create": _parse_create,
    "chat.list": _parse_list,
    "chat.members": lambda body: ChatMembers(chat_id=_chat_id(body)),
    "chat.add": lambda body: ChatAdd(chat_id=_chat_id(body), members=_user_ids(body, "members", MAX_MEMBERS)),
    "chat.remove": lambda body: ChatRemove(
        chat_id=_chat_id(body), members=_user_ids(body, "members", MAX_MEMBERS)
    ),
    "chat.leave": lambda body: ChatLeave(chat_id=_chat_id(body)),
    "chat.update": _parse_update,
    "chat.open": lambda body: ChatOpen(chat_id=_chat_id(body)),
    "chat.close": lambda body: ChatClose(chat_id=_chat_id(body)),
    "chat.history": _parse_history,
    "message.send": _parse_send,
    "message.edit": _parse_edit,
    "attachment.create": _parse_attachment,
    "message.delete": lambda body: MessageDelete(chat_id=_chat_id(body), seq=_seq(body)),
    "reaction.set": lambda body: ReactionSet(chat_id=_chat_id(body), seq=_seq(body), emoji=_emoji(body)),
    "chat.changes": _parse_changes,
    "chat.notify": _parse_notify,
    "message.delivered": _parse_receipt(read=False),
    "message.read": _parse_receipt(read=True),
    "typing": _parse_typing,
    "device.register": _parse_register,
    "device.list": lambda body: DeviceList(),
    "device.unregister": lambda body: DeviceUnregister(device_id=_string(body, "device_id", DEVICE_ID_RE)),
    "chat.mute": _parse_mute,
    "user.block": lambda body: UserBlock(user_id=_string(body, "user_id", USER_ID_RE), blocked=True),
    "user.unblock": lambda body: UserBlock(user_id=_string(body, "user_id", USER_ID_RE), blocked=False),
    "user.blocks": lambda body: UserBlocks(),
    "message.report": _parse_report,
}

ACTIONS = frozenset(_PARSERS)


def _read_req(body: Mapping[str, Any]) -> str | None:
    req = body.get("req")
    if req is None:
        return None
    if not isinstance(req, str) or len(req) > MAX_REQ_CHARS:
        raise FrameError(BadRequest(f"'req' must be a string of at most {MAX_REQ_CHARS} characters"), None)
    try:
        return _valid_unicode(req, "req")
    except BadRequest as exc:
        raise FrameError(exc, None) from None


def _no_constant(name: str) -> Any:
    """JSON has no NaN or Infinity (Python's parser accepts them by default)."""
    raise ValueError(f"{name} is not a JSON number")


def parse_request(raw: str | None) -> Envelope:
    """Parse one client frame. Raises ``FrameError`` for anything the protocol refuses."""
    if raw is None:
        raise FrameError(BadRequest("empty frame"), None)
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        raise FrameError(TooLarge(f"frame is larger than {MAX_FRAME_BYTES} bytes"), None)
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise FrameError(BadRequest("frame is not valid JSON"), None) from None
    if not isinstance(body, dict):
        raise FrameError(BadRequest("frame must be a JSON object"), None)
    req = _read_req(body)
    action = body.get("action")
    if not isinstance(action, str):
        raise FrameError(BadRequest("'action' must be a string"), req)
    parser = _PARSERS.get(action)
    if parser is None:
        raise FrameError(BadRequest(f"unknown action {action[:64]!r}"), req)
    try:
        return Envelope(request=parser(body), req=req)
    except ChatError as exc:
        raise FrameError(exc, req) from None


# ---------------------------------------------------------------- server frames


def frame(event: str, req: str | None = None, /, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"event": event}
    if req is not None:
        out["req"] = req
    out.update(fields)
    return out


def error_frame(error: ChatError, req: str | None = None) -> dict[str, Any]:
    return frame("error", req, code=error.code, message=error.message, **error.fields())
