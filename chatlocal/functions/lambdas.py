"""Invoking the deployed handler functions as Lambda would: one invocation per event, run
concurrently on one thread pool, with a Lambda-like context, errors logged and not propagated.

The functions are the ones ``chalice deploy`` creates: the three WebSocket routes, keyed by route
(``$connect``...), and each event source handler (``@app.on_sqs_message``...), keyed by its name
(``fanout``).

Fault injection (chatlocal.aws.faults, configured by ``CHAT_FAULTS``; off when unset): an injected
``Crash`` ends its invocation as a failed one, as a Lambda killed mid-way would, and never
reaches the event loop; a lost ``$disconnect`` is not run at all, leaving the connection record
to its TTL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chatlocal.aws import faults
from chatlocal.aws.faults import Crash, FaultInjector
from chatlocal.config import StartupError

log = logging.getLogger("chatlocal.lambda")

Handler = Callable[[dict[str, Any], Any], Any]
ROUTES = ("$connect", "$default", "$disconnect")


class LambdaContext:
    """The attributes of the context object a Python Lambda gets that handlers commonly read."""

    def __init__(self, function_name: str, timeout_seconds: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Invocation:
    """What came back: the handler's result, or ``error`` set when it raised."""

    result: Any = None
    error: BaseException | None = None

    @property
    def status_code(self) -> int:
        """The status API Gateway derives from a ``$connect`` integration result."""
        if self.error is not None:
            return 500
        if isinstance(self.result, dict):
            status = self.result.get("statusCode", 200)
            return int(status) if isinstance(status, int) else 500
        return 200


class LostInvocation(Exception):
    """An invocation that never ran (an injected ``disconnect_lost``)."""


class Lambdas:
    """The functions ``chalice deploy`` would create: the WebSocket routes and event sources."""

    def __init__(
        self,
        handlers: dict[str, Handler],
        concurrency: int = 64,
        timeout_seconds: float = 30,
        faults: FaultInjector | None = None,
    ) -> None:
        missing = set(ROUTES) - handlers.keys()
        if missing:
            raise ValueError(f"no handler for {sorted(missing)}")
        self._handlers = handlers
        self._timeout = timeout_seconds
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lambda")
        self.faults = faults

    @classmethod
    def from_app_module(cls, module: Any, concurrency: int = 64) -> Lambdas:
        """Resolve each function's handler string (``app.connect``) in the app module, as Lambda
        does: the WebSocket routes by route, the event sources by name. ``CHAT_FAULTS``, when
        set, installs a fault injector until ``shutdown``."""
        handlers: dict[str, Handler] = {}
        for route, config in module.app.websocket_handlers.items():
            handlers[route] = _resolve(module, config.handler_string)
        for config in module.app.event_sources:
            handlers[config.name] = _resolve(module, config.handler_string)
        try:
            injector = faults.from_env(os.environ)
        except ValueError as exc:
            raise StartupError(str(exc)) from None
        if injector is not None:
            log.warning("fault injection on: %s", os.environ[faults.ENV_VARIABLE])
            injector.install()
        return cls(handlers, concurrency, faults=injector)

    @property
    def functions(self) -> list[str]:
        return list(self._handlers)

    async def invoke(self, function: str, event: dict[str, Any]) -> Invocation:
        """Run one invocation of a route (``$default``) or an event source function (``fanout``)."""
        handler = self._handlers[function]
        if function == "$disconnect" and self.faults is not None and self.faults.lose_disconnect():
            log.warning("$disconnect of %s lost (injected)", _connection_of(event))
            return Invocation(error=LostInvocation("$disconnect lost (injected)"))
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run, function, handler, event)

    def _run(self, function: str, handler: Handler, event: dict[str, Any]) -> Invocation:
        context = LambdaContext(_function_name(function), self._timeout)
        scope = self.faults.invocation() if self.faults is not None else contextlib.nullcontext()
        try:
            with scope:
                return Invocation(result=handler(event, context))
        except Crash as exc:  # a Lambda killed mid-way: what it did so far stays done
            log.warning("%s invocation killed: %s", function, exc)
            return Invocation(error=exc)
        except Exception as exc:  # a Lambda error: logged, reported to the caller as a failure
            log.exception("%s handler raised", function)
            return Invocation(error=exc)

    def shutdown(self) -> None:
        if self.faults is not None and self.faults.report is not None:
            self.faults.write_report(self.faults.report)  # in case running invocations outlast the exit
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self.faults is not None:
            self.faults.uninstall()


def _resolve(module: Any, handler_string: str) -> Handler:
    _, _, attribute = handler_string.partition(".")
    handler: Handler = getattr(module, attribute)
    return handler


def _connection_of(event: dict[str, Any]) -> str:
    return str(event.get("requestContext", {}).get("connectionId", "?"))


def _function_name(function: str) -> str:
    if function in ROUTES:
        return f"chat-backend-local-websocket-{function.strip('$')}"
    return f"chat-backend-local-{function}"
