"""The local stack's own routes are out of the push sender's reach (issue 21): a subscription
endpoint naming ``/dev/push/reject?token=...`` on the stack's port made the stack forget another
user's device. Over real sockets through ``make run``; every address is 127.0.0.1."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from tests.functional.webpush_receiver import Subscription
from tests.integration.conftest import run
from tests.integration.push.push_support import connect, device_platforms, offline, register


@pytest.mark.parametrize(
    "path",
    [
        "/dev/push/reject?token={victim}",
        "/dev/push?user=bob",
        "/dev/token?user=mallory",
        "/dev/webpush/{sub}?x=1",
        "/@connections/abc",
    ],
)
def test_an_endpoint_on_the_stacks_own_routes_is_refused(stack, user, path):
    async def scenario():
        bob, mallory = user("bob"), user("mallory")
        victim = f"bob-iphone-{uuid.uuid4().hex}"
        b = await connect(stack, bob)
        await register(b, "apns", victim)
        await offline(stack, b)
        m = await connect(stack, mallory)
        target = stack.url + path.format(victim=urllib.parse.quote(victim), sub=uuid.uuid4().hex)
        for endpoint in (target, target.replace("127.0.0.1", "localhost")):
            keys = Subscription(endpoint=endpoint).to_wire()["keys"]
            reply = await m.request(
                "device.register", platform="webpush", subscription={"endpoint": endpoint, "keys": keys}
            )
            assert reply["code"] == "bad_request", reply
            assert "local stack's own routes" in reply["message"]
        await m.close()
        b = await connect(stack, bob)
        assert await device_platforms(b) == ["apns"]  # bob's phone is still there
        await b.close()

    run(scenario())


def test_the_local_push_service_is_still_a_valid_endpoint(stack, user):
    async def scenario():
        b = await connect(stack, user("bob"))
        subscription = Subscription(endpoint=f"{stack.url}/dev/webpush/{uuid.uuid4().hex}")
        await register(b, "webpush", subscription=subscription.to_wire())
        await b.close()

    run(scenario())


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "vapid t=x, k=y"},
        {"Authorization": "WebPush x"},
        {"TTL": "86400"},
        {"Crypto-Key": "dh=x"},
    ],
)
def test_the_reject_route_refuses_what_the_push_sender_sends(stack, headers):
    query = urllib.parse.urlencode({"token": f"anything-{uuid.uuid4().hex}"})
    req = urllib.request.Request(
        f"{stack.url}/dev/push/reject?{query}", data=b"", method="POST", headers=headers
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=10)
    assert refused.value.code == 403
    assert "push sender" in json.loads(refused.value.read())["error"]
