"""The client survives whatever its resync is answered: error replies of any code, unreadable
replies, ``rate_limited`` (waited out as the server says, a bounded number of times), and an
unexpected failure of its own. It goes online, delivers what it could, catches up on the rest
exactly once, and ``close()`` returns.

Against the scripted in-memory server of tests/unit/chatclient/fake_server.py (no sockets); the last
tests run the real local stack with a tight rate limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
import websockets

from chatclient import ChatClient, ChatError, Message
from chatclient.connection import CATCH_UP_TRIES, MAX_RATE_LIMIT_PAUSE, RATE_LIMIT_RETRIES
from tests.client.conftest import make_client, wait_for
from tests.stack import ONE_PROCESS, LocalStack
from tests.unit.chatclient.fake_server import FakeServer, client_for, requests, settle

Reply = dict[str, Any]


class Scripted(FakeServer):
    """The fake server, with answers overridden while ``script`` says so: ``script(frame)``
    returns a reply to use instead of the real one, or None."""

    def __init__(self) -> None:
        super().__init__()
        self.script: Callable[[Reply], Reply | None] = lambda frame: None

    def reply(self, frame: Reply) -> Reply:
        return self.script(frame) or super().reply(frame)

    def refuse(self, action: str, answer: Reply, times: int | None = None) -> Callable[[], None]:
        """Answer every ``action`` (only the first ``times`` when given) with ``answer`` instead of
        the real reply; returns what stops it (the server recovers)."""
        left = [times]

        def script(frame: Reply) -> Reply | None:
            if frame["action"] != action or left[0] == 0:
                return None
            if left[0] is not None:
                left[0] -= 1
            return dict(answer)

        def recover() -> None:
            left[0] = 0

        self.script = script
        return recover


def error(code: str, **more: Any) -> Reply:
    return {"event": "error", "code": code, "message": f"scripted {code}", **more}


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coroutine, 20))


async def offline_while(client: ChatClient, server: FakeServer, change: Callable[[], None]) -> None:
    """Drop the connection, change the server while the client is away, and wait until the
    client is online again."""
    before = client.connects
    await server.connections[-1].close()
    change()
    while client.connects == before or client.state != "online":
        await asyncio.sleep(0.005)
    await settle()


def two_chats() -> tuple[Scripted, list[Message], list[Message]]:
    server = Scripted()
    server.add_chat("c2", ["alice", "bob"])
    return server, [], []


@pytest.mark.parametrize("code", ["internal", "unavailable", "bad_request", "too_large", "made_up_code"])
def test_an_error_reply_to_one_chats_resync_leaves_it_for_later_and_the_client_goes_online(code):
    server, first, second = two_chats()

    async def scenario() -> None:
        client = client_for(server)
        await client.start()
        await client.open_chat("c1", first.append)
        client.on_background = second.append
        broken = {"c1": True}
        server.script = lambda f: (
            error(code) if f["action"] == "chat.history" and broken.get(f["chat_id"]) else None
        )

        def away() -> None:
            for _ in range(3):
                server.store("c1")
                server.store("c2")

        await offline_while(client, server, away)
        assert client.state == "online" and not client._supervisor.done()
        assert [m.seq for m in second] == [1, 2, 3]  # the other chat resynced
        assert first == []
        broken["c1"] = False  # the server recovers: the catch-up fills the chat, once
        await wait_for(lambda: len(first) == 3, timeout=5)
        await settle()
        assert [m.seq for m in first] == [1, 2, 3] and [m.seq for m in second] == [1, 2, 3]
        await client.close()  # returns; nothing re-raised
        assert client.state == "closed"

    run(scenario())


def test_a_refused_chat_list_still_brings_the_client_online_and_the_catch_up_lists_again():
    server, _, got = two_chats()

    async def scenario() -> None:
        client = client_for(server)
        await client.start()
        client.on_background = got.append
        recover = server.refuse("chat.list", error("unavailable"))
        await offline_while(client, server, lambda: server.store("c2"))
        assert client.state == "online" and got == []
        lists = len(requests(server, "chat.list"))
        recover()
        await wait_for(lambda: len(got) == 1, timeout=5)
        assert [(m.chat_id, m.seq) for m in got] == [("c2", 1)]
        assert len(requests(server, "chat.list")) > lists
        await client.close()

    run(scenario())


def test_the_catch_up_gives_up_after_its_tries_and_the_next_reconnect_starts_over():
    server, _, got = two_chats()

    async def scenario() -> None:
        client = client_for(server)
        await client.start()
        client.on_background = got.append
        recover = server.refuse("chat.history", error("internal"))
        await offline_while(client, server, lambda: server.store("c2"))
        expected = 1 + CATCH_UP_TRIES  # the resync at connect, then each catch-up try
        await wait_for(lambda: len(requests(server, "chat.history")) >= expected, timeout=10)
        await asyncio.sleep(0.1)
        assert len(requests(server, "chat.history")) == expected and got == []
        assert client.state == "online"
        recover()
        await offline_while(client, server, lambda: None)
        assert [m.seq for m in got] == [1]
        await client.close()

    run(scenario())


UNREGISTERED = {
    "event": "error",
    "code": "forbidden",
    "message": "this connection is not registered; reconnect",
    "reason": "unregistered",
}


def test_a_connection_the_server_does_not_know_is_replaced_at_once_and_the_resync_completes():
    """The server forgot the connection (its record expired, or $connect did not complete):
    every request on it is refused. The client closes it and connects again, as the error says,
    instead of retrying the resync on a connection that cannot work."""
    server, _, got = two_chats()

    async def scenario() -> None:
        client = client_for(server)
        await client.start()
        client.on_background = got.append
        server.refuse("chat.list", UNREGISTERED, times=1)
        before = client.connects
        await server.connections[-1].close()
        server.store("c2")
        await wait_for(lambda: client.connects == before + 2 and client.state == "online", timeout=5)
        refused = server.connections[-2]
        assert refused.closed and not server.connections[-1].closed
        await wait_for(lambda: len(got) == 1, timeout=5)
        assert [(m.chat_id, m.seq) for m in got] == [("c2", 1)]
        assert set(client._last) == {"c1", "c2"}  # no chat taken for removed
        await client.close()

    run(scenario())


def test_an_unregistered_refusal_of_a_chat_step_does_not_forget_the_chat():
    server, _, got = two_chats()

    async def scenario() -> None:
        client = client_for(server)
        await client.start()
        client.on_background = got.append
        recover = server.refuse("chat.history", UNREGISTERED)
        before = client.connects
        await server.connections[-1].close()
        server.store("c2")
        await wait_for(lambda: client.connects >= before + 2, timeout=5)  # refused, replaced
        recover()
        await wait_for(lambda: client.state == "online" and len(got) == 1, timeout=5)
        assert set(client._last) == {"c1", "c2"}
        await client.close()

    run(scenario())


@pytest.mark.parametrize(
    "bad",
    [
        {"event": "chat:history", "chat_id": "c2"},  # no messages
        {"event": "chat:history", "chat_id": "c2", "messages": ["not a message"]},
        {"event": "chat:history", "chat_id": "c2", "messages": [{"seq": "x"}]},
    ],
    ids=["no messages", "a message that is a string", "a message without fields"],
)
def test_an_unreadable_resync_reply_is_skipped_like_an_error(bad):
    server, _, got = two_chats()

    async def scenario() -> None:
        client = client_for(server)
        await client.start()
        client.on_background = got.append
        recover = server.refuse("chat.history", bad)
        await offline_while(client, server, lambda: server.store("c2"))
        assert client.state == "online"
        recover()
        await wait_for(lambda: len(got) == 1, timeout=5)
        await client.close()

    run(scenario())


def test_an_unexpected_failure_ends_the_connection_not_the_client():
    server = Scripted()

    async def scenario() -> None:
        client = client_for(server)
        await client.start()
        real = client._on_connected
        failures = [RuntimeError("a bug in the resync")]

        async def flaky() -> bool:
            if failures:
                raise failures.pop()
            return await real()

        client._on_connected = flaky  # type: ignore[method-assign]
        before = client.connects
        await server.connections[-1].close()
        await wait_for(lambda: client.connects >= before + 2 and client.state == "online", timeout=5)
        assert not client._supervisor.done()
        await client.close()

    run(scenario())


def test_a_malformed_pushed_frame_does_not_stop_the_frames_after_it():
    server = Scripted()

    async def scenario() -> None:
        client = client_for(server)
        await client.start()
        got: list[Message] = []
        client.on_background = got.append
        ws = server.connections[-1]
        ws.push({"event": "chat:message:background", "message": "not an object"})
        ws.push({"event": "chat:message:background", "message": server.store("c1")})
        ws.push({"event": "chat:added", "chat": ["nope"]})
        ws.push({"req": ["unhashable"], "event": "pong"})
        ws.push({"event": "chat:message:background", "message": server.store("c1")})
        await wait_for(lambda: len(got) == 2, timeout=5)
        assert [m.seq for m in got] == [1, 2] and client.state == "online"
        await client.close()

    run(scenario())


# -- rate_limited -----------------------------------------------------------------------------


@pytest.fixture
def pauses(monkeypatch) -> list[float]:  # type: ignore[no-untyped-def]
    """Every asyncio.sleep the code under test asks for."""
    asked: list[float] = []
    real_sleep = asyncio.sleep

    async def recording(delay: float, *args: Any, **kwargs: Any) -> Any:
        asked.append(delay)
        return await real_sleep(delay, *args, **kwargs)

    monkeypatch.setattr(asyncio, "sleep", recording)
    return asked


def test_rate_limited_requests_wait_retry_after_ms_and_are_sent_again(pauses):
    server, _, got = two_chats()

    async def scenario() -> None:
        client = client_for(server)
        await client.start()
        client.on_background = got.append
        refusals = [120, 80]  # retry_after_ms of the next two history requests

        def limited(frame: Reply) -> Reply | None:
            if frame["action"] == "chat.history" and refusals:
                return error("rate_limited", retry_after_ms=refusals.pop(0))
            return None

        server.script = limited
        await offline_while(client, server, lambda: [server.store("c2") for _ in range(2)])
        assert [m.seq for m in got] == [1, 2]  # delivered once, by the resync itself
        assert len(requests(server, "chat.history")) == 3
        waits = [p for p in pauses if p >= 0.08]
        assert 0.12 <= waits[0] <= 0.12 * 1.25 and 0.08 <= waits[1] <= 0.08 * 1.25, waits
        await client.close()

    run(scenario())


def test_a_request_still_rate_limited_after_its_retries_raises_and_the_resync_goes_on(pauses):
    server, _, got = two_chats()

    async def scenario() -> None:
        client = client_for(server)
        await client.start()
        client.on_background = got.append
        server.script = lambda f: (
            error("rate_limited", retry_after_ms=1) if f["action"] == "chat.list" else None
        )
        with pytest.raises(ChatError) as refused:
            await client.list_chats()
        assert refused.value.code == "rate_limited" and refused.value.retry_after == 0.001
        assert len(requests(server, "chat.list")) == 1 + 1 + RATE_LIMIT_RETRIES  # start, then this
        server.script = lambda f: None
        await client.close()

    run(scenario())


@pytest.mark.parametrize(
    ("frame", "wait"),
    [
        ({"retry_after_ms": 250}, 0.25),
        ({"retry_after_ms": 0}, 0.0),
        ({}, None),
        ({"retry_after_ms": "soon"}, None),
        ({"retry_after_ms": True}, None),
        ({"retry_after_ms": -5}, None),
        ({"retry_after_ms": float("inf")}, None),
        ({"retry_after_ms": float("nan")}, None),
    ],
)
def test_retry_after_is_read_from_the_error_frame_and_nonsense_is_ignored(frame, wait):
    assert ChatError.from_frame({"event": "error", "code": "rate_limited", **frame}).retry_after == wait


def test_a_huge_retry_after_is_cut_to_the_cap(pauses):
    server = Scripted()

    async def scenario() -> None:
        client = client_for(server)
        await client.start()
        answers = [error("rate_limited", retry_after_ms=10_000_000)]
        server.script = lambda f: answers.pop() if f["action"] == "ping" and answers else None
        task = asyncio.ensure_future(client.ping())
        await wait_for(lambda: any(p >= MAX_RATE_LIMIT_PAUSE for p in pauses), timeout=5)
        assert max(pauses) <= MAX_RATE_LIMIT_PAUSE * 1.25
        task.cancel()
        await client.close()

    run(scenario())


# -- the real stack, with a tight limit ----------------------------------------------------------


@pytest.fixture(scope="module")
def tight_stack():  # type: ignore[no-untyped-def]
    with LocalStack(
        CHAT_JWT_SECRET="tight-secret-" * 4,
        CHAT_RATE_LIMIT_BURST="4",
        CHAT_RATE_LIMIT_PER_SECOND="2",
        **ONE_PROCESS,
    ) as running:
        yield running


def test_a_resync_past_the_servers_limit_waits_its_turns_and_gets_every_message_once(
    tight_stack, user, caplog
):
    stack = tight_stack
    caplog.set_level(logging.INFO, logger="chatclient")

    async def scenario() -> None:
        alice_id, bob_id = user("alice"), user("bob")
        async with make_client(stack, alice_id) as alice, make_client(stack, bob_id) as bob:
            got: list[Message] = []
            bob.on_background = got.append
            chats = []
            for n in range(6):
                chats.append((await alice.create_chat([bob_id], title=f"t{n}")).chat_id)
            await asyncio.sleep(2)  # bob's turns refill
            (bob_conn,) = [c["connectionId"] for c in stack.connections() if c["user"] == bob_id]
            stack.drop(bob_conn)
            await wait_for(lambda: bob.state != "online")
            for chat_id in chats:  # alice sends within her limit too
                await alice.send(chat_id, f"missed in {chat_id}")
            # bob's resync: chat.list and six chat.history, past a burst of 4
            await wait_for(lambda: bob.connects >= 2 and bob.state == "online", timeout=30)
            await wait_for(lambda: len(got) >= 6, timeout=30)
            await asyncio.sleep(0.3)
            assert sorted(m.chat_id for m in got) == sorted(chats)  # each once
            waited = [r for r in caplog.records if "rate limited" in r.getMessage()]
            print(f"\n  6 chats, burst 4 and 2/s: {len(got)} messages once, {len(waited)} waited out")

    run(scenario())


def test_a_flood_from_one_connection_is_refused_with_retry_after_and_others_are_served(tight_stack, user):
    stack = tight_stack

    async def scenario() -> None:
        import json

        async with websockets.connect(stack.ws_url(user("flood")), max_size=None) as flood:
            async with websockets.connect(stack.ws_url(user("calm")), max_size=None) as calm:
                for n in range(60):  # 4 at once, then one per 500 ms: most are refused
                    await flood.send(json.dumps({"action": "ping", "req": str(n)}))
                replies = [json.loads(await flood.recv()) for _ in range(60)]
                codes = [r.get("code", r["event"]) for r in replies]
                assert codes.count("pong") >= 4 and "rate_limited" in codes, codes
                assert all(r["retry_after_ms"] >= 1 for r in replies if r.get("code") == "rate_limited")
                await calm.send(json.dumps({"action": "ping", "req": "calm"}))
                assert json.loads(await calm.recv()) == {"event": "pong", "req": "calm"}
                pongs, refused = codes.count("pong"), codes.count("rate_limited")
                print(f"\n  60 pings at once, burst 4 and 2/s: {pongs} pong, {refused} rate_limited")

    run(scenario())


class SilentOnClose(Scripted):
    """A server whose sockets never answer the closing handshake (``close()`` never returns)."""

    async def connect(self, url: str, **kwargs: Any) -> Any:
        ws = await super().connect(url, **kwargs)
        done = asyncio.Event()

        async def close_unanswered() -> None:
            ws.closed = True
            await done.wait()  # never set: the answer never comes

        ws.close = close_unanswered
        return ws


def test_close_returns_when_the_server_never_answers_the_closing_handshake(caplog):
    server = SilentOnClose()

    async def scenario() -> None:
        client = client_for(server)
        await client.start()
        assert client.state == "online"
        await asyncio.wait_for(client.close(), 10)  # a hang fails here, not a timing claim
        assert client.state == "closed"

    with caplog.at_level(logging.INFO, logger="chatclient"):
        run(scenario())
    assert any("did not answer the closing handshake" in r.getMessage() for r in caplog.records)
