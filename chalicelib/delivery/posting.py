"""Posting frames to connections through the API Gateway management API.

A 410 Gone is translated here, where the call is made: ``post`` reports it as ``GONE`` and
``post_many`` returns the gone connection ids, so the caller can forget them. Posts to many
connections run in parallel on a shared thread pool with bounded concurrency.

Retries are decided here too, never by botocore (whose standard mode also retries a read
timeout: a post that timed out may have been delivered, and its retry would be a second
frame). A post is tried again, after a short jittered pause, only when it surely was not
delivered: the API answered 429 or 5xx, or no connection to it was made. A timeout or a
dropped connection after the request left is not retried; that connection's client fills the
gap from storage (by ``seq``) on its next resync.
"""

from __future__ import annotations

import enum
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as NotConnected

log = logging.getLogger(__name__)


class ManagementClient(Protocol):
    """The one method of boto3's ``apigatewaymanagementapi`` client that delivery uses."""

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> Any: ...


ClientFactory = Callable[[str], ManagementClient]


class PostResult(enum.Enum):
    OK = "ok"
    GONE = "gone"
    FAILED = "failed"


USER_AGENT = "chat-backend Botocore/{botocore} Python/{python}"


def management_endpoint(api_id: str, stage: str, region: str, override: str | None) -> str:
    """The management API base URL: the configured one, else the event's API and stage."""
    if override:
        return override.rstrip("/")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{api_id}.execute-api.{region}.{suffix}/{stage}"


def boto3_client_factory(region: str, concurrency: int) -> ClientFactory:
    """Real management clients, one per endpoint, sized for the fan-out pool."""
    import platform

    import boto3
    import botocore
    from botocore.config import Config

    config = Config(
        max_pool_connections=max(10, concurrency),
        connect_timeout=2,
        read_timeout=5,
        retries={"mode": "standard", "total_max_attempts": 1},  # no botocore retries: see PostRetry
        # A fixed User-Agent: botocore otherwise builds its own twice per request from some twenty
        # parts (a seventh of a post's CPU, measured), and posts are most of a fan-out's work.
        user_agent=USER_AGENT.format(botocore=botocore.__version__, python=platform.python_version()),
    )

    @functools.lru_cache(maxsize=8)
    def client_for(endpoint: str) -> ManagementClient:
        client: ManagementClient = boto3.client(
            "apigatewaymanagementapi", endpoint_url=endpoint, region_name=region, config=config
        )
        return client

    return client_for


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _is_gone(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "GoneException" or _status(exc) == 410


def _not_delivered(exc: ClientError) -> bool:
    """The API refused the post (throttled, or failed before delivering): safe to send again."""
    status = _status(exc)
    code = exc.response.get("Error", {}).get("Code")
    return status == 429 or status >= 500 or code in ("LimitExceededException", "TooManyRequestsException")


@dataclass(frozen=True)
class PostRetry:
    """How a post that surely was not delivered is tried again: at most ``attempts`` tries,
    pausing a random time up to ``base_seconds`` doubling to ``cap_seconds`` between them (full
    jitter, so many throttled posts do not come back together). The defaults add at most 0.35 s
    to a post: fan-out of one message stays within a second or so even when throttled."""

    attempts: int = 3
    base_seconds: float = 0.05
    cap_seconds: float = 0.3
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    jitter: Callable[[float, float], float] = field(default=random.uniform, repr=False)

    def pause(self, attempt: int) -> None:
        """Wait before try number ``attempt + 1`` (``attempt`` counts from 0)."""
        self.sleep(self.jitter(0.0, min(self.cap_seconds, self.base_seconds * 2**attempt)))


class Delivery:
    def __init__(
        self, client_for: ClientFactory, concurrency: int = 32, retry: PostRetry | None = None
    ) -> None:
        self._client_for = client_for
        self._concurrency = max(1, concurrency)
        self.retry = retry or PostRetry()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def post(self, endpoint: str, connection_id: str, data: bytes) -> PostResult:
        """Post one frame; tried again only while the API says it did not deliver it."""
        for attempt in range(max(1, self.retry.attempts)):
            if attempt:
                self.retry.pause(attempt - 1)
            try:
                self._client_for(endpoint).post_to_connection(ConnectionId=connection_id, Data=data)
                return PostResult.OK
            except ClientError as exc:
                if _is_gone(exc):
                    return PostResult.GONE
                if not _not_delivered(exc):
                    log.warning("post to %s refused: %s", connection_id, exc)
                    return PostResult.FAILED
                failure: Exception = exc
            except NotConnected as exc:  # the request never reached the API
                failure = exc
            except BotoCoreError as exc:  # a timeout or a dropped connection: it may have arrived
                log.warning("post to %s not retried (it may have been delivered): %s", connection_id, exc)
                return PostResult.FAILED
        log.warning("post to %s failed %d times: %s", connection_id, self.retry.attempts, failure)
        return PostResult.FAILED

    def post_many(self, endpoint: str, posts: Sequence[tuple[str, bytes]]) -> list[str]:
        """Post every (connection_id, data) pair, in parallel; return the gone connection ids."""
        if not posts:
            return []
        if len(posts) == 1:
            results = [self.post(endpoint, *posts[0])]
        else:
            pool = self._executor()
            results = list(pool.map(lambda post: self.post(endpoint, *post), posts))
        return [cid for (cid, _), result in zip(posts, results, strict=True) if result is PostResult.GONE]

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="fanout")
            return self._pool
