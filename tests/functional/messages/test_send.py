"""message.send: ordering, idempotency, and what the sender's pointers do."""

from __future__ import annotations

import threading

from chalicelib.storage.tables import MessageItem


def test_retry_with_same_client_msg_id_stores_and_delivers_once(harness, api):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    b.frames()

    first = a.send("message.send", chat_id=chat_id, client_msg_id="same-id", text="hello")
    retry = a.send("message.send", chat_id=chat_id, client_msg_id="same-id", text="hello")

    assert first["duplicate"] is False and retry["duplicate"] is True
    assert (retry["seq"], retry["message_id"], retry["sent_at"]) == (
        first["seq"],
        first["message_id"],
        first["sent_at"],
    )
    assert MessageItem.count(chat_id) == 1
    assert len(b.frames()) == 1  # one delivery, for the first send only
    assert a.send("chat.history", chat_id=chat_id)["messages"][0]["message_id"] == first["message_id"]


def test_a_retry_of_the_latest_message_reads_its_send_key_instead_of_writing(harness, aws_calls):
    """The usual retry (the ack was lost, nobody wrote since) is known from the chat item: its
    send key is read, no transaction is tried (and cancelled: 8 write units)."""
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    first = a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")
    b.frames()
    mark = aws_calls.mark()
    retry = a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello?")
    assert aws_calls.operations_since(mark) == ["UpdateItem", "GetItem", "GetItem"]  # turn, chat, key
    assert retry["duplicate"] is True and (retry["seq"], retry["message_id"], retry["sent_at"]) == (
        first["seq"],
        first["message_id"],
        first["sent_at"],
    )
    assert b.frames() == [] and MessageItem.count(chat_id) == 1


def test_a_retry_after_others_wrote_is_still_recognised(harness, aws_calls):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    first = a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")
    assert b.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")["seq"] == 2  # bob's own k1
    b.frames()
    mark = aws_calls.mark()
    retry = a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello")
    assert "TransactWriteItems" in aws_calls.operations_since(mark)  # cancelled on the send key
    assert retry["duplicate"] is True and retry["seq"] == first["seq"] == 1
    assert b.frames() == [] and MessageItem.count(chat_id) == 2


