"""Helpers for push over the local stack: devices registered over a real socket, members taken
offline (their ``$disconnect`` done), and the stack's ``/dev/push`` record read as it fills."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from typing import Any

from tests.integration.peer import Peer
from tests.stack import LocalStack


async def connect(stack: LocalStack, user: str, name: str | None = None) -> Peer:
    query = urllib.parse.urlencode({"user": user, **({"name": name} if name else {})})
    token = (await asyncio.to_thread(stack.get_json, f"/dev/token?{query}"))["token"]
    return await Peer.connect(f"{stack.ws_base}?token={token}", user)


async def register(peer: Peer, platform: str, token: str | None = None, **fields: Any) -> dict[str, Any]:
    body = dict(fields)
    if token is not None:
        body["token"] = token
    reply = await peer.request("device.register", platform=platform, **body)
    assert reply["event"] == "device:registered", reply
    return dict(reply["device"])


async def device_platforms(peer: Peer) -> list[str]:
    return [d["platform"] for d in (await peer.request("device.list"))["devices"]]


async def offline(stack: LocalStack, *peers: Peer, timeout: float = 10) -> None:
    """Close the peers and wait until their ``$disconnect`` ran (until then the backend still
    counts them connected): no connection of theirs is open and none is still disconnecting."""
    users = {peer.user for peer in peers}
    for peer in peers:
        await peer.close()
    deadline = time.monotonic() + timeout
    while True:
        stats = await asyncio.to_thread(stack.get_json, "/dev/stats")
        disconnecting = stats["connected"] - stats["open"] - stats["disconnected"]
        still_open = [c for c in await asyncio.to_thread(stack.connections) if c["user"] in users]
        if disconnecting == 0 and not still_open:
            return
        assert time.monotonic() < deadline, f"{sorted(users)} still connected: {stats}"
        await asyncio.sleep(0.02)


async def pushes(stack: LocalStack, user: str) -> list[dict[str, Any]]:
    path = "/dev/push?" + urllib.parse.urlencode({"user": user})
    return list((await asyncio.to_thread(stack.get_json, path))["notifications"])


async def wait_for_pushes(
    stack: LocalStack, user: str, count: int, timeout: float = 10
) -> list[dict[str, Any]]:
    """The user's first ``count`` records, once there are that many (the contract gives a push
    5 seconds after the ack; more here for a busy machine)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await pushes(stack, user)
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{user}: {len(found)} of {count} pushes: {found}"
        await asyncio.sleep(0.02)


async def until(check: Any, timeout: float = 10, what: str = "condition") -> None:
    """Await ``check()`` until it is true."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def reject(stack: LocalStack, token: str) -> tuple[int, dict[str, Any]]:
    path = "/dev/push/reject?" + urllib.parse.urlencode({"token": token})
    status, body = await asyncio.to_thread(stack.request, "POST", path)
    return status, json.loads(body)
