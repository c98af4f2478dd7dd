"""A send whose invocation stored the message and then died, or whose storage call failed after
the write applied, retried by the client with the same ``client_msg_id``: one message stored,
acknowledged ``duplicate: true``, and delivered live to the other members exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from pynamodb.exceptions import TransactWriteError

from chalicelib import runtime
from chalicelib.delivery.fanout import Fanout
from chalicelib.domain.errors import Unavailable
from chalicelib.storage import dynamo
from chalicelib.storage.dynamo import DynamoStore, send_key
from chalicelib.storage.tables import MessageItem, SendKeyItem


class LambdaKilled(BaseException):
    """The invocation ends here, as a Lambda timeout or crash ends it: nothing after runs."""


@pytest.fixture
def late(harness):
    """The service's send actions with a sleep that records instead of waiting."""
    actions = runtime.service().actions.messages
    actions.slept = []
    actions.sleep = actions.slept.append
    return actions


def _pair(harness):
    alice, bob = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(alice, "bob")
    bob.send("chat.open", chat_id=chat_id)
    bob.frames()
    return alice, bob, chat_id


def _send(chat_id, text="hello", cmid="k1"):
    return {
        "action": "message.send",
        "req": "r-send",
        "chat_id": chat_id,
        "client_msg_id": cmid,
        "text": text,
    }


def kill_after_storing(monkeypatch):
    real = DynamoStore.append_message
    calls = iter([True])

    def append_then_die(self, chat, message):
        stored = real(self, chat, message)
        if next(calls, False):
            raise LambdaKilled()
        return stored

    monkeypatch.setattr(DynamoStore, "append_message", append_then_die)


def test_a_send_killed_after_storing_is_delivered_by_its_retry(harness, late, monkeypatch):
    alice, bob, chat_id = _pair(harness)
    kill_after_storing(monkeypatch)
    with pytest.raises(LambdaKilled):
        alice.raw(_send(chat_id))
    assert bob.frames() == [] and alice.frames() == []  # stored, never acknowledged or delivered
    late.late_fanout_grace_seconds = 0.0

    retry = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello, edited")

    assert retry["event"] == "message:ack" and retry["duplicate"] is True and retry["seq"] == 1
    [received] = bob.frames()
    assert received["event"] == "chat:message"
    assert (received["message"]["seq"], received["message"]["text"]) == (1, "hello")  # as stored
    again = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")
    assert again["duplicate"] is True and bob.frames() == []  # delivered once, marked
    assert MessageItem.count(chat_id) == 1 and late.slept == []


def test_a_retry_soon_after_a_killed_send_waits_out_the_grace_then_delivers(harness, late, monkeypatch):
    alice, bob, chat_id = _pair(harness)
    kill_after_storing(monkeypatch)
    with pytest.raises(LambdaKilled):
        alice.raw(_send(chat_id))
    late.late_fanout_grace_seconds = 60.0

    retry = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")

    assert retry["duplicate"] is True
    [pause] = late.slept
    assert 55 < pause <= 60  # until the message is a grace period old (less the time since)
    assert [f["message"]["seq"] for f in bob.frames()] == [1]


def test_a_retry_while_the_first_send_is_still_fanning_out_adds_no_frame(harness, late, monkeypatch):
    alice, bob, chat_id = _pair(harness)
    late.late_fanout_grace_seconds = 60.0
    real_dispatch = Fanout.dispatch
    reached, release = threading.Event(), threading.Event()

    def slow_dispatch(self, endpoint, posts):
        if not reached.is_set():
            reached.set()
            release.wait(30)
        return real_dispatch(self, endpoint, posts)

    monkeypatch.setattr(Fanout, "dispatch", slow_dispatch)
    first = threading.Thread(target=alice.raw, args=(_send(chat_id),))
    first.start()
    assert reached.wait(30)  # the first send is stored and acknowledged, its fan-out under way

    def first_finishes_while_the_retry_waits(seconds):
        late.slept.append(seconds)
        release.set()
        first.join(30)

    late.sleep = first_finishes_while_the_retry_waits
    retry = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")

    assert retry["duplicate"] is True and len(late.slept) == 1
    assert [f["message"]["seq"] for f in bob.frames()] == [1]  # the first send's frame only


def _commit_then(monkeypatch, after_commit):
    """The next transaction commits, and then ``after_commit(transaction)`` decides what the
    caller sees (raise: the answer was lost)."""
    once = iter([True])

    class CommitsThen(dynamo.TransactWrite):
        def _commit(self):
            result = super()._commit()
            if next(once, False):
                after_commit(self)
            return result

    monkeypatch.setattr(dynamo, "TransactWrite", CommitsThen)


def _times_out(transaction):
    raise TransactWriteError("Read timeout on endpoint URL (the write had applied)")