def test_same_client_msg_id_is_scoped_to_chat_and_sender(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat1 = harness.chat(a, "bob")
    chat2 = harness.chat(a, "bob")
    assert a.send("message.send", chat_id=chat1, client_msg_id="k1", text="x")["duplicate"] is False
    assert a.send("message.send", chat_id=chat2, client_msg_id="k1", text="x")["duplicate"] is False
    assert b.send("message.send", chat_id=chat1, client_msg_id="k1", text="x")["duplicate"] is False
    assert a.send("chat.history", chat_id=chat1)["messages"][-1]["seq"] == 2


def test_twenty_concurrent_sends_get_seq_1_to_20(harness):
    a = harness.connect("alice")
    b = harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    b.send("chat.open", chat_id=chat_id)
    b.frames()
    senders = [harness.connect("alice") for _ in range(20)]
    acks: list[dict] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def send(i: int) -> None:
        start.wait()
        ack = senders[i].send("message.send", chat_id=chat_id, client_msg_id=f"t{i}", text=f"m{i}")
        with lock:
            acks.append(ack)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(ack["seq"] for ack in acks) == list(range(1, 21))
    history = a.send("chat.history", chat_id=chat_id, limit=100)["messages"]
    assert [m["seq"] for m in history] == list(range(1, 21))
    assert sorted(m["text"] for m in history) == sorted(f"m{i}" for i in range(20))
    received = b.frames()
    assert sorted(f["message"]["seq"] for f in received) == list(range(1, 21))
    assert {f["event"] for f in received} == {"chat:message"}


def test_sending_moves_senders_pointers_so_unread_counts_only_others(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    a.send("message.send", chat_id=chat_id, client_msg_id="a1", text="one")
    b.send("message.send", chat_id=chat_id, client_msg_id="b1", text="two")
    a.send("message.send", chat_id=chat_id, client_msg_id="a2", text="three")

    [alice_view] = a.send("chat.list")["chats"]
    [bob_view] = b.send("chat.list")["chats"]
    assert (alice_view["last_seq"], alice_view["read_seq"], alice_view["unread"]) == (3, 3, 0)
    assert (bob_view["read_seq"], bob_view["delivered_seq"], bob_view["unread"]) == (2, 2, 1)


def test_ack_carries_the_protocol_fields(harness):
    a = harness.connect("alice")
    chat_id = harness.chat(a, "bob")
    ack = a.send("message.send", chat_id=chat_id, client_msg_id="k", text="hi")
    assert set(ack) == {
        "event",
        "req",
        "chat_id",
        "client_msg_id",
        "seq",
        "message_id",
        "sent_at",
        "duplicate",
    }
    assert ack["message_id"].startswith("m_") and ack["sent_at"].endswith("Z")
    assert len(ack["sent_at"]) == len("2026-11-24T10:00:01.234Z")


def test_sender_ids_in_frames_are_ignored(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    b.frames()
    a.send("message.send", chat_id=chat_id, client_msg_id="k", text="hi", sender_id="mallory", user_id="x")
    [frame] = b.frames()
    assert frame["message"]["sender_id"] == "alice"


def test_a_send_that_loses_the_race_retries_on_the_next_seq(harness, aws_calls, monkeypatch):
    """Deterministic version of the race: the chat moves between our read and our write."""
    from dataclasses import replace

    from chalicelib.storage.dynamo import DynamoStore

    a = harness.connect("alice")
    chat_id = harness.chat(a, "bob")
    a.send("message.send", chat_id=chat_id, client_msg_id="first", text="one")
    real_get_chat = DynamoStore.get_chat
    stale_once = iter([True])

    def stale_get_chat(self, chat_id):
        chat = real_get_chat(self, chat_id)
        return replace(chat, last_seq=0, last_message=None) if next(stale_once, False) else chat

    monkeypatch.setattr(DynamoStore, "get_chat", stale_get_chat)
    mark = aws_calls.mark()
    ack = a.send("message.send", chat_id=chat_id, client_msg_id="second", text="two")

    assert ack["seq"] == 2 and ack["duplicate"] is False
    # The losing transaction returned the chat as it is, so the retry needed no extra read.
    assert aws_calls.operations_since(mark).count("TransactWriteItems") == 2
    assert aws_calls.operations_since(mark).count("GetItem") == 1  # the chat, once (the connection:
    # its rate-limit turn, an UpdateItem that returns the record)
    history = a.send("chat.history", chat_id=chat_id)["messages"]
    assert [(m["seq"], m["text"]) for m in history] == [(1, "one"), (2, "two")]


def test_storage_failure_is_unavailable_and_changes_nothing(harness, monkeypatch):
    from pynamodb.exceptions import TransactWriteError

    from chalicelib.storage import dynamo
    from tests.functional.snapshot import table_snapshot

    a = harness.connect("alice")
    chat_id = harness.chat(a, "bob")

    class Broken:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            raise TransactWriteError("throttled after retries")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(dynamo, "TransactWrite", Broken)
    before = table_snapshot()
    reply = a.send("message.send", chat_id=chat_id, client_msg_id="k", text="lost?")
    assert reply["event"] == "error" and reply["code"] == "unavailable"
    assert table_snapshot() == before


def test_a_chat_too_busy_for_the_budget_is_unavailable_and_changes_nothing(harness, monkeypatch):
    """Every attempt loses the race: the send gives up within its budget, stores nothing, and
    tells the client to retry (the client library does, with the same client_msg_id)."""
    from chalicelib import runtime
    from chalicelib.storage import SeqConflict
    from chalicelib.storage.dynamo import DynamoStore
    from tests.fake_time import FakeClock
    from tests.functional.snapshot import table_snapshot

    a = harness.connect("alice")
    chat_id = harness.chat(a, "bob")
    attempts: list[int] = []

    def always_loses(self, chat, message):
        attempts.append(chat.last_seq)
        raise SeqConflict(chat)

    clock = FakeClock()
    runtime.service().actions.contention = clock.contention(
        budget_seconds=1.0, base_seconds=0.005, cap_seconds=0.4, jitter=lambda low, high: high
    )
    monkeypatch.setattr(DynamoStore, "append_message", always_loses)
    before = table_snapshot()

    reply = a.send("message.send", chat_id=chat_id, client_msg_id="k", text="hot chat")

    assert reply["event"] == "error" and reply["code"] == "unavailable"
    assert reply["req"] is not None
    assert 5 < len(attempts) < 20  # pauses 5 ms doubling to 400 ms fit about eight tries in 1 s
    assert clock.now <= 1.0
    assert table_snapshot() == before
