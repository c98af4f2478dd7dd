"""Items <-> records: how each domain record is laid out in its table's item.

Pure functions between ``storage/tables.py``'s PynamoDB models and ``domain/records.py``'s
dataclasses, the one place that knows both (``DynamoStore`` reads and writes; this module says
what). A message's attributes are filled in one function, ``message_attributes``, for both
the containers that hold them (``MessageItem``, a chat's ``MessageMap``). May import the
domain's records and membership, and the storage tables; no I/O, nothing of ``dynamo.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from chalicelib.domain.receipts import ReceiptsSummary
from chalicelib.domain.records import (
    Attachment,
    AttachmentRecord,
    ChatRecord,
    Connection,
    Device,
    Membership,
    Message,
    Pointers,
    Presence,
    Reach,
    StoredSend,
    SystemEvent,
)
from chalicelib.storage.tables import (
    RECEIPTS_PAGE,
    AttachmentItem,
    ChatItem,
    ChatMembersItem,
    ConnectionItem,
    DeviceItem,
    MembershipItem,
    MessageAttributes,
    MessageMap,
    PresenceItem,
    SendKeyItem,
)


def epoch_of(moment: datetime | None) -> int:
    """A ``TTLAttribute``'s value as epoch seconds (0 when absent)."""
    return int(moment.timestamp()) if moment else 0


def datetime_at(epoch: int) -> datetime:
    """Epoch seconds as the UTC datetime a ``TTLAttribute`` takes."""
    return datetime.fromtimestamp(epoch, tz=UTC)


def stored_send(original: SendKeyItem, message: Message) -> StoredSend:
    """How ``message`` was stored, from its send key: as this very message (same message id:
    its own write applied) or as an earlier send of the same client_msg_id (a duplicate)."""
    stored = Message(
        **{
            **message.__dict__,
            "seq": int(original.seq),
            "message_id": original.message_id,
            "sent_at": original.sent_at,
        }
    )
    duplicate = original.message_id != message.message_id
    return StoredSend(message=stored, duplicate=duplicate, fanned_out=bool(original.fanned_out))


def _system_from(raw: str | None) -> SystemEvent | None:
    return SystemEvent.from_wire(json.loads(raw)) if raw else None


def _system_json(message: Message) -> str | None:
    if message.system is None:
        return None
    return json.dumps(message.system.to_wire(), separators=(",", ":"), ensure_ascii=False)


def _reactions_json(message: Message) -> str | None:
    if not message.reactions:
        return None
    return json.dumps(dict(message.reactions), separators=(",", ":"), ensure_ascii=False)


def _attachments_json(message: Message) -> str | None:
    if not message.attachments:
        return None
    return json.dumps([a.to_wire() for a in message.attachments], separators=(",", ":"), ensure_ascii=False)


def _attachments_from(raw: str | None) -> tuple[Attachment, ...]:
    return tuple(Attachment(**entry) for entry in json.loads(raw)) if raw else ()


def attachment_from(item: AttachmentItem) -> AttachmentRecord:
    return AttachmentRecord(
        attachment=Attachment(item.attachment_id, item.name, item.content_type, int(item.size)),
        user_id=item.user_id,
        chat_id=item.chat_id,
        created_at=item.created_at,
        seq=int(item.seq) if item.seq is not None else None,
    )


def message_from(item: MessageAttributes, chat_id: str) -> Message:
    """The message a ``MessageItem``, a ``ChangeItem`` or a chat's ``MessageMap`` holds
    (``chat_id``: whose)."""
    reactions = json.loads(item.reactions) if item.reactions else {}
    return Message(
        chat_id=chat_id,
        seq=int(item.seq),
        message_id=item.message_id,
        client_msg_id=item.client_msg_id,
        sender_id=item.sender_id,
        text=item.text or "",
        sent_at=item.sent_at,
        system=_system_from(item.system),
        reply_to=int(item.reply_to) if item.reply_to is not None else None,
        mentions=tuple(str(u) for u in item.mentions or ()),
        reactions=tuple(sorted((str(u), str(e)) for u, e in reactions.items())),
        edited_at=item.edited_at,
        deleted=bool(item.deleted),
        rev=int(item.rev or 0),
        attachments=_attachments_from(item.attachments),
    )


def message_attributes(message: Message) -> dict[str, Any]:
    """``message`` as the ``MessageAttributes`` a ``MessageItem`` (with its ``chat_id``) and a
    ``MessageMap`` hold: ``MessageItem(message.chat_id, **it)``, ``MessageMap(**it)``."""
    return {
        "seq": message.seq,
        "message_id": message.message_id,
        "client_msg_id": message.client_msg_id,
        "sender_id": message.sender_id,
        "text": message.text,
        "sent_at": message.sent_at,
        "system": _system_json(message),
        "reply_to": message.reply_to,
        "mentions": list(message.mentions) or None,
        "reactions": _reactions_json(message),
        "edited_at": message.edited_at,
        "deleted": True if message.deleted else None,
        "rev": message.rev or None,
        "attachments": _attachments_json(message),
    }


def chat_from(item: ChatItem) -> ChatRecord:
    members = tuple(str(m) for m in item.members) if item.members is not None else None
    kind = item.kind or "group"
    if item.admins is not None:
        admins = tuple(str(a) for a in item.admins)
    else:  # a chat from before admins existed: its creator administers it
        admins = (item.created_by,) if kind == "group" and item.created_by in (members or ()) else ()
    return ChatRecord(
        chat_id=item.chat_id,
        kind=kind,
        title=item.title,
        members=members,
        member_count=int(item.member_count) if item.member_count is not None else len(members or ()),
        admins=admins,
        created_by=item.created_by,
        created_at=item.created_at,
        last_seq=int(item.last_seq or 0),
        members_seq=int(item.members_seq or 0),
        last_message=message_from(item.last_message, item.chat_id) if item.last_message else None,
        last_activity=item.last_activity or "",
        last_rev=int(item.last_rev or 0),
        blocked_by=frozenset(item.blocked_by or ()),
        pages=tuple(sorted(int(n) for n in item.pages or ())) if members is None else (),
    )


