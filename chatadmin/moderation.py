"""What an operator does to a reported message's chat, through the backend's own rules and
storage, and the frames that tell the members' connections.

- ``delete_message``: ``domain.changes.delete`` with the operator acting as a group admin may
  (any message but a system one), stored by ``Store.change_message`` as a member's delete is:
  the message item, the chat's ``last_message`` copy, the changes feed under the chat's next
  ``rev``; then its files are deleted from the bucket. Viewers of the chat who can see the
  message get ``chat:message:updated``; the others learn of it from ``chat.changes``.
- ``remove_sender``: ``domain.membership.plan_operator_remove`` (``chat.remove``'s change without
  the admin rule; a direct chat refuses it), stored by ``Store.apply_change`` as ``chat.remove``
  is. The removed user's connections get ``chat:removed`` (reason ``removed``), the other
  members' connections the system message (``chat:message`` where the chat is open, else
  ``chat:message:background``).

Each returns what happened, in words, and the posts; ``Poster`` sends them when a management
API endpoint is known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from chalicelib.delivery.posting import Delivery, boto3_client_factory
from chalicelib.domain import changes
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.frames import Post, checked
from chalicelib.domain.membership import Change, plan_operator_remove
from chalicelib.domain.protocol import frame
from chalicelib.domain.records import ChatRecord, Message
from chalicelib.retry import Contention
from chalicelib.storage import ChangeConflict, SeqConflict, Store
from chalicelib.storage.files import Files
from chatadmin.errors import AdminError, Refused

# The actor a removal's system message names ("moderator removed bob"), and as whom a delete is
# decided: no member of any chat.
MODERATOR = "moderator"


@dataclass
class Done:
    """What an action changed (``summary``), and the frames that tell connections about it."""

    summary: str
    changed: bool
    posts: list[Post] = field(default_factory=list)


def _chat(store: Store, chat_id: str) -> ChatRecord:
    chat = store.get_chat(chat_id)
    if chat is None:
        raise Refused(f"chat {chat_id} no longer exists")
    return chat


def _seeing(store: Store, chat: ChatRecord, seq: int) -> list[str]:
    """The members who can see the message at ``seq`` (as ``actions.changes`` decides it)."""
    if seq > chat.members_seq:
        return list(chat.members if chat.members is not None else store.roster(chat).members())
    return [user for user, joined in store.roster(chat).joined().items() if joined < seq]


def _viewing(store: Store, users: Iterable[str], chat_id: str, data: bytes) -> list[Post]:
    found = store.presence(users)
    return [(p.connection_id, data) for conns in found.values() for p in conns if p.viewing == chat_id]


def delete_message(store: Store, files: Files | None, chat_id: str, seq: int) -> Done:
    for _ in Contention().attempts():
        context = store.message_context(chat_id, MODERATOR, seq)
        chat, message = context.chat, context.message
        if chat is None:
            raise Refused(f"chat {chat_id} no longer exists")
        if message is None:
            raise Refused(f"chat {chat_id} has no message {seq}")
        try:
            after = changes.delete(message, MODERATOR, admins=(MODERATOR,))
        except BadRequest as exc:
            raise Refused(f"{exc.message}: remove its sender instead") from None
        if after is None:
            return Done(f"message {seq} of chat {chat_id} was deleted already", changed=False)
        after = changes.at_rev(after, chat.last_rev + 1)
        try:
            store.change_message(chat, message, after)
            break
        except ChangeConflict:
            continue
    else:
        raise AdminError(f"chat {chat_id} keeps changing; try again")
    gone = [a.key(chat_id) for a in message.attachments]
    if gone and files is not None:
        files.delete(gone)
    kept = " (its files stay: no --bucket)" if gone and files is None else ""
    data = checked(frame("chat:message:updated", message=after.to_wire()))
    posts = _viewing(store, _seeing(store, chat, seq), chat_id, data)
    return Done(f"deleted message {seq} of chat {chat_id}{kept}", changed=True, posts=posts)


def remove_sender(store: Store, chat_id: str, sender: str) -> Done:
    chat = _chat(store, chat_id)
    for _ in Contention().attempts():
        roster = store.roster(chat)
        try:
            change = plan_operator_remove(chat, roster, MODERATOR, [sender])
        except BadRequest:
            raise Refused(
                f"chat {chat_id} is a direct chat: its members cannot be removed (delete the message instead)"
            ) from None
        if change is None:
            return Done(f"{sender} is not a member of chat {chat_id} any more", changed=False)
        try:
            store.apply_change(chat, change)
            break
        except SeqConflict as conflict:
            chat = conflict.current
    else:
        raise AdminError(f"chat {chat_id} keeps changing; try again")
    return Done(f"removed {sender} from chat {chat_id}", changed=True, posts=_removal_posts(store, change))


def _removal_posts(store: Store, change: Change) -> list[Post]:
    chat, message = change.chat, change.message
    farewell = checked(frame("chat:removed", chat_id=chat.chat_id, reason="removed"))
    posts: list[Post] = []
    found = store.presence([*change.roster.joined(), *change.removed])
    for user, connections in found.items():
        for p in connections:
            data = farewell if user in change.removed else _message_frame(message, p.viewing)
            posts.append((p.connection_id, data))
    return posts


def _message_frame(message: Message, viewing: str | None) -> bytes:
    event = "chat:message" if viewing == message.chat_id else "chat:message:background"
    return checked(frame(event, message=message.to_wire()))


class Poster:
    """Posts through the management API at ``endpoint`` (None: nothing is posted)."""

    def __init__(self, endpoint: str | None, region: str) -> None:
        self.endpoint = endpoint
        self._delivery = Delivery(boto3_client_factory(region, 8), 8) if endpoint else None

    def post(self, posts: list[Post]) -> int | None:
        """How many posts went out (gone connections are not counted); None: no endpoint."""
        if self._delivery is None or self.endpoint is None:
            return None
        gone = self._delivery.post_many(self.endpoint, posts)
        return len(posts) - len(gone)
