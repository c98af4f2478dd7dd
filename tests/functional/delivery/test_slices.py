"""A send to a chat of more than 50 members reads no roster and no presence: it queues one slice
per roster page, and the fan-out worker delivers each page as a small chat's send would. Each
connection gets exactly one frame, also when SQS delivers a slice twice or a retry of a send
that died queues the slices again; the page is read when the slice runs, so a member removed
or added since gets nothing live; offline members get their push from the slice."""

from __future__ import annotations

import json

import pytest

import app as chalice_app
from chalicelib import runtime
from chalicelib.domain.records import message_from_wire
from chalicelib.domain.slices import Slice, is_slice
from chalicelib.storage.dynamo import DynamoStore
from chalicelib.storage.tables import MessageItem
from tests.functional.messages.test_send_crashes import LambdaKilled, kill_after_storing

MEMBERS = 60  # above INLINE_MEMBERS: the chat item keeps the roster's page numbers, not members


def large_chat(harness, members: int = MEMBERS, unconnected: tuple[str, ...] = ()):
    alice = harness.connect("alice")
    others = [f"m{i:03d}" for i in range(members - 1)]
    clients = {user: harness.connect(user) for user in others if user not in unconnected}
    reply = alice.send("chat.create", members=others, title="Large")
    assert reply["event"] == "chat:created", reply
    harness.drain_fanout()
    for client in clients.values():
        client.frames()
    return alice, clients, reply["chat"]["chat_id"]


def queued(harness) -> dict:
    """What waits on the fan-out queue, as one SQS event (left in the queue)."""
    messages = harness.sqs.receive_message(
        QueueUrl=harness.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
    )["Messages"]
    return {"Records": [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]}


def seqs(client) -> list[int]:
    return [f["message"]["seq"] for f in client.frames() if f["event"].startswith("chat:message")]


def test_each_member_gets_one_frame_and_the_send_reads_no_roster(sharded, aws_calls):
    alice, clients, chat_id = large_chat(sharded)
    mark = aws_calls.mark()
    ack = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello all")
    send = aws_calls.operations_since(mark)
    assert ack["event"] == "message:ack" and ack["seq"] == 1
    assert send == ["UpdateItem", "GetItem", "TransactWriteItems", "UpdateItem"]
    assert sharded.drain_fanout() == 1  # 60 members: one page
    assert {user: seqs(c) for user, c in clients.items()} == {user: [1] for user in clients}
    assert alice.frames() == []  # the sender's connection has its ack, not the message


def test_a_slice_delivered_twice_is_posted_once(sharded, aws_calls):
    alice, clients, chat_id = large_chat(sharded)
    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="once")
    event = queued(sharded)
    [record] = event["Records"]
    assert is_slice(record["body"])

    mark = aws_calls.mark()
    assert chalice_app.fanout(event, None) == {"batchItemFailures": []}
    first = aws_calls.operations_since(mark)
    mark = aws_calls.mark()
    assert chalice_app.fanout(event, None) == {"batchItemFailures": []}
    again = aws_calls.operations_since(mark)

    assert first == ["PutItem", "GetItem", "BatchGetItem"]  # the claim, the page, its presence
    assert again == ["PutItem"]  # the claim, refused
    assert {user: seqs(c) for user, c in clients.items()} == {user: [1] for user in clients}


def test_the_page_is_read_when_the_slice_runs(sharded):
    alice, clients, chat_id = large_chat(sharded)
    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="queued")
    event = queued(sharded)  # the slice waits; meanwhile one member leaves and one is added
    sharded.sqs.purge_queue(QueueUrl=sharded.queue_url)  # (the test runs it below)
    assert clients["m000"].send("chat.leave", chat_id=chat_id)["event"] == "chat:left"
    newcomer = sharded.connect("newcomer")
    assert alice.send("chat.add", chat_id=chat_id, members=["newcomer"])["event"] == "chat:updated"
    sharded.drain_fanout()
    for client in (*clients.values(), newcomer):
        client.frames()

    assert chalice_app.fanout(event, None) == {"batchItemFailures": []}

    assert seqs(clients["m000"]) == []  # removed before the slice ran
    assert seqs(newcomer) == []  # added after the message: finds it in history, not live
    assert all(seqs(c) == [1] for user, c in clients.items() if user != "m000")


