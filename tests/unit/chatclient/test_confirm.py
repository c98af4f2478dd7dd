"""The client confirms what it receives, at most once a second per chat (chatclient.confirm)."""

from __future__ import annotations

import itertools

from chatclient.confirm import Confirmations, Step


def test_the_first_message_of_a_quiet_chat_is_confirmed_at_once():
    c = Confirmations()
    assert c.received("c1", 5, now=100.0) == Step(confirm=5)
    assert c.received("c2", 1, now=100.0) == Step(confirm=1)  # per chat


def test_a_burst_is_confirmed_once_more_for_its_highest_seq_when_the_second_is_up():
    c = Confirmations()
    assert c.received("c1", 1, now=100.0) == Step(confirm=1)
    step = c.received("c1", 2, now=100.2)
    assert step.confirm is None and abs(step.wait - 0.8) < 1e-9
    assert c.received("c1", 4, now=100.3) == Step()  # the timer takes it
    assert c.received("c1", 3, now=100.4) == Step()  # out of order: 4 is the highest
    assert c.due("c1", now=101.0) == 4
    assert c.received("c1", 4, now=101.1) == Step()  # a duplicate frame: confirmed already
    assert c.received("c1", 5, now=102.5) == Step(confirm=5)  # a second since the last one


def test_never_more_than_one_confirmation_a_second_per_chat():
    c = Confirmations()
    now, sent = 0.0, []
    timer_at = None
    for seq in range(1, 201):  # 200 messages over 4 s
        now = seq * 0.02
        if timer_at is not None and now >= timer_at:
            sent.append((timer_at, c.due("c1", timer_at)))
            timer_at = None
        step = c.received("c1", seq, now)
        if step.confirm is not None:
            sent.append((now, step.confirm))
        if step.wait is not None:
            timer_at = now + step.wait
    if timer_at is not None:
        sent.append((timer_at, c.due("c1", timer_at)))
    times = [t for t, _ in sent]
    assert all(later - earlier >= 1.0 - 1e-9 for earlier, later in itertools.pairwise(times))
    assert sent[-1][1] == 200  # the highest is confirmed in the end
    assert len(sent) <= 5


def test_a_failed_confirmation_is_sent_again_with_the_next_message():
    c = Confirmations()
    assert c.received("c1", 1, now=0.0) == Step(confirm=1)
    c.failed("c1", 1)
    assert c.received("c1", 1, now=5.0) == Step(confirm=1)


def test_a_timer_for_a_chat_already_confirmed_or_forgotten_sends_nothing():
    c = Confirmations()
    c.received("c1", 1, now=0.0)
    c.received("c1", 2, now=0.5)
    c.forget("c1")
    assert c.due("c1", now=1.0) is None
    assert c.due("unknown", now=1.0) is None
