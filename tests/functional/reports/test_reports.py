"""message.report (PROTOCOL v3, "Blocking and reporting"): who may report what, what is kept
(a copy of the message as reported, the reporter, the reason, the time), that reporting again
changes nothing, every refusal, and what a report costs in DynamoDB requests."""

from __future__ import annotations

import pytest

from chalicelib.domain.reports import report_id
from chalicelib.storage.reports import report_from
from chalicelib.storage.tables import ReportItem

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@pytest.fixture
def group(harness):
    """alice (admin), bob and carol; alice said seq 1 (with a mention and a reply later), bob seq 2."""
    a, b, c = harness.connect("alice"), harness.connect("bob"), harness.connect("carol")
    chat_id = harness.chat(a, "bob", "carol", title="Weekend")
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="you are all idiots", mentions=["bob"])
    b.send("message.send", chat_id=chat_id, client_msg_id="k2", text="hey", reply_to=1)
    for x in (a, b, c):
        x.frames()
    return a, b, c, chat_id


def _stored(chat_id: str, seq: int, reporter: str):
    item = ReportItem.get(report_id(chat_id, seq, reporter), consistent_read=True)
    return report_from(item)


def test_a_report_is_acknowledged_and_keeps_a_copy_of_the_message_the_reporter_and_reason(group):
    a, b, c, chat_id = group
    reply = b.send("message.report", chat_id=chat_id, seq=1, reason="insults")
    assert reply == {"event": "message:reported", "req": b.last_req, "chat_id": chat_id, "seq": 1}
    report = _stored(chat_id, 1, "bob")
    assert (report.reporter, report.reason, report.status, report.actions) == ("bob", "insults", "open", ())
    assert report.reported_at.endswith("Z") and report.chat_id == chat_id and report.seq == 1
    copy = report.message
    assert (copy.sender_id, copy.text, copy.seq, copy.mentions, copy.rev) == (
        "alice",
        "you are all idiots",
        1,
        ("bob",),
        0,
    )
    assert copy.sent_at and copy.message_id
    # nobody else hears of it, the reporter's other frames neither
    assert a.frames() == [] and c.frames() == [] and b.frames() == []


def test_a_reason_is_optional_and_a_blank_one_is_none(group):
    _, b, c, chat_id = group
    assert b.send("message.report", chat_id=chat_id, seq=1)["event"] == "message:reported"
    assert c.send("message.report", chat_id=chat_id, seq=1, reason="   ")["event"] == "message:reported"
    assert _stored(chat_id, 1, "bob").reason is None and _stored(chat_id, 1, "carol").reason is None


def test_reporting_again_changes_nothing(group):
    _, b, _, chat_id = group
    b.send("message.report", chat_id=chat_id, seq=1, reason="first")
    before = ReportItem.get(report_id(chat_id, 1, "bob"), consistent_read=True).serialize()
    again = b.send("message.report", chat_id=chat_id, seq=1, reason="second")
    assert again == {"event": "message:reported", "req": b.last_req, "chat_id": chat_id, "seq": 1}
    after = ReportItem.get(report_id(chat_id, 1, "bob"), consistent_read=True).serialize()
    assert after == before and after["reason"] == {"S": "first"}


def test_two_reporters_make_two_reports(group):
    _, b, c, chat_id = group
    b.send("message.report", chat_id=chat_id, seq=1)
    c.send("message.report", chat_id=chat_id, seq=1)
    assert {_stored(chat_id, 1, u).reporter for u in ("bob", "carol")} == {"bob", "carol"}


def test_deleting_or_editing_the_message_later_keeps_the_copy(group):
    a, b, _, chat_id = group
    b.send("message.report", chat_id=chat_id, seq=1, reason="insults")
    a.send("message.edit", chat_id=chat_id, seq=1, text="sorry")
    assert a.send("message.delete", chat_id=chat_id, seq=1)["message"]["deleted"] is True
    copy = _stored(chat_id, 1, "bob").message
    assert copy.text == "you are all idiots" and not copy.deleted and copy.edited_at is None


def test_an_edited_message_is_copied_as_it_is_when_reported(group):
    a, b, _, chat_id = group
    a.send("message.edit", chat_id=chat_id, seq=1, text="still rude")
    b.send("message.report", chat_id=chat_id, seq=1)
    copy = _stored(chat_id, 1, "bob").message
    assert copy.text == "still rude" and copy.rev == 1 and copy.edited_at


def test_reporting_your_own_message_is_bad_request_and_stores_nothing(group):
    a, _, _, chat_id = group
    reply = a.send("message.report", chat_id=chat_id, seq=1)
    assert reply["event"] == "error" and reply["code"] == "bad_request"
    assert ReportItem.count(report_id(chat_id, 1, "alice")) == 0


