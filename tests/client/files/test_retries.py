"""A file send whose upload fails, against the local stack: faults are injected around the real
upload (the POST to the embedded S3 still carries every byte that gets through), to show what
the client does after each kind of failure: a transient one posts the same form again, an
expired form gets a new one, a refusal stops it, and then nothing is sent."""

from __future__ import annotations

import os

import pytest

import chatclient.client
from chatclient import Message, UploadFailed
from chatclient.files.transfer import TransferError
from tests.client.conftest import make_client, wait_for
from tests.integration.conftest import run

REAL_POST = chatclient.client.post_form


def failing(faults: list[TransferError], seen: list[tuple[str, dict[str, str]]]):  # type: ignore[no-untyped-def]
    """``post_form`` raising the ``faults`` first (one a call), then the real one."""

    def post(url, form, path, **options):  # type: ignore[no-untyped-def]
        seen.append((url, dict(form.fields)))
        if faults:
            raise faults.pop(0)
        return REAL_POST(url, form, path, **options)

    return post


def scenario_of(stack, user, path, faults, seen, check):  # type: ignore[no-untyped-def]
    async def scenario():
        alice_id, bob_id = user("alice"), user("bob")
        async with make_client(stack, alice_id) as alice, make_client(stack, bob_id) as bob:
            got: list[Message] = []
            chat = await alice.create_chat([bob_id], "Retries")
            await bob.open_chat(chat.chat_id, got.append)
            await check(alice, bob, chat.chat_id, got)

    return scenario()


def test_transient_upload_failures_post_the_same_form_again_and_the_message_is_sent_once(
    stack, user, tmp_path, monkeypatch
):
    data = os.urandom(70_000)
    path = tmp_path / "photo.png"
    path.write_bytes(data)
    seen: list[tuple[str, dict[str, str]]] = []
    faults = [TransferError("upload failed", None), TransferError("upload refused", 503, "SlowDown")]
    monkeypatch.setattr(chatclient.client, "post_form", failing(faults, seen))

    async def check(alice, bob, chat_id, got):  # type: ignore[no-untyped-def]
        ack = await alice.send_file(chat_id, path)
        assert len(seen) == 3 and seen[0] == seen[1] == seen[2]  # one form, posted three times
        await wait_for(lambda: any(m.seq == ack.seq for m in got))
        [message] = [m for m in got if m.seq == ack.seq]
        [attachment] = message.attachments
        assert seen[0][1]["key"].endswith(attachment.attachment_id)
        saved = await bob.download(attachment, tmp_path / "copy.png")
        assert saved.read_bytes() == data

    run(scenario_of(stack, user, path, faults, seen, check))


def test_an_expired_form_is_replaced_by_a_new_attachment_create(stack, user, tmp_path, monkeypatch):
    path = tmp_path / "doc.pdf"
    path.write_bytes(b"%PDF-1.4 tiny")
    seen: list[tuple[str, dict[str, str]]] = []
    expired = TransferError("upload refused", 403, "AccessDenied", "Policy expired.")
    monkeypatch.setattr(chatclient.client, "post_form", failing([expired], seen))

    async def check(alice, bob, chat_id, got):  # type: ignore[no-untyped-def]
        ack = await alice.send_file(chat_id, path)
        assert len(seen) == 2 and seen[0][1]["key"] != seen[1][1]["key"]  # a second form
        await wait_for(lambda: any(m.seq == ack.seq for m in got))
        [attachment] = next(m for m in got if m.seq == ack.seq).attachments
        assert seen[1][1]["key"].endswith(attachment.attachment_id)

    run(scenario_of(stack, user, path, [expired], seen, check))


@pytest.mark.parametrize(
    "faults",
    [
        [TransferError("upload refused", 403, "AccessDenied", "Invalid according to Policy")],
        [TransferError("upload failed", None) for _ in range(6)],
    ],
    ids=["refused", "keeps-failing"],
)
def test_an_upload_that_cannot_succeed_raises_and_nothing_is_sent(stack, user, tmp_path, monkeypatch, faults):
    path = tmp_path / "a.txt"
    path.write_bytes(b"never arrives")
    seen: list[tuple[str, dict[str, str]]] = []
    monkeypatch.setattr(chatclient.client, "post_form", failing(list(faults), seen))

    async def check(alice, bob, chat_id, got):  # type: ignore[no-untyped-def]
        with pytest.raises(UploadFailed, match=r"a\.txt not uploaded, nothing sent"):
            await alice.send_file(chat_id, path, "with text")
        assert len(seen) == len(faults)
        last = next(c.last_seq for c in await alice.list_chats() if c.chat_id == chat_id)
        await alice.send(chat_id, "after")
        await wait_for(lambda: any(m.text == "after" for m in got))
        assert [m.text for m in got if m.seq > last] == ["after"]  # the file's message never was

    run(scenario_of(stack, user, path, faults, seen, check))
