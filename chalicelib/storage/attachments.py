"""``Store``'s attachment records on DynamoDB (see ``storage/base.py`` for their costs)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pynamodb.connection import Connection as PynamoConnection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.domain.records import AttachmentRecord
from chalicelib.storage.calls import guarded
from chalicelib.storage.mapping import attachment_from, datetime_at
from chalicelib.storage.tables import AttachmentItem, MembershipItem


class DynamoAttachments:
    _tx_connection: PynamoConnection

    @guarded
    def create_attachment(self, record: AttachmentRecord, expires_at: int) -> bool:
        """Store a new attachment record if its user is a member of its chat: one transaction of
        a condition check on the membership and the put. False when not a member."""
        a = record.attachment
        try:
            with TransactWrite(connection=self._tx_connection) as tx:
                tx.condition_check(
                    MembershipItem, record.user_id, record.chat_id, condition=MembershipItem.chat_id.exists()
                )
                tx.save(
                    AttachmentItem(
                        a.attachment_id,
                        user_id=record.user_id,
                        chat_id=record.chat_id,
                        name=a.name,
                        content_type=a.content_type,
                        size=a.size,
                        created_at=record.created_at,
                        expires_at=datetime_at(expires_at),
                    ),
                    condition=AttachmentItem.attachment_id.does_not_exist(),
                )
        except TransactWriteError as exc:
            reasons = exc.cancellation_reasons or []
            if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
                return False
            raise
        return True

    @guarded
    def attachments(self, attachment_ids: Iterable[str]) -> Mapping[str, AttachmentRecord]:
        """The records of these ids that exist (1 BatchGetItem, strongly consistent)."""
        keys = sorted(set(attachment_ids))
        return {
            item.attachment_id: attachment_from(item)
            for item in AttachmentItem.batch_get(keys, consistent_read=True)
        }
