"""``attachment.create``: a member may upload one file for one chat, straight to S3.

The backend stores a record of the file (whose, for which chat, its name, type and exact size)
and answers with a presigned POST that only accepts that file: the bytes never pass through
Lambda or the WebSocket. The record and the upload form cost the connection's turn and one
transaction (a check of the membership and the put); signing the form is local. A send then
names the file (``actions/messages.py``), which checks the object itself.
"""

from __future__ import annotations

import time

from chalicelib.actions.base import ActionBase
from chalicelib.actions.router import Context, Outcome, handles
from chalicelib.domain import ids
from chalicelib.domain.errors import BadRequest, Forbidden
from chalicelib.domain.protocol import AttachmentCreate, frame
from chalicelib.domain.records import Attachment, AttachmentRecord
from chalicelib.storage.files import FORM_SECONDS

# An unattached record goes a day after its upload form expired, as the lifecycle rule deletes
# the object a day after it was uploaded (at most 15 minutes after the form was made).
RECORD_SECONDS = FORM_SECONDS + 24 * 3600


class AttachmentActions(ActionBase):
    @handles(AttachmentCreate)
    def create(self, ctx: Context, r: AttachmentCreate) -> Outcome:
        if self.files is None:
            raise BadRequest("attachments are not configured on this deployment")
        attachment = Attachment(ids.new_attachment_id(), r.name, r.content_type, r.size)
        record = AttachmentRecord(attachment, ctx.user_id, r.chat_id, ids.iso_now())
        now = time.time()
        if not self.store.create_attachment(record, int(now) + RECORD_SECONDS):
            raise Forbidden(f"not a member of chat {r.chat_id}")
        upload = self.files.upload_form(attachment.key(r.chat_id), r.size, r.content_type)
        return Outcome(
            frame(
                "attachment:created",
                ctx.req,
                attachment=attachment.to_wire(),
                upload=upload,
                expires_at=ids.iso_from_epoch_ms(int((now + FORM_SECONDS) * 1000)),
            )
        )
