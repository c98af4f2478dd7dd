"""The deployed functions run in worker processes, as Lambda runs them in execution environments
of their own: each function has its own workers, each worker an interpreter
(``chatlocal/functions/runtime_worker.py`` under ``python -I -S -u``) that sees only the code folder (and
``WorkerSettings.extra_path``, empty for a deployment package) and the standard library, loads
the function's handler once and runs one invocation at a time. Module state is therefore per
worker, as on AWS, and a dependency the code folder lacks fails here as on Lambda:
``Workers.start`` starts one worker per function first and raises ``PackageInitError`` (a
StartupError: the stack stops with it) with Lambda's init error for each that cannot load.
To run the source tree in workers instead, give the repository as ``code_dir`` and the
virtualenv's site-packages as ``extra_path``.

``Workers`` is a ``chatlocal.functions.lambdas.Lambdas`` whose handlers call a worker: same ``functions``,
``invoke`` and ``shutdown``; the caller's thread waits on the worker's pipe. A function gets
more workers when all of its workers are busy, up to ``max_per_function``. What a worker
reports becomes the invocation's error: the handler's exception (``HandlerError``), its
death (``WorkerDied``: it is replaced at the next invocation) or its timeout (``HandlerTimeout``:
it is killed, as Lambda ends a timed-out environment).

Settings (``lambda_workers``, what the stack runs): ``CHAT_LAMBDA_PACKAGE`` (a folder holding an
unpacked deployment package; unset: the source tree, with the virtualenv's site-packages as
``extra_path``), ``CHAT_LAMBDA_WORKERS`` (the most workers per function: two per core) and
``CHAT_PROCESSES=1`` (no workers: the handlers run on threads in the stack's process).
``CHAT_FAULTS`` injects faults in either mode: here each worker installs an injector of its own
(``chatlocal/aws/faults.py`` is a setup of every worker, see ``faults.install``), and the stack's
process keeps one for ``disconnect_lost``. Workers put the invocations on every core: the
stack's process keeps the gateway and the embedded moto, each worker its handler's CPU work (the
app's boto3 and PynamoDB clients, the JSON, the management posts' signing).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import struct
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from chatlocal.aws import faults
from chatlocal.aws.faults import FaultInjector
from chatlocal.config import StartupError, env_int
from chatlocal.functions.lambdas import Handler, Lambdas
from chatlocal.functions.lambdas import _function_name as function_name  # Lambda's name for a function

log = logging.getLogger("chatlocal.workers")

Emitted = Callable[[str, Any], None]  # a worker's side message: kind, payload

RUNTIME = Path(__file__).resolve().with_name("runtime_worker.py")
HEADER = struct.Struct(">I")
PACKAGE_VARIABLE = "CHAT_LAMBDA_PACKAGE"
WORKERS_VARIABLE = "CHAT_LAMBDA_WORKERS"
SINGLE_PROCESS_VARIABLE = "CHAT_PROCESSES"  # "1": every invocation on threads in the stack's process


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on (containers)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 2


# Two workers per core: an invocation waits on DynamoDB and the management API about half its
# time. On 2 cores, 4 per function delivered about as much as 8 with less CPU per frame
# (docs/local-stack.md, Benchmark), and 2 held back small chats' sends.
DEFAULT_WORKERS = 2 * _cores()
SOURCE_TREE = Path(__file__).resolve().parents[2]  # the repository
INIT_TIMEOUT = 120.0  # Lambda allows 10 s; a loaded 2-core machine importing boto3 needs more
STOP_TIMEOUT = 3.0


class WorkerError(Exception):
    """An invocation that did not return a result, as the caller's ``Invocation.error``."""


class HandlerError(WorkerError):
    """The handler raised: Lambda's error object as the worker reported it."""

    def __init__(self, reported: Mapping[str, Any]) -> None:
        self.error_type = str(reported.get("errorType", "Error"))
        self.error_message = str(reported.get("errorMessage", ""))
        self.stack_trace = [str(line) for line in reported.get("stackTrace") or []]
        trace = "".join(self.stack_trace).rstrip()
        where = f"\nTraceback (most recent call last, in the worker):\n{trace}" if trace else ""
        super().__init__(f"{self.error_type}: {self.error_message}{where}")


class WorkerDied(WorkerError):
    """The worker process ended during an invocation."""


class HandlerTimeout(WorkerError):
    """The invocation ran out of time; the worker was killed."""


class WorkerInitError(StartupError):
    """A function's handler cannot be loaded from the code folder (Lambda's init error)."""

    def __init__(self, function: str, handler: str, problem: str) -> None:
        self.function = function
        self.handler = handler
        self.problem = problem
        super().__init__(f"{function} ({handler}) cannot start: {problem}")


