"""What the chaos run found (docs/reliability.md), each against the scripted in-memory server of
tests/unit/test_chatclient.py (no sockets):

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

from tests.unit.test_chatclient import FakeServer, client_for, reconnect, run, settle


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
