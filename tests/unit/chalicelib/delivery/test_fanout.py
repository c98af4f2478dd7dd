"""Fan-out shards: self-contained, each distinct frame carried once, SQS batches within limits."""

from __future__ import annotations

import json

import pytest

from chalicelib.delivery.fanout import Fanout, FanoutWorker, Shard, make_shards, scope_of
from chalicelib.domain.frames import encode
from chalicelib.domain.records import Membership
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


class Ledger:
    """The worker's reads and claims, in memory: ``users`` maps connections to users,
    ``members`` chat -> user -> joined_seq; ``calls`` what was asked, in order."""

    def __init__(self, users=None, members=None, fail=None) -> None:
        self.users = users or {}
        self.members = members or {}
        self.claims: set[str] = set()
        self.calls: list[str] = []
        self.fail = fail or set()

    def _call(self, name):
        self.calls.append(name)
        if name in self.fail:
            raise RuntimeError(f"{name} failed")

    def connection_users(self, connection_ids):
        self._call("connection_users")
        return {c: self.users[c] for c in connection_ids if c in self.users}

    def memberships(self, chat_id, user_ids):
        self._call("memberships")
        joined = self.members.get(chat_id, {})
        return {u: Membership(joined_seq=joined[u]) for u in user_ids if u in joined}

    def claim_push(self, key, ttl_seconds=0):
        self._call("claim")
        if key in self.claims:
            return False
        self.claims.add(key)
        return True

    def release_push(self, key):
        self._call("release")
        self.claims.discard(key)


def message_frame(chat_id: str, seq: int, background: bool = False) -> bytes:
    event = "chat:message:background" if background else "chat:message"
    return encode({"event": event, "message": {"chat_id": chat_id, "seq": seq, "text": "hi"}})


def posts(n: int) -> list[tuple[str, bytes]]:
    return [(f"c{i}", b"live" if i % 3 else b"background") for i in range(n)]


def test_shards_round_trip_and_carry_each_frame_once():
    shards = make_shards("https://x/dev", posts(120), 50)
    assert [len(s.posts) for s in shards] == [50, 50, 20]
    again = Shard.from_json(shards[0].to_json())
    assert again == shards[0] and len(again.frames) == 2
    assert len({s.shard_id for s in shards}) == 3 and all(len(s.shard_id) == 32 for s in shards)
    assert [cid for s in shards for cid, _ in s.expanded()] == [f"c{i}" for i in range(120)]


@pytest.mark.parametrize(
    "body",
    [
        "nope",
        "[]",
        json.dumps({"v": 99}),
        json.dumps({"v": 1, "endpoint": "e", "frames": [], "posts": [["c", 0]]}),
        json.dumps({"v": 2, "id": "", "endpoint": "e", "frames": ["x"], "posts": [["c", 0]]}),
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
    worker = FanoutWorker(delivery, forgotten.extend, Ledger())  # type: ignore[arg-type]
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

    other = make_shards("e", posts(3), 50)[0].to_json()
    delivery.post_many = broken  # type: ignore[method-assign]
    assert worker.handle(
        {"Records": [{"messageId": "m3", "body": other}, {"messageId": "m4", "body": good}]}
    ) == {
        "batchItemFailures": [{"itemIdentifier": "m3"}]  # m4 was posted already: done, not failed
    }


def test_a_shard_delivered_again_or_queued_twice_is_posted_once():
    delivery, ledger = RecordingDelivery(), Ledger()
    worker = FanoutWorker(delivery, lambda gone: None, ledger)  # type: ignore[arg-type]
    body = make_shards("e", posts(4), 50)[0].to_json()
    records = [{"messageId": "m1", "body": body}, {"messageId": "m2", "body": body}]  # queued twice
    assert worker.handle({"Records": records}) == {"batchItemFailures": []}
    assert worker.handle({"Records": records[:1]}) == {"batchItemFailures": []}  # SQS again
    assert [cid for cid, _ in delivery.posted] == ["c0", "c1", "c2", "c3"]
    assert ledger.calls == ["claim"] * 3  # frames with no chat: nothing to re-check


def test_a_failed_post_releases_the_claim_so_the_redelivery_posts():
    delivery, ledger = RecordingDelivery(), Ledger(fail={"connection_users"})
    worker = FanoutWorker(delivery, lambda gone: None, ledger)  # type: ignore[arg-type]
    shard = make_shards("e", [("c0", message_frame("g1", 3))], 50)[0]
    ledger.users, ledger.members = {"c0": "bob"}, {"g1": {"bob": 0}}
    record = {"messageId": "m1", "body": shard.to_json()}
    assert worker.handle({"Records": [record]}) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert ledger.calls == ["claim", "connection_users", "release"] and ledger.claims == set()
    ledger.fail = set()
    assert worker.handle({"Records": [record]}) == {"batchItemFailures": []}
    assert delivery.posted == [("c0", message_frame("g1", 3))]


def test_only_members_who_joined_by_the_messages_seq_get_it():
    frames = [message_frame("g1", 5), message_frame("g1", 5, background=True)]
    shard_posts = [("c-bob", frames[0]), ("c-carol", frames[1]), ("c-dan", frames[0]), ("c-gone", frames[0])]
    removed = encode({"event": "chat:removed", "chat_id": "g1"})
    shard_posts.append(("c-eve", removed))  # for a non-member: never checked
    ledger = Ledger(
        users={"c-bob": "bob", "c-carol": "carol", "c-dan": "dan", "c-eve": "eve"},
        members={"g1": {"bob": 0, "dan": 6}},  # carol removed, dan rejoined after seq 5
    )
    delivery = RecordingDelivery()
    FanoutWorker(delivery, lambda gone: None, ledger).run(make_shards("e", shard_posts, 50)[0])  # type: ignore[arg-type]
    assert delivery.posted == [("c-bob", frames[0]), ("c-eve", removed)]
    assert ledger.calls == ["claim", "connection_users", "memberships"]


def test_a_v1_shard_queued_before_an_upgrade_is_checked_but_not_claimed():
    body = json.dumps(
        {"v": 1, "endpoint": "e", "frames": [message_frame("g1", 1).decode()], "posts": [["c0", 0]]}
    )
    delivery, ledger = RecordingDelivery(), Ledger(users={"c0": "bob"}, members={"g1": {"bob": 0}})
    worker = FanoutWorker(delivery, lambda gone: None, ledger)  # type: ignore[arg-type]
    assert worker.handle({"Records": [{"messageId": "m1", "body": body}]}) == {"batchItemFailures": []}
    assert delivery.posted == [("c0", message_frame("g1", 1))]
    assert ledger.calls == ["connection_users", "memberships"]


@pytest.mark.parametrize(
    ("payload", "scope"),
    [
        ({"event": "chat:message", "message": {"chat_id": "g", "seq": 4}}, ("g", 4)),
        ({"event": "chat:message:background", "message": {"chat_id": "g", "seq": 9}}, ("g", 9)),
        ({"event": "chat:typing", "chat_id": "g", "user_id": "u", "typing": True}, ("g", 0)),
        ({"event": "chat:receipt", "chat_id": "g", "user_id": "u"}, ("g", 0)),
        ({"event": "chat:added", "chat": {"chat_id": "g"}}, ("g", 0)),
        ({"event": "chat:removed", "chat_id": "g"}, None),
        ({"event": "pong"}, None),
        ([1, 2], None),
    ],
)
def test_the_scope_of_each_frame(payload, scope):
    assert scope_of(json.dumps(payload).encode()) == scope
    assert scope_of(b"not json") is None
