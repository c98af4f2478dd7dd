"""Edits, deletes and reactions racing reconnects, on the local stack (no injected AWS faults:
the chaos run has those): four users change the messages of a group while their connections
are cut again and again without a close frame. Once the changes stop and everyone is back, the
viewers' local copies (live frames, and chat.changes after each reconnect) equal a fresh
chat.history with no further help; the others' (chat.changes only) do after one more
reconnect, as a phone's app would on coming back."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Iterator

import pytest

from chatclient import ChatClient, ChatError, ConnectionLost, Message, RequestTimeout
from tests.client.conftest import make_client, wait_for
from tests.integration.conftest import run
from tests.stack import ONE_PROCESS, LocalStack

EMOJI = ("👍", "❤️", "🎉", None)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(CHAT_JWT_SECRET="race-secret-" * 4, **ONE_PROCESS) as running:
        yield running


async def stored(client: ChatClient, chat_id: str) -> dict[int, Message]:
    messages: dict[int, Message] = {}
    async for page in client.history_pages(chat_id, limit=100):
        messages.update((m.seq, m) for m in page)
    return messages


def stale(client: ChatClient, chat_id: str, now: dict[int, Message]) -> list[int]:
    """The seqs of the client's copy that are not as stored."""
    return sorted(m.seq for m in client.local_messages(chat_id) if now.get(m.seq) != m)


def test_every_copy_ends_as_stored_when_edits_deletes_and_reactions_race_reconnects(stack):
    rng = random.Random(22)
    run_id = uuid.uuid4().hex[:6]
    names = [f"{who}-{run_id}" for who in ("alice", "bob", "carol", "dave")]
    tally = {"changes": 0, "cut": 0, "unanswered": 0, "refused": 0}

    async def act(client: ChatClient, chat_id: str, own: list[int], everyone: list[int]) -> None:
        for n in range(20):
            roll = rng.random()
            try:
                if roll < 0.55:
                    await client.react(chat_id, rng.choice(everyone), rng.choice(EMOJI))
                elif roll < 0.95:
                    await client.edit(chat_id, rng.choice(own), f"edit {n} by {client.user_id}")
                else:
                    await client.delete(chat_id, rng.choice(own))
                tally["changes"] += 1
            except (ConnectionLost, RequestTimeout, TimeoutError):
                tally["unanswered"] += 1  # cut under it: it may or may not have been made
            except ChatError as exc:
                assert exc.code == "bad_request", exc  # a deleted message is not edited or reacted to
                tally["refused"] += 1
            await asyncio.sleep(rng.uniform(0, 0.05))

    async def cut(stop: asyncio.Event) -> None:
        while not stop.is_set():
            listed = await asyncio.to_thread(stack.connections)
            ours = sorted(c["connectionId"] for c in listed if c["user"] in names)
            if ours:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(stack.drop, rng.choice(ours))
                    tally["cut"] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.uniform(0.3, 0.8))

    async def scenario():
        async with contextlib.AsyncExitStack() as clients:
            alice, bob, carol, dave = [
                await clients.enter_async_context(make_client(stack, n)) for n in names
            ]
            chat = await alice.create_chat(names[1:], title="Race")
            for viewer in (bob, carol):  # their changes come as frames too; alice and dave's do not
                await viewer.open_chat(chat.chat_id, lambda m: None)
            own: dict[str, list[int]] = {}
            for client in (alice, bob, carol, dave):
                own[client.user_id or ""] = [(await client.send(chat.chat_id, f"{n}")).seq for n in range(3)]
            everyone = sorted(seq for seqs in own.values() for seq in seqs)

            stop = asyncio.Event()
            cutter = asyncio.ensure_future(cut(stop))
            await asyncio.gather(
                *(act(c, chat.chat_id, own[c.user_id or ""], everyone) for c in (alice, bob, carol, dave))
            )
            stop.set()
            await cutter
            print(f"\n{tally}")
            assert tally["changes"] >= 25 and tally["cut"] >= 5, tally
            for client in (alice, bob, carol, dave):
                await wait_for(lambda c=client: c.state == "online", timeout=30)

            async with make_client(stack, names[0]) as fresh:
                now = await stored(fresh, chat.chat_id)
            for viewer in (bob, carol):
                await wait_for(lambda v=viewer: not stale(v, chat.chat_id, now), timeout=30)
                held = {m.seq for m in viewer.local_messages(chat.chat_id)}
                assert held >= set(everyone) - set(own[viewer.user_id or ""]), held  # all the others'

            for client in (alice, dave):  # not viewing: what changed since their last reconnect
                before = client.connects
                for connection in await asyncio.to_thread(stack.connections):
                    if connection["user"] == client.user_id:
                        await asyncio.to_thread(stack.drop, connection["connectionId"])
                await wait_for(lambda c=client, b=before: c.connects > b and c.state == "online", timeout=30)
                await wait_for(lambda c=client: not stale(c, chat.chat_id, now), timeout=30)
            assert stale(dave, chat.chat_id, now) == [] and len(dave.local_messages(chat.chat_id)) >= 9

    run(scenario())
