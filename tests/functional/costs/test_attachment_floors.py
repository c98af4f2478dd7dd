"""Issue 26: attachments at the cost docs/protocol.md ("Attachments", "This backend") promises,
on busy tables, at N = 2, 10, 50, 100, 1,000: ``attachment.create`` 2 DynamoDB requests and no
S3 request; a send with k files one DynamoDB request more than the same send without files,
k ``HeadObject`` and, after storing, k requests taking the pending tags off; nothing else."""

from __future__ import annotations

import pytest
import requests as http

from tests.functional.costs.metering import DEFAULT
from tests.functional.costs.world import build_chat

SIZES = [2, 10, 50, 100, 1000]
FILES = 3
DATA = b"hello, file"


def _upload(created: dict) -> None:
    form = created["upload"]
    answer = http.post(form["url"], data=form["fields"], files={"file": ("f", DATA)}, timeout=10)
    assert int(answer.status_code) == 204, answer.text


@pytest.mark.parametrize("size", SIZES)
def test_attachments_cost_what_the_protocol_page_says(world, size, capsys):
    chat = build_chat(world.harness, size, connected=2, viewing=2)  # the others are offline
    owner = chat.owner
    owner.send("message.send", chat_id=chat.chat_id, client_msg_id="warm", text="warm")
    world.drain_fanout()
    ids, creates = [], []
    for i in range(FILES):
        with world.meter.measure() as requests:
            created = owner.send(
                "attachment.create",
                chat_id=chat.chat_id,
                name=f"f{i}.txt",
                content_type="text/plain",
                size=len(DATA),
            )
        assert created["event"] == "attachment:created", created
        creates.append(requests)
        ids.append(created["attachment"]["attachment_id"])
        _upload(created)
    with world.meter.measure() as plain:
        assert owner.send("message.send", chat_id=chat.chat_id, client_msg_id="plain", text="x")["seq"] == 2
    with world.meter.measure() as files:
        ack = owner.send(
            "message.send", chat_id=chat.chat_id, client_msg_id="files", text="x", attachments=ids
        )
    assert ack["event"] == "message:ack", ack
    world.drain_fanout()
    s3 = [r.operation for r in files.of(DEFAULT, service="s3")]
    with_files, without = files.of(DEFAULT), plain.of(DEFAULT)
    with capsys.disabled():
        print(
            f"\n  attachments N={size:>4}: attachment.create {creates[0].of(DEFAULT).summary()}; "
            f"send with {FILES} files {len(with_files)} DynamoDB requests ({with_files.wru:g} WRU) "
            f"against {len(without)} ({without.wru:g} WRU) without, S3 {s3}"
        )
    for requests in creates:
        assert len(requests.of(DEFAULT)) == 2 and requests.of(service="s3") == []
    assert len(files.of(DEFAULT)) == len(plain.of(DEFAULT)) + 1
    assert sorted(s3) == ["DeleteObjectTagging"] * FILES + ["HeadObject"] * FILES
    assert {r.service for r in files if r.function} <= {"dynamodb", "s3", "sqs"}
