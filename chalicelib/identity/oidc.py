"""Client tokens from your own OpenID Connect provider (``CHAT_OIDC_ISSUER`` set): JWTs signed
RS256 or ES256 with a key of the issuer's JWKS.

What is checked, in order: the token's length; its header (``alg`` RS256 or ES256, nothing
else: HS256 and ``none`` are refused before any key is looked at); its key, found by ``kid`` in
the cached JWKS (a token without ``kid`` takes the set's only key); the signature; ``iss``
equal to the issuer; ``exp`` (required, no leeway), ``iat``/``nbf`` (at most the leeway ahead)
and a lifetime of at most 30 days, as for the HS256 tokens (``chalicelib.auth``); the audience
(``aud`` contains ``CHAT_OIDC_AUDIENCE``, or, for a token without ``aud`` such as a Cognito
access token, ``client_id`` equals it); ``sub`` a v1 user id. The display name is ``name``,
else ``cognito:username``, else ``preferred_username``.

The JWKS is fetched on first use and kept for the life of the process (one Lambda container).
A token whose ``kid`` is not in it, or a set older than ``KEYS_MAX_AGE_SECONDS``, makes the
verifier fetch it again, but at most once per ``refresh_seconds`` (60): a flood of made-up
``kid``s costs the issuer one request a minute per container. A fetch has ``FETCH_TIMEOUT_SECONDS``
in all; one that fails (unreachable, slow, not JSON, no usable key) is logged and keeps the keys
already cached, and the tokens it could not verify are refused (401).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import jwt

from chalicelib.auth import MAX_NAME_LENGTH, Identity, InvalidToken, check_dates
from chalicelib.domain.ids import USER_ID_RE

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "ES256")
# Provider tokens carry more claims than ours (groups, custom attributes): twice auth.py's cap.
MAX_TOKEN_LENGTH = 8192
FETCH_TIMEOUT_SECONDS = 2.0
MAX_JWKS_BYTES = 256 * 1024
DEFAULT_REFRESH_SECONDS = 60.0
# A key the issuer has withdrawn stops working within this (on the next token after it).
KEYS_MAX_AGE_SECONDS = 3600.0
NAME_CLAIMS = ("name", "cognito:username", "preferred_username")

Fetch = Callable[[str, float], bytes]


class JwksUnavailable(Exception):
    """The issuer's key set could not be fetched or read."""