def test_a_send_whose_storage_call_failed_after_the_write_applied_finds_its_write(harness, monkeypatch):
    """The transaction commits and its answer is lost: the send reads its send key, finds its
    own message there, and goes on as any send (ack, fan-out); the client never retries."""
    alice, bob, chat_id = _pair(harness)
    _commit_then(monkeypatch, _times_out)

    ack = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")

    assert ack["event"] == "message:ack" and ack["duplicate"] is False and ack["seq"] == 1
    assert [f["message"]["text"] for f in bob.frames()] == ["hello"]
    retry = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")
    assert retry["duplicate"] is True and retry["message_id"] == ack["message_id"]
    assert bob.frames() == [] and MessageItem.count(chat_id) == 1


def test_a_committed_transaction_sent_again_is_not_taken_for_a_client_retry(harness, monkeypatch):
    """An SDK retry of a transaction that had committed (a store that ignores its request token)
    is refused on the send key, which holds this very message: the send goes on as itself."""
    alice, bob, chat_id = _pair(harness)

    def sent_again(transaction):
        transaction._commit()  # cancelled: the send key exists, holding this message

    _commit_then(monkeypatch, sent_again)
    ack = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")

    assert ack["event"] == "message:ack" and ack["duplicate"] is False and ack["seq"] == 1
    assert [f["message"]["seq"] for f in bob.frames()] == [1]
    assert MessageItem.count(chat_id) == 1


def test_a_write_that_applied_unseen_is_delivered_by_the_clients_retry(harness, late, monkeypatch):
    """The answer is lost and storage is down for the check too: the client hears
    ``unavailable``, retries, and the message is stored and delivered once."""
    alice, bob, chat_id = _pair(harness)
    late.late_fanout_grace_seconds = 0.0
    _commit_then(monkeypatch, _times_out)
    real_find = DynamoStore.find_send
    down = iter([True])

    def find_while_down(self, message):
        if next(down, False):
            raise Unavailable()
        return real_find(self, message)

    monkeypatch.setattr(DynamoStore, "find_send", find_while_down)

    failed = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")
    assert failed["event"] == "error" and failed["code"] == "unavailable"
    assert MessageItem.count(chat_id) == 1 and bob.frames() == []

    retry = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")
    assert retry["event"] == "message:ack" and retry["duplicate"] is True and retry["seq"] == 1
    assert [f["message"]["text"] for f in bob.frames()] == ["hello"]
    assert alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")["duplicate"]
    assert bob.frames() == [] and MessageItem.count(chat_id) == 1
    history = bob.send("chat.history", chat_id=chat_id)["messages"]
    assert [(m["seq"], m["client_msg_id"]) for m in history] == [(1, "k1")]


def test_a_retry_after_the_members_changed_leaves_delivery_to_resync(harness, late, monkeypatch):
    """Someone added since must not get an older message live: the retry delivers nothing, and
    every member finds the message in storage."""
    alice, bob, chat_id = _pair(harness)
    kill_after_storing(monkeypatch)
    with pytest.raises(LambdaKilled):
        alice.raw(_send(chat_id))
    late.late_fanout_grace_seconds = 0.0
    carol = harness.connect("carol")
    assert alice.send("chat.add", chat_id=chat_id, members=["carol"])["event"] == "chat:updated"
    bob.frames(), carol.frames()

    retry = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")

    assert retry["duplicate"] is True and retry["seq"] == 1
    assert bob.frames() == [] and carol.frames() == []
    history = bob.send("chat.history", chat_id=chat_id)["messages"]
    assert (history[0]["seq"], history[0]["text"]) == (1, "hello")


def test_a_send_marks_its_key_fanned_out_and_remembers_it_for_a_week(harness):
    alice, _, chat_id = _pair(harness)
    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")
    item = SendKeyItem.get(send_key(chat_id, "alice", "k1"))
    assert item.fanned_out is True
    days = (item.expires_at - datetime.now(UTC)).total_seconds() / 86400
    assert 6.9 < days <= 7


def test_a_mark_that_fails_to_store_costs_nothing_but_a_later_retrys_second_frame(harness, monkeypatch):
    """The mark only saves work later: failing to write it changes no reply and no delivery. (A
    retry of that send then delivers once more: the one case of a second frame, documented.)"""
    alice, bob, chat_id = _pair(harness)

    def storage_down(self, message):
        raise Unavailable()

    monkeypatch.setattr(DynamoStore, "mark_fanned_out", storage_down)
    ack = alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")
    assert ack["event"] == "message:ack" and ack["duplicate"] is False
    assert [f["message"]["seq"] for f in bob.frames()] == [1] and alice.frames() == []
    assert SendKeyItem.get(send_key(chat_id, "alice", "k1")).fanned_out is None
