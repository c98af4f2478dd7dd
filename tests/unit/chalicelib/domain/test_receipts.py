"""The receipts summary of a large chat: what it lists, and that the minimum it gives is never above
the true one, and equal to it whenever it says it is exact, whatever happened since."""

from __future__ import annotations

import random

import pytest

from chalicelib.domain.receipts import LISTED, ReceiptsSummary, bounded_lowest, exact_lowest, summarize
from chalicelib.domain.records import Pointers


def test_the_lowest_by_delivery_are_listed_though_many_read_less():
    pointers = {f"r{i:03d}": Pointers(90, 3) for i in range(150)} | {"late": Pointers(5, 5)}
    summary = summarize(pointers, base_seq=90, now_ms=1)
    assert len(summary.listed) == LISTED and "late" in summary.listed
    assert summary.rest == Pointers(90, 3)  # the unlisted ones


def test_rest_is_never_above_the_seq_the_summary_was_taken_at():
    # pointers read after more sends than the chat item said: a newcomer may join at base + 1
    pointers = {f"u{i:03d}": Pointers(40, 40) for i in range(LISTED + 5)}
    assert summarize(pointers, base_seq=30, now_ms=1).rest == Pointers(30, 30)


def test_everyone_listed_leaves_no_rest_and_newcomers_count_from_their_joined_seq():
    summary = summarize({"alice": Pointers(9, 9), "bob": Pointers(9, 7)}, base_seq=9, now_ms=1)
    assert summary.rest is None and summary.listed == ("alice", "bob")
    joined = {"alice": 0, "bob": 0, "carol": 10}
    lowest = bounded_lowest(summary, joined, {"bob": Pointers(11, 11)}, "alice", last_seq=11)
    assert lowest.pointers == Pointers(10, 10) and not lowest.read_exact  # carol: at least 10
    assert lowest.shows_exactly(10) and not lowest.shows_exactly(11)


def test_alone_in_the_chat_the_minimum_is_the_last_seq():
    summary = ReceiptsSummary(base_seq=3, computed_ms=0, listed=("alice",), rest=Pointers(1, 1))
    lowest = bounded_lowest(summary, {"alice": 0}, {}, "alice", last_seq=7)
    assert lowest == exact_lowest((), 7) and lowest.pointers == Pointers(7, 7)


def test_a_listed_member_who_left_counts_no_more():
    summary = ReceiptsSummary(base_seq=5, computed_ms=0, listed=("gone", "bob"), rest=Pointers(5, 5))
    joined = {"alice": 0, "bob": 0, "carol": 0}
    lowest = bounded_lowest(summary, joined, {"bob": Pointers(6, 6)}, "alice", last_seq=6)
    assert lowest.pointers == Pointers(5, 5) and not lowest.delivered_exact  # carol's bound


@pytest.mark.parametrize("seed", range(20))
def test_never_above_the_minimum_and_exact_when_it_says_so(seed):
    rng = random.Random(seed)
    last = 0
    joined = {f"u{i:03d}": 0 for i in range(rng.randint(2, 260))}
    stored = {u: Pointers() for u in joined}
    summary: ReceiptsSummary | None = None
    left: list[str] = []
    for _ in range(300):
        op = rng.random()
        users = sorted(joined)
        if op < 0.25:  # a send: the sender's pointers move to it
            last += 1
            stored[rng.choice(users)] = Pointers(last, last)
        elif op < 0.6:  # receipts only move forward
            for u in rng.sample(users, min(len(users), rng.randint(1, 40))):
                seq = rng.randint(0, last)
                stored[u] = stored[u].advanced(seq, read=rng.random() < 0.5)
        elif op < 0.7 and len(joined) < 1000:  # added at a new seq, pointers anew
            last += 1
            for i in range(rng.randint(1, 5)):
                user = f"n{last:03d}{i}" if rng.random() < 0.7 or not left else rng.choice(left)
                if user not in joined:
                    joined[user], stored[user] = last, Pointers()
        elif op < 0.8 and len(joined) > 2:  # removed (and perhaps added again later)
            last += 1
            for u in rng.sample(users, rng.randint(1, min(3, len(users) - 2))):
                del joined[u]
                stored.pop(u)
                left.append(u)
        elif op < 0.9:  # recomputed, the chat item read a few sends before the pointers
            effective = {u: stored[u].at_least(joined[u]) for u in joined}
            summary = summarize(effective, base_seq=max(0, last - rng.randint(0, 2)), now_ms=0)
        if summary is None:
            continue
        viewer = rng.choice(sorted(joined))
        reread = {u: stored[u].at_least(joined[u]) for u in summary.listed if u in joined and u != viewer}
        lowest = bounded_lowest(summary, joined, reread, viewer, last)
        truth = exact_lowest([stored[u].at_least(s) for u, s in joined.items() if u != viewer], last).pointers
        assert lowest.pointers.delivered_seq <= truth.delivered_seq
        assert lowest.pointers.read_seq <= truth.read_seq
        if lowest.delivered_exact:
            assert lowest.pointers.delivered_seq == truth.delivered_seq
        if lowest.read_exact:
            assert lowest.pointers.read_seq == truth.read_seq
