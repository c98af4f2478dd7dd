"""bench.counting's botocore hooks on a real client under moto: DynamoDB is asked for its
consumed capacity, request units come from the items' stored sizes, calls are recorded with
the latency drawn for them. The hooks go on one session only: the rest of the suite is untouched."""

from __future__ import annotations

import botocore.session
import pytest

from bench.counting import Latency, LogNormal, Meter, item_size
from bench.scenario import key_of, query_sizes, stored_size

TABLE = "benchmeter-items"


@pytest.fixture
def metered(moto_aws):
    session = botocore.session.get_session()
    meter = Meter(stored_size, key_of, query_sizes)
    meter.register(session)
    client = session.create_client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    yield meter, client
    client.delete_table(TableName=TABLE)


def item(pk: str, text_bytes: int) -> dict:
    return {"pk": {"S": pk}, "sk": {"N": "1"}, "text": {"S": "x" * text_bytes}}


def last(meter: Meter, operation: str):
    return [c for c in meter.since(0) if c.operation == operation][-1]


def test_writes_are_metered_by_the_larger_stored_size(metered):
    meter, client = metered
    client.put_item(TableName=TABLE, Item=item("a", 3000))  # about 3 KB
    put = last(meter, "PutItem")
    # moto answers ConsumedCapacity only when asked (the hook asked): a constant, whatever the size
    assert put.moto_units == 1.0
    assert put.wru == 3 and put.rru == 0
    client.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
        UpdateExpression="SET #t = :t",
        ExpressionAttributeNames={"#t": "text"},
        ExpressionAttributeValues={":t": {"S": "short"}},
    )
    assert last(meter, "UpdateItem").wru == 3  # the item as it was before counts: 3 KB
    client.delete_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})
    assert last(meter, "DeleteItem").wru == 1


def test_reads_are_metered_in_4_kb_blocks(metered):
    meter, client = metered
    client.put_item(TableName=TABLE, Item=item("big", 9000))
    key = {"pk": {"S": "big"}, "sk": {"N": "1"}}
    client.get_item(TableName=TABLE, Key=key, ConsistentRead=True)
    assert last(meter, "GetItem").rru == 3.0
    client.get_item(TableName=TABLE, Key=key)
    assert last(meter, "GetItem").rru == 1.5  # eventually consistent: half
    client.get_item(TableName=TABLE, Key={"pk": {"S": "none"}, "sk": {"N": "1"}}, ConsistentRead=True)
    assert last(meter, "GetItem").rru == 1.0  # nothing there: the minimum
    client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "big"}},
        ConsistentRead=True,
        ProjectionExpression="pk, sk",  # what is read is the whole item, whatever is returned
    )
    assert last(meter, "Query").rru == 3.0
    client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "big"}},
        ProjectionExpression="pk",  # no whole key back: what came back is counted
    )
    assert last(meter, "Query").rru == 0.5


def test_a_transaction_costs_twice_per_item_and_moto_says_nothing(metered):
    meter, client = metered
    client.put_item(TableName=TABLE, Item=item("old", 1500))
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": item("new", 100)}},
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": "old"}, "sk": {"N": "1"}},
                    "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": {"N": "1"}},
                }
            },
        ]
    )
    tx = last(meter, "TransactWriteItems")
    assert tx.moto_units == 0.0
    assert tx.wru == 2 * 1 + 2 * 2  # 100 bytes, and an item of about 1.5 KB


def test_calls_take_the_latency_drawn_for_them(metered):
    meter, client = metered
    meter.latency = Latency({("dynamodb", "*"): LogNormal(0.2, 0.5)}, seed=1)
    client.put_item(TableName=TABLE, Item=item("t", 10))
    call = last(meter, "PutItem")
    assert call.injected > 0 and call.service == "dynamodb"
    assert call.started <= call.sent <= call.ended  # sent before moto answered


def test_stored_size_reads_moto_and_matches_the_item_size_rules(metered):
    _, client = metered
    stored = item("s", 50)
    client.put_item(TableName=TABLE, Item=stored)
    from bench.counting import Touch

    assert stored_size(Touch.of(TABLE, key_of(TABLE, stored), write=False)) == item_size(stored)
    assert stored_size(Touch.of("no-such-table", {"pk": {"S": "s"}}, write=False)) == 0
