"""Lambda's SQS event source mapping, the parts without I/O: which functions of the app consume
which queue, the event a batch of received messages becomes, and what the function's answer
means for each message (delete it, or leave it to reappear after the visibility timeout).

How Lambda reads the answer, with ``ReportBatchItemFailures`` on the mapping:

- the invocation raised: every record of the batch failed;
- it returned ``None``, or a dict whose ``batchItemFailures`` is missing, ``None`` or empty:
  every record succeeded;
- ``batchItemFailures`` lists ``{"itemIdentifier": messageId}`` entries: those records failed,
  the others succeeded;
- anything else (not a dict, not a list, an entry without a non-empty ``itemIdentifier``, an id
  that is not in the batch): the whole batch failed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SQS_MAX_RECEIVE = 10  # ReceiveMessage's MaxNumberOfMessages upper bound
DEFAULT_CONCURRENCY = 5  # Lambda starts an SQS mapping with five batches in flight

Record = Mapping[str, Any]


@dataclass(frozen=True)
class SqsSource:
    """One ``@app.on_sqs_message`` handler: the function and how its mapping is configured."""

    function: str  # the handler's attribute in the app module: "fanout" for "app.fanout"
    queue: str
    batch_size: int
    batching_window_seconds: int = 0
    maximum_concurrency: int | None = None

    @property
    def concurrency(self) -> int:
        """Batches in flight at once: the mapping's maximum concurrency, else Lambda's start."""
        return self.maximum_concurrency or DEFAULT_CONCURRENCY

    def receive_size(self, have: int = 0) -> int:
        """MaxNumberOfMessages for the next ReceiveMessage of a batch that holds ``have``."""
        return max(1, min(SQS_MAX_RECEIVE, self.batch_size - have))


def sqs_sources(event_sources: Iterable[Any]) -> list[SqsSource]:
    """The SQS handlers among a Chalice app's ``event_sources`` (its SNS, S3... are skipped)."""
    from chalice.app import SQSEventConfig

    return [_source(config) for config in event_sources if isinstance(config, SQSEventConfig)]


def _source(config: Any) -> SqsSource:
    _, _, function = str(config.handler_string).partition(".")
    queue = config.queue or queue_name_from_arn(str(config.queue_arn))
    return SqsSource(
        function=function,
        queue=queue,
        batch_size=int(config.batch_size),
        batching_window_seconds=int(config.maximum_batching_window_in_seconds or 0),
        maximum_concurrency=config.maximum_concurrency,
    )


def queue_name_from_arn(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs" or not parts[5]:
        raise ValueError(f"not an SQS queue ARN: {arn!r}")
    return parts[5]


# -- the event --------------------------------------------------------------------------------


def lambda_event(messages: Sequence[Mapping[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda hands the function for messages as ReceiveMessage returned them."""
    return {"Records": [_record(message, queue_arn, region) for message in messages]}


def _record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {str(k): str(v) for k, v in (message.get("Attributes") or {}).items()},
        "messageAttributes": {
            str(name): _message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update(
        {
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
    )
    return record


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """boto3's ``{StringValue, BinaryValue: bytes, DataType}`` as Lambda spells it."""
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = _b64(value["BinaryValue"])
    attribute["stringListValues"] = list(value.get("StringListValues") or [])
    attribute["binaryListValues"] = [_b64(v) for v in value.get("BinaryListValues") or []]
    attribute["dataType"] = value["DataType"]
    return attribute


def _b64(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


# -- the answer -------------------------------------------------------------------------------


class InvalidBatchResponse(ValueError):
    """The function's answer is not a partial batch response: the whole batch failed."""


@dataclass(frozen=True)
class Settlement:
    """What becomes of each record of an invocation's batch."""

    succeeded: tuple[Record, ...]  # delete these
    failed: tuple[Record, ...]  # leave these: they reappear after the visibility timeout
    problem: str = ""  # why the whole batch failed, when it did

    @property
    def receipt_handles(self) -> list[str]:
        """The receipt handles to delete."""
        return [str(record["receiptHandle"]) for record in self.succeeded]


def settle(records: Sequence[Record], result: Any, error: BaseException | None) -> Settlement:
    """Lambda's reading of an invocation: ``result`` is what the function returned, ``error``
    what it raised (``None`` if it returned)."""
    if error is not None:
        return Settlement((), tuple(records), f"the function raised {type(error).__name__}: {error}")
    try:
        failed_ids = failed_message_ids(result, {str(r["messageId"]) for r in records})
    except InvalidBatchResponse as exc:
        return Settlement((), tuple(records), str(exc))
    return Settlement(
        succeeded=tuple(r for r in records if r["messageId"] not in failed_ids),
        failed=tuple(r for r in records if r["messageId"] in failed_ids),
    )


def failed_message_ids(result: Any, batch_ids: set[str]) -> set[str]:
    """The message ids a partial batch response names; raises ``InvalidBatchResponse``."""
    if result is None:
        return set()
    if not isinstance(result, Mapping):
        raise InvalidBatchResponse(f"the function returned a {type(result).__name__}, not a dict")
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise InvalidBatchResponse("batchItemFailures is not a list")
    return {_failed_id(entry, batch_ids) for entry in failures}


def _failed_id(entry: Any, batch_ids: set[str]) -> str:
    identifier = entry.get("itemIdentifier") if isinstance(entry, Mapping) else None
    if not isinstance(identifier, str) or not identifier:
        raise InvalidBatchResponse(f"a batchItemFailures entry has no itemIdentifier: {entry!r}")
    if identifier not in batch_ids:
        raise InvalidBatchResponse(f"batchItemFailures names {identifier!r}, which is not in the batch")
    return identifier
