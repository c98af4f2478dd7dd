"""Sans-I/O parts of sending a file: no socket, no asyncio, no clock of its own.

- ``outgoing``: a file checked before any request (a regular file of 1 byte to 25 MiB, a name
  the server takes, a ``type/subtype`` content type, guessed from the name when not given).
- ``Multipart``: the ``multipart/form-data`` body of S3's presigned POST: every form field in
  the server's order, then the file as the field ``file`` (S3 ignores fields after it). The
  head and tail are built in memory; the file's bytes are streamed between them (``chunks``),
  so a 25 MiB file is read once, from disk, a chunk at a time.
- ``UploadRetry``: after a failed upload, whether to post the same form again (a transient
  failure while the form lasts: the key is the same, so a repeat only overwrites), to ask for a
  new form (this one expired), or to give up (S3 refused the file: retrying cannot help).
"""

from __future__ import annotations

import enum
import mimetypes
import os
import re
import secrets
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

MAX_SIZE = 25 * 1024 * 1024  # 26,214,400 bytes: the protocol's limit per file
MAX_FILES = 10  # per message
MAX_NAME = 200  # characters
CHUNK = 1024 * 1024  # bytes read from disk and written to the socket at a time
DEFAULT_TYPE = "application/octet-stream"
MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")


@dataclass(frozen=True)
class Outgoing:
    """A file to send, as checked: where it is, the name and type it is sent with, its size."""

    path: str
    name: str
    content_type: str
    size: int


def _control(name: str) -> bool:
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name)


def outgoing(
    path: str | os.PathLike[str], content_type: str | None = None, name: str | None = None
) -> Outgoing:
    """``path`` checked for sending (``ValueError`` saying why not; nothing is asked of the
    server before). ``name``: the file's name by default; ``content_type``: guessed from the
    name by ``mimetypes``, else ``application/octet-stream``."""
    where = os.fspath(path)
    try:
        info = os.stat(where)
    except FileNotFoundError:
        raise ValueError(f"no file {where}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {where}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{where} is not a regular file")
    if not os.access(where, os.R_OK):
        raise ValueError(f"cannot read {where}: permission denied")
    if info.st_size == 0:
        raise ValueError(f"{where} is empty: there is nothing to send")
    if info.st_size > MAX_SIZE:
        raise ValueError(
            f"{where} is {info.st_size:,} bytes: files are at most {MAX_SIZE:,} bytes (25 MiB) each"
        )
    name = os.path.basename(where) if name is None else name
    if not name or len(name) > MAX_NAME or _control(name):
        raise ValueError(f"a file's name is 1 to {MAX_NAME} characters, no control characters: {name!r}")
    if content_type is None:
        content_type = mimetypes.guess_type(name, strict=False)[0] or DEFAULT_TYPE
    if not MEDIA_TYPE.match(content_type):
        raise ValueError(f"a content type is type/subtype without parameters, not {content_type!r}")
    return Outgoing(where, name, content_type.lower(), info.st_size)


def _quoted(value: str) -> str:
    """A name in a ``Content-Disposition`` parameter, escaped as browsers do (HTML form
    encoding): a double quote and line breaks as percent escapes, the rest as UTF-8."""
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


@dataclass(frozen=True)
class Multipart:
    """The body of one presigned POST: ``head`` (the form fields and the file part's header),
    the file's ``size`` bytes, ``tail``. ``length`` is the ``Content-Length``."""

    fields: Mapping[str, str]
    name: str
    content_type: str
    size: int
    boundary: str = field(default_factory=lambda: "chatclient-" + secrets.token_hex(16))

    def __post_init__(self) -> None:
        if "file" in self.fields:
            raise ValueError("the upload form has a field named 'file': that name is the file's")
        for key, value in self.fields.items():
            if self.boundary in key or self.boundary in value:
                raise ValueError("a form field contains the multipart boundary")

    @property
    def header(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def head(self) -> bytes:
        parts = [
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quoted(key)}"\r\n\r\n{value}\r\n'
            for key, value in self.fields.items()
        ]
        parts.append(
            f"--{self.boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="{_quoted(self.name)}"\r\n'
            f"Content-Type: {self.content_type}\r\n\r\n"
        )
        return "".join(parts).encode()

    @property
    def tail(self) -> bytes:
        return f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def length(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def chunks(self, file: BinaryIO, chunk: int = CHUNK) -> Iterator[bytes]:
        """The whole body, the file read from ``file`` a chunk at a time. ``FileChanged`` if the
        file does not hold ``size`` bytes any more (the form would refuse it anyway)."""
        yield self.head
        left = self.size
        while left:
            data = file.read(min(chunk, left))
            if not data:
                raise FileChanged(f"the file is now shorter than the {self.size:,} bytes announced")
            left -= len(data)
            yield data
        if file.read(1):
            raise FileChanged(f"the file is now longer than the {self.size:,} bytes announced")
        yield self.tail


class FileChanged(Exception):
    """The file changed on disk between its check and its upload."""


def form_fields(upload: Mapping[str, object]) -> tuple[str, dict[str, str]]:
    """``attachment:created``'s ``upload``: its URL and fields, checked."""
    url, fields = upload.get("url"), upload.get("fields")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"the server's upload form has no http(s) url: {url!r}")
    if not isinstance(fields, dict) or not all(isinstance(k, str) for k in fields):
        raise ValueError("the server's upload form has no fields")
    return url, {str(k): str(v) for k, v in fields.items()}


class Next(enum.Enum):
    SAME_FORM = "same form"  # post the same form again (after the delay)
    NEW_FORM = "new form"  # ask attachment.create for another one, then post that
    GIVE_UP = "give up"


# S3's error codes for a form whose policy expired (or whose signing credentials did).
EXPIRED_CODES = frozenset({"ExpiredToken", "TokenRefreshRequired", "RequestExpired"})


def transient(status: int | None) -> bool:
    """A failure worth another try with the same request: no answer at all (``None``: the
    connection failed or broke), a timeout, throttling, or a server error."""
    return status is None or status in (408, 429) or status >= 500


def expired(status: int | None, code: str, message: str) -> bool:
    """S3 says the form's policy (or its signature) expired."""
    if code in EXPIRED_CODES:
        return True
    return status in (400, 403) and "expired" in message.lower()


@dataclass
class UploadRetry:
    """What to do after each failed upload of one file. ``expires_at`` (seconds, the caller's
    clock) is when the current form stops working; a form about to expire (``margin``) is not
    posted again. At most ``max_failures`` transient failures and ``max_forms`` forms in all."""

    expires_at: float
    max_failures: int = 5
    max_forms: int = 3
    margin: float = 30.0
    failures: int = 0
    forms: int = 1

    def after(self, status: int | None, now: float, code: str = "", message: str = "") -> Next:
        if expired(status, code, message):
            return self._new_form()
        if not transient(status):
            return Next.GIVE_UP
        self.failures += 1
        if self.failures > self.max_failures:
            return Next.GIVE_UP
        if now >= self.expires_at - self.margin:
            return self._new_form()
        return Next.SAME_FORM

    def _new_form(self) -> Next:
        if self.forms >= self.max_forms:
            return Next.GIVE_UP
        return Next.NEW_FORM

    def renewed(self, expires_at: float) -> None:
        """A new form was made; it lasts until ``expires_at``."""
        self.forms += 1
        self.expires_at = expires_at
