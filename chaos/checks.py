"""What a chaos run must find at the end, checked over what it recorded (no I/O here).

Per chat: the stored seqs are 1..n without a gap; no client_msg_id of a sender is stored twice;
every acknowledged send is stored once, at the seq its ack named. Per member's client: the
messages handed to the application come once each, in seq order, and a current member holds
every message of their current membership (handed, or their own send). No chat:message frame
reaches a user who was not a member at that seq (membership per seq comes from the stored
system messages). No connection record outlives its socket by more than the record's TTL.
Messages change (edits, deletes, reactions racing reconnects): at the end every client's local
copy of each chat it is in shows each message as the server stores it now.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Stored:
    """One stored message, as the messages table has it."""

    seq: int
    client_msg_id: str
    sender_id: str
    system: Mapping[str, object] | None = None  # {"type": ..., "users": [...]} for system messages


@dataclass(frozen=True)
class Frame:
    """A chat:message or chat:message:background frame one user's connection received."""

    user: str
    chat_id: str
    seq: int


@dataclass(frozen=True)
class Record:
    """A connection record left in the table, and when its socket closed (epoch seconds)."""

    connection_id: str
    closed_at: float
    expires_at: float


@dataclass
class Findings:
    duplicates: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)
    disorder: list[str] = field(default_factory=list)
    diverged: list[str] = field(default_factory=list)  # a local copy that is not what is stored

    @property
    def violations(self) -> list[str]:
        return [*self.duplicates, *self.lost, *self.leaked, *self.disorder, *self.diverged]

    def extend(self, other: Findings) -> None:
        self.duplicates += other.duplicates
        self.lost += other.lost
        self.leaked += other.leaked
        self.disorder += other.disorder
        self.diverged += other.diverged


def membership(initial: Iterable[str], stored: Sequence[Stored]) -> list[frozenset[str]]:
    """Members after each seq: index 0 is the chat as created, index s after message s."""
    members = set(initial)
    by_seq = {m.seq: m for m in stored}
    result = [frozenset(members)]
    for seq in range(1, max(by_seq, default=0) + 1):
        message = by_seq.get(seq)
        if message is not None and message.system is not None:
            users = {str(u) for u in message.system.get("users") or ()}  # type: ignore[attr-defined]
            kind = message.system.get("type")
            if kind == "added":
                members |= users
            elif kind in ("removed", "left"):
                members -= users
        result.append(frozenset(members))
    return result


def visible(user: str, members: Sequence[frozenset[str]], seq: int) -> bool:
    """A member sees the messages after the one that added them, until the one that removes them."""
    return 0 < seq < len(members) and user in members[seq - 1] and user in members[seq]


def current_start(user: str, members: Sequence[frozenset[str]]) -> int | None:
    """The seq after which a current member sees everything (their last add), None for a non-member."""
    last = len(members) - 1
    if user not in members[last]:
        return None
    seq = last
    while seq > 0 and user in members[seq - 1]:
        seq -= 1
    return seq


def check_store(chat_id: str, stored: Sequence[Stored], acks: Mapping[tuple[str, str], int]) -> Findings:
    """Gapless seqs, one seq per (sender, client_msg_id), every ack stored at its seq.
    ``acks`` maps (sender, client_msg_id) of this chat to the seq the ack named."""
    found = Findings()
    seqs = sorted(m.seq for m in stored)
    if seqs != list(range(1, len(seqs) + 1)):
        missing = sorted(set(range(1, (seqs[-1] if seqs else 0) + 1)) - set(seqs))
        found.lost.append(f"{chat_id}: stored seqs have gaps at {missing[:10]}")
        repeated = [s for s, n in Counter(seqs).items() if n > 1]
        if repeated:
            found.duplicates.append(f"{chat_id}: seqs stored twice {repeated[:10]}")
    texts = Counter((m.sender_id, m.client_msg_id) for m in stored if m.system is None)
    for key, count in texts.items():
        if count > 1:
            found.duplicates.append(f"{chat_id}: {key[0]}'s {key[1]} stored {count} times")
    where = {(m.sender_id, m.client_msg_id): m.seq for m in stored if m.system is None}
    for key, seq in acks.items():
        if key not in where:
            found.lost.append(f"{chat_id}: {key[0]}'s acked {key[1]} (seq {seq}) is not stored")
        elif where[key] != seq:
            found.duplicates.append(f"{chat_id}: {key[0]}'s {key[1]} acked as {seq}, stored as {where[key]}")
    return found


def check_client(
    user: str,
    chat_id: str,
    handed: Sequence[int],
    own: Iterable[int],
    members: Sequence[frozenset[str]],
) -> Findings:
    """What one user's client handed to the application for one chat (in order), and their own
    stored sends: once each, in order, only what they may see, and all of their current membership."""
    found = Findings()
    repeated = sorted(s for s, n in Counter(handed).items() if n > 1)
    if repeated:
        found.duplicates.append(f"{user} got {chat_id} seqs {repeated[:10]} more than once")
    if any(b <= a for a, b in itertools.pairwise(handed)):
        found.disorder.append(f"{user} got {chat_id} out of seq order")
    unseen = [s for s in set(handed) if not visible(user, members, s)]
    if unseen:
        found.leaked.append(f"{user} was handed {chat_id} seqs {sorted(unseen)[:10]} while not a member")
    start = current_start(user, members)
    if start is not None:
        expected = set(range(start + 1, len(members)))
        missing = sorted(expected - set(handed) - set(own))
        if missing:
            found.lost.append(f"{user} lacks {chat_id} seqs {missing[:10]} ({len(missing)} in all)")
    return found


def check_frames(frames: Iterable[Frame], members: Mapping[str, Sequence[frozenset[str]]]) -> Findings:
    """No chat:message frame reached a user who was not a member at its seq."""
    found = Findings()
    for frame in frames:
        chat = members.get(frame.chat_id)
        if chat is None or frame.seq >= len(chat) or frame.user not in chat[frame.seq]:
            found.leaked.append(f"{frame.user} received {frame.chat_id} seq {frame.seq} as a non-member")
    return found


def check_copy(user: str, chat_id: str, copy: Mapping[int, object], stored: Mapping[int, object]) -> Findings:
    """A client's local copy of a chat (seq -> message, what it has seen) against the messages
    as stored now (a fresh ``chat.history``): each held message as stored, none that is not."""
    found = Findings()
    stale = sorted(seq for seq, message in copy.items() if stored.get(seq) != message)
    if stale:
        found.diverged.append(f"{user}'s copy of {chat_id} is not what is stored at seqs {stale[:10]}")
    return found


def check_records(records: Iterable[Record], ttl_seconds: float, slack_seconds: float = 5.0) -> Findings:
    """A record whose socket closed must expire within its TTL of the close."""
    found = Findings()
    for record in records:
        if record.expires_at > record.closed_at + ttl_seconds + slack_seconds:
            over = record.expires_at - record.closed_at
            found.leaked.append(f"connection {record.connection_id} outlives its socket by {over:.0f} s")
    return found


def repeated_frames(frames: Iterable[Frame]) -> int:
    """Frames beyond the first for one message to one user (each user has one connection at a
    time, and a new connection is never sent old messages): re-posts. Allowed under faults (the
    client drops them by seq); counted, not a violation."""
    counts = Counter((f.user, f.chat_id, f.seq) for f in frames)
    return sum(n - 1 for n in counts.values())
