"""chatclient/ordering.py as plain functions (no event loop, no server): messages in order by
seq, a gap detected and what to ask for to fill it, duplicates dropped, our own sends passed
over, frames of a chat the user was removed from ignored until chat:added, and what a resync
asks for."""

from __future__ import annotations

from chatclient.models import Chat, Message
from chatclient.ordering import HISTORY_PAGE, Ordering, ResyncPlan, Verdict, earlier_request


def message(seq: int, chat_id: str = "c1", cmid: str | None = None) -> Message:
    return Message(
        chat_id, seq, f"m{seq}", cmid or f"k{seq}", "bob", f"text {seq}", "2026-11-24T10:00:00.000Z"
    )


def chat(chat_id: str = "c1", last_seq: int = 0, joined_seq: int = 0) -> Chat:
    return Chat(chat_id, None, ("alice", "bob"), last_seq, 0, 0, 0, joined_seq=joined_seq)


def tracking(last: int, chat_id: str = "c1") -> Ordering:
    order = Ordering()
    order.track(chat(chat_id), start=last)
    return order


def deliver(order: Ordering, seq: int, chat_id: str = "c1") -> bool:
    """What the asyncio side does with a message that is next: True if the application gets it."""
    return order.hand_over(message(seq, chat_id))


def test_the_next_seq_is_handed_over_and_moves_last():
    order = tracking(3)
    assert order.classify(message(4)) is Verdict.NEXT
    assert deliver(order, 4) and order.last_of("c1") == 4
    assert order.classify(message(5)) is Verdict.NEXT


def test_a_seq_already_had_is_a_duplicate():
    order = tracking(3)
    assert [order.classify(message(seq)) for seq in (1, 3)] == [Verdict.DUPLICATE] * 2
    assert deliver(order, 4)
    assert order.classify(message(4)) is Verdict.DUPLICATE


def test_a_gap_is_detected_and_filled_from_last_in_order():
    order = tracking(3)
    assert order.classify(message(7)) is Verdict.GAP
    assert order.behind("c1", upto=6)
    assert order.fill_request("c1") == {"chat_id": "c1", "after": 3, "limit": HISTORY_PAGE}
    for seq in (4, 5, 6):  # the page the fill brings, in order
        assert order.accept(message(seq)) and deliver(order, seq)
    assert not order.behind("c1", upto=6)
    assert order.is_next(message(7))


def test_a_fill_page_out_of_line_is_not_accepted_and_a_page_that_moved_nothing_ends_the_fill():
    order = tracking(3)
    assert not order.accept(message(5))  # 4 is missing still
    assert not order.more_to_fill("c1", after=3, has_more=True)  # the page moved nothing
    assert order.accept(message(4)) and deliver(order, 4)
    assert order.more_to_fill("c1", after=3, has_more=True)
    assert not order.more_to_fill("c1", after=3, has_more=False)
    assert order.behind("c1", upto=None)  # up to the newest: there may always be more


def test_a_seq_is_handed_over_at_most_once_in_the_clients_life():
    order = tracking(0)
    assert deliver(order, 1)
    order.forget("c1")
    order.added(chat(joined_seq=0))  # an old chat:added re-posted: tracked from 0 again
    assert order.classify(message(1)) is Verdict.NEXT
    assert not deliver(order, 1)  # not a second time
    assert order.last_of("c1") == 1


def test_our_own_sends_are_passed_over_not_handed_back():
    order = tracking(3)
    order.sending("mine")
    order.own_sent("c1", 4)
    assert order.last_of("c1") == 4  # next in line: passed over at once
    order.own_sent("c1", 6)  # 5 is missing: 6 waits its turn
    assert order.last_of("c1") == 4
    assert order.classify(message(5)) is Verdict.NEXT
    assert deliver(order, 5)
    assert order.classify(message(7)) is Verdict.NEXT  # 6 was ours: passed over, no gap
    assert order.last_of("c1") == 6
    assert order.classify(message(6, cmid="mine")) is Verdict.DUPLICATE
    assert not order.hand_over(message(8, cmid="mine"))  # seen from this client's send


