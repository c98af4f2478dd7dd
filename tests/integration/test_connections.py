"""API Gateway behaviour of the emulator: refusals, limits, vanishing clients, idle close, the
management API as boto3 sees it, and a clean stop."""

from __future__ import annotations

import asyncio
import signal
import time

import boto3
import jwt
import pytest
import websockets
from botocore.exceptions import ClientError

from chalicelib.delivery.posting import Delivery, PostResult
from tests.integration.conftest import run
from tests.integration.peer import Peer
from tests.stack import ONE_PROCESS, LocalStack

SECRET = "integration-secret-" * 3


async def _wait_until(predicate, timeout: float = 10, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


def _ids(stack) -> set[str]:
    return {c["connectionId"] for c in stack.connections()}


@pytest.mark.parametrize(
    "token",
    [
        None,
        "not-a-jwt",
        jwt.encode({"sub": "mallory", "exp": int(time.time()) + 60}, "wrong-secret-" * 4, algorithm="HS256"),
        jwt.encode({"sub": "late", "exp": int(time.time()) - 60}, SECRET, algorithm="HS256"),
    ],
    ids=["missing", "malformed", "bad-signature", "expired"],
)
def test_bad_token_refuses_the_handshake_with_401(stack, token):
    before = _ids(stack)
    url = stack.ws_base + ("" if token is None else f"?token={token}")

    async def attempt():
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(url)
        return refused.value.response.status_code

    assert run(attempt()) == 401
    assert _ids(stack) == before


def test_oversized_frame_closes_with_1009(stack, user):
    async def scenario():
        name = user("big")
        peer = await Peer.connect(stack.ws_url(name), name)
        await peer.ws.send("x" * (128 * 1024 + 1))
        await peer._reader
        assert peer.ws.close_code == 1009
        await _wait_until(lambda: all(c["user"] != name for c in stack.connections()))

    run(scenario())


def test_frame_at_the_limit_is_accepted(stack, user):
    async def scenario():
        name = user("edge")
        peer = await Peer.connect(stack.ws_url(name), name)
        empty = '{"action": "ping", "req": "edge", "pad": ""}'
        frame = empty.replace('""', '"' + "x" * (128 * 1024 - len(empty)) + '"')
        assert len(frame.encode()) == 128 * 1024
        await peer.ws.send(frame)
        assert (await peer.expect("pong"))["req"] == "edge"
        await peer.close()

    run(scenario())


def test_vanished_client_is_cleaned_up_and_skipped(stack, user):
    async def scenario():
        alice, bob = user("alice"), user("bob")
        a = await Peer.connect(stack.ws_url(alice), alice)
        b_phone = await Peer.connect(stack.ws_url(bob), bob)
        b_laptop = await Peer.connect(stack.ws_url(bob), bob)
        chat_id = (await a.request("chat.create", members=[bob]))["chat"]["chat_id"]
        await b_phone.expect("chat:added")
        await b_laptop.expect("chat:added")
        phone_ids = {c["connectionId"] for c in stack.connections() if c["user"] == bob}
        assert len(phone_ids) == 2

        b_phone.vanish()  # no close frame, the TCP connection just ends
        await _wait_until(lambda: len([c for c in stack.connections() if c["user"] == bob]) == 1)
        gone = phone_ids - _ids(stack)
        assert len(gone) == 1

        stats_before = stack.get_json("/dev/stats")
        await a.send_text(chat_id, "are you there?")
        await b_laptop.expect("chat:message:background")
        stats_after = stack.get_json("/dev/stats")
        assert stats_after["posts_gone"] == stats_before["posts_gone"]  # nothing posted to it
        (gone_id,) = gone
        status, _ = stack.management("POST", gone_id, b"{}")
        assert status == 410
        await a.close()
        await b_laptop.close()

    run(scenario())


def test_management_api_through_boto3(stack, user):
    async def scenario():
        name = user("mgmt")
        peer = await Peer.connect(stack.ws_url(name), name)
        (conn,) = [c for c in stack.connections() if c["user"] == name]
        client = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=stack.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        loop = asyncio.get_running_loop()

        info = await loop.run_in_executor(
            None, lambda: client.get_connection(ConnectionId=conn["connectionId"])
        )
        assert info["Identity"]["SourceIp"] == "127.0.0.1"
        assert info["ConnectedAt"] <= info["LastActiveAt"]

        delivery = Delivery(lambda endpoint: client, concurrency=4)
        sent = await loop.run_in_executor(
            None, lambda: delivery.post(stack.url, conn["connectionId"], b'{"event":"hello"}')
        )
        assert sent is PostResult.OK
        assert (await peer.expect("hello"))["event"] == "hello"

        unknown = await loop.run_in_executor(None, lambda: delivery.post(stack.url, "nope0000000000=", b"{}"))
        assert unknown is PostResult.GONE

        with pytest.raises(ClientError) as too_big:
            await loop.run_in_executor(
                None,
                lambda: client.post_to_connection(
                    ConnectionId=conn["connectionId"], Data=b"x" * (128 * 1024 + 1)
                ),
            )
        assert too_big.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413

        await loop.run_in_executor(None, lambda: client.delete_connection(ConnectionId=conn["connectionId"]))
        await peer._reader
        assert peer.ws.close_code == 1000
        with pytest.raises(ClientError) as gone:
            await loop.run_in_executor(None, lambda: client.get_connection(ConnectionId=conn["connectionId"]))
        assert gone.value.response["Error"]["Code"] == "GoneException"

    run(scenario())


def test_idle_connection_is_closed_and_activity_keeps_it_open():
    with LocalStack(CHAT_JWT_SECRET=SECRET, CHAT_IDLE_TIMEOUT_SECONDS="1.5", **ONE_PROCESS) as stack:

        async def scenario():
            idle = await Peer.connect(stack.ws_url("idle-user"), "idle-user")
            busy = await Peer.connect(stack.ws_url("busy-user"), "busy-user")
            started = time.monotonic()
            while time.monotonic() - started < 3:
                assert (await busy.request("ping"))["event"] == "pong"
                await asyncio.sleep(0.5)
            await idle._reader
            assert idle.ws.close_code == 1001
            assert [c["user"] for c in stack.connections()] == ["busy-user"]
            await busy.close()

        run(scenario())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stops_cleanly_within_5_seconds(signum):
    stack = LocalStack(CHAT_JWT_SECRET=SECRET).start()

    async def scenario():
        peer = await Peer.connect(stack.ws_url("leaver"), "leaver")
        elapsed = await asyncio.get_running_loop().run_in_executor(None, stack.stop, signum)
        await peer._reader
        return elapsed, peer.ws.close_code

    elapsed, close_code = run(scenario())
    assert elapsed < 5, f"took {elapsed:.1f}s to stop"
    assert stack.process is not None and stack.process.returncode == 0
    assert close_code == 1001  # going away, as API Gateway closes connections it drops
    assert "Traceback" not in stack.text, stack.text
    assert "Stopped." in stack.text
