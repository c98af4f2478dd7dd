"""``receipts_min`` of a large chat without reading every member's pointers. Pure: no storage.

A chat above ``INLINE_MEMBERS`` keeps a ``ReceiptsSummary`` next to its roster (read by the
roster's own Query, so at no extra request): which members had the lowest pointers when it was
computed (``listed``, at most ``LISTED`` of them) and a lower bound (``rest``) over everyone
else then. It stays a valid lower bound for ever, whatever happens after, because:

- pointers only move forward (``Pointers.advanced``), and are read raised to ``joined_seq``;
- a member added later joins at a seq above ``base_seq`` (the chat's ``last_seq`` when it was
  computed), and ``rest`` is never above ``base_seq``: a newcomer is bounded by their
  ``joined_seq`` from the roster, which is exact for what they may see;
- a member removed only leaves the minimum (the roster says who is a member now).

``chat.open`` re-reads the listed members that are still members (one BatchGetItem of at most
100 keys) and bounds every other member by ``max(rest, joined_seq)``. The result is exact when
its minimum is a member whose pointers were just read; else it is a lower bound, exact for
what the client shows when it is at least the viewer's newest own message in the page (ticks
are shown on one's own messages only). Only when neither holds is the minimum recomputed from
every member's pointers (``needs_exact``), at most once per interval per chat.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chalicelib.domain.records import Pointers

LISTED = 100  # members whose pointers a summary names: one BatchGetItem re-reads them


@dataclass(frozen=True)
class ReceiptsSummary:
    """The lowest pointers of a chat's members as of ``base_seq``: ``listed`` members (by
    lowest ``read_seq``, then lowest ``delivered_seq``) and a bound ``rest`` over all the others
    then (None: there were none). ``computed_ms`` (epoch ms) paces recomputation."""

    base_seq: int
    computed_ms: int
    listed: tuple[str, ...]
    rest: Pointers | None


@dataclass(frozen=True)
class Lowest:
    """The lowest pointers over the other members, and for each whether it is exact (else a
    lower bound)."""

    pointers: Pointers
    delivered_exact: bool
    read_exact: bool

    def shows_exactly(self, newest_own: int) -> bool:
        """Whether a client comparing its own messages (up to ``newest_own``) with ``pointers``
        shows the same ticks as with the exact minimum."""
        return (self.delivered_exact or self.pointers.delivered_seq >= newest_own) and (
            self.read_exact or self.pointers.read_seq >= newest_own
        )


def summarize(pointers: Mapping[str, Pointers], base_seq: int, now_ms: int) -> ReceiptsSummary:
    """The summary of every member's pointers (raised to ``joined_seq``), read after the chat
    item whose ``last_seq`` is ``base_seq``. The lowest by read and the lowest by delivery are
    both listed (half the room each, the rest filled by read)."""
    by_read = sorted(pointers, key=lambda u: (pointers[u].read_seq, pointers[u].delivered_seq, u))
    by_delivered = sorted(pointers, key=lambda u: (pointers[u].delivered_seq, u))
    chosen = dict.fromkeys(by_delivered[: LISTED // 2])
    for user in by_read:
        if len(chosen) >= LISTED:
            break
        chosen.setdefault(user)
    others = [pointers[u] for u in pointers if u not in chosen]
    rest = None
    if others:
        rest = Pointers(
            min(base_seq, *(p.delivered_seq for p in others)), min(base_seq, *(p.read_seq for p in others))
        )
    return ReceiptsSummary(base_seq=base_seq, computed_ms=now_ms, listed=tuple(sorted(chosen)), rest=rest)


def exact_lowest(others: Iterable[Pointers], last_seq: int) -> Lowest:
    """The minimum over the other members' pointers, all known (``last_seq`` if there are none)."""
    known = list(others)
    return Lowest(
        Pointers(
            min((p.delivered_seq for p in known), default=last_seq),
            min((p.read_seq for p in known), default=last_seq),
        ),
        delivered_exact=True,
        read_exact=True,
    )


def bounded_lowest(
    summary: ReceiptsSummary,
    joined: Mapping[str, int],
    reread: Mapping[str, Pointers],
    viewer: str,
    last_seq: int,
) -> Lowest:
    """The minimum over the members of ``joined`` (the roster now) but ``viewer``: ``reread``
    holds the current pointers (raised to ``joined_seq``) of the listed members still in it;
    every other member is bounded by ``max(rest, joined_seq)``."""
    known = [p for u, p in reread.items() if u != viewer and u in joined]
    bounds = [
        Pointers(max(summary.rest.delivered_seq, seq), max(summary.rest.read_seq, seq))
        if summary.rest is not None
        else Pointers(seq, seq)
        for u, seq in joined.items()
        if u != viewer and u not in reread
    ]
    if not known and not bounds:
        return exact_lowest((), last_seq)
    exact = exact_lowest(known, last_seq)
    if not bounds:
        return exact
    bound = exact_lowest(bounds, last_seq).pointers
    delivered = min(exact.pointers.delivered_seq, bound.delivered_seq) if known else bound.delivered_seq
    read = min(exact.pointers.read_seq, bound.read_seq) if known else bound.read_seq
    return Lowest(
        Pointers(delivered, read),
        delivered_exact=bool(known) and exact.pointers.delivered_seq <= bound.delivered_seq,
        read_exact=bool(known) and exact.pointers.read_seq <= bound.read_seq,
    )
