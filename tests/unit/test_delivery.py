"""Delivery translates 410 where the call is made and posts many in parallel, bounded."""

from __future__ import annotations

import threading
import time

from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib.delivery import Delivery, PostResult, management_endpoint


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
    delivery = Delivery(lambda endpoint: client)
    assert delivery.post("e", "ok", b"x") is PostResult.OK
    assert delivery.post("e", "g", b"x") is PostResult.GONE
    assert delivery.post("e", "t", b"x") is PostResult.FAILED
    assert delivery.post("e", "d", b"x") is PostResult.FAILED


def test_post_many_returns_only_gone_ids_and_delivers_the_rest():
    client = Client({"g1": "gone", "t": "throttle", "g2": "gone"})
    delivery = Delivery(lambda endpoint: client, concurrency=4)
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
