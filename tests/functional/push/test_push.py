"""Push notifications for members with no live connection (PROTOCOL v2, "Devices and push").

Providers run on moto (SNS mobile push) and on a real HTTP endpoint on 127.0.0.1 (Web Push,
encrypted and VAPID-signed, decrypted here with the subscription's private key)."""

from __future__ import annotations

import json

import pytest

from chalicelib.storage.tables import PresenceItem
from tests.functional.webpush_receiver import Receiver


def register(client, platform="apns", token=None, **fields):
    body = {"platform": platform, **fields}
    if platform != "webpush":
        body["token"] = token or f"{client.user_id}-{platform}-token"
    reply = client.send("device.register", **body)
    assert reply["event"] == "device:registered", reply
    return reply["device"]


def offline_member_with_devices(push, name="bob", **apns):
    """bob registers an iPhone and an Android phone, then disconnects."""
    b = push.harness.connect(name)
    register(b, "apns", f"{name}-iphone", **apns)
    register(b, "fcm", f"{name}-pixel")
    b.disconnect()
    return b


def notifications_for(push, user):
    return [(d, n) for d, n in push.sent if d.user_id == user]


def test_offline_member_gets_one_notification_per_device_with_the_contract_fields(push):
    a = push.harness.connect("alice", name="Alice A.")
    offline_member_with_devices(push)
    chat_id = push.harness.chat(a, "bob", title="Weekend")
    ack = a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello bob " * 20)
    assert push.drain() == 1
    sent = notifications_for(push, "bob")
    assert sorted(d.platform for d, _ in sent) == ["apns", "fcm"]
    for _, n in sent:
        assert n.to_wire() == {
            "chat_id": chat_id,
            "seq": 1,
            "message_id": ack["message_id"],
            "title": "Weekend",
            "body": ("Alice A.: " + "hello bob " * 20)[:119] + "…",
            "badge": 1,
            "collapse_key": chat_id,
            "sender_id": "alice",
        }
        assert len(n.body) == 120
    endpoint = next(d for d, _ in sent if d.platform == "apns").endpoint_arn
    published = push.sns_messages(endpoint)[-1]
    apns = json.loads(json.loads(published)["APNS"])
    assert apns["aps"]["alert"] == {"title": "Weekend", "body": sent[0][1].body}
    assert apns["aps"]["thread-id"] == chat_id and apns["aps"]["badge"] == 1


def test_direct_chat_title_is_the_senders_name_and_body_has_no_prefix(push):
    a = push.harness.connect("alice", name="Alice A.")
    offline_member_with_devices(push)
    chat_id = a.send("chat.create", members=["bob"], direct=True)["chat"]["chat_id"]
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    push.drain()
    [(_, n), _] = notifications_for(push, "bob")
    assert (n.title, n.body) == ("Alice A.", "hi")


def test_member_with_a_live_connection_that_confirms_gets_no_push(push):
    a = push.harness.connect("alice")
    offline_member_with_devices(push)
    laptop = push.harness.connect("bob")  # back online on a laptop
    chat_id = push.harness.chat(a, "bob")
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    assert push.drain() == 0 and push.sent == []  # not now: the reach job waits 10 s
    laptop.send("message.delivered", chat_id=chat_id, seq=1)
    push.pass_delay()
    assert push.drain() == 1 and push.sent == []  # confirmed: none (tests/functional/push/test_reach.py)


def test_the_sender_and_members_without_devices_cost_no_job(push, aws_calls):
    a = push.harness.connect("alice")
    register(a, "fcm")
    a.disconnect()
    a2 = push.harness.connect("alice")  # alice online again, sends to carol who has no device
    chat_id = push.harness.chat(a2, "carol")
    mark = aws_calls.mark()
    a2.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    assert [c for c in aws_calls.since(mark, service="sqs")] == []
    assert push.drain() == 0


