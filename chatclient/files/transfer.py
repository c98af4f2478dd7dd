"""The blocking HTTP of files, with ``urllib`` (run in a thread: ``asyncio.to_thread``).

``post_form`` streams a ``Multipart`` body from disk to a presigned POST and raises
``TransferError`` unless S3 answers 2xx; ``fetch`` streams a ``GET`` into a file beside the
destination and renames it into place only when complete. ``stop``: a ``threading.Event`` that
ends a transfer between chunks (the caller was cancelled).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

from chatclient.files.form import CHUNK, FileChanged, Multipart

TIMEOUT = 60.0  # seconds without progress on the socket


class TransferError(Exception):
    """An upload or a download that did not succeed: ``status`` is the HTTP status (None: no
    answer, the connection failed or broke), ``code`` and ``detail`` S3's error, if it said."""

    def __init__(self, what: str, status: int | None, code: str = "", detail: str = "") -> None:
        said = " ".join(part for part in (code, detail) if part)
        answered = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"{what}: {answered}{f' ({said})' if said else ''}")
        self.status = status
        self.code = code
        self.detail = detail


class Stopped(Exception):
    """The transfer was stopped by its caller."""


def s3_error(body: bytes) -> tuple[str, str]:
    """S3's XML error's ``Code`` and ``Message`` (empty when it is not one)."""
    text = body[:8192].decode("utf-8", "replace")
    code = re.search(r"<Code>([^<]*)</Code>", text)
    message = re.search(r"<Message>([^<]*)</Message>", text)
    return (code.group(1) if code else "", message.group(1) if message else "")


def _said(exc: urllib.error.HTTPError) -> tuple[str, str]:
    try:
        return s3_error(exc.read())
    except OSError:
        return "", ""


def _body(form: Multipart, path: str, stop: threading.Event | None) -> Iterator[bytes]:
    with open(path, "rb") as file:
        for chunk in form.chunks(file):
            if stop is not None and stop.is_set():
                raise Stopped("upload stopped")
            yield chunk


def post_form(
    url: str, form: Multipart, path: str, *, timeout: float = TIMEOUT, stop: threading.Event | None = None
) -> None:
    """POST ``form`` with the file at ``path`` to ``url``; returns on a 2xx answer."""
    request = urllib.request.Request(
        url,
        data=_body(form, path, stop),
        method="POST",
        headers={"Content-Type": form.header, "Content-Length": str(form.length)},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        code, detail = _said(exc)
        raise TransferError("upload refused", exc.code, code, detail) from None
    except (FileChanged, Stopped):
        raise
    except urllib.error.URLError as exc:
        raise TransferError(f"upload failed ({exc.reason})", None) from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:  # a reset, a timeout, a bad URL
        raise TransferError(f"upload failed ({exc})", None) from exc


def fetch(
    url: str,
    destination: str,
    size: int | None = None,
    *,
    timeout: float = TIMEOUT,
    stop: threading.Event | None = None,
) -> int:
    """GET ``url`` into ``destination`` (replaced only once the whole file is there); the
    number of bytes. ``size``: what the file must hold (``TransferError`` otherwise)."""
    folder = os.path.dirname(os.path.abspath(destination))
    handle, partial = tempfile.mkstemp(prefix=".part-", dir=folder)
    received = 0
    try:
        with os.fdopen(handle, "wb") as file:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    while chunk := response.read(CHUNK):
                        if stop is not None and stop.is_set():
                            raise Stopped("download stopped")
                        file.write(chunk)
                        received += len(chunk)
            except urllib.error.HTTPError as exc:
                code, detail = _said(exc)
                raise TransferError("download refused", exc.code, code, detail) from None
            except urllib.error.URLError as exc:
                raise TransferError(f"download failed ({exc.reason})", None) from exc
            except (ConnectionError, TimeoutError, http.client.HTTPException) as exc:
                raise TransferError(f"download failed ({exc})", None) from exc
        if size is not None and received != size:
            raise TransferError(f"download incomplete: {received:,} of {size:,} bytes", None)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(partial, 0o666 & ~umask)  # as a file the user made (mkstemp's is 0600)
        os.replace(partial, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    return received


def safe_name(name: str, fallback: str) -> str:
    """A file's name as one path component: separators and control characters replaced, no
    leading dot (no hidden file, no ``..``); ``fallback`` if nothing is left."""
    cleaned = "".join("_" if c in "/\\" or ord(c) < 32 or ord(c) == 127 else c for c in name).strip()
    cleaned = cleaned.lstrip(".").strip()
    return cleaned[:200] or fallback


def destination(name: str, fallback: str, path_or_dir: str | os.PathLike[str]) -> str:
    """Where a download goes: into a folder under the file's own name (`` (1)``, `` (2)``...
    before the extension when that name is taken), or to exactly the path given, replacing a
    file there. ``ValueError`` when its folder does not exist."""
    where = os.fspath(path_or_dir)
    if os.path.isdir(where):
        stem, ext = os.path.splitext(safe_name(name, fallback))
        candidate = os.path.join(where, stem + ext)
        number = 1
        while os.path.lexists(candidate):
            candidate = os.path.join(where, f"{stem} ({number}){ext}")
            number += 1
        return candidate
    folder = os.path.dirname(os.path.abspath(where))
    if not os.path.isdir(folder):
        raise ValueError(f"no folder {folder} to save {where} in")
    return where