def test_a_send_killed_after_storing_is_sliced_by_its_retry_once(sharded, monkeypatch):
    alice, clients, chat_id = large_chat(sharded)
    kill_after_storing(monkeypatch)
    with pytest.raises(LambdaKilled):
        alice.raw({"action": "message.send", "chat_id": chat_id, "client_msg_id": "k1", "text": "x"})
    assert sharded.drain_fanout() == 0  # stored, nothing queued
    runtime.service().actions.messages.late_fanout_grace_seconds = 0.0

    retry = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="x")

    assert retry["duplicate"] is True and retry["seq"] == 1
    assert sharded.drain_fanout() == 1
    assert {user: seqs(c) for user, c in clients.items()} == {user: [1] for user in clients}
    assert MessageItem.count(chat_id) == 1


def test_slices_queued_twice_by_a_send_and_its_retry_post_once(sharded, monkeypatch):
    """The first send queued its slices and died before marking its fan-out: the retry queues the
    same slices (the same ids), and the second of each is claimed already."""
    alice, clients, chat_id = large_chat(sharded)
    actions = runtime.service().actions.messages
    real_mark = DynamoStore.mark_fanned_out
    monkeypatch.setattr(DynamoStore, "mark_fanned_out", lambda self, message: None)  # never marked
    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="twice queued")
    monkeypatch.setattr(DynamoStore, "mark_fanned_out", real_mark)
    actions.late_fanout_grace_seconds = 0.0

    retry = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="twice queued")

    assert retry["duplicate"] is True
    bodies = [r["body"] for r in queued(sharded)["Records"]]
    assert len(bodies) == 2 and len({Slice.from_json(b).slice_id for b in bodies}) == 1
    assert sharded.drain_fanout() == 2
    assert {user: seqs(c) for user, c in clients.items()} == {user: [1] for user in clients}


def test_a_non_member_cannot_send_to_a_large_chat(sharded):
    _alice, _clients, chat_id = large_chat(sharded)
    stranger = sharded.connect("stranger")
    reply = stranger.send("message.send", chat_id=chat_id, client_msg_id="k1", text="let me in")
    assert reply["event"] == "error" and reply["code"] == "forbidden", reply
    assert MessageItem.count(chat_id) == 0 and sharded.drain_fanout() == 0


def test_a_member_who_left_cannot_send_to_a_large_chat(sharded):
    _alice, clients, chat_id = large_chat(sharded)
    leaver = clients["m001"]
    assert leaver.send("chat.leave", chat_id=chat_id)["event"] == "chat:left"
    sharded.drain_fanout()
    reply = leaver.send("message.send", chat_id=chat_id, client_msg_id="k9", text="still here?")
    assert reply["event"] == "error" and reply["code"] == "forbidden", reply


def test_mentions_in_a_large_chat_keep_members_only(sharded):
    alice, clients, chat_id = large_chat(sharded)
    sharded.connect("outsider")
    ack = alice.send(
        "message.send",
        chat_id=chat_id,
        client_msg_id="k1",
        text="@m003 @outsider @alice",
        mentions=["m003", "outsider", "alice"],
    )
    assert ack["event"] == "message:ack", ack
    sharded.drain_fanout()
    [frame] = clients["m003"].frames()
    assert frame["message"]["mentions"] == ["m003"]  # not the sender, not a non-member


def test_a_reply_in_a_large_chat_by_a_member_added_later_is_checked(sharded):
    alice, _clients, chat_id = large_chat(sharded)
    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="before you came")
    late = sharded.connect("late")
    assert alice.send("chat.add", chat_id=chat_id, members=["late"])["event"] == "chat:updated"
    sharded.drain_fanout()
    reply = late.send("message.send", chat_id=chat_id, client_msg_id="k2", text="re", reply_to=1)
    assert reply["event"] == "error" and reply["code"] == "bad_request", reply


def test_a_malformed_slice_is_dropped_and_a_message_round_trips_its_wire_form(sharded):
    bad = {"Records": [{"messageId": "m1", "body": json.dumps({"v": 1, "kind": "slice", "page": -1})}]}
    assert chalice_app.fanout(bad, None) == {"batchItemFailures": []}  # dropped: retrying cannot help
    alice, _clients, chat_id = large_chat(sharded)
    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="wire", mentions=["m002"])
    [record] = queued(sharded)["Records"]
    job = Slice.from_json(record["body"])
    assert message_from_wire(job.message).to_wire() == job.message
    with pytest.raises(ValueError):
        Slice.from_json(record["body"].replace(f'"chat_id":"{chat_id}"', '"chat_id":"other"', 1))


