"""``python -m chatlocal [--allow-remote-dev]``: the whole local stack (moto and the Lambda workers in
processes of its own unless CHAT_PROCESSES=1). See docs/local-stack.md.

Environment: HOST (127.0.0.1; anything else is warned about, and turns the /dev routes off unless
--allow-remote-dev or CHAT_ALLOW_REMOTE_DEV=1), PORT (8000; 0 picks a free one),
CHAT_DATA_DIR (.local in the repository), CHAT_EPHEMERAL (1: keep nothing),
CHAT_SAVE_INTERVAL_SECONDS (30), CHAT_JWT_SECRET (unset: generated once and kept in the data
folder), CHAT_IDLE_TIMEOUT_SECONDS (600), CHAT_LAMBDA_CONCURRENCY (64), AWS_ENDPOINT_URL_DYNAMODB,
AWS_ENDPOINT_URL_SQS and AWS_ENDPOINT_URL_SNS (unset: embedded moto), CHAT_TABLE_PREFIX
(chat-local), CHAT_FANOUT_QUEUE ({prefix}-fanout), CHAT_PUSH_QUEUE ({prefix}-push),
CHAT_SNS_APNS_APP_ARN and CHAT_SNS_FCM_APP_ARN (unset: created on the embedded SNS),
CHAT_VAPID_PRIVATE_KEY (generated when unset), CHAT_PUSH_ALLOW_LOCAL_HTTP (1), LOG_LEVEL (INFO),
CHAT_LAMBDA_PACKAGE (unset: the source tree's handlers; a folder: the unpacked deployment
package's, see ``make run-package``), CHAT_LAMBDA_WORKERS (two per core: the most worker processes
per function), CHAT_FANOUT_CONCURRENCY (8 here: posts at once per invocation),
CHAT_PROCESSES (unset: each function's invocations run in worker processes, see
chatlocal.functions.workers; 1: on threads in this one process, also what CHAT_FAULTS needs),
CHAT_CONNECTION_CONCURRENCY (4: frames of one connection invoked at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatlocal.aws.table_store import Restored, TableStore
from chatlocal.config import (
    StartupError,
    bind_error,
    env_flag,
    env_int,
    env_seconds,
    exposed_warning,
    is_loopback,
    log_level,
)
from chatlocal.datadir import DataDir, data_directory
from chatlocal.functions.workers import SINGLE_PROCESS_VARIABLE, Workers, WorkerSettings, lambda_workers
from chatlocal.push.providers import VapidKeys

if TYPE_CHECKING:
    from chatlocal.aws.moto_process import RemoteTableStore
    from chatlocal.aws.services import Services
    from chatlocal.eventsources.sqs_poller import EventSourceMapping
    from chatlocal.functions.lambdas import Lambdas
    from chatlocal.push.dev_routes import DevPush
    from chatlocal.push.providers import PlatformApplication, PushRecorder
    from chatlocal.push.worker_hook import Record

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("chatlocal")
STOP_GRACE_SECONDS = 3  # for running invocations after Ctrl-C, then for the rest
LOCAL_FANOUT_CONCURRENCY = 8  # posts at once per invocation (CHAT_FANOUT_CONCURRENCY; 32 deployed)
USAGE = "usage: python -m chatlocal [--allow-remote-dev]   (settings: see docs/local-stack.md)"


@dataclass(frozen=True)
class Options:
    """Every setting, checked: ``from_env`` raises StartupError naming a bad variable."""

    host: str
    port: int
    secret: str  # "" until resolved: the environment's, else the data folder's, else a new one
    idle_timeout: float
    lambda_concurrency: int
    data_dir: Path | None  # None: keep nothing (CHAT_EPHEMERAL=1)
    save_interval: float
    vapid: VapidKeys
    workers: WorkerSettings | None  # None: the handlers run on threads in this process
    one_process: bool  # CHAT_PROCESSES=1: the embedded moto and the handlers in this process too
    allow_remote_dev: bool = False
    connection_concurrency: int = 4

    @classmethod
    def from_env(cls, env: MutableMapping[str, str], argv: Sequence[str] = ()) -> Options:
        return cls(
            host=(env.get("HOST") or "").strip() or "127.0.0.1",
            port=env_int(env, "PORT", 8000, 0, 65535),
            secret=env.get("CHAT_JWT_SECRET") or "",
            idle_timeout=env_seconds(env, "CHAT_IDLE_TIMEOUT_SECONDS", 600),
            lambda_concurrency=env_int(env, "CHAT_LAMBDA_CONCURRENCY", 64, 1),
            data_dir=data_directory(env),
            save_interval=env_seconds(env, "CHAT_SAVE_INTERVAL_SECONDS", 30),
            vapid=VapidKeys.from_env(env),
            workers=lambda_workers(env),
            one_process=(env.get(SINGLE_PROCESS_VARIABLE) or "").strip() == "1",
            allow_remote_dev=_allow_remote_dev(env, argv),
            connection_concurrency=env_int(env, "CHAT_CONNECTION_CONCURRENCY", 4, 1, 64),
        )


def _allow_remote_dev(env: Mapping[str, str], argv: Sequence[str]) -> bool:
    unknown = [arg for arg in argv if arg != "--allow-remote-dev"]
    if unknown:
        raise StartupError(f"unknown argument {unknown[0]!r}; {USAGE}")
    return "--allow-remote-dev" in argv or env_flag(env, "CHAT_ALLOW_REMOTE_DEV")


@dataclass(frozen=True)
class Secret:
    value: str
    origin: str  # how the banner explains it


def _resolve_secret(options: Options, data: DataDir | None) -> Secret:
    if options.secret:
        return Secret(options.secret, "from CHAT_JWT_SECRET")
    if data is None:
        return Secret(secrets.token_urlsafe(32), "generated for this run only (CHAT_EPHEMERAL=1)")
    value, created = data.secret()
    where = data.path / "jwt-secret"
    return Secret(value, f"{'generated and ' if created else ''}kept in {where}")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(512)
    except OSError as exc:
        sock.close()
        raise bind_error(host, port, exc) from None
    sock.setblocking(False)
    return sock


def _reachable(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


@dataclass
class Persistence:
    """What this run keeps, for the banner and the saves."""

    data: DataDir | None
    secret: Secret
    store: TableStore | RemoteTableStore | None = None
    restored: Restored | None = None


async def _serve(
    options: Options, persistence: Persistence, sock: socket.socket, env: MutableMapping[str, str]
) -> None:
    from aiohttp import web

    from chalicelib import runtime
    from chatlocal.aws import services as aws
    from chatlocal.aws.sigv4 import Verifier
    from chatlocal.functions.lambdas import Lambdas
    from chatlocal.gateway.events import Api
    from chatlocal.gateway.server import SERVER_LOG, LocalAccess, build_application
    from chatlocal.gateway.websocket_api import Gateway
    from chatlocal.push import providers as push

    port = sock.getsockname()[1]
    base = f"http://{_reachable(options.host)}:{port}"
    # The app reads these at its first invocation: set them before it runs.
    env["CHAT_JWT_SECRET"] = persistence.secret.value
    env.pop("CHAT_JWT_SECRET_PARAM", None)
    env["CHAT_MANAGEMENT_ENDPOINT"] = base
    env.setdefault("CHAT_TABLE_PREFIX", "chat-local")
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env.setdefault("AWS_REGION", env["AWS_DEFAULT_REGION"])
    # A deployed invocation posts 32 frames at once on a CPU of its own; here every invocation
    # shares the machine's few cores, and 8 threads per invocation delivered more for less CPU.
    env.setdefault("CHAT_FANOUT_CONCURRENCY", str(LOCAL_FANOUT_CONCURRENCY))
    # The app names its SQS event source's queue when app.py is imported: set it before.
    if not env.get("CHAT_FANOUT_QUEUE"):
        env["CHAT_FANOUT_QUEUE"] = f"{env['CHAT_TABLE_PREFIX']}-fanout"
    push.prepare_env(env, options.vapid)

    loop = asyncio.get_running_loop()
    services = await loop.run_in_executor(
        None, lambda: aws.start(env, services=aws.STACK_SERVICES, own_process=not options.one_process)
    )
    lambdas: Lambdas | None = None
    runner: web.AppRunner | None = None
    mappings: list[EventSourceMapping] = []
    saver: asyncio.Task[None] | None = None
    try:
        created = await loop.run_in_executor(None, aws.create_missing_tables)
        if persistence.data is not None and services["dynamodb"].embedded:
            persistence.store = _table_store(services, persistence.data.tables_file, env["AWS_REGION"])
            persistence.restored = await loop.run_in_executor(None, persistence.store.restore)
        sns = await loop.run_in_executor(None, _sns_client, services, env)
        applications = await loop.run_in_executor(
            None, push.ensure_platform_applications, env, sns, services["sns"].embedded
        )
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        app_module = importlib.import_module("app")
        # Before the workers start: they take the environment (the credentials included) as it is.
        credentials = await loop.run_in_executor(None, aws.management_credentials, env)
        recorder = push.PushRecorder()
        if options.workers is None:
            lambdas = Lambdas.from_app_module(app_module, options.lambda_concurrency)
        else:  # the deployment package's handlers, each function in worker processes of its own
            lambdas = await loop.run_in_executor(
                None,
                _start_workers,
                app_module,
                options.workers,
                dict(env),
                options.lambda_concurrency,
                recorder.record,
            )
        runtime.use_push_sink(recorder.record)
        mappings = await loop.run_in_executor(None, _event_source_mappings, app_module, lambdas, env)
        gateway = Gateway(
            lambdas,
            Api(domain_name=f"{_reachable(options.host)}:{port}"),
            options.idle_timeout,
            management_auth=Verifier(credentials, env["AWS_REGION"]),
            connection_concurrency=options.connection_concurrency,
        )
        for mapping in mappings:
            gateway.add_stats(mapping.stats)
        dev_push = _dev_push(options.vapid, base, recorder, sns, applications)
        access = LocalAccess(options.host, port, options.allow_remote_dev)
        runner = web.AppRunner(
            build_application(
                gateway, persistence.secret.value, extra_routes=dev_push.routes(), access=access
            ),
            access_log=None,
            logger=SERVER_LOG,
            shutdown_timeout=2,
        )
        await runner.setup()
        await web.SockSite(runner, sock).start()
        for mapping in mappings:
            mapping.start()

        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if persistence.store is not None:
            saver = asyncio.create_task(_save_periodically(persistence.store, options.save_interval))
        _banner(options, persistence, base, services, created, mappings, applications, env)
        await stop.wait()
        print("\nStopping: closing connections...", flush=True)
        # The HTTP side keeps serving meanwhile: a running invocation's posts get a quick 410.
        unfinished, *_ = await asyncio.gather(
            gateway.close_all(timeout=STOP_GRACE_SECONDS),
            *(m.stop(timeout=STOP_GRACE_SECONDS) for m in mappings),
        )
        if unfinished:
            log.warning(
                "%d invocations or $disconnects still running after %d s", unfinished, STOP_GRACE_SECONDS
            )
    finally:
        if saver is not None:
            saver.cancel()
        await asyncio.gather(*(m.stop(timeout=STOP_GRACE_SECONDS) for m in mappings))
        if lambdas is not None:
            await _stop_invocations(lambdas, STOP_GRACE_SECONDS)
        if runner is not None:
            await runner.cleanup()
        runtime.use_push_sink(None)
        if persistence.store is not None and persistence.store.restored:
            _final_save(persistence.store)
        services.stop()


def _start_workers(
    module: Any, settings: WorkerSettings, env: Mapping[str, str], concurrency: int, record: Record
) -> Workers:
    """``Workers.start`` with the push record (``chatlocal.push.worker_hook``) wired in. Blocking."""
    from chatlocal.push.worker_hook import SETUP, receiver

    return Workers.start(module, settings, env, concurrency, setup=SETUP, on_emit=receiver(record))


def _table_store(services: Services, file: Path, region: str) -> TableStore | RemoteTableStore:
    """The saved data's keeper: where the embedded moto runs, as its backend is read directly."""
    from chatlocal.aws.moto_process import RemoteTableStore

    moto = services.moto
    return TableStore(file, region) if moto is None else RemoteTableStore(moto, file, region)


