"""The Web Push endpoint rules (issue 21): what registration refuses, on AWS and on the local
stack. Through ``check_endpoint``, the check registration made before issue 21 too; what a
send refuses once the host is resolved is in ``test_guard``."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import BadRequest
from chalicelib.push.devices import check_endpoint

LOCAL_SERVICE = "http://127.0.0.1:8080/dev/webpush/"

INTERNAL = [
    "https://169.254.169.254/",  # instance metadata
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1:8443/x",
    "https://192.168.1.1/x",
    "https://172.16.0.5/x",
    "https://100.64.0.1/x",  # carrier-grade NAT
    "https://localhost:6379/x",
    "https://LOCALHOST/x",
    "https://redis.localhost/x",
    "https://127.0.0.1/x",
    "https://[::1]:9001/x",
    "https://[::]/x",
    "https://0.0.0.0/x",
    "https://[fe80::1]/x",
    "https://[fd00::1]/x",
    "https://[::ffff:10.0.0.1]/x",  # IPv4 in IPv6
    "https://[::ffff:127.0.0.1]/x",
    "https://[64:ff9b::a9fe:a9fe]/x",  # NAT64 of 169.254.169.254
    "https://224.0.0.1/x",  # multicast
    "https://[ff02::1]/x",
    "https://240.0.0.1/x",  # reserved
    "https://255.255.255.255/x",
]

MALFORMED = [
    "https://127.0.0.1:99999/x",
    "https://push.example:99999/x",
    "https://push.example:0/x",
    "https://push.example:abc/x",
    "https://push.example:+443/x",
    "https://push.example:/x" + "\r\n",
    "https://push.example\r\nX-Injected: 1/x",
    "https://push .example/x",
    "https://push.example/a b",
    "https://push.example/\x00",
    "https://push.example/\x7f",
    "https://user:secret@push.example/x",
    "https://user@push.example/x",
    "https://push.example/" + "x" * 2048,
    "https://[::1/x",
    "https://[not-an-ip]/x",
    "https://[fe80::1%25eth0]/x",
    "https://push_service.example/x",
    "https://-push.example/x",
    "https://push/x",  # one label: a name a resolver completes with its search domains
    "https://2130706433/x",  # 127.0.0.1 as one number
    "https://127.1/x",
    "https://0x7f.0.0.1/x",
    "https://10.0.0.010/x",
    "https:///x",
    "https://:443/x",
    "https:push.example/x",
    "ftp://push.example/x",
    "http://push.example/x",  # http only to loopback, only on the local stack
    "javascript:alert(1)",
    "",
    "https://pushé.example/x",
]


@pytest.mark.parametrize("endpoint", INTERNAL)
def test_internal_addresses_are_refused_on_aws(endpoint):
    with pytest.raises(BadRequest) as refused:
        check_endpoint(endpoint, allow_local_http=False)
    assert "subscription.endpoint" in str(refused.value)


@pytest.mark.parametrize("endpoint", MALFORMED)
@pytest.mark.parametrize("local", [False, True])
def test_malformed_endpoints_are_refused_everywhere(endpoint, local):
    with pytest.raises(BadRequest) as refused:
        check_endpoint(endpoint, allow_local_http=local)
    assert "subscription.endpoint" in str(refused.value)


@pytest.mark.parametrize(
    ("endpoint", "says"),
    [
        ("https://push.example:99999/x", "port"),
        ("https://push.example:0/x", "port"),
        ("https://push.example:abc/x", "port"),
        ("https://user@push.example/x", "user info"),
        ("https://push .example/x", "spaces"),
        ("https://push.example/" + "x" * 2048, "2048"),
        ("https://10.0.0.1/x", "private"),
        ("https://169.254.169.254/", "link-local"),
        ("https://[::1]:9001/x", "loopback"),
        ("https://224.0.0.1/x", "multicast"),
        ("https://0.0.0.0/x", "unspecified"),
        ("https://240.0.0.1/x", "reserved"),
        ("http://push.example/x", "https"),
    ],
)
def test_each_refusal_says_which_rule(endpoint, says):
    with pytest.raises(BadRequest, match=says):
        check_endpoint(endpoint, allow_local_http=False)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/abc:APA91b",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://web.push.apple.com/QGuQyavXutnMFYVaRcrbDNfJQ7mG8?x=1",
        "https://push.example:8443/x",
        "https://push.example./x",
        "https://8.8.8.8/x",
        "https://[2001:4860:4860::8888]/x",
        "https://" + "a" * 63 + ".example/x",
        "https://push.example/" + "x" * (2048 - len("https://push.example/")),
    ],
)
def test_what_a_browser_gives_is_accepted(endpoint):
    assert check_endpoint(endpoint, allow_local_http=False).url == endpoint


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:9000/push/x",
        "http://localhost:9000/push/x",
        "http://[::1]:9000/push/x",
        "https://127.0.0.1:9000/push/x",
        "http://127.0.0.1:8080/dev/webpush/sub-1",  # the stack's own push service
        "http://localhost:8080/dev/webpush/AbC_9",
    ],
)
def test_the_local_stack_takes_loopback(endpoint):
    assert check_endpoint(endpoint, True, LOCAL_SERVICE).url == endpoint


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8080/dev/push/reject?token=http://127.0.0.1:9000/push/x",
        "http://localhost:8080/dev/push/reject",
        "http://[::1]:8080/dev/push?user=bob",
        "http://127.0.0.2:8080/",
        "http://127.0.0.1:8080/dev/webpush/sub-1?x=1",
        "http://127.0.0.1:8080/dev/webpush/sub-1/../../push/reject",
        "http://127.0.0.1:8080/dev/webpush/",
        "https://127.0.0.1:8080/dev/token",
    ],
)
def test_the_local_stack_never_reaches_its_own_routes(endpoint):
    with pytest.raises(BadRequest, match="local stack's own routes"):
        check_endpoint(endpoint, True, LOCAL_SERVICE)


@pytest.mark.parametrize("endpoint", ["http://10.0.0.1/x", "https://10.0.0.1/x", "https://169.254.169.254/"])
def test_the_local_stack_refuses_other_internal_addresses(endpoint):
    with pytest.raises(BadRequest):
        check_endpoint(endpoint, True, LOCAL_SERVICE)
