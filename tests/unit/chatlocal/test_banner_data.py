"""The banner says where the data lives: the folder, the snapshot, the journal, and what this
start found there."""

from __future__ import annotations

from types import SimpleNamespace

from chatlocal.aws.table_store import Restored
from chatlocal.banner import _data_note, _kept_lines
from chatlocal.datadir import DataDir
from chatlocal.persistence import Persistence, Secret

OPTIONS = SimpleNamespace(save_interval=30.0)


def _persistence(tmp_path, journal: str, restored: Restored | None) -> Persistence:
    return Persistence(DataDir(tmp_path), Secret("s", "x"), journal, store=object(), restored=restored)  # type: ignore[arg-type]


def test_the_banner_names_the_folder_the_snapshot_and_the_journal(tmp_path):
    persistence = _persistence(tmp_path, "1", Restored(5, 2, (), "2026-12-06T20:00:00+00:00", 3))
    assert _data_note(OPTIONS, persistence) == (  # type: ignore[arg-type]
        f"{tmp_path} (restored 5 items in 2 tables saved 2026-12-06T20:00:00+00:00 and 3 journaled"
        " writes; make clean-data wipes it)"
    )
    snapshot, journal = _kept_lines(OPTIONS, persistence)  # type: ignore[arg-type]
    assert snapshot.startswith(f"  snapshot        {tmp_path / 'dynamodb.json'} (on stop, SIGHUP included,")
    assert journal.startswith(
        f"  journal         {tmp_path / 'dynamodb.journal'} (every write handed to the OS"
    )


def test_the_banner_says_when_the_journal_is_off_or_synced(tmp_path):
    off = _kept_lines(OPTIONS, _persistence(tmp_path, "0", None))  # type: ignore[arg-type]
    assert "off (CHAT_JOURNAL=0): a kill or a crash loses the writes since the last save" in off[1]
    synced = _kept_lines(OPTIONS, _persistence(tmp_path, "fsync", None))  # type: ignore[arg-type]
    assert "every write on disk (fsync) before it is answered" in synced[1]


def test_a_start_from_a_journal_alone_says_so(tmp_path):
    note = _data_note(OPTIONS, _persistence(tmp_path, "1", Restored(1, 1, (), "", 1)))  # type: ignore[arg-type]
    assert "restored 1 items in 1 tables no snapshot and 1 journaled writes" in note


def test_writes_replayed_from_the_journal_say_when_the_last_was_saved(tmp_path):
    restored = Restored(5, 2, (), "2026-12-06T20:00:00+00:00", 3, "2026-12-06T20:04:10+00:00")
    note = _data_note(OPTIONS, _persistence(tmp_path, "1", restored))  # type: ignore[arg-type]
    assert (
        "saved 2026-12-06T20:00:00+00:00 and 3 journaled writes (the last 2026-12-06T20:04:10+00:00)" in note
    )


def test_nothing_kept_has_no_snapshot_or_journal_lines(tmp_path):
    persistence = Persistence(None, Secret("s", "x"))
    assert _kept_lines(OPTIONS, persistence) == []  # type: ignore[arg-type]
