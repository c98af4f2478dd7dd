"""A test-run OpenID Connect issuer: signing keys made for the run (RSA and P-256), the tokens
they sign, and a JWKS server on 127.0.0.1 (a thread) whose answers a test can break: down
(503), reset (the connection closed unanswered), slow (over the verifier's 2 s), garbage (not
JSON) or an empty key set. It counts the requests it gets."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SLOW_SECONDS = 3.0  # longer than chalicelib.oidc.FETCH_TIMEOUT_SECONDS


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

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
