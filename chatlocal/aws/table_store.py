"""The embedded DynamoDB's items saved to one JSON file (the data folder's ``dynamodb.json``,
``chatlocal.datadir``) and put back at start: read from moto's in-process backend (no Scan is
issued), written atomically (temporary file, then rename). Between saves the journal
(``dynamodb.journal``, ``chatlocal.aws.journal``) holds every write, before it is answered; at
start it is replayed over the snapshot, and each save drops the lines the snapshot holds.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatlocal.aws import journal
from chatlocal.aws.journal import Journal
from chatlocal.aws.journal import item_json as _item_json
from chatlocal.config import StartupError

FORMAT = "chatlocal-dynamodb"
VERSION = 1


@dataclass(frozen=True)
class Restored:
    items: int
    tables: int
    missing_tables: tuple[str, ...]  # in the file but not created this run: their items are dropped
    saved_at: str  # "" when there was no snapshot, only a journal
    replayed: int = 0  # journal lines applied over the snapshot
    journaled_at: str = ""  # when the last of them was written ("" without any)


class TableStore:
    """The embedded DynamoDB's items, saved to and restored from one JSON file. Reads and writes
    moto's in-process backend under the lock its request handler holds (chatlocal.aws.moto_atomic),
    so a save sees no request half done."""

    def __init__(self, file: Path, region: str, journal_file: Path | None = None, mode: str = "1") -> None:
        self.file = file
        self.region = region
        self.journal_file = journal_file  # replayed at restore if it exists, whatever the mode
        self.mode = mode  # chatlocal.aws.journal.MODES: "0" journals nothing
        self._journal: Journal | None = None
        self._saved_writes = -1  # the write count at the last save (or restore)
        self._saving = threading.Lock()  # the periodic save and the one on stop may overlap
        self.restored = False

    def restore(self) -> Restored | None:
        """Put the saved items back (None when there is no file). Call after the tables exist and
        before the app runs."""
        from chatlocal.aws.moto_atomic import dynamodb_lock, dynamodb_writes, observe_writes

        saved = self._read()
        entries, valid = journal.read(self.journal_file) if self.journal_file else ([], 0)
        journaled_at = _modified_at(self.journal_file) if entries and self.journal_file else ""
        with dynamodb_lock():
            backend = self._backend()
            tables = backend.tables
            saved_tables: dict[str, list[dict[str, Any]]] = saved["tables"] if saved else {}
            missing = tuple(sorted(name for name in saved_tables if name not in tables))
            for name, items in saved_tables.items():
                if name in tables:
                    for attributes in items:
                        backend.put_item(name, attributes)
            replayed = journal.replay(backend, entries)
            count = sum(len(table) for table in tables.values())
            self._saved_writes = dynamodb_writes()
            self.restored = True
            if self.journal_file is not None and self.mode != "0":
                if self.journal_file.exists():
                    os.truncate(self.journal_file, valid)  # a torn last line, never answered
                self._journal = Journal(self.journal_file, self.region, sync=self.mode == "fsync")
                observe_writes(self._journal.record)
        if entries:
            self._save()  # the snapshot holds the journal's lines now: it starts empty
        if saved is None and not entries:
            return None
        return Restored(
            count,
            len(saved_tables) - len(missing),
            missing,
            str(saved.get("saved_at")) if saved else "",
            replayed,
            journaled_at,
        )

    def close(self) -> None:
        """Stop journaling (after the final save)."""
        from chatlocal.aws.moto_atomic import dynamodb_lock, observe_writes

        with dynamodb_lock():
            if self._journal is not None:
                observe_writes(None)
                self._journal.close()
                self._journal = None

    def save_if_changed(self) -> bool:
        """Save when a write reached DynamoDB since the last save; returns whether it saved."""
        from chatlocal.aws.moto_atomic import dynamodb_writes

        with self._saving:
            if not self.restored or dynamodb_writes() == self._saved_writes:
                return False
            self._save()
            return True

    def save(self) -> int:
        """Write every item now (atomically); returns how many."""
        if not self.restored:
            raise RuntimeError("save before restore would replace the saved data with an empty database")
        with self._saving:  # one save at a time, so an older snapshot never replaces a newer one
            return self._save()

    def _save(self) -> int:
        from chatlocal.aws.moto_atomic import dynamodb_lock, dynamodb_writes

        with dynamodb_lock():
            writes = dynamodb_writes()
            covered = self._journal.size() if self._journal is not None else 0
            tables = {
                name: [_item_json(item) for item in table.all_items()]
                for name, table in self._backend().tables.items()
            }
        document = {
            "format": FORMAT,
            "version": VERSION,
            "region": self.region,
            "saved_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "tables": tables,
        }
        _write_atomically(self.file, json.dumps(document, separators=(",", ":")).encode())
        self._saved_writes = writes
        with dynamodb_lock():
            if self._journal is not None:
                self._journal.drop_before(covered)
            elif self.journal_file is not None:
                with contextlib.suppress(FileNotFoundError):
                    self.journal_file.unlink()  # replayed at start with the journal off
        return sum(len(items) for items in tables.values())

    def _read(self) -> dict[str, Any] | None:
        try:
            document = json.loads(self.file.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StartupError(
                f"cannot read the saved data {self.file} ({exc}): move it away, or `make clean-data`"
            ) from None
        if not (
            isinstance(document, dict)
            and document.get("format") == FORMAT
            and document.get("version") == VERSION
            and isinstance(document.get("tables"), dict)
        ):
            raise StartupError(
                f"{self.file} is not saved data of this version: move it away, or `make clean-data`"
            )
        return document

    def _backend(self) -> Any:
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[DEFAULT_ACCOUNT_ID][self.region]


def _modified_at(file: Path) -> str:
    """When ``file`` was last written, as the snapshot's ``saved_at`` says it (UTC, seconds)."""
    try:
        when = file.stat().st_mtime
    except OSError:
        return ""
    return datetime.datetime.fromtimestamp(when, datetime.UTC).isoformat(timespec="seconds")


def _write_atomically(file: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one, even after a crash."""
    fd, name = tempfile.mkstemp(prefix=f"{file.name}.tmp-", dir=file.parent)  # mode 0600
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, file)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    directory = os.open(file.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
