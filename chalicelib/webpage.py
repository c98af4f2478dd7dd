"""The web page as a deployed stage serves it: its files, and ``config.json``, what the page needs
to know about the stage (how people sign in, where the WebSocket is), from the environment.

The files are web/ itself: ``vendor/chat_web`` is a link to it, and Chalice puts what vendor/
holds at the top of the deployment package, so the Lambda finds them in ``chat_web/`` beside
``chalicelib/``; a checkout (tests, the local stack) reads ``web/``. No copy is ever made.

| variable               | meaning (config.json field)                                         |
| ---------------------- | ------------------------------------------------------------------- |
| CHAT_OIDC_ISSUER       | the identity provider (``issuer``); unset: dev tokens (``"dev"``)   |
| CHAT_WEB_CLIENT_ID     | the page's OAuth client (``client_id``); unset: CHAT_OIDC_AUDIENCE |
| CHAT_WEB_CLIENT_ID_PARAM | SSM parameter holding it instead (a stack-made Cognito client)    |
| CHAT_WEB_AUTHORIZE_URL | the provider's authorization endpoint (``authorize_url``)           |
| CHAT_WEB_TOKEN_URL     | the provider's token endpoint (``token_url``)                       |
| CHAT_WS_URL            | the stage's WebSocket URL, wss://... (``ws_url``)                   |
| CHAT_VAPID_PUBLIC_KEY  | Web Push's VAPID public key (``vapid_public_key``); unset: no push  |

Unset values are ``null`` in config.json. The one AWS call is the SSM read of the client id,
once per container (infra/signin.py says why the stack cannot put it in the environment).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.config import region
from chalicelib.secret import SecretUnavailable, SsmSecret

log = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parent.parent
# The deployment package's copy of web/ (vendor/chat_web), then the repository's web/.
FOLDERS = (_ROOT / "chat_web", _ROOT / "web")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
# Every answer: no guessing of types; the page is never framed by another site.
COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}
JSON_HEADERS = {**COMMON_HEADERS, "Content-Type": "application/json", "Cache-Control": "no-store"}


@dataclass(frozen=True)
class Reply:
    """What a route answers: Chalice's Response made of it in app.py."""

    status: int
    body: str
    headers: dict[str, str]


def folder() -> Path | None:
    return next((f for f in FOLDERS if (f / "index.html").is_file()), None)


def page_config(environ: Mapping[str, str], client_id: str | None = None) -> dict[str, Any]:
    """config.json: {"auth": "dev"|"oidc", "issuer", "client_id", "authorize_url", "token_url",
    "ws_url", "vapid_public_key"}, each unset value null. ``client_id``: the one read from SSM, if any."""

    def setting(name: str) -> str | None:
        return environ.get(name) or None

    issuer = setting("CHAT_OIDC_ISSUER")
    return {
        "auth": "oidc" if issuer else "dev",
        "issuer": issuer,
        "client_id": client_id or setting("CHAT_WEB_CLIENT_ID") or setting("CHAT_OIDC_AUDIENCE"),
        "authorize_url": setting("CHAT_WEB_AUTHORIZE_URL"),
        "token_url": setting("CHAT_WEB_TOKEN_URL"),
        "ws_url": setting("CHAT_WS_URL"),
        "vapid_public_key": setting("CHAT_VAPID_PUBLIC_KEY"),
    }


@functools.cache
def _client_id() -> SsmSecret:
    param = os.environ.get("CHAT_WEB_CLIENT_ID_PARAM") or None
    return SsmSecret(None, param, region(), "web page's client id")


def stage_config() -> Reply:
    """GET config.json, from this container's environment (503 while the client id cannot be read:
    the page tries again)."""
    secret = _client_id()
    try:
        client_id = secret.get() if secret.configured else None
    except SecretUnavailable as exc:
        log.error("config.json: %s (%s)", exc, exc.__cause__)
        return Reply(503, json.dumps({"error": "sign-in settings unavailable"}), JSON_HEADERS)
    return Reply(200, json.dumps(page_config(os.environ, client_id)), JSON_HEADERS)


def page(request_path: str) -> Reply:
    """The page itself. ``request_path`` is the path the browser asked for, stage included
    (``/dev/``): without its final slash the page's relative links would miss the stage, so it
    is sent there first."""
    if not request_path.endswith("/"):
        return Reply(301, "", {**COMMON_HEADERS, "Location": request_path + "/"})
    return static_file("index.html")


def static_file(name: str) -> Reply:
    """A file of web/ by its path there ("style.css", "js/app.js"); 404 for anything else."""
    root = folder()
    suffix = Path(name).suffix
    parts = name.split("/")
    if root is None or suffix not in CONTENT_TYPES or any(p in ("", ".", "..") for p in parts):
        return not_found()
    path = root.joinpath(*parts)
    if not path.is_file():
        return not_found()
    headers = {**COMMON_HEADERS, "Content-Type": CONTENT_TYPES[suffix], "Cache-Control": "no-cache"}
    return Reply(200, path.read_text(encoding="utf-8"), headers)


def not_found() -> Reply:
    return Reply(404, "not found\n", {**COMMON_HEADERS, "Content-Type": "text/plain; charset=utf-8"})