class PackageInitError(StartupError):
    """Functions that cannot start from the code folder; one paragraph per distinct problem."""

    def __init__(self, code_dir: Path, failures: list[WorkerInitError]) -> None:
        self.failures = failures
        by_problem: dict[str, list[str]] = {}
        for failure in failures:
            by_problem.setdefault(failure.problem, []).append(failure.function)
        paragraphs = [f"{', '.join(functions)}: {problem}" for problem, functions in by_problem.items()]
        super().__init__(f"the code in {code_dir} cannot run:\n" + "\n".join(paragraphs))


@dataclass(frozen=True)
class WorkerSettings:
    """Where the code is and how many workers a function may have."""

    code_dir: Path
    max_per_function: int = DEFAULT_WORKERS
    python: str = sys.executable
    extra_path: tuple[str, ...] = ()  # after the code folder: none for a deployment package

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkerSettings | None:
        """The settings ``CHAT_LAMBDA_PACKAGE`` asks for, or None (the handlers run on threads).
        StartupError names a bad value."""
        raw = (env.get(PACKAGE_VARIABLE) or "").strip()
        limit = env_int(env, WORKERS_VARIABLE, DEFAULT_WORKERS, 1, 256)
        if not raw:
            return None
        code_dir = Path(raw).expanduser().resolve()
        if not code_dir.is_dir():
            raise StartupError(
                f"{PACKAGE_VARIABLE}={raw} is not a folder (make run-package builds and unpacks the"
                " deployment package, or: python -m chatlocal.package build/local-package)"
            )
        return cls(code_dir, limit)


def lambda_workers(env: Mapping[str, str]) -> WorkerSettings | None:
    """Where the stack runs its invocations: the deployment package ``CHAT_LAMBDA_PACKAGE``
    names, in workers; else None (threads in the stack's process) with ``CHAT_PROCESSES=1``;
    else the source tree in workers. StartupError names a bad value."""
    package = WorkerSettings.from_env(env)
    single = (env.get(SINGLE_PROCESS_VARIABLE) or "").strip()
    if single and single != "1":
        raise StartupError(
            f"{SINGLE_PROCESS_VARIABLE}={single!r} is not 1 (1: one process, the handlers on threads;"
            " unset: worker processes)"
        )
    if package is not None:
        if single:
            raise StartupError(
                f"{SINGLE_PROCESS_VARIABLE}=1 and {PACKAGE_VARIABLE} together: a deployment package"
                " runs in worker processes only (unset one of them)"
            )
        return package
    if single:
        return None
    limit = env_int(env, WORKERS_VARIABLE, DEFAULT_WORKERS, 1, 256)
    return WorkerSettings(SOURCE_TREE, limit, extra_path=site_packages())


def site_packages() -> tuple[str, ...]:
    """This interpreter's site-packages (the virtualenv's), for workers running the source tree."""
    paths = sysconfig.get_paths()
    return tuple(dict.fromkeys((paths["purelib"], paths["platlib"])))


@dataclass(frozen=True)
class FunctionSpec:
    """One function: its key in ``Lambdas`` (``$connect``, ``fanout``), Lambda's name for it and
    its handler string (``app.connect``)."""

    key: str
    name: str
    handler: str
    settings: WorkerSettings
    env: Mapping[str, str] = field(repr=False)
    setups: tuple[Path, ...] = ()  # run in the worker after the handler loads (runtime_worker --setup)
    on_emit: Emitted | None = field(default=None, repr=False)  # the setup's side messages

    def command(self) -> list[str]:
        path = [str(p) for p in self.settings.extra_path]
        setup = [part for path in self.setups for part in ("--setup", str(path))]
        return [
            self.settings.python,
            "-I",  # isolated: no PYTHON* variables, user site or script folder
            "-S",  # no site: no site-packages
            "-u",  # what the code prints reaches the log at once, as on Lambda
            str(RUNTIME),
            *setup,
            self.handler,
            str(self.settings.code_dir),
            *path,
        ]

    def environment(self) -> dict[str, str]:
        """The stack's environment (its endpoints, credentials and app settings) plus what Lambda
        sets for a function."""
        env = {k: v for k, v in self.env.items() if not k.startswith("PYTHON")}
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": self.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "LAMBDA_TASK_ROOT": str(self.settings.code_dir),
                "_HANDLER": self.handler,
            }
        )
        return env


