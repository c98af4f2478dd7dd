"""The socket's supervision: a refused token, an unreachable server, a handshake that hangs,
``connect_timeout``, and reconnects after the first connection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets

from chatclient import AuthError, Backoff, CannotConnect, ChatClient
from tests.unit.chatclient.fake_server import ME, FakeServer, FakeWs, fake_jwt, run


def refused(status: int, body: bytes = b'{"message": "Unauthorized"}') -> websockets.InvalidStatus:
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    return websockets.InvalidStatus(Response(status, "Refused", Headers(), body))


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (401, b'{"message": "Unauthorized"}', "Unauthorized"),
        (403, b"token expired", "token expired"),
        (401, b"", "Refused"),
    ],
)
def test_a_refused_handshake_raises_auth_error_at_once_with_the_status_and_reason(status, body, reason):
    attempts: list[str] = []

    async def connect(url: str, **_: Any) -> FakeWs:
        attempts.append(url)
        raise refused(status, body)

    async def scenario() -> tuple[AuthError, float, str]:
        client = ChatClient("ws://fake/ws", fake_jwt(ME), connect=connect, backoff=Backoff(0.001, 0.01))
        started = asyncio.get_running_loop().time()
        with pytest.raises(AuthError) as raised:
            await client.start()
        return raised.value, asyncio.get_running_loop().time() - started, client.state

    error, took, state = run(scenario())
    assert (error.status, error.reason, error.url) == (status, reason, "ws://fake/ws")
    assert f"HTTP {status} {reason}" in str(error)
    assert len(attempts) == 1 and took < 1  # not retried
    assert state == "closed"


def test_no_server_raises_cannot_connect_after_connect_timeout_with_the_last_cause():
    attempts: list[float] = []

    async def connect(url: str, **_: Any) -> FakeWs:
        attempts.append(asyncio.get_running_loop().time())
        raise ConnectionRefusedError(111, "Connect call failed")

    async def scenario() -> tuple[CannotConnect, float]:
        client = ChatClient(
            "ws://fake/ws", fake_jwt(ME), connect=connect, backoff=Backoff(0.01, 0.05), connect_timeout=0.3
        )
        started = asyncio.get_running_loop().time()
        with pytest.raises(CannotConnect) as raised:
            await client.start()
        return raised.value, asyncio.get_running_loop().time() - started

    error, took = run(scenario())
    assert 0.3 <= took < 3.0  # the deadline, not forever (generous for a loaded machine)
    assert len(attempts) > 2  # retried with backoff until the time was up
    assert str(error) == "cannot reach ws://fake/ws (tried for 0.3 s: connection refused)"
    assert isinstance(error.cause, ConnectionRefusedError)


def test_a_handshake_that_hangs_is_bounded_by_connect_timeout_too():
    async def connect(url: str, **_: Any) -> FakeWs:
        await asyncio.sleep(60)
        raise AssertionError("unreachable")

    async def scenario() -> CannotConnect:
        client = ChatClient("ws://fake/ws", fake_jwt(ME), connect=connect, connect_timeout=0.2)
        with pytest.raises(CannotConnect) as raised:
            await client.start()
        return raised.value

    assert "no answer" in str(run(scenario()))


def test_connect_timeout_none_keeps_waiting_for_the_server():
    server = FakeServer()
    down = [True]

    async def connect(url: str, **_: Any) -> FakeWs:
        if down[0]:
            raise ConnectionRefusedError(111, "Connect call failed")
        return await server.connect(url)

    async def scenario() -> str:
        client = ChatClient(
            "ws://fake/ws", fake_jwt(ME), connect=connect, backoff=Backoff(0.01, 0.02), connect_timeout=None
        )
        await client.start(wait=False)
        await asyncio.sleep(0.3)
        assert client.state == "offline" and client.error is None
        down[0] = False
        await client.wait_online(2)
        state = client.state
        await client.close()
        return state

    assert run(scenario()) == "online"


def test_a_token_refused_on_reconnect_stops_the_client_and_tells_the_application():
    server = FakeServer()
    refuse = [False]

    async def connect(url: str, **_: Any) -> FakeWs:
        if refuse[0]:
            raise refused(401)
        return await server.connect(url)

    async def scenario() -> tuple[list[Any], list[str], BaseException]:
        client = ChatClient("ws://fake/ws", fake_jwt(ME), connect=connect, backoff=Backoff(0.001, 0.01))
        errors: list[Any] = []
        states: list[str] = []
        client.on_error = errors.append
        client.on_state = states.append
        await client.start()
        refuse[0] = True  # the server restarted with a new secret
        await server.connections[-1].close()
        await asyncio.wait_for(client._failed.wait(), 2)
        with pytest.raises(AuthError) as raised:
            await client.send("c1", "still there?")
        await client.close()
        return errors, states, raised.value

    errors, states, raised = run(scenario())
    assert len(errors) == 1 and isinstance(errors[0], AuthError) and errors[0].status == 401
    assert raised is errors[0]
    assert states[-3:] == ["connecting", "failed", "closed"]
    assert len(server.connections) == 1  # the refusal is not retried


def test_reconnects_after_the_first_keep_retrying_past_connect_timeout():
    server = FakeServer()
    down = [False]

    async def connect(url: str, **_: Any) -> FakeWs:
        if down[0]:
            raise ConnectionRefusedError(111, "Connect call failed")
        return await server.connect(url)

    async def scenario() -> str:
        client = ChatClient(
            "ws://fake/ws", fake_jwt(ME), connect=connect, backoff=Backoff(0.01, 0.02), connect_timeout=0.1
        )
        await client.start()
        down[0] = True
        await server.connections[-1].close()
        await asyncio.sleep(0.4)  # well past connect_timeout
        assert client.error is None and client.state in ("offline", "connecting")
        down[0] = False
        await client.wait_online(2)
        await client.close()
        return client.state

    assert run(scenario()) == "closed"
