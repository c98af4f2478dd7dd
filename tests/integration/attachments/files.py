"""Helpers of the attachments tests: a chat of two members over real sockets, an upload through
the presigned POST with ``requests`` as a browser's form would send it, and what the stack's
embedded S3 and DynamoDB hold (read over their endpoints, never with a Scan)."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
import requests

from tests.integration.peer import Peer

MAX_SIZE = 26_214_400  # 25 MiB
BUCKET = "chat-local-attachments"  # the stack's default: clean_env drops CHAT_ATTACHMENTS_BUCKET
ATTACHMENTS_TABLE = "chat-local-attachments"


async def chat_of_two(stack: Any, user: Any, viewing: bool = True) -> tuple[Peer, Peer, str]:
    """Alice's chat with Bob, Bob viewing it; both connected."""
    alice, bob = user("alice"), user("bob")
    a, b = await Peer.connect(stack.ws_url(alice), alice), await Peer.connect(stack.ws_url(bob), bob)
    created = await a.request("chat.create", members=[bob], title="Files")
    chat_id = str(created["chat"]["chat_id"])
    await b.expect("chat:added")
    if viewing:
        await b.request("chat.open", chat_id=chat_id)
    return a, b, chat_id


async def create(
    peer: Peer, chat_id: str, size: int, name: str = "cat.png", content_type: str = "image/png"
) -> Any:
    return await peer.request(
        "attachment.create", chat_id=chat_id, name=name, content_type=content_type, size=size
    )


def post_form(created: Any, data: bytes, content_type: str | None = None, origin: str | None = None) -> Any:
    """The upload as a browser's FormData sends it: every field of the form, then the file."""
    upload = created["upload"]
    fields = dict(upload["fields"])
    if content_type is not None:
        fields["Content-Type"] = content_type
    headers = {"Origin": origin} if origin else {}
    return requests.post(
        upload["url"],
        data=fields,
        files={"file": ("upload.bin", data, fields.get("Content-Type", "application/octet-stream"))},
        headers=headers,
        timeout=120,
    )


async def upload(
    created: Any, data: bytes, content_type: str | None = None, origin: str | None = None
) -> Any:
    answer = await asyncio.to_thread(post_form, created, data, content_type, origin)
    assert answer.status_code == 204, answer.text
    return answer


def download(url: str, origin: str | None = None) -> Any:
    return requests.get(url, headers={"Origin": origin} if origin else {}, timeout=120)


def s3_client(stack: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=stack.s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def keys(stack: Any, chat_id: str) -> list[str]:
    """The objects the bucket holds for one chat."""
    listed = s3_client(stack).list_objects_v2(Bucket=BUCKET, Prefix=f"attachments/{chat_id}/")
    return sorted(obj["Key"] for obj in listed.get("Contents") or [])


def tags(stack: Any, chat_id: str, attachment_id: str) -> dict[str, str]:
    found = s3_client(stack).get_object_tagging(Bucket=BUCKET, Key=f"attachments/{chat_id}/{attachment_id}")
    return {tag["Key"]: tag["Value"] for tag in found["TagSet"]}


def attachment_records(stack: Any) -> int:
    """How many attachment records the stack's DynamoDB holds (moto counts them live)."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=stack.dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    return int(client.describe_table(TableName=ATTACHMENTS_TABLE)["Table"]["ItemCount"])


async def last_seq(peer: Peer, chat_id: str) -> int:
    history = await peer.request("chat.history", chat_id=chat_id)
    return max((int(m["seq"]) for m in history["messages"]), default=0)
