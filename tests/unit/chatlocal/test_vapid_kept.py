"""The Web Push VAPID key is kept in the data folder beside the JWT secret, so a browser's push
subscription (made with the public key) outlives a restart; CHAT_VAPID_PRIVATE_KEY still wins and
CHAT_EPHEMERAL=1 keeps nothing."""

from __future__ import annotations

import stat
from types import SimpleNamespace

import pytest

from chatlocal.config import StartupError
from chatlocal.datadir import DataDir, clean
from chatlocal.persistence import resolve_vapid
from chatlocal.push.providers import VapidKeys
from infra.vapid_key import new_private_key, public_key


def _options(env: dict[str, str]) -> SimpleNamespace:
    return SimpleNamespace(vapid=VapidKeys.from_env(env))


def test_the_generated_key_is_stored_once_and_reused(tmp_path):
    data = DataDir.open(tmp_path)
    try:
        first = resolve_vapid(_options({}), data)  # type: ignore[arg-type]
        second = resolve_vapid(_options({}), data)  # type: ignore[arg-type]
    finally:
        data.close()
    kept = tmp_path / "vapid-private-key"
    assert (second.private_key, second.public_key) == (first.private_key, first.public_key)
    assert first.public_key == public_key(first.private_key)
    assert kept.read_text().strip() == first.private_key
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert first.origin == f"generated and kept in {kept}"
    assert second.origin == f"kept in {kept}"
    assert kept in clean(tmp_path)  # make clean-data wipes it with the rest


def test_the_environment_key_wins_and_nothing_is_written(tmp_path):
    private = new_private_key()
    data = DataDir.open(tmp_path)
    try:
        keys = resolve_vapid(_options({"CHAT_VAPID_PRIVATE_KEY": private}), data)  # type: ignore[arg-type]
    finally:
        data.close()
    assert (keys.private_key, keys.origin) == (private, "from CHAT_VAPID_PRIVATE_KEY")
    assert not (tmp_path / "vapid-private-key").exists()


def test_an_ephemeral_run_keeps_no_key():
    keys = resolve_vapid(_options({}), None)  # type: ignore[arg-type]
    assert keys.origin == "generated for this run only (CHAT_EPHEMERAL=1)"
    assert resolve_vapid(_options({}), None).private_key != keys.private_key  # type: ignore[arg-type]


def test_a_damaged_stored_key_stops_the_start_naming_the_file(tmp_path):
    (tmp_path / "vapid-private-key").write_text("c2hvcnQ\n")
    data = DataDir.open(tmp_path)
    try:
        with pytest.raises(StartupError, match="vapid-private-key: a VAPID private key is 32 bytes"):
            resolve_vapid(_options({}), data)  # type: ignore[arg-type]
    finally:
        data.close()
