"""The local stack, assembled and run: the AWS services, the functions, their event sources, the
gateway and the push providers, started in that order on one event loop, until SIGINT, SIGTERM,
SIGHUP (the terminal closed), SIGQUIT (Ctrl-\\) or the end of its parent process (``make`` killed)
stops them in the reverse order (see docs/local-stack.md); started under ``nohup``, SIGHUP does
not. A stop that comes while the stack starts takes the same way once it is up."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatlocal.banner import print_banner
from chatlocal.config import bind_error
from chatlocal.functions.workers import Workers, WorkerSettings
from chatlocal.options import Options
from chatlocal.persistence import (
    Persistence,
    final_save,
    object_keeper,
    save_periodically,
    say,
    table_keeper,
)

if TYPE_CHECKING:
    from chatlocal.aws.services import Services
    from chatlocal.eventsources.sqs_poller import EventSourceMapping
    from chatlocal.functions.lambdas import Lambdas
    from chatlocal.push.dev_routes import DevPush
    from chatlocal.push.providers import PlatformApplication, PushRecorder, VapidKeys
    from chatlocal.push.worker_hook import Record

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("chatlocal")
STOP_GRACE_SECONDS = 3  # for running invocations after Ctrl-C, then for the rest
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
DETACHED_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)  # under nohup
PARENT_CHECK_SECONDS = 1.0
LOCAL_FANOUT_CONCURRENCY = 8  # posts at once per invocation (CHAT_FANOUT_CONCURRENCY; 32 deployed)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or the StartupError that says why there is none."""
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


