"""A test-side WebSocket peer: requests correlated by ``req``, every other frame kept in order."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import websockets

_counter = itertools.count(1)


class Peer:
    def __init__(self, ws: websockets.ClientConnection, user: str) -> None:
        self.ws = ws
        self.user = user
        self.pushed: list[dict[str, Any]] = []  # frames that answer no request of ours
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._arrived = asyncio.Condition()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, url: str, user: str) -> Peer:
        return cls(await websockets.connect(url, max_size=None, compression=None), user)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                req = frame.get("req")
                if req in self._replies:
                    self._replies.pop(req).set_result(frame)
                    continue
                async with self._arrived:
                    self.pushed.append(frame)
                    self._arrived.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            for future in self._replies.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))

    async def request(self, action: str, timeout: float = 10, **fields: Any) -> dict[str, Any]:
        req = f"r{next(_counter)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[req] = future
        await self.ws.send(json.dumps({"action": action, "req": req, **fields}))
        return await asyncio.wait_for(future, timeout)

    async def send_text(self, chat_id: str, text: str, client_msg_id: str | None = None) -> dict[str, Any]:
        cmid = client_msg_id or f"k{next(_counter)}"
        return await self.request("message.send", chat_id=chat_id, client_msg_id=cmid, text=text)

    async def expect(self, event: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        """Wait for a pushed frame of that event (and matching fields) and take it off the list."""

        def find() -> dict[str, Any] | None:
            for frame in self.pushed:
                if frame.get("event") == event and all(frame.get(k) == v for k, v in match.items()):
                    self.pushed.remove(frame)
                    return frame
            return None

        async with self._arrived:
            frame: dict[str, Any] = await asyncio.wait_for(self._arrived.wait_for(find), timeout)
        return frame

    def events(self) -> list[str]:
        return [frame.get("event", "") for frame in self.pushed]

    async def settle(self, seconds: float = 0.5) -> None:
        """Give in-flight frames time to arrive (used before asserting that nothing came)."""
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        await self.ws.close()
        await self._reader

    def vanish(self) -> None:
        """Drop the TCP connection with no close frame, like a phone losing its network."""
        transport = self.ws.transport
        transport.abort()
