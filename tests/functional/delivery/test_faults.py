"""One deterministic test per injected fault kind (chatlocal.aws.faults): the AWS calls of the real
handlers fail on a planned call, through botocore's own parsing and retries, and the guarantees
of docs/reliability.md hold.

The management API is the harness's fake behind a real botocore client (a ``before-send`` hook
hands each attempt to the fake), so injected 429/500/410/timeouts go through botocore as they
would on AWS."""

from __future__ import annotations

import dataclasses
import json
import time
from urllib.parse import unquote, urlparse

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

import app as chalice_app
from chalicelib import runtime
from chalicelib.config import Settings
from chalicelib.delivery.posting import boto3_client_factory
from chalicelib.queues import SqsQueue
from chalicelib.service import JUST_CONNECTED_SECONDS, ChatService
from chalicelib.storage.tables import ConnectionItem, MessageItem, SendKeyItem
from chalicelib.testing import FakeManagementApi, Harness
from chatlocal.aws.faults import Crash, FaultInjector, Planned, from_spec
from tests.functional.conftest import fresh_queue_numbers
from tests.functional.snapshot import table_snapshot

# -- the world ---------------------------------------------------------------------------------


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **kwargs):
        yield self._data


def through_botocore(api: FakeManagementApi):
    """Management clients as the app makes them (boto3, its retry settings), whose attempts
    reach ``api`` instead of the network."""
    real = boto3_client_factory("us-east-1", 8)

    def forward(request, **kwargs):
        connection_id = unquote(urlparse(request.url).path.rsplit("/", 1)[-1])
        try:
            api.post_to_connection(ConnectionId=connection_id, Data=request.body)
        except ClientError as exc:
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            code = exc.response["Error"]["Code"]
            headers = {"x-amzn-ErrorType": code, "Content-Type": "application/json"}
            return AWSResponse(request.url, status, headers, _Raw(b'{"message": "refused"}'))
        return AWSResponse(request.url, 200, {}, _Raw(b""))

    def client_for(endpoint: str):
        client = real(endpoint)
        client.meta.events.register_first(
            "before-send.apigatewaymanagementapi.PostToConnection", forward, unique_id="fake-api"
        )
        return client

    return client_for


def service(api, queue=None, threshold=100, shard_size=50) -> ChatService:
    settings = dataclasses.replace(
        Settings.from_env(),
        push_allow_local_http=True,
        fanout_concurrency=8,
        fanout_threshold=threshold,
        fanout_shard_size=shard_size,
    )
    return runtime.build_service(settings, through_botocore(api), fanout_queue=queue)


@pytest.fixture
def world(tables, api):
    runtime.use_service(service(api))
    yield Harness(chalice_app, api)
    runtime.use_service(None)


