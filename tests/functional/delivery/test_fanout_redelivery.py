"""SQS delivers a fan-out shard at least once: a shard delivered again posts nothing again, and a
member removed before a shard runs (first time or again) gets nothing from it. Each shard costs
3 DynamoDB requests (claim, connections, memberships), a redelivery 1."""

from __future__ import annotations

import dataclasses

import boto3
import pytest

import app as chalice_app
from chalicelib import runtime
from chalicelib.config import Settings
from chalicelib.queues import SqsQueue
from chalicelib.testing import Harness
from chatlocal.aws.faults import FaultInjector, Planned
from tests.functional.conftest import fresh_queue_numbers

MEMBERS = ("bob", "carol", "dan")


@pytest.fixture
def queued(tables, api):
    """Every fan-out through the queue (threshold 0), all of a send's connections in one shard."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    name = f"test-fanout-{next(fresh_queue_numbers)}"  # the IAM policy test maps it to the stage queue
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    settings = dataclasses.replace(
        Settings.from_env(), fanout_concurrency=4, fanout_threshold=0, fanout_shard_size=50
    )
    runtime.use_service(runtime.build_service(settings, api.client_for, fanout_queue=SqsQueue(sqs, name)))
    yield Harness(chalice_app, api, sqs=sqs, queue_url=url)
    runtime.use_service(None)


def group(harness):
    alice = harness.connect("alice")
    clients = {user: harness.connect(user) for user in MEMBERS}
    chat_id = harness.chat(alice, *MEMBERS)
    harness.drain_fanout()
    for client in clients.values():
        client.frames()
    return alice, clients, chat_id


def received(harness) -> dict:
    """The queued shards as one SQS event, as Lambda's event source hands them over (left in
    the queue: the test redelivers the event itself)."""
    messages = harness.sqs.receive_message(QueueUrl=harness.queue_url, MaxNumberOfMessages=10)["Messages"]
    return {"Records": [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]}


def seqs(client):
    return [f["message"]["seq"] for f in client.frames() if f["event"].startswith("chat:message")]


def test_a_shard_delivered_twice_is_posted_once_and_the_redelivery_costs_one_request(
    queued, aws_calls, capsys
):
    alice, clients, chat_id = group(queued)
    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="once")
    event = received(queued)
    assert len(event["Records"]) == 1

    mark = aws_calls.mark()
    assert chalice_app.fanout(event, None) == {"batchItemFailures": []}
    first = aws_calls.operations_since(mark)
    mark = aws_calls.mark()
    assert chalice_app.fanout(event, None) == {"batchItemFailures": []}  # SQS delivers it again
    again = aws_calls.operations_since(mark)

    assert {user: seqs(c) for user, c in clients.items()} == {user: [1] for user in MEMBERS}
    assert first == ["PutItem", "BatchGetItem", "BatchGetItem"]  # claim, connections, memberships
    assert again == ["PutItem"]  # the claim, refused: nothing read, nothing posted
    with capsys.disabled():
        print(f"\n  a shard of {len(MEMBERS)} connections: {first}; delivered again: {again}")


def test_a_member_removed_before_the_redelivery_gets_nothing_from_it(queued):
    alice, clients, chat_id = group(queued)
    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="before")
    event = received(queued)
    assert chalice_app.fanout(event, None) == {"batchItemFailures": []}
    assert {user: seqs(c) for user, c in clients.items()} == {user: [1] for user in MEMBERS}

    reply = alice.send("chat.remove", chat_id=chat_id, members=["carol"])
    assert reply["event"] == "chat:updated", reply
    queued.drain_fanout()
    assert [f["event"] for f in clients["carol"].frames()] == ["chat:removed"]

    assert chalice_app.fanout(event, None) == {"batchItemFailures": []}  # the Lambda crashed after posting
    assert clients["carol"].frames() == []


def test_a_shard_whose_first_delivery_failed_skips_the_member_removed_meanwhile(queued):
    alice, clients, chat_id = group(queued)
    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="late")
    event = received(queued)
    # The first delivery cannot read the memberships: the record fails, its claim is released.
    with FaultInjector(plan=[Planned("server_error", "BatchGetItem", call=2, times=20)]) as faults:
        assert chalice_app.fanout(event, None) == {
            "batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]
        }
    assert faults.fired["server_error"] >= 2
    assert all(seqs(c) == [] for c in clients.values())

    alice.send("chat.remove", chat_id=chat_id, members=["carol"])
    queued.drain_fanout()
    assert {user: seqs(c) for user, c in clients.items()} == {"bob": [2], "carol": [], "dan": [2]}

    assert chalice_app.fanout(event, None) == {"batchItemFailures": []}  # SQS's redelivery
    assert {user: seqs(c) for user, c in clients.items()} == {"bob": [1], "carol": [], "dan": [1]}


def test_a_shard_that_runs_after_a_removal_skips_the_removed_member(queued):
    alice, clients, chat_id = group(queued)
    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="queued")
    event = received(queued)  # the message's shard, waiting in the queue (not yet run)
    bob_leaves = clients["bob"].send("chat.leave", chat_id=chat_id)
    assert bob_leaves["event"] == "chat:left", bob_leaves
    assert chalice_app.fanout(event, None) == {"batchItemFailures": []}
    assert {user: seqs(c) for user, c in clients.items()} == {"bob": [], "carol": [1], "dan": [1]}


def test_a_connection_gone_before_its_shard_runs_is_not_posted_to(queued, api):
    alice, clients, chat_id = group(queued)
    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="after you left")
    event = received(queued)
    clients["dan"].disconnect()
    api.posts.clear()
    assert chalice_app.fanout(event, None) == {"batchItemFailures": []}
    assert sorted(api.posts) == sorted(clients[user].connection_id for user in ("bob", "carol"))
