"""The banner ``python -m chatlocal`` prints once the stack is up: where each part listens, what
it serves and where it came from (the test tiers read the URLs from it: ``chatlocal.process``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from chatlocal.config import is_loopback

if TYPE_CHECKING:
    from chatlocal.aws.s3 import Bucket
    from chatlocal.aws.services import Services
    from chatlocal.eventsources.sqs_poller import EventSourceMapping
    from chatlocal.functions.workers import WorkerSettings
    from chatlocal.options import Options
    from chatlocal.persistence import Persistence
    from chatlocal.push.providers import PlatformApplication


def print_banner(
    options: Options,
    persistence: Persistence,
    base: str,
    services: Services,
    created: list[str],
    mappings: list[EventSourceMapping],
    applications: Mapping[str, PlatformApplication],
    env: Mapping[str, str],
    bucket: Bucket | None = None,
    auth_lines: list[str] | None = None,
) -> None:
    ws = base.replace("http://", "ws://")
    dev_token = f"{base}/dev/token?user=<user id>"
    if not (options.allow_remote_dev or is_loopback(options.host)):
        dev_token = "off, as every /dev/* route (HOST is not loopback; --allow-remote-dev turns them on)"
    if env.get("CHAT_OIDC_ISSUER"):
        dev_token = "off: tokens come from the OpenID Connect issuer below (404)"
    dynamodb, sqs, sns = services["dynamodb"], services["sqs"], services["sns"]
    tables = ", ".join(created) or "none missing"
    lines = [
        f"Chat backend local stack listening on {base}",
        f"  web chat        {base}/",
        f"  websocket       {ws}/ws?token=<token>",
        f"  dev token       {dev_token}",
        *(auth_lines or []),
        f"  management API  {base}/@connections/<connection id> (SigV4, the app's AWS credentials)",
        f"  DynamoDB        {dynamodb.url} ({dynamodb.source}; tables created: {tables})",
        f"  data            {_data_note(options, persistence)}",
        *_kept_lines(options, persistence),
        f"  SQS             {sqs.url} ({sqs.source})",
        f"  SNS             {sns.url} ({sns.source}; {_applications_note(applications)})",
        *_s3_lines(services, bucket, persistence),
        *(_queue_line(mapping) for mapping in mappings),
        f"  fan-out         through the queue above {env.get('CHAT_FANOUT_THRESHOLD') or 100} connections,"
        f" {env.get('CHAT_FANOUT_SHARD_SIZE') or 50} per shard",
        f"  dev push        {base}/dev/push?user=<user id> (what the providers accepted),"
        f" POST {base}/dev/push/reject?token=<token>",
        f"  web push        {base}/dev/webpush/<id> (a local push service; http endpoints on 127.0.0.1"
        f" {'allowed' if env.get('CHAT_PUSH_ALLOW_LOCAL_HTTP') == '1' else 'refused'})",
        f"  VAPID key       {options.vapid.public_key} (GET {base}/dev/vapid; {options.vapid.origin})",
        f"  JWT secret      {persistence.secret.value} ({persistence.secret.origin})",
        f"  idle timeout    {options.idle_timeout:g} s",
        f"  handlers        {_handlers_note(options.workers)}",
        "Ctrl-C stops it.",
    ]
    print("\n".join(lines), flush=True)


def _data_note(options: Options, persistence: Persistence) -> str:
    """Where the data lives, whether this run found any, and when it was last saved (the
    snapshot's time, and the last journaled write's when a stop did not save after it)."""
    if persistence.data is None:
        return "nothing kept (CHAT_EPHEMERAL=1): the tables start empty and vanish on stop"
    if persistence.store is None:
        return f"{persistence.data.path} (the secret only: the DynamoDB above keeps its own data)"
    restored = persistence.restored
    if restored is None:
        found = "nothing saved yet, starting empty"
    else:
        saved = f"saved {restored.saved_at}" if restored.saved_at else "no snapshot"
        found = f"restored {restored.items} items in {restored.tables} tables {saved}"
        if restored.replayed:
            found += f" and {restored.replayed} journaled writes"
            if restored.journaled_at:
                found += f" (the last {restored.journaled_at})"
        if restored.missing_tables:
            found += f"; dropped tables not created this run: {', '.join(restored.missing_tables)}"
    return f"{persistence.data.path} ({found}; make clean-data wipes it)"


def _kept_lines(options: Options, persistence: Persistence) -> list[str]:
    """Where the embedded DynamoDB's data is kept, and when it is written."""
    data = persistence.data
    if data is None or persistence.store is None:
        return []
    if persistence.journal == "0":
        journal = "off (CHAT_JOURNAL=0): a kill or a crash loses the writes since the last save"
    else:
        flushed = "on disk (fsync)" if persistence.journal == "fsync" else "handed to the OS"
        journal = (
            f"every write {flushed} before it is answered, replayed at start"
            " (CHAT_JOURNAL=0 turns it off, fsync waits for the disk)"
        )
    return [
        f"  snapshot        {data.tables_file} (on stop, SIGHUP included, and every"
        f" {options.save_interval:g} s after a change)",
        f"  journal         {data.journal_file} ({journal})",
    ]


def _s3_lines(services: Services, bucket: Bucket | None, persistence: Persistence) -> list[str]:
    """Where attachments go, and whether this run found saved files."""
    if bucket is None or "s3" not in services.endpoints:
        return []
    s3 = services["s3"]
    made = "created" if bucket.created else "existing"
    cors = "CORS for this page set" if bucket.cors else "its own CORS rules kept"
    line = f"  S3              {s3.url} ({s3.source}; bucket {bucket.name} {made}, {cors})"
    if persistence.objects is None:
        return [line]
    restored = persistence.restored_objects
    if restored is None:
        found = "nothing saved yet"
    else:
        found = f"restored {restored.objects} files saved {restored.saved_at}"
        if restored.missing_buckets:
            found += f"; dropped buckets not in this run: {', '.join(restored.missing_buckets)}"
    return [line, f"  files           {persistence.objects.folder} ({found}; saved with the tables)"]


def _handlers_note(workers: WorkerSettings | None) -> str:
    if workers is None:
        return (
            "the source tree, on threads in this one process (CHAT_PROCESSES=1;"
            " CHAT_LAMBDA_PACKAGE runs a deployment package)"
        )
    code = "the source tree" if workers.extra_path else f"the deployment package in {workers.code_dir}"
    return (
        f"{code}, in worker processes (up to {workers.max_per_function} per function;"
        " CHAT_PROCESSES=1 runs them on threads here)"
    )


def _applications_note(applications: Mapping[str, PlatformApplication]) -> str:
    """Which mobile platforms push works for, and where their SNS applications came from."""
    parts = [
        f"{platform} {'created' if app.created else 'from the environment'}"
        for platform, app in applications.items()
    ]
    missing = [p for p in ("apns", "fcm") if p not in applications]
    if missing:
        parts.append(f"{', '.join(missing)} refused: no platform application (CHAT_SNS_*_APP_ARN)")
    return "platform applications: " + "; ".join(parts)


def _queue_line(mapping: EventSourceMapping) -> str:
    source, queue = mapping.source, mapping.queue
    label = f"queue -> {source.function}"
    if queue.dead_letter_name:
        retries = f"dead letters to {queue.dead_letter_name} after {queue.max_receive_count} receives"
    else:
        retries = "no dead-letter queue"
    kept = "" if queue.created else "; existing queue, settings kept"
    return (
        f"  {label:<16}{queue.name} (batches of {source.batch_size}, {source.concurrency} at once;"
        f" failures back after {queue.visibility_timeout} s, {retries}{kept})"
    )
