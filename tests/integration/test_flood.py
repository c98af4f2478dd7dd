"""One connection's flood does not starve the others (the gateway runs each connection's frames
a few at a time, round the connections), and a stack stopped in the middle of one exits at once.

The latencies are printed (``-s``), not asserted: the machine is shared."""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
import time
from typing import Any

import pytest
import websockets

from tests.integration.conftest import run
from tests.integration.peer import Peer
from tests.stack import LocalStack

# Well past the rate limit's burst of 200 (most of a flood is refused with rate_limited, which is
# what the gateway must still answer one by one while it serves the other users).
FLOOD = 800
SEND_FLOOD = 250  # a send costs about 10 pings here: 2,000 took 150 s on the 2-core machine
PINGERS = 4


@pytest.fixture(scope="module")
def flood_stack():
    with LocalStack(CHAT_JWT_SECRET="flood-secret-" * 4) as running:
        yield running


async def flood(ws: Any, frames: list[dict[str, Any]]) -> None:
    for frame in frames:
        await ws.send(json.dumps(frame))


async def collect_replies(ws: Any, expected: int, timeout: float) -> dict[str, dict[str, Any]]:
    """Every frame answering one of ours (by ``req``) until ``expected`` came or time ran out."""
    replies: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(replies) < expected and time.monotonic() < deadline:
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        except TimeoutError:
            break
        if "req" in frame:
            replies[frame["req"]] = frame
    return replies


async def ping_until(peer: Peer, done: asyncio.Event, latencies: list[float]) -> int:
    """Ping one at a time until ``done``; every ping must be answered. Returns how many."""
    sent = 0
    while not done.is_set() or sent == 0:
        started = time.monotonic()
        reply = await peer.request("ping", timeout=60)
        assert reply.get("event") == "pong", reply
        latencies.append((time.monotonic() - started) * 1000)
        sent += 1
        await asyncio.sleep(0.02)
    return sent


def report(title: str, latencies: list[float], flood_seconds: float, outcomes: dict[str, int]) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"\n{title}: the flood ({sum(outcomes.values())} frames) was answered in {flood_seconds:.1f} s"
        f" ({outcomes});"
        f" {len(ordered)} pings of {PINGERS} other users meanwhile: p50 {statistics.median(ordered):.0f} ms,"
        f" p99 {p99:.0f} ms, max {ordered[-1]:.0f} ms"
    )


async def flood_while_others_ping(
    stack: LocalStack, flooder_id: str, frames: list[dict[str, Any]], others: list[str]
):
    flooder = await websockets.connect(stack.ws_url(flooder_id), max_size=None, compression=None)
    pingers = [await Peer.connect(stack.ws_url(name), name) for name in others]
    done = asyncio.Event()
    latencies: list[float] = []
    started = time.monotonic()
    pinging = [asyncio.ensure_future(ping_until(peer, done, latencies)) for peer in pingers]
    replies_task = asyncio.ensure_future(collect_replies(flooder, len(frames), timeout=240))
    await flood(flooder, frames)
    replies = await replies_task
    flood_seconds = time.monotonic() - started
    done.set()
    pings = await asyncio.gather(*pinging)
    await flooder.close()
    for peer in pingers:
        await peer.close()
    return replies, flood_seconds, latencies, pings


