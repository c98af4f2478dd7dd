"""`make run` with AWS_ENDPOINT_URL_DYNAMODB uses that DynamoDB (here a moto server started
apart from the stack) and creates the missing tables there."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest

from chalicelib.storage.tables import ALL_MODELS
from tests.integration.conftest import run
from tests.integration.peer import Peer
from tests.stack import LocalStack


@pytest.fixture
def outside_dynamodb():
    """A moto server in a process of its own (in this process it would share moto's state with
    the functional tier's mock)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("moto server did not start")
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(timeout=10)


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
            "outside-" + model.Meta.table_name.split("-", 1)[1] for model in ALL_MODELS
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
