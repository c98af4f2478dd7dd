"""A Web Push service on the local stack's port, for subscriptions whose endpoint is
``{base}/dev/webpush/{id}`` (any id of 1-128 URL-safe characters is a subscription).

It checks a push request as a browser vendor's push service does: ``TTL`` present (RFC 8030),
``Urgency`` and ``Topic`` well formed, an ``aes128gcm`` body of at most 4096 bytes (RFC 8291),
and a VAPID JWT (RFC 8292) that verifies against its ``k=`` key, names this origin as its
audience, expires within 24 hours, and whose key is the stack's (the subscription's
``applicationServerKey``: browsers subscribe with ``GET /dev/vapid``'s key). It answers 201, or
the status a push service answers, and records every request (``GET /dev/webpush/{id}``) with
its still encrypted body: only the subscriber holds the key to decrypt it.

``POST /dev/push/reject`` makes a subscription gone (``reject``): from then on it answers 410,
as a push service does once the browser unsubscribed.
"""

from __future__ import annotations

import base64
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.domain import ids

PATH_PREFIX = "/dev/webpush/"
SUBSCRIPTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
URGENCIES = ("very-low", "low", "normal", "high")
MAX_BODY_BYTES = 4096
MAX_JWT_LIFETIME_SECONDS = 24 * 3600
REQUESTS_PER_SUBSCRIPTION = 1000
LOCAL_HOSTS = ("127.0.0.1", "localhost")


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class PushRequest:
    """What a request to a subscription carried, as ``GET /dev/webpush/{id}`` shows it."""

    status: int
    received_at: str
    ttl: str | None
    urgency: str | None
    topic: str | None
    content_encoding: str | None
    body: bytes
    vapid: dict[str, Any] | None  # the verified JWT claims
    error: str | None

    def to_wire(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "received_at": self.received_at,
            "ttl": self.ttl,
            "urgency": self.urgency,
            "topic": self.topic,
            "content_encoding": self.content_encoding,
            "body": base64.urlsafe_b64encode(self.body).decode().rstrip("="),
            "vapid": self.vapid,
            "error": self.error,
        }


class LocalPushService:
    def __init__(self, base_url: str, vapid_public_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.vapid_public_key = vapid_public_key
        self._port = urlsplit(self.base_url).port
        self._hosts = {*LOCAL_HOSTS, urlsplit(self.base_url).hostname}
        self._gone: set[str] = set()
        self._requests: defaultdict[str, deque[PushRequest]] = defaultdict(
            lambda: deque(maxlen=REQUESTS_PER_SUBSCRIPTION)
        )

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(PATH_PREFIX + "{subscription}", self.push),
            web.get(PATH_PREFIX + "{subscription}", self.list_requests),
        ]

    def endpoint(self, subscription: str) -> str:
        return f"{self.base_url}{PATH_PREFIX}{subscription}"

    def subscription_of(self, endpoint: str) -> str | None:
        """The subscription id of an endpoint this service serves; None for any other URL."""
        try:
            parts = urlsplit(endpoint)
            port = parts.port
        except ValueError:
            return None
        if parts.scheme != "http" or parts.hostname not in self._hosts or port != self._port:
            return None
        if not parts.path.startswith(PATH_PREFIX) or parts.query or parts.fragment:
            return None
        subscription = parts.path[len(PATH_PREFIX) :]
        return subscription if SUBSCRIPTION_ID.match(subscription) else None

    def reject(self, subscription: str) -> None:
        """The subscription is gone: 410 from now on."""
        self._gone.add(subscription)

    # -- HTTP --------------------------------------------------------------------------------

    async def push(self, request: web.Request) -> web.Response:
        subscription = request.match_info["subscription"]
        if not SUBSCRIPTION_ID.match(subscription):
            return web.json_response({"error": "no such subscription"}, status=404)
        body = await request.read()
        claims: dict[str, Any] | None = None
        try:
            if subscription in self._gone:
                raise Refused(410, "the subscription is gone (rejected with /dev/push/reject)")
            _check_headers(request, body)
            claims = self._check_vapid(request)
            status, error = 201, None
        except Refused as refused:
            status, error = refused.status, refused.reason
        self._requests[subscription].append(_request_record(request, body, status, claims, error))
        if error is not None:
            return web.json_response({"error": error}, status=status)
        number = len(self._requests[subscription])
        return web.Response(
            status=201, headers={"Location": f"{PATH_PREFIX}{subscription}/messages/{number}"}
        )

    async def list_requests(self, request: web.Request) -> web.Response:
        subscription = request.match_info["subscription"]
        if not SUBSCRIPTION_ID.match(subscription):
            return web.json_response({"error": "no such subscription"}, status=404)
        found = self._requests.get(subscription, ())
        return web.json_response(
            {
                "endpoint": self.endpoint(subscription),
                "gone": subscription in self._gone,
                "requests": [r.to_wire() for r in found],
            }
        )

    def _check_vapid(self, request: web.Request) -> dict[str, Any]:
        """RFC 8292: 401 without VAPID, 403 when it does not hold."""
        scheme, _, params = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "vapid":
            raise Refused(401, "no VAPID authorization (Authorization: vapid t=..., k=...)")
        fields = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
        token, key = fields.get("t", ""), fields.get("k", "")
        if key != self.vapid_public_key:
            raise Refused(
                403, "the VAPID key is not the subscription's applicationServerKey (GET /dev/vapid)"
            )
        origin = f"{request.scheme}://{request.host}"
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=_public_key(key),
                algorithms=["ES256"],
                audience=origin,
                options={"require": ["aud", "exp", "sub"]},
            )
        except (jwt.PyJWTError, ValueError) as exc:
            raise Refused(403, f"the VAPID JWT does not hold: {exc}") from exc
        if int(claims["exp"]) > time.time() + MAX_JWT_LIFETIME_SECONDS:
            raise Refused(403, "the VAPID JWT expires more than 24 hours from now")
        return claims


def _check_headers(request: web.Request, body: bytes) -> None:
    ttl = request.headers.get("TTL")
    if ttl is None or not ttl.isdigit():
        raise Refused(400, "a push needs a TTL header: seconds, a non-negative integer (RFC 8030)")
    urgency = request.headers.get("Urgency")
    if urgency is not None and urgency not in URGENCIES:
        raise Refused(400, f"Urgency must be one of {', '.join(URGENCIES)}")
    topic = request.headers.get("Topic")
    if topic is not None and not TOPIC.match(topic):
        raise Refused(400, "Topic must be 1-32 characters of the URL-safe base64 alphabet")
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, f"the payload is over {MAX_BODY_BYTES} bytes")
    if body and request.headers.get("Content-Encoding") != "aes128gcm":
        raise Refused(415, "an encrypted payload is Content-Encoding: aes128gcm (RFC 8291)")


def _public_key(key: str) -> ec.EllipticCurvePublicKey:
    point = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


def _request_record(
    request: web.Request, body: bytes, status: int, claims: dict[str, Any] | None, error: str | None
) -> PushRequest:
    headers = request.headers
    return PushRequest(
        status=status,
        received_at=ids.iso_now(),
        ttl=headers.get("TTL"),
        urgency=headers.get("Urgency"),
        topic=headers.get("Topic"),
        content_encoding=headers.get("Content-Encoding"),
        body=body,
        vapid=claims,
        error=error,
    )
