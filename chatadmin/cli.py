"""``python -m chatadmin``: the commands, their options and exit codes.

    python -m chatadmin [--endpoint URL] [--prefix P] [--region R] [--json] reports [--resolved] [--limit N]
    python -m chatadmin ... show REPORT_ID [--around N]
    python -m chatadmin ... resolve REPORT_ID dismiss|delete|remove [--note TEXT] [--by NAME]

Exit codes: 0 done; 1 another failure; 2 a usage error (an unknown command or action, a
malformed report id); 3 no such report; 4 the action cannot apply (a direct chat's members, a
system message, a chat that is gone); 5 DynamoDB unreachable or its tables missing.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from chatadmin import settings as settings_module
from chatadmin.errors import AdminError, Unreachable, Usage
from chatadmin.settings import Settings

PROBE_SECONDS = 3
EPILOG = """exit codes: 0 done, 1 other failure, 2 usage (unknown command or action, malformed id),
3 no such report, 4 the action cannot apply, 5 DynamoDB unreachable or its tables missing.
Local stack: --endpoint is the DynamoDB URL `make run` prints. A deployed stage: your AWS
credentials, --region and --prefix chat-STAGE; --management https://API.execute-api.REGION.amazonaws.com/STAGE
tells connections viewing the chat at once."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m chatadmin",
        description="Review and resolve users' reports of messages.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--endpoint", help="DynamoDB (and S3) endpoint: the local stack's (AWS_ENDPOINT_URL_DYNAMODB)"
    )
    p.add_argument(
        "--prefix", help="table prefix (CHAT_TABLE_PREFIX; chat-local with --endpoint, else chat-dev)"
    )
    p.add_argument("--region", help="AWS region (AWS_REGION; us-east-1)")
    p.add_argument(
        "--bucket", help="attachments bucket, whose files a delete removes (CHAT_ATTACHMENTS_BUCKET)"
    )
    p.add_argument("--management", help="management API base URL to tell viewers (CHAT_MANAGEMENT_ENDPOINT)")
    p.add_argument("--json", action="store_true", help="print JSON instead of lines")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser("reports", help="list open reports, newest first")
    listing.add_argument("--resolved", action="store_true", help="list resolved reports instead")
    listing.add_argument("--limit", type=_positive, default=50, help="at most this many (50)")
    show = commands.add_parser("show", help="one report, the message as reported and the messages around it")
    show.add_argument("report_id", metavar="REPORT_ID")
    show.add_argument("--around", type=_positive, default=3, help="messages before and after it (3)")
    resolve = commands.add_parser("resolve", help="dismiss it, delete the message, or remove its sender")
    resolve.add_argument("report_id", metavar="REPORT_ID")
    resolve.add_argument("action", choices=("dismiss", "delete", "remove"), metavar="dismiss|delete|remove")
    resolve.add_argument("--note", help="why, recorded with the action")
    resolve.add_argument("--by", help="who acts, recorded with the action (USER)")
    return p


def _positive(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to 1000")
    return int(text)


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] | None = None) -> int:
    args = parser().parse_args(argv)
    write = out or print
    settings = settings_module.resolve(
        os.environ,
        endpoint=args.endpoint,
        prefix=args.prefix,
        region=args.region,
        bucket=args.bucket,
        management=args.management,
        by=getattr(args, "by", None),
    )
    settings_module.apply(settings)
    try:
        _probe(settings.endpoint)
        from chatadmin import commands  # imports chalicelib's tables: after apply()

        commands.check_tables(settings)
        result = commands.run(args, settings)
    except AdminError as exc:
        print(f"chatadmin: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        unreachable = _unreachable(exc, settings)
        if unreachable is None:
            raise
        print(f"chatadmin: {unreachable}", file=sys.stderr)
        return unreachable.exit_code
    for line in result:
        write(line)
    return 0


def _probe(endpoint: str | None) -> None:
    """Fail fast and plainly when an endpoint named does not answer (botocore would retry)."""
    if endpoint is None:
        return
    url = urllib.parse.urlsplit(endpoint)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise Usage(f"--endpoint {endpoint!r} is not an http(s) URL")
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
        socket.create_connection((url.hostname, port), timeout=PROBE_SECONDS).close()
    except (OSError, ValueError) as exc:
        raise Unreachable(
            f"cannot reach DynamoDB at {endpoint} ({exc}): is the local stack running?"
        ) from None


def _unreachable(exc: BaseException, settings: Settings) -> Unreachable | None:
    """A storage failure, said plainly: the endpoint, or the tables, are not there."""
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    from chalicelib.domain.errors import Unavailable

    chain: list[Any] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if not any(isinstance(e, (PynamoDBException, BotoCoreError, ClientError, Unavailable)) for e in chain):
        return None
    text = " ".join(str(e) for e in chain)
    if "ResourceNotFoundException" in text or "non-existent table" in text:
        return Unreachable(f"{settings.where}: a table is missing (wrong --prefix or --region?)")
    if "Could not connect" in text or "Connect timeout" in text or "EndpointConnectionError" in text:
        return Unreachable(f"cannot reach DynamoDB at {settings.endpoint or settings.region}")
    return Unreachable(f"{settings.where}: {chain[-1]}")
