"""`make run` with AWS_ENDPOINT_URL_S3 uses that S3 (here a moto server started apart from the
stack): the attachments bucket is created there with CORS for the page, and files go there."""

from __future__ import annotations

import asyncio

import boto3

from tests.integration.attachments.files import chat_of_two, create, download, upload
from tests.integration.conftest import run
from tests.integration.test_external_dynamodb import outside_dynamodb  # noqa: F401  (a fixture)
from tests.stack import ONE_PROCESS, LocalStack

BUCKET = "outside-files"


def test_the_given_s3_gets_the_bucket_and_the_files(outside_dynamodb, user):  # noqa: F811
    outside = outside_dynamodb  # a moto server of its own: any service, S3 here
    client = boto3.client(
        "s3", endpoint_url=outside, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    assert client.list_buckets()["Buckets"] == []
    with LocalStack(AWS_ENDPOINT_URL_S3=outside, CHAT_ATTACHMENTS_BUCKET=BUCKET, **ONE_PROCESS) as stack:
        assert f"S3              {outside} (the environment; bucket {BUCKET} created" in stack.text, (
            stack.text
        )
        rules = client.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
        assert stack.url in rules[0]["AllowedOrigins"]

        async def scenario() -> None:
            a, b, chat_id = await chat_of_two(stack, user)
            created = await create(a, chat_id, 5, name="out.txt", content_type="text/plain")
            assert created["upload"]["url"] == f"{outside}/{BUCKET}"
            await upload(created, b"hello")
            attachment_id = created["attachment"]["attachment_id"]
            ack = await a.request(
                "message.send", chat_id=chat_id, client_msg_id="o", attachments=[attachment_id]
            )
            assert ack["event"] == "message:ack", ack
            link = (await b.expect("chat:message"))["message"]["attachments"][0]["url"]
            assert (await asyncio.to_thread(download, link)).content == b"hello"
            stored = client.get_object(Bucket=BUCKET, Key=f"attachments/{chat_id}/{attachment_id}")
            assert stored["Body"].read() == b"hello"
            for peer in (a, b):
                await peer.close()

        run(scenario())
