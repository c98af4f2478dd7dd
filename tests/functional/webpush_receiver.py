"""A Web Push endpoint on 127.0.0.1 (what a browser vendor's push service is to a real
deployment), and a subscription whose private key the test holds, so it can decrypt what
arrives and check the VAPID signature."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscription:
    """A browser's side of a push subscription: the key pair and auth secret it generated."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def to_wire(self) -> dict[str, Any]:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


@dataclass
class Received:
    path: str
    headers: Any  # the request's headers (case-insensitive, as HTTP's)
    body: bytes

    def vapid_claims(self) -> dict[str, Any]:
        """Verify the VAPID JWT against the key it names (``k=``) and return its claims."""
        scheme, _, params = self.headers["Authorization"].partition(" ")
        assert scheme == "vapid", self.headers["Authorization"]
        parts = dict(p.strip().split("=", 1) for p in params.split(","))
        point = unb64url(parts["k"])
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        return jwt.decode(parts["t"], key=key, algorithms=["ES256"], options={"verify_aud": False})


class Receiver:
    """Accepts pushes (201) on /push/{id}; answers ``gone_status`` for ids in ``gone``."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.gone: set[str] = set()
        self.gone_status = 410
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                name = self.path.rsplit("/", 1)[-1]
                if name in receiver.gone:
                    self.send_response(receiver.gone_status)
                    self.end_headers()
                    return
                receiver.received.append(Received(self.path, self.headers, body))
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def subscription(self, name: str) -> Subscription:
        host, port = self.server.server_address[:2]
        return Subscription(endpoint=f"http://{host}:{port}/push/{name}")


class Tarpit:
    """A server on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.held: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.held.append(conn)

    def __enter__(self) -> Tarpit:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join()
        for conn in self.held:
            conn.close()
        self.sock.close()

    def endpoint(self, name: str) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/push/{name}"
