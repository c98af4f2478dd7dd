"""The ``Store`` on DynamoDB through PynamoDB.

Every method is a GetItem, a Query, a BatchGetItem or a write on a key designed for it; nothing
here scans. PynamoDB/botocore retry throttling; whatever still fails becomes ``Unavailable``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from pynamodb.connection import Connection as PynamoConnection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import NotFound, Unavailable
from chalicelib.model import ChatRecord, Connection, Message, Page, Pointers, Presence, StoredSend
from chalicelib.storage.base import SeqConflict, Store
from chalicelib.storage.tables import (
    ChatItem,
    ConnectionItem,
    MembershipItem,
    MessageItem,
    MessageMap,
    PresenceItem,
    SendKeyItem,
)

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

CONDITION_FAILED = "ConditionalCheckFailed"


def _guarded(method: F) -> F:
    """Translate storage failures into the domain's ``Unavailable``, where the call is made."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except PynamoDBException as exc:
            log.warning("storage call %s failed: %s", method.__name__, exc)
            raise Unavailable() from exc

    return wrapper  # type: ignore[return-value]


def _epoch(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _is_condition_failure(exc: PynamoDBException) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


M = TypeVar("M", bound=Model)


def _get(model: type[M], hash_key: str, consistent: bool = True) -> M | None:
    """GetItem, None when absent."""
    try:
        return model.get(hash_key, consistent_read=consistent)
    except model.DoesNotExist:
        return None


def send_key(chat_id: str, sender_id: str, client_msg_id: str) -> str:
    return f"{chat_id}|{sender_id}|{client_msg_id}"


# ---------------------------------------------------------------- item <-> record


def _message_from(item: MessageItem | MessageMap, chat_id: str) -> Message:
    return Message(
        chat_id=chat_id,
        seq=int(item.seq),
        message_id=item.message_id,
        client_msg_id=item.client_msg_id,
        sender_id=item.sender_id,
        text=item.text,
        sent_at=item.sent_at,
    )


def _message_map(message: Message) -> MessageMap:
    fields = message.to_wire()
    del fields["chat_id"]  # the chat item's own key
    return MessageMap(**fields)


def _chat_from(item: ChatItem) -> ChatRecord:
    return ChatRecord(
        chat_id=item.chat_id,
        title=item.title,
        members=tuple(str(m) for m in item.members or ()),
        created_by=item.created_by,
        created_at=item.created_at,
        last_seq=int(item.last_seq or 0),
        last_message=_message_from(item.last_message, item.chat_id) if item.last_message else None,
    )


def _pointers_from(item: MembershipItem) -> Pointers:
    return Pointers(delivered_seq=int(item.delivered_seq or 0), read_seq=int(item.read_seq or 0))


def _presence_from(item: PresenceItem, now: int) -> list[Presence]:
    entries = item.conns.as_dict() if item.conns is not None else {}
    live = []
    for connection_id, entry in entries.items():
        expires_at = int(entry.get("exp", 0))
        if expires_at > now:
            live.append(Presence(connection_id, entry.get("chat"), expires_at))
    return live


class DynamoStore(Store):
    def __init__(self) -> None:
        meta = ChatItem.Meta
        self._tx_connection = PynamoConnection(
            region=meta.region,
            connect_timeout_seconds=meta.connect_timeout_seconds,
            read_timeout_seconds=meta.read_timeout_seconds,
            max_retry_attempts=meta.max_retry_attempts,
        )

    # ------------------------------------------------------------ connections

    @_guarded
    def add_connection(self, connection: Connection) -> None:
        ConnectionItem(
            connection.connection_id,
            user_id=connection.user_id,
            name=connection.name,
            connected_at=connection.connected_at,
            expires_at=_at(connection.expires_at),
        ).save()
        self._put_presence_entry(connection, viewing=None)

    def _put_presence_entry(self, connection: Connection, viewing: str | None) -> None:
        """Add (or restore) a connection to its user's presence item, pruning expired ones."""
        entry: dict[str, Any] = {"exp": connection.expires_at}
        if viewing:
            entry["chat"] = viewing
        for _ in range(5):
            current = _get(PresenceItem, connection.user_id)
            try:
                if current is None:
                    PresenceItem(
                        connection.user_id,
                        conns={connection.connection_id: entry},
                        expires_at=_at(connection.expires_at),
                    ).save(condition=PresenceItem.user_id.does_not_exist())
                    return
                now = int(time.time())
                old = current.conns.as_dict() if current.conns is not None else {}
                expired = [cid for cid, e in old.items() if int(e.get("exp", 0)) <= now]
                actions = [PresenceItem.conns[connection.connection_id].set(entry)]
                actions += [
                    PresenceItem.conns[cid].remove() for cid in expired if cid != connection.connection_id
                ]
                latest = max([connection.expires_at, _epoch(current.expires_at)])
                actions.append(PresenceItem.expires_at.set(_at(latest)))
                current.update(actions=actions, condition=PresenceItem.user_id.exists())
                return
            except PynamoDBException as exc:
                if not _is_condition_failure(exc):
                    raise
        raise Unavailable("could not register the connection, retry")

    @_guarded
    def get_connection(self, connection_id: str) -> Connection | None:
        item = _get(ConnectionItem, connection_id)
        if item is None:
            return None
        return Connection(
            connection_id=item.connection_id,
            user_id=item.user_id,
            name=item.name,
            connected_at=int(item.connected_at),
            expires_at=_epoch(item.expires_at),
        )

    @_guarded
    def remove_connection(self, connection_id: str) -> Connection | None:
        connection = self.get_connection(connection_id)
        if connection is None:
            return None
        ConnectionItem(connection_id).delete()
        try:
            PresenceItem(connection.user_id).update(
                actions=[PresenceItem.conns[connection_id].remove()],
                condition=PresenceItem.conns[connection_id].exists(),
            )
        except PynamoDBException as exc:
            if not _is_condition_failure(exc):
                raise
        return connection

    @_guarded
    def set_viewing(self, connection: Connection, chat_id: str) -> None:
        entry = PresenceItem.conns[connection.connection_id]
        try:
            PresenceItem(connection.user_id).update(
                actions=[entry["chat"].set(chat_id)], condition=entry.exists()
            )
        except PynamoDBException as exc:
            if not _is_condition_failure(exc):
                raise
            # The entry was pruned or lost while the connection record lives on: restore it.
            self._put_presence_entry(connection, viewing=chat_id)

    @_guarded
    def clear_viewing(self, connection: Connection, chat_id: str) -> None:
        path = PresenceItem.conns[connection.connection_id]["chat"]
        try:
            PresenceItem(connection.user_id).update(actions=[path.remove()], condition=path == chat_id)
        except PynamoDBException as exc:
            if not _is_condition_failure(exc):
                raise  # not viewing that chat: nothing to change

    @_guarded
    def presence(self, user_ids: Iterable[str]) -> Mapping[str, list[Presence]]:
        keys = sorted(set(user_ids))
        now = int(time.time())
        return {
            item.user_id: _presence_from(item, now)
            for item in PresenceItem.batch_get(keys, consistent_read=True)
        }

    # ------------------------------------------------------------ chats and members

    @_guarded
    def create_chat(self, chat: ChatRecord) -> None:
        # Memberships first, the chat item last: a chat exists only once it is complete, and a
        # membership without its chat (a crash in between) is skipped by chat.list.
        with MembershipItem.batch_write() as batch:
            for user_id in chat.members:
                batch.save(MembershipItem(user_id, chat.chat_id, joined_at=chat.created_at))
        ChatItem(
            chat.chat_id,
            title=chat.title,
            members=list(chat.members),
            created_by=chat.created_by,
            created_at=chat.created_at,
            last_seq=0,
        ).save(condition=ChatItem.chat_id.does_not_exist())

    @_guarded
    def get_chat(self, chat_id: str) -> ChatRecord | None:
        item = _get(ChatItem, chat_id)
        return _chat_from(item) if item else None

    @_guarded
    def get_chats(self, chat_ids: Iterable[str]) -> list[ChatRecord]:
        return [_chat_from(item) for item in ChatItem.batch_get(sorted(set(chat_ids)), consistent_read=True)]

    @_guarded
    def memberships_of(self, user_id: str) -> Mapping[str, Pointers]:
        return {
            item.chat_id: _pointers_from(item) for item in MembershipItem.query(user_id, consistent_read=True)
        }

    @_guarded
    def pointers(self, chat_id: str, user_ids: Iterable[str]) -> Mapping[str, Pointers]:
        keys = [(user_id, chat_id) for user_id in sorted(set(user_ids))]
        return {
            item.user_id: _pointers_from(item)
            for item in MembershipItem.batch_get(keys, consistent_read=True)
        }

    @_guarded
    def advance_pointers(self, chat_id: str, user_id: str, old: Pointers, new: Pointers) -> bool:
        try:
            MembershipItem(user_id, chat_id).update(
                actions=[
                    MembershipItem.delivered_seq.set(new.delivered_seq),
                    MembershipItem.read_seq.set(new.read_seq),
                ],
                condition=(MembershipItem.delivered_seq == old.delivered_seq)
                & (MembershipItem.read_seq == old.read_seq),
            )
        except PynamoDBException as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    # ------------------------------------------------------------ messages

    @_guarded
    def append_message(self, chat: ChatRecord, message: Message) -> StoredSend:
        seq = chat.last_seq + 1
        stored = Message(**{**message.__dict__, "seq": seq})
        key = send_key(chat.chat_id, message.sender_id, message.client_msg_id)
        chat_item = ChatItem(chat.chat_id)
        try:
            with TransactWrite(connection=self._tx_connection) as tx:
                tx.save(
                    MessageItem(
                        chat.chat_id,
                        seq,
                        message_id=stored.message_id,
                        client_msg_id=stored.client_msg_id,
                        sender_id=stored.sender_id,
                        text=stored.text,
                        sent_at=stored.sent_at,
                    ),
                    condition=MessageItem.chat_id.does_not_exist(),
                )
                tx.save(
                    SendKeyItem(key, seq=seq, message_id=stored.message_id, sent_at=stored.sent_at),
                    condition=SendKeyItem.send_key.does_not_exist(),
                    return_values="ALL_OLD",
                )
                tx.update(
                    chat_item,
                    actions=[
                        ChatItem.last_seq.set(seq),
                        ChatItem.last_message.set(_message_map(stored)),
                    ],
                    condition=(ChatItem.last_seq == chat.last_seq),
                    return_values="ALL_OLD",
                )
                tx.update(
                    MembershipItem(message.sender_id, chat.chat_id),
                    actions=[MembershipItem.read_seq.set(seq), MembershipItem.delivered_seq.set(seq)],
                )
        except TransactWriteError as exc:
            return self._explain_cancelled_send(exc, chat, message)
        return StoredSend(message=stored, duplicate=False)

    def _explain_cancelled_send(
        self, exc: TransactWriteError, chat: ChatRecord, message: Message
    ) -> StoredSend:
        if exc.cause_response_code != "TransactionCanceledException":
            raise exc
        reasons = [r for r in exc.cancellation_reasons if r is not None]
        for reason in reasons:
            if reason.code == CONDITION_FAILED and reason.raw_item and "send_key" in reason.raw_item:
                original = SendKeyItem.from_raw_data(reason.raw_item)
                return StoredSend(
                    message=Message(
                        **{
                            **message.__dict__,
                            "seq": int(original.seq),
                            "message_id": original.message_id,
                            "sent_at": original.sent_at,
                        }
                    ),
                    duplicate=True,
                )
        for reason in reasons:
            if reason.code == CONDITION_FAILED and reason.raw_item and "last_seq" in reason.raw_item:
                raise SeqConflict(_chat_from(ChatItem.from_raw_data(reason.raw_item)))
        # A concurrent transaction on the same items (TransactionConflict) or the chat vanished:
        # read it again and let the caller retry.
        current = self.get_chat(chat.chat_id)
        if current is None:
            raise NotFound() from exc
        raise SeqConflict(current) from exc

    @_guarded
    def messages(self, chat_id: str, before: int | None, after: int | None, limit: int) -> Page:
        condition: Condition | None = None
        forward = after is not None  # "after" pages walk forward; the others walk back from the end
        if before is not None and after is not None:
            if before - after <= 1:
                return Page()
            condition = MessageItem.seq.between(after + 1, before - 1)
        elif after is not None:
            condition = MessageItem.seq > after
        elif before is not None:
            condition = MessageItem.seq < before
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
        messages = [_message_from(item, chat_id) for item in items[:limit]]
        if not forward:
            messages.reverse()
        return Page(messages=messages, has_more=has_more)
