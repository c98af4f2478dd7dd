"""A browser's Web Push subscription names the stack's VAPID public key: two starts on one data
folder serve the same key (GET /dev/vapid), kept beside the JWT secret, and the banner says so."""

from __future__ import annotations

from tests.stack import ONE_PROCESS, LocalStack


def _start(data_dir: str) -> LocalStack:
    return LocalStack(CHAT_EPHEMERAL="", CHAT_DATA_DIR=data_dir, **ONE_PROCESS)


def test_two_starts_on_one_data_folder_serve_the_same_vapid_key(tmp_path):
    kept = tmp_path / "vapid-private-key"
    with _start(str(tmp_path)) as first:
        key = first.get_json("/dev/vapid")["public_key"]
        assert (
            f"VAPID key       {key} (GET {first.url}/dev/vapid; generated and kept in {kept})" in first.text
        )
    with _start(str(tmp_path)) as second:
        assert second.get_json("/dev/vapid")["public_key"] == key
        assert f"VAPID key       {key} (GET {second.url}/dev/vapid; kept in {kept})" in second.text
