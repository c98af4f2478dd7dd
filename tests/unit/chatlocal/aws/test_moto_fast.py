"""chatlocal.aws.moto_fast renders every DynamoDB answer exactly as moto's own serializer does.

Each test runs real DynamoDB calls through boto3 under moto with a recorder around
``ActionResult.execute_result``: for every answer it computes moto's serialization and the fast
one side by side and keeps both. The tests then require that they agree (same status, headers
and JSON, in the same member order) and that the fast path actually answered the data-plane
operations the app uses (so agreement is not reached by always falling back).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import responses as moto_responses

from chatlocal.aws import moto_fast

REGION = "us-east-1"
DATA_PLANE = {
    "GetItem",
    "BatchGetItem",
    "Query",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "TransactGetItems",
    "BatchWriteItem",
}


class Recorder:
    def __init__(self) -> None:
        self.answers: list[tuple[str, Any, Any]] = []  # operation, moto's, fast (None: fell back)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    recorded = Recorder()
    moto_execute = moto_responses.ActionResult.execute_result

    def execute_result(self: moto_responses.ActionResult, context: Any) -> Any:
        fast = moto_fast._fast_answer(self.result, context)  # before moto's: it may not mutate
        theirs = moto_execute(self, context)
        if context.service_model.service_name == "dynamodb":
            status, headers, body = theirs  # moto adds its response headers to this dict later
            recorded.answers.append((context.operation_model.name, (status, dict(headers), body), fast))
        return theirs

    monkeypatch.setattr(moto_responses.ActionResult, "execute_result", execute_result)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():  # may be nested in the functional tier's session-wide mock: clean up
        yield recorded
        client = boto3.client("dynamodb", region_name=REGION)
        if "things" in client.list_tables()["TableNames"]:
            client.delete_table(TableName="things")


def _client() -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName="things",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "owner", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-owner",
                "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def _every_type(pk: str, sk: int) -> dict[str, Any]:
    """An item with every attribute type DynamoDB has, nested too."""
    return {
        "pk": {"S": pk},
        "sk": {"N": str(sk)},
        "owner": {"S": "alice"},
        "text": {"S": 'héllo "quoted" \\ \u2603 \U0001f600'},
        "count": {"N": "-12.50"},
        "blob": {"B": b"\x00\xffbinary"},
        "tags": {"SS": ["a", "b"]},
        "nums": {"NS": ["1", "2.5"]},
        "blobs": {"BS": [b"x", b"\x01\x02"]},
        "nothing": {"NULL": True},
        "flag": {"BOOL": False},
        "empty_text": {"S": ""},
        "list": {"L": [{"S": "x"}, {"N": "3"}, {"M": {"deep": {"L": [{"BOOL": True}]}}}, {"L": []}]},
        "map": {
            "M": {"conn-1=": {"M": {"exp": {"N": "1790000000"}, "chat": {"S": "c1"}}}, "empty": {"M": {}}}
        },
    }


def _agree(recorded: Recorder) -> set[str]:
    """Every recorded answer agrees; returns the operations the fast path answered."""
    answered: set[str] = set()
    assert recorded.answers, "no DynamoDB answer was recorded"
    for operation, theirs, fast in recorded.answers:
        if fast is None:
            continue
        status, headers, body = theirs
        fast_status, fast_headers, fast_body = fast
        assert (fast_status, fast_headers) == (status, headers), operation
        assert list(json.loads(fast_body).items()) == list(json.loads(body).items()), operation
        assert fast_body == body, operation  # byte for byte: same member order, same escaping
        answered.add(operation)
    return answered


def test_data_plane_answers_agree_and_take_the_fast_path(recorder: Recorder) -> None:
    client = _client()
    for sk in range(3):
        client.put_item(TableName="things", Item=_every_type("p1", sk), ReturnConsumedCapacity="TOTAL")
    client.put_item(TableName="things", Item=_every_type("p1", 0), ReturnValues="ALL_OLD")
    client.get_item(TableName="things", Key={"pk": {"S": "p1"}, "sk": {"N": "0"}})
    client.get_item(
        TableName="things",
        Key={"pk": {"S": "p1"}, "sk": {"N": "0"}},
        ConsistentRead=True,
        ProjectionExpression="#m.#c, tags",
        ExpressionAttributeNames={"#m": "map", "#c": "conn-1="},
    )
    client.get_item(
        TableName="things", Key={"pk": {"S": "nobody"}, "sk": {"N": "0"}}, ReturnConsumedCapacity="INDEXES"
    )
    client.batch_get_item(
        RequestItems={"things": {"Keys": [{"pk": {"S": "p1"}, "sk": {"N": str(sk)}} for sk in range(5)]}},
        ReturnConsumedCapacity="TOTAL",
    )
    client.query(
        TableName="things", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p1"}}
    )
    client.query(
        TableName="things",
        KeyConditionExpression="pk = :p AND sk > :s",
        Limit=1,
        ScanIndexForward=False,
        ExpressionAttributeValues={":p": {"S": "p1"}, ":s": {"N": "0"}},
        ReturnConsumedCapacity="TOTAL",
    )
    client.query(
        TableName="things",
        IndexName="by-owner",
        KeyConditionExpression="#o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": {"S": "alice"}},
        Select="COUNT",
    )
    client.query(
        TableName="things", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "none"}}
    )
    for returns in ("ALL_NEW", "UPDATED_OLD", "UPDATED_NEW", "ALL_OLD", "NONE"):
        client.update_item(
            TableName="things",
            Key={"pk": {"S": "p1"}, "sk": {"N": "1"}},
            ReturnValues=returns,
            UpdateExpression="SET #c = #c + :one, #m.#n = :conn ADD tags :t REMOVE nothing",
            ExpressionAttributeNames={"#c": "count", "#m": "map", "#n": "conn-2="},
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":conn": {"M": {"exp": {"N": "5"}}},
                ":t": {"SS": ["z"]},
            },
        )
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "things", "Item": _every_type("p2", 1)}},
            {
                "Update": {
                    "TableName": "things",
                    "Key": {"pk": {"S": "p1"}, "sk": {"N": "2"}},
                    "UpdateExpression": "SET flag = :t",
                    "ExpressionAttributeValues": {":t": {"BOOL": True}},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": "things",
                    "Key": {"pk": {"S": "p1"}, "sk": {"N": "0"}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    client.transact_get_items(
        TransactItems=[{"Get": {"TableName": "things", "Key": {"pk": {"S": "p2"}, "sk": {"N": "1"}}}}]
    )
    client.batch_write_item(
        RequestItems={
            "things": [
                {"PutRequest": {"Item": _every_type("p3", 1)}},
                {"DeleteRequest": {"Key": {"pk": {"S": "p2"}, "sk": {"N": "1"}}}},
            ]
        }
    )
    client.delete_item(TableName="things", Key={"pk": {"S": "p3"}, "sk": {"N": "1"}}, ReturnValues="ALL_OLD")
    client.delete_item(TableName="things", Key={"pk": {"S": "p3"}, "sk": {"N": "1"}})

    assert _agree(recorder) >= DATA_PLANE


def test_the_app_still_reads_what_it_wrote_through_the_fast_path(recorder: Recorder) -> None:
    moto_fast.answer_dynamodb_fast()  # as the local stack installs it (under the recorder: both run)
    client = _client()
    item = _every_type("p1", 7)
    client.put_item(TableName="things", Item=item)
    got = client.get_item(TableName="things", Key={"pk": {"S": "p1"}, "sk": {"N": "7"}})["Item"]
    assert got == item
    resource = boto3.resource("dynamodb", region_name=REGION).Table("things")
    assert resource.get_item(Key={"pk": "p1", "sk": 7})["Item"]["count"] == Decimal("-12.50")


def test_errors_and_control_plane_answers_are_moto_s_own(recorder: Recorder) -> None:
    client = _client()
    client.describe_table(TableName="things")  # timestamps: moto's rules
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(
            TableName="things",
            Item=_every_type("p1", 1),
            ConditionExpression="attribute_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_item(TableName="missing", Key={"pk": {"S": "p1"}})
    by_operation = {operation: fast for operation, _, fast in recorder.answers}
    assert by_operation["DescribeTable"] is None
    _agree(recorder)


@pytest.mark.parametrize(
    "result",
    [
        {
            "Item": {"a": {"S": "x"}},
            "consumed_capacity": {"CapacityUnits": 1},
        },  # a member under its snake_case name
        {"Items": [None]},  # None inside a list
        {"Item": {"a": None}},  # None inside a map
        ["not", "a", "dict"],
    ],
)
def test_values_moto_would_read_differently_fall_back(result: Any) -> None:
    from moto.core.utils import get_service_model

    model = get_service_model("dynamodb")
    shape = model.operation_model(
        "Query" if "Items" in result or isinstance(result, list) else "GetItem"
    ).output_shape
    with pytest.raises(moto_fast._Unsupported):
        moto_fast.render(result, shape)
