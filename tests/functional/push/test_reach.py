"""Reach (PROTOCOL v3, "Reach"): a member with a live connection and a device is pushed unless
they confirm the message within 10 s; one whose every connection answers 410 is offline for the
message at once; never two notifications for one message on one device.

SQS holds a reach job back 10 s (``DelaySeconds``, which moto honours); ``push.pass_delay()``
stands for those 10 s passing."""

from __future__ import annotations

import json

from chalicelib.storage.tables import ConnectionItem
from tests.functional.push.test_push import notifications_for, offline_member_with_devices, register


def live_member_with_devices(push, name="bob"):
    """bob is connected (a phone whose app the system froze: posts to it still succeed) and
    has an iPhone and an Android phone registered."""
    b = push.harness.connect(name)
    register(b, "apns", f"{name}-iphone")
    register(b, "fcm", f"{name}-pixel")
    return b


def setup(push, *others):
    a = push.harness.connect("alice", name="Alice A.")
    b = live_member_with_devices(push)
    chat_id = push.harness.chat(a, "bob", *others)
    b.frames()
    return a, b, chat_id


def test_a_live_member_who_never_confirms_is_pushed_once_per_device_after_the_delay(push):
    a, b, chat_id = setup(push)
    ack = a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="are you there?")
    assert [f["event"] for f in b.frames()] == ["chat:message:background"]  # the post succeeded
    assert push.drain() == 0 and push.sent == []  # held back: bob has 10 s to confirm
    assert push.pass_delay() == 1  # one reach job for the send
    assert push.drain() == 1
    sent = notifications_for(push, "bob")
    assert sorted(d.platform for d, _ in sent) == ["apns", "fcm"]
    assert {(n.seq, n.message_id, n.body) for _, n in sent} == {
        (1, ack["message_id"], "Alice A.: are you there?")
    }
    push.make_visible()  # the job again (SQS delivers at least once): nothing twice
    push.drain()
    assert len(push.sent) == 2


def test_a_member_who_confirms_before_the_job_runs_gets_no_push(push):
    a, b, chat_id = setup(push)
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="one")
    a.send("message.send", chat_id=chat_id, client_msg_id="k2", text="two")
    assert b.send("message.delivered", chat_id=chat_id, seq=2)["event"] == "receipt:ok"
    assert push.pass_delay() == 2
    assert push.drain() == 2
    assert push.sent == []


def test_reading_or_sending_in_the_chat_confirms_too(push):
    a, b, chat_id = setup(push)
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="one")
    b.send("message.read", chat_id=chat_id, seq=1)
    a.send("message.send", chat_id=chat_id, client_msg_id="k2", text="two")
    b.send("message.send", chat_id=chat_id, client_msg_id="b1", text="got both")
    a.send("message.send", chat_id=chat_id, client_msg_id="k3", text="three")  # never confirmed
    push.pass_delay()
    push.drain()
    assert sorted((d.user_id, n.seq) for d, n in push.sent) == [("bob", 4), ("bob", 4)]


def test_a_confirm_below_the_message_does_not_count(push):
    a, b, chat_id = setup(push)
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="one")
    a.send("message.send", chat_id=chat_id, client_msg_id="k2", text="two")
    b.send("message.delivered", chat_id=chat_id, seq=1)
    push.pass_delay()
    push.drain()
    assert sorted(n.seq for _, n in push.sent) == [2, 2]


def test_a_post_answering_410_for_the_only_connection_pushes_at_once_and_only_once(push):
    """The closed-just-before-send case: bob's connection closed a second before the send,
    before its $disconnect ran; it connected moments ago, so the backend keeps its record (the
    reconnect race, see ChatService.forget), and still bob is pushed now, not in 10 s."""
    a, b, chat_id = setup(push)
    push.harness.api.gone.add(b.connection_id)  # closed, $disconnect not run yet
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    assert push.drain() == 1  # the immediate job, no delay
    assert sorted(d.platform for d, _ in notifications_for(push, "bob")) == ["apns", "fcm"]
    assert ConnectionItem.get(b.connection_id).user_id == "bob"  # kept: it had just connected
    push.pass_delay()
    assert push.drain() == 1  # the reach job runs too, and claims nothing twice
    assert len(push.sent) == 2


def test_one_gone_connection_of_two_leaves_the_member_live(push):
    a, b, chat_id = setup(push)
    laptop = push.harness.connect("bob")
    push.harness.api.gone.add(b.connection_id)
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    assert push.drain() == 0  # the laptop got its frame: bob waits for the reach job
    laptop.send("message.delivered", chat_id=chat_id, seq=1)
    push.pass_delay()
    push.drain()
    assert push.sent == []


