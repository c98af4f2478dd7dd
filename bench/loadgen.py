"""Load against a running local stack: many connections in many chats, concurrent sends, every
frame recorded, and a check that each connection got exactly what the protocol says.

Layout: ``chats`` chats of ``members`` users each; every user holds ``devices`` connections, the
first viewing the chat (it gets ``chat:message``), the others elsewhere in the app (they get
``chat:message:background``); with ``viewers`` set, only that many users per chat view it.
Messages go round-robin over the chats, each from a random member connection, ``concurrency``
in flight at once; with ``rate`` set, one every ``1/rate`` seconds on a fixed schedule (an
open loop: a slow stack does not slow the senders, it grows the latency). With ``paced`` a
message stays in flight until every recipient connection has it (a window over the whole
path, so latency is not queueing behind an ever-growing backlog); otherwise until its ack. A
send answered ``unavailable`` (the protocol's "safe to retry") is sent again with the same
``client_msg_id``, as a client would, and counted. Chat setup (each member's ``chat:added``,
which a large chat's fan-out may deliver after the creator's reply) is complete before the
measurement starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

TokenFor = Callable[[str], Awaitable[str]]
Key = tuple[str, str]  # (chat_id, client_msg_id)
SEND_TRIES = 8


@dataclass(frozen=True)
class Shape:
    chats: int
    members: int
    devices: int
    messages: int
    concurrency: int = 50
    paced: bool = False  # in flight until delivered everywhere, not just acked
    viewers: int | None = None  # users per chat whose first device views it (None: every user)
    rate: float | None = None  # messages per second on a fixed schedule (None: as fast as the window)

    @property
    def connections(self) -> int:
        return self.chats * self.members * self.devices


class Arrivals:
    """Counts each message's frames across all connections: when it has arrived everywhere, and
    when every message has."""

    def __init__(self, per_message: int) -> None:
        self.per_message = per_message
        self.counts: Counter[Key] = Counter()
        self.total = 0
        self.everywhere: dict[Key, asyncio.Event] = defaultdict(asyncio.Event)

    def arrived(self, key: Key) -> None:
        self.counts[key] += 1
        self.total += 1
        if self.counts[key] >= self.per_message:
            self.everywhere[key].set()

    async def wait(self, key: Key, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):  # verify() reports what is missing
            await asyncio.wait_for(self.everywhere[key].wait(), timeout)


@dataclass
class Conn:
    name: str
    user: str
    chat_index: int
    viewing: bool
    ws: Any = None
    frames: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    replies: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None
    arrivals: Arrivals | None = None


@dataclass
class Result:
    shape: Shape
    seconds: float
    acks: dict[Key, dict[str, Any]]  # -> ack frame
    sent_at: dict[Key, float]
    sender: dict[Key, str]  # -> sending connection name
    conns: list[Conn]
    chat_ids: list[str]
    problems: list[str]
    posts: int | None = None  # management API posts during the sends, when stats were given
    retries: int = 0  # sends answered `unavailable` (chat too busy) and sent again, as clients do
    acked_at: dict[Key, float] = field(default_factory=dict)  # when the sender had its ack

    @property
    def messages_per_second(self) -> float:
        return len(self.acks) / self.seconds if self.seconds else 0.0

    def latencies_ms(self) -> list[float]:
        out = []
        for conn in self.conns:
            for at, frame in conn.frames:
                if frame.get("event") in ("chat:message", "chat:message:background"):
                    m = frame["message"]
                    key = (m["chat_id"], m["client_msg_id"])
                    if key in self.sent_at:
                        out.append((at - self.sent_at[key]) * 1000)
        return out

    def ack_to_last_delivery_ms(self) -> list[float]:
        """Per acked message: from its ack reaching the sender to its last delivery anywhere
        (negative if every delivery came before the ack)."""
        last: dict[Key, float] = {}
        for conn in self.conns:
            for at, frame in conn.frames:
                if frame.get("event") in ("chat:message", "chat:message:background"):
                    m = frame["message"]
                    key = (m["chat_id"], m["client_msg_id"])
                    last[key] = max(at, last.get(key, at))
        return [(last[key] - acked) * 1000 for key, acked in self.acked_at.items() if key in last]

    def deliveries(self) -> int:
        return sum(
            1
            for conn in self.conns
            for _, f in conn.frames
            if f.get("event") in ("chat:message", "chat:message:background")
        )


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(result: Result) -> dict[str, float]:
    lat = result.latencies_ms()
    return {
        "connections": result.shape.connections,
        "messages": len(result.acks),
        "deliveries": result.deliveries(),
        "seconds": round(result.seconds, 2),
        "messages_per_s": round(result.messages_per_second, 1),
        "deliveries_per_s": round(result.deliveries() / result.seconds, 1) if result.seconds else 0.0,
        "p50_ms": round(percentile(lat, 50), 1),
        "p99_ms": round(percentile(lat, 99), 1),
        "mean_ms": round(statistics.fmean(lat), 1) if lat else float("nan"),
        "retries": result.retries,
    }


async def _read(conn: Conn) -> None:
    try:
        async for raw in conn.ws:
            now = time.perf_counter()
            frame = json.loads(raw)
            future = conn.replies.pop(frame.get("req"), None) if frame.get("req") else None
            if future is not None and not future.done():
                future.set_result(frame)
            else:
                conn.frames.append((now, frame))
                if conn.arrivals and frame.get("event") in ("chat:message", "chat:message:background"):
                    conn.arrivals.arrived((frame["message"]["chat_id"], frame["message"]["client_msg_id"]))
    except websockets.ConnectionClosed:
        pass


_reqs = itertools.count(1)


async def _request(conn: Conn, timeout: float, action: str, **fields: Any) -> dict[str, Any]:
    req = f"q{next(_reqs)}"
    future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    conn.replies[req] = future
    await conn.ws.send(json.dumps({"action": action, "req": req, **fields}))
    return await asyncio.wait_for(future, timeout)


async def run(
    ws_base: str,
    token_for: TokenFor,
    shape: Shape,
    timeout: float = 120,
    seed: int = 7,
    posts_so_far: Callable[[], Awaitable[int]] | None = None,
) -> Result:
    rng = random.Random(seed)
    run_id = uuid.uuid4().hex[:6]
    conns: list[Conn] = []
    for k in range(shape.chats):
        for j in range(shape.members):
            user = f"load-{run_id}-c{k}-u{j}"
            views = shape.viewers is None or j < shape.viewers
            for d in range(shape.devices):
                conns.append(Conn(name=f"{user}/{d}", user=user, chat_index=k, viewing=views and d == 0))

    users = sorted({c.user for c in conns})  # one token per user, fetched at once
    tokens = dict(zip(users, await asyncio.gather(*(token_for(u) for u in users)), strict=True))
    connect_gate = asyncio.Semaphore(50)

    async def connect(conn: Conn) -> None:
        async with connect_gate:
            conn.ws = await websockets.connect(
                f"{ws_base}?token={tokens[conn.user]}", max_size=None, compression=None, open_timeout=30
            )
        conn.reader = asyncio.ensure_future(_read(conn))

    await asyncio.gather(*(connect(c) for c in conns))
    by_chat: dict[int, list[Conn]] = defaultdict(list)
    for conn in conns:
        by_chat[conn.chat_index].append(conn)

    chat_ids: list[str] = []
    for k in range(shape.chats):
        creator = by_chat[k][0]
        others = sorted({c.user for c in by_chat[k]} - {creator.user})
        created = await _request(creator, timeout, "chat.create", members=others, title=f"load {k}")
        chat_ids.append(created["chat"]["chat_id"])
    await _until_added(conns, {by_chat[k][0].user for k in by_chat}, timeout)
    await asyncio.gather(
        *(_request(c, timeout, "chat.open", chat_id=chat_ids[c.chat_index]) for c in conns if c.viewing)
    )
    arrivals = Arrivals(per_message=shape.members * shape.devices - 1)
    for conn in conns:  # setup frames (chat:added) are not part of the measurement
        conn.frames.clear()
        conn.arrivals = arrivals

    acks: dict[Key, dict[str, Any]] = {}
    acked_at: dict[Key, float] = {}
    sent_at: dict[Key, float] = {}
    sender: dict[Key, str] = {}
    retried: Counter[Key] = Counter()
    gate = asyncio.Semaphore(shape.concurrency)

    async def send(i: int) -> None:
        k = i % shape.chats
        conn = rng.choice(by_chat[k])
        key = (chat_ids[k], f"m{i}")
        if shape.rate:
            await asyncio.sleep(max(0.0, started + i / shape.rate - time.perf_counter()))
        async with gate:
            sent_at[key] = time.perf_counter()
            sender[key] = conn.name
            fields = {"chat_id": key[0], "client_msg_id": key[1], "text": f"load message {i}"}
            for attempt in range(SEND_TRIES):
                reply = await _request(conn, timeout, "message.send", **fields)
                if reply.get("code") != "unavailable" or attempt == SEND_TRIES - 1:
                    break
                retried[key] += 1  # as a client does: the same client_msg_id, so never a duplicate
                await asyncio.sleep(rng.uniform(0, 0.1 * 2 ** min(attempt, 4)))
            acks[key] = reply
            acked_at[key] = time.perf_counter()
            if shape.paced and reply.get("event") == "message:ack":
                await arrivals.wait(key, timeout)

    posts_before = await posts_so_far() if posts_so_far else 0
    started = time.perf_counter()
    await asyncio.gather(*(send(i) for i in range(shape.messages)))
    expected_total = shape.messages * (shape.members * shape.devices - 1)
    deadline = time.perf_counter() + timeout
    while arrivals.total < expected_total and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
    seconds = time.perf_counter() - started
    await asyncio.sleep(0.3)  # anything extra (a duplicate) would arrive now

    posts = (await posts_so_far()) - posts_before if posts_so_far else None
    result = Result(
        shape, seconds, acks, sent_at, sender, conns, chat_ids, [], posts, sum(retried.values()), acked_at
    )
    result.problems = verify(result)
    await asyncio.gather(*(c.ws.close() for c in conns), return_exceptions=True)
    return result


async def _until_added(conns: list[Conn], creators: set[str], timeout: float) -> None:
    """Wait until every member other than its creator has its chat's ``chat:added`` (verify()
    reports any that never came: it would be a frame in the measurement)."""

    def waiting() -> bool:
        return any(
            conn.user not in creators and all(f.get("event") != "chat:added" for _, f in conn.frames)
            for conn in conns
        )

    deadline = time.perf_counter() + timeout
    while waiting() and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)


def verify(result: Result) -> list[str]:
    """Every connection got exactly the frames the protocol promises; every chat's seq is gapless."""
    problems: list[str] = []
    for key, ack in result.acks.items():
        if ack.get("event") != "message:ack":
            problems.append(f"{key}: reply {ack}")
    seqs: dict[str, list[int]] = defaultdict(list)
    for (chat_id, _), ack in result.acks.items():
        if ack.get("event") == "message:ack":
            seqs[chat_id].append(ack["seq"])
    for chat_id, values in seqs.items():
        if sorted(values) != list(range(1, len(values) + 1)):
            problems.append(f"{chat_id}: seq not gapless/unique: {sorted(values)[:10]}...")
    for conn in result.conns:
        chat_id = result.chat_ids[conn.chat_index]
        expected_event = "chat:message" if conn.viewing else "chat:message:background"
        expected = Counter(
            key for key, name in result.sender.items() if key[0] == chat_id and name != conn.name
        )
        got: Counter[Key] = Counter()
        for _, frame in conn.frames:
            event = frame.get("event")
            if event in ("chat:message", "chat:message:background"):
                if event != expected_event:
                    problems.append(f"{conn.name}: got {event}, expected {expected_event}")
                m = frame["message"]
                got[(m["chat_id"], m["client_msg_id"])] += 1
            else:
                problems.append(f"{conn.name}: unexpected frame {frame}")
        if got != expected:
            missing = expected - got
            extra = got - expected
            problems.append(f"{conn.name}: {sum(missing.values())} missing, {sum(extra.values())} extra")
    return problems
