"""The session Web Push goes over: no redirect followed, the connection made to the addresses
the guard checked (never a second lookup), nothing sent where the guard refuses. Servers on
127.0.0.1 only."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.domain.errors import BadRequest
from chalicelib.push.devices import EndpointGuard, EndpointPolicy
from chalicelib.push.transport import TIMEOUT, GuardedSession


class AnyAddress(EndpointPolicy):
    """A policy that takes every address: to see where the session connects."""

    def check_address(self, host, address):
        return None


@pytest.fixture
def server():
    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append((self.path, self.headers["Host"]))
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/redirect":
                self.send_response(307)
                self.send_header("Location", "/target")
            else:
                self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], seen
    httpd.shutdown()
    httpd.server_close()


def test_the_connection_goes_to_the_checked_address_without_a_second_lookup(server, monkeypatch):
    port, seen = server
    asked = []

    def resolve(host, p):
        asked.append(host)
        return ["127.0.0.1"]

    def no_lookup(host, *args, **kwargs):
        if host != "127.0.0.1":
            raise AssertionError(f"a second lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    session = GuardedSession(EndpointGuard(AnyAddress(), resolve))
    reply = session.post(f"http://push.test.example:{port}/push/x", data=b"x", timeout=TIMEOUT)
    assert reply.status_code == 201
    assert asked == ["push.test.example"]
    assert seen == [("/push/x", f"push.test.example:{port}")]


def test_a_redirect_is_the_answer(server):
    port, seen = server
    session = GuardedSession(EndpointGuard(EndpointPolicy(allow_local_http=True)))
    reply = session.post(f"http://127.0.0.1:{port}/redirect", data=b"x", timeout=TIMEOUT)
    assert reply.status_code == 307
    assert seen == [("/redirect", f"127.0.0.1:{port}")]  # /target never asked


def test_a_refused_address_is_never_connected(server, monkeypatch):
    port, seen = server
    connected = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: connected.append(address))
    session = GuardedSession(EndpointGuard(EndpointPolicy(), lambda host, p: ["127.0.0.1"]))
    with pytest.raises(BadRequest, match="loopback"):
        session.post(f"http://push.test.example:{port}/push/x", data=b"x", timeout=TIMEOUT)
    assert connected == [] and seen == []


def test_the_environment_proxy_is_ignored(server, monkeypatch):
    port, _ = server
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    session = GuardedSession(EndpointGuard(EndpointPolicy(allow_local_http=True)))
    assert session.post(f"http://127.0.0.1:{port}/push/x", data=b"x", timeout=TIMEOUT).status_code == 201


def test_timeouts_are_short():
    connect, read = TIMEOUT
    assert connect <= 3 and read <= 5


def test_sns_calls_are_short_and_retried_once():
    from chalicelib import runtime

    config = runtime._sns_client("us-east-1").meta.config
    assert (config.connect_timeout, config.read_timeout) == (2, 3)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
