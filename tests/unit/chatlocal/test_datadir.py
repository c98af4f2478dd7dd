"""The local stack's data folder: the stored JWT secret, the lock, ``clean``. The DynamoDB dump
and restore written into it: aws/test_table_store.py."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from chatlocal.config import StartupError
from chatlocal.datadir import DEFAULT_DIR, DataDir, clean, data_directory, journal_mode


def test_data_directory_default_custom_and_ephemeral(tmp_path, monkeypatch):
    assert data_directory({}) == DEFAULT_DIR
    assert data_directory({"CHAT_DATA_DIR": str(tmp_path / "d")}) == tmp_path / "d"
    monkeypatch.chdir(tmp_path)
    assert data_directory({"CHAT_DATA_DIR": "rel"}) == tmp_path / "rel"
    assert data_directory({"CHAT_EPHEMERAL": "1", "CHAT_DATA_DIR": "rel"}) is None


def test_secret_is_generated_once_with_mode_0600(tmp_path):
    data = DataDir.open(tmp_path / "data")
    try:
        secret, created = data.secret()
        again, created_again = data.secret()
    finally:
        data.close()
    assert created and not created_again
    assert secret == again and len(secret) >= 32
    assert stat.S_IMODE((tmp_path / "data" / "jwt-secret").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700


def test_secret_file_readable_by_others_is_made_private(tmp_path):
    (tmp_path / "jwt-secret").write_text("kept-secret\n")
    (tmp_path / "jwt-secret").chmod(0o644)
    data = DataDir.open(tmp_path)
    try:
        assert data.secret() == ("kept-secret", False)
    finally:
        data.close()
    assert stat.S_IMODE((tmp_path / "jwt-secret").stat().st_mode) == 0o600


def test_empty_secret_file_is_an_error(tmp_path):
    (tmp_path / "jwt-secret").write_text("\n")
    data = DataDir.open(tmp_path)
    try:
        with pytest.raises(StartupError, match="is empty: delete it"):
            data.secret()
    finally:
        data.close()


def test_a_folder_in_use_is_refused_until_closed(tmp_path):
    first = DataDir.open(tmp_path)
    with pytest.raises(StartupError, match="in use by another local stack"):
        DataDir.open(tmp_path)
    first.close()
    DataDir.open(tmp_path).close()


def test_clean_removes_the_stacks_files_and_keeps_others(tmp_path):
    data = DataDir.open(tmp_path / "d")
    data.secret()
    data.close()
    (tmp_path / "d" / "dynamodb.json").write_text("{}")
    (tmp_path / "d" / "notes.txt").write_text("mine")
    removed = clean(tmp_path / "d")
    assert sorted(p.name for p in removed) == ["dynamodb.json", "jwt-secret"]
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["notes.txt"]


def test_clean_removes_an_emptied_folder_and_refuses_a_busy_one(tmp_path: Path):
    data = DataDir.open(tmp_path / "d")
    data.secret()
    with pytest.raises(StartupError, match="in use"):
        clean(tmp_path / "d")
    data.close()
    clean(tmp_path / "d")
    assert not (tmp_path / "d").exists()
    assert clean(tmp_path / "missing") == []


@pytest.mark.parametrize(
    ("value", "mode"),
    [(None, "1"), ("", "1"), ("1", "1"), ("on", "1"), ("0", "0"), ("off", "0"), ("FSYNC", "fsync")],
)
def test_journal_mode_from_chat_journal(value, mode):
    env = {} if value is None else {"CHAT_JOURNAL": value}
    assert journal_mode(env) == mode


def test_a_bad_chat_journal_is_a_startup_error():
    with pytest.raises(StartupError, match="CHAT_JOURNAL='sometimes' is not one of 1, 0, fsync"):
        journal_mode({"CHAT_JOURNAL": "sometimes"})


def test_clean_removes_the_journal_too(tmp_path):
    folder = tmp_path / "d"
    DataDir.open(folder).close()
    (folder / "dynamodb.journal").write_text("")
    (folder / "dynamodb.journal.tmp").write_text("")
    assert sorted(p.name for p in clean(folder)) == ["dynamodb.journal", "dynamodb.journal.tmp"]
