"""`make run` with AWS_ENDPOINT_URL_DYNAMODB uses that DynamoDB (here a moto server started
apart from the stack) and creates the missing tables there."""

from __future__ import annotations

import shutil

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.integration.conftest import run
from tests.integration.peer import Peer
from tests.stack import LocalStack


@pytest.fixture
def outside_dynamodb():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_uses_the_given_endpoint(outside_dynamodb):
    client = boto3.client(
        "dynamodb",
        endpoint_url=outside_dynamodb,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )
    assert client.list_tables()["TableNames"] == []

    with LocalStack(
        command=["make", "--no-print-directory", "run"],
        AWS_ENDPOINT_URL_DYNAMODB=outside_dynamodb,
        AWS_ACCESS_KEY_ID="k",
        AWS_SECRET_ACCESS_KEY="s",
        CHAT_TABLE_PREFIX="outside",
        CHAT_JWT_SECRET="outside-secret-" * 3,
    ) as stack:
        assert stack.dynamodb_endpoint == outside_dynamodb
        tables = client.list_tables()["TableNames"]
        assert sorted(tables) == sorted(
            f"outside-{name}"
            for name in ("connections", "presence", "chats", "memberships", "messages", "send_keys")
        )

        async def chat():
            a = await Peer.connect(stack.ws_url("alice"), "alice")
            created = await a.request("chat.create", members=["bob"])
            await a.send_text(created["chat"]["chat_id"], "stored outside")
            await a.close()
            return created["chat"]["chat_id"]

        chat_id = run(chat())
        stored = client.query(
            TableName="outside-messages",
            KeyConditionExpression="chat_id = :c",
            ExpressionAttributeValues={":c": {"S": chat_id}},
        )["Items"]
        assert [item["text"]["S"] for item in stored] == ["stored outside"]

    # A second start finds the tables there and creates none.
    with LocalStack(
        AWS_ENDPOINT_URL_DYNAMODB=outside_dynamodb,
        AWS_ACCESS_KEY_ID="k",
        AWS_SECRET_ACCESS_KEY="s",
        CHAT_TABLE_PREFIX="outside",
    ) as again:
        assert "tables created: none missing" in again.text
