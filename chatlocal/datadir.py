"""The local stack's data folder (``.local/`` in the repository unless ``CHAT_DATA_DIR`` names
another; ``CHAT_EPHEMERAL=1`` keeps nothing). See docs/local-stack.md.

- ``jwt-secret``: the JWT secret, generated on the first run (mode 0600), so tokens outlive a
  restart.
- ``vapid-private-key``: the Web Push VAPID private key, generated on the first run (mode 0600),
  so a browser's push subscription outlives a restart.
- ``dynamodb.json``: every item of the embedded DynamoDB's tables (``chatlocal.aws.table_store``),
  written on stop and every ``CHAT_SAVE_INTERVAL_SECONDS`` when something was written; put back
  at start.
- ``dynamodb.journal``: every write the embedded DynamoDB answered since that save, appended
  before the answer (``chatlocal.aws.journal``; ``CHAT_JOURNAL=0`` turns it off, ``fsync`` waits
  for the disk too), replayed over ``dynamodb.json`` at start.
- ``s3/``: the embedded S3's files (``chatlocal.aws.s3``): ``objects.json`` (each object's bucket,
  key, content type and tags) and ``blobs/`` (their contents), saved and restored with the tables.
- ``lock``: held while a stack runs, so two stacks never write the same folder.

``python -m chatlocal.datadir clean`` (``make clean-data``) removes these files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from chatlocal.config import StartupError, env_flag

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / ".local"
SECRET_FILE = "jwt-secret"
VAPID_FILE = "vapid-private-key"
TABLES_FILE = "dynamodb.json"
JOURNAL_FILE = "dynamodb.journal"
JOURNAL_MODES = {"0": "0", "off": "0", "1": "1", "on": "1", "": "1", "fsync": "fsync"}
LOCK_FILE = "lock"
OBJECTS_FOLDER = "s3"


def data_directory(env: Mapping[str, str]) -> Path | None:
    """Where the data lives, or None for a run that keeps nothing."""
    if env_flag(env, "CHAT_EPHEMERAL"):
        return None
    raw = (env.get("CHAT_DATA_DIR") or "").strip()
    return Path(raw).expanduser().resolve() if raw else DEFAULT_DIR


def journal_mode(env: Mapping[str, str]) -> str:
    """CHAT_JOURNAL: "1" (the default: each write flushed to the OS before it is answered), "0"
    (no journal), "fsync" (each write on disk before it is answered)."""
    raw = (env.get("CHAT_JOURNAL") or "").strip().lower()
    if raw not in JOURNAL_MODES:
        raise StartupError(f"CHAT_JOURNAL={raw!r} is not one of 1, 0, fsync")
    return JOURNAL_MODES[raw]


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
        return self._kept(SECRET_FILE, "JWT secret", lambda: secrets.token_urlsafe(32))

    def vapid_key(self, generate: Callable[[], str]) -> tuple[str, bool]:
        """The stored Web Push VAPID private key, as ``secret``: ``generate`` makes the first."""
        return self._kept(VAPID_FILE, "VAPID private key", generate)

    def _kept(self, name: str, what: str, generate: Callable[[], str]) -> tuple[str, bool]:
        file = self.path / name
        try:
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self._read_kept(file, what), False
        value = generate()
        with os.fdopen(fd, "w") as out:
            out.write(value + "\n")
        return value, True

    @staticmethod
    def _read_kept(file: Path, what: str) -> str:
        try:
            value = file.read_text().strip()
        except OSError as exc:
            raise StartupError(f"cannot read the {what} {file}: {exc.strerror or exc}") from None
        if not value:
            raise StartupError(f"the {what} file {file} is empty: delete it to generate a new one")
        if file.stat().st_mode & 0o077:
            file.chmod(0o600)
        return value

    @property
    def tables_file(self) -> Path:
        return self.path / TABLES_FILE

    @property
    def journal_file(self) -> Path:
        return self.path / JOURNAL_FILE

    @property
    def objects_folder(self) -> Path:
        return self.path / OBJECTS_FOLDER


def _our_files(path: Path) -> Iterator[Path]:
    yield path / SECRET_FILE
    yield path / VAPID_FILE
    yield path / TABLES_FILE
    yield from path.glob(f"{TABLES_FILE}.tmp-*")
    yield path / JOURNAL_FILE
    yield path / f"{JOURNAL_FILE}.tmp"
    objects = path / OBJECTS_FOLDER
    if objects.is_dir():
        yield from (file for file in (objects / "blobs").glob("*") if file.is_file())
        yield from (file for file in objects.glob("*") if file.is_file())


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
    for folder in (path / OBJECTS_FOLDER / "blobs", path / OBJECTS_FOLDER):
        with contextlib.suppress(OSError):
            folder.rmdir()
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
