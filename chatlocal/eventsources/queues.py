"""The queues the app's SQS handlers consume, created as infra/tables.json creates them on AWS:
a visibility timeout of six times the function's timeout (as AWS advises for Lambda event
sources), and a redrive policy that moves a message to its dead-letter queue, ``{name}-dlq``,
after 5 failed receives. Blocking (boto3): run it off the event loop.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger("chatlocal.queues")

FUNCTION_TIMEOUT_SECONDS = 30  # the Lambdas' timeout (.chalice/config.json lambda_timeout)
VISIBILITY_TIMEOUT_SECONDS = 6 * FUNCTION_TIMEOUT_SECONDS  # as infra/tables.json
MAX_RECEIVE_COUNT = 5  # failed receives before SQS moves a message to the dead-letter queue
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
_EXISTS = ("QueueAlreadyExists", "QueueNameExists")
_MISSING = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


@dataclass(frozen=True)
class Queue:
    name: str
    url: str
    arn: str
    dead_letter_name: str
    created: bool  # False when it was there already (an outside SQS): kept as it was
    # dead_letter_name is "" for a queue that exists without a redrive policy
    visibility_timeout: int = VISIBILITY_TIMEOUT_SECONDS
    max_receive_count: int = MAX_RECEIVE_COUNT


def dead_letter_name(name: str) -> str:
    return f"{name[:-5]}-dlq.fifo" if name.endswith(".fifo") else f"{name}-dlq"


def ensure_queue(
    client: Any,
    name: str,
    visibility_timeout: int = VISIBILITY_TIMEOUT_SECONDS,
    max_receive_count: int = MAX_RECEIVE_COUNT,
) -> Queue:
    """Create the queue and its dead-letter queue; a queue that exists is kept as it is."""
    existing = _url(client, name)
    if existing is not None:
        return _describe(client, name, existing)
    dead_letter = dead_letter_name(name)
    fifo = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
    dead_letter_url = _url(client, dead_letter) or _create(
        client, dead_letter, {"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_SECONDS), **fifo}
    )
    redrive = {"deadLetterTargetArn": _arn(client, dead_letter_url), "maxReceiveCount": max_receive_count}
    attributes = {"VisibilityTimeout": str(visibility_timeout), "RedrivePolicy": json.dumps(redrive), **fifo}
    url = _create(client, name, attributes)
    log.info("created queue %s (dead letters: %s)", name, dead_letter)
    return Queue(name, url, _arn(client, url), dead_letter, True, visibility_timeout, max_receive_count)


def _url(client: Any, name: str) -> str | None:
    try:
        return str(client.get_queue_url(QueueName=name)["QueueUrl"])
    except ClientError as exc:
        if _code(exc) in _MISSING:
            return None
        raise


def _create(client: Any, name: str, attributes: dict[str, str]) -> str:
    try:
        return str(client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
    except ClientError as exc:  # created meanwhile by someone else, with other attributes
        if _code(exc) not in _EXISTS:
            raise
        return str(client.get_queue_url(QueueName=name)["QueueUrl"])


def _describe(client: Any, name: str, url: str) -> Queue:
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
    target = str(redrive.get("deadLetterTargetArn", ""))
    log.info("queue %s exists: keeping its visibility timeout and redrive policy", name)
    return Queue(
        name=name,
        url=url,
        arn=str(attributes["QueueArn"]),
        dead_letter_name=target.rsplit(":", 1)[-1],
        created=False,
        visibility_timeout=int(attributes.get("VisibilityTimeout", VISIBILITY_TIMEOUT_SECONDS)),
        max_receive_count=int(redrive.get("maxReceiveCount", 0)),
    )


def _arn(client: Any, url: str) -> str:
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attributes["QueueArn"])


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