@pytest.mark.parametrize("seq", [3, 99])
def test_a_seq_past_the_last_is_not_found(group, seq):
    _, b, _, chat_id = group
    reply = b.send("message.report", chat_id=chat_id, seq=seq)
    assert reply["code"] == "not_found"
    assert ReportItem.count(report_id(chat_id, seq, "bob")) == 0


def test_a_message_from_before_the_reporter_joined_is_not_found(harness, group):
    a, _, _, chat_id = group
    dave = harness.connect("dave")
    assert a.send("chat.add", chat_id=chat_id, members=["dave"])["event"] == "chat:updated"
    dave.frames()
    for seq in (1, 2, 3):  # 3: the system message that added dave (joined_seq)
        assert dave.send("message.report", chat_id=chat_id, seq=seq)["code"] == "not_found"
    a.send("message.send", chat_id=chat_id, client_msg_id="k3", text="welcome dave")
    assert dave.send("message.report", chat_id=chat_id, seq=4)["event"] == "message:reported"


def test_a_non_member_and_an_unknown_chat_are_forbidden_as_every_action_on_a_chat(harness, group):
    _, _, _, chat_id = group
    eve = harness.connect("eve")
    assert eve.send("message.report", chat_id=chat_id, seq=1)["code"] == "forbidden"
    assert eve.send("message.report", chat_id="c_nope", seq=1)["code"] == "forbidden"
    assert ReportItem.count(report_id(chat_id, 1, "eve")) == 0


def test_a_member_who_left_can_no_longer_report(group):
    _, _, c, chat_id = group
    c.send("chat.leave", chat_id=chat_id)
    assert c.send("message.report", chat_id=chat_id, seq=1)["code"] == "forbidden"


def test_a_system_message_of_another_member_may_be_reported(group):
    a, b, _, chat_id = group
    a.send("chat.update", chat_id=chat_id, title="something offensive")
    assert b.send("message.report", chat_id=chat_id, seq=3)["event"] == "message:reported"
    copy = _stored(chat_id, 3, "bob").message
    assert copy.system is not None and copy.system.type == "updated" and copy.sender_id == "alice"


@pytest.mark.parametrize(
    ("fields", "code", "says"),
    [
        ({"seq": 1, "reason": "x" * 501}, "too_large", "500"),
        ({"seq": 1, "reason": 5}, "bad_request", "'reason' must be a string"),
        ({"seq": 1, "reason": ["spam"]}, "bad_request", "'reason' must be a string"),
        ({"seq": 1, "reason": "\ud800"}, "bad_request", "Unicode"),
        ({}, "bad_request", "'seq' is required"),
        ({"seq": 0}, "bad_request", "'seq' must be at least 1"),
        ({"seq": "1"}, "bad_request", "'seq' must be an integer"),
        ({"seq": True}, "bad_request", "'seq' must be an integer"),
    ],
)
def test_bad_fields_are_refused_and_store_nothing(group, fields, code, says):
    _, b, _, chat_id = group
    reply = b.send("message.report", chat_id=chat_id, **fields)
    assert reply["event"] == "error" and reply["code"] == code and says in reply["message"], reply
    assert ReportItem.count(report_id(chat_id, 1, "bob")) == 0


def test_a_missing_or_bad_chat_id_is_bad_request(group):
    _, b, _, _ = group
    assert b.send("message.report", seq=1)["code"] == "bad_request"
    assert b.send("message.report", chat_id="bad id!", seq=1)["code"] == "bad_request"


def test_a_reason_of_exactly_500_characters_is_kept_whole(group):
    _, b, _, chat_id = group
    reason = "é" * 500
    assert b.send("message.report", chat_id=chat_id, seq=1, reason=reason)["event"] == "message:reported"
    assert _stored(chat_id, 1, "bob").reason == reason


def test_a_report_costs_the_turn_one_read_and_one_conditional_put(harness, aws_calls, group):
    _, b, _, chat_id = group
    for attempt in ("first", "again"):
        mark = aws_calls.mark()
        assert b.send("message.report", chat_id=chat_id, seq=1)["event"] == "message:reported", attempt
        calls = aws_calls.since(mark, service=None)
        assert [(s, op) for s, op, _ in calls] == [
            ("dynamodb", "UpdateItem"),  # the connection's turn
            ("dynamodb", "BatchGetItem"),  # the chat, the membership and the message
            ("dynamodb", "PutItem"),  # the report, on the condition that it is new
        ], attempt
        put = calls[-1][2]
        assert put["TableName"] == ReportItem.Meta.table_name and "ConditionExpression" in put
