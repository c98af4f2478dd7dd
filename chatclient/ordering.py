"""Ordering, gap detection and resync decisions, with no I/O: no asyncio, no socket, no clock.

As python-websockets' ``protocol.py`` is its state machine without a socket, ``Ordering`` is
what the client knows of each chat's messages and what follows from it: messages go in, and
out come verdicts (``classify``: ignore, duplicate, gap, next), the requests to send
(``fill_request``, ``earlier_request``, a ``ResyncPlan``) and whether the application gets a
message (``hand_over``). ``chatclient.delivery`` does the I/O: it sends what is asked for,
calls the application, and holds a per-chat lock around each step, so live frames and resync
never interleave.

How "exactly once, in order" holds: for every chat the client keeps ``last`` (the highest seq
the application has been given, or had before it started, and never below the user's
``joined_seq``: earlier messages are not theirs to see). A message with ``seq <= last`` is a
duplicate and dropped; one with ``seq > last + 1`` means a gap, filled from ``chat.history
after=last`` before it is delivered. System messages (members added, removed, left, the chat
renamed) take seqs like text and travel the same road. After every reconnect, ``chat.list``
(every page) says each chat's ``last_seq``, and the chats that moved are filled the same way; a
chat the client knew that is no longer listed is probed, and forgotten if the server says the
user is no longer a member. The application's own sends are not delivered back to it (it has
the ack); they only advance ``last``.

A message of a chat not tracked yet (it reached a newly added member before ``chat:added``)
first brings the earlier messages the user may see. Frames of a chat the user is out of are
ignored until ``chat:added``, and a ``(chat_id, seq)`` is handed over at most once in the
client's life: a fan-out redelivered late can re-post an old frame.

Messages change (protocol v3: edits, deletes, reactions). ``Copies`` is the client's local copy
of each chat it tracks: every message it has seen, as it now stands. Of two views of a message
the one with the higher ``rev`` wins, whatever order they come in (a ``chat:message:updated``
frame can overtake the message's own frame). Per chat it keeps ``synced``: a rev up to which
every change is in the copy. Only a complete ``chat.changes`` walk moves it (to the reply's
``last_rev``), never a live frame, as frames of changes can arrive out of order and one missed
while the connection was down would be skipped. After a reconnect, a chat whose listed
``last_rev`` is past ``synced`` is asked ``chat.changes after_rev=synced`` (every page), so an
offline client ends with the state a live one has.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chatclient.models import Changes, Chat, Message

HISTORY_PAGE = 100  # messages asked for per chat.history request of a gap fill
CHANGES_PAGE = 100  # messages asked for per chat.changes request


class Verdict(enum.Enum):
    """What to do with a live message (``Ordering.classify``)."""

    IGNORE = "ignore"  # a chat the user is out of: nothing until its chat:added
    UNTRACKED = "untracked"  # a chat not tracked yet: start tracking it, then classify again
    DUPLICATE = "duplicate"  # the application has it, or it predates the user's joining
    GAP = "gap"  # messages are missing before it: fill after ``last`` up to ``seq - 1`` first
    NEXT = "next"  # next in line: hand it over


@dataclass(frozen=True)
class ResyncPlan:
    """What a resync does once the chat list is in: open the chats being viewed again, bring
    each listed chat up to its ``last_seq``, and probe each known chat the list left out."""

    reopen: list[str]
    listed: list[Chat]
    missing: list[str]


def earlier_request(chat_id: str, before: int) -> dict[str, Any]:
    """The ``chat.history`` fields for the page of messages before ``before`` (newest first)."""
    return {"chat_id": chat_id, "before": before, "limit": HISTORY_PAGE}


class Copies:
    """The local copy of each chat held: its messages by ``seq`` as they now stand, and
    ``synced``, the rev up to which every change of the chat is in the copy."""

    def __init__(self) -> None:
        self.messages: dict[str, dict[int, Message]] = {}
        self.synced: dict[str, int] = {}

    def holds(self, chat_id: str) -> bool:
        return chat_id in self.synced

    def hold(self, chat_id: str, last_rev: int) -> None:
        """Start a copy of ``chat_id`` (nothing if held already). It is empty, so no change up
        to the chat's ``last_rev`` now is missing from it: every message it takes from now on
        comes as it stands then or later."""
        if chat_id not in self.synced:
            self.synced[chat_id] = max(0, last_rev)
            self.messages[chat_id] = {}

    def drop(self, chat_id: str) -> None:
        self.synced.pop(chat_id, None)
        self.messages.pop(chat_id, None)

    def message(self, chat_id: str, seq: int) -> Message | None:
        return self.messages.get(chat_id, {}).get(seq)

    def of(self, chat_id: str) -> list[Message]:
        """The copy of ``chat_id``, ascending by ``seq`` (it may have holes: only what was seen)."""
        held = self.messages.get(chat_id, {})
        return [held[seq] for seq in sorted(held)]

    def offer(self, message: Message) -> Message:
        """A view of ``message`` (a frame, a history page, a reply): the copy keeps it unless it
        holds a newer one. Returns the newest view, which is what the application should get."""
        current = self.message(message.chat_id, message.seq)
        if self.update(message) or current is None:
            return message
        return current

    def update(self, message: Message) -> bool:
        """A view of ``message`` newer than the copy's (or of one it did not have): taken, True.
        An older or equal view changes nothing (False); so does one of a chat not held."""
        held = self.messages.get(message.chat_id)
        if held is None:
            return False
        current = held.get(message.seq)
        if current is not None and current.rev >= message.rev:
            return False
        held[message.seq] = message
        return True

    def behind(self, chat_id: str, last_rev: int) -> bool:
        """The chat (held) has changed past what the copy knows of: ask ``chat.changes``."""
        return chat_id in self.synced and last_rev > self.synced[chat_id]

    def changes_request(self, chat_id: str, after_rev: int | None = None) -> dict[str, Any]:
        """The ``chat.changes`` fields: after ``after_rev`` (None: after ``synced``)."""
        after = self.synced.get(chat_id, 0) if after_rev is None else after_rev
        return {"chat_id": chat_id, "after_rev": after, "limit": CHANGES_PAGE}

    def changes_page(self, after_rev: int, page: Changes) -> int | None:
        """A ``chat:changes`` page asked for with ``after_rev`` (its messages already taken by
        ``update``). A page that carries on from ``synced`` moves it: to its last message's
        rev while ``has_more`` (pages come by rev ascending), to the chat's ``last_rev`` on the
        last page. Returns the ``after_rev`` of the next page, or None when there is none."""
        chat_id = page.chat_id
        synced = self.synced.get(chat_id)
        revs = [m.rev for m in page.messages if m.rev > after_rev]
        if synced is not None and after_rev <= synced:
            reached = max(revs, default=after_rev) if page.has_more else max(page.last_rev, *revs, after_rev)
            self.synced[chat_id] = max(synced, reached)
        if page.has_more and revs:
            return max(revs)
        return None


class Ordering:
    """Per chat: what the application has (``last``), what it was ever handed (``handed``),
    which of our own sends it need not be handed (``own``), and the chats we are out of."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}  # chat_id -> highest seq the application has
        self.handed: dict[str, int] = {}  # chat_id -> highest seq ever handed over (never forgotten)
        self.removed_from: set[str] = set()  # chats we are out of, until a chat:added says otherwise
        self.own: dict[str, set[int]] = {}  # chat_id -> seqs of our own acked sends not yet passed
        self.sent_ids: set[str] = set()  # client_msg_ids this client sent
        self.synced_once = False  # a chat list came in: chats are tracked from it on
        self.copies = Copies()  # the local copy of each tracked chat, as its messages now stand

    # -- what is known ---------------------------------------------------------------------------

    def tracks(self, chat_id: str) -> bool:
        return chat_id in self.last

    def last_of(self, chat_id: str) -> int:
        return self.last.get(chat_id, 0)

    def known(self) -> set[str]:
        """The chats tracked now (a resync takes this before it lists the chats)."""
        return set(self.last)

    def track(self, chat: Chat, start: int) -> None:
        """Know ``chat``: ``last`` starts at ``start`` if it is new, and is never below
        ``joined_seq`` (the messages up to it are not this user's to see)."""
        last = self.last.get(chat.chat_id, start)
        self.last[chat.chat_id] = max(last, chat.joined_seq)
        self.copies.hold(chat.chat_id, chat.last_rev)

    def forget(self, chat_id: str) -> bool:
        """We are out of ``chat_id``: drop its state; its stray frames are ignored until
        ``chat:added``. True if it was tracked."""
        tracked = chat_id in self.last
        self.removed_from.add(chat_id)
        self.last.pop(chat_id, None)
        self.own.pop(chat_id, None)
        self.copies.drop(chat_id)
        return tracked

    def rejoin(self, chat_id: str) -> None:
        """A member of ``chat_id`` (again): its frames count."""
        self.removed_from.discard(chat_id)

    # -- our own sends ---------------------------------------------------------------------------

    def sending(self, client_msg_id: str) -> None:
        """A message this client sends: never handed back to the application."""
        self.sent_ids.add(client_msg_id)

    def own_sent(self, chat_id: str, seq: int) -> None:
        """Our own send got ``seq``: passed over in line, not handed over (the application has
        its ack)."""
        if seq > self.last.get(chat_id, 0):
            self.own.setdefault(chat_id, set()).add(seq)
            self.pass_own(chat_id)

    def pass_own(self, chat_id: str) -> None:
        """Our own acked sends next in line are passed over (the application has their acks)."""
        own = self.own.get(chat_id)
        while own and self.last.get(chat_id, 0) + 1 in own:
            self.last[chat_id] = self.last.get(chat_id, 0) + 1
            own.discard(self.last[chat_id])

    def advance_to(self, chat_id: str, seq: int) -> None:
        """The application has everything up to ``seq`` (what ``chat.open`` showed it)."""
        if seq > self.last.get(chat_id, 0):
            self.last[chat_id] = seq
        own = self.own.get(chat_id)
        if own:
            own.difference_update({s for s in own if s <= self.last[chat_id]})

    # -- messages --------------------------------------------------------------------------------

    def classify(self, message: Message) -> Verdict:
        """What to do with a live message (our own sends next in line are passed first)."""
        chat_id = message.chat_id
        if chat_id in self.removed_from:
            return Verdict.IGNORE
        if chat_id not in self.last:
            return Verdict.UNTRACKED
        self.pass_own(chat_id)
        if message.seq <= self.last[chat_id]:
            return Verdict.DUPLICATE
        if message.seq > self.last[chat_id] + 1:
            return Verdict.GAP
        return Verdict.NEXT

    def start_before(self, chat_id: str, seq: int, earlier: Sequence[Message]) -> None:
        """Track a chat first seen at message ``seq``, from the first of the ``earlier``
        messages the user may see (none: from ``seq`` itself)."""
        self.last[chat_id] = (earlier[0].seq if earlier else seq) - 1
        self.copies.hold(chat_id, 0)  # its last_rev is not known: every change is asked for

    def is_next(self, message: Message) -> bool:
        return message.seq == self.last.get(message.chat_id, 0) + 1

    def accept(self, message: Message) -> bool:
        """A message of a fetched page, in order: True if it is next in line (our own sends
        before it are passed over first)."""
        self.pass_own(message.chat_id)
        return self.is_next(message)

    def hand_over(self, message: Message) -> bool:
        """The application has ``message`` now. True if it is to be given it: never the same
        seq of a chat twice in the client's life (not even after a removal and re-add), and
        never a message of this client's own sending."""
        self.last[message.chat_id] = message.seq
        if message.seq <= self.handed.get(message.chat_id, 0):
            return False
        self.handed[message.chat_id] = message.seq
        return message.client_msg_id not in self.sent_ids

    def message_changed(self, message: Message) -> bool:
        """A view of ``message`` that may be a change (``chat:message:updated``, a ``chat.changes``
        page, the messages of a chat re-opened after a reconnect): the copy takes it if newer.
        True if the application is to hear of it: it is newer than the copy's view (or changed,
        and not in the copy) and the application has had the message (or passed it: its own,
        or older than the client), so a change never overtakes the message itself (that comes
        later, as it now stands)."""
        if message.chat_id in self.removed_from:
            return False
        before = self.copies.message(message.chat_id, message.seq)
        if not self.copies.update(message) or (before is None and message.rev == 0):
            return False  # not newer; or a message never changed that the copy did not hold
        return message.seq <= self.last.get(message.chat_id, 0)

    # -- gap fill --------------------------------------------------------------------------------

    def behind(self, chat_id: str, upto: int | None) -> bool:
        """The application lacks messages up to ``upto`` (None: maybe newer ones)."""
        return upto is None or self.last.get(chat_id, 0) < upto

    def fill_request(self, chat_id: str) -> dict[str, Any]:
        """The ``chat.history`` fields for the page after ``last``."""
        return {"chat_id": chat_id, "after": self.last.get(chat_id, 0), "limit": HISTORY_PAGE}

    def more_to_fill(self, chat_id: str, after: int, has_more: bool) -> bool:
        """After a page asked for with ``after``: another page is worth asking for (the server
        has more, and this page moved ``last``)."""
        return has_more and self.last.get(chat_id, 0) != after

    # -- events ----------------------------------------------------------------------------------

    def added(self, chat: Chat) -> None:
        """``chat:added``: a member, from ``joined_seq`` on."""
        self.rejoin(chat.chat_id)
        self.track(chat, start=chat.joined_seq)

    def updated(self, chat: Chat) -> None:
        """``chat:updated`` of a tracked chat: ``joined_seq`` may have moved."""
        if chat.chat_id in self.last:
            self.track(chat, start=chat.joined_seq)

    def opened(self, chat_id: str, chat: Chat) -> None:
        """``chat.open chat_id`` answered ``chat``: a member; what it showed the application
        counts as delivered to it."""
        self.rejoin(chat_id)
        self.track(chat, start=chat.last_seq)
        self.advance_to(chat_id, chat.last_seq)

    def created(self, chat: Chat) -> None:
        """A chat we created (or a direct chat we had left, created again): from now on."""
        self.rejoin(chat.chat_id)
        self.track(chat, start=chat.last_seq)

    def changed(self, chat_id: str, chat: Chat) -> None:
        """Our own add/remove/update of ``chat_id`` answered ``chat``: its system message is to
        be fetched (``fill_request``)."""
        self.track(chat, start=chat.joined_seq)
        self.pass_own(chat_id)

    # -- resync ----------------------------------------------------------------------------------

    def listed(self, chats: list[Chat], known: set[str], viewing: Iterable[str]) -> ResyncPlan:
        """The chat list of a resync came in (``known``: the chats tracked before it was asked
        for). The first list tracks its chats from their ``last_seq`` (history before the
        client started is the application's to load), at once, with no wait in between, so
        that a live frame never finds a listed chat untracked."""
        if not self.synced_once:
            for chat in chats:
                if chat.chat_id not in self.last:
                    self.track(chat, start=chat.last_seq)
        self.synced_once = True
        missing = sorted(known - {chat.chat_id for chat in chats})
        return ResyncPlan(reopen=list(viewing), listed=chats, missing=missing)

    def relisted(self, chat: Chat) -> bool:
        """One chat of the list: a member (its ``chat:added`` may have been lost), tracked from
        ``joined_seq`` if new. True if it moved past ``last`` (fill up to its ``last_seq``)."""
        self.rejoin(chat.chat_id)
        self.track(chat, start=chat.joined_seq)
        self.pass_own(chat.chat_id)
        return chat.last_seq > self.last[chat.chat_id]
