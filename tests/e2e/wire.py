"""A user's own WebSocket to the local stack, to set up quickly what a browser test needs
(a hundred chats, a long history) without clicking through it."""

from __future__ import annotations

import contextlib
import itertools
import json
import urllib.parse
import urllib.request
from types import TracebackType
from typing import Any

from websockets.sync.client import ClientConnection, connect


class WireUser:
    def __init__(self, stack_url: str, user: str) -> None:
        query = urllib.parse.urlencode({"user": user})
        with urllib.request.urlopen(f"{stack_url}/dev/token?{query}") as response:
            token = json.load(response)["token"]
        self.url = f"{stack_url.replace('http', 'ws', 1)}/ws?token={token}"
        self.ws: ClientConnection | None = None
        self._req = itertools.count(1)
        self._open = contextlib.ExitStack()

    def __enter__(self) -> WireUser:
        self.ws = self._open.enter_context(connect(self.url, max_size=None))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._open.close()

    def request(self, action: str, **fields: Any) -> dict[str, Any]:
        """Send one action and return its reply, passing over frames about other things."""
        assert self.ws is not None, "use WireUser as a context manager"
        req = f"t{next(self._req)}"
        self.ws.send(json.dumps({"action": action, "req": req, **fields}))
        while True:
            frame: dict[str, Any] = json.loads(self.ws.recv(timeout=10))
            if frame.get("req") != req:
                continue
            if frame["event"] == "error":
                raise AssertionError(f"{action} refused: {frame}")
            return frame
