"""The client's delivery and retry rules against a scripted in-memory server (no sockets):
duplicates dropped, gaps filled in order, own sends not echoed, which errors are retried."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
import websockets

from chatclient import Backoff, ChatClient, ChatError, Message
from chatclient.models import Ack


def _message(chat_id: str, seq: int, sender: str = "bob", cmid: str | None = None) -> dict[str, Any]:
    return {
        "chat_id": chat_id,
        "seq": seq,
        "message_id": f"m{seq}",
        "client_msg_id": cmid or f"k{seq}",
        "sender_id": sender,
        "text": f"text {seq}",
        "sent_at": "2026-11-24T10:00:00.000Z",
    }


class FakeServer:
    """Enough of the protocol for the client: chat.list, chat.history, chat.open, message.send."""

    def __init__(self) -> None:
        self.messages: dict[str, list[dict[str, Any]]] = {"c1": []}
        self.requests: list[dict[str, Any]] = []
        self.fail_sends: list[str] = []  # error codes to answer the next sends with
        self.connections: list[FakeWs] = []

    async def connect(self, url: str, **_: Any) -> FakeWs:
        ws = FakeWs(self)
        self.connections.append(ws)
        return ws

    def store(self, chat_id: str, sender: str = "bob", cmid: str | None = None) -> dict[str, Any]:
        message = _message(chat_id, len(self.messages[chat_id]) + 1, sender, cmid)
        self.messages[chat_id].append(message)
        return message

    def reply(self, frame: dict[str, Any]) -> dict[str, Any]:
        action, req = frame["action"], frame.get("req")
        if action == "chat.list":
            chats = [
                {"chat_id": c, "members": ["alice", "bob"], "last_seq": len(m), "unread": 0, "read_seq": 0}
                for c, m in self.messages.items()
            ]
            return {"event": "chat:list", "req": req, "chats": chats}
        if action == "chat.history":
            after = frame.get("after", 0)
            page = [m for m in self.messages[frame["chat_id"]] if m["seq"] > after][: frame.get("limit", 50)]
            more = bool(page) and page[-1]["seq"] < len(self.messages[frame["chat_id"]])
            return {
                "event": "chat:history",
                "req": req,
                "chat_id": frame["chat_id"],
                "messages": page,
                "has_more": more,
            }
        if action == "chat.open":
            chat = {
                "chat_id": frame["chat_id"],
                "members": [],
                "last_seq": len(self.messages[frame["chat_id"]]),
            }
            return {"event": "chat:opened", "req": req, "chat": chat, "messages": [], "receipts": {}}
        if action == "message.send":
            if self.fail_sends:
                return {"event": "error", "req": req, "code": self.fail_sends.pop(0), "message": "scripted"}
            existing = [
                m for m in self.messages[frame["chat_id"]] if m["client_msg_id"] == frame["client_msg_id"]
            ]
            stored = (
                existing[0] if existing else self.store(frame["chat_id"], "alice", frame["client_msg_id"])
            )
            fields = {k: stored[k] for k in ("chat_id", "client_msg_id", "seq", "message_id", "sent_at")}
            return {"event": "message:ack", "req": req, **fields, "duplicate": bool(existing)}
        return {"event": "pong", "req": req}


class FakeWs:
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.closed = False

    async def send(self, raw: str) -> None:
        if self.closed:
            raise websockets.ConnectionClosedError(None, None)
        frame = json.loads(raw)
        self.server.requests.append(frame)
        if frame.get("action") != "typing":
            self.inbox.put_nowait(json.dumps(self.server.reply(frame)))

    def push(self, frame: dict[str, Any]) -> None:
        self.inbox.put_nowait(json.dumps(frame))

    async def close(self) -> None:
        self.closed = True
        self.inbox.put_nowait(None)

    def __aiter__(self) -> FakeWs:
        return self

    async def __anext__(self) -> str:
        item = await self.inbox.get()
        if item is None:
            raise StopAsyncIteration
        return item


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coroutine, 10))


def client_for(server: FakeServer) -> ChatClient:
    return ChatClient(
        "ws://fake/ws", "token", connect=server.connect, backoff=Backoff(0.001, 0.01), request_timeout=1
    )


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_backoff_is_full_jitter_within_the_exponential_ceiling():
    backoff = Backoff(base=0.5, cap=8, rng=random.Random(1))
    for attempt in range(10):
        ceiling = min(8, 0.5 * 2**attempt)
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range, not a fixed step


def test_duplicates_are_dropped_and_gaps_filled_in_order():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        got: list[Message] = []
        client.on_background = got.append
        await client.start()
        ws = server.connections[-1]
        for _ in range(3):
            server.store("c1")
        ws.push({"event": "chat:message:background", "message": server.messages["c1"][2]})  # seq 3: gap 1-2
        ws.push({"event": "chat:message:background", "message": server.messages["c1"][0]})  # seq 1 again
        ws.push({"event": "chat:message:background", "message": server.messages["c1"][2]})  # seq 3 again
        await settle()
        await client.close()
        return [m.seq for m in got]

    assert run(scenario()) == [1, 2, 3]


def test_reconnect_resyncs_missed_messages_once_and_routes_open_chats_to_their_handler():
    server = FakeServer()
    server.messages["c2"] = []

    async def scenario():
        client = client_for(server)
        background: list[int] = []
        in_chat: list[int] = []
        client.on_background = lambda m: background.append((m.chat_id, m.seq))
        await client.start()
        await client.open_chat("c2", lambda m: in_chat.append(m.seq))
        await server.connections[-1].close()  # the connection drops
        server.store("c1")
        server.store("c1")
        server.store("c2")
        await asyncio.sleep(0.05)
        await client.wait_online(1)
        await settle()
        reopened = [r for r in server.requests if r["action"] == "chat.open"]
        await client.close()
        return background, in_chat, len(reopened)

    background, in_chat, reopened = run(scenario())
    assert background == [("c1", 1), ("c1", 2)]
    assert in_chat == [1]
    assert reopened == 2  # opened by the app, then re-opened after the reconnect


def test_own_sends_are_not_delivered_back_and_do_not_look_like_gaps():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        got: list[int] = []
        client.on_background = lambda m: got.append(m.seq)
        await client.start()
        ack = await client.send("c1", "mine")
        other = server.store("c1")  # seq 2, from bob
        server.connections[-1].push({"event": "chat:message:background", "message": other})
        await settle()
        histories = [r for r in server.requests if r["action"] == "chat.history"]
        await client.close()
        return ack, got, histories

    ack, got, histories = run(scenario())
    assert isinstance(ack, Ack) and ack.seq == 1
    assert got == [2] and histories == []


@pytest.mark.parametrize("code", ["bad_request", "forbidden", "not_found", "too_large"])
def test_send_does_not_retry_errors_that_would_fail_again(code):
    server = FakeServer()
    server.fail_sends = [code]

    async def scenario():
        client = client_for(server)
        await client.start()
        with pytest.raises(ChatError) as failed:
            await client.send("c1", "x")
        sends = [r for r in server.requests if r["action"] == "message.send"]
        await client.close()
        return failed.value.code, len(sends)

    assert run(scenario()) == (code, 1)


def test_send_retries_unavailable_with_the_same_client_msg_id():
    server = FakeServer()
    server.fail_sends = ["unavailable", "rate_limited"]

    async def scenario():
        client = client_for(server)
        await client.start()
        ack = await client.send("c1", "x")
        sends = [r["client_msg_id"] for r in server.requests if r["action"] == "message.send"]
        await client.close()
        return ack, sends

    ack, sends = run(scenario())
    assert ack.seq == 1 and len(sends) == 3 and len(set(sends)) == 1
    assert len(server.messages["c1"]) == 1
