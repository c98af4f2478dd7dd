"""At send time: the addresses a Web Push endpoint's host resolves to, each checked before any
connection, and the connection pinned to them. Names resolve through a resolver the test gives;
nothing connects anywhere."""

from __future__ import annotations

import socket

import pytest

from chalicelib.domain.errors import BadRequest
from chalicelib.push.devices import EndpointGuard, EndpointPolicy


def resolver(table):
    asked = []

    def resolve(host, port):
        asked.append((host, port))
        if host not in table:
            raise socket.gaierror(f"{host} not found")
        return table[host]

    resolve.asked = asked
    return resolve


@pytest.mark.parametrize(
    "addresses",
    [
        ["169.254.169.254"],
        ["10.0.0.1"],
        ["127.0.0.1"],
        ["::1"],
        ["fe80::1%eth0"],
        ["93.184.216.34", "10.0.0.1"],  # any one bad address is enough
        ["::ffff:192.168.0.1"],
        ["not an address"],
    ],
)
def test_a_name_resolving_to_an_internal_address_is_refused_at_send(addresses):
    resolve = resolver({"evil.example": addresses})
    guard = EndpointGuard(EndpointPolicy(), resolve)
    with pytest.raises(BadRequest):
        guard.addresses("evil.example", 443)
    assert resolve.asked == [("evil.example", 443)]


def test_a_name_resolving_to_public_addresses_is_pinned_to_them():
    resolve = resolver({"push.example": ["93.184.216.34", "2606:2800:220:1::1"]})
    guard = EndpointGuard(EndpointPolicy(), resolve)
    assert guard.addresses("push.example", 443) == ["93.184.216.34", "2606:2800:220:1::1"]


def test_on_the_local_stack_only_loopback_names_may_resolve_to_loopback():
    resolve = resolver({"localhost": ["127.0.0.1", "::1"], "sneaky.example": ["127.0.0.1"]})
    guard = EndpointGuard(EndpointPolicy(allow_local_http=True), resolve)
    assert guard.addresses("localhost", 9000) == ["127.0.0.1", "::1"]
    with pytest.raises(BadRequest, match="loopback"):
        guard.addresses("sneaky.example", 9000)


def test_a_name_that_does_not_resolve_is_a_network_error_not_a_refusal():
    guard = EndpointGuard(EndpointPolicy(), resolver({}))
    with pytest.raises(socket.gaierror):
        guard.addresses("gone.example", 443)
    with pytest.raises(socket.gaierror):
        EndpointGuard(EndpointPolicy(), lambda host, port: []).addresses("empty.example", 443)