def test_muted_chat_gets_no_push_and_leaves_the_badge(push):
    a = push.harness.connect("alice")
    b = push.harness.connect("bob")
    loud = push.harness.chat(a, "bob", title="loud")
    quiet = push.harness.chat(a, "bob", title="quiet")
    assert b.send("chat.mute", chat_id=quiet, muted=True) == {
        "event": "chat:muted",
        "req": b.last_req,
        "chat_id": quiet,
        "muted": True,
    }
    assert {c["title"]: c["muted"] for c in b.send("chat.list")["chats"]} == {"loud": False, "quiet": True}
    register(b, "apns")
    b.disconnect()
    for i in range(3):
        a.send("message.send", chat_id=quiet, client_msg_id=f"q{i}", text="shh")
    a.send("message.send", chat_id=loud, client_msg_id="l1", text="hey")
    assert push.drain() == 1
    [(_, n)] = notifications_for(push, "bob")
    assert n.chat_id == loud and n.badge == 1  # the 3 unread in the muted chat do not count


def test_badge_sums_unread_over_chats(push):
    a = push.harness.connect("alice")
    offline = offline_member_with_devices(push)
    first = push.harness.chat(a, "bob")
    second = push.harness.chat(a, "bob")
    for chat_id, key in ((first, "k1"), (first, "k2"), (second, "k3")):
        a.send("message.send", chat_id=chat_id, client_msg_id=key, text=key)
        push.drain()  # the worker runs as each message is stored
    badges = sorted(
        {(n.seq, n.chat_id == second, n.badge) for d, n in notifications_for(push, offline.user_id)}
    )
    assert badges == [(1, False, 1), (1, True, 3), (2, False, 2)]


def test_preview_off_carries_no_text_and_no_sender(push):
    a = push.harness.connect("alice")
    offline_member_with_devices(push, preview=False)
    chat_id = push.harness.chat(a, "bob", title="Weekend")
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="secret plans")
    push.drain()
    iphone = [(d, n) for d, n in notifications_for(push, "bob") if d.platform == "apns"]
    [(device, n)] = iphone
    assert n.body == "New message" and n.sender_id is None and n.text is None
    published = push.sns_messages(device.endpoint_arn)[-1]
    assert "secret plans" not in published and "alice" not in published


def test_rejected_token_is_forgotten(push):
    a = push.harness.connect("alice")
    b = offline_member_with_devices(push)
    chat_id = push.harness.chat(a, "bob")
    [device] = [d for d in push.harness.store_devices("bob") if d.platform == "fcm"]
    push.sns.set_endpoint_attributes(EndpointArn=device.endpoint_arn, Attributes={"Enabled": "false"})
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    push.drain()
    assert [d.platform for d, _ in notifications_for(push, "bob")] == ["apns"]
    b2 = push.harness.connect("bob")
    assert [d["platform"] for d in b2.send("device.list")["devices"]] == ["apns"]
    b2.disconnect()
    a.send("message.send", chat_id=chat_id, client_msg_id="k2", text="again")
    push.drain()
    assert [d.platform for d, _ in notifications_for(push, "bob")] == ["apns", "apns"]
    assert b.user_id == "bob"


def test_a_token_moves_to_the_user_who_registers_it(push):
    a = push.harness.connect("alice")
    b = push.harness.connect("bob")
    first = register(b, "apns", "shared-phone")
    c = push.harness.connect("carol")
    moved = register(c, "apns", "shared-phone")
    assert moved["device_id"] == first["device_id"]
    assert b.send("device.list")["devices"] == []
    assert [d["device_id"] for d in c.send("device.list")["devices"]] == [first["device_id"]]
    again = register(c, "apns", "shared-phone", preview=False)
    assert again["device_id"] == first["device_id"] and again["preview"] is False
    b.disconnect()
    c.disconnect()
    chat_id = push.harness.chat(a, "bob", "carol")
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    push.drain()
    assert [d.user_id for d, _ in push.sent] == ["carol"]  # bob no longer gets the phone's pushes


