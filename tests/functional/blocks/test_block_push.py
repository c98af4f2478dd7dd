"""A member gets no push for messages from a user they block (PROTOCOL v3, "Blocking and
reporting"; "Reach"): decided in the push worker with one BatchGetItem per job, so the send path
costs what it did. The group's messages still reach the blocker's connections."""

from __future__ import annotations

from tests.functional.push.test_push import notifications_for, offline_member_with_devices, register


def test_no_push_from_a_blocked_sender_while_others_are_notified(push):
    a = push.harness.connect("alice")
    b = offline_member_with_devices(push, "bob")
    offline_member_with_devices(push, "carol")
    chat_id = push.harness.chat(a, "bob", "carol", title="G")
    bob = push.harness.connect("bob")
    bob.send("user.block", user_id="alice")
    bob.disconnect()
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")
    assert push.drain() == 2  # a job each: bob's is dropped by the worker
    assert notifications_for(push, "bob") == [] and len(notifications_for(push, "carol")) == 2
    assert b.user_id == "bob"
    # unblocked, bob is notified again
    bob = push.harness.connect("bob")
    bob.send("user.unblock", user_id="alice")
    bob.disconnect()
    a.send("message.send", chat_id=chat_id, client_msg_id="k2", text="again")
    push.drain()
    assert [n.seq for _, n in notifications_for(push, "bob")] == [2, 2]


def test_a_live_blocker_gets_the_frame_and_no_reach_push(push):
    a = push.harness.connect("alice")
    b = push.harness.connect("bob")
    register(b, "apns", "bob-iphone")
    c = push.harness.connect("carol")
    register(c, "apns", "carol-iphone")
    chat_id = push.harness.chat(a, "bob", "carol", title="G")
    b.send("user.block", user_id="alice")
    b.frames(), c.frames()
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")
    assert [f["event"] for f in b.frames()] == ["chat:message:background"]  # it still reaches bob
    assert push.pass_delay() == 1 and push.drain() == 1  # the reach job of bob and carol
    assert notifications_for(push, "bob") == [] and len(notifications_for(push, "carol")) == 1


def test_a_reach_job_whose_members_all_block_the_sender_sends_nothing(push, aws_calls):
    a = push.harness.connect("alice")
    b = push.harness.connect("bob")
    register(b, "apns", "bob-iphone")
    chat_id = push.harness.chat(a, "bob", title="G")
    b.send("user.block", user_id="alice")
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")
    push.pass_delay()
    mark = aws_calls.mark()
    assert push.drain() == 1
    # bob's membership (he has not confirmed), then whether he blocks alice; nothing else (the
    # blocks are read after the memberships so that a job whose members all confirmed, the
    # common case, costs one BatchGetItem: tests/functional/costs/test_reach_floors.py)
    assert aws_calls.operations_since(mark) == ["BatchGetItem", "BatchGetItem"]
    assert push.sent == []
