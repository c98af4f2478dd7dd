"""Queues the Lambdas hand work to (fan-out shards, push jobs): SQS, in batches within its limits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

SQS_BATCH_ENTRIES = 10
SQS_BATCH_BYTES = 256 * 1024  # one message, and the whole SendMessageBatch request
SQS_MAX_DELAY_SECONDS = 900


class Queue(Protocol):
    def send(self, bodies: Sequence[str], delay_seconds: int = 0) -> list[int]:
        """Queue the bodies, each visible to consumers ``delay_seconds`` from now (SQS
        ``DelaySeconds``, 0-900); return the indexes of those that could not be queued."""


def batches(bodies: Sequence[str]) -> Iterator[list[int]]:
    """Group bodies (by index) into SendMessageBatch calls: at most 10 entries and 256 KiB each."""
    batch: list[int] = []
    size = 0
    for index, body in enumerate(bodies):
        length = len(body.encode("utf-8"))
        if batch and (len(batch) == SQS_BATCH_ENTRIES or size + length > SQS_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(index)
        size += length
    if batch:
        yield batch


class SqsQueue:
    """``Queue`` on SQS: the queue URL is resolved once, by name, on first use."""

    def __init__(self, client: Any, queue_name: str) -> None:
        self._client = client
        self._name = queue_name
        self._url: str | None = None

    def _queue_url(self) -> str:
        if self._url is None:
            self._url = str(self._client.get_queue_url(QueueName=self._name)["QueueUrl"])
        return self._url

    def send(self, bodies: Sequence[str], delay_seconds: int = 0) -> list[int]:
        from botocore.exceptions import BotoCoreError, ClientError

        delay = max(0, min(SQS_MAX_DELAY_SECONDS, int(delay_seconds)))
        unsent: list[int] = []
        for batch in batches(bodies):
            try:
                unsent += self._send_batch([(i, bodies[i]) for i in batch], delay)
            except (BotoCoreError, ClientError, KeyError) as exc:
                log.warning("SendMessageBatch failed: %s", exc)
                unsent += batch
        return unsent

    def _send_batch(self, batch: list[tuple[int, str]], delay: int = 0) -> list[int]:
        """Send one batch, once more for entries SQS refused; the indexes still refused."""
        url = self._queue_url()
        pending = dict(batch)
        timing = {"DelaySeconds": delay} if delay else {}
        for _ in range(2):
            entries = [{"Id": str(i), "MessageBody": body, **timing} for i, body in pending.items()]
            result = self._client.send_message_batch(QueueUrl=url, Entries=entries)
            pending = {int(f["Id"]): pending[int(f["Id"])] for f in result.get("Failed") or []}
            if not pending:
                break
        return sorted(pending)


def process_batch(
    event: Mapping[str, Any], parse: Callable[[str], T], run: Callable[[T], bool], what: str
) -> dict[str, list[dict[str, str]]]:
    """Run an SQS-triggered Lambda's records; the partial batch response names the records to
    deliver again (``run`` returned False or raised). A record that cannot be parsed is
    dropped: delivering it again cannot help."""
    failures = []
    for record in event.get("Records") or []:
        message_id = str(record.get("messageId", ""))
        try:
            item = parse(str(record.get("body", "")))
        except (ValueError, KeyError, TypeError):
            log.error("dropping a malformed %s %s", what, message_id)
            continue
        try:
            done = run(item)
        except Exception:
            log.exception("%s %s failed; SQS will deliver it again", what, message_id)
            done = False
        if not done:
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}
