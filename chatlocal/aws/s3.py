"""The attachments bucket on the local stack: moto's S3 made to behave as S3 does where the web
page and the app depend on it, the bucket made ready at start, and its objects saved to the data
folder and put back at start.

1. CORS as the bucket says. moto's server answers every request of every service with CORS
   headers that let any origin in (flask_cors); S3 answers by the bucket's CORS rules. Here S3
   answers by the rules (``cors_origins``: the stack's own page), so a page served from another
   origin fails locally as it would on AWS, and the POST of an upload form carries the rule's
   headers (moto adds them to GETs only).
2. The ``tagging`` field of an upload form (a presigned POST) tags the object, as on S3 (moto
   ignores it): an upload carries ``pending=true`` until a send attaches it.
3. A count of S3 requests that may write (anything but GET, HEAD and OPTIONS), taken under a lock
   a save also holds, so the periodic save skips when nothing changed and never sees half a write.

What moto still does not do: check an upload form's policy (its expiry, ``content-length-range``
and ``eq $Content-Type``: any size and type is stored; the backend checks each object with
HeadObject before attaching it), expire presigned GETs, or run lifecycle rules (a pending upload
stays until deleted). See docs/local-stack.md.

``ObjectStore`` keeps the objects of the buckets in the data folder's ``s3/`` (``objects.json``:
each object's bucket, key, content type, tags and content file; ``blobs/<ETag>``: the contents,
written once each), read from moto's in-process backend like ``chatlocal.aws.table_store``.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import os
import re
import tempfile
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatlocal.config import StartupError

DEFAULT_BUCKET = "chat-local-attachments"
FORMAT = "chatlocal-s3"
VERSION = 1
MANIFEST = "objects.json"
BLOBS = "blobs"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAFE_BLOB = re.compile(r"^[0-9a-f]{32}(-[0-9]+)?$")

_lock = threading.RLock()


class _WriteCount:
    count = 0


_writes = _WriteCount()


def s3_lock() -> threading.RLock:
    """Held by every S3 request that may write while moto handles it (once patched), and by saves."""
    return _lock


def s3_writes() -> int:
    """How many S3 requests that may change objects moto has handled."""
    return _writes.count


# -- moto, made to behave -------------------------------------------------------------------------


def behave_like_s3() -> None:
    """Patch moto's S3 (idempotent; before the server makes its S3 app)."""
    from moto.moto_server import werkzeug_app
    from moto.s3.responses import S3Response

    if getattr(S3Response._bucket_response_post, "_local", False):
        return
    global_cors = werkzeug_app.CORS  # type: ignore[attr-defined]

    def cors(app: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(app, "service", None) == "s3":
            return None  # the bucket's rules answer (S3Response), as on S3
        return global_cors(app, *args, **kwargs)

    werkzeug_app.CORS = cors  # type: ignore[attr-defined,assignment]

    post = S3Response._bucket_response_post

    @functools.wraps(post)
    def bucket_response_post(self: S3Response, request: Any, bucket_name: str) -> Any:
        if self.is_delete_keys() or "key" not in self.querystring:
            return post(self, request, bucket_name)
        tagging = (self.querystring.get("tagging") or [""])[0]
        tags = parse_tagging(tagging) if tagging else None  # refused before anything is stored
        status, headers, body = post(self, request, bucket_name)
        if tags:
            stored = self.backend.get_object(bucket_name, self.querystring["key"][0])
            if stored is not None:
                self.backend.put_object_tagging(stored, tags)
        return status, {**headers, **self._get_cors_headers_other()}, body

    bucket_response_post._local = True  # type: ignore[attr-defined]
    S3Response._bucket_response_post = bucket_response_post  # type: ignore[method-assign]

    for name in ("_bucket_response", "_key_response"):
        original = getattr(S3Response, name)

        def counted(self: S3Response, request: Any, full_url: str, _original: Any = original) -> Any:
            if request.method in _READS:
                return _original(self, request, full_url)
            with _lock:
                _writes.count += 1
                return _original(self, request, full_url)

        setattr(S3Response, name, functools.wraps(original)(counted))


def parse_tagging(document: str) -> dict[str, str]:
    """``<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>...``: the tags, or moto's
    MalformedXML (S3 refuses the upload)."""
    from moto.s3.exceptions import MalformedXML

    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError:
        raise MalformedXML() from None
    tags: dict[str, str] = {}
    for tag in root.iter("Tag"):
        key = tag.findtext("Key")
        if not key:
            raise MalformedXML()
        tags[key] = tag.findtext("Value") or ""
    return tags


# -- the bucket, made ready at start (any S3: the embedded one or AWS_ENDPOINT_URL_S3) -------------


def cors_origins(host: str, port: int) -> list[str]:
    """Where the stack's web page may be loaded from: the stack's own address, and on a loopback
    or wildcard host both names of this machine."""
    names = [host]
    if host in ("0.0.0.0", "::", "", "127.0.0.1", "localhost", "::1"):
        names = ["127.0.0.1", "localhost"]
    return [f"http://{'[' + name + ']' if ':' in name else name}:{port}" for name in names]


def cors_rules(origins: Iterable[str]) -> dict[str, Any]:
    return {
        "CORSRules": [
            {
                "AllowedOrigins": list(origins),
                "AllowedMethods": ["GET", "HEAD", "POST"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag", "Content-Disposition"],
                "MaxAgeSeconds": 3000,
            }
        ]
    }


@dataclass(frozen=True)
class Bucket:
    name: str
    created: bool
    cors: bool  # whether its CORS rules were set here


def ensure_bucket(env: Mapping[str, str], origins: Iterable[str], embedded: bool) -> Bucket:
    """Create the attachments bucket if missing; set its CORS rules when it was created here or
    lives in the embedded moto (another S3's existing bucket keeps its own). Blocking."""
    from botocore.exceptions import ClientError

    from chalicelib.storage.files import s3_client

    name = env["CHAT_ATTACHMENTS_BUCKET"]
    region = env.get("AWS_REGION") or "us-east-1"
    client = s3_client(region)
    created = False
    try:
        client.head_bucket(Bucket=name)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) not in ("404", "NoSuchBucket", "NotFound"):
            raise StartupError(f"cannot use the attachments bucket {name}: {exc}") from None
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        try:
            client.create_bucket(Bucket=name, **where)
        except ClientError as error:
            raise StartupError(
                f"cannot create the attachments bucket CHAT_ATTACHMENTS_BUCKET={name}: {error}"
            ) from None
        created = True
    except Exception as exc:  # the endpoint does not answer
        raise StartupError(f"cannot reach S3 for the attachments bucket {name}: {exc}") from None
    cors = created or embedded
    if cors:
        client.put_bucket_cors(Bucket=name, CORSConfiguration=cors_rules(origins))
    return Bucket(name, created, cors)


# -- the objects, saved and put back ---------------------------------------------------------------


@dataclass(frozen=True)
class RestoredObjects:
    objects: int
    buckets: int
    missing_buckets: tuple[str, ...]  # in the file but not in this run's S3: their objects dropped
    saved_at: str


class ObjectStore:
    """The embedded S3's objects (content, content type, tags), saved to and restored from the
    folder ``folder``. Runs where moto runs (it reads moto's backend)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.file = folder / MANIFEST
        self.blobs = folder / BLOBS
        self.restored = False
        self._saved_writes = -1
        self._saving = threading.Lock()

    def restore(self) -> RestoredObjects | None:
        """Put the saved objects back into the buckets that exist (None when nothing was saved).
        Call after the bucket exists and before the app runs."""
        saved = self._read()
        with _lock:
            backend = _backend()
            buckets: dict[str, list[dict[str, Any]]] = saved["buckets"] if saved else {}
            missing = tuple(sorted(name for name in buckets if name not in backend.buckets))
            count = 0
            for bucket, objects in buckets.items():
                if bucket in missing:
                    continue
                for entry in objects:
                    self._put_back(backend, bucket, entry)
                    count += 1
            self._saved_writes = _writes.count
            self.restored = True
        if saved is None:
            return None
        return RestoredObjects(count, len(buckets) - len(missing), missing, str(saved.get("saved_at", "")))

    def _put_back(self, backend: Any, bucket: str, entry: Mapping[str, Any]) -> None:
        blob = str(entry["blob"])
        if not _SAFE_BLOB.match(blob):
            raise StartupError(f"{self.file} names a content file {blob!r} that is not one of ours")
        try:
            content = (self.blobs / blob).read_bytes()
        except OSError as exc:
            raise StartupError(
                f"the saved file {entry['key']} has no content ({exc}): `make clean-data` starts over"
            ) from None
        key = backend.put_object(bucket, str(entry["key"]), content, disable_notification=True)
        if entry.get("content_type"):
            key.set_metadata({"Content-Type": str(entry["content_type"])})
        tags = entry.get("tags") or {}
        if tags:
            backend.put_object_tagging(key, {str(k): str(v) for k, v in tags.items()})

    def save_if_changed(self) -> bool:
        with self._saving:
            if not self.restored or _writes.count == self._saved_writes:
                return False
            self._save()
            return True

    def save(self) -> int:
        if not self.restored:
            raise RuntimeError("save before restore would replace the saved files with none")
        with self._saving:
            return self._save()

    def _save(self) -> int:
        """Contents first (each written once, named by its ETag), then the manifest (atomically),
        then the contents no object names any more: a crash leaves the old manifest or the new,
        each with its contents."""
        self.blobs.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _lock:
            writes = _writes.count
            buckets: dict[str, list[dict[str, Any]]] = {}
            for name, bucket in _backend().buckets.items():
                entries = buckets.setdefault(name, [])
                for key_name, key in bucket.keys.items():
                    if not hasattr(key, "value"):  # a delete marker
                        continue
                    blob = str(key.etag).strip('"')
                    if not (self.blobs / blob).exists():
                        _write_atomically(self.blobs / blob, key.value)
                    tags = backend_tags(key)
                    entries.append(
                        {
                            "key": key_name,
                            "content_type": str(key.metadata.get("Content-Type") or ""),
                            "size": int(key.size),
                            "tags": tags,
                            "blob": blob,
                        }
                    )
        document = {
            "format": FORMAT,
            "version": VERSION,
            "saved_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "buckets": buckets,
        }
        _write_atomically(self.file, json.dumps(document, separators=(",", ":")).encode())
        self._saved_writes = writes
        named = {entry["blob"] for entries in buckets.values() for entry in entries}
        for stale in self.blobs.iterdir():
            if stale.name not in named:
                with contextlib.suppress(OSError):
                    stale.unlink()
        return sum(len(entries) for entries in buckets.values())

    def _read(self) -> dict[str, Any] | None:
        try:
            document = json.loads(self.file.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StartupError(
                f"cannot read the saved files {self.file} ({exc}): move it away, or `make clean-data`"
            ) from None
        if not (
            isinstance(document, dict)
            and document.get("format") == FORMAT
            and document.get("version") == VERSION
            and isinstance(document.get("buckets"), dict)
        ):
            raise StartupError(
                f"{self.file} is not saved files of this version: move it away, or `make clean-data`"
            )
        return document


def backend_tags(key: Any) -> dict[str, str]:
    tags = _backend().get_object_tagging(key).get("Tags") or []
    return {str(tag["Key"]): str(tag["Value"]) for tag in tags}


def _backend() -> Any:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


def _write_atomically(file: Path, data: bytes) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{file.name}.tmp-", dir=file.parent)  # mode 0600
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
