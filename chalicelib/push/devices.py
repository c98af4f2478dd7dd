"""Where a device's pushes may go: the Web Push endpoint check, at registration and again at
every send. (The ``Device`` record itself is in ``chalicelib.domain.records``: push and storage
both use it.)

A subscription endpoint is a URL a client chose: without these rules the push sender would POST
wherever it says (the instance metadata service, a database port, the local stack's own
``/dev`` routes). The rules, each refusal a ``BadRequest`` saying which one:

- at most 2,048 characters of printable ASCII (no control character, no space);
- ``https``; the local stack (``allow_local_http``) also takes ``http`` to a loopback address
  (``127.0.0.1``, ``localhost``, ``[::1]``);
- no user info (``user@``); a host that is a DNS name of at least two labels (letters, digits,
  ``-``; the last label not numeric) or an IP literal; a port of 1-65535, digits only;
- the address, literal or (at send time, ``EndpointGuard``) every address the host resolves
  to: never private, loopback, link-local, multicast, unspecified, reserved or otherwise not
  globally reachable (IPv4 inside IPv6 checked as IPv4); the local stack takes loopback, from a
  loopback literal or ``localhost`` only;
- the local stack's own port (``local_service``: its push service's URL) only for the push
  service's own subscription URLs (``{local_service}{id}``), never its other routes.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.domain.errors import BadRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

MAX_ENDPOINT_CHARS = 2048
LOCAL_NAMES = frozenset({"localhost"})
LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
PRINTABLE = re.compile(r"^[\x21-\x7e]*$")
SUBSCRIPTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
DEFAULT_PORTS = {"https": 443, "http": 80}
# IPv4 carried inside IPv6 that a gateway may turn back into IPv4: NAT64, 6to4.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")

WHAT = "'subscription.endpoint'"


class EndpointRefused(BadRequest):
    """An endpoint (or the address its host resolves to) the push sender must not reach."""


@dataclass(frozen=True)
class Endpoint:
    """A checked endpoint: where a push goes."""

    url: str
    scheme: str
    host: str  # lower case, without brackets or a trailing dot
    port: int  # the default of the scheme when the URL names none
    literal: IPAddress | None  # the host, when it is an IP address


def default_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (``socket.gaierror`` when it resolves to none)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class EndpointPolicy:
    """The rules above. ``allow_local_http``: the local stack; ``local_service``: the URL prefix
    of its own push service (``http://127.0.0.1:PORT/dev/webpush/``), whose port is the stack's."""

    allow_local_http: bool = False
    local_service: str | None = None

    def check(self, endpoint: object) -> Endpoint:
        """The endpoint, parsed, or ``EndpointRefused`` saying what is wrong with it."""
        if not isinstance(endpoint, str) or not endpoint:
            raise EndpointRefused(f"{WHAT} must be an https URL")
        if len(endpoint) > MAX_ENDPOINT_CHARS:
            raise EndpointRefused(f"{WHAT} is at most {MAX_ENDPOINT_CHARS} characters")
        if not PRINTABLE.match(endpoint):
            raise EndpointRefused(f"{WHAT} must be printable ASCII: no spaces or control characters")
        try:
            parts = urlsplit(endpoint)
        except ValueError:
            raise EndpointRefused(f"{WHAT} must be an https URL with a valid host") from None
        scheme = parts.scheme.lower()
        if scheme not in ("https", "http") or not endpoint[len(scheme) :].startswith("://"):
            raise EndpointRefused(f"{WHAT} must be an https URL")
        netloc = parts.netloc
        if "@" in netloc:
            raise EndpointRefused(f"{WHAT} must not carry user info ('user@')")
        host, port = _host_and_port(netloc, scheme)
        literal = _literal(host)
        if literal is None:
            _check_name(host)
        local = self.allow_local_http and (
            host in LOCAL_NAMES or (literal is not None and _loopback(literal))
        )
        if scheme == "http" and not local:
            raise EndpointRefused(
                f"{WHAT} must be an https URL"
                + (" (http only to 127.0.0.1, localhost or [::1] here)" if self.allow_local_http else "")
            )
        if literal is not None:
            self.check_address(host, literal)
        elif not self.allow_local_http and (host in LOCAL_NAMES or host.endswith(".localhost")):
            raise EndpointRefused(f"{WHAT} must not point at this machine (localhost)")
        checked = Endpoint(endpoint, scheme, host, port, literal)
        if local:
            self._check_own_port(checked, parts.path, parts.query, parts.fragment)
        return checked

    def check_address(self, host: str, address: IPAddress) -> None:
        """Refuse an address the push sender must not reach (``host``: the URL's host, literal
        or name: the local stack takes loopback only when the URL names it so)."""
        if (
            self.allow_local_http
            and _loopback(address)
            and (host in LOCAL_NAMES or _literal(host) == address)
        ):
            return
        reason = _not_public(address)
        if reason is not None:
            raise EndpointRefused(f"{WHAT} must not point at a {reason} address ({address})")

    def _check_own_port(self, endpoint: Endpoint, path: str, query: str, fragment: str) -> None:
        """On the local stack's own port only its push service's subscription URLs."""
        if not self.local_service:
            return
        service = urlsplit(self.local_service)
        if endpoint.port != (service.port or DEFAULT_PORTS.get(service.scheme, 0)):
            return
        prefix = service.path
        if (
            path.startswith(prefix)
            and SUBSCRIPTION_ID.match(path[len(prefix) :])
            and not query
            and not fragment
        ):
            return
        raise EndpointRefused(
            f"{WHAT} must not point at the local stack's own routes (only {self.local_service}{{id}})"
        )


class EndpointGuard:
    """At send time: the addresses the endpoint's host resolves to, every one checked; the
    connection is then made to those addresses only (no second lookup in between)."""

    def __init__(self, policy: EndpointPolicy, resolve: Resolver | None = None) -> None:
        self.policy = policy
        self._resolve = resolve  # None: default_resolver, looked up at each call

    def addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses of ``host``; ``EndpointRefused`` if any is one the sender must
        not reach; ``OSError`` (``socket.gaierror``) if the name does not resolve."""
        literal = _literal(host)
        resolve = self._resolve or default_resolver
        found = [str(literal)] if literal is not None else list(resolve(host, port))
        if not found:
            raise socket.gaierror(f"{host} resolves to no address")
        for raw in found:
            try:
                address = ipaddress.ip_address(raw.split("%", 1)[0])
            except ValueError:
                raise EndpointRefused(f"{WHAT} resolves to something that is not an address") from None
            self.policy.check_address(host, address)
        return found


def check_endpoint(endpoint: str, allow_local_http: bool, local_service: str | None = None) -> Endpoint:
    """``EndpointPolicy(allow_local_http, local_service).check(endpoint)``."""
    return EndpointPolicy(allow_local_http, local_service).check(endpoint)


def _host_and_port(netloc: str, scheme: str) -> tuple[str, int]:
    if netloc.startswith("["):
        close = netloc.find("]")
        if close < 0:
            raise EndpointRefused(f"{WHAT} has an unclosed '[' in its host")
        host, rest = netloc[1:close], netloc[close + 1 :]
        if not host or _literal(host) is None or ":" not in host:
            raise EndpointRefused(f"{WHAT} has an invalid IPv6 address")
    else:
        host, colon, port_text = netloc.partition(":")
        rest = colon + port_text
    if rest and not rest.startswith(":"):
        raise EndpointRefused(f"{WHAT} has an invalid host")
    port_text = rest[1:]
    if not port_text:
        port = DEFAULT_PORTS[scheme]
    elif not port_text.isdigit() or not port_text.isascii() or len(port_text) > 5:
        raise EndpointRefused(f"{WHAT} has an invalid port: a number from 1 to 65535")
    else:
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise EndpointRefused(f"{WHAT} has an invalid port: a number from 1 to 65535")
    host = host.lower()
    if host.endswith(".") and not host.endswith(".."):
        host = host[:-1]
    if not host:
        raise EndpointRefused(f"{WHAT} has no host")
    return host, port


def _literal(host: str) -> IPAddress | None:
    """The host as an IP address, when it is one written in the standard form."""
    if "%" in host:  # an IPv6 zone: never a push service
        raise EndpointRefused(f"{WHAT} has an invalid host")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _check_name(host: str) -> None:
    labels = host.split(".")
    if host in LOCAL_NAMES:
        return
    if len(host) > 253 or len(labels) < 2 or not all(LABEL.match(label) for label in labels):
        raise EndpointRefused(
            f"{WHAT} has an invalid host: a DNS name (like push.example.com) or an IP address"
        )
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        # "127.1", "0x7f.1", "10.0.0.010": resolvers read these as IPv4, in forms ipaddress does not
        raise EndpointRefused(
            f"{WHAT} has an invalid host: an IPv4 address is written as four decimal numbers"
        )


def _loopback(address: IPAddress) -> bool:
    return address.is_loopback or (
        isinstance(address, ipaddress.IPv6Address)
        and address.ipv4_mapped is not None
        and address.ipv4_mapped.is_loopback
    )


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in SIX_TO_FOUR:
        return address.sixtofour
    return None


def _not_public(address: IPAddress) -> str | None:
    """Why the address is not one the sender may reach, or None."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_v4(address)
        if inner is not None:
            return _not_public(inner)
    for reason, found in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-public", not address.is_global),
    ):
        if found:
            return reason
    return None