class Worker:
    """One worker process and its pipe."""

    def __init__(self, spec: FunctionSpec, process: subprocess.Popen[bytes]) -> None:
        self.spec = spec
        self.process = process
        assert process.stdin is not None and process.stdout is not None
        self._to: IO[bytes] = process.stdin
        self._from = process.stdout.fileno()

    @classmethod
    def start(cls, spec: FunctionSpec) -> Worker:
        """A worker whose handler is loaded; WorkerInitError if it cannot load it."""
        process = subprocess.Popen(
            spec.command(),
            cwd=spec.settings.code_dir,
            env=spec.environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the stack's: the function's log
        )
        worker = cls(spec, process)
        try:
            hello = worker._receive(time.monotonic() + INIT_TIMEOUT)
        except WorkerError as exc:
            worker.kill()
            raise WorkerInitError(spec.key, spec.handler, str(exc)) from None
        if "ready" not in hello:
            worker.kill()
            raise WorkerInitError(spec.key, spec.handler, str(HandlerError(hello.get("error") or {})))
        return worker

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def invoke(self, event: Any, context: Any) -> Any:
        """Run one invocation; the handler's result, or a WorkerError."""
        remaining = context.get_remaining_time_in_millis()
        request = {
            "event": event,
            "context": {
                "function_name": context.function_name,
                "aws_request_id": context.aws_request_id,
                "remaining_ms": remaining,
                "memory_mb": context.memory_limit_in_mb,
            },
        }
        body = json.dumps(request).encode()
        try:
            self._to.write(HEADER.pack(len(body)) + body)
            self._to.flush()
        except OSError:
            raise self._died() from None
        reply = self._receive(time.monotonic() + remaining / 1000, timeout_ms=remaining)
        if "error" in reply:
            raise HandlerError(reply["error"])
        return reply.get("result")

    def _receive(self, deadline: float, timeout_ms: int | None = None) -> dict[str, Any]:
        """The next reply; side messages before it go to ``on_emit``."""
        while True:
            header = self._read(HEADER.size, deadline, timeout_ms)
            (length,) = HEADER.unpack(header)
            message: dict[str, Any] = json.loads(self._read(length, deadline, timeout_ms))
            if "emit" not in message:
                return message
            self._emitted(message["emit"])

    def _emitted(self, side: Mapping[str, Any]) -> None:
        if self.spec.on_emit is None:
            log.warning("%s: side message %r with no receiver", self.spec.key, side.get("kind"))
            return
        try:
            self.spec.on_emit(str(side.get("kind")), side.get("payload"))
        except Exception:  # the receiver's bug: the invocation itself goes on
            log.exception("%s: side message %r not taken", self.spec.key, side.get("kind"))

    def _read(self, size: int, deadline: float, timeout_ms: int | None) -> bytes:
        chunks: list[bytes] = []
        while size > 0:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from], [], [], max(0.0, left))
            if not ready:
                self.kill()
                if timeout_ms is None:
                    raise HandlerTimeout(f"no answer within {INIT_TIMEOUT:g} s")
                raise HandlerTimeout(f"Task timed out after {timeout_ms / 1000:.2f} seconds")
            chunk = os.read(self._from, size)
            if not chunk:
                raise self._died()
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _died(self) -> WorkerDied:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(1)
        status = self.process.poll()
        self.kill()
        how = f"exit status {status}" if status is not None and status >= 0 else f"signal {-(status or 0)}"
        return WorkerDied(f"the {self.spec.key} worker (pid {self.process.pid}) died: {how}")

    def stop(self) -> None:
        """End of input: the worker exits; killed if it has not within STOP_TIMEOUT."""
        self.close_input()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close_pipes()

    def close_input(self) -> None:
        """Tell the worker to exit once its invocation (if any) is done."""
        with contextlib.suppress(OSError):
            self._to.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


