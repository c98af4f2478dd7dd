"""Busy tables and large chats, written straight into DynamoDB with batch writes (not through
the protocol: a 1,000-member chat through ``chat.create`` and 1,000 ``$connect`` takes tens of
seconds; this takes about one).

The items are built with the very constructors the handlers use (``storage.mapping``'s
``chat_item`` and ``new_membership``, ``domain.membership.Roster`` for the roster pages, the
presence entry ``$connect`` writes), so the tables hold what ``chat.create`` and ``$connect``
would have left; ``test_harness.py`` compares the two item by item.

- ``fill_unrelated``: ``count`` users, each with one live connection, and ``count`` chats of
  three of them with one message each: what a Scan, or any access whose cost grows with the
  table, would read.
- ``build_chat``: a group of N members (the first one its creator and admin), each with one
  live connection when asked, the first ``viewing`` of them viewing the chat, and a device
  each when asked; returns a ``Client`` per connected member.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pynamodb.models import Model

from chalicelib.domain import ids
from chalicelib.domain.membership import Roster
from chalicelib.domain.records import INLINE_MEMBERS, ChatRecord, Message
from chalicelib.storage.mapping import chat_item, datetime_at, message_attributes, new_membership
from chalicelib.storage.tables import (
    ChatMembersItem,
    ConnectionItem,
    DeviceItem,
    MessageItem,
    MessageMap,
    PresenceItem,
)
from chalicelib.testing import Client, Harness

CONNECTION_TTL_SECONDS = 7500  # Settings.connection_ttl_seconds' default, as $connect sets it
_tags = itertools.count(1)


def new_tag(prefix: str = "s") -> str:
    """A prefix no other scenario of the run uses (user and connection ids stay apart)."""
    return f"{prefix}{next(_tags)}"


def write(items: Iterable[Model]) -> None:
    """Batch writes (25 items a request), one model at a time, in the order given."""
    by_model: dict[type[Model], list[Model]] = {}
    for item in items:
        by_model.setdefault(type(item), []).append(item)
    for model, found in by_model.items():
        with model.batch_write() as batch:
            for item in found:
                batch.save(item)


def connection_items(
    users: Iterable[str], viewing: Iterable[str] = (), chat_id: str = "", devices: bool = False
) -> tuple[dict[str, str], list[Model]]:
    """One live connection per user, as ``$connect`` records it (and ``chat.open`` for the users
    in ``viewing``); a push device each with ``devices``. Returns user -> connection id, and
    the items."""
    now = int(time.time())
    expires = now + CONNECTION_TTL_SECONDS
    viewers = set(viewing)
    connections = {user: f"{user}-c=" for user in users}
    items: list[Model] = []
    for user, connection_id in connections.items():
        items.append(
            ConnectionItem(connection_id, user_id=user, connected_at=now, expires_at=datetime_at(expires))
        )
        entry: dict[str, object] = {"exp": expires}
        if user in viewers:
            entry["chat"] = chat_id
        items.append(
            PresenceItem(
                user,
                conns={connection_id: entry},
                devices={f"{user}-phone"} if devices else None,
                expires_at=None if devices else datetime_at(expires),
            )
        )
        if devices:
            items.append(
                DeviceItem(
                    user, f"{user}-phone", platform="apns", token=f"token-{user}", registered_at=ids.iso_now()
                )
            )
    return connections, items


def chat_items(
    creator: str, members: Sequence[str], last_message: Message | None = None
) -> tuple[ChatRecord, list[Model]]:
    """A group of ``creator`` and ``members``, as ``chat.create`` stores it (with one message
    already in it when ``last_message`` is given, its ``chat_id`` and ``seq`` 1): the chat and
    its items, the chat item last as ``create_chat`` writes it."""
    everyone = tuple(sorted({creator, *members}))
    now = ids.iso_now()
    roster = Roster.of(dict.fromkeys(everyone, 0))
    chat = ChatRecord(
        chat_id=last_message.chat_id if last_message else ids.new_chat_id(),
        kind="group",
        title="cost",
        members=everyone if len(everyone) <= INLINE_MEMBERS else None,
        pages=roster.numbers() if len(everyone) > INLINE_MEMBERS else (),
        member_count=len(everyone),
        admins=(creator,),
        created_by=creator,
        created_at=now,
        last_activity=now,
        last_seq=1 if last_message else 0,
    )
    items: list[Model] = [
        new_membership(u, chat.chat_id, seq, chat.created_at) for u, seq in roster.joined().items()
    ]
    items += [ChatMembersItem(chat.chat_id, number, users=page) for number, page in roster.pages.items()]
    item = chat_item(chat)
    if last_message is not None:
        item.last_message = MessageMap(**message_attributes(last_message))
        items.append(MessageItem(last_message.chat_id, **message_attributes(last_message)))
    items.append(item)
    return chat, items


def fill_unrelated(count: int = 1000, tag: str = "noise") -> None:
    """``count`` users with a live connection each, and ``count`` chats of three of them with
    one message each."""
    users = [f"{tag}{i:04d}" for i in range(count)]
    _, items = connection_items(users)
    for i, user in enumerate(users):
        message = Message(
            chat_id=f"c_{tag}{i:04d}",
            seq=1,
            message_id=ids.new_message_id(),
            client_msg_id="k",
            sender_id=user,
            text="unrelated",
            sent_at=ids.iso_now(),
        )
        items += chat_items(user, [users[(i + 1) % count], users[(i + 2) % count]], message)[1]
    write(items)


@dataclass
class BuiltChat:
    chat_id: str
    users: list[str]  # users[0] created the chat
    clients: dict[str, Client] = field(default_factory=dict)  # the connected members'

    @property
    def owner(self) -> Client:
        return self.clients[self.users[0]]


def build_chat(
    harness: Harness,
    size: int,
    connected: int | None = None,
    viewing: int = 0,
    devices: bool = False,
    tag: str | None = None,
) -> BuiltChat:
    """A group of ``size`` members, the first ``connected`` of them (all: None) with a live
    connection each, the first ``viewing`` of those viewing it, each with a device (when
    ``devices``): stored with batch writes."""
    tag = tag or new_tag()
    users = [f"{tag}m{i:04d}" for i in range(size)]
    chat, items = chat_items(users[0], users[1:])
    built = BuiltChat(chat.chat_id, users)
    online = users if connected is None else users[:connected]
    if online:
        ids_by_user, more = connection_items(online, users[:viewing], chat.chat_id, devices=devices)
        items = more + items
        built.clients = {u: Client(harness, u, c) for u, c in ids_by_user.items()}
    write(items)
    return built
