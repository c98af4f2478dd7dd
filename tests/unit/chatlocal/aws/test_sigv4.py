"""The management API's SigV4 check: what botocore signs passes, anything else is refused with
API Gateway's error type."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from chatlocal.aws.sigv4 import Credentials, Refusal, Verifier, sign_headers

LOCAL = Credentials("local", "local")
BASE = "http://127.0.0.1:8000"


def verifier(
    clock: float | None = None, credentials: Credentials = LOCAL, region: str = "us-east-1"
) -> Verifier:
    return Verifier(lambda: credentials, region, clock=(lambda: clock) if clock is not None else time.time)


def as_received(headers: Mapping[str, str], url: str) -> dict[str, list[str]]:
    """The headers as the server gets them: lower-case names, the Host an HTTP client adds."""
    received = {name.lower(): [value] for name, value in headers.items()}
    received.setdefault("host", [urlsplit(url).netloc])
    return received


def check(
    method: str, url: str, body: bytes, headers: Mapping[str, str], against: Verifier | None = None
) -> Refusal | None:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return (against or verifier()).check(method, target, as_received(headers, url), body)


class Captured(Exception):
    pass


def boto3_request(operation: str, **params: Any) -> tuple[str, str, bytes, dict[str, str]]:
    """What boto3's management client sends (method, url, body, headers), captured before it
    leaves."""
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=BASE,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    sent: list[Any] = []

    def capture(request: Any, **kwargs: Any) -> None:
        sent.append(request)
        raise Captured

    client.meta.events.register("before-send.apigatewaymanagementapi", capture)
    with pytest.raises(Captured):
        getattr(client, operation)(**params)
    (request,) = sent
    body = request.body if isinstance(request.body, bytes) else (request.body or b"")
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    return request.method, request.url, body, headers


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("post_to_connection", {"ConnectionId": "abcDEF123456789=", "Data": b'{"event":"x"}'}),
        ("get_connection", {"ConnectionId": "abcDEF123456789="}),
        ("delete_connection", {"ConnectionId": "abcDEF123456789="}),
    ],
)
def test_what_boto3s_management_client_sends_is_accepted(operation, params):
    method, url, body, headers = boto3_request(operation, **params)
    assert "Authorization" in headers
    assert check(method, url, body, headers) is None


def test_a_path_with_escapes_a_query_and_a_session_token_verify():
    credentials = Credentials("AKID", "secret", token="session-token")
    url = f"{BASE}/local/@connections/a%2Fb=?b=2&a=1"
    headers = sign_headers(credentials, "eu-west-1", "POST", url, b"data")
    assert check("POST", url, b"data", headers, verifier(credentials=credentials, region="eu-west-1")) is None


def authorization(old: str, new: str, count: int = -1) -> Any:
    return lambda h: h | {"Authorization": h["Authorization"].replace(old, new, count)}


@pytest.mark.parametrize(
    ("change", "error_type"),
    [
        (lambda h: {}, "MissingAuthenticationTokenException"),
        (lambda h: h | {"Authorization": "Bearer x"}, "IncompleteSignatureException"),
        (authorization(", Signature=", ", Nope="), "IncompleteSignatureException"),
        (authorization("local/", "other/", 1), "UnrecognizedClientException"),
        (lambda h: h | {"Authorization": h["Authorization"][:-4] + "0000"}, "InvalidSignatureException"),
        (authorization("/execute-api/", "/s3/"), "InvalidSignatureException"),
        (authorization("/us-east-1/", "/eu-west-1/"), "InvalidSignatureException"),
        (lambda h: h | {"X-Amz-Security-Token": "stolen"}, "UnrecognizedClientException"),
        (lambda h: h | {"X-Amz-Content-SHA256": "0" * 64}, "InvalidSignatureException"),
        (lambda h: {k: v for k, v in h.items() if k != "X-Amz-Date"}, "IncompleteSignatureException"),
    ],
    ids=[
        "no authorization", "another scheme", "no signature", "unknown key", "signature changed",
        "other service", "other region", "foreign session token", "body hash lies", "no date",
    ],
)  # fmt: skip
def test_refusals_name_api_gateways_error(change, error_type):
    url = f"{BASE}/@connections/abc="
    headers = sign_headers(LOCAL, "us-east-1", "POST", url, b"{}")
    refusal = check("POST", url, b"{}", change(headers))
    assert refusal is not None and (refusal.status, refusal.error_type) == (403, error_type)


@pytest.mark.parametrize(
    "stamp",
    [
        "20261327T101010Z",
        "20260230T101010Z",
        "20261127T246000Z",
        "2026-11-27T10:10:10Z",
        "20261127T101010",
        "",
    ],
)
def test_a_date_not_in_iso_basic_format_is_refused(stamp):
    url = f"{BASE}/@connections/abc="
    headers = sign_headers(LOCAL, "us-east-1", "GET", url) | {"X-Amz-Date": stamp}
    refusal = check("GET", url, b"", headers)
    assert refusal is not None and refusal.error_type == "IncompleteSignatureException"
    assert refusal.message == f"Date must be in ISO-8601 'basic format'. Got '{stamp}'."


def test_wrong_secret_method_or_body_do_not_match():
    url = f"{BASE}/@connections/abc="
    wrong_secret = sign_headers(Credentials("local", "guess"), "us-east-1", "POST", url, b"{}")
    good = sign_headers(LOCAL, "us-east-1", "POST", url, b"{}")
    for method, body, headers in (
        ("POST", b"{}", wrong_secret),
        ("DELETE", b"{}", good),
        ("POST", b"{ }", good),
    ):
        refusal = check(method, url, body, headers)
        assert refusal is not None and refusal.error_type == "InvalidSignatureException"


def test_host_must_be_signed():
    url = f"{BASE}/@connections/abc="
    headers = sign_headers(LOCAL, "us-east-1", "GET", url)
    headers["Authorization"] = headers["Authorization"].replace("SignedHeaders=host;", "SignedHeaders=")
    refusal = check("GET", url, b"", headers)
    assert refusal is not None and refusal.error_type == "IncompleteSignatureException"
    assert "'Host'" in refusal.message


def test_a_signature_is_good_for_five_minutes_either_way():
    url = f"{BASE}/@connections/abc="
    headers = sign_headers(LOCAL, "us-east-1", "GET", url)
    signed_at = datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    assert check("GET", url, b"", headers, verifier(clock=signed_at + 299)) is None
    assert check("GET", url, b"", headers, verifier(clock=signed_at - 299)) is None
    stale = check("GET", url, b"", headers, verifier(clock=signed_at + 301))
    early = check("GET", url, b"", headers, verifier(clock=signed_at - 301))
    assert stale is not None and stale.message.startswith("Signature expired: ")
    assert early is not None and early.message.startswith("Signature not yet current: ")
    assert stale.error_type == early.error_type == "InvalidSignatureException"
