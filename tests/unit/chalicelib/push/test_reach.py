"""Reach jobs without I/O: who goes into them, how they are cut and read back, and who a job
notifies."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.records import ChatRecord, Membership, Message, Pointers, Presence, Reach
from chalicelib.push import reach
from chalicelib.push.jobs import (
    PUSH_KIND,
    REACH_KIND,
    REACH_SHARD,
    Notifier,
    PushJob,
    ReachJob,
    job_kind,
    offline_after,
    to_confirm,
)

CHAT = ChatRecord(
    chat_id="c1", title="T", members=None, created_by="a", created_at="2026-01-01T00:00:00.000Z"
)
MESSAGE = Message("c1", 7, "m1", "k1", "a", "hi", "2026-01-01T00:00:01.000Z")


class ListQueue:
    def __init__(self):
        self.sent = []

    def send(self, bodies, delay_seconds=0):
        self.sent.append((list(bodies), delay_seconds))
        return []


def live(*connections, devices=True, muted=()):
    return Reach(tuple(Presence(c, None, 0) for c in connections), devices, frozenset(muted))


def test_to_confirm_takes_live_members_with_devices_in_unmuted_chats():
    found = {
        "bob": live("b1"),
        "carol": live("c1", devices=False),
        "dave": live(),  # offline: the immediate path
        "erin": live("e1", muted=("c1",)),
    }
    assert to_confirm(found, ["bob", "carol", "dave", "erin", "nobody"], "c1") == ["bob"]


def test_offline_after_needs_every_connection_gone():
    found = {"bob": live("b1", "b2"), "carol": live("c1"), "dave": live()}
    assert offline_after(found, ["bob", "carol", "dave"], ["b1", "c1"]) == ["carol"]
    assert offline_after(found, ["bob"], ["b1", "b2"]) == ["bob"]


def test_confirm_later_cuts_jobs_of_100_held_back_10_seconds():
    queue = ListQueue()
    users = [f"u{i:03d}" for i in range(250)]
    assert Notifier(queue).confirm_later(users, CHAT, MESSAGE, "Alice") == 3
    [(bodies, delay)] = queue.sent
    assert delay == 10
    jobs = [ReachJob.from_json(b) for b in bodies]
    assert [len(j.user_ids) for j in jobs] == [REACH_SHARD, REACH_SHARD, 50]
    assert sorted(u for j in jobs for u in j.user_ids) == users
    assert jobs[0].seq == 7 and jobs[0].push.sender_name == "Alice"


def test_confirm_later_costs_nothing_without_members_or_queue():
    queue = ListQueue()
    assert Notifier(queue).confirm_later([], CHAT, MESSAGE, None) == 0
    assert Notifier(None).confirm_later(["bob"], CHAT, MESSAGE, None) == 0
    assert queue.sent == []


def test_the_worker_tells_the_two_jobs_apart_by_kind():
    job = ReachJob(("bob", "carol"), PushJob("bob", "c1", "T", "group", "Alice", MESSAGE.to_wire()))
    assert job_kind(job.to_json()) == REACH_KIND and ReachJob.from_json(job.to_json()) == job
    assert job_kind(job.for_user("carol").to_json()) == PUSH_KIND


@pytest.mark.parametrize("users", [[], [f"u{i}" for i in range(REACH_SHARD + 1)], "bob"])
def test_a_reach_job_names_1_to_100_users(users):
    body = json.loads(
        ReachJob(("bob",), PushJob("bob", "c1", None, "group", None, MESSAGE.to_wire())).to_json()
    )
    body["users"] = users
    with pytest.raises(ValueError):
        ReachJob.from_json(json.dumps(body))


class Memberships:
    def __init__(self, found):
        self.found = found
        self.asked = []

    def memberships(self, chat_id, user_ids):
        self.asked.append((chat_id, tuple(user_ids)))
        return {u: m for u, m in self.found.items() if u in user_ids}


def test_run_notifies_the_unconfirmed_members_still_in_the_chat():
    store = Memberships(
        {
            "bob": Membership(Pointers(6, 3)),  # below 7: not confirmed
            "carol": Membership(Pointers(7, 0)),  # confirmed
            "dave": Membership(Pointers(0, 0), joined_seq=9),  # removed and added again since
        }
    )
    job = ReachJob(
        ("bob", "carol", "dave", "erin"), PushJob("bob", "c1", None, "group", None, MESSAGE.to_wire())
    )
    notified = []
    assert reach.run(store, job, lambda push: notified.append(push.user_id) or True)
    assert notified == ["bob"] and store.asked == [("c1", ("bob", "carol", "dave", "erin"))]
    assert not reach.run(store, job, lambda push: False)


def test_run_notifies_many_members_at_once_and_fails_if_any_send_should_be_retried():
    users = [f"u{i:02d}" for i in range(20)]
    store = Memberships({u: Membership(Pointers(0, 0)) for u in users})
    job = ReachJob(tuple(users), PushJob(users[0], "c1", None, "group", None, MESSAGE.to_wire()))
    notified = []
    assert reach.run(store, job, lambda push: notified.append(push.user_id) or True)
    assert sorted(notified) == users
    assert not reach.run(store, job, lambda push: push.user_id != "u07")

    def broken(push):
        raise RuntimeError("storage down")

    with pytest.raises(RuntimeError):
        reach.run(store, job, broken)


def test_blockers_are_asked_only_about_unconfirmed_members_and_skipped():
    store = Memberships(
        {
            "bob": Membership(Pointers(6, 0)),  # unconfirmed, blocks the sender
            "carol": Membership(Pointers(6, 0)),  # unconfirmed
            "dave": Membership(Pointers(7, 0)),  # confirmed: never asked about
        }
    )
    job = ReachJob(("bob", "carol", "dave"), PushJob("bob", "c1", None, "group", None, MESSAGE.to_wire()))
    asked, notified = [], []

    def blockers(users):
        asked.append(list(users))
        return {"bob"}

    assert reach.run(store, job, lambda push: notified.append(push.user_id) or True, blockers)
    assert asked == [["bob", "carol"]] and notified == ["carol"]
    # everyone confirmed: the membership read only, no question about blocks
    store.found = {u: Membership(Pointers(7, 0)) for u in ("bob", "carol", "dave")}
    asked.clear()
    assert reach.run(store, job, lambda push: False, blockers) and asked == []
