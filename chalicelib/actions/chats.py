"""Chats and who is in them: create (groups and direct chats), list, open, close, history,
members, and the membership changes add, remove, leave and update."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.actions.base import DirectChatActions
from chalicelib.actions.router import Context, Outcome, handles
from chalicelib.domain import ids
from chalicelib.domain.errors import BadRequest, ChatError, Forbidden, TooLarge, Unavailable
from chalicelib.domain.frames import Post, checked, fit
from chalicelib.domain.membership import Change, Roster, plan_add, plan_leave, plan_remove, plan_update
from chalicelib.domain.protocol import (
    MAX_CURSOR_CHARS,
    OPEN_PAGE_SIZE,
    ChatAdd,
    ChatClose,
    ChatCreate,
    ChatHistory,
    ChatLeave,
    ChatList,
    ChatMembers,
    ChatOpen,
    ChatRemove,
    ChatUpdate,
    frame,
)
from chalicelib.domain.receipts import bounded_lowest, exact_lowest, summarize
from chalicelib.domain.records import INLINE_MEMBERS, MAX_MEMBERS, ChatRecord, Membership, Pointers
from chalicelib.push.jobs import to_confirm, to_notify
from chalicelib.storage import SeqConflict

Plan = Callable[[ChatRecord, Roster], Change | None]
log = logging.getLogger(__name__)


def _order(chat: ChatRecord) -> tuple[str, str]:
    return (chat.activity, chat.chat_id)


@dataclass(frozen=True)
class Cursor:
    """Where a chat.list page ended (activity and chat id of its last chat), and the newest
    activity that page saw: a chat whose activity is newer than that moved above the cursor
    while the client paged, and comes on the next page, so none is missed (it may show twice)."""

    activity: str
    chat_id: str
    since: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.activity, self.chat_id)

    def encode(self) -> str:
        raw = json.dumps([self.activity, self.chat_id, self.since], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            activity, chat_id, since = json.loads(raw)
        except (binascii.Error, ValueError, TypeError):
            raise BadRequest("'cursor' must be the next_cursor of an earlier chat:list") from None
        if not all(isinstance(v, str) for v in (activity, chat_id, since)):
            raise BadRequest("'cursor' must be the next_cursor of an earlier chat:list")
        return cls(activity, chat_id, since)


class ChatActions(DirectChatActions):
    # A chat.create writes a large chat's memberships a moment before its chat item; a
    # membership without a chat is an orphan only once it is older than this.
    orphan_grace_seconds = 3600.0
    # A large chat's receipts_min is recomputed from every member's pointers at most this often
    # (seconds, per chat); in between, chat.open answers the summary's lower bound.
    receipts_recompute_seconds = 30.0

    # ------------------------------------------------------------ create

    @handles(ChatCreate)
    def create(self, ctx: Context, r: ChatCreate) -> Outcome:
        if r.direct:
            return self._create_direct(ctx, r)
        skipped = self.store.blockers(ctx.user_id, r.members)  # who blocks the creator is not added
        members = tuple(sorted((set(r.members) - skipped) | {ctx.user_id}))
        if len(members) > MAX_MEMBERS:
            raise TooLarge(f"a chat has at most {MAX_MEMBERS} members")
        now = ids.iso_now()
        roster = Roster.of(dict.fromkeys(members, 0))
        chat = ChatRecord(
            chat_id=ids.new_chat_id(),
            kind="group",
            title=r.title,
            members=members if len(members) <= INLINE_MEMBERS else None,
            pages=roster.numbers() if len(members) > INLINE_MEMBERS else (),
            member_count=len(members),
            admins=(ctx.user_id,),
            created_by=ctx.user_id,
            created_at=now,
            last_activity=now,
        )
        self.store.create_chat(chat, roster)
        return self._created(ctx, chat, [m for m in members if m != ctx.user_id])

    def _create_direct(self, ctx: Context, r: ChatCreate) -> Outcome:
        others = set(r.members) - {ctx.user_id}
        if len(others) != 1:
            raise BadRequest("a direct chat is between you and exactly one other user")
        (other,) = others
        pair = tuple(sorted((ctx.user_id, other)))
        legacy = self.store.get_chat(ids.legacy_direct_chat_id(*pair))
        if legacy is not None and legacy.kind == "direct":  # made before ids were keyed
            return self._existing_direct(ctx, legacy, pair)
        now = ids.iso_now()
        chat = ChatRecord(
            chat_id=self.direct_chat_id(*pair),
            kind="direct",
            title=None,
            members=pair,
            member_count=2,
            created_by=ctx.user_id,
            created_at=now,
            last_activity=now,
        )
        if self.store.create_chat(chat, Roster.of(dict.fromkeys(pair, 0)), unblocked=(ctx.user_id, other)):
            return self._created(ctx, chat, [other])
        return self._existing_direct(ctx, self._chat(chat.chat_id), pair)

    def _existing_direct(self, ctx: Context, existing: ChatRecord, pair: tuple[str, ...]) -> Outcome:
        """The pair's chat exists: the reply ``chat.create`` promises, taking back one who left."""
        missing = [u for u in pair if u not in self._members(existing)]
        # One of them left it: the pair's one chat takes them back, unless one blocks the other
        # (a blocked pair's chat is returned unchanged).
        if missing and not existing.blocked_by:
            outcome = self._change(
                ctx, existing, lambda c, ro: plan_add(c, ro, ctx.user_id, missing, rejoin=True), member=False
            )
            if outcome.reply is not None and outcome.reply["event"] == "chat:updated":
                outcome.reply["event"] = "chat:created"  # the reply chat.create promises
            return outcome
        membership = self.store.membership(ctx.user_id, existing.chat_id) or Membership()
        return Outcome(frame("chat:created", ctx.req, chat=self._view(existing, membership)))

    def _created(self, ctx: Context, chat: ChatRecord, others: list[str]) -> Outcome:
        view = self._view(chat, Membership())

        def announce() -> list[Post]:
            if not others:
                return []
            data = checked(frame("chat:added", chat=view))
            return [(p.connection_id, data) for p in self._connections(others)]

        return Outcome(frame("chat:created", ctx.req, chat=view), announce)

    # ------------------------------------------------------------ list

    @handles(ChatList)
    def list_chats(self, ctx: Context, r: ChatList) -> Outcome:
        memberships = self.store.memberships_of(ctx.user_id)
        previous = Cursor.decode(r.cursor) if r.cursor is not None else None
        if previous is None and len(memberships) <= r.limit:
            chats = sorted(self.store.get_chats(memberships), key=_order, reverse=True)
            self._forget_orphans(ctx, memberships, {c.chat_id for c in chats})
            moved: list[ChatRecord] = []
            newest = chats[0].activity if chats else ""
        else:
            activity = self.store.activity(memberships)
            self._forget_orphans(ctx, memberships, set(activity))
            keys = sorted(((act, cid) for cid, act in activity.items()), reverse=True)
            newest = keys[0][0] if keys else ""
            above: list[tuple[str, str]] = []
            if previous is not None:
                above = [k for k in keys if k >= previous.key and k[0] > previous.since]
                keys = [k for k in keys if k < previous.key]
            wanted = [cid for _, cid in (above + keys)[: r.limit + 1]]
            found = {c.chat_id: c for c in self.store.get_chats(wanted)}
            chats = [found[cid] for cid in wanted if cid in found]
            moved = chats[: len(above)]
        views = [self._view(c, memberships[c.chat_id]) for c in chats]
        reply = frame("chat:list", ctx.req, chats=views, next_cursor=None)
        count = min(r.limit, max(1, fit(reply, "chats", views, reserve=MAX_CURSOR_CHARS)))
        reply["chats"] = views[:count]
        if count < len(views):
            reply["next_cursor"] = self._next_cursor(chats[:count], moved, previous, newest).encode()
        return Outcome(reply)

    def _forget_orphans(self, ctx: Context, memberships: Mapping[str, Membership], found: set[str]) -> None:
        """Memberships whose chat does not exist are left by a large chat.create that died before
        storing its chat item (the chat item comes last, so nobody ever saw that chat). Skipped
        here like everywhere; forgotten once older than any create still under way."""
        cutoff = ids.iso_from_epoch_ms(ids.now_ms() - int(self.orphan_grace_seconds * 1000))
        orphans = [c for c, m in memberships.items() if c not in found and m.joined_at <= cutoff]
        if not orphans:
            return
        try:
            self.store.forget_memberships(ctx.user_id, orphans)
        except ChatError:  # harmless where they are: the next chat.list tries again
            log.warning("could not forget %d orphan memberships of %s", len(orphans), ctx.user_id)

    @staticmethod
    def _next_cursor(
        shown: list[ChatRecord], moved: list[ChatRecord], previous: Cursor | None, newest: str
    ) -> Cursor:
        """After the last chat shown in activity order. ``since`` is the newest activity this
        page saw, so the next page can tell the chats that moved since; it moves on only once
        every chat that moved above the old cursor has been shown."""
        in_order = shown[len(moved) :]
        last = in_order[-1] if in_order else None
        since = newest if len(shown) >= len(moved) else (previous.since if previous else "")
        if last is not None:
            return Cursor(last.activity, last.chat_id, since)
        assert previous is not None  # only moved chats were shown: there was a cursor
        return Cursor(previous.activity, previous.chat_id, since)

    # ------------------------------------------------------------ open, close, history, members

    @handles(ChatOpen)
    def open(self, ctx: Context, r: ChatOpen) -> Outcome:
        chat, membership = self._member_chat(ctx, r.chat_id)
        # Viewing first, then the page: a message or change stored before the connection views
        # the chat is in the page (or, older, in chat.changes after the chat's last_rev read
        # above); one stored after it comes as a frame. The other order loses a change made in
        # between: in neither the page nor any frame.
        self.store.set_viewing(ctx.connection, chat.chat_id)
        page = self.store.messages(chat.chat_id, None, None, OPEN_PAGE_SIZE, floor=membership.joined_seq)
        receipts: dict[str, Any] | None = None
        if chat.members is None:  # above INLINE_MEMBERS: the summary's bound, no full map
            own = [m.seq for m in page.messages if m.sender_id == ctx.user_id]
            lowest = self._large_receipts_min(ctx, chat, membership, max(own, default=0))
        else:
            members = chat.members
            pointers = {
                user: m.pointers.at_least(m.joined_seq)
                for user, m in self.store.memberships(chat.chat_id, members).items()
            }
            others = [pointers.get(u, Pointers()) for u in members if u != ctx.user_id]
            lowest = exact_lowest(others, chat.last_seq).pointers
            if chat.member_count <= INLINE_MEMBERS:
                receipts = {u: pointers.get(u, Pointers()).to_wire() for u in members}
        reply = frame(
            "chat:opened",
            ctx.req,
            chat=self._view(chat, membership),
            messages=[],
            has_more=page.has_more,
            receipts_min=lowest.to_wire(),
        )
        if receipts is not None:
            reply["receipts"] = receipts
        return Outcome(self._fill(reply, [self._wire(m) for m in page.messages], keep_last=True))

    def _large_receipts_min(
        self, ctx: Context, chat: ChatRecord, mine: Membership, newest_own: int
    ) -> Pointers:
        """``receipts_min`` of a chat above ``INLINE_MEMBERS`` (``domain/receipts.py``): never
        above the true minimum, and exact for the viewer's own messages up to ``newest_own``
        unless the chat's summary was recomputed less than ``receipts_recompute_seconds`` ago.

        Cost, the whole ``chat.open`` (turn, chat, membership, view and page first): 7 requests
        in the steady state whatever N, since the roster's Query (which reading the members took
        before) also reads the summary, and 1 BatchGetItem re-reads its listed members. When
        there is no summary yet, or its bound is below ``newest_own`` and not exact, every
        other member is read (ceil((N-1)/100) BatchGetItem) and the summary saved (1 PutItem):
        8 + ceil((N-1)/100) (18 at 1,000), at most once per ``receipts_recompute_seconds`` per
        chat; 7 + ceil((N-1)/100) for a chat's first open."""
        roster, summary = self.store.roster_and_receipts(chat)
        joined = roster.joined()
        now = ids.now_ms()
        if summary is not None:
            wanted = [u for u in summary.listed if u in joined and u != ctx.user_id]
            found = self.store.memberships(chat.chat_id, wanted) if wanted else {}
            reread = {
                u: (found[u].pointers if u in found else Pointers()).at_least(joined[u]) for u in wanted
            }
            lowest = bounded_lowest(summary, joined, reread, ctx.user_id, chat.last_seq)
            recent = now - summary.computed_ms < self.receipts_recompute_seconds * 1000
            if recent or lowest.shows_exactly(newest_own):
                return lowest.pointers
        others = [u for u in joined if u != ctx.user_id]
        found = self.store.memberships(chat.chat_id, others) if others else {}
        pointers = {u: (found[u].pointers if u in found else Pointers()).at_least(joined[u]) for u in others}
        everyone = dict(pointers)
        if ctx.user_id in joined:
            everyone[ctx.user_id] = mine.pointers.at_least(mine.joined_seq)
        try:
            self.store.save_receipts(chat.chat_id, summarize(everyone, chat.last_seq, now))
        except ChatError:  # the answer stands; the next open computes it again
            log.warning("could not save the receipts summary of %s", chat.chat_id)
        return exact_lowest(pointers.values(), chat.last_seq).pointers

    @handles(ChatClose)
    def close(self, ctx: Context, r: ChatClose) -> Outcome:
        chat, _ = self._member_chat(ctx, r.chat_id)
        self.store.clear_viewing(ctx.connection, chat.chat_id)
        return Outcome(frame("chat:closed", ctx.req, chat_id=chat.chat_id))

    @handles(ChatHistory)
    def history(self, ctx: Context, r: ChatHistory) -> Outcome:
        chat, membership = self._member_chat(ctx, r.chat_id)
        page = self.store.messages(chat.chat_id, r.before, r.after, r.limit, floor=membership.joined_seq)
        reply = frame("chat:history", ctx.req, chat_id=chat.chat_id, messages=[], has_more=page.has_more)
        messages = [self._wire(m) for m in page.messages]
        return Outcome(self._fill(reply, messages, keep_last=r.after is None))

    def _fill(self, reply: dict[str, Any], messages: list[dict[str, Any]], keep_last: bool) -> dict[str, Any]:
        """Put as many messages in the reply as fit in a frame; a cut page has more."""
        count = fit(reply, "messages", messages, keep_last=keep_last)
        if count < len(messages):
            reply["has_more"] = True
            messages = messages[len(messages) - count :] if keep_last else messages[:count]
        reply["messages"] = messages
        return reply

    @handles(ChatMembers)
    def members(self, ctx: Context, r: ChatMembers) -> Outcome:
        chat, _ = self._member_chat(ctx, r.chat_id)
        return Outcome(
            frame(
                "chat:members",
                ctx.req,
                chat_id=chat.chat_id,
                members=list(self._members(chat)),
                admins=list(chat.admins),
            )
        )

    # ------------------------------------------------------------ membership changes

    @handles(ChatAdd)
    def add(self, ctx: Context, r: ChatAdd) -> Outcome:
        chat = self._chat(r.chat_id)
        skipped = self.store.blockers(ctx.user_id, r.members) if not chat.is_direct else set()
        users = tuple(u for u in r.members if u not in skipped)  # who blocks the actor is not added
        return self._change(ctx, chat, lambda c, ro: plan_add(c, ro, ctx.user_id, users), named=users)

    @handles(ChatRemove)
    def remove(self, ctx: Context, r: ChatRemove) -> Outcome:
        return self._change(
            ctx,
            self._chat(r.chat_id),
            lambda c, ro: plan_remove(c, ro, ctx.user_id, r.members),
            named=r.members,
        )

    @handles(ChatLeave)
    def leave(self, ctx: Context, r: ChatLeave) -> Outcome:
        return self._change(ctx, self._chat(r.chat_id), lambda c, ro: plan_leave(c, ro, ctx.user_id))

    @handles(ChatUpdate)
    def update(self, ctx: Context, r: ChatUpdate) -> Outcome:
        return self._change(
            ctx,
            self._chat(r.chat_id),
            lambda c, ro: plan_update(c, ro, ctx.user_id, r.title, r.title_given, r.admins),
        )

    def _change(
        self, ctx: Context, chat: ChatRecord, plan: Plan, member: bool = True, named: tuple[str, ...] = ()
    ) -> Outcome:
        """Plan the change on the chat as it is, store it with the next seq, retry on a race.
        Only members may change a chat (``member=False``: the pair rejoining their direct chat).
        A change that changes nothing repairs the ``named`` users' memberships, if needed."""
        for _ in self.contention.attempts():
            roster = self.store.roster(chat)
            if member and ctx.user_id not in roster:
                raise Forbidden(f"not a member of chat {chat.chat_id}")
            change = plan(chat, roster)
            if change is None:  # nothing to change: the chat as it is
                if named:
                    joined = roster.joined()
                    present = {u: joined[u] for u in named if u in joined}
                    self.store.reconcile_memberships(
                        chat.chat_id, present, [u for u in named if u not in joined]
                    )
                return Outcome(frame("chat:updated", ctx.req, chat=self._roster_view(ctx, chat, roster)))
            try:
                self.store.apply_change(chat, change)
                break
            except SeqConflict as conflict:
                chat = conflict.current
        else:
            raise Unavailable("the chat is busy, retry")
        return Outcome(self._change_reply(ctx, change), lambda: self._change_posts(ctx, change))

    def _roster_view(self, ctx: Context, chat: ChatRecord, roster: Roster) -> dict[str, Any]:
        membership = self.store.membership(ctx.user_id, chat.chat_id) or Membership(
            joined_seq=roster.joined().get(ctx.user_id, 0)
        )
        return self._view(chat, membership)

    def _change_reply(self, ctx: Context, change: Change) -> dict[str, Any]:
        chat, seq = change.chat, change.chat.last_seq
        if not change.actor_stays:
            return frame("chat:left", ctx.req, chat_id=chat.chat_id)
        joined = change.roster.joined()[ctx.user_id]
        stored = self.store.membership(ctx.user_id, chat.chat_id)  # pointers as moved, and muted
        mine = stored or Membership(Pointers(seq, seq) if change.actor_was_member else Pointers(), joined)
        return frame("chat:updated", ctx.req, chat=self._view(chat, mine))

    def _change_posts(self, ctx: Context, change: Change) -> list[Post]:
        """chat:added to those added, chat:removed to those who went, the system message to the
        rest; one frame per connection, none to the acting connection."""
        chat = change.chat
        added = set(change.added)
        removed = set(change.removed)
        audience = set(change.roster.joined()) | removed
        reach = self.store.reach(audience)
        name = ctx.connection.name  # the system message notifies only those it adds: now if offline,
        self.notifier.notify(to_notify(reach, added, chat.chat_id), chat, change.message, name)
        live = to_confirm(reach, added, chat.chat_id)  # else unless they confirm it (Reach)
        self.notifier.confirm_later(live, chat, change.message, name)
        presence = {user: r.connections for user, r in reach.items()}
        welcome = checked(frame("chat:added", chat=self._view(chat, Membership(joined_seq=chat.last_seq))))
        gone = change.message.system.type if change.message.system is not None else "removed"
        reason = "left" if gone == "left" else "removed"
        farewell = checked(frame("chat:removed", chat_id=chat.chat_id, reason=reason))
        posts: list[Post] = []
        for user, connections in presence.items():
            if user in added:
                posts += [(p.connection_id, welcome) for p in connections]
            elif user in removed:
                posts += [(p.connection_id, farewell) for p in connections]
            else:
                posts += self._message_posts(connections, change.message, None)
        return [post for post in posts if post[0] != ctx.connection_id]
