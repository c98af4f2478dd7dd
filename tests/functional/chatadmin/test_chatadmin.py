"""The operator's command line (``python -m chatadmin``) on moto: listing open reports newest
first, showing one with the messages around it, and each way to resolve it with its effect on
the store, the frames it produces, the action recorded, and every error with its exit code."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain import ids
from chalicelib.domain.reports import report_id
from chalicelib.storage.dynamo import DynamoStore
from chalicelib.storage.tables import ChangeItem, ChatItem, MembershipItem, MessageItem, ReportItem
from chatadmin import moderation
from chatadmin.cli import main
from tests.functional.attachments.test_attachments import BUCKET, create, send, upload


def run(*argv: str) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = main(list(argv), out=lines.append)
    return code, lines


def run_json(*argv: str) -> dict:
    code, lines = run("--json", *argv)
    assert code == 0, lines
    return json.loads("\n".join(lines))


@pytest.fixture
def group(harness):
    """alice (admin), bob, carol; eight messages, bob's at 3, 4 and 8, alice's otherwise."""
    a, b, c = harness.connect("alice"), harness.connect("bob"), harness.connect("carol")
    chat_id = harness.chat(a, "bob", "carol", title="Weekend")
    for seq in range(1, 9):
        sender = b if seq in (3, 4, 8) else a
        sender.send("message.send", chat_id=chat_id, client_msg_id=f"k{seq}", text=f"message {seq}")
    for x in (a, b, c):
        x.frames()
    return a, b, c, chat_id


def reported_at(monkeypatch, when: str) -> None:
    monkeypatch.setattr(ids, "iso_now", lambda: when)


def test_reports_lists_open_reports_newest_first(group, monkeypatch):
    a, _b, c, chat_id = group
    for when, who, seq in (
        ("2026-12-01T10:00:00.000Z", a, 3),
        ("2026-12-03T10:00:00.000Z", c, 4),
        ("2026-12-02T10:00:00.000Z", c, 1),
    ):
        reported_at(monkeypatch, when)
        assert who.send("message.report", chat_id=chat_id, seq=seq, reason=f"about {seq}")["event"] == (
            "message:reported"
        )
    listed = run_json("reports")
    assert [(r["seq"], r["reporter"]) for r in listed["reports"]] == [
        (4, "carol"),
        (1, "carol"),
        (3, "alice"),
    ]
    first = listed["reports"][0]
    assert first["report_id"] == report_id(chat_id, 4, "carol") and first["status"] == "open"
    assert first["message"]["text"] == "message 4" and first["reason"] == "about 4"
    code, lines = run("reports")
    assert code == 0 and lines[0] == "3 open reports, newest first:"
    assert report_id(chat_id, 4, "carol") in lines[1] and '"about 4"' in lines[1] and "message 4" in lines[1]
    assert run_json("reports", "--limit", "1")["reports"][0]["seq"] == 4


def test_a_resolved_report_leaves_the_open_list_for_the_resolved_one(group):
    _, b, _, chat_id = group
    b.send("message.report", chat_id=chat_id, seq=1)
    rid = report_id(chat_id, 1, "bob")
    assert run("resolve", rid, "dismiss")[0] == 0
    assert run_json("reports")["reports"] == []
    assert run("reports") == (0, ["No open reports."])
    assert [r["report_id"] for r in run_json("reports", "--resolved")["reports"]] == [rid]


def test_show_gives_the_copy_the_message_now_and_the_messages_around_it(group):
    _a, _, c, chat_id = group
    c.send("message.report", chat_id=chat_id, seq=4, reason="rude")
    rid = report_id(chat_id, 4, "carol")
    shown = run_json("show", rid, "--around", "2")
    assert [m["seq"] for m in shown["context"]] == [2, 3, 4, 5, 6]
    assert shown["report"]["message"]["text"] == "message 4" and shown["message_now"]["text"] == "message 4"
    assert shown["chat"]["title"] == "Weekend" and shown["chat"]["member_count"] == 3
    near_the_end = run_json("show", rid, "--around", "5")
    assert [m["seq"] for m in near_the_end["context"]] == [1, 2, 3, 4, 5, 6, 7, 8]
    code, lines = run("show", rid)
    text = "\n".join(lines)
    assert code == 0 and f"Report {rid} (open)" in text and "reason      rude" in text
    assert "#4     " in text and "<- reported" in text and "now         unchanged" in text
    assert "Actions: none yet" in text


def test_delete_deletes_the_message_as_a_members_delete_does_and_is_recorded(group, harness):
    a, _b, c, chat_id = group
    c.send("message.report", chat_id=chat_id, seq=8, reason="spam")
    viewing = harness.connect("carol")
    viewing.send("chat.open", chat_id=chat_id)
    viewing.frames()
    rid = report_id(chat_id, 8, "carol")
    code, lines = run("resolve", rid, "delete", "--note", "spam link", "--by", "ops-anna")
    assert code == 0
    assert lines[0].startswith(f"Report {rid} resolved (delete): deleted message 8 of chat {chat_id}")
    assert "no --management endpoint" in lines[0] and "chat.changes" in lines[0]
    item = MessageItem.get(chat_id, 8, consistent_read=True)
    assert item.deleted and item.text == "" and item.rev == 1
    chat = ChatItem.get(chat_id, consistent_read=True)
    assert chat.last_rev == 1 and chat.last_message.deleted  # the chat list's copy follows
    assert [e.seq for e in ChangeItem.query(chat_id)] == [8]
    # members see it as deleted, in the changes feed and the history
    changes = a.send("chat.changes", chat_id=chat_id, after_rev=0)
    assert [(m["seq"], m["deleted"]) for m in changes["messages"]] == [(8, True)]
    # the report keeps the copy, and the action
    shown = run_json("show", rid)
    assert shown["report"]["message"]["text"] == "message 8" and shown["message_now"]["deleted"] is True
    assert shown["report"]["status"] == "resolved"
    [action] = shown["report"]["actions"]
    assert (action["by"], action["action"], action["note"]) == ("ops-anna", "delete", "spam link")
    assert "now         deleted" in "\n".join(run("show", rid)[1])
    # deleting again changes nothing, and is recorded too
    code, lines = run("resolve", rid, "delete")
    assert code == 0 and "was deleted already" in lines[0]
    assert len(run_json("show", rid)["report"]["actions"]) == 2


def test_delete_tells_the_viewers_who_can_see_it_but_no_one_else(group, harness):
    _a, _b, _c, chat_id = group
    viewers = [harness.connect("alice"), harness.connect("bob")]
    for v in viewers:
        v.send("chat.open", chat_id=chat_id)
        v.frames()
    done = moderation.delete_message(DynamoStore(), None, chat_id, 3)
    assert done.changed and sorted(cid for cid, _ in done.posts) == sorted(v.connection_id for v in viewers)
    frame = json.loads(done.posts[0][1])
    assert frame["event"] == "chat:message:updated" and frame["message"]["deleted"] is True
    assert frame["message"]["seq"] == 3 and frame["message"]["rev"] == 1


def test_delete_removes_the_messages_files_from_the_bucket(harness, pair_with_file):
    _a, b, chat_id, key = pair_with_file
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.head_object(Bucket=BUCKET, Key=key)
    b.send("message.report", chat_id=chat_id, seq=1)
    rid = report_id(chat_id, 1, "bob")
    shown = run_json("show", rid)
    assert shown["report"]["message"]["attachments"][0]["name"] == "cat.png"
    assert run("--bucket", BUCKET, "resolve", rid, "delete")[0] == 0
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount") == 0
    copy = run_json("show", rid)["report"]["message"]
    assert copy["attachments"][0]["name"] == "cat.png"  # the copy keeps what the files were


@pytest.fixture
def pair_with_file(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob", title="Photos")
    created = create(a, chat_id)
    upload(created)
    attachment_id = created["attachment"]["attachment_id"]
    assert send(a, chat_id, [attachment_id])["event"] == "message:ack"
    return a, b, chat_id, f"attachments/{chat_id}/{attachment_id}"


def test_a_system_message_cannot_be_deleted_the_report_stays_open(group):
    a, b, _, chat_id = group
    a.send("chat.update", chat_id=chat_id, title="offensive")
    b.send("message.report", chat_id=chat_id, seq=9)
    rid = report_id(chat_id, 9, "bob")
    lines: list[str] = []
    assert main(["resolve", rid, "delete"], out=lines.append) == 4
    assert run_json("show", rid)["report"]["status"] == "open"


def test_remove_takes_the_sender_out_of_the_group_as_chat_remove_does(group, harness):
    a, b, _c, chat_id = group
    a.send("message.report", chat_id=chat_id, seq=4, reason="harassment")
    c2 = harness.connect("carol")
    c2.send("chat.open", chat_id=chat_id)
    c2.frames()
    rid = report_id(chat_id, 4, "alice")
    code, lines = run("resolve", rid, "remove", "--note", "third strike")
    assert code == 0 and f"removed bob from chat {chat_id}" in lines[0]
    assert bob_is_out(chat_id)
    [system] = a.send("chat.history", chat_id=chat_id, after=8)["messages"]
    assert system["kind"] == "system" and system["system"]["type"] == "removed"
    assert system["system"]["users"] == ["bob"] and system["text"] == "moderator removed bob"
    assert b.send("message.send", chat_id=chat_id, client_msg_id="late", text="x")["code"] == "forbidden"
    assert MembershipItem.count("moderator") == 0  # the operator is nobody's member
    [action] = run_json("show", rid)["report"]["actions"]
    assert action["action"] == "remove" and action["note"] == "third strike"


def bob_is_out(chat_id: str) -> bool:
    chat = ChatItem.get(chat_id, consistent_read=True)
    return "bob" not in chat.members and MembershipItem.count("bob", MembershipItem.chat_id == chat_id) == 0


def test_remove_tells_the_removed_and_the_rest(group, harness):
    a, b, c, chat_id = group
    viewer = harness.connect("carol")
    viewer.send("chat.open", chat_id=chat_id)
    for x in (a, b, c, viewer):
        x.frames()
    store = DynamoStore()
    done = moderation.remove_sender(store, chat_id, "bob")
    frames = {cid: json.loads(data) for cid, data in done.posts}
    assert frames[b.connection_id] == {"event": "chat:removed", "chat_id": chat_id, "reason": "removed"}
    assert frames[viewer.connection_id]["event"] == "chat:message"
    assert frames[a.connection_id]["event"] == "chat:message:background"
    assert frames[c.connection_id]["message"]["system"]["type"] == "removed"
    again = moderation.remove_sender(store, chat_id, "bob")
    assert not again.changed and again.posts == [] and "not a member" in again.summary


def test_remove_in_a_direct_chat_is_refused_clearly(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = a.send("chat.create", members=["bob"], direct=True)["chat"]["chat_id"]
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="go away")
    b.send("message.report", chat_id=chat_id, seq=1)
    rid = report_id(chat_id, 1, "bob")
    code = main(["resolve", rid, "remove"], out=lambda line: None)
    assert code == 4
    assert run_json("show", rid)["report"]["status"] == "open"
    assert sorted(ChatItem.get(chat_id, consistent_read=True).members) == ["alice", "bob"]


def test_refusals_say_why(group, capsys):
    _, b, _, chat_id = group
    b.send("message.report", chat_id=chat_id, seq=1)
    rid = report_id(chat_id, 1, "bob")
    assert main(["show", "rp_" + "a" * 20], out=lambda line: None) == 3
    assert "no report rp_aaaaaaaaaaaaaaaaaaaa" in capsys.readouterr().err
    assert main(["resolve", "r-1", "dismiss"], out=lambda line: None) == 2
    assert "'r-1' is not a report id" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["resolve", rid, "ban"])
    assert exited.value.code == 2 and "invalid choice: 'ban'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["reports", "--limit", "0"])
    assert exited.value.code == 2
    assert run_json("show", rid)["report"]["actions"] == []  # none of these recorded anything


def test_missing_tables_are_named(group, capsys):
    ReportItem.delete_table()  # the tables fixture makes them again for the next test
    assert main(["reports"], out=lambda line: None) == 5
    assert "test-* at AWS region us-east-1: a table is missing" in capsys.readouterr().err