def test_the_21st_device_evicts_the_oldest(push):
    b = push.harness.connect("bob")
    ids = [register(b, "fcm", f"token-{i:02d}")["device_id"] for i in range(21)]
    listed = [d["device_id"] for d in b.send("device.list")["devices"]]
    assert len(listed) == 20 and ids[0] not in listed and set(ids[1:]) == set(listed)
    presence = PresenceItem.get("bob")
    assert len(presence.devices) == 20


def test_unregister_and_its_errors(push):
    b = push.harness.connect("bob")
    device = register(b, "apns")
    c = push.harness.connect("carol")
    assert c.send("device.unregister", device_id=device["device_id"])["code"] == "not_found"
    assert b.send("device.unregister", device_id=device["device_id"]) == {
        "event": "device:unregistered",
        "req": b.last_req,
        "device_id": device["device_id"],
    }
    assert b.send("device.list")["devices"] == []
    assert b.send("device.unregister", device_id=device["device_id"])["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "carrier-pigeon", "token": "x"},
        {"platform": "apns"},
        {"platform": "apns", "token": ""},
        {"platform": "apns", "token": "x" * 4097},
        {"platform": "fcm", "token": "x", "preview": "no"},
        {"platform": "webpush"},
        {"platform": "webpush", "subscription": {"endpoint": "https://push.example/x"}},
        {
            "platform": "webpush",
            "subscription": {"endpoint": "ftp://x/y", "keys": {"p256dh": "a", "auth": "b"}},
        },
        {
            "platform": "webpush",
            "subscription": {"endpoint": "http://evil.example/y", "keys": {"p256dh": "a", "auth": "b"}},
        },
    ],
)
def test_bad_registrations_are_refused(push, body):
    b = push.harness.connect("bob")
    assert b.send("device.register", **body)["code"] == "bad_request"
    assert b.send("device.list")["devices"] == []


def test_mute_needs_membership(push):
    a = push.harness.connect("alice")
    chat_id = push.harness.chat(a, "bob")
    c = push.harness.connect("carol")
    assert c.send("chat.mute", chat_id=chat_id, muted=True)["code"] == "forbidden"
    assert a.send("chat.mute", chat_id=chat_id, muted="yes")["code"] == "bad_request"
    assert a.send("chat.mute", chat_id="c_none", muted=True)["code"] == "forbidden"  # as a non-member's


def test_system_messages_notify_only_the_users_they_add(push):
    a = push.harness.connect("alice")
    offline_member_with_devices(push, name="bob")
    offline_member_with_devices(push, name="carol")
    chat_id = push.harness.chat(a, "bob")
    a.send("chat.add", chat_id=chat_id, members=["carol"])
    push.drain()
    assert {d.user_id for d, _ in push.sent} == {"carol"}
    assert all(n.body == "alice added carol" for _, n in push.sent)


def test_a_retried_batch_sends_nothing_twice(push):
    a = push.harness.connect("alice")
    offline_member_with_devices(push)
    chat_id = push.harness.chat(a, "bob")
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="once")
    # The worker runs, then "crashes" before SQS hears of it: the whole batch comes again.
    push.harness.drain_queue(push.harness.push_queue_url, push.handler, delete=False)
    assert len(push.sent) == 2
    push.make_visible()  # the records reappear after their visibility timeout
    push.drain()
    assert len(push.sent) == 2


