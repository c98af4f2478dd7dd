"""A test-run OpenID Connect issuer: signing keys made for the run (RSA and P-256), the tokens
they sign, and a JWKS server on 127.0.0.1 (a thread) whose answers a test can break: down
(503), reset (the connection closed unanswered), slow (over the verifier's 2 s), garbage (not
JSON) or an empty key set. It counts the requests it gets. ``OidcProvider`` adds what a web page
signs in with: discovery, an authorize endpoint that signs ``next_user`` in at once, and a token
endpoint (authorization_code with PKCE S256, refresh_token)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SLOW_SECONDS = 3.0  # longer than chalicelib.identity.oidc.FETCH_TIMEOUT_SECONDS


@dataclass
class SigningKey:
    kid: str
    algorithm: str  # RS256 or ES256
    private: Any

    @classmethod
    def make(cls, algorithm: str = "RS256", kid: str | None = None) -> SigningKey:
        if algorithm == "RS256":
            private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif algorithm == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError(algorithm)
        return cls(kid or f"{algorithm.lower()}-{uuid.uuid4().hex[:8]}", algorithm, private)

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        data: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        data.update(kid=self.kid, alg=self.algorithm, use="sig")
        return data


@dataclass
class Issuer:
    """An issuer URL and its keys; ``token`` signs claims with one of them (the first by
    default), filling in ``iss``, ``iat`` and ``exp`` unless given (None: left out)."""

    url: str = "https://issuer.test"
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.make("RS256")])

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk() for key in self.keys]}

    def token(self, sub: str = "alice", key: SigningKey | None = None, **claims: Any) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        payload: dict[str, Any] = {"iss": self.url, "sub": sub, "iat": now, "exp": now + 3600}
        payload.update(claims)
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, key.private, algorithm=key.algorithm, headers={"kid": key.kid})


class JwksServer:
    """Serves ``issuer.jwks()`` at any path, or fails as ``mode`` says: "ok", "down", "reset",
    "slow", "garbage", "empty". ``requests`` counts what it got."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self.mode = "ok"
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                server.answer(self)

            def do_POST(self) -> None:
                server.post(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        mode = self.mode
        if mode == "reset":
            handler.close_connection = True
            handler.connection.close()
            return
        if mode == "slow":
            time.sleep(SLOW_SECONDS)
        body = {
            "down": b"service unavailable",
            "garbage": b"<html>this is not a key set</html>",
            "empty": b'{"keys": []}',
        }.get(mode) or json.dumps(self.issuer.jwks()).encode()
        handler.send_response(503 if mode == "down" else 200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def post(self, handler: BaseHTTPRequestHandler) -> None:
        reply(handler, 405, {"error": "method not allowed"})

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def reply(
    handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Access-Control-Allow-Origin", "*")
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class OidcProvider(JwksServer):
    """An issuer at its own URL (``http://127.0.0.1:{port}``) with a client ``client_id`` (public:
    PKCE, no secret). ``/authorize`` signs ``next_user`` in without a form and sends the browser
    back with a code; ``/token`` checks the code's verifier and redirect URI. Tokens live
    ``lifetime`` seconds; ``refreshes`` counts refresh_token grants."""

    def __init__(self, client_id: str = "web", lifetime: int = 3600) -> None:
        super().__init__(Issuer())
        self.issuer.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.client_id = client_id
        self.lifetime = lifetime
        self.next_user = "pat"
        self.codes: dict[str, dict[str, str]] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.refreshes = 0

    @property
    def url(self) -> str:
        return self.issuer.url

    @property
    def jwks_url(self) -> str:
        return self.url + "/.well-known/jwks.json"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        if parts.path == "/.well-known/openid-configuration":
            reply(handler, 200, {
                "issuer": self.url,
                "authorization_endpoint": self.url + "/authorize",
                "token_endpoint": self.url + "/token",
                "jwks_uri": self.jwks_url,
                "code_challenge_methods_supported": ["S256"],
            })  # fmt: skip
        elif parts.path == "/authorize":
            self.authorize(handler, {k: v[0] for k, v in parse_qs(parts.query).items()})
        else:
            super().answer(handler)

    def authorize(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        if query.get("client_id") != self.client_id or query.get("code_challenge_method") != "S256":
            return reply(handler, 400, {"error": "invalid_request"})
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "user": self.next_user,
            "challenge": query.get("code_challenge", ""),
            "redirect_uri": query.get("redirect_uri", ""),
        }
        back = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
        handler.send_response(302)
        handler.send_header("Location", back)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return None

    def post(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        if urlsplit(handler.path).path != "/token" or form.get("client_id") != self.client_id:
            return reply(handler, 400, {"error": "invalid_client"})
        if form.get("grant_type") == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
            if (
                grant is None
                or grant["challenge"] != challenge
                or grant["redirect_uri"] != form.get("redirect_uri")
            ):
                return reply(handler, 400, {"error": "invalid_grant"})
            return reply(handler, 200, self.tokens(grant["user"]))
        if form.get("grant_type") == "refresh_token":
            user = self.refresh_tokens.get(form.get("refresh_token", ""))
            if user is None:
                return reply(handler, 400, {"error": "invalid_grant"})
            self.refreshes += 1
            answer = self.tokens(user)
            del answer["refresh_token"]  # the old one stays good, as Cognito's does
            return reply(handler, 200, answer)
        return reply(handler, 400, {"error": "unsupported_grant_type"})

    def tokens(self, user: str) -> dict[str, Any]:
        now = int(time.time())
        refresh = secrets.token_urlsafe(16)
        self.refresh_tokens[refresh] = user
        claims = {"aud": self.client_id, "iat": now, "exp": now + self.lifetime, "name": user.title()}
        return {
            "id_token": self.issuer.token(user, **claims),
            "access_token": secrets.token_urlsafe(16),
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.lifetime,
        }
