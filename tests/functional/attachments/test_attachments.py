"""Attachments (PROTOCOL v3): attachment.create's record and upload form, an upload straight to
S3 (moto), a send that checks the object and attaches it in its transaction, download links,
deletes, and every refusal storing and sending nothing."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
import requests

from chalicelib.storage.tables import AttachmentItem, ChatItem

BUCKET = "test-attachments"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PNG_SIZE = len(PNG)


@pytest.fixture
def s3():
    return boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def pair(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob", title="Photos")
    b.send("chat.open", chat_id=chat_id)
    b.frames()
    return a, b, chat_id


def create(client, chat_id, name="cat.png", content_type="image/png", size=PNG_SIZE):
    return client.send("attachment.create", chat_id=chat_id, name=name, content_type=content_type, size=size)


def upload(created, data=PNG, content_type=None):
    upload = created["upload"]
    fields = dict(upload["fields"])
    if content_type is not None:
        fields["Content-Type"] = content_type
    answer = requests.post(upload["url"], data=fields, files={"file": ("f", data)}, timeout=10)
    assert int(answer.status_code) == 204, answer.text  # moto's mock answers it as a string
    return answer


def send(client, chat_id, ids, key="k1", **fields):
    return client.send("message.send", chat_id=chat_id, client_msg_id=key, attachments=ids, **fields)


def test_create_answers_a_form_for_exactly_that_file(pair):
    a, _, chat_id = pair
    created = create(a, chat_id)
    assert created["event"] == "attachment:created"
    attachment = created["attachment"]
    assert attachment["attachment_id"].startswith("a_")
    assert {k: attachment[k] for k in ("name", "content_type", "size")} == {
        "name": "cat.png",
        "content_type": "image/png",
        "size": len(PNG),
    }
    fields = created["upload"]["fields"]
    assert fields["key"] == f"attachments/{chat_id}/{attachment['attachment_id']}"
    assert fields["Content-Type"] == "image/png" and fields["success_action_status"] == "204"
    policy = json.loads(__import__("base64").b64decode(fields["policy"]))
    assert ["content-length-range", len(PNG), len(PNG)] in policy["conditions"]
    assert ["eq", "$Content-Type", "image/png"] in policy["conditions"]
    assert created["expires_at"].endswith("Z")
    item = AttachmentItem.get(attachment["attachment_id"], consistent_read=True)
    assert (item.user_id, item.chat_id, item.seq) == ("alice", chat_id, None)


def test_a_file_sent_reaches_the_other_member_with_a_link_that_downloads_it(pair, s3):
    a, b, chat_id = pair
    created = create(a, chat_id)
    upload(created)
    ack = send(a, chat_id, [created["attachment"]["attachment_id"]])
    assert ack["event"] == "message:ack", ack
    [frame] = b.frames()
    message = frame["message"]
    assert message["text"] == ""
    [file] = message["attachments"]
    assert file["name"] == "cat.png" and file["size"] == len(PNG)
    got = requests.get(file["url"], timeout=10)
    assert got.status_code == 200 and got.content == PNG
    assert "cat.png" in got.headers.get("Content-Disposition", "")
    # Attached: its record belongs to the message now, and the object is no longer pending.
    item = AttachmentItem.get(file["attachment_id"], consistent_read=True)
    assert item.seq == ack["seq"] and item.expires_at is None
    key = f"attachments/{chat_id}/{file['attachment_id']}"
    assert s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"] == []
    # Every view of the message carries a fresh link.
    history = b.send("chat.history", chat_id=chat_id)["messages"][0]["attachments"][0]
    assert requests.get(history["url"], timeout=10).content == PNG
    listed = b.send("chat.list")["chats"][0]["last_message"]["attachments"][0]
    assert listed["url"]


def test_several_files_keep_their_order_and_text_is_optional(pair):
    a, b, chat_id = pair
    ids = []
    for name in ("b.txt", "a.txt", "c.txt"):
        created = create(a, chat_id, name=name, content_type="text/plain", size=5)
        upload(created, b"hello")
        ids.append(created["attachment"]["attachment_id"])
    assert send(a, chat_id, ids, text="three files")["event"] == "message:ack"
    [frame] = b.frames()
    assert [f["name"] for f in frame["message"]["attachments"]] == ["b.txt", "a.txt", "c.txt"]
    assert frame["message"]["text"] == "three files"


def test_a_retried_send_is_a_duplicate_and_racing_sends_attach_a_file_once(pair):
    a, _, chat_id = pair
    created = create(a, chat_id)
    upload(created)
    file_id = created["attachment"]["attachment_id"]
    first = send(a, chat_id, [file_id], key="same")
    again = send(a, chat_id, [file_id], key="same")
    assert again["duplicate"] is True and again["seq"] == first["seq"]
    other = create(a, chat_id)
    upload(other)
    other_id = other["attachment"]["attachment_id"]
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda i: send(a, chat_id, [other_id], key=f"race{i}"), range(4)))
    assert sorted(r["event"] for r in replies) == ["error"] * 3 + ["message:ack"], replies
    assert all(r["code"] == "bad_request" for r in replies if r["event"] == "error")
    assert ChatItem.get(chat_id, consistent_read=True).last_seq == 2


def _refused(client, chat_id, ids, harness, b, **fields):
    before = ChatItem.get(chat_id, consistent_read=True).last_seq
    reply = send(client, chat_id, ids, key="refused", **fields)
    assert reply["event"] == "error" and reply["code"] == "bad_request", reply
    assert ChatItem.get(chat_id, consistent_read=True).last_seq == before
    assert b.frames() == []
    return reply


def test_sends_naming_files_they_may_not_carry_are_refused(harness, pair):
    a, b, chat_id = pair
    _refused(a, chat_id, ["a_unknown"], harness, b)
    # bob's file, and a file of another chat
    theirs = create(b, chat_id)
    upload(theirs)
    _refused(a, chat_id, [theirs["attachment"]["attachment_id"]], harness, b)
    elsewhere_chat = harness.chat(a, "carol")
    elsewhere = create(a, elsewhere_chat)
    upload(elsewhere)
    _refused(a, chat_id, [elsewhere["attachment"]["attachment_id"]], harness, b)
    # not uploaded yet
    pending = create(a, chat_id)
    _refused(a, chat_id, [pending["attachment"]["attachment_id"]], harness, b)
    # already part of a message
    used = create(a, chat_id)
    upload(used)
    assert send(a, chat_id, [used["attachment"]["attachment_id"]], key="first")["event"] == "message:ack"
    b.frames()
    _refused(a, chat_id, [used["attachment"]["attachment_id"]], harness, b)


def test_an_upload_unlike_what_was_declared_is_refused(harness, pair):
    """moto does not enforce the form's policy (S3 does): the send checks the object itself."""
    a, b, chat_id = pair
    smaller = create(a, chat_id, size=len(PNG) + 10)
    upload(smaller)  # fewer bytes than declared
    _refused(a, chat_id, [smaller["attachment"]["attachment_id"]], harness, b)
    typed = create(a, chat_id)
    upload(typed, content_type="text/html")
    reply = _refused(a, chat_id, [typed["attachment"]["attachment_id"]], harness, b)
    assert "text/html" in reply["message"]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"name": ""}, "bad_request"),
        ({"name": "x" * 201}, "bad_request"),
        ({"name": "a\nb.txt"}, "bad_request"),
        ({"name": "a\u0000b"}, "bad_request"),
        ({"content_type": "image"}, "bad_request"),
        ({"content_type": "image/png; charset=x"}, "bad_request"),
        ({"content_type": 5}, "bad_request"),
        ({"size": 0}, "bad_request"),
        ({"size": 26214401}, "too_large"),
        ({"size": "10"}, "bad_request"),
        ({"size": True}, "bad_request"),
    ],
)
def test_bad_attachments_are_refused_and_store_nothing(pair, fields, code):
    a, _, chat_id = pair
    body = {"name": "f.bin", "content_type": "application/octet-stream", "size": 10, **fields}
    reply = a.send("attachment.create", chat_id=chat_id, **body)
    assert reply["event"] == "error" and reply["code"] == code, reply


