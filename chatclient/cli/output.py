"""What the CLI prints: one line per event, flushed (scripts and tests read it), and the
server's answers as lines (a message, a chat of the list, a device, an error said plainly).

Imports only ``chatclient.models``."""

from __future__ import annotations

from chatclient.models import Attachment, Chat, ChatError, Device, Message

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


QUOTE_LENGTH = 40  # characters of a replied-to message quoted beside the reply
CONTINUED = "\n    "  # the further lines of a multi-line message, indented under the first


def message_text(message: Message, me: str | None = None, quote: Message | None = None) -> str:
    """``alice: hi`` for text, ``* alice added carol`` for a system message. A reply quotes
    the message it answers (``quote``, if the caller has it); then come ``(edited)``, the
    mentions (``you`` for ``me``) and the reactions with their counts. A deleted message is
    ``alice: (deleted)``. The lines of a multi-line text after the first are indented; a
    message's files follow its text, each with its name, type and size."""
    if message.is_system:
        return f"* {message.text or _describe_system(message)}"
    if message.deleted:
        return f"{message.sender_id}: (deleted)"
    parts = [f"{message.sender_id}:"]
    if message.reply_to is not None:
        parts.append(reply_quote(message.reply_to, quote))
    if message.text:
        parts.append(message.text.replace("\r\n", "\n").replace("\n", CONTINUED))
    parts.extend(file_label(attachment) for attachment in message.attachments)
    if message.edited:
        parts.append("(edited)")
    if message.mentions:
        parts.append(f"(mentions {', '.join('you' if user == me else user for user in message.mentions)})")
    if message.reactions:
        parts.append(f"[{', '.join(f'{emoji} {count}' for emoji, count in message.reaction_counts())}]")
    return " ".join(parts)


def size_text(size: int) -> str:
    """``1 byte``, ``900 bytes``, ``3.4 KiB``, ``25.0 MiB``."""
    if size < 1024:
        return plural(size, "byte")
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def file_label(attachment: Attachment) -> str:
    """A message's file: ``[file beach.jpg, image/jpeg, 340.0 KiB]`` (``/save SEQ`` saves it)."""
    return f"[file {attachment.name}, {attachment.content_type}, {size_text(attachment.size)}]"


def reply_quote(seq: int, original: Message | None) -> str:
    """``(re 3 bob: "how are you?")``: the start of the message a reply answers, on one line."""
    if original is None:
        return f"(re {seq})"
    if original.deleted:
        return f"(re {seq}: deleted)"
    text = " ".join(original.text.split())
    if len(text) > QUOTE_LENGTH:
        text = text[: QUOTE_LENGTH - 1] + "…"
    return f'(re {seq} {original.sender_id}: "{text}")'


def _describe_system(message: Message) -> str:
    event = message.system
    if event is None:
        return f"{message.sender_id} changed the chat"
    return " ".join([message.sender_id, event.type, *event.users]).strip()


def message_line(message: Message, me: str | None = None, quote: Message | None = None) -> str:
    """A message with its number, the one commands take (``/reply 5 ...``): ``5 alice: hi``."""
    return f"{message.seq} {message_text(message, me, quote)}"


def chat_line(chat: Chat, me: str | None) -> str:
    muted = " (muted)" if chat.muted else " (mentions only)" if chat.notify == "mentions" else ""
    badge = f" [{chat.unread}]" if chat.unread else ""
    last = f" - {message_text(chat.last_message, me)}" if chat.last_message else ""
    return f"{chat.chat_id} {chat.display_name(me)}{muted}{badge}{last}"


def device_line(device: Device) -> str:
    preview = "preview" if device.preview else "no preview"
    return f"  {device.device_id} {device.platform} ({preview}) since {device.registered_at}"
