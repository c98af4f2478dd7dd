"""Direct chats (one per pair, also under a race) and membership changes racing sends."""

from __future__ import annotations

import threading

from chalicelib.storage.tables import MessageItem


def run_together(*calls):
    """Start every call at once on threads of its own; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_direct_chat_is_created_once_and_found_again(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    first = a.send("chat.create", members=["bob"], direct=True)["chat"]
    assert first["kind"] == "direct" and first["admins"] == [] and first["title"] is None
    assert first["members"] == ["alice", "bob"] and first["chat_id"].startswith("d_")
    assert [f["event"] for f in b.frames()] == ["chat:added"]
    again = b.send("chat.create", members=["alice", "bob", "alice"], direct=True)["chat"]
    assert again["chat_id"] == first["chat_id"]
    assert a.frames() == []  # found again: nobody is told of a new chat
    assert [c["chat_id"] for c in b.send("chat.list")["chats"]] == [first["chat_id"]]


def test_a_direct_chat_made_before_ids_were_keyed_is_still_the_pairs_one_chat(harness):
    """Direct chats created under the old, computable id (SHA-256 of the pair) are found again:
    chat.create looks that id up before it makes a keyed one."""
    from chalicelib.domain import ids
    from chalicelib.domain.membership import Roster
    from chalicelib.domain.records import ChatRecord
    from chalicelib.storage.dynamo import DynamoStore

    old_id = ids.legacy_direct_chat_id("alice", "bob")
    now = ids.iso_now()
    old = ChatRecord(
        chat_id=old_id, kind="direct", title=None, members=("alice", "bob"), member_count=2,
        created_by="alice", created_at=now, last_activity=now,
    )  # fmt: skip
    assert DynamoStore().create_chat(old, Roster.of({"alice": 0, "bob": 0}))
    a, b = harness.connect("alice"), harness.connect("bob")
    a.send("message.send", chat_id=old_id, client_msg_id="k1", text="from before")
    assert b.send("chat.create", members=["alice"], direct=True)["chat"]["chat_id"] == old_id
    assert a.send("chat.leave", chat_id=old_id)["event"] == "chat:left"
    back = b.send("chat.create", members=["alice"], direct=True)  # takes alice back into it
    assert back["event"] == "chat:created" and back["chat"]["chat_id"] == old_id
    assert [c["chat_id"] for c in a.send("chat.list")["chats"]] == [old_id]
    # Another pair gets a keyed id, which is not the old one.
    fresh = a.send("chat.create", members=["carol"], direct=True)["chat"]["chat_id"]
    assert fresh.startswith("d_") and fresh != ids.legacy_direct_chat_id("alice", "carol")


def test_a_direct_chat_cannot_be_made_while_the_secret_cannot_be_read(harness, monkeypatch):
    """The id's key comes from the JWT secret (SSM in a deployment): when it cannot be read,
    chat.create direct is unavailable (safe to retry) and stores nothing; groups still work."""
    from chalicelib import runtime
    from chalicelib.secret import SecretUnavailable
    from tests.functional.snapshot import table_snapshot

    a = harness.connect("alice")
    service = runtime.service()

    def unreadable() -> str:
        raise SecretUnavailable("cannot read SSM parameter /chat-backend/dev/jwt-secret")

    monkeypatch.setattr(service, "_direct_chat_key", None)
    monkeypatch.setattr(service.secret, "get", unreadable)
    before = table_snapshot()
    reply = a.send("chat.create", members=["bob"], direct=True)
    assert reply["event"] == "error" and reply["code"] == "unavailable", reply
    assert table_snapshot() == before
    assert a.send("chat.create", members=["bob"])["event"] == "chat:created"
    monkeypatch.undo()
    assert a.send("chat.create", members=["bob"], direct=True)["event"] == "chat:created"


def test_direct_chat_created_by_both_at_the_same_instant_is_one_chat(harness):
    for round_ in range(10):
        alice, bob = f"alice{round_}", f"bob{round_}"
        a, b = harness.connect(alice), harness.connect(bob)
        replies = run_together(
            lambda a=a, bob=bob: a.send("chat.create", members=[bob], direct=True),
            lambda b=b, alice=alice: b.send("chat.create", members=[alice], direct=True),
        )
        ids = {r["chat"]["chat_id"] for r in replies}
        assert len(ids) == 1, replies
        assert len(a.send("chat.list")["chats"]) == len(b.send("chat.list")["chats"]) == 1
        added = [f for c in (a, b) for f in c.frames() if f["event"] == "chat:added"]
        assert len(added) == 1  # only the request that created it announced it


def test_direct_chat_refuses_group_changes_and_bad_shapes(harness):
    a = harness.connect("alice")
    chat_id = a.send("chat.create", members=["bob"], direct=True)["chat"]["chat_id"]
    for action, fields in [
        ("chat.add", {"members": ["carol"]}),
        ("chat.remove", {"members": ["bob"]}),
        ("chat.update", {"title": "x"}),
    ]:
        assert a.send(action, chat_id=chat_id, **fields)["code"] == "bad_request"
    assert a.send("chat.create", members=["bob", "carol"], direct=True)["code"] == "bad_request"
    assert a.send("chat.create", members=["alice"], direct=True)["code"] == "bad_request"
    assert a.send("chat.create", members=["bob"], direct=True, title="t")["code"] == "bad_request"
    assert a.send("chat.create", members=["bob"], direct="yes")["code"] == "bad_request"


def test_leaving_a_direct_chat_and_coming_back(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = a.send("chat.create", members=["bob"], direct=True)["chat"]["chat_id"]
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    assert b.send("chat.leave", chat_id=chat_id)["event"] == "chat:left"
    assert b.send("chat.list")["chats"] == []
    a.frames()
    back = b.send("chat.create", members=["alice"], direct=True)
    assert back["event"] == "chat:created" and back["chat"]["chat_id"] == chat_id
    assert back["chat"]["joined_seq"] == 3 and back["chat"]["members"] == ["alice", "bob"]
    [frame] = a.frames()
    assert frame["message"]["system"] == {"type": "added", "users": ["bob"]}


def test_removal_racing_sends_of_the_removed_member(harness):
    """20 rounds: bob sends while alice removes him. A message of bob's is stored before the
    removal or refused; nothing stored after the removal reaches bob."""
    a, b, watcher = harness.connect("alice"), harness.connect("bob"), None
    chat_id = harness.chat(a, "bob", "carol")
    for round_ in range(20):
        watcher = harness.connect("bob")  # bob's other device sees what bob's user is sent
        sends = [
            lambda key=f"r{round_}m{i}": b.send("message.send", chat_id=chat_id, client_msg_id=key, text="hi")
            for i in range(3)
        ]
        results = run_together(lambda: a.send("chat.remove", chat_id=chat_id, members=["bob"]), *sends)
        removal_seq = results[0]["chat"]["last_seq"]
        for reply in results[1:]:
            assert (reply["event"] == "message:ack" and reply["seq"] < removal_seq) or reply[
                "code"
            ] == "forbidden"
        stored = [
            int(m.seq)
            for m in MessageItem.query(chat_id)
            if m.sender_id == "bob" and m.client_msg_id.startswith(f"r{round_}m")
        ]
        assert all(seq < removal_seq for seq in stored)
        frames = watcher.frames()
        assert {"event": "chat:removed", "chat_id": chat_id, "reason": "removed"} in frames
        seqs = [f["message"]["seq"] for f in frames if "message" in f]
        assert all(seq < removal_seq for seq in seqs), (removal_seq, frames)
        b.frames()
        a.send("message.send", chat_id=chat_id, client_msg_id=f"after{round_}", text="bob is out")
        assert watcher.frames() == [] and b.frames() == []
        a.send("chat.add", chat_id=chat_id, members=["bob"])
        b.frames()
        watcher.disconnect()
