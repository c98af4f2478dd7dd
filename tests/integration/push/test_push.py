"""Push notifications over real sockets through the local stack (``make run``): who gets one,
what it carries, and gone devices, as ``GET /dev/push`` records what the emulated providers
(SNS on moto for APNs and FCM; Web Push really sent) accepted."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import datetime

from tests.functional.webpush_receiver import Receiver, Subscription, unb64url
from tests.integration.conftest import run
from tests.integration.push.push_support import (
    connect,
    device_platforms,
    offline,
    pushes,
    register,
    reject,
    until,
    wait_for_pushes,
)


def token(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex}"


async def phones(stack, user: str, preview: bool = True) -> tuple[dict[str, str], dict[str, str]]:
    """``user`` registers an iPhone and an Android phone, then goes offline: (device ids, tokens)
    by platform."""
    peer = await connect(stack, user)
    tokens = {"apns": token("iphone"), "fcm": token("pixel")}
    ids = {p: (await register(peer, p, t, preview=preview))["device_id"] for p, t in tokens.items()}
    await offline(stack, peer)
    return ids, tokens


async def group(peer, *members: str, title: str | None = None) -> str:
    created = await peer.request("chat.create", members=list(members), title=title)
    assert created["event"] == "chat:created", created
    return str(created["chat"]["chat_id"])


def test_offline_member_gets_one_notification_per_device_with_the_contract_fields(stack, user):
    async def scenario():
        alice, bob = user("alice"), user("bob")
        ids, tokens = await phones(stack, bob)
        a = await connect(stack, alice, name="Alice A.")
        chat_id = await group(a, bob, title="Weekend")
        text = "hello bob " * 20
        ack = await a.send_text(chat_id, text)
        sent = await wait_for_pushes(stack, bob, 2)
        assert sorted(r["platform"] for r in sent) == ["apns", "fcm"]
        for record in sent:
            assert record["device_id"] == ids[record["platform"]]
            assert record["token"] == tokens[record["platform"]]
            assert record["notification"] == {
                "chat_id": chat_id,
                "seq": 1,
                "message_id": ack["message_id"],
                "title": "Weekend",
                "body": ("Alice A.: " + text)[:119] + "…",
                "badge": 1,
                "collapse_key": chat_id,
                "sender_id": alice,
            }
            assert datetime.fromisoformat(record["sent_at"]) >= datetime.fromisoformat(ack["sent_at"])
        await a.settle(1)
        assert len(await pushes(stack, bob)) == 2  # one per device, not more
        assert await pushes(stack, alice) == []  # the sender has no device, and sent it
        await a.close()

    run(scenario())


def test_a_direct_chat_is_titled_with_the_senders_name(stack, user):
    async def scenario():
        alice, bob = user("alice"), user("bob")
        await phones(stack, bob)
        a = await connect(stack, alice, name="Alice A.")
        created = await a.request("chat.create", members=[bob], direct=True)
        await a.send_text(created["chat"]["chat_id"], "hi")
        for record in await wait_for_pushes(stack, bob, 2):
            assert (record["notification"]["title"], record["notification"]["body"]) == ("Alice A.", "hi")
        await a.close()

    run(scenario())


def test_a_member_with_a_live_connection_that_confirms_gets_none(stack, user):
    async def scenario():
        alice, bob, carol = user("alice"), user("bob"), user("carol")
        await phones(stack, bob)
        await phones(stack, carol)  # offline: the push that shows the worker ran for this message
        b = await connect(stack, bob)  # bob is back, on a laptop
        a = await connect(stack, alice)
        chat_id = await group(a, bob, carol)
        await b.expect("chat:added")
        await a.send_text(chat_id, "hi both")
        frame = await b.expect("chat:message:background")
        await b.request("message.delivered", chat_id=chat_id, seq=frame["message"]["seq"])  # v3 Reach
        await wait_for_pushes(stack, carol, 2)
        await a.settle(1)
        assert await pushes(stack, bob) == []
        await a.close()
        await b.close()

    run(scenario())


def test_a_muted_chat_gets_no_push_and_leaves_the_badge(stack, user):
    async def scenario():
        alice, bob = user("alice"), user("bob")
        a = await connect(stack, alice)
        b = await connect(stack, bob)
        loud = await group(a, bob, title="loud")
        quiet = await group(a, bob, title="quiet")
        muted = await b.request("chat.mute", chat_id=quiet, muted=True)
        assert (muted["event"], muted["muted"]) == ("chat:muted", True)
        await register(b, "fcm", token("pixel"))
        await offline(stack, b)
        for i in range(3):
            await a.send_text(quiet, f"shh {i}")
        await a.send_text(loud, "hey")
        [record] = await wait_for_pushes(stack, bob, 1)
        assert record["notification"]["chat_id"] == loud
        assert record["notification"]["badge"] == 1  # the 3 unread in the muted chat do not count
        await a.settle(1)
        assert len(await pushes(stack, bob)) == 1
        await a.close()

    run(scenario())


def test_the_badge_sums_unread_over_chats(stack, user):
    async def scenario():
        alice, bob = user("alice"), user("bob")
        a = await connect(stack, alice)
        b = await connect(stack, bob)
        first, second = await group(a, bob), await group(a, bob)
        await register(b, "apns", token("iphone"))
        await offline(stack, b)
        for count, chat_id in enumerate((first, first, second), start=1):
            await a.send_text(chat_id, "one more")
            await wait_for_pushes(stack, bob, count)  # one at a time: each badge is then known
        badges = [
            (r["notification"]["chat_id"], r["notification"]["badge"]) for r in await pushes(stack, bob)
        ]
        assert badges == [(first, 1), (first, 2), (second, 3)]
        await a.close()

    run(scenario())


def test_preview_off_carries_no_text_and_no_sender(stack, user):
    async def scenario():
        alice, bob = user("alice"), user("bob")
        await phones(stack, bob, preview=False)
        a = await connect(stack, alice, name="Alice A.")
        chat_id = await group(a, bob, title="Weekend")
        await a.send_text(chat_id, "secret plans")
        for record in await wait_for_pushes(stack, bob, 2):
            notification = record["notification"]
            assert (notification["title"], notification["body"]) == ("Weekend", "New message")
            assert "sender_id" not in notification
            assert "secret plans" not in json.dumps(record) and alice not in json.dumps(record)
        await a.close()

    run(scenario())


def test_a_rejected_token_is_forgotten_and_not_tried_again(stack, user):
    async def scenario():
        alice, bob = user("alice"), user("bob")
        ids, tokens = await phones(stack, bob)
        status, body = await reject(stack, tokens["fcm"])
        assert status == 200, body
        [rejected] = body["rejected"]
        assert (rejected["platform"], rejected["device_id"], rejected["user_id"]) == ("fcm", ids["fcm"], bob)
        assert "EndpointDisabled" in rejected["effect"]

        a = await connect(stack, alice)
        chat_id = await group(a, bob)
        await a.send_text(chat_id, "first")
        assert [r["platform"] for r in await wait_for_pushes(stack, bob, 1)] == ["apns"]
        b = await connect(stack, bob)

        async def fcm_forgotten() -> bool:
            return await device_platforms(b) == ["apns"]

        await until(fcm_forgotten, what="the rejected fcm device to leave device.list")
        await offline(stack, b)
        await a.send_text(chat_id, "second")
        await wait_for_pushes(stack, bob, 2)
        await a.settle(1)
        assert [r["platform"] for r in await pushes(stack, bob)] == ["apns", "apns"]
        # Forgotten: its SNS endpoint is deleted with it, nothing holds the token any more.
        assert (await reject(stack, tokens["fcm"]))[0] == 404
        await a.close()

    run(scenario())


def test_a_token_moves_to_the_user_who_registers_it(stack, user):
    async def scenario():
        alice, bob, carol = user("alice"), user("bob"), user("carol")
        shared = token("shared-phone")
        b = await connect(stack, bob)
        first = await register(b, "apns", shared)
        c = await connect(stack, carol)
        moved = await register(c, "apns", shared)
        assert moved["device_id"] == first["device_id"]
        assert await device_platforms(b) == []
        assert await device_platforms(c) == ["apns"]
        await offline(stack, b, c)
        a = await connect(stack, alice)
        chat_id = await group(a, bob, carol)
        await a.send_text(chat_id, "hi")
        [record] = await wait_for_pushes(stack, carol, 1)
        assert (record["device_id"], record["token"]) == (first["device_id"], shared)
        await a.settle(1)
        assert await pushes(stack, bob) == []  # bob no longer gets the phone's pushes
        await a.close()

    run(scenario())


def test_web_push_end_to_end_to_a_receiver_on_localhost(stack, user):
    """Encrypted to the subscription's keys, VAPID-signed with the stack's key; a 410 from the
    push service forgets the device."""

    async def scenario():
        alice, bob = user("alice"), user("bob")
        vapid_key = (await asyncio.to_thread(stack.get_json, "/dev/vapid"))["public_key"]
        with Receiver() as receiver:
            subscription = receiver.subscription(f"browser-{bob}")
            b = await connect(stack, bob)
            device = await register(b, "webpush", subscription=subscription.to_wire())
            await offline(stack, b)
            a = await connect(stack, alice)
            chat_id = await group(a, bob, title="Weekend")
            await a.send_text(chat_id, "hello browser")
            [record] = await wait_for_pushes(stack, bob, 1)
            assert (record["platform"], record["device_id"]) == ("webpush", device["device_id"])
            assert record["token"] == subscription.endpoint
            [received] = receiver.received
            assert received.headers["Content-Encoding"] == "aes128gcm"
            assert received.headers["TTL"] == "86400" and received.headers["Urgency"] == "high"
            assert _vapid_key(received.headers["Authorization"]) == vapid_key
            claims = received.vapid_claims()  # verifies the JWT's signature
            assert claims["aud"] == subscription.endpoint.split("/push/")[0]
            assert subscription.decrypt(received.body) == record["notification"]
            assert record["notification"]["body"] == f"{alice}: hello browser"

            # The stack does not serve this endpoint: it cannot make it answer 410.
            status, body = await reject(stack, subscription.endpoint)
            assert status == 409 and "not served by this local stack" in body["error"]
            receiver.gone.add(f"browser-{bob}")  # the browser unsubscribed
            await a.send_text(chat_id, "anyone?")
            b = await connect(stack, bob)

            async def forgotten() -> bool:
                return await device_platforms(b) == []

            await until(forgotten, what="the gone subscription to leave device.list")
            assert len(await pushes(stack, bob)) == 1
        await b.close()
        await a.close()

    run(scenario())


def test_web_push_through_the_local_push_service_and_its_rejection(stack, user):
    async def scenario():
        alice, bob = user("alice"), user("bob")
        subscription = Subscription(endpoint=f"{stack.url}/dev/webpush/{uuid.uuid4().hex}")
        b = await connect(stack, bob)
        await register(b, "webpush", subscription=subscription.to_wire())
        await offline(stack, b)
        a = await connect(stack, alice)
        chat_id = await group(a, bob)
        await a.send_text(chat_id, "via the local push service")
        [record] = await wait_for_pushes(stack, bob, 1)
        [request] = (await _service_requests(stack, subscription))["requests"]
        assert request["status"] == 201 and request["content_encoding"] == "aes128gcm"
        assert request["vapid"]["aud"] == stack.url
        assert subscription.decrypt(unb64url(request["body"])) == record["notification"]

        status, body = await reject(stack, subscription.endpoint)
        assert status == 200 and body["rejected"][0]["platform"] == "webpush"
        await a.send_text(chat_id, "gone?")

        async def answered_410() -> bool:
            return [r["status"] for r in (await _service_requests(stack, subscription))["requests"]] == [
                201,
                410,
            ]

        await until(answered_410, what="the rejected subscription to be tried once more")
        b = await connect(stack, bob)

        async def forgotten() -> bool:
            return await device_platforms(b) == []

        await until(forgotten, what="the gone subscription to leave device.list")
        await offline(stack, b)
        await a.send_text(chat_id, "not tried again")
        await a.settle(1)
        assert len((await _service_requests(stack, subscription))["requests"]) == 2
        assert len(await pushes(stack, bob)) == 1
        await a.close()

    run(scenario())


def test_the_dev_routes_refuse_bad_parameters(stack):
    status, body = stack.request("GET", "/dev/push")
    assert status == 400 and "'user'" in json.loads(body)["error"]
    status, body = stack.request("GET", "/dev/push?user=no%20spaces")
    assert status == 400
    status, body = stack.request("POST", "/dev/push/reject")
    assert status == 400 and "'token' is required" in json.loads(body)["error"]
    status, body = stack.request("POST", "/dev/push/reject?token=" + "x" * 4097)
    assert status == 400
    status, body = stack.request("POST", f"/dev/push/reject?token=never-registered-{uuid.uuid4().hex}")
    assert status == 404 and "no device" in json.loads(body)["error"]
    key = base64.urlsafe_b64decode(stack.get_json("/dev/vapid")["public_key"] + "==")
    assert len(key) == 65 and key[0] == 4  # an uncompressed P-256 point, as PushManager takes it


async def _service_requests(stack, subscription: Subscription) -> dict:
    path = subscription.endpoint.removeprefix(stack.url)
    return dict(await asyncio.to_thread(stack.get_json, path))


def _vapid_key(authorization: str) -> str:
    params = authorization.partition(" ")[2]
    return dict(p.strip().split("=", 1) for p in params.split(","))["k"]
