"""What the chaos run found (docs/reliability.md), each against the scripted in-memory server of
tests/unit/chatclient/fake_server.py (no sockets):

- a message of a chat that reaches a newly added member before its ``chat:added`` frame: the
  messages before it that the member may see are delivered too, once, in order;
- a frame re-posted (a redelivered fan-out shard) after the user was removed from its chat: not
  handed to the application again, until a ``chat:added`` brings the user back;
- a request whose caller is cancelled leaves nothing behind: no waiting future, no
  "Future exception was never retrieved".
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from chatclient import Message
from tests.unit.chatclient.fake_server import ME, FakeServer, client_for, reconnect, requests, run, settle


def test_a_message_before_chat_added_brings_every_earlier_message_the_member_may_see():
    server = FakeServer()
    server.add_chat("c2", ["bob", "carol"])
    for _ in range(3):
        server.store("c2")  # before alice: not hers to see

    async def scenario() -> list[Message]:
        client = client_for(server)
        got: list[Message] = []
        client.on_background = got.append
        await client.start()
        ws = server.connections[-1]
        server.add_member("c2", ME)  # seq 4: joined_seq 4
        server.store("c2")  # seq 5: its frame was lost
        ws.push({"event": "chat:message:background", "message": server.store("c2")})  # seq 6, early
        await settle()
        ws.push({"event": "chat:added", "chat": server.chat("c2")})  # late
        ws.push({"event": "chat:message:background", "message": server.store("c2")})  # seq 7
        await settle()
        await reconnect(client, server)  # the resync finds nothing more, and nothing twice
        await client.close()
        return got

    got = run(scenario())
    assert [(m.chat_id, m.seq) for m in got] == [("c2", 5), ("c2", 6), ("c2", 7)]
    # The client paged back (it does not know joined_seq before chat:added); the fake server
    # refuses any history request reaching to or below joined_seq, so none did.
    assert all("after" not in r or r["after"] >= 4 for r in requests(server, "chat.history"))


def test_a_message_of_an_unlisted_chat_before_the_first_list_starts_from_that_message():
    """Before the client has listed its chats once, history is the application's to load: a
    live message of a chat not yet known is delivered alone, nothing earlier is fetched."""
    server = FakeServer()
    for _ in range(3):
        server.store("c1")
    refuse_list = [True]

    original = server.reply

    def reply(frame: dict[str, Any]) -> dict[str, Any]:
        if frame["action"] == "chat.list" and refuse_list[0]:
            return {"event": "error", "code": "unavailable", "message": "scripted"}
        return original(frame)

    server.reply = reply  # type: ignore[method-assign]

    async def scenario() -> list[Message]:
        client = client_for(server)
        got: list[Message] = []
        client.on_background = got.append
        await client.start()
        server.connections[-1].push({"event": "chat:message:background", "message": server.store("c1")})
        await settle()
        await client.close()
        return got

    got = run(scenario())
    assert [m.seq for m in got] == [4]
    assert requests(server, "chat.history") == []


def test_a_frame_reposted_after_removal_is_not_delivered_again_until_chat_added():
    server = FakeServer()

    async def scenario() -> list[int]:
        client = client_for(server)
        got: list[Message] = []
        client.on_background = got.append
        await client.start()
        ws = server.connections[-1]
        first, second = server.store("c1"), server.store("c1")
        ws.push({"event": "chat:message:background", "message": first})
        ws.push({"event": "chat:message:background", "message": second})
        await settle()

        server.remove_member("c1", ME)  # seq 3
        ws.push({"event": "chat:removed", "chat_id": "c1"})
        ws.push({"event": "chat:message:background", "message": second})  # a redelivered shard
        await settle()
        assert [m.seq for m in got] == [1, 2]

        server.store("c1")  # seq 4: said while alice was out
        server.add_member("c1", ME)  # seq 5: joined_seq 5
        ws.push({"event": "chat:message:background", "message": second})  # still before chat:added
        await settle()
        ws.push({"event": "chat:added", "chat": server.chat("c1")})
        ws.push({"event": "chat:message:background", "message": server.store("c1")})  # seq 6
        ws.push({"event": "chat:message:background", "message": second})  # and once more
        await settle()
        await client.close()
        return [m.seq for m in got]

    assert run(scenario()) == [1, 2, 6]


def test_a_frame_reposted_after_leaving_is_ignored():
    server = FakeServer()

    async def scenario() -> list[int]:
        client = client_for(server)
        got: list[Message] = []
        client.on_background = got.append
        await client.start()
        ws = server.connections[-1]
        message = server.store("c1")
        ws.push({"event": "chat:message:background", "message": message})
        await settle()
        await client.leave("c1")
        ws.push({"event": "chat:message:background", "message": message})
        await settle()
        await client.close()
        return [m.seq for m in got]

    assert run(scenario()) == [1]


def test_a_cancelled_request_leaves_no_future_behind_and_none_unretrieved():
    server = FakeServer()
    reports: list[dict[str, Any]] = []

    async def scenario() -> dict[str, Any]:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: reports.append(context))
        client = client_for(server)
        await client.start()
        hold = asyncio.Event()
        in_hook = asyncio.Event()

        async def stall(frame: dict[str, Any]) -> None:
            in_hook.set()
            await hold.wait()  # the frame is out; the reply is not awaited yet

        client.after_send_frame = stall
        ws = server.connections[-1]
        answering = ws.send

        async def unanswered(raw: str) -> None:  # the send reaches nobody: no reply ever comes
            if '"message.send"' not in raw:
                await answering(raw)

        ws.send = unanswered  # type: ignore[method-assign]
        sending = asyncio.ensure_future(client.send("c1", "hello"))
        await in_hook.wait()
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        pending = dict(client._pending)
        await reconnect(client, server)  # a lost connection fails whatever is still pending
        await client.close()
        del sending
        gc.collect()
        await settle()
        return pending

    pending = run(scenario())
    assert pending == {}
    assert [c for c in reports if "never retrieved" in str(c.get("message"))] == []


def test_a_stale_chat_added_reposted_after_removal_does_not_bring_old_messages_back_twice():
    """A redelivered shard can carry the ``chat:added`` of an earlier add: the chat is tracked
    again from that old ``joined_seq``, yet what the application already had is not handed
    over a second time."""
    server = FakeServer()
    server.add_chat("c2", ["bob"])

    async def scenario() -> list[int]:
        client = client_for(server)
        got: list[Message] = []
        client.on_background = got.append
        await client.start()
        ws = server.connections[-1]
        server.add_member("c2", ME)  # seq 1
        old_added = {"event": "chat:added", "chat": server.chat("c2")}
        ws.push(old_added)
        message = server.store("c2")  # seq 2
        ws.push({"event": "chat:message:background", "message": message})
        await settle()
        server.remove_member("c2", ME)  # seq 3
        ws.push({"event": "chat:removed", "chat_id": "c2"})
        await settle()
        ws.push(old_added)  # both re-posted late
        ws.push({"event": "chat:message:background", "message": message})
        await settle()
        await client.close()
        return [m.seq for m in got]

    assert run(scenario()) == [2]
