"""The storage interface. The domain speaks to this, never to PynamoDB or boto3.

Every method is one access pattern with a known cost in DynamoDB requests (noted per method
for the DynamoDB implementation). Failures after retries raise ``Unavailable``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chalicelib.domain.membership import Change, Roster
from chalicelib.domain.receipts import ReceiptsSummary
from chalicelib.domain.records import (
    AttachmentRecord,
    ChatRecord,
    Connection,
    Device,
    Membership,
    Message,
    Page,
    Pointers,
    Presence,
    Reach,
    StoredSend,
)
from chalicelib.domain.reports import Report


class SeqConflict(Exception):
    """Another write advanced the chat first; ``current`` is the chat as it is now."""

    def __init__(self, current: ChatRecord) -> None:
        super().__init__(f"chat {current.chat_id} moved to seq {current.last_seq}")
        self.current = current


class ChangeConflict(Exception):
    """A message change lost a race: the message, the chat's ``last_rev`` or its members moved
    since they were read. Read them again and decide again."""


class BlockConflict(Exception):
    """The pair's direct chat was created (or changed) while a block was being stored: read it
    again and try again."""


@dataclass(frozen=True)
class MessageContext:
    """What a message change is decided on, read in one request: the chat, the acting user's
    membership and the message at the seq named (each None when absent)."""

    chat: ChatRecord | None
    membership: Membership | None
    message: Message | None


@dataclass(frozen=True)
class Turn:
    """One action's turn under its connection's rate limit: who the connection is (None: no
    such connection), whether it may act now, and its theoretical arrival time (GCRA, epoch ms)
    after the turn (0 for no connection)."""

    connection: Connection | None
    admitted: bool
    tat_ms: int


class Store(abc.ABC):
    # -- connections and presence

    @abc.abstractmethod
    def add_connection(self, connection: Connection) -> None:
        """Record a new connection and add it to its user's presence (2 requests)."""

    @abc.abstractmethod
    def get_connection(self, connection_id: str) -> Connection | None:
        """Who is this connection (1 GetItem)."""

    @abc.abstractmethod
    def take_turn(
        self, connection_id: str, now_ms: int, interval_ms: int, tolerance_ms: int, busy: bool = False
    ) -> Turn:
        """Who is this connection, and may it act now: GCRA on the connection record. Admitted
        when its theoretical arrival time ``tat`` is at most ``now_ms + tolerance_ms``; then
        ``tat`` becomes ``max(tat, now_ms) + interval_ms``. A refused turn changes nothing.

        One conditional UpdateItem (returning the record) when the guess ``busy`` (``tat`` is
        ahead of ``now_ms``) is right, two when it is wrong; a refusal reads the record too."""

    @abc.abstractmethod
    def connection_users(self, connection_ids: Iterable[str]) -> Mapping[str, str]:
        """connection id -> its user, for those of these connections that exist (BatchGetItem,
        ceil(N/100) requests, strongly consistent): the fan-out worker's re-check."""

    @abc.abstractmethod
    def remove_connection(self, connection_id: str, connected_before: int | None = None) -> Connection | None:
        """Forget a connection (3 requests: read, delete, presence); returns what it was, or
        None if unknown. With ``connected_before`` (epoch seconds), a connection that connected
        at or after it is kept, and None returned."""

    @abc.abstractmethod
    def set_viewing(self, connection: Connection, chat_id: str) -> None:
        """This connection now views ``chat_id`` (1 UpdateItem)."""

    @abc.abstractmethod
    def clear_viewing(self, connection: Connection, chat_id: str) -> None:
        """This connection views no chat, if it was viewing ``chat_id`` (1 UpdateItem)."""

    @abc.abstractmethod
    def reach(self, user_ids: Iterable[str]) -> Mapping[str, Reach]:
        """Live connections and push flags of these users (BatchGetItem, ceil(N/100) requests);
        users never seen are left out."""

    def presence(self, user_ids: Iterable[str]) -> Mapping[str, list[Presence]]:
        """The live connections of these users (the same read as ``reach``)."""
        return {user: list(reach.connections) for user, reach in self.reach(user_ids).items()}

    # -- chats and members

    @abc.abstractmethod
    def create_chat(self, chat: ChatRecord, roster: Roster, unblocked: tuple[str, str] | None = None) -> bool:
        """Store a new chat, its roster and its members' memberships, all or nothing as far as
        anyone can see: one transaction, or for a chat too large for one, the memberships first
        and the chat item with the roster last (a membership whose chat does not exist is
        skipped by every reader; ``forget_memberships`` cleans it). False when a chat with this
        id exists already (how a direct chat is found again): nothing is written then.
        ``unblocked``: a direct chat's pair, neither of whom may block the other (checked in the
        same transaction; ``Forbidden`` if one does)."""

    @abc.abstractmethod
    def get_chat(self, chat_id: str) -> ChatRecord | None:
        """One chat, strongly consistent (1 GetItem)."""

    @abc.abstractmethod
    def get_chats(self, chat_ids: Iterable[str]) -> list[ChatRecord]:
        """Many chats (BatchGetItem); missing ones are left out."""

    @abc.abstractmethod
    def activity(self, chat_ids: Iterable[str]) -> Mapping[str, str]:
        """chat_id -> time of last activity, projected (BatchGetItem of small reads)."""

    @abc.abstractmethod
    def roster(self, chat: ChatRecord) -> Roster:
        """Every member of a chat with the seq that added them (1 Query). Read it after the chat
        item: a write that changed members since makes the caller's conditional write fail."""

    @abc.abstractmethod
    def roster_page(self, chat_id: str, number: int) -> Mapping[str, int]:
        """One page of a chat's roster, user -> the seq that added them ({} if no such page;
        1 GetItem): what a fan-out slice reads of the roster."""

    @abc.abstractmethod
    def chat_with_memberships(
        self, chat_id: str, user_ids: Iterable[str]
    ) -> tuple[ChatRecord | None, Mapping[str, Membership]]:
        """The chat and the memberships of these users (at most 99) in it, in one request."""

    @abc.abstractmethod
    def roster_and_receipts(self, chat: ChatRecord) -> tuple[Roster, ReceiptsSummary | None]:
        """The roster and the chat's receipts summary, if one was saved (the same 1 Query). A
        membership change leaves the summary as it is: it stays a valid lower bound."""

    @abc.abstractmethod
    def save_receipts(self, chat_id: str, summary: ReceiptsSummary) -> None:
        """Replace the chat's receipts summary (1 PutItem, beside the roster pages)."""

    @abc.abstractmethod
    def apply_change(self, before: ChatRecord, change: Change) -> None:
        """Store a membership change in one transaction: the chat item (seq, members, admins,
        title), the system message, the roster pages and the memberships (those past the
        transaction's size right after it). Raises ``SeqConflict`` when the chat moved."""

    @abc.abstractmethod
    def reconcile_memberships(self, chat_id: str, present: Mapping[str, int], absent: Iterable[str]) -> int:
        """Make the users' own memberships agree with the roster: create those of ``present``
        (user -> joined_seq) that are missing, delete those of ``absent`` that remain. Repairs a
        large change whose memberships could not all be written; returns how many it fixed."""

    @abc.abstractmethod
    def membership(self, user_id: str, chat_id: str) -> Membership | None:
        """One user's membership of one chat (1 GetItem); None if not a member."""

    @abc.abstractmethod
    def memberships_of(self, user_id: str) -> Mapping[str, Membership]:
        """Every chat of a user with the user's pointers (Query)."""

    @abc.abstractmethod
    def forget_memberships(self, user_id: str, chat_ids: Iterable[str]) -> None:
        """Delete a user's memberships of these chats (BatchWriteItem): those left behind by a
        large chat.create that died before storing its chat item."""

    @abc.abstractmethod
    def memberships(self, chat_id: str, user_ids: Iterable[str]) -> Mapping[str, Membership]:
        """Memberships of these users in one chat (BatchGetItem, ceil(N/100) requests)."""

    @abc.abstractmethod
    def advance_pointers(self, chat_id: str, user_id: str, old: Pointers, new: Pointers) -> bool:
        """Compare-and-set a member's pointers (1 UpdateItem); False if ``old`` was stale."""

    # -- devices and push

    @abc.abstractmethod
    def device_by_token(self, key: str) -> Device | None:
        """The device holding a token now, whoever owns it (GetItem + GetItem)."""

    @abc.abstractmethod
    def save_device(self, device: Device, previous: Device | None) -> None:
        """Store a device with its token and its owner's presence flag (one transaction); when
        ``previous`` belonged to another user, move it away from them."""

    @abc.abstractmethod
    def devices_of(self, user_id: str) -> list[Device]:
        """A user's devices (1 Query)."""

    @abc.abstractmethod
    def remove_device(self, device: Device) -> bool:
        """Forget a device; False if it was not there."""

    @abc.abstractmethod
    def set_notify(self, user_id: str, chat_id: str, level: str) -> None:
        """A member's notification level in a chat (one transaction: the membership, for chat
        views, and the presence item, which sends read)."""

    def set_muted(self, user_id: str, chat_id: str, muted: bool) -> None:
        """v2's mute: the level "none", or back to "all"."""
        self.set_notify(user_id, chat_id, "none" if muted else "all")

    @abc.abstractmethod
    def badge(self, user_id: str) -> int:
        """Total unread over the user's chats whose level is not "none"."""

    @abc.abstractmethod
    def claim_push(self, key: str, ttl_seconds: int = 86400) -> bool:
        """Conditional Put: True the first time a push key is claimed."""

    @abc.abstractmethod
    def release_push(self, key: str) -> None:
        """Undo a claim so that a retry may send."""

    # -- messages

    @abc.abstractmethod
    def append_message(self, chat: ChatRecord, message: Message) -> StoredSend:
        """Store ``message`` as seq ``chat.last_seq + 1`` in one transaction that also moves the
        chat's counter and the sender's pointers, records the client_msg_id, and marks each of
        its attachments as this message's (on the condition that it is the sender's, for this
        chat, and no message's yet: else ``BadRequest``).

        Returns the stored message, or the original one with ``duplicate=True`` for a retry.
        Raises ``SeqConflict`` when the chat moved since ``chat`` was read.
        """

    @abc.abstractmethod
    def messages(
        self, chat_id: str, before: int | None, after: int | None, limit: int, floor: int = 0
    ) -> Page:
        """A page of messages in ascending seq, none at or below ``floor`` (1 Query)."""

    @abc.abstractmethod
    def find_send(self, message: Message) -> StoredSend | None:
        """How a send of ``message``'s client_msg_id was stored, if it was (1 GetItem): as
        ``message`` itself (its write applied though the call failed) or as an earlier send
        (``duplicate``)."""

    @abc.abstractmethod
    def message_at(self, chat_id: str, seq: int) -> Message | None:
        """One stored message (1 GetItem); None if there is none at that seq."""

    # -- attachments

    @abc.abstractmethod
    def create_attachment(self, record: AttachmentRecord, expires_at: int) -> bool:
        """Store a new attachment record, expiring at ``expires_at`` (epoch seconds) unless a
        message takes it, if its user is a member of its chat (1 TransactWriteItems: a check of
        the membership and the put); False, and nothing stored, when not a member."""

    @abc.abstractmethod
    def attachments(self, attachment_ids: Iterable[str]) -> Mapping[str, AttachmentRecord]:
        """The records of these ids that exist (1 BatchGetItem)."""

    # -- messages that change

    @abc.abstractmethod
    def message_context(self, chat_id: str, user_id: str, seq: int) -> MessageContext:
        """The chat, the user's membership and the message at ``seq`` (1 BatchGetItem)."""

    @abc.abstractmethod
    def change_message(self, chat: ChatRecord, before: Message, after: Message) -> None:
        """Store ``after`` (whose ``rev`` is ``chat.last_rev + 1``) in place of ``before``, under
        its rev in the changes, and move the chat's ``last_rev`` (1 TransactWriteItems).
        Raises ``ChangeConflict`` when the message, the chat's rev or its members moved."""

    @abc.abstractmethod
    def changes(self, chat_id: str, after_rev: int, limit: int, floor: int = 0) -> Page:
        """The changed messages with ``rev > after_rev`` and ``seq > floor``, by rev ascending,
        at most ``limit`` (1 Query; more only when changes at or below ``floor`` fill a page)."""

    @abc.abstractmethod
    def mark_fanned_out(self, message: Message) -> None:
        """Record on the message's send key that it was handed to delivery (1 UpdateItem)."""

    @abc.abstractmethod
    def claim_fanout(self, message: Message) -> bool:
        """Mark the send key as fanned out unless it is already (1 conditional UpdateItem):
        True for the one caller that should now deliver the message."""

    # -- blocks (storage/blocks.py says where they live)

    @abc.abstractmethod
    def block(self, user_id: str, other_id: str, chat: ChatRecord | None, absent_chat_id: str) -> bool:
        """``user_id`` blocks ``other_id`` (1 TransactWriteItems: the block, the user's count,
        and the pair's direct ``chat``'s ``blocked_by`` or a check that ``absent_chat_id`` does
        not exist). False when the block stood already (nothing changes); ``TooLarge`` past
        ``MAX_BLOCKED``; ``BlockConflict`` when the chat changed meanwhile (read it, retry)."""

    @abc.abstractmethod
    def unblock(self, user_id: str, other_id: str, chat: ChatRecord | None) -> bool:
        """The block goes (1 TransactWriteItems); False when there was none (nothing changes)."""

    @abc.abstractmethod
    def blocked(self, user_id: str) -> list[str]:
        """The users ``user_id`` blocks, sorted (1 Query)."""

    @abc.abstractmethod
    def blockers(self, blocked: str, users: Iterable[str]) -> set[str]:
        """Of ``users``, those who block ``blocked`` (BatchGetItem, ceil(N/100) requests)."""

    # -- reports

    @abc.abstractmethod
    def save_report(self, report: Report) -> bool:
        """Store a new report (1 conditional PutItem); False, and nothing written, when the same
        user reported the same message before."""
