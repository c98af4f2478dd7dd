"""``Store``'s blocks on DynamoDB (see ``storage/base.py`` for their costs).

Where block state lives:

- ``blocks`` (``BlockItem``): one item per (blocker, blocked), plus one counter item per
  blocker (``BLOCK_COUNT_KEY``) that keeps the count under ``MAX_BLOCKED``. Read by
  ``user.blocks`` (Query), group create/add (BatchGetItem of (candidate, actor)), the push
  worker (BatchGetItem of (recipient, sender)) and a direct chat's creation (ConditionCheck).
- the pair's direct chat item (``ChatItem.blocked_by``, a string set of the blockers), when the
  chat exists: ``message.send`` reads the chat item anyway, so a send in a chat nobody blocks
  costs nothing more; the send's own conditional update requires the set to be absent, so a
  block that lands between the read and the write is honoured.

A block and an unblock are each one transaction over both places, so they never disagree: the
block item (conditioned, so a second block changes nothing), the counter (conditioned on the
limit) and the chat's set, or, with no direct chat, a check that it still does not exist (a
direct chat's creation checks that no block item stands: one of the two transactions fails).
"""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.connection import Connection as PynamoConnection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.domain import ids
from chalicelib.domain.errors import TooLarge
from chalicelib.domain.records import MAX_BLOCKED, ChatRecord
from chalicelib.storage.base import BlockConflict
from chalicelib.storage.calls import guarded
from chalicelib.storage.tables import BLOCK_COUNT_KEY, BlockItem, ChatItem

CONDITION_FAILED = "ConditionalCheckFailed"


def _failed(exc: TransactWriteError) -> list[bool]:
    """Per item of a cancelled transaction: did its condition fail (re-raised unless cancelled)."""
    if exc.cause_response_code != "TransactionCanceledException":
        raise exc
    return [r is not None and r.code == CONDITION_FAILED for r in exc.cancellation_reasons or []]


class DynamoBlocks:
    _tx_connection: PynamoConnection

    @guarded
    def block(self, user_id: str, other_id: str, chat: ChatRecord | None, absent_chat_id: str) -> bool:
        """``user_id`` blocks ``other_id``; False when they did already (nothing changes)."""
        try:
            with TransactWrite(connection=self._tx_connection) as tx:
                tx.save(
                    BlockItem(user_id, other_id, blocked_at=ids.iso_now()),
                    condition=BlockItem.other_id.does_not_exist(),
                )
                tx.update(
                    BlockItem(user_id, BLOCK_COUNT_KEY),
                    actions=[BlockItem.total.add(1)],
                    condition=BlockItem.total.does_not_exist() | (BlockItem.total < MAX_BLOCKED),
                )
                if chat is not None:
                    tx.update(
                        ChatItem(chat.chat_id),
                        actions=[ChatItem.blocked_by.add({user_id})],
                        condition=ChatItem.chat_id.exists(),
                    )
                else:
                    tx.condition_check(ChatItem, absent_chat_id, condition=ChatItem.chat_id.does_not_exist())
        except TransactWriteError as exc:
            # PynamoDB sends a transaction's condition checks first, then deletes, puts, updates.
            failed = _failed(exc)[(1 if chat is None else 0) :]
            if failed[:1] == [True]:
                return False  # blocked already
            if failed[1:2] == [True]:
                raise TooLarge(f"you can block at most {MAX_BLOCKED} users") from None
            raise BlockConflict() from exc  # the chat appeared, or a concurrent transaction
        return True

    @guarded
    def unblock(self, user_id: str, other_id: str, chat: ChatRecord | None) -> bool:
        """``user_id`` no longer blocks ``other_id``; False when they did not (nothing changes).
        Without a direct chat there is nothing else to write: none can be created while the
        block stands."""
        try:
            with TransactWrite(connection=self._tx_connection) as tx:
                tx.delete(BlockItem(user_id, other_id), condition=BlockItem.other_id.exists())
                tx.update(BlockItem(user_id, BLOCK_COUNT_KEY), actions=[BlockItem.total.add(-1)])
                if chat is not None:
                    tx.update(
                        ChatItem(chat.chat_id),
                        actions=[ChatItem.blocked_by.delete({user_id})],
                        condition=ChatItem.chat_id.exists(),
                    )
        except TransactWriteError as exc:
            if _failed(exc)[:1] == [True]:
                return False  # not blocked
            raise BlockConflict() from exc
        return True

    @guarded
    def blocked(self, user_id: str) -> list[str]:
        """The users ``user_id`` blocks, sorted (1 Query)."""
        return sorted(
            item.other_id
            for item in BlockItem.query(user_id, consistent_read=True, attributes_to_get=["other_id"])
            if item.other_id != BLOCK_COUNT_KEY
        )

    @guarded
    def blockers(self, blocked: str, users: Iterable[str]) -> set[str]:
        """Of ``users``, those who block ``blocked`` (BatchGetItem, ceil(N/100) requests)."""
        keys = [(user, blocked) for user in sorted(set(users)) if user != blocked]
        if not keys:
            return set()
        return {
            item.user_id
            for item in BlockItem.batch_get(keys, consistent_read=True, attributes_to_get=["user_id"])
        }
