"""A typed view of the API Gateway WebSocket event a Lambda receives.

Domain code never reads ``event["requestContext"]``; it gets a ``WsEvent``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WsEvent:
    connection_id: str
    route_key: str
    api_id: str
    stage: str
    domain_name: str
    body: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    source_ip: str | None = None
    binary: bool = False
    request_time_ms: int | None = None  # when API Gateway received the frame (requestTimeEpoch)

    @classmethod
    def from_lambda(cls, event: Mapping[str, Any]) -> WsEvent:
        ctx = event.get("requestContext") or {}
        body = event.get("body")
        if body is not None and not isinstance(body, str):
            body = str(body)
        return cls(
            connection_id=ctx.get("connectionId", ""),
            route_key=ctx.get("routeKey", ""),
            api_id=ctx.get("apiId", ""),
            stage=ctx.get("stage", ""),
            domain_name=ctx.get("domainName", ""),
            body=body,
            query=dict(event.get("queryStringParameters") or {}),
            source_ip=(ctx.get("identity") or {}).get("sourceIp"),
            binary=bool(event.get("isBase64Encoded")),
            request_time_ms=_epoch_ms(ctx.get("requestTimeEpoch")),
        )


def _epoch_ms(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