async def _stop_invocations(lambdas: Lambdas, timeout: float) -> None:
    """Drop the invocations not started and wait up to ``timeout`` for the running ones (on a
    thread of its own: ``shutdown`` waits for them without a limit)."""
    done = threading.Event()

    def shut_down() -> None:
        lambdas.shutdown()
        done.set()

    threading.Thread(target=shut_down, name="lambda-shutdown", daemon=True).start()
    deadline = time.monotonic() + timeout
    while not done.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    if not done.is_set():
        log.warning("invocations still running after %g s are abandoned at exit", timeout)


async def _save_periodically(store: TableStore | RemoteTableStore, interval: float) -> None:
    """Bound what a crash loses to ``interval`` seconds of writes."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval)
        try:
            await loop.run_in_executor(None, store.save_if_changed)
        except OSError as exc:
            log.error("could not save the local data to %s: %s (will retry)", store.file, exc)


def _final_save(store: TableStore | RemoteTableStore) -> None:
    try:
        if store.save_if_changed():
            print(f"Saved the local data to {store.file}.", flush=True)
    except OSError as exc:
        print(f"chatlocal: could not save the local data to {store.file}: {exc}", file=sys.stderr)


def _sns_client(services: Services, env: Mapping[str, str]) -> Any:
    """SNS for the platform applications and ``/dev/push/reject`` (boto3 clients are thread-safe;
    making one is not: made once, here). Blocking."""
    import boto3

    return boto3.client("sns", region_name=env["AWS_REGION"], endpoint_url=services["sns"].url)


def _dev_push(
    vapid: VapidKeys,
    base: str,
    recorder: PushRecorder,
    sns: Any,
    applications: Mapping[str, PlatformApplication],
) -> DevPush:
    from chalicelib import runtime
    from chatlocal.push.dev_routes import DevPush
    from chatlocal.push.reject import Rejecter
    from chatlocal.push.webpush_service import LocalPushService

    local_push = LocalPushService(base, vapid.public_key)
    arns = {platform: app.arn for platform, app in applications.items()}
    rejecter = Rejecter(lambda: runtime.service().store, sns, arns, local_push)
    return DevPush(vapid.public_key, recorder, rejecter, local_push)


def _event_source_mappings(
    app_module: Any, lambdas: Lambdas, env: MutableMapping[str, str]
) -> list[EventSourceMapping]:
    """A mapping (and its queue, created if missing) per ``@app.on_sqs_message`` handler.
    Blocking: creates the queues."""
    from chatlocal.eventsources.queues import ensure_queue
    from chatlocal.eventsources.sqs_events import sqs_sources
    from chatlocal.eventsources.sqs_poller import EventSourceMapping, sqs_client

    sources = sqs_sources(app_module.app.event_sources)
    if not sources:
        return []
    region = env["AWS_REGION"]
    client = sqs_client(region, sum(source.concurrency for source in sources))
    return [
        EventSourceMapping(source, ensure_queue(client, source.queue), client, lambdas, region)
        for source in sources
    ]


def _banner(
    options: Options,
    persistence: Persistence,
    base: str,
    services: Services,
    created: list[str],
    mappings: list[EventSourceMapping],
    applications: Mapping[str, PlatformApplication],
    env: Mapping[str, str],
) -> None:
    ws = base.replace("http://", "ws://")
    dev_token = f"{base}/dev/token?user=<user id>"
    if not (options.allow_remote_dev or is_loopback(options.host)):
        dev_token = "off, as every /dev/* route (HOST is not loopback; --allow-remote-dev turns them on)"
    dynamodb, sqs, sns = services["dynamodb"], services["sqs"], services["sns"]
    tables = ", ".join(created) or "none missing"
    vapid_note = " (generated; set CHAT_VAPID_PRIVATE_KEY to keep one)" if options.vapid.generated else ""
    lines = [
        f"Chat backend local stack listening on {base}",
        f"  web chat        {base}/",
        f"  websocket       {ws}/ws?token=<token>",
        f"  dev token       {dev_token}",
        f"  management API  {base}/@connections/<connection id> (SigV4, the app's AWS credentials)",
        f"  DynamoDB        {dynamodb.url} ({dynamodb.source}; tables created: {tables})",
        f"  data            {_data_note(options, persistence)}",
        f"  SQS             {sqs.url} ({sqs.source})",
        f"  SNS             {sns.url} ({sns.source}; {_applications_note(applications)})",
        *(_queue_line(mapping) for mapping in mappings),
        f"  fan-out         through the queue above {env.get('CHAT_FANOUT_THRESHOLD') or 100} connections,"
        f" {env.get('CHAT_FANOUT_SHARD_SIZE') or 50} per shard",
        f"  dev push        {base}/dev/push?user=<user id> (what the providers accepted),"
        f" POST {base}/dev/push/reject?token=<token>",
        f"  web push        {base}/dev/webpush/<id> (a local push service; http endpoints on 127.0.0.1"
        f" {'allowed' if env.get('CHAT_PUSH_ALLOW_LOCAL_HTTP') == '1' else 'refused'})",
        f"  VAPID key       {options.vapid.public_key} (GET {base}/dev/vapid){vapid_note}",
        f"  JWT secret      {persistence.secret.value} ({persistence.secret.origin})",
        f"  idle timeout    {options.idle_timeout:g} s",
        f"  handlers        {_handlers_note(options.workers)}",
        "Ctrl-C stops it.",
    ]
    print("\n".join(lines), flush=True)


def _data_note(options: Options, persistence: Persistence) -> str:
    """Where the data lives and whether this run found any."""
    if persistence.data is None:
        return "nothing kept (CHAT_EPHEMERAL=1): the tables start empty and vanish on stop"
    if persistence.store is None:
        return f"{persistence.data.path} (the secret only: the DynamoDB above keeps its own data)"
    restored = persistence.restored
    if restored is None:
        found = "nothing saved yet, starting empty"
    else:
        found = f"restored {restored.items} items in {restored.tables} tables saved {restored.saved_at}"
        if restored.missing_tables:
            found += f"; dropped tables not created this run: {', '.join(restored.missing_tables)}"
    return (
        f"{persistence.data.path} ({found}; saved on stop and every {options.save_interval:g} s"
        " after a change; make clean-data wipes it)"
    )


def _handlers_note(workers: WorkerSettings | None) -> str:
    if workers is None:
        return (
            "the source tree, on threads in this one process (CHAT_PROCESSES=1 or CHAT_FAULTS;"
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


def main(argv: Sequence[str] = ()) -> int:
    env = os.environ
    try:
        level = log_level(env)
        options = Options.from_env(env, argv)
    except (StartupError, ValueError) as exc:
        print(f"chatlocal: cannot start: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    for noisy in ("werkzeug", "botocore", "pynamodb", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    data: DataDir | None = None
    try:
        data = DataDir.open(options.data_dir) if options.data_dir is not None else None
        persistence = Persistence(data, _resolve_secret(options, data))
        sock = _bind(options.host, options.port)
        if not is_loopback(options.host):
            warning = exposed_warning(options.host, sock.getsockname()[1], options.allow_remote_dev)
            print(warning, file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C while stopping
            asyncio.run(_serve(options, persistence, sock, env))
    except StartupError as exc:
        print(f"chatlocal: cannot start: {exc}", file=sys.stderr)
        return 2
    finally:
        if data is not None:
            data.close()
    print("Stopped.", flush=True)
    return 0


def exit_now(status: int) -> None:
    """Exit without joining the threads still alive: the data is saved and every socket closed,
    and what is left is invocations that outlived the grace period and the app's thread pools.
    The interpreter would run their queued work to the end first (the management posts of a
    flood, each retried against a closed server): seconds of 100% CPU after "Stopped."."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(status)


if __name__ == "__main__":
    exit_now(main(sys.argv[1:]))
