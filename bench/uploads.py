"""Benchmark: the local stack's upload throughput, a file through the presigned POST to the embedded
S3 as a browser's form sends it (25 MiB unless ``--mib``), then its download through the link a
member receives.

    make bench                             # part of it: a stack of its own, as `make run` runs it
    python -m bench.uploads --mib 5 --runs 5
    python -m bench.uploads --url http://127.0.0.1:8000   # against a running `make run`

Prints MB/s (10^6 bytes a second) per run and the best, for the upload (the POST, from its first
byte to S3's 204) and the download. Figures are for this machine and moto (which keeps each
file in memory, spilling to a temporary file), not for S3: compare them run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import requests
import websockets

from chatlocal.process import LocalStack, exit_on_stop_signals

MIB = 1024 * 1024
_req = itertools.count(1)


@dataclass(frozen=True)
class Run:
    size: int
    upload_seconds: float
    download_seconds: float
    identical: bool

    @property
    def upload_mb_s(self) -> float:
        return self.size / self.upload_seconds / 1e6

    @property
    def download_mb_s(self) -> float:
        return self.size / self.download_seconds / 1e6


async def _request(ws: Any, action: str, **fields: Any) -> dict[str, Any]:
    req = f"b{next(_req)}"
    await ws.send(json.dumps({"action": action, "req": req, **fields}))
    while True:
        frame: dict[str, Any] = json.loads(await ws.recv())
        if frame.get("req") == req:
            return frame


def _token(base: str, user: str) -> str:
    with urllib.request.urlopen(f"{base}/dev/token?user={user}", timeout=10) as answer:
        return str(json.load(answer)["token"])


async def measure(base: str, size: int, runs: int = 1) -> list[Run]:
    """Upload ``size`` random bytes ``runs`` times through attachment.create's form, send each
    and download it through the link; each Run says how long the POST and the GET took."""
    suffix = os.urandom(3).hex()
    alice, bob = f"bench-up-a-{suffix}", f"bench-up-b-{suffix}"
    ws_base = base.replace("http://", "ws://") + "/ws?token="
    results = []
    async with websockets.connect(ws_base + _token(base, alice), max_size=None) as ws:
        created = await _request(ws, "chat.create", members=[bob], title="bench uploads")
        chat_id = created["chat"]["chat_id"]
        for n in range(runs):
            data = os.urandom(size)
            form = await _request(
                ws, "attachment.create", chat_id=chat_id, name=f"bench{n}.bin",
                content_type="application/octet-stream", size=size,
            )  # fmt: skip
            if form.get("event") != "attachment:created":
                raise RuntimeError(f"attachment.create refused: {form}")
            upload = form["upload"]
            started = time.perf_counter()
            answer = await asyncio.to_thread(
                requests.post,
                upload["url"],
                data=upload["fields"],
                files={"file": ("bench.bin", data, "application/octet-stream")},
                timeout=300,
            )
            uploaded = time.perf_counter() - started
            if answer.status_code != 204:
                raise RuntimeError(f"upload answered {answer.status_code}: {answer.text[:300]}")
            ack = await _request(
                ws, "message.send", chat_id=chat_id, client_msg_id=f"bench-{n}",
                attachments=[form["attachment"]["attachment_id"]],
            )  # fmt: skip
            if ack.get("event") != "message:ack":
                raise RuntimeError(f"send refused: {ack}")
            history = await _request(ws, "chat.history", chat_id=chat_id, limit=1)
            link = history["messages"][-1]["attachments"][0]["url"]
            started = time.perf_counter()
            got = await asyncio.to_thread(requests.get, link, timeout=300)
            downloaded = time.perf_counter() - started
            identical = hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
            results.append(Run(size, uploaded, downloaded, identical))
    return results


def report(results: list[Run]) -> str:
    lines = [f"Local stack uploads: {results[0].size / MIB:g} MiB through the presigned POST (moto's S3)"]
    lines.append(f"  {'run':>3}  {'upload MB/s':>11}  {'download MB/s':>13}  identical")
    for n, run in enumerate(results, 1):
        lines.append(f"  {n:>3}  {run.upload_mb_s:>11.1f}  {run.download_mb_s:>13.1f}  {run.identical}")
    best_up = max(r.upload_mb_s for r in results)
    best_down = max(r.download_mb_s for r in results)
    lines.append(f"  best: upload {best_up:.1f} MB/s, download {best_down:.1f} MB/s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.uploads", description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=float, default=25.0, help="file size in MiB (at most 25)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", help="a running stack (default: start one, as make run does)")
    args = parser.parse_args(argv)
    size = int(args.mib * MIB)
    if not 0 < size <= 25 * MIB or args.runs < 1:
        parser.error("--mib must be above 0 and at most 25, --runs at least 1")
    exit_on_stop_signals()  # timeout or a closed terminal: the stack started here stops first
    if args.url:
        results = asyncio.run(measure(args.url.rstrip("/"), size, args.runs))
    else:
        with LocalStack(CHAT_JWT_SECRET="bench-secret-" * 4) as stack:
            results = asyncio.run(measure(stack.url, size, args.runs))
    print(report(results), flush=True)
    return 0 if all(r.identical for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
