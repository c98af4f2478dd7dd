"""Fan-out shards: self-contained, each distinct frame carried once, SQS batches within limits."""

from __future__ import annotations

import json

import pytest

from chalicelib.delivery.fanout import Fanout, FanoutWorker, Shard, make_shards
from chalicelib.queues import SQS_BATCH_BYTES, batches


class RecordingDelivery:
    def __init__(self, gone: set[str] | None = None) -> None:
        self.posted: list[tuple[str, bytes]] = []
        self.gone = gone or set()

    def post_many(self, endpoint, posts):
        self.posted += posts
        return [cid for cid, _ in posts if cid in self.gone]


class ListQueue:
    def __init__(self, refuse: set[int] | None = None) -> None:
        self.bodies: list[str] = []
        self.refuse = refuse or set()

    def send(self, bodies):
        self.bodies += [b for i, b in enumerate(bodies) if i not in self.refuse]
        return sorted(self.refuse)


def posts(n: int) -> list[tuple[str, bytes]]:
    return [(f"c{i}", b"live" if i % 3 else b"background") for i in range(n)]


def test_shards_round_trip_and_carry_each_frame_once():
    shards = make_shards("https://x/dev", posts(120), 50)
    assert [len(s.posts) for s in shards] == [50, 50, 20]
    again = Shard.from_json(shards[0].to_json())
    assert again == shards[0] and len(again.frames) == 2
    assert [cid for s in shards for cid, _ in s.expanded()] == [f"c{i}" for i in range(120)]


@pytest.mark.parametrize(
    "body",
    [
        "nope",
        "[]",
        json.dumps({"v": 99}),
        json.dumps({"v": 1, "endpoint": "e", "frames": [], "posts": [["c", 0]]}),
    ],
)
def test_a_malformed_shard_is_refused(body):
    with pytest.raises((ValueError, KeyError, TypeError)):
        Shard.from_json(body)


def test_small_audiences_are_posted_inline_large_ones_queued():
    delivery, queue = RecordingDelivery(), ListQueue()
    fanout = Fanout(delivery, queue, threshold=100, shard_size=50)  # type: ignore[arg-type]
    fanout.dispatch("e", posts(100))
    assert len(delivery.posted) == 100 and queue.bodies == []
    fanout.dispatch("e", posts(101))
    assert len(delivery.posted) == 100 and len(queue.bodies) == 3


def test_shards_the_queue_refused_are_posted_inline_and_only_those():
    delivery, queue = RecordingDelivery(), ListQueue(refuse={1})
    Fanout(delivery, queue, threshold=10, shard_size=50).dispatch("e", posts(120))  # type: ignore[arg-type]
    assert [cid for cid, _ in delivery.posted] == [f"c{i}" for i in range(50, 100)]


def test_without_a_queue_everything_is_inline():
    delivery = RecordingDelivery()
    Fanout(delivery, None, threshold=1).dispatch("e", posts(30))  # type: ignore[arg-type]
    assert len(delivery.posted) == 30


def test_batches_respect_ten_entries_and_256_kib():
    small = ["x"] * 25
    assert [len(b) for b in batches(small)] == [10, 10, 5]
    big = ["y" * 100_000] * 5
    grouped = list(batches(big))
    assert [len(b) for b in grouped] == [2, 2, 1]
    assert all(sum(len(big[i]) for i in b) <= SQS_BATCH_BYTES for b in grouped)


def test_worker_posts_forgets_gone_and_reports_only_failed_records():
    delivery = RecordingDelivery(gone={"c1"})
    forgotten: list[str] = []
    worker = FanoutWorker(delivery, forgotten.extend)  # type: ignore[arg-type]
    good = make_shards("e", posts(3), 50)[0].to_json()
    event = {
        "Records": [
            {"messageId": "m1", "body": good},
            {"messageId": "m2", "body": "not a shard"},  # dropped: retrying cannot help
        ]
    }
    assert worker.handle(event) == {"batchItemFailures": []}
    assert len(delivery.posted) == 3 and forgotten == ["c1"]

    def broken(endpoint, posts):
        raise RuntimeError("network")

    delivery.post_many = broken  # type: ignore[method-assign]
    assert worker.handle({"Records": [{"messageId": "m3", "body": good}]}) == {
        "batchItemFailures": [{"itemIdentifier": "m3"}]
    }
