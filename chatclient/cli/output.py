"""What the CLI prints: one line per event, flushed (scripts and tests read it), and the
server's answers as lines (a message, a chat of the list, a device, an error said plainly).

Imports only ``chatclient.models``."""

from __future__ import annotations

from chatclient.models import Chat, ChatError, Device, Message

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


def out(line: str) -> None:
    print(line, flush=True)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def error_line(exc: ChatError) -> str:
    return f"[error] {PLAIN.get(exc.code, exc.code)}: {exc.message}"


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