def test_the_largest_file_is_allowed_and_a_non_member_is_refused(harness, pair):
    a, _, chat_id = pair
    assert create(a, chat_id, size=26214400)["event"] == "attachment:created"
    assert create(harness.connect("zed"), chat_id)["code"] == "forbidden"


@pytest.mark.parametrize("ids", [[], ["a_1"] * 2, [f"a_{i}" for i in range(11)], "a_1", [5]])
def test_bad_attachment_lists_are_refused(pair, ids):
    a, _, chat_id = pair
    assert send(a, chat_id, ids)["code"] == "bad_request"


def test_text_is_required_without_files(pair):
    a, _, chat_id = pair
    reply = a.send("message.send", chat_id=chat_id, client_msg_id="k", text="")
    assert reply["code"] == "bad_request"


def test_deleting_the_message_deletes_its_files(pair, s3):
    a, b, chat_id = pair
    created = create(a, chat_id)
    upload(created)
    send(a, chat_id, [created["attachment"]["attachment_id"]])
    url = b.frames()[0]["message"]["attachments"][0]["url"]
    deleted = a.send("message.delete", chat_id=chat_id, seq=1)["message"]
    assert deleted["attachments"] == [] and deleted["deleted"] is True
    assert requests.get(url, timeout=10).status_code in (403, 404)  # S3: 403 without ListBucket
    key = f"attachments/{chat_id}/{created['attachment']['attachment_id']}"
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount") == 0


def test_attachment_create_costs_two_requests_and_a_send_one_more_and_a_head_per_file(
    harness, pair, aws_calls
):
    a, _, chat_id = pair
    mark = aws_calls.mark()
    created = create(a, chat_id)
    assert len(aws_calls.operations_since(mark)) == 2  # the turn, the transaction
    assert aws_calls.since(mark, service="s3") == []  # signing the form is local
    upload(created)
    plain_mark = aws_calls.mark()
    a.send("message.send", chat_id=chat_id, client_msg_id="plain", text="x")
    plain = len(aws_calls.operations_since(plain_mark))
    mark = aws_calls.mark()
    send(a, chat_id, [created["attachment"]["attachment_id"]])
    assert len(aws_calls.operations_since(mark)) == plain + 1
    s3_ops = [op for _, op, _ in aws_calls.since(mark, service="s3")]
    assert s3_ops.count("HeadObject") == 1 and set(s3_ops) <= {"HeadObject", "DeleteObjectTagging"}
