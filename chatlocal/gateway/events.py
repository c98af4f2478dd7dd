"""The events API Gateway hands to the WebSocket Lambdas, built from what a socket did.

Shapes follow what API Gateway sends for ``$connect``, ``$default`` and ``$disconnect``
integrations (Lambda proxy): a ``requestContext`` with the route, the connection and the API,
plus headers and query string on connect and the body on messages.
"""

from __future__ import annotations

import base64
import secrets
import string
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_ID_ALPHABET = string.ascii_letters + string.digits


def new_connection_id() -> str:
    """An id shaped like API Gateway's (15 characters and a trailing '='), URL-safe."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(15)) + "="


def _request_time(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _request_id() -> str:
    return base64.b64encode(secrets.token_bytes(6)).decode().rstrip("=") + "="


@dataclass(frozen=True)
class Api:
    """Where the emulated API lives: what ``requestContext`` names as API, stage and domain."""

    api_id: str = "local"
    stage: str = "local"
    domain_name: str = "127.0.0.1:8000"


@dataclass
class Socket:
    """One open WebSocket connection, as API Gateway knows it."""

    connection_id: str
    source_ip: str
    user_agent: str
    headers: Mapping[str, str]
    multi_headers: Mapping[str, Sequence[str]]
    query: Mapping[str, str]
    multi_query: Mapping[str, Sequence[str]]
    connected_at_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    last_active_ms: int = field(default_factory=lambda: int(time.time() * 1000))


def _context(api: Api, socket: Socket, route: str, event_type: str) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {
        "routeKey": route,
        "eventType": event_type,
        "extendedRequestId": _request_id(),
        "requestTime": _request_time(now),
        "messageDirection": "IN",
        "stage": api.stage,
        "connectedAt": socket.connected_at_ms,
        "requestTimeEpoch": now,
        "identity": {"sourceIp": socket.source_ip, "userAgent": socket.user_agent},
        "requestId": _request_id(),
        "domainName": api.domain_name,
        "connectionId": socket.connection_id,
        "apiId": api.api_id,
    }


def connect_event(api: Api, socket: Socket) -> dict[str, Any]:
    event: dict[str, Any] = {
        "headers": dict(socket.headers),
        "multiValueHeaders": {k: list(v) for k, v in socket.multi_headers.items()},
        "requestContext": _context(api, socket, "$connect", "CONNECT"),
        "isBase64Encoded": False,
    }
    if socket.query:
        event["queryStringParameters"] = dict(socket.query)
        event["multiValueQueryStringParameters"] = {k: list(v) for k, v in socket.multi_query.items()}
    return event


def message_event(api: Api, socket: Socket, data: str | bytes) -> dict[str, Any]:
    context = _context(api, socket, "$default", "MESSAGE")
    context["messageId"] = uuid.uuid4().hex[:16]
    if isinstance(data, bytes):
        return {
            "requestContext": context,
            "body": base64.b64encode(data).decode("ascii"),
            "isBase64Encoded": True,
        }
    return {"requestContext": context, "body": data, "isBase64Encoded": False}


def disconnect_event(api: Api, socket: Socket, status: int, reason: str) -> dict[str, Any]:
    context = _context(api, socket, "$disconnect", "DISCONNECT")
    context["disconnectStatusCode"] = status
    context["disconnectReason"] = reason
    return {
        "headers": dict(socket.headers),
        "multiValueHeaders": {k: list(v) for k, v in socket.multi_headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }
