"""The embedded DynamoDB's write-ahead journal (the data folder's ``dynamodb.journal``): every
request that changed a table appends one line before its answer leaves moto, so a write the app
was told succeeded (and so every message a client got ``message:ack`` for) is in the file even
if the whole stack is killed the next instant.

A line is the request's effect, not the request: each item it touched as it is afterwards
(``{"w": [[table, key, item or null], ...]}``, null when the item is gone), or ``{"clear": table}``
for a table created or deleted. Replaying lines in order over any snapshot taken after the
journal began therefore gives the latest state again, however many of the lines the snapshot
already holds: replay is idempotent, and ``chatlocal.aws.table_store`` need not know which lines
a snapshot covers (it drops those it knows it covers once the snapshot is on disk).

Each line is one ``write(2)`` on a file opened with O_APPEND and no buffer of ours, so once the
request's answer is sent the line is in the operating system's hands: a killed process (SIGKILL
included) loses nothing; a power cut or kernel crash may lose what the OS had not written yet.
``CHAT_JOURNAL=fsync`` also waits for the disk on every write (ms each on most disks);
``CHAT_JOURNAL=0`` turns the journal off (then only the saves keep data).

A last line without its newline (the disk filled up, the machine crashed mid-write) is ignored at
replay; an unreadable line before others is refused (the file was damaged by something else).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chatlocal.config import StartupError

MODES = ("0", "1", "fsync")  # off, flushed to the OS before the answer, written to disk before it
_ITEM_ACTIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
_TABLE_ACTIONS = frozenset({"CreateTable", "DeleteTable"})


class Journal:
    """The open journal, appended to under the DynamoDB lock (``chatlocal.aws.moto_atomic``)."""

    def __init__(self, file: Path, region: str, sync: bool = False) -> None:
        self.file = file
        self.region = region  # the one the snapshot keeps: other regions' writes are not kept
        self.sync = sync
        self._fd = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.lines = 0  # appended since it was opened

    def record(self, handler: Any, action: str, response: Any) -> None:
        """The effect of one DynamoDB request moto just handled (``moto_atomic``'s observer)."""
        if action not in _ITEM_ACTIONS and action not in _TABLE_ACTIONS:
            return
        if _failed(response) or handler.region != self.region:
            return
        body = handler.body if isinstance(handler.body, dict) else json.loads(handler.body or "{}")
        if action in _TABLE_ACTIONS:
            self.append({"clear": str(body.get("TableName", ""))})
            return
        backend = handler.dynamodb_backend
        states = [
            [table, _plain(key), _after(backend, table, key)] for table, key in touched(backend, action, body)
        ]
        if states:
            self.append({"w": states})

    def append(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        written = os.write(self._fd, line)
        while written < len(line):  # a short write (a full disk raises instead): the rest
            written += os.write(self._fd, line[written:])
        if self.sync:
            os.fsync(self._fd)
        self.lines += 1

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def drop_before(self, offset: int) -> None:
        """Keep only what was appended from ``offset`` on (a snapshot on disk holds the rest).
        Under the DynamoDB lock, so nothing is appended meanwhile. Crash-safe: the file is the
        whole old journal or the new one (replaying the old one over the snapshot is harmless)."""
        with self.file.open("rb") as old:
            old.seek(offset)
            tail = old.read()
        temporary = self.file.with_name(self.file.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, tail)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.file)
        os.close(self._fd)
        self._fd = os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read(file: Path) -> tuple[list[dict[str, Any]], int]:
    """The journal's complete lines, and the length they take (a torn last line excluded)."""
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        return [], 0
    except OSError as exc:
        raise StartupError(
            f"cannot read the journal {file} ({exc}): move it away, or `make clean-data`"
        ) from None
    entries, valid = [], 0
    for number, line in enumerate(_lines(data), 1):
        if not line.endswith(b"\n"):
            break  # torn: the write it belonged to was never answered
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
        except ValueError:
            raise StartupError(
                f"line {number} of the journal {file} is damaged: move the file away (losing the"
                " writes since the last save), or `make clean-data`"
            ) from None
        entries.append(entry)
        valid += len(line)
    return entries, valid


def replay(backend: Any, entries: list[dict[str, Any]]) -> int:
    """Apply the entries in order to moto's backend; returns how many applied (a table not
    created this run is skipped, as the snapshot's items of such a table are)."""
    applied = 0
    for entry in entries:
        if "clear" in entry:
            table = backend.tables.get(entry["clear"])
            if table is not None:
                for item in list(table.all_items()):
                    backend.delete_item(entry["clear"], _key_attributes(table, item))
            applied += 1
            continue
        for name, key, item in entry.get("w", ()):
            if name not in backend.tables:
                continue
            if item is None:
                if backend.get_item(name, key) is not None:
                    backend.delete_item(name, key)
            else:
                backend.put_item(name, item)
        applied += 1
    return applied


def touched(backend: Any, action: str, body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The (table, key) of each item a write request may have changed."""
    if action == "PutItem":
        key = _key_of_item(backend, body.get("TableName", ""), body.get("Item"))
        if key is not None:
            yield body["TableName"], key
    elif action in ("UpdateItem", "DeleteItem"):
        if isinstance(body.get("Key"), dict):
            yield body.get("TableName", ""), body["Key"]
    elif action == "BatchWriteItem":
        for name, requests in (body.get("RequestItems") or {}).items():
            for request in requests:
                if "PutRequest" in request:
                    key = _key_of_item(backend, name, request["PutRequest"].get("Item"))
                    if key is not None:
                        yield name, key
                elif "DeleteRequest" in request:
                    yield name, request["DeleteRequest"].get("Key") or {}
    elif action == "TransactWriteItems":
        for entry in body.get("TransactItems") or ():
            for kind, op in entry.items():
                if kind == "Put":
                    key = _key_of_item(backend, op.get("TableName", ""), op.get("Item"))
                    if key is not None:
                        yield op["TableName"], key
                elif kind in ("Update", "Delete") and isinstance(op.get("Key"), dict):
                    yield op.get("TableName", ""), op["Key"]


def _key_of_item(backend: Any, name: str, item: Any) -> dict[str, Any] | None:
    table = backend.tables.get(name)
    if table is None or not isinstance(item, dict):
        return None
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    if not all(n in item for n in names):
        return None
    return {n: item[n] for n in names}


def _key_attributes(table: Any, item: Any) -> dict[str, Any]:
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return {n: item.attrs[n].to_json() for n in names}


def _after(backend: Any, name: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """The item as it is now, in DynamoDB's wire JSON; None when there is none."""
    if name not in backend.tables:
        return None
    try:
        item = backend.get_item(name, key)
    except Exception:  # an invalid key: moto refused the request, nothing was written
        return None
    return None if item is None else item_json(item)


def _plain(value: Any) -> Any:
    """A request's attribute value as JSON (binary arrives parsed as bytes: base64, as saved)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _failed(response: Any) -> bool:
    """moto answers (status, headers, body); an error status changed nothing (a cancelled
    transaction is rolled back, a failed condition wrote nothing)."""
    status = response[0] if isinstance(response, tuple) and response else 200
    return isinstance(status, int) and status >= 400


def _lines(data: bytes) -> Iterator[bytes]:
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:
            yield data[start:]
            return
        yield data[start : end + 1]
        start = end + 1


def item_json(item: Any) -> dict[str, Any]:
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
