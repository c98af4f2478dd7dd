"""The local stack's push routes (local only; the wire contract is PROTOCOL.md, "Devices and push
notifications"):

- ``GET /dev/vapid``: ``{"public_key": ...}``, the key browsers subscribe with;
- ``GET /dev/push?user={user_id}``: ``{"notifications": [...]}`` the emulated providers accepted
  for devices that user owned when they were sent, oldest first;
- ``POST /dev/push/reject?token={token}``: the provider treats the token as gone from now on
  (see ``chatlocal.push.reject``); 403 for a request the push sender made (a subscription
  endpoint pointing here is refused at registration too);
- ``POST|GET /dev/webpush/{id}``: the local push service (``chatlocal.push.webpush_service``).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from chalicelib.domain.ids import USER_ID_RE
from chatlocal.push.providers import PushRecorder
from chatlocal.push.reject import NothingToReject, NotRejectable, Rejecter, check_token
from chatlocal.push.webpush_service import LocalPushService


class DevPush:
    def __init__(
        self, vapid_public_key: str, recorder: PushRecorder, rejecter: Rejecter, local_push: LocalPushService
    ) -> None:
        self.vapid_public_key = vapid_public_key
        self.recorder = recorder
        self.rejecter = rejecter
        self.local_push = local_push

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/dev/vapid", self.vapid),
            web.get("/dev/push", self.notifications),
            web.post("/dev/push/reject", self.reject),
            *self.local_push.routes(),
        ]

    async def vapid(self, request: web.Request) -> web.Response:
        return web.json_response({"public_key": self.vapid_public_key})

    async def notifications(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        if not USER_ID_RE.match(user):
            return _error(400, "'user' must be 1-64 characters of letters, digits, '_', '.', '@' or '-'")
        return web.json_response({"notifications": self.recorder.of(user)})

    async def reject(self, request: web.Request) -> web.Response:
        if from_push_sender(request):
            return _error(403, "the /dev routes do not take requests from the push sender")
        try:
            token = check_token(request.query.get("token"))
        except ValueError as exc:
            return _error(400, str(exc))
        try:
            rejected = await asyncio.get_running_loop().run_in_executor(None, self.rejecter.reject, token)
        except NothingToReject as exc:
            return _error(404, str(exc))
        except NotRejectable as exc:
            return _error(409, str(exc))
        return web.json_response({"token": token, "rejected": [r.to_wire() for r in rejected]})


def from_push_sender(request: web.Request) -> bool:
    """A Web Push request (VAPID authorization, a TTL): the push worker POSTing to an endpoint
    a subscription named, never a developer or a test driving the stack."""
    scheme = request.headers.get("Authorization", "").partition(" ")[0].lower()
    return scheme in ("vapid", "webpush") or "TTL" in request.headers or "Crypto-Key" in request.headers


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
