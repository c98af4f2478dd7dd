"""The Web Push VAPID key pair (RFC 8292), in the forms this backend and browsers take:

    python -m infra.vapid_key new       # line 1: the private key, line 2: the public key
    python -m infra.vapid_key public    # the public key of the private key read on stdin

The private key is the raw 32-byte P-256 scalar, base64url without padding: the value of the
SSM SecureString ``CHAT_VAPID_PRIVATE_KEY_PARAM`` names (pywebpush reads it as is). The public
key is the uncompressed point (65 bytes), base64url: the ``applicationServerKey`` a web page
passes to ``PushManager.subscribe``, and the ``k=`` push services check the VAPID JWT against.
"""

from __future__ import annotations

import base64
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

PRIVATE_KEY_BYTES = 32


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_private_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(PRIVATE_KEY_BYTES, "big"))


def public_key(private_key: str) -> str:
    """The applicationServerKey of a private key in the form ``new_private_key`` makes."""
    try:
        raw = _b64url_decode(private_key)
    except ValueError as exc:
        raise ValueError("the VAPID private key is not base64url") from exc
    if len(raw) != PRIVATE_KEY_BYTES:
        raise ValueError(f"a VAPID private key is {PRIVATE_KEY_BYTES} bytes, this one {len(raw)}")
    key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


def main(argv: list[str]) -> int:
    if argv == ["new"]:
        private = new_private_key()
        print(private)
        print(public_key(private))
        return 0
    if argv == ["public"]:
        try:
            print(public_key(sys.stdin.read()))
        except ValueError as exc:
            print(f"infra/vapid_key.py: {exc}", file=sys.stderr)
            return 1
        return 0
    print("usage: python -m infra.vapid_key new | public < PRIVATE_KEY", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
