"""A chaos run: the local stack with faults firing at a set rate, paused (SIGSTOP) now and then,
connections cut; N ``chatclient`` clients in M chats send with unique client_msg_ids while the
chats' admins add and remove members and the clients edit, delete and react (``chaos.changes``).
At the end every client resyncs and ``chaos.checks`` looks at what was stored (read through the
stack's embedded DynamoDB), acknowledged, received and handed to the application, and at each
client's local copy of its chats against a fresh ``chat.history``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import random
import signal
import tempfile
import time
import urllib.error
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

from chaos import checks
from chaos.changes import ChangeTally, ChangeTraffic, check_copies
from chaos.checks import Findings, Frame, Record, Stored
from chatclient import Chat, ChatClient, ChatError, ConnectionLost, Message, RequestTimeout
from chatclient.backoff import Backoff
from chatlocal.process import LocalStack

log = logging.getLogger("chaos")

TABLE_PREFIX = "chaos"
CONNECTION_TTL_SECONDS = 7500  # the app's default (CHAT_CONNECTION_TTL_SECONDS)
# Every kind but sns_error (the run registers no devices) and post_gone: an injected 410 for a
# socket that is still open is a state API Gateway never produces (its record is forgotten while
# the client keeps using it: every request then answers forbidden). The run's cut connections
# produce real 410s; tests/functional/delivery/test_faults.py covers post_gone.
DEFAULT_KINDS = (
    "throughput,throttle,server_error,conflict,timeout_before,timeout_after,post_429,post_500,"
    "post_timeout,post_timeout_after,sqs_error,crash,disconnect_lost"
)


@dataclass(frozen=True)
class Options:
    duration: float = 300.0
    seed: int = 7
    clients: int = 8
    chats: int = 3
    rate: float = 0.05
    kinds: str = DEFAULT_KINDS
    interval: float = 1.0  # mean seconds between one client's sends
    churn: float = 5.0  # seconds between membership changes
    pause_every: float = 60.0  # seconds between SIGSTOPs of the stack (0: never)
    pause_seconds: tuple[float, float] = (2.0, 8.0)
    cut_every: float = 10.0  # seconds between cutting a random connection (0: never)
    fanout_threshold: int = 2  # connections above which fan-out goes through SQS
    converge_timeout: float = 120.0
    send_timeout: float = 90.0
    change_interval: float = 2.0  # mean seconds between a client's edits, deletes, reactions (0: none)


@dataclass
class User:
    """One user, one ``ChatClient``, and what happened to it."""

    name: str
    client: ChatClient
    handed: dict[str, list[int]] = field(default_factory=dict)  # chat -> seqs, in the order handed
    frames: list[Frame] = field(default_factory=list)
    sent: dict[str, str] = field(default_factory=dict)  # client_msg_id -> chat_id
    acks: dict[str, int] = field(default_factory=dict)  # client_msg_id -> seq
    attempts: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    unacked: int = 0
    trace: list[tuple[float, str, str, int]] = field(default_factory=list)  # (time, what, chat, seq)

    async def hand(self, message: Message) -> None:
        self.handed.setdefault(message.chat_id, []).append(message.seq)
        self.note("handed", message.chat_id, message.seq)

    async def added(self, chat: Chat) -> None:
        self.note("chat:added", chat.chat_id, chat.joined_seq)

    async def removed(self, chat_id: str) -> None:
        self.note("chat:removed", chat_id, 0)

    async def state(self, state: str) -> None:
        self.note(state, "", 0)

    def note(self, what: str, chat_id: str, seq: int) -> None:
        self.trace.append((time.time(), what, chat_id, seq))


@dataclass
class Tally:
    paused: int = 0
    paused_seconds: float = 0.0
    cuts: int = 0
    changes: int = 0
    change_errors: int = 0


@dataclass
class Result:
    options: Options
    fired: dict[str, int]
    messages: int
    system_messages: int
    sends: int
    acks: int
    retries: int
    refused: dict[str, int]
    unacked: int
    tally: Tally
    converge_seconds: float | None
    left_behind: int
    findings: Findings
    trace: Path | None = None  # what each client saw, written when something was wrong
    repeated_frames: int = 0
    changes: ChangeTally = field(default_factory=ChangeTally)

    @property
    def ok(self) -> bool:
        return not self.findings.violations and self.converge_seconds is not None


class _Tap:
    """A client's WebSocket, recording every chat:message frame it receives."""

    def __init__(self, ws: Any, user: User) -> None:
        self._ws = ws
        self._user = user

    def __aiter__(self) -> _Tap:
        self._iterator = self._ws.__aiter__()
        return self

    async def __anext__(self) -> Any:
        raw = await self._iterator.__anext__()
        with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
            frame = json.loads(raw)
            if frame.get("event") in ("chat:message", "chat:message:background"):
                message = frame["message"]
                self._user.frames.append(Frame(self._user.name, message["chat_id"], int(message["seq"])))
                self._user.note(frame["event"], message["chat_id"], int(message["seq"]))
        return raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)


