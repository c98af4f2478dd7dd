"""``Store``'s "messages that change" methods on DynamoDB (see ``storage/base.py`` for their costs).

A change is read in one request and written in one:
- ``message_context``: one BatchGetItem across three tables (the chat, the member's
  membership, the message), strongly consistent. A BatchGetItem, not a TransactGetItems: a
  transactional read is cancelled by any transaction in flight on the chat item, which every
  send is.
- ``change_message``: one transaction that stores the message's new state (conditioned on the
  rev it was read at), writes it under its new rev in ``changes`` and deletes its previous rev's
  entry there, and moves the chat's ``last_rev`` (conditioned on the ``last_rev`` and the
  members it was read with; and, when the message is the chat's ``last_message``, on
  ``last_seq``, so that copy follows it). Revs therefore commit in order: a client that read
  ``last_rev`` R has every change up to R in ``changes``.
"""

from __future__ import annotations

import time
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.connection import Connection as PynamoConnection
from pynamodb.connection.base import BOTOCORE_EXCEPTIONS
from pynamodb.exceptions import GetError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.domain.records import ChatRecord, Membership, Message, Page
from chalicelib.storage.base import ChangeConflict, MessageContext
from chalicelib.storage.calls import guarded
from chalicelib.storage.mapping import chat_from, membership_from, message_attributes, message_from
from chalicelib.storage.tables import ChangeItem, ChatItem, MembershipItem, MessageItem, MessageMap

UNPROCESSED_RETRIES = 5


def _same(attribute: Attribute[Any], value: int) -> Condition:
    """The attribute still holds ``value`` (0: also when absent, as on items from before it)."""
    condition: Condition = (attribute == value) if value else (attribute.does_not_exist() | (attribute == 0))
    return condition


class DynamoChanges:
    _tx_connection: PynamoConnection

    @guarded
    def message_context(self, chat_id: str, user_id: str, seq: int) -> MessageContext:
        request: dict[str, Any] = {
            ChatItem.Meta.table_name: {"Keys": [{"chat_id": {"S": chat_id}}], "ConsistentRead": True},
            MembershipItem.Meta.table_name: {
                "Keys": [{"user_id": {"S": user_id}, "chat_id": {"S": chat_id}}],
                "ConsistentRead": True,
            },
            MessageItem.Meta.table_name: {
                "Keys": [{"chat_id": {"S": chat_id}, "seq": {"N": str(seq)}}],
                "ConsistentRead": True,
            },
        }
        found: dict[str, list[dict[str, Any]]] = {}
        for attempt in range(UNPROCESSED_RETRIES):
            try:
                response = self._tx_connection.dispatch("BatchGetItem", {"RequestItems": request})
            except BOTOCORE_EXCEPTIONS as exc:
                raise GetError(f"Failed to read the message's context: {exc}", exc) from exc
            for table, items in (response.get("Responses") or {}).items():
                found.setdefault(table, []).extend(items)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.02 * 2**attempt)
        else:
            raise GetError("DynamoDB left keys of the message's context unprocessed")
        chats = found.get(ChatItem.Meta.table_name) or []
        memberships = found.get(MembershipItem.Meta.table_name) or []
        messages = found.get(MessageItem.Meta.table_name) or []
        chat = chat_from(ChatItem.from_raw_data(chats[0])) if chats else None
        membership: Membership | None = (
            membership_from(MembershipItem.from_raw_data(memberships[0])) if memberships else None
        )
        message = message_from(MessageItem.from_raw_data(messages[0]), chat_id) if messages else None
        return MessageContext(chat=chat, membership=membership, message=message)

    @guarded
    def change_message(self, chat: ChatRecord, before: Message, after: Message) -> None:
        chat_id = chat.chat_id
        attributes = message_attributes(after)
        chat_actions: list[Any] = [ChatItem.last_rev.set(after.rev)]
        chat_condition = _same(ChatItem.last_rev, chat.last_rev) & _same(
            ChatItem.members_seq, chat.members_seq
        )
        if chat.last_message is not None and chat.last_message.seq == after.seq:
            chat_actions.append(ChatItem.last_message.set(MessageMap(**attributes)))
            chat_condition &= ChatItem.last_seq == chat.last_seq
        try:
            with TransactWrite(connection=self._tx_connection) as tx:
                tx.save(
                    MessageItem(chat_id, **attributes),
                    condition=MessageItem.seq.exists() & _same(MessageItem.rev, before.rev),
                )
                tx.save(ChangeItem(chat_id, **attributes))
                if before.rev:
                    tx.delete(ChangeItem(chat_id, before.rev))
                tx.update(ChatItem(chat_id), actions=chat_actions, condition=chat_condition)
        except TransactWriteError as exc:
            if exc.cause_response_code == "TransactionCanceledException":
                raise ChangeConflict(chat_id) from exc
            raise

    @guarded
    def changes(self, chat_id: str, after_rev: int, limit: int, floor: int = 0) -> Page:
        # limit + 1 visible changes tell whether there are more. Changes of messages at or below
        # ``floor`` (before the member joined) are filtered out by DynamoDB; when they fill a
        # whole page the iterator reads on, so a member added late pays for what they skip.
        results = ChangeItem.query(
            chat_id,
            range_key_condition=ChangeItem.rev > after_rev,
            filter_condition=(ChangeItem.seq > floor) if floor else None,
            consistent_read=True,
            limit=limit + 1,
            page_size=limit + 1,
        )
        messages = [message_from(item, chat_id) for item in results]
        return Page(messages=messages[:limit], has_more=len(messages) > limit)
