"""The moto patch the tests and the local stack rely on: a cancelled transaction changes nothing,
even though rollback now restores only the items it touched."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chatlocal.aws.moto_atomic import serialize_dynamodb_requests

serialize_dynamodb_requests()


@pytest.fixture
def table():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName="t", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
        yield client
        # mock_aws may be nested in a session-wide one (the functional tier's): leave no table.
        client.delete_table(TableName="t")


def _all(client):
    return [client.get_item(TableName="t", Key={"pk": {"S": k}}).get("Item") for k in ("a", "b", "c")]


def test_cancelled_transaction_rolls_back_puts_and_updates(table):
    with pytest.raises(ClientError) as cancelled:
        table.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}, "n": {"N": "9"}}}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "a"}},
                        "UpdateExpression": "SET n = :n",
                        "ExpressionAttributeValues": {":n": {"N": "2"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "c"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    reasons = cancelled.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "None", "ConditionalCheckFailed"]
    assert _all(table) == [{"pk": {"S": "a"}, "n": {"N": "1"}}, None, None]


def test_committed_transaction_applies_everything(table):
    table.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}}}},
            {"Delete": {"TableName": "t", "Key": {"pk": {"S": "a"}}}},
        ]
    )
    assert _all(table) == [None, {"pk": {"S": "b"}}, None]
