"""The attachments bucket on S3: upload forms, download links, and the objects themselves.

Files never pass through Lambda: a client uploads straight to S3 with a presigned POST, and
downloads with a presigned GET. Both are signed here, which is local computation (no request).
What a send checks and what a delete removes are requests, each noted on its method.

- An upload form pins the key, the exact size (``content-length-range`` of size to size), the
  ``Content-Type``, ``success_action_status`` 204 and the object tag ``pending=true``, and lasts
  ``FORM_SECONDS``. S3 enforces the policy; an emulator may not, so a send checks the object
  itself (``stat``) before trusting it.
- The bucket's lifecycle rule deletes objects tagged ``pending=true`` a day after their upload
  (infra/); a send that attaches a file takes the tag off (``keep``), so only uploads never
  attached to a message expire.
- A download link lasts ``LINK_SECONDS`` and names the file (``Content-Disposition``). Signed
  with the function's role, it stops working early if those credentials expire first; a client
  gets fresh links from ``chat.history``.

``AWS_ENDPOINT_URL_S3`` points the client elsewhere (the local stack's embedded S3), with
path-style URLs, which a browser on the same machine reaches.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import Unavailable

log = logging.getLogger(__name__)

FORM_SECONDS = 15 * 60
LINK_SECONDS = 2 * 3600  # the contract asks for at least an hour after the frame is sent
PENDING_TAG = "<Tagging><TagSet><Tag><Key>pending</Key><Value>true</Value></Tag></TagSet></Tagging>"
MAX_PARALLEL = 10  # a send names at most 10 files


@dataclass(frozen=True)
class Stored:
    """What S3 holds at a key: the object's size and type."""

    size: int
    content_type: str


def s3_client(region: str) -> Any:
    """boto3's S3 client: SigV4, path-style when an endpoint is configured (the local stack)."""
    import boto3
    from botocore.config import Config

    style = "path" if os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") else "auto"
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": style},
        connect_timeout=3,
        read_timeout=10,
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=MAX_PARALLEL * 2,
    )
    return boto3.client("s3", region_name=region, config=config)


def content_disposition(name: str) -> str:
    """``attachment`` with the file's name: an ASCII fallback and the UTF-8 name (RFC 6266)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"


def _missing(exc: Exception) -> bool:
    """No object at the key. Without s3:ListBucket (which the functions are not granted, so that
    they cannot list anyone's files) S3 answers a missing key with 403, not 404."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    return str(error.get("Code")) in ("404", "NoSuchKey", "NotFound", "403", "Forbidden", "AccessDenied")


class Files:
    def __init__(self, bucket: str, client: Callable[[], Any]) -> None:
        self.bucket = bucket
        self._client = client

    def upload_form(self, key: str, size: int, content_type: str) -> dict[str, Any]:
        """A presigned POST for exactly this object (no request)."""
        fields = {"Content-Type": content_type, "success_action_status": "204", "tagging": PENDING_TAG}
        conditions: list[Any] = [
            {"bucket": self.bucket},
            ["eq", "$key", key],
            ["content-length-range", size, size],
            ["eq", "$Content-Type", content_type],
            {"success_action_status": "204"},
            {"tagging": PENDING_TAG},
        ]
        form = self._client().generate_presigned_post(
            Bucket=self.bucket, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=FORM_SECONDS
        )
        return {"url": form["url"], "fields": dict(form["fields"])}

    def link(self, key: str, name: str, content_type: str) -> str:
        """A presigned GET of the object, naming the file (no request)."""
        return str(
            self._client().generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ResponseContentDisposition": content_disposition(name),
                    "ResponseContentType": content_type,
                },
                ExpiresIn=LINK_SECONDS,
            )
        )

    def stat(self, keys: Iterable[str]) -> Mapping[str, Stored | None]:
        """Each object's size and type, None where there is none (HeadObject each, in parallel)."""
        keys = list(keys)
        client = self._client()

        def head(key: str) -> Stored | None:
            try:
                found = client.head_object(Bucket=self.bucket, Key=key)
            except Exception as exc:
                if _missing(exc):
                    return None
                log.warning("HeadObject of %s failed: %s", key, exc)
                raise Unavailable("file storage unavailable, safe to retry") from exc
            return Stored(int(found["ContentLength"]), str(found.get("ContentType") or ""))

        if len(keys) == 1:
            return {keys[0]: head(keys[0])}
        with ThreadPoolExecutor(min(MAX_PARALLEL, len(keys)) or 1) as pool:
            return dict(zip(keys, pool.map(head, keys), strict=True))

    def keep(self, keys: Iterable[str]) -> None:
        """Take the ``pending`` tag off attached objects, so the lifecycle rule keeps them
        (DeleteObjectTagging each, in parallel). A failure is logged, not raised: the message is
        stored and acknowledged; a retried send takes the tag off again."""
        keys = list(keys)
        client = self._client()

        def untag(key: str) -> None:
            try:
                client.delete_object_tagging(Bucket=self.bucket, Key=key)
            except Exception as exc:  # the lifecycle rule would delete an attached file: loud
                log.error("could not keep attached file %s (its pending tag stays): %s", key, exc)

        with ThreadPoolExecutor(min(MAX_PARALLEL, len(keys)) or 1) as pool:
            list(pool.map(untag, keys))

    def delete(self, keys: Iterable[str]) -> None:
        """Delete objects (one DeleteObjects request); a failure is logged."""
        objects = [{"Key": key} for key in keys]
        if not objects:
            return
        try:
            answer = self._client().delete_objects(
                Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
            )
        except Exception as exc:
            log.error("could not delete %d files of a deleted message: %s", len(objects), exc)
            return
        for error in answer.get("Errors") or []:
            log.error("could not delete file %s: %s", error.get("Key"), error.get("Message"))