def test_a_failure_worth_retrying_is_retried_on_its_own_with_backoff(push, monkeypatch):
    """A throttled device gets a job of its own, delayed; the record itself is done (the batch
    names no failure), so nothing else of it is sent again or held back."""
    from chalicelib.push import worker
    from chalicelib.push.providers import Sent, SnsProvider
    from chalicelib.queues import SqsQueue

    a = push.harness.connect("alice")
    offline_member_with_devices(push)
    chat_id = push.harness.chat(a, "bob")
    original = SnsProvider.send
    outcomes = iter([Sent.RETRY, Sent.RETRY])

    def throttled_twice(self, device, notification):
        if device.platform == "fcm":
            return next(outcomes, None) or original(self, device, notification)
        return original(self, device, notification)

    delays = []
    queue_send = SqsQueue.send

    def recording_send(self, bodies, delay_seconds=0):
        delays.append(delay_seconds)
        return queue_send(self, bodies, delay_seconds)

    monkeypatch.setattr(SnsProvider, "send", throttled_twice)
    monkeypatch.setattr(SqsQueue, "send", recording_send)
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    push.drain()
    assert [d.platform for d, _ in push.sent] == ["apns"]
    assert push.harness.fanout_results[-1] == {"batchItemFailures": []}
    assert delays[-1] == worker.RETRY_BASE_SECONDS  # the fcm device's own job, 30 s later
    attributes = push.harness.sqs.get_queue_attributes(
        QueueUrl=push.harness.push_queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"

    monkeypatch.setattr(worker, "RETRY_BASE_SECONDS", 0)  # the next retries come at once
    a.send("message.send", chat_id=chat_id, client_msg_id="k2", text="again")
    push.drain()  # seq 2: apns at once, fcm throttled once more, then sent on its own retry
    assert delays[-1] == 0
    assert sorted((d.platform, n.seq) for d, n in push.sent) == [("apns", 1), ("apns", 2), ("fcm", 2)]


def test_a_device_failing_every_try_is_dropped_then_forgotten_after_a_day(push, monkeypatch):
    from chalicelib.push import worker
    from chalicelib.push.providers import Sent, SnsProvider

    a = push.harness.connect("alice")
    offline_member_with_devices(push)
    chat_id = push.harness.chat(a, "bob")
    tries = []

    def always_throttled(self, device, notification):
        tries.append(device.platform)
        return Sent.RETRY

    monkeypatch.setattr(SnsProvider, "send", always_throttled)
    monkeypatch.setattr(worker, "RETRY_BASE_SECONDS", 0)
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    push.drain()
    assert len(tries) == 2 * worker.MAX_TRIES  # each device tried MAX_TRIES times, then dropped
    assert len(push.harness.store_devices("bob")) == 2  # not a day yet: kept

    clock = [1_000_000.0]
    runtime_worker = push_worker_of(push)
    monkeypatch.setattr(runtime_worker, "clock", lambda: clock[0])
    tries.clear()

    def a_day_passes_after_the_first_try(self, device, notification):
        tries.append(device.platform)
        clock[0] += worker.FORGET_AFTER_SECONDS
        return Sent.RETRY

    monkeypatch.setattr(SnsProvider, "send", a_day_passes_after_the_first_try)
    a.send("message.send", chat_id=chat_id, client_msg_id="k2", text="still there?")
    push.drain()
    assert push.harness.store_devices("bob") == []  # a day of failures: forgotten
    assert push.harness.fanout_results[-1] == {"batchItemFailures": []}


def push_worker_of(push):
    from chalicelib import runtime

    return runtime.push_worker()


def test_web_push_end_to_end(push):
    with Receiver() as receiver:
        a = push.harness.connect("alice")
        b = push.harness.connect("bob")
        subscription = receiver.subscription("bob-browser")
        register(b, "webpush", subscription=subscription.to_wire())
        b.disconnect()
        chat_id = push.harness.chat(a, "bob", title="Weekend")
        a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello browser")
        push.drain()
        [received] = receiver.received
        assert received.headers["Content-Encoding"] == "aes128gcm"
        assert received.headers["TTL"] == "86400" and received.headers["Urgency"] == "high"
        assert len(received.headers["Topic"]) <= 32
        claims = received.vapid_claims()
        assert claims["sub"] == "mailto:ops@example.com" and claims["aud"].startswith("http://127.0.0.1")
        payload = subscription.decrypt(received.body)
        assert payload["chat_id"] == chat_id and payload["title"] == "Weekend"
        assert payload["body"] == "alice: hello browser" and payload["badge"] == 1
        # the browser unsubscribed: the push service answers 410 and the device is forgotten
        receiver.gone.add("bob-browser")
        a.send("message.send", chat_id=chat_id, client_msg_id="k2", text="anyone?")
        push.drain()
        b2 = push.harness.connect("bob")
        assert b2.send("device.list")["devices"] == []


def test_push_costs_no_request_on_the_send_path_and_few_in_the_worker(push, aws_calls, capsys):
    """Members without devices cost the send path nothing; the worker's requests per notified
    member are whether they block the sender (BatchGetItem), the devices Query, the badge
    (Query + BatchGetItem) and one claim per device."""
    a = push.harness.connect("alice")
    for user in ("bob", "carol"):
        offline_member_with_devices(push, name=user)
    plain = [push.harness.connect(f"user{i}") for i in range(5)]  # connected, no devices
    chat_id = push.harness.chat(a, "bob", "carol", *[c.user_id for c in plain])
    a.send("message.send", chat_id=chat_id, client_msg_id="warm", text="warm up")
    push.drain()

    mark = aws_calls.mark()
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="counted")
    send_calls = aws_calls.since(mark, service=None)
    ops = [op for service, op, _ in send_calls if service == "dynamodb"]
    # as without push: the connection's rate-limit turn, the chat, the transaction, presence,
    # the send key marked fanned out
    assert ops == ["UpdateItem", "GetItem", "TransactWriteItems", "BatchGetItem", "UpdateItem"]
    assert [op for service, op, _ in send_calls if service == "sqs"] == ["SendMessageBatch"]

    mark = aws_calls.mark()
    push.drain()
    worker = [op for _, op, _ in aws_calls.since(mark, service="dynamodb")]
    per_member = len(worker) / 2
    assert sorted(worker) == sorted(
        ["BatchGetItem", "Query", "Query", "BatchGetItem", "PutItem", "PutItem"] * 2
    )
    with capsys.disabled():
        print(
            f"\n  push worker: {per_member:g} DynamoDB requests per notified member (2 devices): {worker[:5]}"
        )


