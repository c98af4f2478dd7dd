"""``message.send``, ``message.delivered``/``message.read`` and ``typing``.

A send stores the message, acknowledges it, fans it out, and then marks its send key
``fanned_out``. A store call that fails may have applied all the same (a timeout after the
write): the send then reads its send key, and if its own message is there it carries on as if
the call had answered. A retried send (same ``client_msg_id``) is acknowledged ``duplicate: true``
and, when the mark is missing, delivers the stored message itself: the first invocation died
between storing and fanning out (a Lambda timeout, a crash, a storage error after the write
applied that the send could not confirm). So that a first send still on its way is not
doubled, the retry waits until the message is ``late_fanout_grace_seconds`` old, then claims
the fan-out with a conditional write: only if the first send has not marked it by then does
the retry deliver, once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from chalicelib.actions.base import ActionBase
from chalicelib.actions.router import Context, Outcome, handles
from chalicelib.domain import ids
from chalicelib.domain.changes import check_reply, kept_mentions
from chalicelib.domain.errors import BadRequest, Forbidden, Unavailable
from chalicelib.domain.frames import Post
from chalicelib.domain.protocol import MessageSend, Receipt, Typing, frame
from chalicelib.domain.records import (
    Attachment,
    ChatRecord,
    Connection,
    Membership,
    Message,
    Reach,
    StoredSend,
    message_from_wire,
)
from chalicelib.domain.slices import Slice
from chalicelib.push.jobs import notified, offline_after, to_confirm, to_notify
from chalicelib.storage import SeqConflict, Store


class SliceQueue(Protocol):
    """Where a large chat's send queues its fan-out slices (``queues.Queue``: the fan-out queue)."""

    def send(self, bodies: Sequence[str], delay_seconds: int = 0) -> list[int]: ...


Members = tuple[str, ...] | None  # None: a large chat's, not read by the send (its slices read them)

log = logging.getLogger(__name__)

# A first send normally marks its fan-out within a second (posts to at most 100 connections in
# parallel, or shards queued); a retry waits until the message is this old before delivering.
LATE_FANOUT_GRACE_SECONDS = 5.0


@dataclass
class Watch:
    """What a send's delivery decided, kept for the 410s its posts come back with."""

    reach: Mapping[str, Reach] = field(default_factory=dict)
    live: list[str] = field(default_factory=list)  # members with a live connection and a device
    message: Message | None = None


class ReplyTarget:
    """Who sent the message a reply answers: read (1 GetItem) only when a member's level is
    "mentions", it does not mention them, and the answer decides whether they are notified."""

    def __init__(self, store: Store, message: Message) -> None:
        self._store = store
        self._message = message
        self._sender: str | None = None
        self._read = False

    def sender(self) -> str | None:
        if self._message.reply_to is None:
            return None
        if not self._read:
            replied = self._store.message_at(self._message.chat_id, self._message.reply_to)
            self._sender = replied.sender_id if replied is not None and not replied.deleted else None
            self._read = True
        return self._sender


def _refuse_if_blocked(chat: ChatRecord, members: tuple[str, ...], user_id: str) -> None:
    """A direct chat one of the pair blocks takes no message from either (from the chat item
    the send reads anyway: no request)."""
    if chat.blocked_by and user_id in members:
        raise Forbidden("this direct chat is blocked: no messages can be sent in it")


