"""Files survive a restart of the local stack like the rest of its data: the embedded S3's objects
(content, content type, tags) are saved in the data folder on stop and put back at start, in
both of the stack's modes (moto in a process of its own, or in the stack's one process)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.integration.attachments.files import BUCKET, chat_of_two, create, download, s3_client, tags, upload
from tests.integration.conftest import run
from tests.integration.peer import Peer
from tests.stack import ONE_PROCESS, LocalStack

SENT = bytes(range(256)) * 40
PENDING = b"%PDF-1.7 not attached yet"


@pytest.mark.parametrize("mode", [{}, ONE_PROCESS], ids=["moto-process", "one-process"])
def test_files_uploaded_before_a_restart_download_after_it(tmp_path, user, mode):
    def persistent() -> LocalStack:
        return LocalStack(CHAT_EPHEMERAL="", CHAT_DATA_DIR=str(tmp_path), **mode)

    async def before(stack: LocalStack) -> tuple[str, str, str, str, str]:
        a, b, chat_id = await chat_of_two(stack, user)
        sent = await create(a, chat_id, len(SENT), name="kept.bin", content_type="application/octet-stream")
        await upload(sent, SENT)
        sent_id = sent["attachment"]["attachment_id"]
        ack = await a.request("message.send", chat_id=chat_id, client_msg_id="k", attachments=[sent_id])
        assert ack["event"] == "message:ack", ack
        pending = await create(a, chat_id, len(PENDING), name="later.pdf", content_type="application/pdf")
        await upload(pending, PENDING)
        for peer in (a, b):
            await peer.close()
        return a.user, b.user, chat_id, sent_id, pending["attachment"]["attachment_id"]

    with persistent() as first:
        alice, bob, chat_id, sent_id, pending_id = run(before(first))
    assert "Saved the local files to" in first.text, first.text
    manifest = json.loads((tmp_path / "s3" / "objects.json").read_text())
    assert len(manifest["buckets"][BUCKET]) == 2

    async def after(stack: LocalStack) -> None:
        b = await Peer.connect(stack.ws_url(bob), bob)
        history = await b.request("chat.history", chat_id=chat_id)
        (message,) = [m for m in history["messages"] if m.get("attachments")]
        link = message["attachments"][0]["url"]
        assert link.startswith(stack.s3_endpoint + "/")  # the new run's S3
        got = await asyncio.to_thread(download, link)
        assert got.status_code == 200 and got.content == SENT
        assert got.headers["Content-Type"] == "application/octet-stream"
        assert tags(stack, chat_id, sent_id) == {}
        assert tags(stack, chat_id, pending_id) == {"pending": "true"}
        head = s3_client(stack).head_object(Bucket=BUCKET, Key=f"attachments/{chat_id}/{pending_id}")
        assert head["ContentType"] == "application/pdf" and head["ContentLength"] == len(PENDING)
        # the file uploaded before the restart can still be sent
        a = await Peer.connect(stack.ws_url(alice), alice)
        ack = await a.request("message.send", chat_id=chat_id, client_msg_id="k2", attachments=[pending_id])
        assert ack["event"] == "message:ack", ack
        for peer in (a, b):
            await peer.close()

    with persistent() as second:
        assert "(restored 2 files saved " in second.text, second.text
        run(after(second))
