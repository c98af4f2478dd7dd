"""``message.report`` (PROTOCOL v3, "Blocking and reporting"): a member reports a message of
another member that they can see, for an operator to review (``python -m chatadmin``).

The chat, the reporter's membership and the message are read in one request (as a change reads
them), and the report, holding a copy of the message as it is now, is stored with one
conditional Put: reporting the same message again changes nothing and answers the same. Nobody
else is told. Requests: the connection's turn, the read and the put (3).
"""

from __future__ import annotations

from chalicelib.actions.base import ActionBase
from chalicelib.actions.router import Context, Outcome, handles
from chalicelib.domain import ids
from chalicelib.domain.changes import check_visible
from chalicelib.domain.errors import Forbidden, NotFound
from chalicelib.domain.protocol import MessageReport, frame
from chalicelib.domain.reports import new_report


class ReportActions(ActionBase):
    @handles(MessageReport)
    def report(self, ctx: Context, r: MessageReport) -> Outcome:
        context = self.store.message_context(r.chat_id, ctx.user_id, r.seq)
        if context.chat is None or context.membership is None:
            raise Forbidden(f"not a member of chat {r.chat_id}")
        check_visible(r.seq, context.membership.joined_seq, context.chat.last_seq)
        if context.message is None:  # a seq the chat has passed is always stored
            raise NotFound(f"no message {r.seq} in this chat")
        self.store.save_report(new_report(context.message, ctx.user_id, r.reason, ids.iso_now()))
        return Outcome(frame("message:reported", ctx.req, chat_id=r.chat_id, seq=r.seq))
