"""Attachments (PROTOCOL v3) over real sockets through the local stack, as ``make run`` starts it:
attachment.create, the upload straight to the embedded S3 with the presigned POST, a send naming
the file, the other member's frame whose url downloads the same bytes, a 25 MiB file, and the
bucket's CORS rules letting the stack's own page (and no other origin) upload and download."""

from __future__ import annotations

import asyncio
import hashlib
import os

import requests

from tests.integration.attachments.files import (
    MAX_SIZE,
    chat_of_two,
    create,
    download,
    keys,
    post_form,
    tags,
    upload,
)
from tests.integration.conftest import run

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def test_a_file_uploaded_and_sent_reaches_the_other_member_and_downloads_identically(stack, user):
    async def scenario():
        a, b, chat_id = await chat_of_two(stack, user)
        created = await create(a, chat_id, len(PNG), name="chat café.png")
        assert created["event"] == "attachment:created", created
        attachment = created["attachment"]
        attachment_id = attachment["attachment_id"]
        # the form posts to the embedded S3, which a browser on this machine reaches
        assert created["upload"]["url"].startswith(stack.s3_endpoint + "/"), created["upload"]
        answer = await upload(created, PNG, origin=stack.url)
        assert answer.headers.get("Access-Control-Allow-Origin") == stack.url  # the page reads it
        assert tags(stack, chat_id, attachment_id) == {"pending": "true"}  # the form's tagging field

        ack = await a.request(
            "message.send", chat_id=chat_id, client_msg_id="f1", attachments=[attachment_id]
        )
        assert ack["event"] == "message:ack", ack
        frame = (await b.expect("chat:message"))["message"]
        assert frame["text"] == "" and len(frame["attachments"]) == 1
        sent = frame["attachments"][0]
        assert {k: sent[k] for k in ("attachment_id", "name", "content_type", "size")} == attachment
        got = await asyncio.to_thread(download, sent["url"], stack.url)
        assert got.status_code == 200 and got.content == PNG
        assert got.headers["Content-Type"] == "image/png"
        assert "chat%20caf%C3%A9.png" in got.headers["Content-Disposition"]
        assert got.headers.get("Access-Control-Allow-Origin") == stack.url
        assert tags(stack, chat_id, attachment_id) == {}  # attached: the lifecycle rule keeps it

        # a fresh link from the history downloads it too
        history = await b.request("chat.history", chat_id=chat_id)
        (message,) = [m for m in history["messages"] if m.get("attachments")]
        again = await asyncio.to_thread(download, message["attachments"][0]["url"])
        assert again.content == PNG
        assert keys(stack, chat_id) == [f"attachments/{chat_id}/{attachment_id}"]
        for peer in (a, b):
            await peer.close()

    run(scenario())


def test_a_25_mib_file_uploads_sends_and_downloads_identically(stack, user):
    data = os.urandom(MAX_SIZE)

    async def scenario():
        a, b, chat_id = await chat_of_two(stack, user)
        created = await create(a, chat_id, MAX_SIZE, name="big.bin", content_type="application/octet-stream")
        assert created["event"] == "attachment:created", created
        await upload(created, data)
        attachment_id = created["attachment"]["attachment_id"]
        ack = await a.request(
            "message.send",
            chat_id=chat_id,
            client_msg_id="big",
            text="the video",
            attachments=[attachment_id],
        )
        assert ack["event"] == "message:ack", ack
        frame = (await b.expect("chat:message"))["message"]
        assert frame["attachments"][0]["size"] == MAX_SIZE
        got = await asyncio.to_thread(download, frame["attachments"][0]["url"])
        assert got.status_code == 200 and len(got.content) == MAX_SIZE
        assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
        for peer in (a, b):
            await peer.close()

    run(scenario(), timeout=300)


def test_the_buckets_cors_rules_let_in_the_stacks_page_and_no_other_origin(stack, user):
    async def scenario():
        a, b, chat_id = await chat_of_two(stack, user)
        created = await create(a, chat_id, len(PNG))
        url = created["upload"]["url"]
        for origin in (stack.url, stack.url.replace("127.0.0.1", "localhost")):
            preflight = await asyncio.to_thread(
                requests.options,
                url,
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
                timeout=10,
            )
            assert preflight.status_code == 200, preflight.text
            assert preflight.headers["Access-Control-Allow-Origin"] == origin
            assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        other = "http://127.0.0.1:1"
        preflight = await asyncio.to_thread(
            requests.options,
            url,
            headers={"Origin": other, "Access-Control-Request-Method": "POST"},
            timeout=10,
        )
        assert preflight.status_code == 403
        assert "Access-Control-Allow-Origin" not in preflight.headers
        # moto stores a simple POST from any page (S3 would too); the other page cannot read the answer
        answer = await asyncio.to_thread(post_form, created, PNG, None, other)
        assert answer.status_code == 204 and "Access-Control-Allow-Origin" not in answer.headers
        ack = await a.request(
            "message.send",
            chat_id=chat_id,
            client_msg_id="c1",
            attachments=[created["attachment"]["attachment_id"]],
        )
        link = (await b.expect("chat:message"))["message"]["attachments"][0]["url"]
        got = await asyncio.to_thread(download, link, other)
        assert ack["event"] == "message:ack" and got.content == PNG
        assert "Access-Control-Allow-Origin" not in got.headers
        for peer in (a, b):
            await peer.close()

    run(scenario())