class FunctionPool:
    """A function's workers: an idle one per invocation, another started while all are busy
    (up to the limit; beyond it the invocation waits for one)."""

    def __init__(self, spec: FunctionSpec, first: Worker) -> None:
        self.spec = spec
        self._idle: list[Worker] = [first]
        self._busy: set[Worker] = set()
        self._count = 1  # idle, busy and starting
        self._closed = False
        self._changed = threading.Condition()

    @property
    def size(self) -> int:
        with self._changed:
            return self._count

    def call(self, event: dict[str, Any], context: Any) -> Any:
        """The ``Lambdas`` handler of this function: one invocation in one worker."""
        worker = self._acquire()
        try:
            return worker.invoke(event, context)
        finally:
            self._release(worker)

    def _acquire(self) -> Worker:
        with self._changed:
            while not self._idle and self._count >= self.spec.settings.max_per_function:
                if self._closed:
                    raise WorkerError(f"{self.spec.key}: the workers are stopping")
                self._changed.wait()
            if self._closed:
                raise WorkerError(f"{self.spec.key}: the workers are stopping")
            if self._idle:
                worker = self._idle.pop()
                self._busy.add(worker)
                return worker
            self._count += 1
        try:
            worker = Worker.start(self.spec)
        except BaseException:
            with self._changed:
                self._count -= 1
                self._changed.notify()
            raise
        log.debug(
            "%s: worker %d of %d started", self.spec.key, self._count, self.spec.settings.max_per_function
        )
        with self._changed:
            self._busy.add(worker)
        return worker

    def _release(self, worker: Worker) -> None:
        with self._changed:
            self._busy.discard(worker)
            keep = worker.alive and not self._closed
            if keep:
                self._idle.append(worker)
            else:
                self._count -= 1
            self._changed.notify()
        if not keep:
            worker.stop()

    def close(self) -> list[Worker]:
        """Refuse further invocations and tell every worker to exit; returns them to wait for."""
        with self._changed:
            self._closed = True
            workers, self._idle = [*self._idle, *self._busy], []
            self._count -= len(workers)
            self._busy.clear()
            self._changed.notify_all()
        for worker in workers:
            worker.close_input()
        return workers


class Workers(Lambdas):
    """``Lambdas`` whose functions run in worker processes (see the module's docstring)."""

    def __init__(
        self,
        pools: dict[str, FunctionPool],
        concurrency: int = 64,
        timeout_seconds: float = 30,
        faults: FaultInjector | None = None,
    ) -> None:
        handlers: dict[str, Handler] = {key: pool.call for key, pool in pools.items()}
        super().__init__(handlers, concurrency, timeout_seconds, faults=faults)
        self.pools = pools

    @classmethod
    def start(
        cls,
        module: Any,
        settings: WorkerSettings,
        env: Mapping[str, str],
        concurrency: int = 64,
        timeout_seconds: float = 30,
        setup: Path | None = None,
        on_emit: Emitted | None = None,
    ) -> Workers:
        """A worker for each function of the app ``module`` declares (the WebSocket routes and
        the event sources, by the same handler strings ``chalice deploy`` gives Lambda), started
        together; PackageInitError naming each function that cannot load. ``setup`` runs in each
        worker once its handler is loaded (runtime_worker's ``--setup``), its side messages
        going to ``on_emit`` (on the invoking thread). With ``CHAT_FAULTS`` in ``env``, each
        worker also injects faults (``faults.install``); StartupError for a bad spec. Blocking."""
        try:
            injector = faults.from_env(env)  # the stack's own: which $disconnects are lost
        except ValueError as exc:
            raise StartupError(str(exc)) from None
        setups: tuple[Path, ...] = (setup,) if setup is not None else ()
        if injector is not None:
            log.warning("fault injection on, in every worker: %s", env[faults.ENV_VARIABLE])
            setups += (faults.WORKER_SETUP,)
        specs = [
            FunctionSpec(key, function_name(key), handler, settings, dict(env), setups, on_emit)
            for key, handler in handler_strings(module).items()
        ]
        started: dict[str, Worker] = {}
        failures: list[WorkerInitError] = []
        with ThreadPoolExecutor(max_workers=len(specs)) as pool:
            futures = {spec.key: pool.submit(Worker.start, spec) for spec in specs}
            for key, future in futures.items():
                try:
                    started[key] = future.result()
                except WorkerInitError as exc:
                    failures.append(exc)
        if failures:
            for worker in started.values():
                worker.stop()
            raise PackageInitError(settings.code_dir, failures)
        pools = {spec.key: FunctionPool(spec, started[spec.key]) for spec in specs}
        return cls(pools, concurrency, timeout_seconds, faults=injector)

    def shutdown(self) -> None:
        """Let the running invocations finish, then end every worker (and with ``CHAT_FAULTS``
        add up what fired in each, once they have written their last report)."""
        super().shutdown()
        closing = [worker for pool in self.pools.values() for worker in pool.close()]
        for worker in closing:
            worker.stop()
        if self.faults is not None and self.faults.report is not None:
            self.faults.write_report(self.faults.report)


def handler_strings(module: Any) -> dict[str, str]:
    """Each function's handler string, keyed as ``Lambdas`` keys it (route, event source name)."""
    handlers = {route: config.handler_string for route, config in module.app.websocket_handlers.items()}
    handlers.update({config.name: config.handler_string for config in module.app.event_sources})
    return handlers
