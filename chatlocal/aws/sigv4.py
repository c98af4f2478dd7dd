"""Checking AWS Signature Version 4 on the management API, as API Gateway does, without I/O.

``check`` rebuilds the canonical request from what arrived (method, the request target exactly
as sent, the headers the ``Authorization`` header names, the body's SHA-256), derives the signing
key from the stack's secret key, and compares signatures, the way botocore computes them
(``botocore.auth.SigV4Auth``). It answers ``None`` for a good signature, else the ``Refusal``
API Gateway would send (always 403):

- no ``Authorization`` header: ``MissingAuthenticationTokenException``;
- a header that is not ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``,
  no ``X-Amz-Date`` (or ``Date``), or ``host`` or the date not signed:
  ``IncompleteSignatureException``;
- another access key (or a session token that is not the credentials'):
  ``UnrecognizedClientException``;
- a scope for another service, region or day, a date more than 5 minutes away from now, a
  body that does not match ``X-Amz-Content-SHA256``, or a signature that differs:
  ``InvalidSignatureException``.

``sign_headers`` is the client side, for the test tiers and tools: botocore's own signer.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from botocore.utils import normalize_url_path

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
MAX_SKEW_SECONDS = 300  # AWS's window: 5 minutes either way
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_AUTHORIZATION = re.compile(r"^AWS4-HMAC-SHA256 +(?P<fields>.*)$")
_STAMP = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")
_BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your AWS"
    " Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: API Gateway's ``x-amzn-ErrorType`` and message (status 403)."""

    error_type: str
    message: str
    status: int = 403


Headers = Mapping[str, Sequence[str]]  # lower-case name -> every value received


@dataclass(frozen=True)
class _Authorization:
    access_key: str
    scope: tuple[str, ...]  # date, region, service, "aws4_request"
    signed_headers: tuple[str, ...]
    signature: str