def fetch_url(url: str, timeout: float) -> bytes:
    """GET ``url`` within ``timeout`` seconds in all (not per read), at most ``MAX_JWKS_BYTES``."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read(16384):
                size += len(chunk)
                if size > MAX_JWKS_BYTES:
                    raise JwksUnavailable(f"the answer is larger than {MAX_JWKS_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise JwksUnavailable(f"no complete answer within {timeout:g} s")
                chunks.append(chunk)
            return b"".join(chunks)
    except JwksUnavailable:
        raise
    except Exception as exc:  # URLError, HTTPError, timeouts, resets: all mean "not reachable"
        raise JwksUnavailable(f"{type(exc).__name__}: {exc}") from exc


def parse_jwks(body: bytes) -> dict[str, jwt.PyJWK]:
    """The usable RS256/ES256 signing keys of a JWKS document, by ``kid`` ("" for a key without
    one). Each key is read on its own: one PyJWT cannot read (``alg: none`` raises
    NotImplementedError there) is skipped, not the set."""
    try:
        entries = json.loads(body)["keys"]
    except (ValueError, TypeError, KeyError) as exc:
        raise JwksUnavailable(f"not a JWKS document: {exc!r}"[:200]) from exc
    if not isinstance(entries, list):
        raise JwksUnavailable("not a JWKS document: 'keys' is not a list")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("alg", ALGORITHMS[0] if entry.get("kty") == "RSA" else ALGORITHMS[1]) not in ALGORITHMS:
            continue
        try:
            key = jwt.PyJWK(entry)
        except Exception:  # any key PyJWT cannot read is not one of ours
            continue
        if key.algorithm_name in ALGORITHMS:
            keys[str(entry.get("kid") or "")] = key
    if not keys:
        raise JwksUnavailable("no RS256 or ES256 signing key in the JWKS")
    return keys


class KeyCache:
    """The issuer's keys for this process, fetched again on an unknown ``kid`` at most once per
    ``refresh_seconds``. Thread-safe (the local stack runs invocations on threads)."""

    def __init__(
        self,
        url: str,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        fetch: Fetch = fetch_url,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.refresh_seconds = refresh_seconds
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._tried_at: float | None = None  # last attempt, successful or not
        self._lock = threading.Lock()
        self.fetches = 0

    def key(self, kid: str | None) -> jwt.PyJWK:
        found = self._lookup(kid)
        if found is not None and not self._stale():
            return found
        with self._lock:
            found = self._lookup(kid)
            if (found is None or self._stale()) and self._may_fetch():
                self._refresh()
                found = self._lookup(kid)
        if found is None:
            raise InvalidToken(f"no key {kid!r} in the issuer's JWKS" if kid else "no kid, and not one key")
        return found

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        keys = self._keys
        if kid is None:
            return next(iter(keys.values())) if len(keys) == 1 else None
        return keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= KEYS_MAX_AGE_SECONDS

    def _may_fetch(self) -> bool:
        return self._tried_at is None or self._clock() - self._tried_at >= self.refresh_seconds

    def _refresh(self) -> None:
        self._tried_at = self._clock()
        self.fetches += 1
        try:
            keys = parse_jwks(self._fetch(self.url, FETCH_TIMEOUT_SECONDS))
        except JwksUnavailable as exc:
            log.warning(
                "cannot reach the OpenID Connect issuer's keys at %s: %s (keeping %d cached keys; "
                "next try in %g s at the earliest)",
                self.url,
                exc,
                len(self._keys),
                self.refresh_seconds,
            )
            return
        self._keys = keys
        self._fetched_at = self._tried_at
        log.info("fetched %d keys from %s", len(keys), self.url)


class OidcVerifier:
    def __init__(self, issuer: str, audience: str | None, keys: KeyCache) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys = keys

    @classmethod
    def from_settings(
        cls, issuer: str, audience: str | None, jwks_url: str | None, refresh_seconds: float
    ) -> OidcVerifier:
        url = jwks_url or issuer.rstrip("/") + "/.well-known/jwks.json"
        if _plain_http_elsewhere(url):
            log.warning("the OpenID Connect keys come over plain http from %s: use https", url)
        return cls(issuer, audience, KeyCache(url, refresh_seconds))

    def verify(self, token: str | None) -> Identity:
        if not token:
            raise InvalidToken("missing token")
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken(f"token longer than {MAX_TOKEN_LENGTH} characters")
        algorithm, kid = _header(token)
        key = self.keys.key(kid)
        if key.algorithm_name != algorithm:
            raise InvalidToken(f"key {kid!r} is for {key.algorithm_name}, not {algorithm}")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                issuer=self.issuer,
                options={
                    "require": ["exp", "iss", "sub"],
                    "verify_aud": False,  # checked below: Cognito access tokens have none
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        check_dates(claims)
        self._check_audience(claims)
        return Identity(user_id=_user_id(claims), name=_name(claims))

    def _check_audience(self, claims: dict[str, Any]) -> None:
        if self.audience is None:
            return
        if "aud" in claims:
            aud = claims["aud"]
            audiences = [aud] if isinstance(aud, str) else aud
            if not isinstance(audiences, list) or self.audience not in audiences:
                raise InvalidToken("the token is not for this audience ('aud')")
            return
        if claims.get("client_id") != self.audience:
            raise InvalidToken("the token is not for this client ('client_id')")


def _plain_http_elsewhere(url: str) -> bool:
    """An http (not https) URL to another machine: whoever is on the way can swap the keys."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1")


def _header(token: str) -> tuple[str, str | None]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise InvalidToken(f"algorithm {algorithm!r} refused (RS256 or ES256 only)")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise InvalidToken("'kid' must be a string")
    return str(algorithm), kid


def _user_id(claims: dict[str, Any]) -> str:
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not USER_ID_RE.match(user_id):
        raise InvalidToken("sub is not a valid user id")
    return user_id


def _name(claims: dict[str, Any]) -> str | None:
    for claim in NAME_CLAIMS:
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return value[:MAX_NAME_LENGTH]
    return None
