"""What a run of the local stack keeps: its JWT secret (the environment's, else the data
folder's, else a new one) and the embedded DynamoDB's items, restored at start and saved every
``CHAT_SAVE_INTERVAL_SECONDS`` after a change and on stop (``chatlocal.datadir``,
``chatlocal.aws.table_store``)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chatlocal.aws.moto_process import RemoteTableStore
from chatlocal.aws.table_store import Restored, TableStore
from chatlocal.datadir import DataDir

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


@dataclass
class Persistence:
    """What this run keeps, for the banner and the saves."""

    data: DataDir | None
    secret: Secret
    store: TableStore | RemoteTableStore | None = None
    restored: Restored | None = None


def table_keeper(services: Services, file: Path, region: str) -> TableStore | RemoteTableStore:
    """The saved data's keeper: where the embedded moto runs, as its backend is read directly."""
    moto = services.moto
    return TableStore(file, region) if moto is None else RemoteTableStore(moto, file, region)


async def save_periodically(store: TableStore | RemoteTableStore, interval: float) -> None:
    """Bound what a crash loses to ``interval`` seconds of writes."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval)
        try:
            await loop.run_in_executor(None, store.save_if_changed)
        except OSError as exc:
            log.error("could not save the local data to %s: %s (will retry)", store.file, exc)


def final_save(store: TableStore | RemoteTableStore) -> None:
    try:
        if store.save_if_changed():
            print(f"Saved the local data to {store.file}.", flush=True)
    except OSError as exc:
        print(f"chatlocal: could not save the local data to {store.file}: {exc}", file=sys.stderr)
