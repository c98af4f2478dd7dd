"""Messages that change: ``message.edit``, ``message.delete``, ``reaction.set`` and ``chat.changes``.

A change reads the chat, the member's membership and the message in one request, decides with
``domain.changes``, and stores the new state under the chat's next ``rev`` in one transaction
that fails if anything it decided on moved (then it reads and decides again). It is posted as
``chat:message:updated`` to the connections viewing the chat of the members who can see the
message, except the acting connection: no push, no ``seq``, no unread, no receipt moves.

Requests for a chat of N members: the connection's turn, the read, the write and the members'
presence (ceil(N/100)), plus the roster when the chat lists no members on its item (above 50)
or the message is older than the chat's last membership change (then who can see it depends
on when each member joined): at most 4 + ceil(N/100).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.actions.base import ActionBase
from chalicelib.actions.router import Context, Outcome, handles
from chalicelib.domain import changes, ids
from chalicelib.domain.errors import Forbidden, NotFound, Unavailable
from chalicelib.domain.frames import Post, checked, fit
from chalicelib.domain.membership import Roster
from chalicelib.domain.protocol import ChatChanges, MessageDelete, MessageEdit, ReactionSet, frame
from chalicelib.domain.records import ChatRecord, Message
from chalicelib.storage import ChangeConflict

# The change a request asks for, decided on the message as read and the chat's members.
Decide = Callable[[ChatRecord, Callable[[], tuple[str, ...]], Message], Message | None]


class _Members:
    """The chat's members and when each joined, read from the roster at most once, and only
    when the chat item does not say enough."""

    def __init__(self, actions: ActionBase, chat: ChatRecord) -> None:
        self._actions = actions
        self._chat = chat
        self._roster: Roster | None = None

    def roster(self) -> Roster:
        if self._roster is None:
            self._roster = self._actions.store.roster(self._chat)
        return self._roster

    def all(self) -> tuple[str, ...]:
        if self._chat.members is not None:
            return self._chat.members
        return self.roster().members()

    def seeing(self, seq: int) -> list[str]:
        """The members who can see the message at ``seq``: every member when it is newer than
        the last membership change, else those who joined before it."""
        if seq > self._chat.members_seq:
            return list(self.all())
        return [user for user, joined in self.roster().joined().items() if joined < seq]


class ChangeActions(ActionBase):
    @handles(MessageEdit)
    def edit(self, ctx: Context, r: MessageEdit) -> Outcome:
        def decide(
            chat: ChatRecord, members: Callable[[], tuple[str, ...]], message: Message
        ) -> Message | None:
            mentions = None
            if r.mentions is not None:
                mentions = changes.kept_mentions(r.mentions, ctx.user_id, members())
            return changes.edit(message, ctx.user_id, r.text, mentions, ids.iso_now())

        return self._change(ctx, r.chat_id, r.seq, decide)

    @handles(MessageDelete)
    def delete(self, ctx: Context, r: MessageDelete) -> Outcome:
        return self._change(
            ctx,
            r.chat_id,
            r.seq,
            lambda chat, members, message: changes.delete(message, ctx.user_id, chat.admins),
        )

    @handles(ReactionSet)
    def react(self, ctx: Context, r: ReactionSet) -> Outcome:
        return self._change(
            ctx, r.chat_id, r.seq, lambda chat, members, message: changes.react(message, ctx.user_id, r.emoji)
        )

    def _change(self, ctx: Context, chat_id: str, seq: int, decide: Decide) -> Outcome:
        for _ in self.contention.attempts():
            context = self.store.message_context(chat_id, ctx.user_id, seq)
            chat, membership = context.chat, context.membership
            if chat is None or membership is None:
                raise Forbidden(f"not a member of chat {chat_id}")
            changes.check_visible(seq, membership.joined_seq, chat.last_seq)
            if context.message is None:  # a seq the chat has passed is always stored
                raise NotFound(f"no message {seq} in this chat")
            members = _Members(self, chat)
            after = decide(chat, members.all, context.message)
            if after is None:  # changes nothing: the message as it is, and no one is told
                return Outcome(self._updated(ctx, context.message))
            after = changes.at_rev(after, chat.last_rev + 1)
            try:
                self.store.change_message(chat, context.message, after)
                break
            except ChangeConflict:
                continue
        else:
            raise Unavailable("the message is changing, retry")
        gone = [a.key(chat_id) for a in context.message.attachments if a not in after.attachments]
        if gone and self.files is not None:  # a deleted message's files go with it, before the reply
            self.files.delete(gone)
        return Outcome(self._updated(ctx, after), lambda: self._posts(ctx, chat, members.seeing(seq), after))

    def _updated(self, ctx: Context, message: Message) -> dict[str, Any]:
        return frame("message:updated", ctx.req, chat_id=message.chat_id, message=self._wire(message))

    def _posts(self, ctx: Context, chat: ChatRecord, audience: Iterable[str], message: Message) -> list[Post]:
        """``chat:message:updated`` to every connection viewing the chat of those who can see the
        message, the acting user's other devices included, the acting connection excepted."""
        data = checked(frame("chat:message:updated", message=self._wire(message)))
        return [
            (p.connection_id, data)
            for p in self._connections(audience, skip_connection=ctx.connection_id)
            if p.viewing == chat.chat_id
        ]

    @handles(ChatChanges)
    def list_changes(self, ctx: Context, r: ChatChanges) -> Outcome:
        # The chat is read before the changes: every change up to its last_rev is then in
        # them (a change commits its rev and its entry together), so a client may resume from
        # the last_rev it is given without missing one.
        chat, membership = self._member_chat(ctx, r.chat_id)
        # Changes up to the rev at which the member was added are all hidden from them: the
        # Query starts after it (a key condition), so they cost nothing to skip.
        after = max(r.after_rev, membership.joined_rev)
        page = self.store.changes(chat.chat_id, after, r.limit, floor=membership.joined_seq)
        messages = [self._wire(m) for m in page.messages]
        last_rev = max([chat.last_rev, *(m.rev for m in page.messages)])
        reply = frame(
            "chat:changes",
            ctx.req,
            chat_id=chat.chat_id,
            messages=[],
            last_rev=last_rev,
            has_more=page.has_more,
        )
        count = fit(reply, "messages", messages)
        reply["messages"] = messages[:count]
        reply["has_more"] = page.has_more or count < len(messages)
        return Outcome(reply)
