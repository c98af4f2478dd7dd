"""Posting frames to connections through the API Gateway management API.

A 410 Gone is translated here, where the call is made: ``post`` reports it as ``GONE`` and
``post_many`` returns the gone connection ids, so the caller can forget them. Posts to many
connections run in parallel on a shared thread pool with bounded concurrency.
"""

from __future__ import annotations

import enum
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger(__name__)


class ManagementClient(Protocol):
    """The one method of boto3's ``apigatewaymanagementapi`` client that delivery uses."""

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> Any: ...


ClientFactory = Callable[[str], ManagementClient]


class PostResult(enum.Enum):
    OK = "ok"
    GONE = "gone"
    FAILED = "failed"


def management_endpoint(api_id: str, stage: str, region: str, override: str | None) -> str:
    """The management API base URL: the configured one, else the event's API and stage."""
    if override:
        return override.rstrip("/")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{api_id}.execute-api.{region}.{suffix}/{stage}"


def boto3_client_factory(region: str, concurrency: int) -> ClientFactory:
    """Real management clients, one per endpoint, sized for the fan-out pool."""
    import boto3
    from botocore.config import Config

    config = Config(
        max_pool_connections=max(10, concurrency),
        connect_timeout=2,
        read_timeout=5,
        retries={"mode": "standard", "max_attempts": 3},
    )

    @functools.lru_cache(maxsize=8)
    def client_for(endpoint: str) -> ManagementClient:
        client: ManagementClient = boto3.client(
            "apigatewaymanagementapi", endpoint_url=endpoint, region_name=region, config=config
        )
        return client

    return client_for


def _is_gone(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return bool(error.get("Code") == "GoneException" or status == 410)


class Delivery:
    def __init__(self, client_for: ClientFactory, concurrency: int = 32) -> None:
        self._client_for = client_for
        self._concurrency = max(1, concurrency)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def post(self, endpoint: str, connection_id: str, data: bytes) -> PostResult:
        try:
            self._client_for(endpoint).post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as exc:
            if _is_gone(exc):
                return PostResult.GONE
            log.warning("post to %s failed: %s", connection_id, exc)
            return PostResult.FAILED
        except BotoCoreError as exc:
            log.warning("post to %s failed: %s", connection_id, exc)
            return PostResult.FAILED
        return PostResult.OK

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
