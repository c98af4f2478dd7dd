"""How long a push takes in the local stack: from the sender's ``message:ack`` to the emulated
provider's record (``/dev/push``'s ``sent_at``), over 60 messages to an offline member.

Two ways: one message at a time (each sent once the previous push is recorded: the path's own
latency), and 60 back to back (a busy chat: the stack, its moto and the worker share two
cores with the sender). The path is the send Lambda's SendMessageBatch, the event source
mapping's long poll, the push worker (devices, badge, claim) and SNS Publish.

Printed, not asserted (the machine is shared). Asserted: every message gives exactly one push.
"""

from __future__ import annotations

import math
import statistics
import time
from datetime import datetime

import pytest

from tests.integration.conftest import run
from tests.integration.peer import Peer
from tests.integration.push.push_support import connect, offline, register, wait_for_pushes

MESSAGES = 60  # enough for a p50 and a max; what is asserted (one push each) holds at any count


@pytest.mark.slow
def test_time_from_ack_to_push(stack, user, capsys):
    async def scenario() -> dict[str, list[float]]:
        alice, bob = user("alice"), user("bob")
        b = await connect(stack, bob)
        await register(b, "fcm", f"pixel-{bob}")
        await offline(stack, b)
        a = await connect(stack, alice)
        results = {}
        for mode, one_at_a_time in (("one at a time", True), ("back to back", False)):
            created = await a.request("chat.create", members=[bob])
            results[mode] = await _latencies(stack, a, bob, created["chat"]["chat_id"], one_at_a_time)
        await a.close()
        return results

    results = run(scenario(), timeout=280)
    with capsys.disabled():
        print(f"\n  push latency, ack -> /dev/push record, {MESSAGES} messages:")
        for mode, seconds in results.items():
            ms = sorted(1000 * s for s in seconds)
            p99 = ms[math.ceil(0.99 * len(ms)) - 1]  # nearest rank
            print(f"    {mode:<14} p50 {statistics.median(ms):.0f} ms, p99 {p99:.0f} ms, max {ms[-1]:.0f} ms")


async def _latencies(stack, sender: Peer, user: str, chat_id: str, one_at_a_time: bool) -> list[float]:
    """Send MESSAGES messages; each one's seconds from its ack to its push record."""
    before = {r["notification"]["message_id"] for r in await wait_for_pushes(stack, user, 0)}
    acked: dict[str, float] = {}
    for i in range(MESSAGES):
        ack = await sender.send_text(chat_id, f"message {i}")
        acked[ack["message_id"]] = time.time()
        if one_at_a_time:
            await wait_for_pushes(stack, user, len(before) + len(acked))
    records = await wait_for_pushes(stack, user, len(before) + MESSAGES, timeout=120)
    new = [r for r in records if r["notification"]["message_id"] not in before]
    assert sorted(r["notification"]["message_id"] for r in new) == sorted(acked)  # each pushed once
    assert [r["notification"]["chat_id"] for r in new] == [chat_id] * MESSAGES
    return [
        datetime.fromisoformat(r["sent_at"]).timestamp() - acked[r["notification"]["message_id"]] for r in new
    ]