@pytest.fixture
def queued(tables, api):
    """Fan-out through an SQS queue for every audience (threshold 0, a connection per shard)."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    name = f"test-fanout-{next(fresh_queue_numbers)}"  # the IAM policy test maps it to the stage queue
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    runtime.use_service(service(api, SqsQueue(sqs, name), threshold=0, shard_size=1))
    yield Harness(chalice_app, api, sqs=sqs, queue_url=url)
    runtime.use_service(None)


def alice_and_bob(world):
    a, b = world.connect("alice"), world.connect("bob")
    chat_id = world.chat(a, "bob")
    if world.queue_url:
        world.drain_fanout()  # bob's chat:added
    b.frames()
    return a, b, chat_id


def send(client, chat_id, key="k1", text="hello"):
    return client.send("message.send", chat_id=chat_id, client_msg_id=key, text=text)


def stored(chat_id):
    return [(m.seq, m.client_msg_id) for m in MessageItem.query(chat_id)]


def chat_tables():
    """What a send writes: chats, messages, send keys, memberships."""
    snapshot = table_snapshot()
    return {name: items for name, items in snapshot.items() if not name.endswith(("connections", "presence"))}


def message_frames(client):
    return [f["message"]["seq"] for f in client.frames() if f["event"].startswith("chat:message")]


# -- the injector itself -----------------------------------------------------------------------


def test_the_spec_parses_and_refuses_bad_values(tmp_path):
    injector = from_spec(f"seed=7, rate=0.05, kinds=throttle,timeout_after, report={tmp_path}/r.json")
    assert injector is not None
    assert (injector.seed, injector.rate, tuple(injector.kinds)) == (7, 0.05, ("throttle", "timeout_after"))
    assert from_spec("") is None
    for bad in ("rate=2", "kinds=nonsense", "seed=x", "colour=red", "rate"):
        with pytest.raises(ValueError, match="CHAT_FAULTS"):
            from_spec(bad)


def test_a_seed_decides_the_same_faults_for_the_same_calls():
    calls = [("dynamodb", "GetItem"), ("dynamodb", "TransactWriteItems"), ("sqs", "SendMessageBatch")] * 50

    def decisions(seed: int) -> list:
        injector = FaultInjector(seed=seed, rate=0.2)
        return [getattr(injector.choose(*call), "name", None) for call in calls]

    first = decisions(7)
    assert first == decisions(7) != decisions(8)
    fired = [kind for kind in first if kind]
    assert 0 < len(fired) < len(calls)
    assert "crash" not in fired  # outside an invocation
    assert "conflict" not in [
        k for k, (_, op) in zip(first, calls, strict=True) if op != "TransactWriteItems"
    ]


def test_it_counts_what_fired_by_kind(world):
    a, _b, chat_id = alice_and_bob(world)
    with FaultInjector(seed=3, rate=0.3, kinds=["throttle", "throughput", "timeout_before"]) as faults:
        for i in range(10):
            send(a, chat_id, key=f"k{i}")
    assert set(faults.fired) <= {"throttle", "throughput", "timeout_before"}
    assert 0 < sum(faults.fired.values()) < sum(faults.calls.values())
    seqs = [seq for seq, _ in stored(chat_id)]
    assert seqs == list(range(1, len(seqs) + 1))  # gapless, whatever failed


def test_uninstalled_it_changes_nothing(world):
    a, _b, chat_id = alice_and_bob(world)
    with FaultInjector(plan=[Planned("throttle", "TransactWriteItems", times=100)]):
        pass
    assert send(a, chat_id)["seq"] == 1


# -- DynamoDB ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["throughput", "throttle", "server_error", "timeout_before"])
def test_a_send_retried_by_botocore_is_stored_and_delivered_once(world, kind):
    a, b, chat_id = alice_and_bob(world)
    with FaultInjector(plan=[Planned(kind, "TransactWriteItems", times=2)]) as faults:
        ack = send(a, chat_id)
    assert faults.fired == {kind: 2}
    assert ack["event"] == "message:ack" and ack["seq"] == 1 and ack["duplicate"] is False
    assert stored(chat_id) == [(1, "k1")]
    assert message_frames(b) == [1]


def test_exhausted_retries_answer_unavailable_and_store_nothing(world):
    a, b, chat_id = alice_and_bob(world)
    before = chat_tables()
    with FaultInjector(plan=[Planned("throttle", "TransactWriteItems", times=100)]) as faults:
        reply = send(a, chat_id)
    assert reply["event"] == "error" and reply["code"] == "unavailable"
    assert faults.fired["throttle"] == 4  # PynamoDB's 1 + 3 retries
    assert chat_tables() == before and message_frames(b) == []
    # The client's retry after the storm stores it, once, as the first message.
    assert send(a, chat_id)["seq"] == 1
    assert stored(chat_id) == [(1, "k1")] and message_frames(b) == [1]


def test_a_transaction_conflict_is_retried_by_the_send(world):
    a, b, chat_id = alice_and_bob(world)
    with FaultInjector(plan=[Planned("conflict", "TransactWriteItems")]) as faults:
        ack = send(a, chat_id)
    assert faults.fired == {"conflict": 1} and faults.calls["TransactWriteItems"] == 2
    assert ack["seq"] == 1 and ack["duplicate"] is False
    assert stored(chat_id) == [(1, "k1")] and message_frames(b) == [1]


def test_a_send_whose_write_applied_before_the_timeout_is_stored_and_delivered_once(world):
    """The dangerous case: the transaction committed, its answer was lost, botocore sent it
    again with the same ClientRequestToken."""
    a, b, chat_id = alice_and_bob(world)
    with FaultInjector(plan=[Planned("timeout_after", "TransactWriteItems")]) as faults:
        ack = send(a, chat_id)
    assert faults.fired == {"timeout_after": 1}
    assert ack["event"] == "message:ack" and ack["seq"] == 1
    assert stored(chat_id) == [(1, "k1")]
    assert message_frames(b) == [1]
    retry = send(a, chat_id)  # and the client's own retry changes nothing
    assert (retry["seq"], retry["duplicate"]) == (1, True)
    assert stored(chat_id) == [(1, "k1")] and message_frames(b) == []


def test_a_crash_between_store_and_fan_out_is_delivered_live_on_the_clients_retry(world):
    a, b, chat_id = alice_and_bob(world)
    with FaultInjector(plan=[Planned("crash", "BatchGetItem")]) as faults:  # the recipients' lookup
        with pytest.raises(Crash):
            send(a, chat_id)
    assert faults.fired == {"crash": 1}
    assert stored(chat_id) == [(1, "k1")] and message_frames(b) == []
    retry = send(a, chat_id)
    assert (retry["seq"], retry["duplicate"]) == (1, True)
    assert message_frames(b) == [1]  # live, not only at bob's next resync
    assert send(a, chat_id)["duplicate"] is True and message_frames(b) == []  # and only once


# -- the management API ------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "times"), [("post_429", 1), ("post_500", 2), ("post_timeout", 2)])
def test_a_post_that_fails_briefly_is_retried_and_arrives_once(world, kind, times):
    a, b, chat_id = alice_and_bob(world)
    # The first post is alice's ack; bob's frame is the second.
    with FaultInjector(plan=[Planned(kind, "PostToConnection", call=2, times=times)]) as faults:
        ack = send(a, chat_id)
    assert faults.fired == {kind: times}
    assert ack["seq"] == 1 and message_frames(b) == [1]
    assert ConnectionItem.count(b.connection_id) == 1  # not mistaken for gone


def test_a_post_that_timed_out_after_arriving_is_not_sent_twice(world):
    a, b, chat_id = alice_and_bob(world)
    with FaultInjector(plan=[Planned("post_timeout_after", "PostToConnection", call=2)]) as faults:
        ack = send(a, chat_id)
    assert faults.fired == {"post_timeout_after": 1} and ack["seq"] == 1
    assert message_frames(b) == [1]  # it arrived; no second frame
    assert ConnectionItem.count(b.connection_id) == 1


def test_a_post_answered_410_forgets_the_connection(world, api):
    a, b, chat_id = alice_and_bob(world)
    b.age()
    with FaultInjector(plan=[Planned("post_gone", "PostToConnection", call=2)]) as faults:
        ack = send(a, chat_id)
    assert faults.fired == {"post_gone": 1} and ack["seq"] == 1
    assert ConnectionItem.count(b.connection_id) == 0
    other = world.connect("bob")
    posts = len(api.posts)
    send(a, chat_id, key="k2")
    assert b.connection_id not in api.posts[posts:]  # never posted to again
    assert message_frames(other) == [2]


def test_a_410_in_a_connections_first_seconds_keeps_it_and_a_later_one_forgets_it(world, api):
    """API Gateway answers 410 to a post that arrives after $connect stored the connection but
    before the handshake finished: forgetting it then would leave a live connection that every
    action refuses as unregistered (seen in CI: a reconnecting client's resync refused)."""
    a, b, chat_id = alice_and_bob(world)
    with FaultInjector(plan=[Planned("post_gone", "PostToConnection", call=2)]) as faults:
        send(a, chat_id)
    assert faults.fired == {"post_gone": 1}
    assert ConnectionItem.count(b.connection_id) == 1
    assert b.send("ping")["event"] == "pong"  # still registered
    send(a, chat_id, key="k2")
    assert message_frames(b) == [2]

    b.age(JUST_CONNECTED_SECONDS + 1)
    with FaultInjector(plan=[Planned("post_gone", "PostToConnection", call=2)]) as faults:
        send(a, chat_id, key="k3")
    assert faults.fired == {"post_gone": 1}
    assert ConnectionItem.count(b.connection_id) == 0


# -- queues and push ---------------------------------------------------------------------------


def test_a_fan_out_queue_that_refuses_is_posted_inline_once(queued):
    a, b, chat_id = alice_and_bob(queued)
    plan = [Planned("sqs_error", "SendMessageBatch", times=100)]
    with FaultInjector(plan=plan) as faults:
        send(a, chat_id)
    assert faults.fired["sqs_error"] >= 2  # every attempt botocore made
    assert message_frames(b) == [1]
    assert queued.drain_fanout() == 0 and message_frames(b) == []


def test_a_fan_out_queue_that_fails_once_is_retried_by_botocore(queued):
    a, b, chat_id = alice_and_bob(queued)
    with FaultInjector(plan=[Planned("sqs_error", "SendMessageBatch")]) as faults:
        send(a, chat_id)
    assert faults.fired == {"sqs_error": 1}
    assert queued.drain_fanout() == 1 and message_frames(b) == [1]


def offline_bob_with_an_iphone(push):
    a = push.harness.connect("alice")
    b = push.harness.connect("bob")
    b.send("device.register", platform="apns", token="bob-iphone")
    b.disconnect()
    return a, push.harness.chat(a, "bob")


def test_a_push_queue_that_fails_once_is_retried_and_notifies_once(push):
    a, chat_id = offline_bob_with_an_iphone(push)
    with FaultInjector(plan=[Planned("sqs_error", "SendMessageBatch")]) as faults:
        assert send(a, chat_id)["seq"] == 1
    assert faults.fired == {"sqs_error": 1}
    push.drain()
    assert [(d.platform, n.seq) for d, n in push.sent] == [("apns", 1)]


def test_a_push_that_sns_refuses_is_sent_on_its_retry_once(push, monkeypatch):
    """The device's own retry job (issue 21), delayed 1 s here instead of 30 s."""
    from chalicelib.push import worker

    monkeypatch.setattr(worker, "RETRY_BASE_SECONDS", 1)
    a, chat_id = offline_bob_with_an_iphone(push)
    send(a, chat_id)
    with FaultInjector(plan=[Planned("sns_error", "Publish", times=100)]) as faults:
        push.drain()
    assert faults.fired["sns_error"] >= 1 and push.sent == []
    time.sleep(1.5)  # the retry's DelaySeconds
    push.drain()
    assert [d.platform for d, _ in push.sent] == ["apns"]
    push.make_visible()
    push.drain()
    assert [d.platform for d, _ in push.sent] == ["apns"]  # once


# -- SendKey bookkeeping survives every fault above --------------------------------------------


def test_no_send_key_without_its_message(world):
    """Whatever failed, a send key names a stored message (else a retry would be acked with a
    seq that holds nothing)."""
    a, _b, chat_id = alice_and_bob(world)
    plan = [Planned("timeout_after", "TransactWriteItems"), Planned("throttle", "TransactWriteItems", 3, 100)]
    with FaultInjector(plan=plan):
        send(a, chat_id, key="k1")
        send(a, chat_id, key="k2")
        send(a, chat_id, key="k3")
    items = [json.loads(i) for i in table_snapshot()[SendKeyItem.Meta.table_name]]
    keys = {
        i["Attributes"]["send_key"]["S"].rsplit("|", 1)[-1]: int(i["Attributes"]["seq"]["N"]) for i in items
    }
    assert keys == {key: seq for seq, key in stored(chat_id)} == {"k1": 1}


# -- the local stack's Lambdas -----------------------------------------------------------------


def lambdas_with(faults: FaultInjector):
    import app as chalice_app
    from chatlocal.functions.lambdas import Lambdas

    handlers = {
        "$connect": chalice_app.connect,
        "$default": chalice_app.message,
        "$disconnect": chalice_app.disconnect,
    }
    return Lambdas(handlers, concurrency=2, faults=faults)


def test_a_lost_disconnect_leaves_the_record_to_its_ttl(world):
    import asyncio
    import time

    from chalicelib.testing import ws_event

    b = world.connect("bob")
    faults = FaultInjector(plan=[Planned("disconnect_lost", "$disconnect")])
    lambdas = lambdas_with(faults.install())
    try:
        invocation = asyncio.run(lambdas.invoke("$disconnect", ws_event("$disconnect", b.connection_id)))
    finally:
        lambdas.shutdown()
    assert invocation.error is not None and faults.fired == {"disconnect_lost": 1}
    [record] = ConnectionItem.query(b.connection_id)
    ttl = Settings.from_env().connection_ttl_seconds
    assert time.time() < record.expires_at.timestamp() <= time.time() + ttl


def test_a_crash_inside_an_invocation_is_a_failed_invocation(world):
    import asyncio

    from chalicelib.testing import ws_event

    a, _b, chat_id = alice_and_bob(world)
    faults = FaultInjector(plan=[Planned("crash", "BatchGetItem")])
    lambdas = lambdas_with(faults.install())
    body = {"action": "message.send", "chat_id": chat_id, "client_msg_id": "k1", "text": "hi"}
    try:
        invocation = asyncio.run(lambdas.invoke("$default", ws_event("$default", a.connection_id, body)))
    finally:
        lambdas.shutdown()
    assert isinstance(invocation.error, Crash) and invocation.status_code == 500
    assert stored(chat_id) == [(1, "k1")]
