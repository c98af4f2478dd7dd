"""Fan-out: getting one event's frames to many connections without one long loop.

(A message to a large chat comes here as *slices* instead, one per roster page, which the
worker below claims and hands to the message actions to deliver: ``domain/slices.py``.)

A small audience is posted to inline, in parallel, by the invocation that made the change. Above
``threshold`` recipient connections the posts are cut into shards of ``shard_size`` connections
and queued on SQS; the fan-out worker Lambda (``app.fanout``) posts each shard, many shards at
once, so the last delivery to a 1,000-member chat comes about as soon as a small chat's.

A shard is self-contained JSON: a random id, the management endpoint, the distinct frames once
each, and ``[connection_id, frame index]`` pairs. SQS delivers a message at least once, and a
shard queued twice (a ``SendMessageBatch`` retried after a timeout) is the same shard, so before
posting the worker:

- claims the shard (one conditional ``PutItem`` in the push log, kept a day): a redelivery
  finds it claimed and posts nothing (1 request), so a connection gets a frame at most once;
- re-checks membership: the frames say which chat and ``seq`` they are about (``scope_of``);
  the connections' records say whose they are (one ``BatchGetItem`` per 100 connections), and
  the memberships of those users in that chat (one ``BatchGetItem`` per 100 users) who may
  still hear of it: a member removed since the shard was made (or who left and came back
  after that ``seq``) gets nothing, and a connection already gone is not posted to.

So a shard costs 3 DynamoDB requests for up to 100 connections (the default shard is 50): no
write per recipient. A claim whose posting raises is released, so SQS's redelivery posts it;
a worker killed between its claim and its posts (a Lambda timeout, a crash) leaves the claim,
and those connections miss that frame live: the message is stored and every client fills a
gap by ``seq`` (the next frame it gets, or its resync on reconnect). That trade (at most once
live, exactly once in storage) is the protocol's; posting twice is what it forbids. A claim
per connection after each post would close that window but is a write per recipient.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from chalicelib.delivery.posting import Delivery
from chalicelib.domain.frames import Post
from chalicelib.domain.records import Membership
from chalicelib.domain.slices import Slice, is_slice
from chalicelib.queues import Queue, process_batch

log = logging.getLogger(__name__)
T = TypeVar("T")

SHARD_VERSION = 2
KNOWN_VERSIONS = (1, 2)  # a v1 shard (no id, queued before an upgrade) is checked, not claimed
CLAIM_SECONDS = 86400  # far longer than SQS redelivers a shard (visibility timeout x receives)

ShardQueue = Queue


class ShardLedger(Protocol):
    """What the worker reads and writes before posting (``Store`` has these methods)."""

    def connection_users(self, connection_ids: Iterable[str]) -> Mapping[str, str]: ...

    def memberships(self, chat_id: str, user_ids: Iterable[str]) -> Mapping[str, Membership]: ...

    def claim_push(self, key: str, ttl_seconds: int = ...) -> bool: ...

    def release_push(self, key: str) -> None: ...


class SliceDelivery(Protocol):
    """Who turns a slice into posts (``MessageActions``): the posts, and what to do with the
    connections that answered 410 to them."""

    def deliver_slice(self, job: Slice) -> tuple[list[Post], Callable[[list[str]], None]]: ...


@dataclass(frozen=True)
class Shard:
    endpoint: str
    frames: tuple[bytes, ...]
    posts: tuple[tuple[str, int], ...]
    shard_id: str = ""  # "" for a v1 shard

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": SHARD_VERSION,
                "id": self.shard_id,
                "endpoint": self.endpoint,
                "frames": [f.decode("utf-8") for f in self.frames],
                "posts": [list(p) for p in self.posts],
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, body: str) -> Shard:
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("v") not in KNOWN_VERSIONS:
            raise ValueError("not a fan-out shard of a version this worker knows")
        frames = tuple(str(f).encode("utf-8") for f in data["frames"])
        posts = tuple((str(cid), int(index)) for cid, index in data["posts"])
        if any(not 0 <= index < len(frames) for _, index in posts):
            raise ValueError("a shard post names a frame it does not carry")
        shard_id = str(data["id"]) if data["v"] >= 2 else ""
        if data["v"] >= 2 and not shard_id:
            raise ValueError("a shard without an id")
        return cls(endpoint=str(data["endpoint"]), frames=frames, posts=posts, shard_id=shard_id)

    def expanded(self) -> list[Post]:
        return [(cid, self.frames[index]) for cid, index in self.posts]

    @property
    def claim_key(self) -> str:
        return f"fanout:{self.shard_id}"


def make_shards(endpoint: str, posts: Sequence[Post], shard_size: int) -> list[Shard]:
    shards = []
    for start in range(0, len(posts), shard_size):
        chunk = posts[start : start + shard_size]
        frames: dict[bytes, int] = {}
        pairs = tuple((cid, frames.setdefault(data, len(frames))) for cid, data in chunk)
        shards.append(Shard(endpoint=endpoint, frames=tuple(frames), posts=pairs, shard_id=uuid.uuid4().hex))
    return shards


def _parse(body: str) -> Shard | Slice:
    return Slice.from_json(body) if is_slice(body) else Shard.from_json(body)


Scope = tuple[str, int]  # (chat id, seq): its recipient must be a member, joined at or before seq


def scope_of(frame: bytes) -> Scope | None:
    """Who may still get this frame: a member of its chat (who joined by the message's ``seq``
    for a message, who is a member now for ``chat:added``, typing and receipts, seq 0); None
    for frames meant for non-members too (``chat:removed``) or about no chat."""
    try:
        data = json.loads(frame)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    event = data.get("event")
    if event in ("chat:message", "chat:message:background") and isinstance(data.get("message"), dict):
        message = data["message"]
        return str(message.get("chat_id", "")), int(message.get("seq") or 0)
    if event in ("chat:typing", "chat:receipt"):
        return str(data.get("chat_id", "")), 0
    if event == "chat:added" and isinstance(data.get("chat"), dict):
        return str(data["chat"].get("chat_id", "")), 0
    return None


class Fanout:
    def __init__(
        self,
        delivery: Delivery,
        queue: ShardQueue | None = None,
        threshold: int = 100,
        shard_size: int = 50,
    ) -> None:
        self.delivery = delivery
        self.queue = queue
        self.threshold = threshold
        self.shard_size = max(1, shard_size)

    def dispatch(self, endpoint: str, posts: Sequence[Post]) -> list[str]:
        """Deliver every post, inline or through the queue. Returns the connections found gone
        inline (queued shards report theirs in the worker)."""
        if self.queue is None or len(posts) <= self.threshold:
            return self.delivery.post_many(endpoint, posts)
        shards = make_shards(endpoint, posts, self.shard_size)
        unsent = self.queue.send([shard.to_json() for shard in shards])
        if not unsent:
            return []
        log.error("fan-out queue refused %d of %d shards: posting them inline", len(unsent), len(shards))
        return self.delivery.post_many(endpoint, [p for i in unsent for p in shards[i].expanded()])


class FanoutWorker:
    """The SQS-triggered Lambda: post every shard or slice (``slices``) of a batch once, to
    those still entitled to it; report the records that failed (SQS delivers only those again)."""

    def __init__(
        self,
        delivery: Delivery,
        forget: Callable[[Iterable[str]], None],
        ledger: ShardLedger,
        slices: SliceDelivery | None = None,
    ) -> None:
        self.delivery = delivery
        self.forget = forget
        self.ledger = ledger
        self.slices = slices

    def handle(self, event: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
        return process_batch(event, _parse, self._run_any, "fan-out shard")

    def _run_any(self, job: Shard | Slice) -> bool:
        return self.run_slice(job) if isinstance(job, Slice) else self.run(job)

    def run_slice(self, job: Slice) -> bool:
        """Claim the slice, then post its page's frames and queue its page's pushes."""
        slices = self.slices
        if slices is None:
            raise RuntimeError("this worker was built without slice delivery")

        def post() -> tuple[list[str], Callable[[list[str]], None]]:
            posts, lost = slices.deliver_slice(job)
            return self.delivery.post_many(job.endpoint, posts), lost

        done = self._once(job.claim_key, f"slice {job.slice_id}", post)
        if done is not None and done[0]:
            gone, lost = done
            try:
                lost(gone)  # whoever lost every connection is pushed to now
            except Exception:
                log.exception("could not act on the gone connections of slice %s", job.slice_id)
            self.forget(gone)
        return True

    def run(self, shard: Shard) -> bool:
        """Claim the shard, re-check who may still have its frames, post them."""
        key = shard.claim_key if shard.shard_id else None  # a v1 shard has no id to claim
        gone = self._once(
            key,
            f"shard {shard.shard_id}",
            lambda: self.delivery.post_many(shard.endpoint, self.entitled(shard)),
        )
        if gone is not None:
            self.forget(gone)
        return True

    def _once(self, key: str | None, what: str, post: Callable[[], T]) -> T | None:
        """Claim ``key`` in the ledger (None: nothing to claim), then ``post``; None when it was
        claimed already (posted before: not again). A failure that raises releases the claim, so
        SQS's redelivery does it all again."""
        if key is not None and not self.ledger.claim_push(key, CLAIM_SECONDS):
            log.info("fan-out %s was posted already: not again", what)
            return None
        try:
            return post()
        except Exception:
            if key is not None:
                self.ledger.release_push(key)
            raise

    def entitled(self, shard: Shard) -> list[Post]:
        """The shard's posts whose connection still exists and whose user may still hear of the
        frame (see ``scope_of``): 2 reads for up to 100 connections, none when no frame has a
        scope."""
        scopes = [scope_of(frame) for frame in shard.frames]
        scoped = [cid for cid, index in shard.posts if scopes[index] is not None]
        if not scoped:
            return shard.expanded()
        users = self.ledger.connection_users(scoped)
        allowed: dict[Scope, set[str]] = {}
        for chat_id in {scope[0] for scope in scopes if scope is not None}:
            members = self.ledger.memberships(chat_id, set(users.values()))
            for chat, seq in {s for s in scopes if s is not None and s[0] == chat_id}:
                allowed[chat, seq] = {u for u, m in members.items() if not seq or m.joined_seq <= seq}
        kept = []
        for cid, index in shard.posts:
            scope = scopes[index]
            if scope is None or users.get(cid) in allowed[scope]:
                kept.append((cid, shard.frames[index]))
        if len(kept) < len(shard.posts):
            log.info(
                "fan-out shard %s: %d of %d posts no longer due",
                shard.shard_id,
                len(shard.posts) - len(kept),
                len(shard.posts),
            )
        return kept
