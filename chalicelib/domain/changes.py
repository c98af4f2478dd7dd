"""Messages that change: the rules of replies, mentions, edits, deletes and reactions.

Pure functions over ``Message`` records, no I/O. Each change returns the message's new state,
or None when it would change nothing (the same text, the same reaction, a delete of a deleted
message): the caller then answers with the message as it is and stores nothing. Refusals are
the protocol's: ``not_found`` for a seq the user cannot see, ``bad_request`` for a system or
(for edits and reactions) a deleted message, ``forbidden`` for another's message, and
``too_large`` for a 21st emoji.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable

from chalicelib.domain.errors import BadRequest, Forbidden, NotFound, TooLarge
from chalicelib.domain.records import Message

MAX_EMOJI = 20  # distinct emoji on one message
MAX_MENTIONS = 50  # user ids a send or an edit may name


def check_visible(seq: int, joined_seq: int, last_seq: int) -> None:
    """A member sees the seqs after the one that added them, up to the chat's last."""
    if seq <= joined_seq or seq > last_seq:
        raise NotFound(f"no message {seq} in this chat")


def check_reply(reply_to: int, joined_seq: int, last_seq: int) -> None:
    """A reply answers a message its sender can see (it may have been deleted since)."""
    if reply_to <= joined_seq or reply_to > last_seq:
        raise BadRequest(f"'reply_to' {reply_to} is not a message you can see in this chat")


def kept_mentions(named: Iterable[str], sender: str, members: Collection[str]) -> tuple[str, ...]:
    """The mentions stored: members only, not the sender, sorted and unique (a client's member
    list may be stale, so the others are dropped rather than refused)."""
    return tuple(sorted({user for user in named if user != sender and user in members}))


def _changeable(message: Message, what: str) -> None:
    if message.system is not None:
        raise BadRequest(f"a system message cannot be {what}")


def edit(
    message: Message, actor: str, text: str, mentions: tuple[str, ...] | None, now: str
) -> Message | None:
    """The sender's new text (and mentions, when given); ``edited_at`` moves only with the text."""
    _changeable(message, "edited")
    if message.sender_id != actor:
        raise Forbidden("only the sender edits a message")
    if message.deleted:
        raise BadRequest("a deleted message cannot be edited")
    new_mentions = message.mentions if mentions is None else mentions
    if text == message.text and new_mentions == message.mentions:
        return None
    edited_at = now if text != message.text else message.edited_at
    return dataclasses.replace(message, text=text, mentions=new_mentions, edited_at=edited_at)


def delete(message: Message, actor: str, admins: Collection[str]) -> Message | None:
    """The sender deletes their message, a group admin any message of the group. What is
    deleted is gone: text, mentions, reactions, the reply and the files leave the record (the
    caller deletes the files' objects)."""
    _changeable(message, "deleted")
    if message.sender_id != actor and actor not in admins:
        raise Forbidden("only the sender or a group admin deletes a message")
    if message.deleted:
        return None
    return dataclasses.replace(
        message, text="", mentions=(), reactions=(), reply_to=None, attachments=(), deleted=True
    )


def react(message: Message, actor: str, emoji: str | None) -> Message | None:
    """The actor's one reaction replaced (or taken back with None)."""
    _changeable(message, "reacted to")
    if message.deleted:
        raise BadRequest("a deleted message cannot be reacted to")
    current = dict(message.reactions)
    if current.get(actor) == emoji:
        return None
    if emoji is None:
        del current[actor]
    else:
        others = {e for user, e in current.items() if user != actor}
        if emoji not in others and len(others) >= MAX_EMOJI:
            raise TooLarge(f"a message has at most {MAX_EMOJI} distinct emoji")
        current[actor] = emoji
    return dataclasses.replace(message, reactions=tuple(sorted(current.items())))


def at_rev(message: Message, rev: int) -> Message:
    """The changed message as stored under the chat's rev that the change took."""
    return dataclasses.replace(message, rev=rev)