def test_a_member_removed_before_the_job_runs_is_not_pushed(push):
    a, _b, chat_id = setup(push, "carol")
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    a.send("chat.remove", chat_id=chat_id, members=["bob"])
    push.pass_delay()
    push.drain()
    assert push.sent == []


def test_muted_and_deviceless_live_members_cost_no_job(push, aws_calls):
    a, b, chat_id = setup(push, "carol")
    b.send("chat.mute", chat_id=chat_id, muted=True)
    push.harness.connect("carol")  # live, no device
    mark = aws_calls.mark()
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    assert aws_calls.since(mark, service="sqs") == []
    assert push.pass_delay() == 0


def test_costs_of_a_send_and_of_its_reach_job(push, aws_calls, capsys):
    """The send path: the same DynamoDB requests as without reach, and one SendMessageBatch with
    DelaySeconds 10 for the reach job. The job: one BatchGetItem of the members' blocks of the
    sender, one of the memberships, then per unconfirmed member what a push job costs after its
    block check (devices, badge, one claim per device)."""
    a, _b, chat_id = setup(push, "carol", "dave")
    c = live_member_with_devices(push, "carol")
    push.harness.connect("dave")  # live, no device: no part of the job
    a.send("message.send", chat_id=chat_id, client_msg_id="warm", text="warm up")
    push.pass_delay()
    push.drain()
    push.sent.clear()

    mark = aws_calls.mark()
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="counted")
    calls = aws_calls.since(mark, service=None)
    ops = [op for service, op, _ in calls if service == "dynamodb"]
    assert ops == ["UpdateItem", "GetItem", "TransactWriteItems", "BatchGetItem", "UpdateItem"]
    [(_, op, params)] = [call for call in calls if call[0] == "sqs"]
    assert op == "SendMessageBatch"
    [entry] = params["Entries"]
    assert entry["DelaySeconds"] == 10
    assert json.loads(entry["MessageBody"])["users"] == ["bob", "carol"]

    c.send("message.delivered", chat_id=chat_id, seq=2)
    push.pass_delay()
    mark = aws_calls.mark()
    push.drain()
    worker = [op for _, op, _ in aws_calls.since(mark, service="dynamodb")]
    assert worker[:2] == ["BatchGetItem", "BatchGetItem"]  # their blocks, their memberships
    assert sorted(worker[2:]) == sorted(["Query", "Query", "BatchGetItem", "PutItem", "PutItem"])  # bob
    assert {d.user_id for d, _ in push.sent} == {"bob"}
    with capsys.disabled():
        print(f"\n  reach job: {len(worker)} DynamoDB requests for 2 live members, 1 unconfirmed: {worker}")


def test_offline_members_keep_the_immediate_path(push):
    a = push.harness.connect("alice")
    offline_member_with_devices(push)
    chat_id = push.harness.chat(a, "bob")
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    assert push.pass_delay() == 0  # no reach job: nobody was live
    assert push.drain() == 1 and len(notifications_for(push, "bob")) == 2


def test_a_live_member_added_to_a_group_is_pushed_unless_they_confirm_the_message_that_added_them(push):
    """System messages notify only the users they add, by the same rule: a live added member
    with devices is pushed after the delay unless they confirm; the members already there are not."""
    a = push.harness.connect("alice", name="Alice A.")
    carol = push.harness.connect("carol")
    register(carol, "apns", "carol-iphone")
    chat_id = push.harness.chat(a, "carol", title="team")
    b = live_member_with_devices(push)
    added = a.send("chat.add", chat_id=chat_id, members=["bob"])
    assert added["event"] == "chat:updated"
    (welcome,) = [f for f in b.frames() if f["event"] == "chat:added"]
    assert push.pass_delay() == 1  # one reach job: bob's, not carol's
    assert push.drain() == 1
    assert sorted((d.user_id, d.platform, n.seq) for d, n in push.sent) == [
        ("bob", "apns", welcome["chat"]["last_seq"]),
        ("bob", "fcm", welcome["chat"]["last_seq"]),
    ]


def test_a_live_added_member_who_confirms_the_message_that_added_them_gets_no_push(push):
    a = push.harness.connect("alice", name="Alice A.")
    chat_id = push.harness.chat(a, "carol", title="team")
    b = live_member_with_devices(push)
    a.send("chat.add", chat_id=chat_id, members=["bob"])
    (welcome,) = [f for f in b.frames() if f["event"] == "chat:added"]
    seq = welcome["chat"]["last_seq"]
    assert b.send("message.delivered", chat_id=chat_id, seq=seq)["event"] == "receipt:ok"
    assert push.pass_delay() == 1
    assert push.drain() == 1
    assert push.sent == []
