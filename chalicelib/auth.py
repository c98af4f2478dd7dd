"""Client tokens: HS256 JWTs whose ``sub`` is the user id.

The user id of a connection comes from its token and from nowhere else.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import jwt

from chalicelib.domain.ids import USER_ID_RE

MAX_NAME_LENGTH = 100
CLOCK_LEEWAY_SECONDS = 30  # the issuer's clock may run a little ahead of (or behind) ours
# A token of ours is about 200 bytes; refuse anything far larger before decoding it.
MAX_TOKEN_LENGTH = 4096
# The longest a token may live: ``exp`` at most this far past its ``iat`` (or past now, when it
# has no ``iat``). A leaked token stops working within 30 days whatever its issuer wrote.
MAX_TOKEN_LIFETIME_SECONDS = 30 * 86400


class InvalidToken(Exception):
    """The token is missing, malformed, badly signed, expired or names no valid user."""


@dataclass(frozen=True)
class Identity:
    user_id: str
    name: str | None = None


def verify_token(token: str | None, secret: str) -> Identity:
    if not token:
        raise InvalidToken("missing token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken(f"token longer than {MAX_TOKEN_LENGTH} characters")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp", "sub"], "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    check_dates(claims)
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not USER_ID_RE.match(user_id):
        raise InvalidToken("sub is not a valid user id")
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        name = None
    return Identity(user_id=user_id, name=name[:MAX_NAME_LENGTH] if name else None)


def check_dates(claims: dict[str, object]) -> None:
    """The date claims' rules, for these tokens and the OpenID Connect ones (``chalicelib.identity.oidc``):
    numbers, ``iat``/``nbf`` at most the leeway ahead, a lifetime of at most 30 days."""
    _check_dates_are_numbers(claims)
    _check_not_before(claims)
    _check_lifetime(claims)


def _check_dates_are_numbers(claims: dict[str, object]) -> None:
    """``exp``, ``iat`` and ``nbf`` are finite JSON numbers (RFC 7519 NumericDate): PyJWT would
    also take a string of digits for ``exp``, and Python's JSON reads NaN and Infinity."""
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if name not in claims:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidToken(f"'{name}' must be a number")


def _check_not_before(claims: dict[str, object]) -> None:
    """``iat`` and ``nbf`` may be up to the leeway ahead of our clock (the issuer's may run
    ahead); ``exp`` has none: an expired token is refused at once."""
    now = time.time()
    for name in ("iat", "nbf"):
        value = claims.get(name)
        if isinstance(value, int | float) and value > now + CLOCK_LEEWAY_SECONDS:
            raise InvalidToken(f"the token is not valid yet ('{name}' is in the future)")


def _check_lifetime(claims: dict[str, object]) -> None:
    """``exp`` at most ``MAX_TOKEN_LIFETIME_SECONDS`` past ``iat``, or past now without one (the
    leeway allowed for a clock ahead too): ``exp = 10**30`` never expires, so it is refused."""
    expires = claims["exp"]
    issued = claims.get("iat")
    start = issued if isinstance(issued, int | float) else time.time()
    assert isinstance(expires, int | float)  # _check_dates_are_numbers
    if expires - start > MAX_TOKEN_LIFETIME_SECONDS + CLOCK_LEEWAY_SECONDS:
        raise InvalidToken(f"the token lives longer than {MAX_TOKEN_LIFETIME_SECONDS // 86400} days")


def issue_token(user_id: str, secret: str, ttl_seconds: int = 86400, name: str | None = None) -> str:
    """Sign a token (the local stack's /dev/token, tests, and operators' scripts), with ``iat``."""
    if not USER_ID_RE.match(user_id):
        raise ValueError(f"invalid user id: {user_id!r}")
    if not 0 < ttl_seconds <= MAX_TOKEN_LIFETIME_SECONDS:
        raise ValueError(f"ttl_seconds must be 1 to {MAX_TOKEN_LIFETIME_SECONDS}")
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm="HS256")
