"""The local copy of each chat (``chatclient.ordering.Copies`` and what ``Ordering`` does with
it) as plain functions: the newest view of a message wins whatever order views come in, a
change reaches the application only for a message it has had, and what is asked of
``chat.changes`` after a reconnect, page by page."""

from __future__ import annotations

import dataclasses

from chatclient.models import Changes, Chat, Message
from chatclient.ordering import CHANGES_PAGE, Copies, Ordering


def message(seq: int, rev: int = 0, text: str | None = None, chat_id: str = "c1", **more: object) -> Message:
    sent_at = "2026-12-06T10:00:00.000Z"
    base = Message(chat_id, seq, f"m{seq}", f"k{seq}", "bob", text or f"text {seq}", sent_at)
    return dataclasses.replace(base, rev=rev, **more)  # type: ignore[arg-type]


def chat(chat_id: str = "c1", last_seq: int = 0, last_rev: int = 0, joined_seq: int = 0) -> Chat:
    return Chat(chat_id, None, ("alice", "bob"), last_seq, 0, 0, 0, joined_seq=joined_seq, last_rev=last_rev)


def held(last_rev: int = 0) -> Copies:
    copies = Copies()
    copies.hold("c1", last_rev)
    return copies


def page(*messages: Message, last_rev: int, has_more: bool = False) -> Changes:
    return Changes("c1", list(messages), last_rev, has_more)


def test_a_newer_view_replaces_the_held_one_and_an_older_or_equal_one_changes_nothing():
    copies = held()
    assert copies.offer(message(1)) == message(1)
    assert copies.update(message(1, rev=3, text="edited"))
    assert not copies.update(message(1, rev=2, text="an older edit"))  # arrived late
    assert not copies.update(message(1, rev=3, text="edited"))  # the same view again
    assert copies.offer(message(1)) == message(1, rev=3, text="edited")  # the stale frame loses
    assert copies.of("c1") == [message(1, rev=3, text="edited")]


def test_a_change_that_overtakes_its_message_is_kept_and_the_message_comes_as_changed():
    copies = held()
    assert copies.update(message(2, rev=1, deleted=True, text=""))
    assert copies.offer(message(2)) == message(2, rev=1, deleted=True, text="")
    assert copies.of("c1") == [message(2, rev=1, deleted=True, text="")]


def test_a_chat_not_held_keeps_nothing_and_dropping_forgets_the_copy():
    copies = Copies()
    assert copies.offer(message(1)) == message(1) and not copies.update(message(1, rev=1))
    assert copies.of("c1") == [] and not copies.holds("c1")
    copies.hold("c1", 0)
    copies.offer(message(1))
    copies.drop("c1")
    assert copies.of("c1") == [] and copies.message("c1", 1) is None and not copies.holds("c1")


def test_holding_again_keeps_the_copy_and_its_synced_rev():
    copies = held(last_rev=4)
    copies.offer(message(1, rev=4))
    copies.hold("c1", 9)  # a chat list, a chat:updated, an open: the copy already follows it
    assert copies.changes_request("c1") == {"chat_id": "c1", "after_rev": 4, "limit": CHANGES_PAGE}
    assert copies.message("c1", 1) == message(1, rev=4)


def test_behind_only_when_the_chat_changed_past_what_the_copy_knows():
    copies = held(last_rev=5)
    assert not copies.behind("c1", 5) and not copies.behind("c1", 0)
    assert copies.behind("c1", 6)
    assert not copies.behind("other", 6)  # not held: nothing to bring up to date


def test_a_changes_walk_moves_synced_page_by_page_to_the_last_rev():
    copies = held(last_rev=2)
    first = page(message(1, rev=4), message(3, rev=6), last_rev=9, has_more=True)
    assert copies.changes_page(2, first) == 6  # the next page: after the last rev of this one
    assert copies.changes_request("c1") == {"chat_id": "c1", "after_rev": 6, "limit": CHANGES_PAGE}
    last = page(message(2, rev=9), last_rev=9)
    assert copies.changes_page(6, last) is None
    assert not copies.behind("c1", 9)  # the walk saw everything up to the chat's last_rev


def test_an_empty_last_page_moves_synced_to_the_last_rev_a_burnt_rev_is_not_asked_again():
    copies = held(last_rev=3)
    assert copies.changes_page(3, page(last_rev=4)) is None  # rev 4 was burnt by a refused change
    assert not copies.behind("c1", 4)


def test_a_page_that_does_not_carry_on_from_synced_moves_nothing():
    copies = held(last_rev=2)
    # someone read changes after rev 7 (ChatClient.changes): revs 3 to 7 are still unknown
    assert copies.changes_page(7, page(message(1, rev=8), last_rev=8)) is None
    assert copies.behind("c1", 8)
    assert copies.changes_request("c1")["after_rev"] == 2


def test_a_page_with_more_but_no_messages_ends_the_walk_instead_of_asking_forever():
    copies = held()
    assert copies.changes_page(0, page(last_rev=5, has_more=True)) is None
    assert copies.behind("c1", 5)  # not synced: the next reconnect asks again


def test_ordering_holds_a_copy_of_every_tracked_chat_from_its_last_rev_and_drops_it_on_forget():
    order = Ordering()
    order.track(chat(last_seq=3, last_rev=7), start=3)
    assert order.copies.holds("c1") and not order.copies.behind("c1", 7)
    order.forget("c1")
    assert not order.copies.holds("c1")
    order.added(chat(last_seq=4, last_rev=8, joined_seq=4))
    assert order.copies.holds("c1") and not order.copies.behind("c1", 8)


def test_a_chat_first_seen_by_a_message_asks_every_change_its_last_rev_unknown():
    order = Ordering()
    order.synced_once = True
    order.start_before("c9", 5, [message(4, chat_id="c9")])
    assert order.copies.changes_request("c9")["after_rev"] == 0


def test_the_application_hears_of_a_change_only_for_a_message_it_has_had():
    order = Ordering()
    order.track(chat(), start=3)
    assert order.message_changed(message(2, rev=1, text="edited"))  # had it: tell it
    assert not order.message_changed(message(2, rev=1, text="edited"))  # the same change again
    assert not order.message_changed(message(5, rev=2, text="edited"))  # 5 is not delivered yet
    assert order.copies.message("c1", 5) == message(5, rev=2, text="edited")  # but it is kept


def test_changes_of_a_chat_the_user_is_out_of_are_ignored():
    order = Ordering()
    order.track(chat(), start=3)
    order.forget("c1")
    assert not order.message_changed(message(2, rev=1))
    assert order.copies.of("c1") == []


def test_own_messages_passed_over_hear_of_changes_too():
    order = Ordering()
    order.track(chat(), start=0)
    order.own_sent("c1", 1)  # our own send: never handed back, but the application has it
    assert order.message_changed(message(1, rev=1, reactions={"👍": ("bob",)}))


def test_a_view_of_a_message_never_changed_that_the_copy_lacks_is_no_change():
    order = Ordering()
    order.track(chat(), start=5)
    assert not order.message_changed(message(4))  # e.g. a re-opened chat's page: nothing new
    assert order.copies.message("c1", 4) == message(4)  # but the copy keeps it
    assert not order.message_changed(message(4))
    assert order.message_changed(message(4, rev=2, text="edited"))
