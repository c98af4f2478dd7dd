"""What a run of the local stack keeps: its JWT secret and its Web Push VAPID key (each the
environment's, else the data folder's, else a new one); the embedded DynamoDB's items, restored at
start, journaled as each write is answered (``chatlocal.aws.journal``, unless ``CHAT_JOURNAL=0``)
and saved every ``CHAT_SAVE_INTERVAL_SECONDS`` after a change and on stop (``chatlocal.datadir``,
``chatlocal.aws.table_store``); and the embedded S3's files, restored at start and saved with them
(``chatlocal.aws.s3``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TextIO

from chatlocal.aws.moto_process import RemoteObjectStore, RemoteTableStore
from chatlocal.aws.s3 import ObjectStore, RestoredObjects
from chatlocal.aws.table_store import Restored, TableStore
from chatlocal.config import StartupError
from chatlocal.datadir import VAPID_FILE, DataDir
from chatlocal.push.providers import VapidKeys

if TYPE_CHECKING:
    from chatlocal.aws.services import Services
    from chatlocal.options import Options

log = logging.getLogger("chatlocal")


@dataclass(frozen=True)
class Secret:
    value: str
    origin: str  # how the banner explains it


def resolve_secret(options: Options, data: DataDir | None) -> Secret:
    if options.secret:
        return Secret(options.secret, "from CHAT_JWT_SECRET")
    if data is None:
        return Secret(secrets.token_urlsafe(32), "generated for this run only (CHAT_EPHEMERAL=1)")
    value, created = data.secret()
    where = data.path / "jwt-secret"
    return Secret(value, f"{'generated and ' if created else ''}kept in {where}")


def resolve_vapid(options: Options, data: DataDir | None) -> VapidKeys:
    """The Web Push key pair: the environment's, else the data folder's (generated there on the
    first run), else one for this run only. A browser's subscription names the public key, so
    keeping it keeps the subscriptions working after a restart."""
    if options.vapid.given:
        return options.vapid
    if data is None:
        return replace(options.vapid, origin="generated for this run only (CHAT_EPHEMERAL=1)")
    from infra.vapid_key import new_private_key

    private, created = data.vapid_key(new_private_key)
    where = data.path / VAPID_FILE
    try:
        return VapidKeys.of(private, f"{'generated and ' if created else ''}kept in {where}", str(where))
    except ValueError as exc:
        raise StartupError(f"{exc}: delete the file to generate a new key") from None


@dataclass
class Persistence:
    """What this run keeps, for the banner and the saves."""

    data: DataDir | None
    secret: Secret
    journal: str = "1"  # CHAT_JOURNAL (chatlocal.datadir.journal_mode)
    store: TableStore | RemoteTableStore | None = None
    restored: Restored | None = None
    objects: ObjectStore | RemoteObjectStore | None = None  # the embedded S3's files
    restored_objects: RestoredObjects | None = None


def table_keeper(services: Services, data: DataDir, region: str, mode: str) -> TableStore | RemoteTableStore:
    """The saved data's keeper: where the embedded moto runs, as its backend is read directly."""
    moto = services.moto
    if moto is None:
        return TableStore(data.tables_file, region, data.journal_file, mode)
    return RemoteTableStore(moto, data.tables_file, region, data.journal_file, mode)


def object_keeper(services: Services, data: DataDir) -> ObjectStore | RemoteObjectStore:
    """The saved files' keeper: where the embedded moto runs, as its backend is read directly."""
    moto = services.moto
    if moto is None:
        return ObjectStore(data.objects_folder)
    return RemoteObjectStore(moto, data.objects_folder)


Saved = TableStore | RemoteTableStore | ObjectStore | RemoteObjectStore


async def save_periodically(store: Saved, interval: float) -> None:
    """Bound what a crash loses to ``interval`` seconds of writes."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval)
        try:
            await loop.run_in_executor(None, store.save_if_changed)
        except OSError as exc:
            log.error("could not save the local data to %s: %s (will retry)", store.file, exc)


def final_save(store: Saved, what: str = "data") -> None:
    """Save on stop. Never raises: the terminal may be gone (SIGHUP), and then printing fails."""
    try:
        saved = store.save_if_changed()
    except OSError as exc:
        say(f"chatlocal: could not save the local {what} to {store.file}: {exc}", sys.stderr)
        return
    if isinstance(store, TableStore):
        store.close()
    if saved:
        say(f"Saved the local {what} to {store.file}.")


def say(text: str, stream: TextIO | None = None) -> None:
    """Print, unless the output is gone (a closed terminal answers EIO, a closed pipe EPIPE)."""
    with contextlib.suppress(OSError, ValueError):
        print(text, file=stream or sys.stdout, flush=True)
