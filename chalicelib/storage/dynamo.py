"""The ``Store`` on DynamoDB through PynamoDB.

Every method is a GetItem, a Query, a BatchGetItem or a write on a key designed for it; nothing
here scans. Failures become ``Unavailable`` (``calls.py``). ``DynamoStore`` holds the chats,
members, messages and devices; connections, presence and the push log are ``connections.py``'s,
blocks, reports, changes and attachments their modules'; ``mapping.py`` lays out each item.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from pynamodb.connection import Connection as PynamoConnection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.domain import ids
from chalicelib.domain.changes import check_reply
from chalicelib.domain.errors import BadRequest, Forbidden, NotFound
from chalicelib.domain.membership import Change, Roster
from chalicelib.domain.receipts import ReceiptsSummary
from chalicelib.domain.records import (
    SEND_KEY_TTL_SECONDS,
    ChatRecord,
    Device,
    Membership,
    Message,
    Page,
    Pointers,
    StoredSend,
)
from chalicelib.storage.attachments import DynamoAttachments
from chalicelib.storage.base import SeqConflict, Store
from chalicelib.storage.blocks import DynamoBlocks
from chalicelib.storage.calls import applied, batch_get_raw, get_or_none, guarded, is_condition_failure
from chalicelib.storage.changes import DynamoChanges
from chalicelib.storage.connections import DynamoConnections
from chalicelib.storage.mapping import (
    chat_change_actions,
    chat_from,
    chat_item,
    datetime_at,
    device_from,
    device_item,
    membership_from,
    message_attributes,
    message_from,
    new_membership,
    page_users,
    receipts_from,
    receipts_item,
    stored_send,
)
from chalicelib.storage.reports import DynamoReports
from chalicelib.storage.tables import (
    RECEIPTS_PAGE,
    AttachmentItem,
    BlockItem,
    ChatItem,
    ChatMembersItem,
    DeviceItem,
    DeviceTokenItem,
    MembershipItem,
    MessageItem,
    MessageMap,
    PresenceItem,
    SendKeyItem,
)

log = logging.getLogger(__name__)

CONDITION_FAILED = "ConditionalCheckFailed"
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems


def _member_who_sees(reply_to: int | None) -> Condition:
    """The sender's membership condition on a send: that it exists, and for a reply that the
    replied-to seq is after the one that added them (``joined_seq``, absent for first members)."""
    member: Condition = MembershipItem.chat_id.exists()
    if reply_to is None:
        return member
    joined = MembershipItem.joined_seq
    sees: Condition = member & (joined.does_not_exist() | (joined < reply_to))
    return sees


def send_key(chat_id: str, sender_id: str, client_msg_id: str) -> str:
    return f"{chat_id}|{sender_id}|{client_msg_id}"


class DynamoStore(DynamoConnections, DynamoChanges, DynamoAttachments, DynamoBlocks, DynamoReports, Store):
    def __init__(self) -> None:
        meta = ChatItem.Meta
        self._tx_connection = PynamoConnection(
            region=meta.region,
            connect_timeout_seconds=meta.connect_timeout_seconds,
            read_timeout_seconds=meta.read_timeout_seconds,
            max_retry_attempts=meta.max_retry_attempts,
        )

    # ------------------------------------------------------------ devices and push

    @guarded
    def device_by_token(self, key: str) -> Device | None:
        token = get_or_none(DeviceTokenItem, key)
        if token is None:
            return None
        device = get_or_none(DeviceItem, token.user_id, token.device_id)
        return device_from(device) if device is not None else None

    @guarded
    def save_device(self, device: Device, previous: Device | None) -> None:
        """Store a device (new, re-registered, or moved from ``previous.user_id``) with its token
        and its owner's presence flag, in one transaction."""
        with TransactWrite(connection=self._tx_connection) as tx:
            tx.save(device_item(device))
            tx.save(DeviceTokenItem(device.token_key, user_id=device.user_id, device_id=device.device_id))
            tx.update(
                PresenceItem(device.user_id),
                actions=[PresenceItem.devices.add({device.device_id}), PresenceItem.expires_at.remove()],
            )
            if previous is not None and previous.user_id != device.user_id:
                tx.delete(DeviceItem(previous.user_id, previous.device_id))
                tx.update(
                    PresenceItem(previous.user_id),
                    actions=[PresenceItem.devices.delete({previous.device_id})],
                )

    @guarded
    def devices_of(self, user_id: str) -> list[Device]:
        return [device_from(item) for item in DeviceItem.query(user_id, consistent_read=True)]

    @guarded
    def remove_device(self, device: Device) -> bool:
        """Forget a device, its token (if still its) and its presence flag; False if unknown."""
        try:
            with TransactWrite(connection=self._tx_connection) as tx:
                tx.delete(
                    DeviceItem(device.user_id, device.device_id),
                    condition=DeviceItem.device_id.exists(),
                )
                tx.update(
                    PresenceItem(device.user_id), actions=[PresenceItem.devices.delete({device.device_id})]
                )
        except TransactWriteError as exc:
            if exc.cause_response_code == "TransactionCanceledException":
                return False
            raise
        try:
            DeviceTokenItem(device.token_key).delete(condition=DeviceTokenItem.device_id == device.device_id)
        except PynamoDBException as exc:
            if not is_condition_failure(exc):
                raise
        return True

    @guarded
    def set_notify(self, user_id: str, chat_id: str, level: str) -> None:
        """The level on the membership (for chat views) and the presence item (for sends)."""
        chats = {chat_id}
        presence: list[Any] = [
            PresenceItem.muted.add(chats) if level == "none" else PresenceItem.muted.delete(chats),
            PresenceItem.mentions_only.add(chats)
            if level == "mentions"
            else PresenceItem.mentions_only.delete(chats),
        ]
        if level != "all":
            presence.append(PresenceItem.expires_at.remove())  # push needs it: kept
        with TransactWrite(connection=self._tx_connection) as tx:
            tx.update(
                MembershipItem(user_id, chat_id),
                actions=[MembershipItem.notify.set(level), MembershipItem.muted.set(level == "none")],
                condition=MembershipItem.chat_id.exists(),
            )
            tx.update(PresenceItem(user_id), actions=presence)

    @guarded
    def badge(self, user_id: str) -> int:
        """Unread over every chat of the user they have not muted (Query + BatchGetItem)."""
        memberships = {c: m for c, m in self.memberships_of(user_id).items() if not m.muted}
        if not memberships:
            return 0
        items = ChatItem.batch_get(
            sorted(memberships), consistent_read=True, attributes_to_get=["chat_id", "last_seq"]
        )
        total = 0
        for item in items:
            m = memberships[item.chat_id]
            total += max(0, int(item.last_seq or 0) - max(m.pointers.read_seq, m.joined_seq))
        return total

    # ------------------------------------------------------------ chats and members

    @guarded
    def create_chat(self, chat: ChatRecord, roster: Roster, unblocked: tuple[str, str] | None = None) -> bool:
        memberships = [
            new_membership(user, chat.chat_id, seq, chat.created_at) for user, seq in roster.joined().items()
        ]
        pages = [ChatMembersItem(chat.chat_id, n, users=page) for n, page in roster.pages.items()]
        if 1 + len(pages) + len(memberships) > MAX_TRANSACTION_ITEMS:
            # Memberships first, the chat item last: a membership whose chat does not exist (a
            # crash in between) is skipped by every reader, and chat.list forgets it.
            with MembershipItem.batch_write() as batch:
                for membership in memberships:
                    batch.save(membership)
            memberships = []
        try:
            with TransactWrite(connection=self._tx_connection) as tx:
                tx.save(chat_item(chat), condition=ChatItem.chat_id.does_not_exist())
                for item in [*pages, *memberships]:
                    tx.save(item)
                for blocker, blocked in (unblocked, unblocked[::-1]) if unblocked else ():
                    tx.condition_check(
                        BlockItem, blocker, blocked, condition=BlockItem.other_id.does_not_exist()
                    )
        except TransactWriteError as exc:
            if self.get_chat(chat.chat_id) is not None:
                return False  # it exists (found again, or created by a concurrent request)
            reasons = exc.cancellation_reasons or []  # condition checks first (PynamoDB's order)
            if unblocked and any(r is not None and r.code == CONDITION_FAILED for r in reasons[:2]):
                raise Forbidden("you cannot start a direct chat with this user") from None
            raise exc
        return True

    @guarded
    def get_chat(self, chat_id: str) -> ChatRecord | None:
        item = get_or_none(ChatItem, chat_id)
        return chat_from(item) if item else None

    @guarded
    def get_chats(self, chat_ids: Iterable[str]) -> list[ChatRecord]:
        return [chat_from(item) for item in ChatItem.batch_get(sorted(set(chat_ids)), consistent_read=True)]

    @guarded
    def activity(self, chat_ids: Iterable[str]) -> Mapping[str, str]:
        items = ChatItem.batch_get(
            sorted(set(chat_ids)),
            consistent_read=True,
            attributes_to_get=["chat_id", "last_activity", "created_at"],
        )
        return {item.chat_id: item.last_activity or item.created_at for item in items}

    def roster(self, chat: ChatRecord) -> Roster:
        """The pages only: the Query starts above the receipts summary, which it never reads."""
        return self._roster(chat, ChatMembersItem.page >= 0)[0]

    def roster_and_receipts(self, chat: ChatRecord) -> tuple[Roster, ReceiptsSummary | None]:
        return self._roster(chat, None)

    @guarded
    def _roster(
        self, chat: ChatRecord, pages_only: Condition | None
    ) -> tuple[Roster, ReceiptsSummary | None]:
        """The roster pages and (``pages_only`` None) the receipts summary, page
        ``RECEIPTS_PAGE``: one Query."""
        pages: dict[int, dict[str, int]] = {}
        summary = None
        for item in ChatMembersItem.query(chat.chat_id, range_key_condition=pages_only, consistent_read=True):
            if int(item.page) == RECEIPTS_PAGE:
                summary = receipts_from(item)
            else:
                pages[int(item.page)] = page_users(item)
        if not pages and chat.members:  # a chat from before rosters existed: its item lists them
            legacy = Roster.of(dict.fromkeys(chat.members, 0))
            legacy.unsaved.update(legacy.pages)
            return legacy, summary
        return Roster(pages), summary

    @guarded
    def save_receipts(self, chat_id: str, summary: ReceiptsSummary) -> None:
        receipts_item(chat_id, summary).save()

    @guarded
    def roster_page(self, chat_id: str, number: int) -> Mapping[str, int]:
        item = get_or_none(ChatMembersItem, chat_id, number)
        return page_users(item) if item is not None else {}

    @guarded
    def chat_with_memberships(
        self, chat_id: str, user_ids: Iterable[str]
    ) -> tuple[ChatRecord | None, Mapping[str, Membership]]:
        """The chat item and these users' memberships of it in one BatchGetItem over both
        tables (keys the caller knows before reading anything)."""
        users = sorted(set(user_ids))[:99]  # 100 keys per BatchGetItem, the chat's among them
        requests = {ChatItem.Meta.table_name: {"Keys": [{"chat_id": {"S": chat_id}}], "ConsistentRead": True}}
        if users:
            keys = [{"user_id": {"S": u}, "chat_id": {"S": chat_id}} for u in users]
            requests[MembershipItem.Meta.table_name] = {"Keys": keys, "ConsistentRead": True}
        found = batch_get_raw(self._tx_connection, requests)
        chats = [chat_from(ChatItem.from_raw_data(raw)) for raw in found.get(ChatItem.Meta.table_name, [])]
        items = [MembershipItem.from_raw_data(raw) for raw in found.get(MembershipItem.Meta.table_name, [])]
        return (chats[0] if chats else None), {item.user_id: membership_from(item) for item in items}

    @guarded
    def apply_change(self, before: ChatRecord, change: Change) -> None:
        chat, seq = change.chat, change.chat.last_seq
        writes: list[tuple[str, Model]] = [
            ("put", MessageItem(change.message.chat_id, **message_attributes(change.message)))
        ]
        for number in sorted(change.pages | change.roster.unsaved):
            page = change.roster.pages.get(number)
            item = ChatMembersItem(chat.chat_id, number, users=page or {})
            writes.append(("put", item) if page else ("delete", item))
        if change.actor_was_member:
            writes.append(("read", MembershipItem(change.actor, chat.chat_id)))
        at, rev = chat.last_activity, chat.last_rev
        members = [("put", new_membership(u, chat.chat_id, seq, at, rev)) for u in change.added]
        members += [("delete", MembershipItem(u, chat.chat_id)) for u in change.removed]
        room = MAX_TRANSACTION_ITEMS - 1 - len(writes)
        try:
            with TransactWrite(connection=self._tx_connection) as tx:
                tx.update(
                    ChatItem(chat.chat_id),
                    actions=chat_change_actions(chat),
                    condition=ChatItem.last_seq == before.last_seq,
                    return_values="ALL_OLD",
                )
                for op, write in [*writes, *members[:room]]:
                    if op == "put":
                        tx.save(write)
                    elif op == "delete":
                        tx.delete(write)
                    else:
                        tx.update(
                            write,
                            actions=[MembershipItem.read_seq.set(seq), MembershipItem.delivered_seq.set(seq)],
                        )
        except TransactWriteError as exc:
            self._raise_conflict(exc, before)
        if members[room:]:
            # Past what one transaction holds: the roster above is already the truth; each
            # member's own index follows right after, before anyone is told of the change. If
            # this fails the change still stands (reporting an error would be a lie); the same
            # request again repairs the index (``reconcile_memberships``).
            try:
                with MembershipItem.batch_write() as batch:
                    for op, member in members[room:]:
                        batch.save(member) if op == "put" else batch.delete(member)
            except PynamoDBException:
                log.exception(
                    "chat %s changed; %d memberships left to repair", chat.chat_id, len(members) - room
                )
        if change.removed:
            self._forget_mutes(chat.chat_id, change.removed)

    def _forget_mutes(self, chat_id: str, users: Iterable[str]) -> None:
        """A member who leaves forgets their notification level in the chat (their membership is
        gone; added again, they start at "all"): only the presence items that hold one are written."""
        chats = {chat_id}
        try:
            for item in PresenceItem.batch_get(
                sorted(set(users)), attributes_to_get=["user_id", "muted", "mentions_only"]
            ):
                if chat_id in (item.muted or ()) or chat_id in (item.mentions_only or ()):
                    PresenceItem(item.user_id).update(
                        actions=[PresenceItem.muted.delete(chats), PresenceItem.mentions_only.delete(chats)]
                    )
        except PynamoDBException:
            log.exception("could not forget mutes of %s; the next mute or unmute repairs them", chat_id)

    @guarded
    def reconcile_memberships(self, chat_id: str, present: Mapping[str, int], absent: Iterable[str]) -> int:
        users = sorted(set(present) | set(absent))
        found = {
            item.user_id
            for item in MembershipItem.batch_get([(u, chat_id) for u in users], consistent_read=True)
        }
        missing = [u for u in present if u not in found]
        stale = [u for u in absent if u in found]
        if missing or stale:
            now = ids.iso_now()
            with MembershipItem.batch_write() as batch:
                for user in missing:
                    batch.save(new_membership(user, chat_id, present[user], now))
                for user in stale:
                    batch.delete(MembershipItem(user, chat_id))
        return len(missing) + len(stale)

    def _raise_conflict(self, exc: TransactWriteError, before: ChatRecord) -> None:
        """A cancelled change: the chat moved (retry on ``current``) or storage failed."""
        if exc.cause_response_code != "TransactionCanceledException":
            raise exc
        for reason in exc.cancellation_reasons or []:
            if (
                reason
                and reason.code == CONDITION_FAILED
                and reason.raw_item
                and "last_seq" in reason.raw_item
            ):
                raise SeqConflict(chat_from(ChatItem.from_raw_data(reason.raw_item)))
        current = self.get_chat(before.chat_id)  # a concurrent transaction on the same items
        if current is None:
            raise NotFound() from exc
        raise SeqConflict(current) from exc

    @guarded
    def membership(self, user_id: str, chat_id: str) -> Membership | None:
        item = get_or_none(MembershipItem, user_id, chat_id)
        return membership_from(item) if item is not None else None

    @guarded
    def memberships_of(self, user_id: str) -> Mapping[str, Membership]:
        return {
            item.chat_id: membership_from(item)
            for item in MembershipItem.query(user_id, consistent_read=True)
        }

    @guarded
    def forget_memberships(self, user_id: str, chat_ids: Iterable[str]) -> None:
        with MembershipItem.batch_write() as batch:
            for chat_id in sorted(set(chat_ids)):
                batch.delete(MembershipItem(user_id, chat_id))

    @guarded
    def memberships(self, chat_id: str, user_ids: Iterable[str]) -> Mapping[str, Membership]:
        keys = [(user_id, chat_id) for user_id in sorted(set(user_ids))]
        return {
            item.user_id: membership_from(item)
            for item in MembershipItem.batch_get(keys, consistent_read=True)
        }

    @guarded
    def advance_pointers(self, chat_id: str, user_id: str, old: Pointers, new: Pointers) -> bool:
        return applied(
            lambda: MembershipItem(user_id, chat_id).update(
                actions=[
                    MembershipItem.delivered_seq.set(new.delivered_seq),
                    MembershipItem.read_seq.set(new.read_seq),
                ],
                condition=(MembershipItem.delivered_seq == old.delivered_seq)
                & (MembershipItem.read_seq == old.read_seq),
            )
        )

    # ------------------------------------------------------------ messages

    @guarded
    def append_message(self, chat: ChatRecord, message: Message) -> StoredSend:
        seq = chat.last_seq + 1
        stored = Message(**{**message.__dict__, "seq": seq})
        key = send_key(chat.chat_id, message.sender_id, message.client_msg_id)
        chat_item = ChatItem(chat.chat_id)
        try:
            with TransactWrite(connection=self._tx_connection) as tx:
                tx.save(
                    MessageItem(stored.chat_id, **message_attributes(stored)),
                    condition=MessageItem.chat_id.does_not_exist(),
                )
                tx.save(
                    SendKeyItem(
                        key,
                        seq=seq,
                        message_id=stored.message_id,
                        sent_at=stored.sent_at,
                        expires_at=datetime_at(int(time.time()) + SEND_KEY_TTL_SECONDS),
                    ),
                    condition=SendKeyItem.send_key.does_not_exist(),
                    return_values="ALL_OLD",
                )
                tx.update(
                    chat_item,
                    actions=[
                        ChatItem.last_seq.set(seq),
                        ChatItem.last_message.set(MessageMap(**message_attributes(stored))),
                        ChatItem.last_activity.set(stored.sent_at),
                    ],
                    # blocked_by: a block that landed since the chat was read stops the send.
                    condition=(ChatItem.last_seq == chat.last_seq) & ChatItem.blocked_by.does_not_exist(),
                    return_values="ALL_OLD",
                )
                tx.update(
                    MembershipItem(message.sender_id, chat.chat_id),
                    actions=[MembershipItem.read_seq.set(seq), MembershipItem.delivered_seq.set(seq)],
                    # A member (the roster may not have been read: a large chat's send) whose
                    # reply answers a message they can see: after the one that added them.
                    condition=_member_who_sees(message.reply_to),
                    return_values="ALL_OLD",
                )
                for attachment in message.attachments:  # each file goes with one message only
                    tx.update(
                        AttachmentItem(attachment.attachment_id),
                        actions=[AttachmentItem.seq.set(seq), AttachmentItem.expires_at.remove()],
                        condition=AttachmentItem.seq.does_not_exist()
                        & (AttachmentItem.user_id == message.sender_id)
                        & (AttachmentItem.chat_id == chat.chat_id),
                        return_values="ALL_OLD",
                    )
        except TransactWriteError as exc:
            return self._explain_cancelled_send(exc, chat, message)
        return StoredSend(message=stored, duplicate=False)

    @guarded
    def find_send(self, message: Message) -> StoredSend | None:
        item = get_or_none(SendKeyItem, send_key(message.chat_id, message.sender_id, message.client_msg_id))
        return stored_send(item, message) if item is not None else None

    def _explain_cancelled_send(
        self, exc: TransactWriteError, chat: ChatRecord, message: Message
    ) -> StoredSend:
        if exc.cause_response_code != "TransactionCanceledException":
            raise exc
        reasons = [r for r in exc.cancellation_reasons if r is not None]
        for reason in reasons:
            if reason.code == CONDITION_FAILED and reason.raw_item and "send_key" in reason.raw_item:
                return stored_send(SendKeyItem.from_raw_data(reason.raw_item), message)
        for reason in reasons:
            if reason.code == CONDITION_FAILED and reason.raw_item and "last_seq" in reason.raw_item:
                raise SeqConflict(chat_from(ChatItem.from_raw_data(reason.raw_item)))
        for reason in reasons:
            if reason.code == CONDITION_FAILED and reason.raw_item and "read_seq" in reason.raw_item:
                joined = int(MembershipItem.from_raw_data(reason.raw_item).joined_seq or 0)
                check_reply(message.reply_to or 0, joined, chat.last_seq)
        # The membership's update comes fourth (message, send key, chat, membership): refused
        # with no item, the sender is no member (a large chat's send reads no roster).
        every = exc.cancellation_reasons or []
        if (
            len(every) > 3
            and every[3] is not None
            and every[3].code == CONDITION_FAILED
            and not every[3].raw_item
        ):
            raise Forbidden(f"not a member of chat {chat.chat_id}")
        # The attachments' updates follow the message, the send key, the chat and the membership.
        for attachment, cancelled in zip(
            message.attachments, (exc.cancellation_reasons or [])[4:], strict=False
        ):
            if cancelled is not None and cancelled.code == CONDITION_FAILED:
                raise BadRequest(
                    f"attachment {attachment.attachment_id} is part of another message, or not yours to send"
                )
        # A concurrent transaction on the same items (TransactionConflict) or the chat vanished:
        # read it again and let the caller retry.
        current = self.get_chat(chat.chat_id)
        if current is None:
            raise NotFound() from exc
        raise SeqConflict(current) from exc

    @guarded
    def messages(
        self, chat_id: str, before: int | None, after: int | None, limit: int, floor: int = 0
    ) -> Page:
        forward = after is not None  # "after" pages walk forward; the others walk back from the end
        low = max(after if after is not None else 0, floor) + 1  # the first seq that may show
        high = before - 1 if before is not None else None
        if high is not None and high < low:
            return Page()
        condition: Condition | None = None
        if high is not None:
            condition = MessageItem.seq.between(low, high)
        elif low > 1:
            condition = MessageItem.seq >= low
        items = list(
            MessageItem.query(
                chat_id,
                range_key_condition=condition,
                scan_index_forward=forward,
                limit=limit + 1,
                consistent_read=True,
            )
        )
        has_more = len(items) > limit
        messages = [message_from(item, chat_id) for item in items[:limit]]
        if not forward:
            messages.reverse()
        return Page(messages=messages, has_more=has_more)

    @guarded
    def message_at(self, chat_id: str, seq: int) -> Message | None:
        item = get_or_none(MessageItem, chat_id, seq)
        return message_from(item, chat_id) if item is not None else None

    @guarded
    def mark_fanned_out(self, message: Message) -> None:
        key = send_key(message.chat_id, message.sender_id, message.client_msg_id)
        SendKeyItem(key).update(
            actions=[SendKeyItem.fanned_out.set(True)], condition=SendKeyItem.send_key.exists()
        )

    @guarded
    def claim_fanout(self, message: Message) -> bool:
        key = send_key(message.chat_id, message.sender_id, message.client_msg_id)
        return applied(
            lambda: SendKeyItem(key).update(
                actions=[SendKeyItem.fanned_out.set(True)],
                condition=SendKeyItem.send_key.exists() & SendKeyItem.fanned_out.does_not_exist(),
            )
        )
