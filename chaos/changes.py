"""Messages that change, in the chaos run: while the faults fire, the stack pauses and
connections are cut, each client edits and deletes its own messages and reacts to the messages
it holds (``ChangeTraffic.worker``), viewing one chat so that some changes arrive as live
``chat:message:updated`` frames and the rest through ``chat.changes`` after a reconnect. At the
end (``check_copies``) every client's local copy of each chat it is in must show each message
as a fresh ``chat.history`` does.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chaos import checks
from chaos.checks import Findings
from chatclient import ChatClient, ChatError, ConnectionLost, Message, RequestTimeout

log = logging.getLogger("chaos")

EMOJI = ("👍", "❤️", "😂", "🎉", None)  # None takes the reaction back
NO_ANSWER = (ChatError, ConnectionLost, RequestTimeout, TimeoutError)


class Changer(Protocol):
    """What the worker needs of a chaos user (``chaos.run.User``)."""

    name: str
    client: ChatClient
    sent: dict[str, str]  # client_msg_id -> chat_id
    acks: dict[str, int]  # client_msg_id -> seq
    handed: dict[str, list[int]]  # chat_id -> seqs handed to the application

    async def hand(self, message: Message) -> None: ...


@dataclass
class ChangeTally:
    edits: int = 0
    deletes: int = 0
    reactions: int = 0
    views: int = 0  # chats opened, so that their changes come as live frames
    refused: Counter[str] = field(default_factory=Counter)  # by error code; "no answer" for timeouts

    def summary(self) -> str:
        refused = ", ".join(f"{code} {n}" for code, n in sorted(self.refused.items())) or "none refused"
        return f"{self.edits} edits, {self.deletes} deletes, {self.reactions} reactions ({refused})"


class ChangeTraffic:
    def __init__(self, rng: random.Random, interval: float) -> None:
        self.random = rng
        self.interval = interval  # mean seconds between one client's changes (0: none)
        self.tally = ChangeTally()

    async def start(
        self, users: Sequence[Changer], members: Mapping[str, set[str]], stop: asyncio.Event
    ) -> list[asyncio.Future[None]]:
        """Each user views the first chat it is in (``members``: the run's view of each chat's
        members; before anyone sends), then changes messages until ``stop``."""
        for user in users:
            mine = sorted(chat for chat, names in members.items() if user.name in names)
            if mine and self.interval > 0:
                await self.view(user, mine[0])
        return [asyncio.ensure_future(self.worker(user, members, stop)) for user in users]

    async def view(self, user: Changer, chat_id: str) -> None:
        """The user views ``chat_id`` (re-opened after every reconnect by the client)."""
        for _ in range(10):
            try:
                opened = await user.client.open_chat(chat_id, user.hand)
                self.tally.views += 1
                for message in opened.messages:  # shown by the open: the application has them
                    if message.seq > max(user.handed.get(chat_id, [0])):
                        await user.hand(message)
                return
            except NO_ANSWER as exc:
                if isinstance(exc, ChatError) and not exc.retryable:
                    return
                await asyncio.sleep(0.5)

    async def worker(self, user: Changer, members: Mapping[str, set[str]], stop: asyncio.Event) -> None:
        """Until ``stop``: now and then one change, in a chat ``members`` says the user is in."""
        if self.interval <= 0:
            return
        n = 0
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.random.expovariate(1.0 / self.interval))
                return
            except TimeoutError:
                pass
            n += 1
            try:
                chats = sorted(chat for chat, names in members.items() if user.name in names)
                await self.change_once(user, chats, n)
            except NO_ANSWER as exc:
                self.tally.refused[exc.code if isinstance(exc, ChatError) else "no answer"] += 1
            except Exception as exc:  # the client failed in a way it should not: counted, shown
                log.warning("%s's change %d failed: %r", user.name, n, exc)
                self.tally.refused[type(exc).__name__] += 1

    async def change_once(self, user: Changer, chats: list[str], n: int) -> None:
        own = sorted((chat, seq) for cmid, seq in user.acks.items() if (chat := user.sent[cmid]) in chats)
        held = [
            m for chat in chats for m in user.client.local_messages(chat) if not m.is_system and not m.deleted
        ]
        roll = self.random.random()
        if held and (roll < 0.5 or not own):
            target = self.random.choice(held)
            await user.client.react(target.chat_id, target.seq, self.random.choice(EMOJI))
            self.tally.reactions += 1
        elif own and roll < 0.9:
            chat_id, seq = self.random.choice(own)
            await user.client.edit(chat_id, seq, f"edit {n} by {user.name}")
            self.tally.edits += 1
        elif own:
            chat_id, seq = self.random.choice(own)
            await user.client.delete(chat_id, seq)
            self.tally.deletes += 1


async def stored_now(client: ChatClient, chat_id: str) -> dict[int, Message] | None:
    """Every message of the chat as stored now, read with plain ``chat.history`` requests that
    leave the client's copy alone (None: not a member any more)."""
    messages: dict[int, Message] = {}
    before: int | None = None
    while True:
        fields: dict[str, Any] = {"chat_id": chat_id, "limit": 100}
        if before is not None:
            fields["before"] = before
        try:
            reply = await client.request("chat.history", **fields)
        except ChatError as exc:
            if exc.means_not_a_member:
                return None
            raise
        page = [Message.from_wire(m) for m in reply["messages"]]
        messages.update((m.seq, m) for m in page)
        if not page or not reply.get("has_more"):
            return messages
        before = page[0].seq


async def check_copies(users: Mapping[str, Changer], timeout: float) -> Findings:
    """Every client's copy of each chat it holds against what is stored, again until they all
    match or ``timeout`` passes (a resync step refused by a fault is retried in the background)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = Findings()
        try:
            for name, user in sorted(users.items()):
                client = user.client
                for chat_id in client.local_chats:
                    copy = {m.seq: m for m in client.local_messages(chat_id)}  # before the read
                    stored = await stored_now(client, chat_id)
                    if stored is not None:
                        found.extend(checks.check_copy(name, chat_id, copy, stored))
        except NO_ANSWER as exc:
            log.info("reading the stored messages failed (%s); again", exc)
            found.diverged.append(f"could not read every chat's messages ({exc})")
        if not found.diverged or loop.time() > deadline:
            return found
        await asyncio.sleep(1.0)
