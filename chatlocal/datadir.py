"""The local stack's data folder (``.local/`` in the repository unless ``CHAT_DATA_DIR`` names
another; ``CHAT_EPHEMERAL=1`` keeps nothing). See docs/local-stack.md.

- ``jwt-secret``: the JWT secret, generated on the first run (mode 0600), so tokens outlive a
  restart.
- ``dynamodb.json``: every item of the embedded DynamoDB's tables, read from moto's in-process
  backend (no Scan is issued), written atomically (temporary file, then rename) on stop and
  every ``CHAT_SAVE_INTERVAL_SECONDS`` when something was written; put back at start.
- ``lock``: held while a stack runs, so two stacks never write the same folder.

``python -m chatlocal.datadir clean`` (``make clean-data``) removes these files.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import fcntl
import json
import os
import secrets
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from chatlocal.config import StartupError, env_flag

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / ".local"
SECRET_FILE = "jwt-secret"
TABLES_FILE = "dynamodb.json"
LOCK_FILE = "lock"
FORMAT = "chatlocal-dynamodb"
VERSION = 1


def data_directory(env: Mapping[str, str]) -> Path | None:
    """Where the data lives, or None for a run that keeps nothing."""
    if env_flag(env, "CHAT_EPHEMERAL"):
        return None
    raw = (env.get("CHAT_DATA_DIR") or "").strip()
    return Path(raw).expanduser().resolve() if raw else DEFAULT_DIR


@dataclass
class DataDir:
    """An open data folder: locked until ``close``."""

    path: Path
    _lock: IO[str] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, path: Path) -> DataDir:
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            lock = (path / LOCK_FILE).open("a+")
        except OSError as exc:
            raise StartupError(f"cannot use the data folder {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise StartupError(
                f"the data folder {path} is in use by another local stack: stop it, or set"
                " CHAT_DATA_DIR to another folder (or CHAT_EPHEMERAL=1 to keep nothing)"
            ) from None
        return cls(path, lock)

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    def secret(self) -> tuple[str, bool]:
        """The stored JWT secret, generated and stored (mode 0600) on the first call ever.
        Returns the secret and whether it was just generated."""
        file = self.path / SECRET_FILE
        try:
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self._read_secret(file), False
        secret = secrets.token_urlsafe(32)
        with os.fdopen(fd, "w") as out:
            out.write(secret + "\n")
        return secret, True

    @staticmethod
    def _read_secret(file: Path) -> str:
        try:
            secret = file.read_text().strip()
        except OSError as exc:
            raise StartupError(f"cannot read the JWT secret {file}: {exc.strerror or exc}") from None
        if not secret:
            raise StartupError(f"the JWT secret file {file} is empty: delete it to generate a new one")
        if file.stat().st_mode & 0o077:
            file.chmod(0o600)
        return secret

    @property
    def tables_file(self) -> Path:
        return self.path / TABLES_FILE


@dataclass(frozen=True)
class Restored:
    items: int
    tables: int
    missing_tables: tuple[str, ...]  # in the file but not created this run: their items are dropped
    saved_at: str


class TableStore:
    """The embedded DynamoDB's items, saved to and restored from one JSON file. Reads and writes
    moto's in-process backend under the lock its request handler holds (chatlocal.moto_atomic),
    so a save sees no request half done."""

    def __init__(self, file: Path, region: str) -> None:
        self.file = file
        self.region = region
        self._saved_writes = -1  # the write count at the last save (or restore)
        self._saving = threading.Lock()  # the periodic save and the one on stop may overlap
        self.restored = False

    def restore(self) -> Restored | None:
        """Put the saved items back (None when there is no file). Call after the tables exist and
        before the app runs."""
        from chatlocal.moto_atomic import dynamodb_lock, dynamodb_writes

        saved = self._read()
        with dynamodb_lock():
            self._saved_writes = dynamodb_writes()
            self.restored = True
            if saved is None:
                return None
            tables = self._backend().tables
            missing = tuple(sorted(name for name in saved["tables"] if name not in tables))
            count = 0
            for name, items in saved["tables"].items():
                if name in tables:
                    for attributes in items:
                        self._backend().put_item(name, attributes)
                    count += len(items)
        return Restored(count, len(saved["tables"]) - len(missing), missing, str(saved.get("saved_at")))

    def save_if_changed(self) -> bool:
        """Save when a write reached DynamoDB since the last save; returns whether it saved."""
        from chatlocal.moto_atomic import dynamodb_writes

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
        from chatlocal.moto_atomic import dynamodb_lock, dynamodb_writes

        with dynamodb_lock():
            writes = dynamodb_writes()
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


def _item_json(item: Any) -> dict[str, Any]:
    """A moto item as DynamoDB's wire JSON (binary as base64), as PutItem takes it back."""
    return {name: _value_json(value) for name, value in item.attrs.items()}


def _value_json(value: Any) -> dict[str, Any]:
    kind, inner = value.type, value.value
    if kind == "M":
        return {kind: {key: _value_json(nested) for key, nested in inner.items()}}
    if kind == "L":
        return {kind: [_value_json(nested) for nested in inner]}
    if kind == "B":
        return {kind: _base64(inner)}
    if kind == "BS":
        return {kind: [_base64(member) for member in inner]}
    if isinstance(inner, list):  # SS, NS: copied, as moto may change its list after the lock
        return {kind: list(inner)}
    return {kind: inner}  # S, N, BOOL, NULL: JSON already, immutable


def _base64(value: str | bytes) -> str:
    """moto keeps binary as the request's base64 text, or as bytes when it decoded it."""
    return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value


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


def _our_files(path: Path) -> Iterator[Path]:
    yield path / SECRET_FILE
    yield path / TABLES_FILE
    yield from path.glob(f"{TABLES_FILE}.tmp-*")


def clean(path: Path) -> list[Path]:
    """Remove the stack's files from ``path`` (refused while a stack uses it), and the folder if
    nothing else is in it. Returns what was removed."""
    if not path.exists():
        return []
    data = DataDir.open(path)
    removed = []
    try:
        for file in _our_files(path):
            if file.exists():
                file.unlink()
                removed.append(file)
    finally:
        data.close()
    with contextlib.suppress(OSError):
        (path / LOCK_FILE).unlink()
    with contextlib.suppress(OSError):
        path.rmdir()  # only when empty: a folder the user chose may hold their own files
    return removed


def _main(argv: list[str]) -> int:
    if argv != ["clean"]:
        print("usage: python -m chatlocal.datadir clean", file=sys.stderr)
        return 2
    try:
        path = data_directory(os.environ) or DEFAULT_DIR
        removed = clean(path)
    except StartupError as exc:
        print(f"chatlocal: {exc}", file=sys.stderr)
        return 2
    print(f"Removed {len(removed)} file(s) from {path}." if removed else f"No local stack data in {path}.")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
