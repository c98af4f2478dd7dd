"""The local stack's Web Push service: what pywebpush sends it is accepted, recorded and can be
decrypted by the subscriber; requests a push service refuses are refused with its status; a
rejected subscription answers 410."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPushException, webpush

from chatlocal.push.providers import VapidKeys
from chatlocal.push.webpush_service import LocalPushService
from infra.vapid_key import new_private_key
from tests.functional.webpush_receiver import Subscription, unb64url

KEYS = VapidKeys.from_env({"CHAT_VAPID_PRIVATE_KEY": new_private_key()})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_with_service(scenario: Any) -> Any:
    async def main() -> Any:
        port = free_port()
        service = LocalPushService(f"http://127.0.0.1:{port}", KEYS.public_key)
        app = web.Application()
        app.add_routes(service.routes())
        server = TestServer(app, host="127.0.0.1", port=port)
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as session:
                return await asyncio.wait_for(scenario(service, session), 20)
        finally:
            await server.close()

    return asyncio.run(main())


def send(subscription: Subscription, data: bytes, private_key: str = KEYS.private_key) -> Any:
    """What the push worker does (pywebpush), blocking."""
    return webpush(
        subscription_info=subscription.to_wire(),
        data=data,
        vapid_private_key=private_key,
        vapid_claims={"sub": "mailto:ops@example.com"},
        content_encoding="aes128gcm",
        ttl=60,
        headers={"Urgency": "high", "Topic": "chat-topic"},
        timeout=10,
    )


def vapid_header(private_key: str, claims: dict[str, Any]) -> str:
    raw = unb64url(private_key)
    key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    token = jwt.encode(claims, key, algorithm="ES256")
    return f"vapid t={token},k={VapidKeys.from_env({'CHAT_VAPID_PRIVATE_KEY': private_key}).public_key}"


def test_a_push_from_pywebpush_is_accepted_recorded_and_decryptable():
    async def scenario(service, session):
        subscription = Subscription(endpoint=service.endpoint("browser-1"))
        response = await asyncio.to_thread(send, subscription, b'{"hello":"browser"}')
        assert response.status_code == 201
        assert response.headers["Location"] == "/dev/webpush/browser-1/messages/1"
        async with session.get(subscription.endpoint) as listed:
            body = await listed.json()
        assert (body["endpoint"], body["gone"]) == (subscription.endpoint, False)
        [request] = body["requests"]
        assert (request["status"], request["ttl"], request["urgency"], request["topic"]) == (
            201,
            "60",
            "high",
            "chat-topic",
        )
        assert request["content_encoding"] == "aes128gcm" and request["error"] is None
        assert request["vapid"]["aud"] == service.base_url
        assert request["vapid"]["sub"] == "mailto:ops@example.com"
        assert subscription.decrypt(unb64url(request["body"])) == {"hello": "browser"}

    run_with_service(scenario)


def test_a_rejected_subscription_answers_410_and_pywebpush_sees_it():
    async def scenario(service, session):
        subscription = Subscription(endpoint=service.endpoint("browser-2"))
        service.reject("browser-2")
        with pytest.raises(WebPushException) as refused:
            await asyncio.to_thread(send, subscription, b"{}")
        assert refused.value.response.status_code == 410
        async with session.get(subscription.endpoint) as listed:
            body = await listed.json()
        assert body["gone"] is True and [r["status"] for r in body["requests"]] == [410]

    run_with_service(scenario)


def good_headers(service: LocalPushService, **changes: Any) -> dict[str, str]:
    claims = {"aud": service.base_url, "exp": int(time.time()) + 3600, "sub": "mailto:ops@example.com"}
    claims.update(changes.pop("claims", {}))
    headers = {
        "TTL": "60",
        "Content-Encoding": "aes128gcm",
        "Authorization": vapid_header(changes.pop("key", KEYS.private_key), claims),
    }
    headers.update(changes)
    return {k: v for k, v in headers.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        ({"TTL": None}, 400, "TTL"),
        ({"TTL": "-1"}, 400, "TTL"),
        ({"Urgency": "urgent"}, 400, "Urgency"),
        ({"Topic": "x" * 33}, 400, "Topic"),
        ({"Content-Encoding": "aesgcm"}, 415, "aes128gcm"),
        ({"Authorization": None}, 401, "no VAPID"),
        ({"Authorization": "WebPush abc"}, 401, "no VAPID"),
        ({"key": new_private_key()}, 403, "applicationServerKey"),
        ({"claims": {"aud": "https://elsewhere.example"}}, 403, "does not hold"),
        ({"claims": {"exp": int(time.time()) - 10}}, 403, "does not hold"),
        ({"claims": {"exp": int(time.time()) + 2 * 86400}}, 403, "24 hours"),
    ],
)
def test_requests_a_push_service_refuses_are_refused(changes, status, error):
    async def scenario(service, session):
        url = service.endpoint("browser-3")
        async with session.post(url, data=b"x" * 100, headers=good_headers(service, **changes)) as response:
            assert response.status == status
            assert error in (await response.json())["error"]
        async with session.get(url) as listed:
            [request] = (await listed.json())["requests"]
        assert request["status"] == status and error in request["error"]

    run_with_service(scenario)


def test_a_payload_over_4096_bytes_is_refused_and_a_good_one_accepted():
    async def scenario(service, session):
        url = service.endpoint("browser-4")
        async with session.post(url, data=b"x" * 4097, headers=good_headers(service)) as response:
            assert response.status == 413
        async with session.post(url, data=b"x" * 4096, headers=good_headers(service)) as response:
            assert response.status == 201
        async with session.post(service.endpoint("bad id!"), headers=good_headers(service)) as response:
            assert response.status == 404

    run_with_service(scenario)


@pytest.mark.parametrize(
    ("endpoint", "subscription"),
    [
        ("http://127.0.0.1:8000/dev/webpush/abc", "abc"),
        ("http://localhost:8000/dev/webpush/a_b-C", "a_b-C"),
        ("http://127.0.0.1:8001/dev/webpush/abc", None),  # another port: another server
        ("https://127.0.0.1:8000/dev/webpush/abc", None),
        ("http://10.0.0.1:8000/dev/webpush/abc", None),
        ("http://127.0.0.1:8000/dev/webpush/", None),
        ("http://127.0.0.1:8000/dev/webpush/a/b", None),
        ("http://127.0.0.1:8000/dev/webpush/abc?x=1", None),
        ("http://127.0.0.1:8000/push/abc", None),
        ("https://fcm.googleapis.com/fcm/send/abc", None),
        ("http://127.0.0.1:notaport/dev/webpush/abc", None),
    ],
)
def test_which_endpoints_the_service_serves(endpoint, subscription):
    service = LocalPushService("http://127.0.0.1:8000", KEYS.public_key)
    assert service.subscription_of(endpoint) == subscription
