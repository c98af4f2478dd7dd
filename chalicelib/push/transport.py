"""The HTTP session Web Push is sent over: it follows no redirect, reads no proxy setting from
the environment, retries nothing on its own, and connects only to addresses ``EndpointGuard``
checked, resolving each host once per connection and connecting to exactly the addresses it
checked (no second lookup a DNS answer could change in between). TLS still verifies the
certificate against the URL's host name."""

from __future__ import annotations

import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection

from chalicelib.push.devices import EndpointGuard

CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 3.0
TIMEOUT = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)


class _Guarded:
    """Mixed into urllib3's connections: the socket goes to checked addresses only."""

    guard: EndpointGuard
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        try:
            addresses = self.guard.addresses(self.host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        last: OSError | None = None
        for address in addresses:
            try:
                return connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                ) from exc
            except OSError as exc:
                last = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}")  # type: ignore[arg-type]


class _Adapter(HTTPAdapter):
    def __init__(self, guard: EndpointGuard, pool_size: int) -> None:
        http = type("GuardedHTTPConnection", (_Guarded, HTTPConnection), {"guard": guard})
        https = type("GuardedHTTPSConnection", (_Guarded, HTTPSConnection), {"guard": guard})
        self._pools = {
            "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }
        super().__init__(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._pools)


class GuardedSession(requests.Session):
    """``requests.Session`` that never follows a redirect (a 3xx is the answer) and reaches
    only what ``guard`` allows."""

    def __init__(self, guard: EndpointGuard, pool_size: int = 10) -> None:
        super().__init__()
        self.trust_env = False  # no HTTP(S)_PROXY, no .netrc credentials
        adapter = _Adapter(guard, pool_size)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["allow_redirects"] = False
        return super().request(*args, **kwargs)
