"""The local stack's HTTP side: gateway routes, dev tokens, the web chat and any other local
routes (the push ones), on one aiohttp app.

Two guards stand in front of the local-only parts (``/dev/*``, the web page ``/`` and
``/static/*``):

- ``/dev/*`` exists only when the stack listens on a loopback address, unless it was started with
  ``--allow-remote-dev`` (``CHAT_ALLOW_REMOTE_DEV=1``): otherwise it answers 404, as a route that
  is not there;
- their ``Host`` header must name this stack (``localhost``, ``127.0.0.1``, ``[::1]`` or another
  loopback address, any port; the configured ``HOST:PORT``; any IP address when remote dev routes
  are allowed on a wildcard address): a page on another site whose name resolves to 127.0.0.1
  (DNS rebinding) gets 403 and cannot mint tokens or read the connections.

The WebSocket endpoint and the management API are not guarded here: the first needs a token,
the second a SigV4 signature (``chatlocal.gateway.websocket_api``).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from chalicelib.auth import issue_token
from chalicelib.domain.ids import USER_ID_RE
from chatlocal.config import is_loopback
from chatlocal.gateway.websocket_api import Gateway

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"
DEV_TOKEN_TTL_SECONDS = 24 * 3600
_WILDCARDS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class LocalAccess:
    """Who may use the local-only routes: where the stack listens, and the remote-dev flag."""

    host: str = "127.0.0.1"
    port: int = 0
    allow_remote_dev: bool = False

    @property
    def dev_routes(self) -> bool:
        return self.allow_remote_dev or is_loopback(self.host)

    def host_allowed(self, header: str | None) -> bool:
        """Whether a ``Host`` header names this stack (see the module docstring)."""
        if not header:
            return False
        parsed = _split_host(header.strip().lower())
        if parsed is None:
            return False
        name, port = parsed
        if name == "localhost" or _is_loopback_ip(name):
            return True
        if name == self.host.lower().strip("[]") and port in (None, self.port):
            return True
        return self.allow_remote_dev and self.host in _WILDCARDS and _is_ip(name)


_HOST = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[^:\[\]]+))(?::(?P<port>[0-9]{1,5}))?")


def _split_host(header: str) -> tuple[str, int | None] | None:
    """``name`` (an IPv6 address without its brackets) and port, or None if malformed."""
    match = _HOST.fullmatch(header)
    if match is None:
        return None
    port = match.group("port")
    return match.group("v6") or match.group("name"), int(port) if port else None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback_ip(name: str) -> bool:
    return _is_ip(name) and ipaddress.ip_address(name).is_loopback


def _is_dev(path: str) -> bool:
    return path == "/dev" or path.startswith("/dev/")


def _is_page(path: str) -> bool:
    return path == "/" or path.startswith("/static/")


def local_access_guard(access: LocalAccess) -> Any:
    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        path = request.path
        if _is_dev(path) and not access.dev_routes:
            return web.json_response({"message": "Not Found"}, status=404)
        if (_is_dev(path) or _is_page(path)) and not access.host_allowed(request.headers.get("Host")):
            return web.json_response(
                {"error": "this Host is not the local stack's: use http://127.0.0.1 or http://localhost"},
                status=403,
            )
        return await handler(request)

    return guard


class QuietClientErrors(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, but a request the client got wrong (a request line over 8 KiB,
    a bad header...) is one line, not a traceback: aiohttp answers it 400 by itself."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if isinstance(error, HttpProcessingError):
            self.logger.info("refused a malformed request (%d %s)", error.code, type(error).__name__)
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kwargs)


SERVER_LOG = QuietClientErrors(logging.getLogger("aiohttp.server"), {})


def build_application(
    gateway: Gateway,
    secret: str,
    web_root: Path = WEB_ROOT,
    extra_routes: Iterable[web.RouteDef] = (),
    access: LocalAccess | None = None,
    page_config: dict[str, Any] | None = None,
) -> web.Application:
    """The stack's HTTP side. ``page_config`` is ``GET /config.json`` (how the page signs in);
    one whose ``auth`` is not "dev" turns ``/dev/token`` off (404): tokens come from the issuer."""
    config = page_config or {"auth": "dev"}

    async def dev_token(request: web.Request) -> web.Response:
        if config.get("auth") != "dev":
            return web.json_response(
                {"message": "Not Found: this stack takes OpenID Connect tokens (see /config.json)"},
                status=404,
            )
        user = request.query.get("user", "")
        if not USER_ID_RE.fullmatch(user):
            return web.json_response(
                {"error": "'user' must be 1-64 characters of letters, digits, '_', '.', '@' or '-'"},
                status=400,
            )
        name = request.query.get("name") or None
        token = issue_token(user, secret, DEV_TOKEN_TTL_SECONDS, name=name)
        return web.json_response({"token": token, "user": user, "expires_in": DEV_TOKEN_TTL_SECONDS})

    async def page_settings(request: web.Request) -> web.Response:
        return web.json_response(config, headers={"Cache-Control": "no-cache"})

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(web_root / "index.html", headers={"Cache-Control": "no-cache"})

    application = web.Application(
        client_max_size=1024 * 1024, middlewares=[local_access_guard(access or LocalAccess())]
    )
    application.add_routes(gateway.routes())
    application.add_routes(
        [web.get("/dev/token", dev_token), web.get("/", index), web.get("/config.json", page_settings)]
    )
    application.add_routes(list(extra_routes))
    application.router.add_static("/static", web_root, append_version=False)
    return application
