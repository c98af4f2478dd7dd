"""Every refusal of attachments (PROTOCOL v3, issue 23's "Bad input") over real sockets through
the local stack: a bad attachment.create stores no record, no object and no form; a send naming
files it may not carry is ``bad_request``, stores no message and sends no frame."""

from __future__ import annotations

from tests.integration.attachments.files import (
    MAX_SIZE,
    attachment_records,
    chat_of_two,
    create,
    keys,
    last_seq,
    upload,
)
from tests.integration.conftest import run
from tests.integration.peer import Peer

DATA = b"0123456789" * 10

BAD_CREATES = [
    ({"name": ""}, "bad_request"),
    ({"name": "x" * 201}, "bad_request"),
    ({"name": "line\nbreak.txt"}, "bad_request"),
    ({"name": "nul\u0000.txt"}, "bad_request"),
    ({"name": "del\u007f.txt"}, "bad_request"),
    ({"content_type": "image"}, "bad_request"),
    ({"content_type": "image/"}, "bad_request"),
    ({"content_type": "/png"}, "bad_request"),
    ({"content_type": "image/png; charset=x"}, "bad_request"),
    ({"size": 0}, "bad_request"),
    ({"size": -1}, "bad_request"),
    ({"size": MAX_SIZE + 1}, "too_large"),
]


def test_bad_attachment_creates_are_refused_and_store_nothing(stack, user):
    async def scenario():
        a, b, chat_id = await chat_of_two(stack, user)
        records = attachment_records(stack)
        for fields, code in BAD_CREATES:
            body = {"name": "f.bin", "content_type": "application/octet-stream", "size": len(DATA), **fields}
            reply = await a.request("attachment.create", chat_id=chat_id, **body)
            assert reply["event"] == "error" and reply["code"] == code, (fields, reply)
            assert "upload" not in reply
        # the largest size and a 200-character name are allowed (the limits are inclusive)
        assert (await create(a, chat_id, MAX_SIZE, name="x" * 200))["event"] == "attachment:created"
        # a non-member may not upload for the chat
        outsider = user("zed")
        z = await Peer.connect(stack.ws_url(outsider), outsider)
        refused = await create(z, chat_id, len(DATA))
        assert refused["event"] == "error" and refused["code"] == "forbidden", refused
        assert attachment_records(stack) == records + 1  # the one allowed above, nothing else
        assert keys(stack, chat_id) == []
        assert "chat:message" not in b.events()
        for peer in (a, b, z):
            await peer.close()

    run(scenario())


def test_sends_naming_files_they_may_not_carry_are_refused_and_store_and_send_nothing(stack, user):
    async def scenario():
        a, b, chat_id = await chat_of_two(stack, user)
        carol = user("carol")
        other = await a.request("chat.create", members=[carol], title="Elsewhere")
        other_chat = str(other["chat"]["chat_id"])

        async def uploaded(peer: Peer, chat: str, size: int = len(DATA), **fields: str) -> str:
            created = await create(peer, chat, size, **fields)
            assert created["event"] == "attachment:created", created
            await upload(created, DATA)
            return str(created["attachment"]["attachment_id"])

        bobs = await uploaded(b, chat_id)
        elsewhere = await uploaded(a, other_chat)
        not_uploaded = str((await create(a, chat_id, len(DATA)))["attachment"]["attachment_id"])
        # moto stores any size and type (S3 enforces the form's policy); the send checks the object
        smaller = await uploaded(a, chat_id, size=len(DATA) + 1)
        retyped_form = await create(a, chat_id, len(DATA), content_type="image/png")
        await upload(retyped_form, DATA, content_type="text/html")
        retyped = str(retyped_form["attachment"]["attachment_id"])
        attached = await uploaded(a, chat_id)
        first = await a.request(
            "message.send", chat_id=chat_id, client_msg_id="first", attachments=[attached]
        )
        assert first["event"] == "message:ack", first
        await b.expect("chat:message", timeout=30)
        eleven = [await uploaded(a, chat_id, name=f"{n}.png") for n in range(11)]

        before = await last_seq(a, chat_id)
        cases = {
            "unknown": ["a_00000000000000000000000000"],
            "another user's": [bobs],
            "another chat's": [elsewhere],
            "not uploaded": [not_uploaded],
            "a different size": [smaller],
            "a different type": [retyped],
            "already attached": [attached],
            "more than 10": eleven,
            "one good, one bad": [eleven[0], not_uploaded],
        }
        for n, (case, ids) in enumerate(cases.items()):
            reply = await a.request("message.send", chat_id=chat_id, client_msg_id=f"bad{n}", attachments=ids)
            assert reply["event"] == "error" and reply["code"] == "bad_request", (case, reply)
        assert await last_seq(a, chat_id) == before

        # nothing was stored or sent: the next good send takes the next seq, and it is the only
        # message Bob gets; the ten files refused with an eleventh can still be sent
        good = await a.request("message.send", chat_id=chat_id, client_msg_id="good", attachments=eleven[:10])
        assert good["event"] == "message:ack" and good["seq"] == before + 1, good
        frame = await b.expect("chat:message", timeout=30)
        assert frame["message"]["seq"] == before + 1
        assert [f["attachment_id"] for f in frame["message"]["attachments"]] == eleven[:10]
        assert "chat:message" not in b.events()
        for peer in (a, b):
            await peer.close()

    run(scenario(), timeout=180)
