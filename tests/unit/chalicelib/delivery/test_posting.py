"""Delivery translates 410 where the call is made and posts many in parallel, bounded."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from chalicelib.delivery.posting import Delivery, PostResult, PostRetry, management_endpoint


class Client:
    def __init__(self, behaviour=None, delay=0.0):
        self.behaviour = behaviour or {}
        self.delay = delay
        self.active = self.max_active = 0
        self.lock = threading.Lock()
        self.got: list[tuple[str, bytes]] = []

    def post_to_connection(self, *, ConnectionId, Data):
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(self.delay)
            action = self.behaviour.get(ConnectionId)
            if action == "gone":
                raise ClientError(
                    {"Error": {"Code": "GoneException"}, "ResponseMetadata": {"HTTPStatusCode": 410}}, "Post"
                )
            if action == "throttle":
                raise ClientError({"Error": {"Code": "LimitExceededException"}}, "Post")
            if action == "down":
                raise EndpointConnectionError(endpoint_url="http://x")
            with self.lock:
                self.got.append((ConnectionId, Data))
        finally:
            with self.lock:
                self.active -= 1


def test_gone_and_other_failures_are_told_apart():
    client = Client({"g": "gone", "t": "throttle", "d": "down"})
    delivery = Delivery(lambda endpoint: client, retry=PostRetry(sleep=lambda s: None))
    assert delivery.post("e", "ok", b"x") is PostResult.OK
    assert delivery.post("e", "g", b"x") is PostResult.GONE
    assert delivery.post("e", "t", b"x") is PostResult.FAILED
    assert delivery.post("e", "d", b"x") is PostResult.FAILED


def test_post_many_returns_only_gone_ids_and_delivers_the_rest():
    client = Client({"g1": "gone", "t": "throttle", "g2": "gone"})
    delivery = Delivery(lambda endpoint: client, concurrency=4, retry=PostRetry(sleep=lambda s: None))
    posts = [(cid, cid.encode()) for cid in ["a", "g1", "b", "t", "g2", "c"]]
    assert sorted(delivery.post_many("e", posts)) == ["g1", "g2"]
    assert sorted(cid for cid, _ in client.got) == ["a", "b", "c"]


def test_post_many_overlaps_up_to_the_bound():
    client = Client(delay=0.02)
    delivery = Delivery(lambda endpoint: client, concurrency=5)
    delivery.post_many("e", [(f"c{i}", b"x") for i in range(30)])
    assert client.max_active == 5


def test_management_endpoint():
    assert (
        management_endpoint("abc", "dev", "eu-west-1", None)
        == "https://abc.execute-api.eu-west-1.amazonaws.com/dev"
    )
    assert management_endpoint("abc", "dev", "cn-north-1", None).endswith(".amazonaws.com.cn/dev")
    assert management_endpoint("abc", "dev", "eu-west-1", "http://127.0.0.1:8000/") == "http://127.0.0.1:8000"


# ---------------------------------------------------------------- retries


def _answer(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Post")


class Scripted:
    """A management client that answers each post with the next scripted outcome (an exception
    to raise, or None: delivered), and records every attempt."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.attempts: list[str] = []
        self.delivered: list[str] = []

    def post_to_connection(self, *, ConnectionId, Data):
        self.attempts.append(ConnectionId)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if isinstance(outcome, ReadTimeoutError):
            self.delivered.append(ConnectionId)  # the dangerous case: it arrived, the answer did not
        if outcome is not None:
            raise outcome
        self.delivered.append(ConnectionId)


def _delivery(client, attempts=3):
    pauses: list[float] = []
    retry = PostRetry(attempts=attempts, sleep=pauses.append, jitter=lambda low, high: high)
    return Delivery(lambda endpoint: client, retry=retry), pauses


def test_throttled_and_failed_posts_are_tried_again_with_growing_pauses():
    client = Scripted(_answer(429, "LimitExceededException"), _answer(500, "InternalServerError"), None)
    delivery, pauses = _delivery(client)
    assert delivery.post("e", "c1", b"x") is PostResult.OK
    assert client.attempts == ["c1"] * 3 and client.delivered == ["c1"]
    assert pauses == [0.05, 0.1]  # the jitter's upper bounds: 50 ms doubling


def test_a_post_that_keeps_failing_gives_up_after_the_bounded_attempts():
    client = Scripted(*[_answer(503, "ServiceUnavailable")] * 10)
    delivery, pauses = _delivery(client, attempts=3)
    assert delivery.post("e", "c1", b"x") is PostResult.FAILED
    assert len(client.attempts) == 3 and len(pauses) == 2 and client.delivered == []


def test_a_connection_never_made_is_tried_again():
    client = Scripted(EndpointConnectionError(endpoint_url="http://x"), None)
    delivery, _ = _delivery(client)
    assert delivery.post("e", "c1", b"x") is PostResult.OK
    assert len(client.attempts) == 2


def test_a_timeout_is_not_retried_so_a_delivered_post_is_never_sent_twice():
    client = Scripted(ReadTimeoutError(endpoint_url="http://x"), None)
    delivery, pauses = _delivery(client)
    assert delivery.post("e", "c1", b"x") is PostResult.FAILED
    assert client.attempts == ["c1"] and client.delivered == ["c1"] and pauses == []


@pytest.mark.parametrize(
    "refusal",
    [
        _answer(413, "PayloadTooLargeException"),
        _answer(403, "ForbiddenException"),
        _answer(400, "BadRequest"),
    ],
)
def test_refusals_other_than_429_and_5xx_are_not_retried(refusal):
    client = Scripted(refusal, None)
    delivery, _ = _delivery(client)
    assert delivery.post("e", "c1", b"x") is PostResult.FAILED
    assert client.attempts == ["c1"]


def test_gone_after_a_throttle_is_gone():
    client = Scripted(_answer(429, "LimitExceededException"), _answer(410, "GoneException"))
    delivery, _ = _delivery(client)
    assert delivery.post("e", "c1", b"x") is PostResult.GONE
    assert len(client.attempts) == 2


def test_the_real_client_leaves_retries_to_delivery():
    from chalicelib.delivery.posting import boto3_client_factory

    client = boto3_client_factory("us-east-1", 8)("https://abc.execute-api.us-east-1.amazonaws.com/dev")
    assert client.meta.config.retries["total_max_attempts"] == 1  # one try: delivery decides retries


class _Raw:
    """An empty HTTP body, as botocore reads one."""

    def stream(self, **_):
        yield b""


def test_the_real_client_sends_a_fixed_user_agent_naming_the_app(monkeypatch):
    import botocore
    from botocore.awsrequest import AWSResponse

    from chalicelib.delivery.posting import boto3_client_factory

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    client = boto3_client_factory("us-east-1", 8)("https://abc.execute-api.us-east-1.amazonaws.com/dev")
    sent = []

    def answer(request, **_):
        sent.append(request)
        return AWSResponse(request.url, 200, {}, _Raw())

    client.meta.events.register("before-send", answer)
    client.post_to_connection(ConnectionId="c1", Data=b"{}")
    (request,) = sent
    agent = request.headers["User-Agent"].decode()
    assert agent.startswith(f"chat-backend Botocore/{botocore.__version__} Python/")
    assert "Authorization" in request.headers  # still signed