def test_leaving_forgets_the_mute_and_the_actors_reply_keeps_it(push):
    a = push.harness.connect("alice")
    b = push.harness.connect("bob")
    chat_id = push.harness.chat(a, "bob", "carol")
    a.send("chat.mute", chat_id=chat_id, muted=True)
    assert a.send("chat.update", chat_id=chat_id, title="T")["chat"]["muted"] is True
    b.send("chat.mute", chat_id=chat_id, muted=True)
    a.send("chat.remove", chat_id=chat_id, members=["bob"])
    assert "muted" not in PresenceItem.get("bob").attribute_values or not PresenceItem.get("bob").muted
    register(b, "apns")
    b.disconnect()
    a.send("chat.add", chat_id=chat_id, members=["bob"])
    push.drain()
    assert [d.user_id for d, _ in push.sent] == ["bob"]  # back in, not muted: told of the add


@pytest.mark.parametrize(
    "keys",
    [
        {"p256dh": "a", "auth": "b"},
        {"p256dh": "C" * 87, "auth": "A" * 22},  # 65 bytes, but not an uncompressed point (0x04)
        {"p256dh": "BA" + "A" * 85, "auth": "A" * 10},  # auth too short
    ],
)
def test_web_push_keys_must_be_what_a_browser_gives(push, keys):
    b = push.harness.connect("bob")
    reply = b.send(
        "device.register",
        platform="webpush",
        subscription={"endpoint": "https://push.example/x", "keys": keys},
    )
    assert reply["code"] == "bad_request"