def _tapping(user_ref: list[User]) -> Callable[..., Awaitable[Any]]:
    async def connect(url: str, **kwargs: Any) -> Any:
        ws = await websockets.connect(url, **kwargs)
        return _Tap(ws, user_ref[0])

    return connect


class Chaos:
    def __init__(self, options: Options, stack: LocalStack) -> None:
        self.options = options
        self.stack = stack
        self.random = random.Random(options.seed)
        self.users: dict[str, User] = {}
        self.chats: dict[str, str] = {}  # chat_id -> admin
        self.initial: dict[str, frozenset[str]] = {}
        self.members: dict[str, set[str]] = {}  # the runner's view, for choosing where to send
        self.tally = Tally()
        self.connections: dict[str, dict[str, Any]] = {}  # connection id -> {user, closed_at}
        self._stop = asyncio.Event()
        self._dynamodb: Any = None
        self.changes = ChangeTraffic(random.Random(options.seed + 1), options.change_interval)

    # -- setup -------------------------------------------------------------------------------------

    async def start_users(self) -> None:
        for i in range(self.options.clients):
            name = f"u{i}"
            ref: list[User] = []
            client = ChatClient(
                self.stack.ws_base,
                self._token_source(name),
                request_timeout=10.0,
                send_timeout=self.options.send_timeout,
                connect_timeout=None,
                backoff=Backoff(base=0.2, cap=3.0),
                connect=_tapping(ref),
            )
            user = User(name, client)
            ref.append(user)
            client.on_background = user.hand
            client.on_chat_added = user.added
            client.on_chat_removed = user.removed
            client.on_state = user.state
            client.after_send_frame = self._counter(user)
            self.users[name] = user
        await asyncio.gather(*(u.client.start() for u in self.users.values()))

    def _token_source(self, name: str) -> Callable[[], Awaitable[str]]:
        async def token() -> str:
            return await asyncio.to_thread(self.stack.token, name)

        return token

    @staticmethod
    def _counter(user: User) -> Callable[[dict[str, Any]], Awaitable[None]]:
        async def count(frame: dict[str, Any]) -> None:
            user.attempts += 1

        return count

    async def create_chats(self) -> None:
        names = sorted(self.users)
        for i in range(self.options.chats):
            admin = names[i % len(names)]
            others = [n for n in names if n != admin]
            invited = self.random.sample(others, k=max(1, len(others) // 2))
            chat = await self._retrying(
                functools.partial(self.users[admin].client.create_chat, invited, f"chaos {i}")
            )
            self.chats[chat.chat_id] = admin
            self.initial[chat.chat_id] = frozenset(chat.members or (admin, *invited))
            self.members[chat.chat_id] = set(self.initial[chat.chat_id])

    async def _retrying(self, call: Callable[[], Awaitable[Any]], tries: int = 20) -> Any:
        """An idempotent request through the faults: retried on anything retryable."""
        for attempt in range(tries):
            try:
                return await call()
            except (ChatError, RequestTimeout, ConnectionLost, TimeoutError) as exc:
                if isinstance(exc, ChatError) and not exc.retryable:
                    raise
                log.info("retry %d after %s", attempt, exc)
                await asyncio.sleep(0.5)
        raise RuntimeError("setup request kept failing")

    # -- the run -----------------------------------------------------------------------------------

    async def sender(self, user: User) -> None:
        n = 0
        while not self._stop.is_set():
            mine = sorted(c for c, members in self.members.items() if user.name in members)
            if mine:
                chat_id = self.random.choice(mine)
                n += 1
                client_msg_id = f"{user.name}-{n}"
                user.sent[client_msg_id] = chat_id
                try:
                    ack = await user.client.send(chat_id, f"message {n} from {user.name}", client_msg_id)
                    user.acks[client_msg_id] = ack.seq
                    user.note("acked", chat_id, ack.seq)
                except ChatError as exc:
                    user.refused[exc.code] += 1
                    user.note(f"send refused {exc.code}", chat_id, 0)
                    if exc.means_not_a_member:
                        self.members[chat_id].discard(user.name)  # the server knows better
                except RequestTimeout:
                    user.unacked += 1
                except Exception as exc:  # the client failed in a way it should not: counted, shown
                    log.warning("%s's send of %s failed: %r", user.name, client_msg_id, exc)
                    user.refused[type(exc).__name__] += 1
            await self._sleep(self.random.expovariate(1.0 / self.options.interval))

    async def churner(self) -> None:
        """Every ``churn`` seconds an admin adds or removes a member, retried until it is answered
        (both are idempotent); given up after 5 tries."""
        while not self._stop.is_set():
            await self._sleep(self.options.churn)
            if self._stop.is_set():
                return
            chat_id = self.random.choice(sorted(self.chats))
            admin = self.users[self.chats[chat_id]].client
            try:
                current = set((await self._retrying(functools.partial(admin.members, chat_id), 5)).members)
                self.members[chat_id] = set(current)
                outsiders = sorted(set(self.users) - current)
                removable = sorted(current - {self.chats[chat_id]})
                if outsiders and (not removable or self.random.random() < 0.5):
                    added = self.random.choice(outsiders)
                    await self._retrying(functools.partial(admin.add_members, chat_id, [added]), 5)
                    self.members[chat_id].add(added)
                elif removable:
                    removed = self.random.choice(removable)
                    self.members[chat_id].discard(removed)  # its sends stop now
                    await self._retrying(functools.partial(admin.remove_members, chat_id, [removed]), 5)
                self.tally.changes += 1
            except (ChatError, RuntimeError) as exc:
                self.tally.change_errors += 1
                log.info("membership change given up: %s", exc)

    async def pauser(self) -> None:
        if self.options.pause_every <= 0 or self.stack.process is None:
            return
        while not self._stop.is_set():
            await self._sleep(self.options.pause_every)
            if self._stop.is_set():
                return
            seconds = self.random.uniform(*self.options.pause_seconds)
            # The whole stack, as a machine that sleeps: its process group (the gateway, the
            # embedded moto's process and every Lambda worker; the stack starts a session).
            os.killpg(self.stack.process.pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(seconds)
            finally:
                os.killpg(self.stack.process.pid, signal.SIGCONT)
            self.tally.paused += 1
            self.tally.paused_seconds += seconds

    async def cutter(self) -> None:
        if self.options.cut_every <= 0:
            return
        while not self._stop.is_set():
            await self._sleep(self.options.cut_every)
            open_ids = [c for c, info in self.connections.items() if info["closed_at"] is None]
            if open_ids and not self._stop.is_set():
                with contextlib.suppress(OSError, urllib.error.URLError):
                    await asyncio.to_thread(self.stack.drop, self.random.choice(sorted(open_ids)))
                    self.tally.cuts += 1

    async def watcher(self) -> None:
        """Which connections are open, and when each closed (polled every second)."""
        while True:
            try:
                listed = await asyncio.to_thread(self.stack.connections)
            except (OSError, urllib.error.URLError, ValueError):
                await asyncio.sleep(1.0)
                continue
            now = time.time()
            open_now = {c["connectionId"]: c.get("user") for c in listed}
            for connection_id, user in open_now.items():
                info = self.connections.setdefault(connection_id, {"user": user, "closed_at": None})
                info["closed_at"] = None
            for connection_id, info in self.connections.items():
                if connection_id not in open_now and info["closed_at"] is None:
                    info["closed_at"] = now
            await asyncio.sleep(1.0)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    # -- the end -----------------------------------------------------------------------------------

    async def resync_everyone(self) -> None:
        """Cut every connection: each client reconnects and resyncs."""
        before = {name: user.client.connects for name, user in self.users.items()}
        listed = await asyncio.to_thread(self.stack.connections)
        for connection in listed:
            with contextlib.suppress(OSError, urllib.error.URLError):
                await asyncio.to_thread(self.stack.drop, connection["connectionId"])
        while any(
            u.client.connects <= before[n] or u.client.state != "online" for n, u in self.users.items()
        ):
            await asyncio.sleep(0.2)

    async def converge(self) -> float | None:
        started = time.monotonic()
        deadline = started + self.options.converge_timeout
        await asyncio.wait_for(self.resync_everyone(), self.options.converge_timeout)
        while time.monotonic() < deadline:
            stored = await asyncio.to_thread(self.read_messages)
            if not self.client_findings(stored).lost:
                return time.monotonic() - started
            await asyncio.sleep(0.5)
        return None

    # -- reading the stack's tables ----------------------------------------------------------------

    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            import boto3

            self._dynamodb = boto3.client(
                "dynamodb",
                endpoint_url=self.stack.dynamodb_endpoint,
                region_name="us-east-1",
                aws_access_key_id="local",
                aws_secret_access_key="local",
            )
        return self._dynamodb

    def read_messages(self) -> dict[str, list[Stored]]:
        return {chat_id: list(self._messages(chat_id)) for chat_id in self.chats}

    def _messages(self, chat_id: str) -> Iterator[Stored]:
        kwargs: dict[str, Any] = {
            "TableName": f"{TABLE_PREFIX}-messages",
            "KeyConditionExpression": "chat_id = :c",
            "ExpressionAttributeValues": {":c": {"S": chat_id}},
            "ConsistentRead": True,
        }
        while True:
            page = self.dynamodb().query(**kwargs)
            for item in page["Items"]:
                system = item.get("system", {}).get("S")
                yield Stored(
                    seq=int(item["seq"]["N"]),
                    client_msg_id=item["client_msg_id"]["S"],
                    sender_id=item["sender_id"]["S"],
                    system=json.loads(system) if system else None,
                )
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def connection_records(self) -> list[Record]:
        """The records left for connections whose socket closed."""
        records = []
        for connection_id, info in sorted(self.connections.items()):
            if info["closed_at"] is None:
                continue
            item = (
                self.dynamodb()
                .get_item(
                    TableName=f"{TABLE_PREFIX}-connections",
                    Key={"connection_id": {"S": connection_id}},
                    ConsistentRead=True,
                )
                .get("Item")
            )
            if item is not None:
                expires = float(item["expires_at"]["N"]) if "expires_at" in item else float("inf")
                records.append(Record(connection_id, info["closed_at"], expires))
        return records

    # -- checking ----------------------------------------------------------------------------------

    def client_findings(self, stored: dict[str, list[Stored]]) -> Findings:
        found = Findings()
        for chat_id, messages in stored.items():
            members = checks.membership(self.initial[chat_id], messages)
            for user in self.users.values():
                own = [m.seq for m in messages if m.sender_id == user.name and m.system is None]
                handed = user.handed.get(chat_id, [])
                found.extend(checks.check_client(user.name, chat_id, handed, own, members))
        return found

    def findings(self, stored: dict[str, list[Stored]], records: list[Record], copies: Findings) -> Findings:
        found = copies
        members = {c: checks.membership(self.initial[c], m) for c, m in stored.items()}
        for chat_id, messages in stored.items():
            acks = {
                (user.name, cmid): seq
                for user in self.users.values()
                for cmid, seq in user.acks.items()
                if user.sent[cmid] == chat_id
            }
            found.extend(checks.check_store(chat_id, messages, acks))
        found.extend(self.client_findings(stored))
        found.extend(checks.check_frames((f for u in self.users.values() for f in u.frames), members))
        found.extend(checks.check_records(records, CONNECTION_TTL_SECONDS))
        return found

    async def run(self) -> tuple[Findings, float | None, dict[str, list[Stored]], int]:
        watcher = asyncio.ensure_future(self.watcher())
        try:
            await self.start_users()
            await self.create_chats()
            log.info(
                "%d clients online in %d chats; sending for %g s",
                len(self.users),
                len(self.chats),
                self.options.duration,
            )
            changers = await self.changes.start(list(self.users.values()), self.members, self._stop)
            workers = [
                *(asyncio.ensure_future(self.sender(u)) for u in self.users.values()),
                *changers,
                asyncio.ensure_future(self.churner()),
                asyncio.ensure_future(self.pauser()),
                asyncio.ensure_future(self.cutter()),
            ]
            await self._sleep(self.options.duration)
            self._stop.set()
            await asyncio.gather(*workers)
            log.info("sending stopped; every client resyncs")
            converge_seconds = await self.converge()
            log.info("converged in %s s; checking", converge_seconds)
            copies = await check_copies(self.users, self.options.converge_timeout)
            stored = await asyncio.to_thread(self.read_messages)
            await asyncio.gather(*(u.client.close() for u in self.users.values()))
            await asyncio.sleep(1.5)  # the watcher (every second) sees every socket closed
            records = await asyncio.to_thread(self.connection_records)
            return self.findings(stored, records, copies), converge_seconds, stored, len(records)
        finally:
            watcher.cancel()
            for user in self.users.values():
                with contextlib.suppress(Exception):
                    await user.client.close()


def fault_spec(options: Options, report: Path) -> str:
    return f"seed={options.seed},rate={options.rate},kinds={options.kinds},report={report}"


def run_chaos(options: Options) -> Result:
    with tempfile.TemporaryDirectory(prefix="chaos-") as folder:
        report = Path(folder) / "faults.json"
        stack = LocalStack(
            CHAT_FAULTS=fault_spec(options, report),
            CHAT_TABLE_PREFIX=TABLE_PREFIX,
            CHAT_FANOUT_THRESHOLD=str(options.fanout_threshold),
        )
        with stack:
            log.info("local stack up at %s", stack.url)
            chaos = Chaos(options, stack)
            findings, converge_seconds, stored, left_behind = asyncio.run(chaos.run())
        log.info("local stack stopped")
        fired = json.loads(report.read_text())["fired"] if report.exists() else {}
    users = chaos.users.values()
    sends = sum(len(u.sent) for u in users)
    trace = write_trace(chaos, stored) if findings.violations else None
    return Result(
        options=options,
        fired=fired,
        messages=sum(len(m) for m in stored.values()),
        system_messages=sum(1 for m in stored.values() for s in m if s.system is not None),
        sends=sends,
        acks=sum(len(u.acks) for u in users),
        retries=sum(u.attempts for u in users) - sends,
        refused=dict(sum((u.refused for u in users), Counter())),
        unacked=sum(u.unacked for u in users),
        tally=chaos.tally,
        converge_seconds=converge_seconds,
        left_behind=left_behind,
        findings=findings,
        trace=trace,
        repeated_frames=checks.repeated_frames(f for u in users for f in u.frames),
        changes=chaos.changes.tally,
    )


def write_trace(chaos: Chaos, stored: dict[str, list[Stored]]) -> Path:
    """Each user's timeline (frames, hand-overs, acks, chat:added/removed, states) and each
    chat's stored messages, for finding out what went wrong."""
    fd, name = tempfile.mkstemp(prefix="chaos-trace-", suffix=".json")
    data = {
        "users": {u.name: u.trace for u in chaos.users.values()},
        "chats": {
            c: [[m.seq, m.sender_id, m.client_msg_id, m.system] for m in ms] for c, ms in stored.items()
        },
        "initial": {c: sorted(m) for c, m in chaos.initial.items()},
    }
    with os.fdopen(fd, "w") as out:
        json.dump(data, out)
    return Path(name)


def table(result: Result) -> str:
    o, t, f = result.options, result.tally, result.findings
    fired = ", ".join(f"{k} {n}" for k, n in sorted(result.fired.items())) or "none"
    refused = ", ".join(f"{k} {n}" for k, n in sorted(result.refused.items())) or "none"
    converge = (
        f"{result.converge_seconds:.1f} s" if result.converge_seconds is not None else "did not converge"
    )
    rows = [
        (
            "run",
            f"{o.duration:g} s, seed {o.seed}, {o.clients} clients, {o.chats} chats, fault rate {o.rate:g}",
        ),
        ("faults injected", f"{sum(result.fired.values())} ({fired})"),
        ("stack paused", f"{t.paused} times, {t.paused_seconds:.1f} s in all"),
        ("connections cut", str(t.cuts)),
        ("membership changes", f"{t.changes} ({t.change_errors} given up after 5 tries)"),
        ("message changes", result.changes.summary()),
        ("messages stored", f"{result.messages} ({result.system_messages} membership events)"),
        ("sends", str(result.sends)),
        ("acks", str(result.acks)),
        ("retries", str(result.retries)),
        ("refused", refused),
        ("unacknowledged", str(result.unacked)),
        ("records left by lost $disconnect", f"{result.left_behind} (expire by their TTL)"),
        (
            "frames repeated",
            f"{result.repeated_frames} (a message posted twice to a user: allowed under faults)",
        ),
        ("duplicates", str(len(f.duplicates))),
        ("lost", str(len(f.lost))),
        ("leaked", str(len(f.leaked))),
        ("out of order", str(len(f.disorder))),
        ("copies unlike the store", str(len(f.diverged))),
        ("time to converge", converge),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    lines += [f"VIOLATION {v}" for v in f.violations[:50]]
    if result.trace is not None:
        lines.append(f"trace: {result.trace}")
    return "\n".join(lines)
