"""infra/vapid_key.py makes the VAPID key pair a deployment stores (docs/deploy.md, infra/deploy.sh):
the private half in the form the push worker hands pywebpush, the public half that verifies the
JWT pywebpush signs with it."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256
from py_vapid import Vapid

from infra import vapid_key
from tests.stack import ROOT


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _new_pair() -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "infra.vapid_key", "new"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    private, public = done.stdout.splitlines()
    return private, public


def test_new_pair_signs_vapid_jwts_that_verify_against_its_public_half():
    private, public = _new_pair()
    assert len(_b64url_decode(private)) == 32 and "=" not in private
    point = _b64url_decode(public)
    assert len(point) == 65 and point[0] == 4  # uncompressed P-256 point: applicationServerKey

    # pywebpush builds its Vapid from the SSM value exactly so (Vapid.from_string).
    headers = Vapid.from_string(private).sign(
        {"sub": "mailto:ops@example.com", "aud": "https://push.example.net"}
    )
    token = headers["Authorization"].removeprefix("vapid t=").split(",")[0]
    assert headers["Authorization"].endswith(f"k={public}")
    signed, _, signature = token.rpartition(".")
    raw = _b64url_decode(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    key.verify(der, signed.encode(), ec.ECDSA(SHA256()))  # raises if the pair does not match
    claims = json.loads(_b64url_decode(signed.split(".")[1]))
    assert claims["aud"] == "https://push.example.net"


def test_each_pair_is_new():
    assert _new_pair()[0] != _new_pair()[0]


def test_public_half_is_recovered_from_the_stored_private_key():
    private, public = _new_pair()
    done = subprocess.run(
        [sys.executable, "-m", "infra.vapid_key", "public"],
        cwd=ROOT,
        input=private + "\n",  # as `aws ssm get-parameter ... --output text` prints it
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == public


@pytest.mark.parametrize("bad", ["", "abc", "not base64!", vapid_key.b64url(b"\x01" * 33)])
def test_a_value_that_is_no_vapid_key_is_refused(bad):
    with pytest.raises(ValueError, match="VAPID private key"):
        vapid_key.public_key(bad)
