"""Posts the management API refused are tried again; a post that may have arrived is not: one
frame per connection per message, whatever the API answers."""

from __future__ import annotations

from collections import Counter


def _chat_of_four(harness):
    alice = harness.connect("alice")
    others = {user: harness.connect(user) for user in ("bob", "carol", "dave")}
    chat_id = harness.chat(alice, *others)
    for client in others.values():
        client.frames()
    return alice, others, chat_id


def test_refused_posts_are_retried_and_a_timed_out_post_is_not(harness, api):
    alice, others, chat_id = _chat_of_four(harness)
    bob, carol, dave = others["bob"], others["carol"], others["dave"]
    api.script[bob.connection_id] = [429, 500]  # refused twice, then delivered
    api.script[carol.connection_id] = ["timeout"]  # delivered, but the answer never came
    api.script[dave.connection_id] = [500, 503, 502, 500]  # refused more often than we try
    before = Counter(api.posts)

    ack = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")

    attempts = Counter(api.posts) - before
    print(
        f"\n  attempts per connection: bob {attempts[bob.connection_id]}, "
        f"carol {attempts[carol.connection_id]}, dave {attempts[dave.connection_id]}"
    )
    assert attempts[bob.connection_id] == 3 and [f["message"]["seq"] for f in bob.frames()] == [ack["seq"]]
    assert attempts[carol.connection_id] == 1 and len(carol.frames()) == 1
    assert attempts[dave.connection_id] == 3 and dave.frames() == []
    assert api.script[dave.connection_id] == [500]  # the fourth answer was never asked for
    api.script[dave.connection_id] = []
    # dave's client finds it in storage on its next resync
    history = dave.send("chat.history", chat_id=chat_id, after=0)["messages"]
    assert [m["text"] for m in history] == ["hello"]


def test_one_frame_per_connection_per_message_under_refusals_and_timeouts(harness, api):
    alice, others, chat_id = _chat_of_four(harness)
    recipients = [c.connection_id for c in others.values()]
    # every recipient's posts go: refused, delivered, timed out (delivered), refused, delivered...
    for cid in recipients:
        api.script[cid] = [429, None, "timeout", 500, None, 503, "timeout"]
    acks = [
        alice.send("message.send", chat_id=chat_id, client_msg_id=f"k{i}", text=f"m{i}") for i in range(5)
    ]

    for client in others.values():
        seqs = Counter(f["message"]["seq"] for f in client.frames())
        assert sorted(seqs) == [ack["seq"] for ack in acks]
        assert set(seqs.values()) == {1}  # never two frames for one message