def chat_item(chat: ChatRecord) -> ChatItem:
    return ChatItem(
        chat.chat_id,
        kind=chat.kind,
        title=chat.title,
        members=list(chat.members) if chat.members is not None else None,
        member_count=chat.member_count,
        admins=list(chat.admins),
        created_by=chat.created_by,
        created_at=chat.created_at,
        last_seq=chat.last_seq,
        members_seq=chat.members_seq,
        last_activity=chat.activity,
        pages=set(chat.pages) if chat.members is None and chat.pages else None,
    )


def chat_change_actions(chat: ChatRecord) -> list[Any]:
    """What a membership change sets on the chat item."""
    actions: list[Any] = [
        ChatItem.kind.set(chat.kind),
        ChatItem.last_seq.set(chat.last_seq),
        ChatItem.members_seq.set(chat.members_seq),
        ChatItem.member_count.set(chat.member_count),
        ChatItem.admins.set(cast(Any, list(chat.admins))),
        ChatItem.last_activity.set(chat.activity),
    ]
    if chat.last_message is not None:
        actions.append(ChatItem.last_message.set(MessageMap(**message_attributes(chat.last_message))))
    actions.append(ChatItem.title.set(chat.title) if chat.title is not None else ChatItem.title.remove())
    if chat.members is not None:
        actions.append(ChatItem.members.set(cast(Any, list(chat.members))))
    else:
        actions.append(ChatItem.members.remove())
    if chat.members is None and chat.pages:
        actions.append(ChatItem.pages.set(set(chat.pages)))
    else:
        actions.append(ChatItem.pages.remove())
    return actions


def page_users(item: ChatMembersItem) -> dict[str, int]:
    """A roster page's users, each with the seq that added them."""
    return {str(user): int(seq) for user, seq in item.users.as_dict().items()}


def membership_from(item: MembershipItem) -> Membership:
    return Membership(
        pointers=Pointers(delivered_seq=int(item.delivered_seq or 0), read_seq=int(item.read_seq or 0)),
        joined_seq=int(item.joined_seq or 0),
        notify=item.notify or ("none" if item.muted else "all"),
        joined_at=item.joined_at or "",
        joined_rev=int(item.joined_rev or 0),
    )


def new_membership(
    user_id: str, chat_id: str, joined_seq: int, joined_at: str, joined_rev: int = 0
) -> MembershipItem:
    return MembershipItem(
        user_id,
        chat_id,
        joined_seq=joined_seq,
        joined_at=joined_at,
        joined_rev=joined_rev or None,
        delivered_seq=0,
        read_seq=0,
    )


def receipts_item(chat_id: str, summary: ReceiptsSummary) -> ChatMembersItem:
    """A chat's receipts summary, beside its roster pages (``users`` empty: no page's users)."""
    rest = summary.rest
    return ChatMembersItem(
        chat_id,
        RECEIPTS_PAGE,
        users={},
        listed=list(summary.listed),
        rest_delivered=rest.delivered_seq if rest is not None else None,
        rest_read=rest.read_seq if rest is not None else None,
        base_seq=summary.base_seq,
        computed_ms=summary.computed_ms,
    )


def receipts_from(item: ChatMembersItem) -> ReceiptsSummary:
    rest = None
    if item.rest_delivered is not None and item.rest_read is not None:
        rest = Pointers(int(item.rest_delivered), int(item.rest_read))
    return ReceiptsSummary(
        base_seq=int(item.base_seq or 0),
        computed_ms=int(item.computed_ms or 0),
        listed=tuple(str(u) for u in item.listed or ()),
        rest=rest,
    )


def reach_from(item: PresenceItem, now: int) -> Reach:
    return Reach(
        connections=tuple(_presence_from(item, now)),
        has_devices=bool(item.devices),
        muted=frozenset(item.muted or ()),
        mentions_only=frozenset(item.mentions_only or ()),
    )


def device_from(item: DeviceItem) -> Device:
    return Device(
        device_id=item.device_id,
        user_id=item.user_id,
        platform=item.platform,
        token=item.token,
        preview=bool(item.preview),
        registered_at=item.registered_at,
        p256dh=item.p256dh,
        auth=item.auth,
        endpoint_arn=item.endpoint_arn,
    )


def device_item(device: Device) -> DeviceItem:
    return DeviceItem(
        device.user_id,
        device.device_id,
        platform=device.platform,
        token=device.token,
        preview=device.preview,
        registered_at=device.registered_at,
        p256dh=device.p256dh,
        auth=device.auth,
        endpoint_arn=device.endpoint_arn,
    )


def _presence_from(item: PresenceItem, now: int) -> list[Presence]:
    entries = item.conns.as_dict() if item.conns is not None else {}
    live = []
    for connection_id, entry in entries.items():
        expires_at = int(entry.get("exp", 0))
        if expires_at > now:
            live.append(Presence(connection_id, entry.get("chat"), expires_at))
    return live


def connection_from(item: ConnectionItem) -> Connection:
    return Connection(
        connection_id=item.connection_id,
        user_id=item.user_id,
        name=item.name,
        connected_at=int(item.connected_at),
        expires_at=epoch_of(item.expires_at),
    )
