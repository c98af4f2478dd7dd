"""Fan-out: getting one event's frames to many connections without one long loop.

A small audience is posted to inline, in parallel, by the invocation that made the change. Above
``threshold`` recipient connections the posts are cut into shards of ``shard_size`` connections
and queued on SQS; the fan-out worker Lambda (``app.fanout``) posts each shard, many shards at
once, so the last delivery to a 1,000-member chat comes about as soon as a small chat's.

A shard is self-contained JSON: the management endpoint, the distinct frames once each, and
``[connection_id, frame index]`` pairs. The worker needs nothing else and reads no table; it
only forgets connections the management API reports gone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.delivery.posting import Delivery
from chalicelib.domain.frames import Post
from chalicelib.queues import Queue, process_batch

log = logging.getLogger(__name__)

SHARD_VERSION = 1


ShardQueue = Queue


@dataclass(frozen=True)
class Shard:
    endpoint: str
    frames: tuple[bytes, ...]
    posts: tuple[tuple[str, int], ...]

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": SHARD_VERSION,
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
        if not isinstance(data, dict) or data.get("v") != SHARD_VERSION:
            raise ValueError("not a fan-out shard of a version this worker knows")
        frames = tuple(str(f).encode("utf-8") for f in data["frames"])
        posts = tuple((str(cid), int(index)) for cid, index in data["posts"])
        if any(not 0 <= index < len(frames) for _, index in posts):
            raise ValueError("a shard post names a frame it does not carry")
        return cls(endpoint=str(data["endpoint"]), frames=frames, posts=posts)

    def expanded(self) -> list[Post]:
        return [(cid, self.frames[index]) for cid, index in self.posts]


def make_shards(endpoint: str, posts: Sequence[Post], shard_size: int) -> list[Shard]:
    shards = []
    for start in range(0, len(posts), shard_size):
        chunk = posts[start : start + shard_size]
        frames: dict[bytes, int] = {}
        pairs = tuple((cid, frames.setdefault(data, len(frames))) for cid, data in chunk)
        shards.append(Shard(endpoint=endpoint, frames=tuple(frames), posts=pairs))
    return shards


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
    """The SQS-triggered Lambda: post every shard of a batch, report the records that failed."""

    def __init__(self, delivery: Delivery, forget: Callable[[Iterable[str]], None]) -> None:
        self.delivery = delivery
        self.forget = forget

    def handle(self, event: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
        return process_batch(event, Shard.from_json, self.run, "fan-out shard")

    def run(self, shard: Shard) -> bool:
        self.forget(self.delivery.post_many(shard.endpoint, shard.expanded()))
        return True