class Verifier:
    """Checks requests against one set of credentials (read at each check: they may rotate)."""

    def __init__(
        self,
        credentials: Callable[[], Credentials],
        region: str,
        service: str = SERVICE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self.region = region
        self.service = service
        self._clock = clock

    def check(self, method: str, target: str, headers: Headers, body: bytes) -> Refusal | None:
        """``target`` is the request line's target as received (``/@connections/abc%3D?x=1``)."""
        raw = _one(headers, "authorization")
        if raw is None:
            return Refusal("MissingAuthenticationTokenException", "Missing Authentication Token")
        parsed = _parse_authorization(raw)
        if isinstance(parsed, Refusal):
            return parsed
        stamp = _timestamp(headers)
        if isinstance(stamp, Refusal):
            return stamp
        credentials = self._credentials()
        refusal = (
            _signed_enough(parsed, headers)
            or _known_key(parsed, headers, credentials)
            or self._valid_scope(parsed, stamp)
            or self._current(stamp)
            or _body_hash_matches(headers, body)
        )
        if refusal is not None:
            return refusal
        canonical = canonical_request(method, target, headers, parsed.signed_headers, body)
        expected = signature(credentials.secret_key, stamp, parsed.scope, canonical)
        if not hmac.compare_digest(expected.encode(), parsed.signature.encode()):
            return Refusal("InvalidSignatureException", _BAD_SIGNATURE)
        return None

    def _valid_scope(self, auth: _Authorization, stamp: str) -> Refusal | None:
        date, region, service, terminal = auth.scope
        if terminal != "aws4_request":
            return Refusal(
                "InvalidSignatureException",
                "Credential should be scoped with a valid terminator: 'aws4_request'.",
            )
        if service != self.service:
            return Refusal(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{self.service}'.",
            )
        if region != self.region:
            return Refusal(
                "InvalidSignatureException", f"Credential should be scoped to a valid region, not '{region}'."
            )
        if date != stamp[:8]:
            return Refusal(
                "InvalidSignatureException",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from"
                f" HTTP: '{date}' != '{stamp[:8]}'",
            )
        return None

    def _current(self, stamp: str) -> Refusal | None:
        signed_at = _epoch(stamp)
        assert signed_at is not None  # _timestamp returned it: a valid stamp
        now = self._clock()
        if signed_at < now - MAX_SKEW_SECONDS:
            return Refusal(
                "InvalidSignatureException",
                f"Signature expired: {stamp} is now earlier than {_format(now - MAX_SKEW_SECONDS)}"
                f" ({_format(now)} - 5 min.)",
            )
        if signed_at > now + MAX_SKEW_SECONDS:
            return Refusal(
                "InvalidSignatureException",
                f"Signature not yet current: {stamp} is still later than {_format(now + MAX_SKEW_SECONDS)}"
                f" ({_format(now)} + 5 min.)",
            )
        return None


def canonical_request(
    method: str, target: str, headers: Headers, signed_headers: Sequence[str], body: bytes
) -> str:
    path, _, query = target.partition("?")
    lines = [
        method.upper(),
        _canonical_path(path),
        _canonical_query(query),
        *(f"{name}:{_header_value(headers, name)}" for name in signed_headers),
        "",
        ";".join(signed_headers),
        _one(headers, "x-amz-content-sha256") or hashlib.sha256(body).hexdigest(),
    ]
    return "\n".join(lines)


@functools.lru_cache(maxsize=4096)
def _canonical_path(path: str) -> str:
    """The path as SigV4 signs it; one per connection id, posted to again and again."""
    return quote(normalize_url_path(path), safe="/~")


def signature(secret_key: str, stamp: str, scope: Sequence[str], canonical: str) -> str:
    string_to_sign = "\n".join(
        [ALGORITHM, stamp, "/".join(scope), hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
    )
    key = _signing_key(secret_key, tuple(scope))
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=16)
def _signing_key(secret_key: str, scope: tuple[str, ...]) -> bytes:
    """The key derived for a day, region and service: the same for every request of that day."""
    key = f"AWS4{secret_key}".encode()
    for part in scope:
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def sign_headers(
    credentials: Credentials,
    region: str,
    method: str,
    url: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    service: str = SERVICE,
) -> dict[str, str]:
    """The headers to send (``Authorization``, ``X-Amz-Date``...), signed by botocore as its
    clients sign. The caller must send ``body`` and these headers unchanged."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotocoreCredentials

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    signer = SigV4Auth(
        BotocoreCredentials(credentials.access_key, credentials.secret_key, credentials.token),
        service,
        region,
    )
    signer.add_auth(request)
    return dict(request.headers.items())


def _one(headers: Headers, name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def _header_value(headers: Headers, name: str) -> str:
    return ",".join(" ".join(value.split()) for value in headers.get(name, ()))


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = sorted(tuple(pair.partition("=")[::2]) for pair in query.split("&"))
    return "&".join(f"{key}={value}" for key, value in pairs)


def _parse_authorization(raw: str) -> _Authorization | Refusal:
    match = _AUTHORIZATION.match(raw.strip())
    fields: dict[str, str] = {}
    if match is not None:
        for part in match.group("fields").split(","):
            name, _, value = part.strip().partition("=")
            fields[name] = value
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)]
    if match is None or missing:
        wanted = " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
        return Refusal(
            "IncompleteSignatureException",
            wanted or f"Authorization header requires the '{ALGORITHM}' algorithm.",
        )
    access_key, *scope = fields["Credential"].split("/")
    if len(scope) != 4:
        return Refusal(
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term,"
            f" got '{fields['Credential']}'",
        )
    return _Authorization(
        access_key,
        (scope[0], scope[1], scope[2], scope[3]),
        tuple(fields["SignedHeaders"].split(";")),
        fields["Signature"],
    )


def _timestamp(headers: Headers) -> str | Refusal:
    """The signing time as ``YYYYMMDDTHHMMSSZ``: ``X-Amz-Date``, else ``Date`` (as botocore)."""
    amz_date = _one(headers, "x-amz-date")
    if amz_date is not None:
        if _epoch(amz_date) is None:
            return Refusal(
                "IncompleteSignatureException", f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'."
            )
        return amz_date
    date = _one(headers, "date")
    if date is not None:
        try:
            return parsedate_to_datetime(date).astimezone(UTC).strftime(TIMESTAMP_FORMAT)
        except (TypeError, ValueError):
            pass
    return Refusal(
        "IncompleteSignatureException",
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    )


def _signed_enough(auth: _Authorization, headers: Headers) -> Refusal | None:
    signed = auth.signed_headers
    if list(signed) != sorted(signed) or any(name != name.lower() for name in signed):
        return Refusal("InvalidSignatureException", _BAD_SIGNATURE)
    if "host" not in signed:
        return Refusal(
            "IncompleteSignatureException",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        )
    date_header = "x-amz-date" if "x-amz-date" in headers else "date"
    if date_header not in signed:
        shown = "X-Amz-Date" if date_header == "x-amz-date" else "Date"
        return Refusal(
            "IncompleteSignatureException", f"'{shown}' must be a 'SignedHeader' in the AWS Authorization."
        )
    if any(name not in headers for name in signed):
        return Refusal("InvalidSignatureException", _BAD_SIGNATURE)
    return None


def _known_key(auth: _Authorization, headers: Headers, credentials: Credentials) -> Refusal | None:
    token = _one(headers, "x-amz-security-token")
    same_key = hmac.compare_digest(auth.access_key.encode(), credentials.access_key.encode())
    if not same_key or token != credentials.token:
        return Refusal(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    return None


def _body_hash_matches(headers: Headers, body: bytes) -> Refusal | None:
    declared = _one(headers, "x-amz-content-sha256")
    if declared is not None and declared != hashlib.sha256(body).hexdigest():
        return Refusal(
            "InvalidSignatureException",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    return None


@functools.lru_cache(maxsize=256)  # one stamp per second, read twice per request
def _epoch(stamp: str) -> float | None:
    """``YYYYMMDDTHHMMSSZ`` as seconds since the epoch; None when it is not a valid time in
    that form (``strptime`` took a tenth of the gateway's time per management post)."""
    match = _STAMP.match(stamp)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()
    except ValueError:  # month 13, February 30th...
        return None


def _format(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(TIMESTAMP_FORMAT)
