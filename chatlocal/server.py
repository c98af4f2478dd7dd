"""The local stack's HTTP side: gateway routes, dev tokens, the web chat and any other local
routes (the push ones), on one aiohttp app."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from aiohttp import web

from chalicelib.auth import USER_ID_RE, issue_token
from chatlocal.gateway import Gateway

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
DEV_TOKEN_TTL_SECONDS = 24 * 3600


def build_application(
    gateway: Gateway,
    secret: str,
    web_root: Path = WEB_ROOT,
    extra_routes: Iterable[web.RouteDef] = (),
) -> web.Application:
    async def dev_token(request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        if not USER_ID_RE.match(user):
            return web.json_response(
                {"error": "'user' must be 1-64 characters of letters, digits, '_', '.', '@' or '-'"},
                status=400,
            )
        name = request.query.get("name") or None
        token = issue_token(user, secret, DEV_TOKEN_TTL_SECONDS, name=name)
        return web.json_response({"token": token, "user": user, "expires_in": DEV_TOKEN_TTL_SECONDS})

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(web_root / "index.html", headers={"Cache-Control": "no-cache"})

    application = web.Application(client_max_size=1024 * 1024)
    application.add_routes(gateway.routes())
    application.add_routes([web.get("/dev/token", dev_token), web.get("/", index)])
    application.add_routes(list(extra_routes))
    application.router.add_static("/static", web_root, append_version=False)
    return application
