"""Invoking the deployed handler functions as Lambda would: one invocation per event, run
concurrently on a thread pool, with a Lambda-like context, errors logged and not propagated."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

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


class Lambdas:
    """The three functions ``chalice deploy`` would create, keyed by route."""

    def __init__(
        self, handlers: dict[str, Handler], concurrency: int = 64, timeout_seconds: float = 30
    ) -> None:
        missing = set(ROUTES) - handlers.keys()
        if missing:
            raise ValueError(f"no handler for {sorted(missing)}")
        self._handlers = handlers
        self._timeout = timeout_seconds
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lambda")

    @classmethod
    def from_app_module(cls, module: Any, concurrency: int = 64) -> Lambdas:
        """Resolve each route's handler string (``app.connect``) in the app module, as Lambda does."""
        handlers: dict[str, Handler] = {}
        for route, config in module.app.websocket_handlers.items():
            _, _, attribute = config.handler_string.partition(".")
            handlers[route] = getattr(module, attribute)
        return cls(handlers, concurrency)

    async def invoke(self, route: str, event: dict[str, Any]) -> Invocation:
        handler = self._handlers[route]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run, route, handler, event)

    def _run(self, route: str, handler: Handler, event: dict[str, Any]) -> Invocation:
        context = LambdaContext(f"chat-backend-local-websocket-{route.strip('$')}", self._timeout)
        try:
            return Invocation(result=handler(event, context))
        except Exception as exc:  # a Lambda error: logged, reported to API Gateway as a failure
            log.exception("%s handler raised", route)
            return Invocation(error=exc)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