def reachable(host: str) -> str:
    """Where this machine reaches a stack listening on ``host`` (a wildcard: the loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


async def serve(
    options: Options, persistence: Persistence, sock: socket.socket, env: MutableMapping[str, str]
) -> None:
    """Start every part, print the banner, and run until a stop signal or the parent's end; then
    stop them all."""
    from aiohttp import web

    from chalicelib import runtime
    from chatlocal import cognito
    from chatlocal.aws import s3
    from chatlocal.aws import services as aws
    from chatlocal.aws.sigv4 import Verifier
    from chatlocal.functions.lambdas import Lambdas
    from chatlocal.gateway.events import Api
    from chatlocal.gateway.server import SERVER_LOG, LocalAccess, build_application
    from chatlocal.gateway.websocket_api import Gateway
    from chatlocal.push import providers as push

    parent = os.getppid()  # read now: a parent that ends while the stack starts is noticed too
    port = sock.getsockname()[1]
    base = f"http://{reachable(options.host)}:{port}"
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
    # The attachments bucket: the app (and every worker, which takes this environment) signs its
    # upload forms and download links for it, on AWS_ENDPOINT_URL_S3 (set below to the embedded
    # moto unless the user named another S3).
    env["CHAT_ATTACHMENTS_BUCKET"] = env.get("CHAT_ATTACHMENTS_BUCKET") or s3.DEFAULT_BUCKET

    # Started under nohup (SIGHUP ignored): meant to outlive the terminal and the shell, so
    # neither SIGHUP nor the parent's end stops it.
    detached = signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    # The stop signals are held (blocked) until every part is up, and so held by every process
    # started meanwhile (the moto and worker processes inherit the mask until they ignore them
    # themselves): Ctrl-C or the terminal closing reaches the whole group, and the stack needs
    # them alive to stop cleanly and save. A stop held meanwhile is delivered to the handler
    # once the stack is up, and takes the same way as any other.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in STOP_SIGNALS if not detached else DETACHED_STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    wanted: tuple[str, ...] = aws.STACK_SERVICES
    if options.auth == "cognito":
        cognito.prepare_env(env)  # before moto starts: stable pool ids
        wanted = aws.COGNITO_STACK_SERVICES
    services = await loop.run_in_executor(
        None, lambda: aws.start(env, services=wanted, own_process=not options.one_process)
    )
    lambdas: Lambdas | None = None
    runner: web.AppRunner | None = None
    mappings: list[EventSourceMapping] = []
    savers: list[asyncio.Task[None]] = []
    try:
        created = await loop.run_in_executor(None, aws.create_missing_tables)
        pool = None
        if options.auth == "cognito":  # before the handlers start: they take the environment
            endpoint, region = services["cognito-idp"].url, env["AWS_REGION"]
            pool = await loop.run_in_executor(None, cognito.ensure_pool, endpoint, region)
            pool.configure(env)
        if persistence.data is not None and services["dynamodb"].embedded:
            persistence.store = table_keeper(
                services, persistence.data, env["AWS_REGION"], persistence.journal
            )
            persistence.restored = await loop.run_in_executor(None, persistence.store.restore)
        origins = s3.cors_origins(options.host, port)
        bucket = await loop.run_in_executor(None, s3.ensure_bucket, env, origins, services["s3"].embedded)
        if persistence.data is not None and services["s3"].embedded:
            persistence.objects = object_keeper(services, persistence.data)
            persistence.restored_objects = await loop.run_in_executor(None, persistence.objects.restore)
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
            Api(domain_name=f"{reachable(options.host)}:{port}"),
            options.idle_timeout,
            management_auth=Verifier(credentials, env["AWS_REGION"]),
            connection_concurrency=options.connection_concurrency,
        )
        for mapping in mappings:
            gateway.add_stats(mapping.stats)
        dev_push = _dev_push(options.vapid, base, recorder, sns, applications)
        access = LocalAccess(options.host, port, options.allow_remote_dev)
        routes = [*dev_push.routes(), *(cognito.CognitoProxy(pool).routes() if pool else [])]
        application = build_application(
            gateway,
            persistence.secret.value,
            extra_routes=routes,
            access=access,
            page_config=cognito.page_config(env, pool),
        )
        runner = web.AppRunner(
            application,
            access_log=None,
            logger=SERVER_LOG,
            shutdown_timeout=2,
        )
        await runner.setup()
        await web.SockSite(runner, sock).start()
        for mapping in mappings:
            mapping.start()

        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        hung_up = terminal_watch()
        watcher = asyncio.create_task(
            watch_parent(parent, stop.set, hung_up=hung_up) if not detached else stop.wait()
        )
        for kept in (persistence.store, persistence.objects):
            if kept is not None:
                savers.append(asyncio.create_task(save_periodically(kept, options.save_interval)))
        print_banner(
            options,
            persistence,
            base,
            services,
            created,
            mappings,
            applications,
            env,
            bucket,
            cognito.auth_note(env, pool),
        )
        await stop.wait()
        watcher.cancel()
        say("\nStopping: closing connections...")
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
        for saver in savers:
            saver.cancel()
        await asyncio.gather(*(m.stop(timeout=STOP_GRACE_SECONDS) for m in mappings))
        if lambdas is not None:
            await _stop_invocations(lambdas, STOP_GRACE_SECONDS)
        if runner is not None:
            await runner.cleanup()
        runtime.use_push_sink(None)
        if persistence.store is not None and persistence.store.restored:
            final_save(persistence.store)
        if persistence.objects is not None and persistence.objects.restored:
            final_save(persistence.objects, "files")
        services.stop()


async def watch_parent(
    parent: int,
    stop: Callable[[], None],
    interval: float = PARENT_CHECK_SECONDS,
    getppid: Callable[[], int] = os.getppid,
    hung_up: Callable[[], bool] = lambda: False,
) -> None:
    """Stop when the process that started the stack is gone (``make`` killed: the stack would
    run on, orphaned, holding the port and the data folder): it is then a child of another. Or
    when its terminal has closed: SIGHUP reaches only the session's leader, and when that is
    ``make`` itself (``ssh -t host make run``, a terminal opened on ``make run``), make waits
    for the stack, which hears nothing (a shell passes SIGHUP on to its jobs; make does not)."""
    while getppid() == parent:
        if hung_up():
            log.warning("the terminal has closed: stopping")
            break
        await asyncio.sleep(interval)
    else:
        log.warning("the process that started the stack (%d) has ended: stopping", parent)
    stop()


def terminal_watch() -> Callable[[], bool]:
    """Whether the terminal the stack started on has hung up (closed): a poll of it answers
    POLLHUP from then on. Always False without a terminal (a pipe's end is not the stack's stop)."""
    terminal = next((fd for fd in (0, 1, 2) if _is_terminal(fd)), None)
    if terminal is None:
        return lambda: False
    poller = select.poll()
    poller.register(terminal, select.POLLOUT)
    return lambda: any(event & (select.POLLHUP | select.POLLERR) for _, event in poller.poll(0))


def _is_terminal(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _start_workers(
    module: Any, settings: WorkerSettings, env: Mapping[str, str], concurrency: int, record: Record
) -> Workers:
    """``Workers.start`` with the push record (``chatlocal.push.worker_hook``) wired in. Blocking."""
    from chatlocal.push.worker_hook import SETUP, receiver

    return Workers.start(module, settings, env, concurrency, setup=SETUP, on_emit=receiver(record))


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
