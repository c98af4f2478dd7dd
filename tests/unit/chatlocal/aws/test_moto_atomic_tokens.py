"""The local stack's DynamoDB honours ClientRequestToken on TransactWriteItems as DynamoDB does:
a committed transaction sent again with its token (a botocore retry whose first answer was lost)
is not applied twice."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chatlocal.aws import moto_atomic
from chatlocal.aws.moto_atomic import TOKEN_WINDOW_SECONDS, serialize_dynamodb_requests

serialize_dynamodb_requests()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(moto_atomic, "transaction_tokens", moto_atomic.TransactionTokens(fake))
    return fake


@pytest.fixture
def client():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="tokens",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield dynamodb
        dynamodb.delete_table(TableName="tokens")  # mock_aws may be nested in a session-wide one


def add_one(client, token: str, key: str = "counter", condition: str | None = None) -> dict:
    update = {
        "TableName": "tokens",
        "Key": {"pk": {"S": key}},
        "UpdateExpression": "ADD n :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    if condition:
        update["ConditionExpression"] = condition
    return client.transact_write_items(TransactItems=[{"Update": update}], ClientRequestToken=token)


def count(client, key: str = "counter") -> int:
    item = client.get_item(TableName="tokens", Key={"pk": {"S": key}}).get("Item")
    return int(item["n"]["N"]) if item else 0


def test_the_same_request_with_the_same_token_is_applied_once(client, clock):
    token = str(uuid.uuid4())
    add_one(client, token)
    clock.now += TOKEN_WINDOW_SECONDS - 1
    repeat = add_one(client, token)
    assert repeat["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert count(client) == 1


def test_a_transaction_with_binary_values_is_remembered_by_its_token(client, clock):
    token = str(uuid.uuid4())
    put = {"Put": {"TableName": "tokens", "Item": {"pk": {"S": "blob"}, "data": {"B": b"\x00\xff"}}}}
    client.transact_write_items(TransactItems=[put], ClientRequestToken=token)
    client.transact_write_items(TransactItems=[put], ClientRequestToken=token)
    other = {"Put": {"TableName": "tokens", "Item": {"pk": {"S": "blob"}, "data": {"B": b"\x01"}}}}
    with pytest.raises(ClientError) as mismatch:
        client.transact_write_items(TransactItems=[other], ClientRequestToken=token)
    assert mismatch.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    item = client.get_item(TableName="tokens", Key={"pk": {"S": "blob"}})["Item"]
    assert item["data"]["B"] == b"\x00\xff"


def test_another_token_is_another_transaction(client, clock):
    add_one(client, str(uuid.uuid4()))
    add_one(client, str(uuid.uuid4()))
    assert count(client) == 2


def test_the_same_token_with_other_parameters_is_a_mismatch(client, clock):
    token = str(uuid.uuid4())
    add_one(client, token)
    with pytest.raises(ClientError) as mismatch:
        add_one(client, token, key="other")
    assert mismatch.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert mismatch.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert (count(client), count(client, "other")) == (1, 0)


def test_after_ten_minutes_the_token_is_forgotten(client, clock):
    token = str(uuid.uuid4())
    add_one(client, token)
    clock.now += TOKEN_WINDOW_SECONDS
    add_one(client, token)
    assert count(client) == 2
    assert len(moto_atomic.transaction_tokens) == 1


def test_a_cancelled_transaction_is_not_remembered(client, clock):
    token = str(uuid.uuid4())
    with pytest.raises(ClientError) as cancelled:
        add_one(client, token, condition="attribute_exists(n)")
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    client.put_item(TableName="tokens", Item={"pk": {"S": "counter"}, "n": {"N": "10"}})
    add_one(client, token, condition="attribute_exists(n)")  # DynamoDB runs the retry again
    assert count(client) == 11


def test_without_a_token_every_call_applies(client, clock):
    update = {
        "TableName": "tokens",
        "Key": {"pk": {"S": "counter"}},
        "UpdateExpression": "ADD n :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    tokens = moto_atomic.TransactionTokens(clock)
    applied = []
    for _ in range(2):
        tokens.run(("a", "r"), {"TransactItems": [{"Update": update}]}, lambda: applied.append(1))
    assert applied == [1, 1] and len(tokens) == 0


def test_a_token_over_36_characters_is_refused(client, clock):
    with pytest.raises(ClientError) as invalid:
        add_one(client, "x" * 37)
    assert invalid.value.response["Error"]["Code"] == "ValidationException"
    assert count(client) == 0


def test_botocore_fills_in_a_token(client, clock):
    sent: list[str] = []

    def record(request, **kwargs):
        sent.append(json.loads(request.body)["ClientRequestToken"])

    client.meta.events.register("before-send.dynamodb.TransactWriteItems", record)
    client.transact_write_items(
        TransactItems=[{"Put": {"TableName": "tokens", "Item": {"pk": {"S": "p"}, "n": {"N": "1"}}}}]
    )
    (token,) = sent
    assert len(token) == 36  # a uuid4 (botocore keeps it across the retries of this call)