class MessageActions(ActionBase):
    late_fanout_grace_seconds = LATE_FANOUT_GRACE_SECONDS
    slice_queue: SliceQueue | None = None  # the fan-out queue: a large chat's send queues slices there
    clock: Callable[[], float] = staticmethod(time.time)
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    @handles(MessageSend)
    def send(self, ctx: Context, r: MessageSend) -> Outcome:
        chat, mentioned = self._send_chat(r)
        members = self._send_members(chat)
        _refuse_if_blocked(chat, members or (), ctx.user_id)
        files: tuple[Attachment, ...] = ()
        retried: tuple[StoredSend, ChatRecord, Members] | None = None
        latest = self._retry_of_latest(ctx, chat, r)
        if latest is not None:
            retried = (latest, chat, members)
        elif r.attachments:
            if members is not None and ctx.user_id not in members:
                raise Forbidden(f"not a member of chat {chat.chat_id}")
            files, retried = self._attachments(ctx, chat, r)
        stored, chat, members = retried or self._store(ctx, chat, members, mentioned, r, files)
        if stored.message.attachments and self.files is not None:
            # Attached: the lifecycle rule must keep them (idempotent, so a retry does it again).
            self.files.keep(a.key(chat.chat_id) for a in stored.message.attachments)
        return self._sent(ctx, chat, members, stored)

    def _attachments(
        self, ctx: Context, chat: ChatRecord, r: MessageSend
    ) -> tuple[tuple[Attachment, ...], tuple[StoredSend, ChatRecord, Members] | None]:
        """The files a send names, checked: created by the sender for this chat, uploaded in
        full with the declared size and type (the object itself, HeadObject each in parallel),
        and no message's yet; or, when they are a message's already, the earlier send this one
        retries (same ``client_msg_id``). 1 BatchGetItem and k HeadObject."""
        if self.files is None:
            raise BadRequest("attachments are not configured on this deployment")
        records = self.store.attachments(r.attachments)
        for attachment_id in r.attachments:
            record = records.get(attachment_id)
            if record is None or record.user_id != ctx.user_id or record.chat_id != chat.chat_id:
                raise BadRequest(f"attachment {attachment_id} was not created by you for this chat")
        if any(records[a].seq is not None for a in r.attachments):
            earlier = self._earlier_send(ctx, chat, r)
            if earlier is None:
                raise BadRequest("an attachment is part of another message already")
            return (), (earlier, chat, self._send_members(chat))
        files = tuple(records[a].attachment for a in r.attachments)
        found = self.files.stat(a.key(chat.chat_id) for a in files)
        for attachment in files:
            stored = found.get(attachment.key(chat.chat_id))
            if stored is None:
                raise BadRequest(f"attachment {attachment.attachment_id} has not been uploaded")
            declared = (attachment.size, attachment.content_type)
            if (stored.size, stored.content_type.split(";")[0].strip().lower()) != declared:
                raise BadRequest(
                    f"attachment {attachment.attachment_id} was uploaded as {stored.size} bytes of "
                    f"{stored.content_type or 'no type'}, "
                    f"not {attachment.size} bytes of {attachment.content_type}"
                )
        return files, None

    def _retry_of_latest(self, ctx: Context, chat: ChatRecord, r: MessageSend) -> StoredSend | None:
        """A retry of the chat's latest message (the usual retry: the ack was lost, nobody wrote
        since), known from the chat item read anyway: its send key is read (1 GetItem, for the
        fan-out mark) instead of a transaction that would be cancelled (its write units)."""
        last = chat.last_message
        if last is None or last.system is not None or last.sender_id != ctx.user_id:
            return None
        if last.client_msg_id != r.client_msg_id:
            return None
        return self._earlier_send(ctx, chat, r)

    def _earlier_send(self, ctx: Context, chat: ChatRecord, r: MessageSend) -> StoredSend | None:
        """How an earlier send of this client_msg_id by this user was stored, if one was (its
        send key: 1 GetItem)."""
        probe = Message(chat.chat_id, 0, "", r.client_msg_id, ctx.user_id, r.text, "")
        return self.store.find_send(probe)

    def _send_chat(self, r: MessageSend) -> tuple[ChatRecord, frozenset[str]]:
        """The chat, and of the users the send mentions those who are members: read together
        (1 BatchGetItem) when it mentions anyone, since a large chat's send reads no roster."""
        if not r.mentions:
            return self._chat(r.chat_id), frozenset()
        chat, memberships = self.store.chat_with_memberships(r.chat_id, r.mentions)
        if chat is None:
            raise Forbidden(f"not a member of chat {r.chat_id}")
        return chat, frozenset(memberships)

    def _send_members(self, chat: ChatRecord) -> Members:
        """The members a send needs to know: those on the chat item; None for a large chat whose
        roster pages the chat item numbers (its slices read them, the send does not); the roster
        of a large chat from before the item numbered its pages."""
        if chat.members is None and chat.pages and self.slice_queue is not None:
            return None
        return self._members(chat)

    def _store(
        self,
        ctx: Context,
        chat: ChatRecord,
        members: Members,
        mentioned: frozenset[str],
        r: MessageSend,
        files: tuple[Attachment, ...],
    ) -> tuple[StoredSend, ChatRecord, Members]:
        for _ in self.contention.attempts():  # each retry is one request: the loser learns the chat
            if members is not None and ctx.user_id not in members:
                raise Forbidden(f"not a member of chat {chat.chat_id}")
            _refuse_if_blocked(chat, members or (), ctx.user_id)  # a block may have landed meanwhile
            if r.reply_to is not None:  # the lower bound, joined_seq, is the store's condition
                check_reply(r.reply_to, 0, chat.last_seq)
            draft = Message(
                chat_id=chat.chat_id,
                seq=0,
                message_id=ids.new_message_id(),
                client_msg_id=r.client_msg_id,
                sender_id=ctx.user_id,
                text=r.text,
                sent_at=ids.iso_now(),
                reply_to=r.reply_to,
                mentions=kept_mentions(r.mentions, ctx.user_id, mentioned if members is None else members),
                attachments=files,
            )
            try:
                # The store's condition on last_seq makes ``members`` the members at this seq:
                # a change of members since they were read moves last_seq and fails it.
                stored = self.store.append_message(chat, draft)
                break
            except Unavailable:
                # A timeout may come after the write applied: if so, this is a send like any
                # other (acknowledged and fanned out now, not at the client's retry).
                found = self.store.find_send(draft)
                if found is None:
                    raise
                stored = found
                break
            except SeqConflict as conflict:
                moved, chat = chat, conflict.current
                if chat.members is not None or chat.members_seq != moved.members_seq:
                    members = self._send_members(chat)
                if members is None and r.mentions and chat.members_seq != moved.members_seq:
                    mentioned = frozenset(self.store.memberships(chat.chat_id, r.mentions))
        else:
            raise Unavailable("the chat is busy, retry")
        return stored, chat, members

    def _sent(self, ctx: Context, chat: ChatRecord, members: Members, stored: StoredSend) -> Outcome:
        message = stored.message
        ack = frame(
            "message:ack",
            ctx.req,
            chat_id=message.chat_id,
            client_msg_id=message.client_msg_id,
            seq=message.seq,
            message_id=message.message_id,
            sent_at=message.sent_at,
            duplicate=stored.duplicate,
        )
        watch = Watch()
        if not stored.duplicate:
            return Outcome(
                ack,
                lambda: self._deliver(ctx, chat, members, message, watch),
                lambda: self.store.mark_fanned_out(message),
                lambda gone: self._lost(ctx, chat, watch, gone),
            )
        if stored.fanned_out or chat.members_seq >= message.seq:
            # Delivered already, or the members changed since: those added must not get an
            # older message live, and everyone finds it in storage when they resync.
            return Outcome(ack)
        return Outcome(
            ack,
            lambda: self._deliver_late(ctx, chat, members, message, watch),
            gone=lambda gone: self._lost(ctx, chat, watch, gone),
        )

    def _deliver_late(
        self, ctx: Context, chat: ChatRecord, members: Members, retried: Message, watch: Watch
    ) -> list[Post]:
        """A retry's delivery of a message whose first send never marked its fan-out."""
        age = self.clock() - datetime.fromisoformat(retried.sent_at).timestamp()
        if age < self.late_fanout_grace_seconds:
            self.sleep(self.late_fanout_grace_seconds - age)
        if not self.store.claim_fanout(retried):
            return []  # the first send (or another retry) got there
        original = self.store.message_at(retried.chat_id, retried.seq)
        if original is None:
            return []
        return self._deliver(ctx, chat, members, original, watch)

    def _deliver(
        self, ctx: Context, chat: ChatRecord, members: Members, message: Message, watch: Watch
    ) -> list[Post]:
        """A frame to every connection but the sender's; a push job now for each other member
        who is offline with a device, and one delayed reach job for those with a live
        connection and a device (all decided from the same presence read: no extra request).
        A large chat's send queues that work as one slice per roster page instead."""
        if members is None:
            members = self._slice(ctx, chat, message)
            if members is None:
                return []
        return self._deliver_to(ctx, chat, members, message, watch)

    def _slice(self, ctx: Context, chat: ChatRecord, message: Message) -> tuple[str, ...] | None:
        """Queue one slice per roster page (None), or, when the queue refuses some or there is
        no endpoint to name, the members to deliver to inline here (the roster read after all)."""
        if self.slice_queue is not None and ctx.endpoint:
            wire = message.to_wire()
            jobs = [
                Slice(
                    ctx.endpoint,
                    chat.chat_id,
                    chat.title,
                    chat.kind,
                    page,
                    wire,
                    ctx.connection.name,
                    ctx.connection_id,
                )
                for page in chat.pages
            ]
            unsent = self.slice_queue.send([job.to_json() for job in jobs])
            if not unsent:
                return None
            log.error(
                "fan-out queue refused %d of %d slices of %s: delivering inline",
                len(unsent),
                len(jobs),
                chat.chat_id,
            )
        return self._members(chat)

    def deliver_slice(self, job: Slice) -> tuple[list[Post], Callable[[list[str]], None]]:
        """A slice's posts (in the fan-out worker): its page's members who were members when
        the message was stored, delivered to as a small chat's send delivers (1 GetItem of the
        page, 1 BatchGetItem of presence), and what to do with the 410s of those posts."""
        message = message_from_wire(job.message)
        page = self.store.roster_page(job.chat_id, job.page)
        members = tuple(sorted(u for u, joined in page.items() if joined < message.seq))
        chat = ChatRecord(job.chat_id, job.chat_title, None, "", "", kind=job.chat_kind)
        sender = Connection(job.skip, message.sender_id, job.sender_name, 0, 0)
        ctx = Context(sender, None)
        watch = Watch()
        posts = self._deliver_to(ctx, chat, members, message, watch) if members else []
        return posts, lambda gone: self._lost(ctx, chat, watch, gone)

    def _deliver_to(
        self, ctx: Context, chat: ChatRecord, members: tuple[str, ...], message: Message, watch: Watch
    ) -> list[Post]:
        reach = self.store.reach(members)
        replied = ReplyTarget(self.store, message)
        others = notified(reach, [m for m in members if m != ctx.user_id], message, replied)
        name = ctx.connection.name
        self.notifier.notify(to_notify(reach, others, chat.chat_id), chat, message, name)
        live = to_confirm(reach, others, chat.chat_id)
        self.notifier.confirm_later(live, chat, message, name)
        watch.reach, watch.live, watch.message = reach, live, message
        connections = [p for r in reach.values() for p in r.connections]
        return self._message_posts(connections, message, ctx.connection_id)

    def _lost(self, ctx: Context, chat: ChatRecord, watch: Watch, gone: list[str]) -> None:
        """The live members whose every connection answered 410 are offline for this message:
        notified now, not after the reach job's wait (the push log keeps it to one per device)."""
        if watch.message is None:
            return
        offline = offline_after(watch.reach, watch.live, gone)
        self.notifier.notify(offline, chat, watch.message, ctx.connection.name)

    @handles(Receipt)
    def receipt(self, ctx: Context, r: Receipt) -> Outcome:
        chat, membership = self._member_chat(ctx, r.chat_id)
        target = min(r.seq, chat.last_seq)
        for _ in self.contention.attempts():  # only the reader's own devices race here
            old = membership.pointers
            new = old.advanced(target, read=r.read)
            if new == old or self.store.advance_pointers(chat.chat_id, ctx.user_id, old, new):
                break
            membership = self.store.membership(ctx.user_id, chat.chat_id) or Membership()
        else:
            raise Unavailable("receipt contention, retry")
        reply = frame("receipt:ok", ctx.req, chat_id=chat.chat_id, **new.to_wire())
        if new == old:
            return Outcome(reply)
        notice = frame("chat:receipt", chat_id=chat.chat_id, user_id=ctx.user_id, **new.to_wire())
        return Outcome(reply, lambda: self._viewers(ctx, chat, notice))

    @handles(Typing)
    def typing(self, ctx: Context, r: Typing) -> Outcome:
        chat = self._chat(r.chat_id)
        members = self._members(chat)
        if ctx.user_id not in members:
            raise Forbidden(f"not a member of chat {chat.chat_id}")
        notice = frame("chat:typing", chat_id=chat.chat_id, user_id=ctx.user_id, typing=r.typing)
        return Outcome(None, lambda: self._to_others_viewing(ctx, chat.chat_id, members, notice))

    def _viewers(self, ctx: Context, chat: ChatRecord, notice: dict[str, Any]) -> list[Post]:
        return self._to_others_viewing(ctx, chat.chat_id, self._members(chat), notice)
