"""Files through the client against the local stack and its embedded S3 (PROTOCOL v3
"Attachments"): ``send_file`` and ``send_files`` upload and send, the other member downloads
the same bytes (also 25 MiB); and the refusals: a file over 25 MiB before any request, a file
of another chat, a file never uploaded, each storing and delivering nothing."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest

from chatclient import ChatClient, ChatError, Message
from chatclient.files.form import MAX_SIZE, outgoing
from tests.client.conftest import make_client, wait_for
from tests.integration.conftest import run


def write(path, data: bytes):  # type: ignore[no-untyped-def]
    path.write_bytes(data)
    return path


def digest(path) -> str:  # type: ignore[no-untyped-def]
    h = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


async def group(alice: ChatClient, bob_id: str, bob: ChatClient, got: list[Message]) -> str:
    chat = await alice.create_chat([bob_id], "Files")
    await bob.open_chat(chat.chat_id, got.append)
    return chat.chat_id


def test_a_file_sent_with_text_reaches_the_other_member_who_downloads_the_same_bytes(stack, user, tmp_path):
    data = os.urandom(300_000) + b"\r\n--boundary-like--\r\n" + os.urandom(1000)
    photo = write(tmp_path / "résumé · the view.jpg", data)

    async def scenario():
        alice_id, bob_id = user("alice"), user("bob")
        async with make_client(stack, alice_id) as alice, make_client(stack, bob_id) as bob:
            got: list[Message] = []
            chat_id = await group(alice, bob_id, bob, got)
            ack = await alice.send_file(chat_id, photo, "the view")
            await wait_for(lambda: any(m.seq == ack.seq for m in got))
            message = next(m for m in got if m.seq == ack.seq)
            assert message.text == "the view"
            [attachment] = message.attachments
            assert (attachment.name, attachment.content_type, attachment.size) == (
                "résumé · the view.jpg",
                "image/jpeg",
                len(data),
            )
            assert attachment.url
            folder = tmp_path / "bob"
            folder.mkdir()
            saved = await bob.download(attachment, folder)
            assert saved == folder / "résumé · the view.jpg"
            assert saved.read_bytes() == data
            again = await bob.download(attachment, folder)  # the name is taken: another one
            assert again == folder / "résumé · the view (1).jpg" and again.read_bytes() == data
            exact = await bob.download(attachment, tmp_path / "exact.bin")
            assert exact == tmp_path / "exact.bin" and exact.read_bytes() == data

    run(scenario())


def test_several_files_in_one_message_keep_their_order_and_may_have_no_text(stack, user, tmp_path):
    first = write(tmp_path / "notes.txt", b"first file\n")
    second = write(tmp_path / "data", os.urandom(5000))

    async def scenario():
        alice_id, bob_id = user("alice"), user("bob")
        async with make_client(stack, alice_id) as alice, make_client(stack, bob_id) as bob:
            got: list[Message] = []
            chat_id = await group(alice, bob_id, bob, got)
            ack = await alice.send_files(chat_id, [first, second], content_types=[None, "application/x-raw"])
            await wait_for(lambda: any(m.seq == ack.seq for m in got))
            message = next(m for m in got if m.seq == ack.seq)
            assert message.text == ""
            assert [(a.name, a.content_type, a.size) for a in message.attachments] == [
                ("notes.txt", "text/plain", 11),
                ("data", "application/x-raw", 5000),
            ]
            [stored], _ = await alice.history(chat_id, after=ack.seq - 1, limit=1)
            for attachment, original in zip(stored.attachments, (first, second), strict=True):
                saved = await alice.download(attachment, tmp_path / f"copy-{attachment.name}")
                assert saved.read_bytes() == original.read_bytes()

    run(scenario())


@pytest.mark.slow
def test_a_25_mib_file_round_trips_byte_for_byte(stack, user, tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as file:
        for _ in range(25):
            file.write(os.urandom(1024 * 1024))
    assert big.stat().st_size == MAX_SIZE

    async def scenario():
        alice_id, bob_id = user("alice"), user("bob")
        async with make_client(stack, alice_id) as alice, make_client(stack, bob_id) as bob:
            got: list[Message] = []
            chat_id = await group(alice, bob_id, bob, got)
            ack = await alice.send_file(chat_id, big)
            await wait_for(lambda: any(m.seq == ack.seq for m in got), timeout=60)
            [attachment] = next(m for m in got if m.seq == ack.seq).attachments
            assert attachment.size == MAX_SIZE
            saved = await bob.download(attachment, tmp_path / "copy.bin")
            assert digest(saved) == digest(big)

    run(scenario())


def test_a_file_over_25_mib_is_refused_before_any_request(stack, tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as file:
        file.truncate(MAX_SIZE + 1)  # sparse: nothing written
    empty = write(tmp_path / "empty.txt", b"")

    async def scenario():
        # Never started: any request would wait for a connection that never comes.
        client = ChatClient(stack.ws_base, "no-token", request_timeout=30)
        for path, said in (
            (big, "26,214,401 bytes: files are at most 26,214,400 bytes"),
            (empty, "is empty"),
            (tmp_path / "missing.txt", "no file"),
            (tmp_path, "not a regular file"),
        ):
            with pytest.raises(ValueError, match=said):
                await asyncio.wait_for(client.send_file("c_any", path), 5)

    run(scenario())


async def last_seq(client: ChatClient, chat_id: str) -> int:
    return next(c.last_seq for c in await client.list_chats() if c.chat_id == chat_id)


def test_a_file_of_another_chat_or_never_uploaded_is_refused_and_nothing_is_stored(stack, user, tmp_path):
    path = write(tmp_path / "a.txt", b"hello")

    async def scenario():
        alice_id, bob_id = user("alice"), user("bob")
        async with make_client(stack, alice_id) as alice, make_client(stack, bob_id) as bob:
            got: list[Message] = []
            chat_id = await group(alice, bob_id, bob, got)
            other = (await alice.create_chat([], "Other")).chat_id
            uploaded = await alice.upload(other, outgoing(path))
            created = await alice.request(
                "attachment.create", chat_id=chat_id, name="a.txt", content_type="text/plain", size=5
            )
            never = created["attachment"]["attachment_id"]
            before = await last_seq(alice, chat_id)
            for attachment_id in (uploaded.attachment_id, never):
                with pytest.raises(ChatError) as refused:
                    await alice.send(chat_id, "", attachments=[attachment_id])
                assert refused.value.code == "bad_request"
            assert await last_seq(alice, chat_id) == before
            await alice.send(chat_id, "after")  # bob gets this one and nothing before it
            await wait_for(lambda: any(m.text == "after" for m in got))
            assert [m.seq for m in got if m.seq > before] == [before + 1]

    run(scenario())
