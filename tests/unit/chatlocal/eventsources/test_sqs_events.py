"""The local SQS event source mapping without I/O: which handlers of the app consume which queue,
the Lambda event built from received messages, and how a function's answer settles each record."""

from __future__ import annotations

import base64
import hashlib

import pytest
from chalice import Chalice
from hypothesis import given
from hypothesis import strategies as st

from chatlocal.eventsources.sqs_events import (
    InvalidBatchResponse,
    SqsSource,
    failed_message_ids,
    lambda_event,
    queue_name_from_arn,
    settle,
    sqs_sources,
)

ARN = "arn:aws:sqs:eu-west-1:123456789012:chat-local-fanout"


def received(message_id: str, body: str = "{}", **extra):
    """A message as boto3's receive_message returns it."""
    return {
        "MessageId": message_id,
        "ReceiptHandle": f"handle-{message_id}",
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "Body": body,
        "Attributes": {
            "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
            "SentTimestamp": "1795754383716",
            "ApproximateReceiveCount": "1",
            "ApproximateFirstReceiveTimestamp": "1795754383721",
        },
        **extra,
    }


# -- which handlers ----------------------------------------------------------------------------


def test_sqs_sources_come_from_the_apps_registered_handlers():
    app = Chalice(app_name="t")

    @app.on_sqs_message(queue="shards", batch_size=5)
    def fanout(event):
        return None

    @app.on_sqs_message(
        queue_arn=ARN, batch_size=20, maximum_batching_window_in_seconds=2, maximum_concurrency=7
    )
    def other(event):
        return None

    @app.on_sns_message(topic="not-sqs")
    def pushed(event):
        return None

    assert sqs_sources(app.event_sources) == [
        SqsSource(function="fanout", queue="shards", batch_size=5),
        SqsSource(
            function="other",
            queue="chat-local-fanout",
            batch_size=20,
            batching_window_seconds=2,
            maximum_concurrency=7,
        ),
    ]


def test_the_projects_app_registers_the_fanout_worker_with_batches_of_5():
    import app as project_app

    sources = {source.function: source for source in sqs_sources(project_app.app.event_sources)}
    assert sources["fanout"].batch_size == 5


def test_concurrency_is_lambdas_starting_five_unless_the_mapping_caps_it():
    assert SqsSource("f", "q", 5).concurrency == 5
    assert SqsSource("f", "q", 5, maximum_concurrency=2).concurrency == 2


@pytest.mark.parametrize(("batch_size", "have", "size"), [(5, 0, 5), (10, 0, 10), (25, 0, 10), (25, 20, 5)])
def test_receive_size_never_asks_sqs_for_more_than_10(batch_size, have, size):
    assert SqsSource("f", "q", batch_size).receive_size(have) == size


@pytest.mark.parametrize(
    "arn", ["chat-local-fanout", "arn:aws:sns:us-east-1:1:topic", "arn:aws:sqs:us-east-1:1:"]
)
def test_a_queue_arn_that_is_not_one_is_refused(arn):
    with pytest.raises(ValueError, match="not an SQS queue ARN"):
        queue_name_from_arn(arn)


# -- the event ---------------------------------------------------------------------------------


def test_the_event_has_the_fields_lambda_sends_for_each_record():
    event = lambda_event([received("m1", '{"v":1}'), received("m2")], ARN, "eu-west-1")

    first = event["Records"][0]
    assert first == {
        "messageId": "m1",
        "receiptHandle": "handle-m1",
        "body": '{"v":1}',
        "attributes": {
            "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
            "SentTimestamp": "1795754383716",
            "ApproximateReceiveCount": "1",
            "ApproximateFirstReceiveTimestamp": "1795754383721",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(b'{"v":1}').hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": ARN,
        "awsRegion": "eu-west-1",
    }
    assert [r["messageId"] for r in event["Records"]] == ["m1", "m2"]


def test_message_attributes_are_spelled_as_lambda_spells_them():
    message = received(
        "m1",
        MessageAttributes={
            "kind": {"StringValue": "shard", "DataType": "String"},
            "blob": {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
        },
        MD5OfMessageAttributes="abc",
    )
    record = lambda_event([message], ARN, "us-east-1")["Records"][0]

    assert record["messageAttributes"] == {
        "kind": {
            "stringValue": "shard",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "blob": {
            "binaryValue": base64.b64encode(b"\x00\x01").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    assert record["md5OfMessageAttributes"] == "abc"


def test_the_event_is_what_chalices_sqs_event_reads():
    from chalice.app import SQSEvent

    event = SQSEvent(lambda_event([received("m1", "hello")], ARN, "us-east-1"), context=None)
    (record,) = list(event)
    assert (record.body, record.receipt_handle) == ("hello", "handle-m1")
    assert event.to_dict()["Records"][0]["messageId"] == "m1"


# -- the answer --------------------------------------------------------------------------------


def records(*ids: str):
    return lambda_event([received(i) for i in ids], ARN, "us-east-1")["Records"]


@pytest.mark.parametrize(
    "result", [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}, {"statusCode": 200}]
)
def test_every_record_succeeds_when_no_failure_is_reported(result):
    settlement = settle(records("a", "b"), result, None)
    assert settlement.receipt_handles == ["handle-a", "handle-b"]
    assert settlement.failed == ()
    assert settlement.problem == ""


def test_reported_failures_stay_and_the_rest_are_deleted():
    batch = records("a", "b", "c")
    settlement = settle(batch, {"batchItemFailures": [{"itemIdentifier": "b"}]}, None)
    assert settlement.receipt_handles == ["handle-a", "handle-c"]
    assert [r["messageId"] for r in settlement.failed] == ["b"]
    assert settlement.problem == ""


def test_an_invocation_that_raised_fails_every_record():
    settlement = settle(records("a", "b"), None, RuntimeError("boom"))
    assert settlement.receipt_handles == []
    assert len(settlement.failed) == 2
    assert "RuntimeError: boom" in settlement.problem


@pytest.mark.parametrize(
    ("result", "why"),
    [
        ("ok", "returned a str"),
        ([], "returned a list"),
        ({"batchItemFailures": "a"}, "not a list"),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, "no itemIdentifier"),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, "no itemIdentifier"),
        ({"batchItemFailures": [{"id": "a"}]}, "no itemIdentifier"),
        ({"batchItemFailures": ["a"]}, "no itemIdentifier"),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, "not in the batch"),
    ],
)
def test_an_answer_that_is_not_a_partial_batch_response_fails_the_whole_batch(result, why):
    settlement = settle(records("a", "b"), result, None)
    assert settlement.receipt_handles == []
    assert len(settlement.failed) == 2
    assert why in settlement.problem
    with pytest.raises(InvalidBatchResponse):
        failed_message_ids(result, {"a", "b"})


@given(st.lists(st.booleans(), min_size=1, max_size=10))
def test_each_record_is_either_deleted_or_left_never_both(fails):
    ids = [f"m{i}" for i in range(len(fails))]
    result = {"batchItemFailures": [{"itemIdentifier": i} for i, f in zip(ids, fails, strict=True) if f]}
    settlement = settle(records(*ids), result, None)
    deleted = {r["messageId"] for r in settlement.succeeded}
    left = {r["messageId"] for r in settlement.failed}
    assert deleted | left == set(ids)
    assert not deleted & left
    assert left == {i for i, f in zip(ids, fails, strict=True) if f}