@pytest.fixture
def pushing(push):
    """Push configured as deployed (``push``), and a fan-out queue: large chats are sliced."""
    from chalicelib.queues import SqsQueue
    from chalicelib.testing import Harness
    from tests.functional.conftest import fresh_queue_numbers

    sqs = push.harness.sqs
    name = f"test-fanout-{next(fresh_queue_numbers)}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    service = runtime.service()
    service.fanout.queue = SqsQueue(sqs, name)
    service.actions.messages.slice_queue = service.fanout.queue
    push.harness = Harness(
        chalice_app, push.harness.api, sqs=sqs, queue_url=url, push_queue_url=push.harness.push_queue_url
    )
    return push


def test_a_slice_pushes_to_its_offline_members_and_to_those_whose_connections_are_gone(pushing, api):
    harness = pushing.harness
    offline = harness.connect("m000")
    assert (
        offline.send("device.register", platform="apns", token="m000-iphone")["event"] == "device:registered"
    )
    offline.disconnect()
    gone = harness.connect("m001")
    assert gone.send("device.register", platform="apns", token="m001-iphone")["event"] == "device:registered"
    alice, clients, chat_id = large_chat(harness, unconnected=("m000", "m001"))
    api.gone.add(gone.connection_id)  # closed without a $disconnect yet: its post answers 410
    pushing.sent.clear()

    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="are you there?")
    assert harness.drain_fanout() == 1
    pushing.drain()

    pushed = sorted(device.user_id for device, _ in pushing.sent)
    assert pushed == ["m000", "m001"]  # one device each, from the slice (the send read no presence)
    assert all(seqs(c) == [1] for c in clients.values())


def test_a_reply_to_a_mentions_only_member_pushes_them_from_the_slice(pushing):
    harness = pushing.harness
    bob = harness.connect("m000")
    assert bob.send("device.register", platform="apns", token="m000-iphone")["event"] == "device:registered"
    alice, _clients, chat_id = large_chat(harness, unconnected=("m000",))
    assert bob.send("chat.notify", chat_id=chat_id, level="mentions")["event"] == "chat:notify"
    asked = bob.send("message.send", chat_id=chat_id, client_msg_id="q", text="anyone?")
    harness.drain_fanout()
    bob.disconnect()
    pushing.drain()
    pushing.sent.clear()

    alice.send("message.send", chat_id=chat_id, client_msg_id="r", text="not now")  # no push
    alice.send("message.send", chat_id=chat_id, client_msg_id="a", text="me!", reply_to=asked["seq"])
    assert harness.drain_fanout() == 2
    pushing.drain()

    [(device, notification)] = pushing.sent
    assert device.user_id == "m000" and "me!" in json.dumps(notification.__dict__, default=str)


def test_a_connection_gone_for_a_while_is_forgotten_by_the_slice_that_found_it(sharded, api, monkeypatch):
    from chalicelib import service as service_module
    from chalicelib.storage.tables import ConnectionItem

    monkeypatch.setattr(service_module, "JUST_CONNECTED_SECONDS", -60)  # all connected long ago
    alice, clients, chat_id = large_chat(sharded)
    lost = clients["m004"]
    api.gone.add(lost.connection_id)
    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")
    assert sharded.drain_fanout() == 1
    assert ConnectionItem.count(lost.connection_id) == 0  # forgotten: never posted to again
    assert all(seqs(c) == [1] for user, c in clients.items() if user != "m004")


def test_a_file_sent_to_a_large_chat_reaches_members_with_a_link_that_downloads_it(sharded):
    import requests

    alice, clients, chat_id = large_chat(sharded)
    data = b"%PDF-1.4 minutes of the meeting"
    created = alice.send(
        "attachment.create",
        chat_id=chat_id,
        name="minutes.pdf",
        content_type="application/pdf",
        size=len(data),
    )
    fields = created["upload"]["fields"]
    answer = requests.post(created["upload"]["url"], data=fields, files={"file": ("f", data)}, timeout=10)
    assert int(answer.status_code) == 204
    ack = alice.send(
        "message.send",
        chat_id=chat_id,
        client_msg_id="k1",
        attachments=[created["attachment"]["attachment_id"]],
    )
    assert ack["event"] == "message:ack", ack
    sharded.drain_fanout()
    [frame] = clients["m010"].frames()
    [attachment] = frame["message"]["attachments"]
    assert attachment["name"] == "minutes.pdf"
    downloaded = requests.get(attachment["url"], timeout=10)
    assert downloaded.status_code == 200 and downloaded.content == data