def test_frames_of_a_chat_we_were_removed_from_are_ignored_until_chat_added():
    order = tracking(5)
    assert order.forget("c1") is True
    assert not order.tracks("c1")
    assert order.classify(message(6)) is Verdict.IGNORE
    assert order.classify(message(9)) is Verdict.IGNORE
    order.added(chat(last_seq=8, joined_seq=8))  # added again at seq 8
    assert order.classify(message(9)) is Verdict.NEXT
    assert order.forget("c2") is False  # never tracked


def test_last_is_never_below_joined_seq():
    order = Ordering()
    order.added(chat(last_seq=12, joined_seq=10))
    assert order.last_of("c1") == 10
    assert order.fill_request("c1")["after"] == 10  # nothing before joining is asked for
    order.updated(chat(last_seq=20, joined_seq=15))  # re-added later
    assert order.last_of("c1") == 15
    order.updated(chat("c2", joined_seq=3))  # a chat not tracked stays untracked
    assert not order.tracks("c2")


def test_an_untracked_chat_before_the_first_list_is_tracked_from_its_message():
    order = Ordering()
    assert order.classify(message(7)) is Verdict.UNTRACKED
    assert not order.synced_once
    order.start_before("c1", 7, [])
    assert order.classify(message(7)) is Verdict.NEXT


def test_an_untracked_chat_after_the_first_list_starts_at_the_earliest_message_we_may_see():
    order = Ordering()
    order.listed([], set(), viewing=[])
    assert order.synced_once
    assert earlier_request("c1", 7) == {"chat_id": "c1", "before": 7, "limit": HISTORY_PAGE}
    earlier = [message(4), message(5), message(6)]  # what chat.history before=7 gave
    order.start_before("c1", 7, earlier)
    assert order.last_of("c1") == 3
    assert [order.accept(m) and deliver(order, m.seq) for m in earlier] == [True, True, True]
    assert order.classify(message(7)) is Verdict.NEXT


def test_the_first_chat_list_tracks_from_last_seq_and_plans_the_resync():
    order = Ordering()
    listed = [chat("c1", last_seq=5), chat("c2", last_seq=9, joined_seq=2)]
    plan = order.listed(listed, known=set(), viewing=["c1"])
    assert plan == ResyncPlan(reopen=["c1"], listed=listed, missing=[])
    assert (order.last_of("c1"), order.last_of("c2")) == (5, 9)
    assert [order.relisted(c) for c in listed] == [False, False]  # nothing moved


def test_a_later_resync_fills_what_moved_and_probes_known_chats_the_list_left_out():
    order = tracking(5, "c1")
    order.track(chat("c3"), start=2)
    order.track(chat("c0"), start=1)
    order.listed([], order.known(), viewing=[])  # the first list
    known = order.known()
    moved, new = chat("c1", last_seq=8), chat("c4", last_seq=4, joined_seq=1)
    plan = order.listed([moved, new], known, viewing=[])
    assert plan.missing == ["c0", "c3"]  # sorted; asked for what follows last
    assert (order.last_of("c1"), order.tracks("c4")) == (5, False)  # later lists track nothing
    assert order.relisted(moved) is True
    assert order.fill_request("c1")["after"] == 5 and order.behind("c1", upto=8)
    assert order.relisted(new) is True  # new to us: everything after joining
    assert order.fill_request("c4")["after"] == 1


def test_a_listed_chat_counts_again_even_if_its_chat_added_was_lost():
    order = tracking(5)
    order.forget("c1")
    order.listed([], set(), viewing=[])
    assert order.relisted(chat(last_seq=7, joined_seq=6)) is True
    assert order.classify(message(7)) is Verdict.NEXT


def test_what_chat_open_shows_counts_as_delivered():
    order = tracking(2)
    order.own_sent("c1", 9)
    order.opened("c1", chat(last_seq=10))
    assert order.last_of("c1") == 10 and not order.own.get("c1")
    order.forget("c1")
    order.opened("c1", chat(last_seq=12))  # opened: a member again
    assert order.classify(message(13)) is Verdict.NEXT


def test_created_and_changed_chats():
    order = Ordering()
    order.forget("d1")
    order.created(chat("d1", last_seq=3))  # a direct chat we had left, created again
    assert order.classify(message(4, "d1")) is Verdict.NEXT
    order.own_sent("d1", 5)
    order.own_sent("d1", 4)
    order.changed("d1", chat("d1", last_seq=6))  # our own add: its system message is seq 6
    assert order.last_of("d1") == 5 and order.behind("d1", upto=6)