def outcome_counts(replies: dict[str, dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for frame in replies.values():
        kind = frame.get("event", "?")
        if kind == "error":
            kind = f"error {frame.get('code')}"
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def test_a_ping_flood_from_one_connection_does_not_starve_other_users(flood_stack, user):
    frames = [{"action": "ping", "req": f"f{i}"} for i in range(FLOOD)]
    others = [user("pinger") for _ in range(PINGERS)]
    replies, seconds, latencies, pings = run(
        flood_while_others_ping(flood_stack, user("flooder"), frames, others), 300
    )
    report("ping flood", latencies, seconds, outcome_counts(replies))
    assert len(replies) == FLOOD  # every frame of the flood answered (pong, or an error such as rate_limited)
    assert all(count >= 1 for count in pings)  # every other user's pings were all answered
    assert "Connection pool is full" not in flood_stack.text


def test_a_send_flood_into_one_chat_does_not_starve_other_users(flood_stack, user):
    async def scenario():
        sender, member = user("sender"), user("member")
        creator = await Peer.connect(flood_stack.ws_url(sender), sender)
        chat_id = (await creator.request("chat.create", members=[member]))["chat"]["chat_id"]
        await creator.close()
        frames = [
            {
                "action": "message.send",
                "chat_id": chat_id,
                "client_msg_id": f"m{i}",
                "text": f"{i}",
                "req": f"s{i}",
            }
            for i in range(SEND_FLOOD)
        ]
        return await flood_while_others_ping(
            flood_stack, sender, frames, [user("pinger") for _ in range(PINGERS)]
        )

    replies, seconds, latencies, pings = run(scenario(), 300)
    report("send flood into one chat", latencies, seconds, outcome_counts(replies))
    assert len(replies) == SEND_FLOOD
    assert all(count >= 1 for count in pings)
    assert "Connection pool is full" not in flood_stack.text


def test_sigterm_in_the_middle_of_a_flood_stops_promptly():
    async def start_flood(stack: LocalStack) -> None:
        alice = await Peer.connect(stack.ws_url("alice"), "alice")
        bob = await Peer.connect(stack.ws_url("bob"), "bob")
        chat_id = (await alice.request("chat.create", members=["bob"]))["chat"]["chat_id"]
        frames = [{"action": "ping", "req": f"p{i}"} for i in range(FLOOD)] + [
            {
                "action": "message.send",
                "chat_id": chat_id,
                "client_msg_id": f"m{i}",
                "text": "x",
                "req": f"s{i}",
            }
            for i in range(FLOOD // 4)
        ]
        await flood(alice.ws, frames)
        await asyncio.sleep(1)  # invocations running and queued
        del bob

    stack = LocalStack(CHAT_JWT_SECRET="sigterm-secret-" * 3).start()
    try:
        run(start_flood(stack), 60)
        took = stack.stop(signal.SIGTERM, timeout=60)
    finally:
        stack.kill()
    print(f"\nSIGTERM in the middle of a flood: exited {stack.process.returncode} after {took:.1f} s")
    assert stack.process.returncode == 0
    assert "Stopped." in stack.text and "Traceback" not in stack.text


async def warm_up(stack: LocalStack, users: list[str], rounds: int = 3) -> None:
    """Start every $default worker the stack may have before measuring: a worker starts (a cold
    start, seconds on a loaded machine) only when all are busy, and an invocation that waits for
    one would be counted as latency of the flood's victims."""
    peers = [await Peer.connect(stack.ws_url(name), name) for name in users]
    for _ in range(rounds):
        await asyncio.gather(*(peer.request("ping", timeout=120) for peer in peers for _ in range(4)))
    for peer in peers:
        await peer.close()


BURST_SENDS = 1000  # issue 21: 1,000 message.send in a burst from one connection
# Printed, not asserted: issue 21's 50 ms p99 is a figure of the quiet machine (37-49 ms measured,
# docs/reliability.md); under the suite's own parallel load it moves with everything else. What
# is asserted is that nobody starves: before the fix one connection's burst held every $default
# worker (1,478 ms p99 on the loaded machine, 13.2 s with more concurrency per connection).
STARVED_MS = 750.0  # half the starved figure: a fair gateway under the suite's load stays far below


def p99_of(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def quiet_pings(stack: LocalStack, users: list[str], seconds: float) -> list[float]:
    """Other users' ping latencies with no flood: what this machine gives right now."""
    peers = [await Peer.connect(stack.ws_url(name), name) for name in users]
    done = asyncio.Event()
    latencies: list[float] = []
    pinging = [asyncio.ensure_future(ping_until(peer, done, latencies)) for peer in peers]
    await asyncio.sleep(seconds)
    done.set()
    await asyncio.gather(*pinging)
    for peer in peers:
        await peer.close()
    return latencies


def test_a_burst_of_1000_sends_is_refused_at_once_and_other_users_keep_their_latency(flood_stack, user):
    """Issue 21, acceptance 3: every frame is counted when it arrives (not when its queued
    invocation runs), so a burst of 1,000 sends gets ``rate_limited`` for all past the 200 the
    limit allows, and other users' pings keep their latency meanwhile: their p99 is printed beside
    the p99 they get with no flood just before (under 50 ms on the quiet machine), and the test
    asserts only that they are not starved (``STARVED_MS``, or 8x the quiet p99 on a machine
    loaded enough that even that is high)."""

    async def scenario():
        sender, member = user("burster"), user("member")
        creator = await Peer.connect(flood_stack.ws_url(sender), sender)
        chat_id = (await creator.request("chat.create", members=[member]))["chat"]["chat_id"]
        await creator.close()
        await warm_up(flood_stack, [user("warmer") for _ in range(PINGERS)])
        pingers = [user("pinger") for _ in range(PINGERS)]
        quiet = await quiet_pings(flood_stack, pingers, seconds=3)
        frames = [
            {
                "action": "message.send",
                "chat_id": chat_id,
                "client_msg_id": f"b{i}",
                "text": f"{i}",
                "req": f"b{i}",
            }
            for i in range(BURST_SENDS)
        ]
        return quiet, await flood_while_others_ping(flood_stack, sender, frames, pingers)

    quiet, (replies, seconds, latencies, pings) = run(scenario(), 300)
    outcomes = outcome_counts(replies)
    report(f"burst of {BURST_SENDS} sends", latencies, seconds, outcomes)
    quiet_p99, p99 = p99_of(quiet), p99_of(latencies)
    bound = max(STARVED_MS, 8 * quiet_p99)
    print(
        f"other users' ping p99: {quiet_p99:.0f} ms with no flood ({len(quiet)} pings),"
        f" {p99:.0f} ms during the burst; bound {bound:.0f} ms"
    )
    assert len(replies) == BURST_SENDS
    # All past the burst of 200 (a few more are admitted as the allowance refills meanwhile).
    assert outcomes.get("error rate_limited", 0) >= BURST_SENDS - 250, outcomes
    assert set(outcomes) <= {"message:ack", "error rate_limited"}, outcomes
    assert all(count >= 1 for count in pings)
    assert p99 < bound, f"other users starved: ping p99 {p99:.0f} ms in the burst (quiet: {quiet_p99:.0f} ms)"
