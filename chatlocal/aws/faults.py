"""Fault injection: AWS calls that fail the way AWS makes them fail, for tests and the local stack.

The injector wraps ``botocore.endpoint.Endpoint._do_get_response``, which botocore calls once
per attempt inside its retry loop (also under moto's ``mock_aws``, whose ``before-send`` hook
answers from there): an injected error is an HTTP response botocore parses and retries as it
would a real one, so PynamoDB's and boto3's own retry settings apply unchanged.

Kinds (``KINDS``):

- DynamoDB: ``throughput`` (ProvisionedThroughputExceededException), ``throttle``
  (ThrottlingException), ``server_error`` (500 InternalServerError), ``conflict``
  (TransactWriteItems cancelled with a TransactionConflict reason), ``timeout_before`` (a
  connect timeout: the request never left), ``timeout_after`` (the request is applied, then the
  read times out, so botocore sends it again: a TransactWriteItems carries the same
  ClientRequestToken both times);
- the management API's PostToConnection: ``post_429``, ``post_500``, ``post_timeout``
  (a connect timeout), ``post_timeout_after`` (the frame reached the connection, then the read
  timed out), ``post_gone`` (410);
- ``sqs_error`` (SendMessage/SendMessageBatch answer 500), ``sns_error`` (any SNS call answers 500);
- ``crash``: ``Crash``, a ``BaseException`` the app's ``except Exception`` cannot swallow, raised
  instead of an AWS call: a Lambda killed mid-way. Chosen at random only inside an invocation
  (``injector.invocation()``, which chatlocal.functions.lambdas enters), planned anywhere;
- ``disconnect_lost``: not an AWS call; chatlocal.functions.lambdas asks ``lose_disconnect()`` before each
  ``$disconnect`` invocation and skips it when told to.

Two ways to choose: a plan (``Planned``: fire kind K on call N of operation X, for deterministic
tests) and a rate (each call fails with probability ``rate``, the kind drawn from ``kinds`` among
those that apply to the call) from a seeded ``random.Random``. ``fired`` counts what fired, by kind.

The local stack reads ``CHAT_FAULTS`` (``from_spec``), for example
``CHAT_FAULTS="seed=7,rate=0.05,kinds=throttle,timeout_after,crash,report=/tmp/faults.json"``;
unset means no injection. Only chatlocal reads it: nothing that ships to Lambda does.

Where the handlers run in worker processes (chatlocal.functions.workers, the default), each
worker runs this very file as a setup (``runtime_worker --setup``, by path: it imports only the
standard library and botocore, which the code folder has), and ``install`` puts an injector of
its own on that process's AWS calls (``for_worker``: the same rate and kinds, a seed of its own,
every call inside an invocation, so a ``crash`` ends the worker as Lambda ends an environment).
The stack's process keeps one for ``disconnect_lost``. Each worker writes what fired to
``REPORT.worker-FUNCTION-PID`` as it fires and at exit; the stack's report adds them up.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import random
import sys
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.endpoint import Endpoint, convert_to_response_dict
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

log = logging.getLogger("chatlocal.faults")

ENV_VARIABLE = "CHAT_FAULTS"
DYNAMODB = "dynamodb"
MANAGEMENT = "apigatewaymanagementapi"
DISCONNECT = "$disconnect"  # the "operation" disconnect_lost is planned on


class Crash(BaseException):
    """A Lambda killed mid-way (injected). Derives from BaseException so that no
    ``except Exception`` in the app can swallow it: only the invoker sees it."""


@dataclass(frozen=True)
class Kind:
    """One way a call can fail: which calls it applies to, and the failure."""

    name: str
    service: str  # botocore's hyphenized service id; "" for disconnect_lost
    operations: frozenset[str] = frozenset()  # empty: every operation of the service
    status: int = 0  # an error response with this status and ``code``...
    code: str = ""
    timeout: str = ""  # ... or "before"/"after": a timeout around the request
    crash: bool = False

    def applies(self, service: str, operation: str) -> bool:
        if self.crash:
            return True
        return service == self.service and (not self.operations or operation in self.operations)


SQS_SENDS = frozenset({"SendMessage", "SendMessageBatch"})
POST = frozenset({"PostToConnection"})

KINDS: Mapping[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("throughput", DYNAMODB, status=400, code="ProvisionedThroughputExceededException"),
        Kind("throttle", DYNAMODB, status=400, code="ThrottlingException"),
        Kind("server_error", DYNAMODB, status=500, code="InternalServerError"),
        Kind(
            "conflict",
            DYNAMODB,
            frozenset({"TransactWriteItems"}),
            status=400,
            code="TransactionCanceledException",
        ),
        Kind("timeout_before", DYNAMODB, timeout="before"),
        Kind("timeout_after", DYNAMODB, timeout="after"),
        Kind("post_429", MANAGEMENT, POST, status=429, code="LimitExceededException"),
        Kind("post_500", MANAGEMENT, POST, status=500, code="InternalServerErrorException"),
        Kind("post_timeout", MANAGEMENT, POST, timeout="before"),
        Kind("post_timeout_after", MANAGEMENT, POST, timeout="after"),
        Kind("post_gone", MANAGEMENT, POST, status=410, code="GoneException"),
        Kind("sqs_error", "sqs", SQS_SENDS, status=500, code="InternalError"),
        Kind("sns_error", "sns", status=500, code="InternalError"),
        Kind("crash", "", crash=True),
        Kind("disconnect_lost", ""),
    )
}


@dataclass(frozen=True)
class Planned:
    """Fire ``kind`` on calls ``call`` .. ``call + times - 1`` (1-based, counted since the
    injector was installed) of ``operation`` (a botocore operation name such as
    ``TransactWriteItems`` or ``PostToConnection``; ``$disconnect`` for ``disconnect_lost``)."""

    kind: str
    operation: str
    call: int = 1
    times: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.call < 1 or self.times < 1:
            raise ValueError("call and times count from 1")

    def matches(self, operation: str, number: int) -> bool:
        return operation == self.operation and self.call <= number < self.call + self.times


_active: FaultInjector | None = None
_original = Endpoint._do_get_response
_install_lock = threading.Lock()


@dataclass
class FaultInjector:
    plan: Sequence[Planned] = ()
    seed: int = 0
    rate: float = 0.0
    kinds: Sequence[str] = ()  # what the rate draws from; empty: every kind
    report: Path | None = None  # written on uninstall: {"fired": {kind: n}, "calls": n}
    eager: bool = False  # write the report each time a fault fires (a worker may be killed)
    fired: Counter[str] = field(default_factory=Counter, init=False)
    calls: Counter[str] = field(default_factory=Counter, init=False)  # by operation
    _random: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _scope: threading.local = field(default_factory=threading.local, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, not {self.rate}")
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
        self.kinds = tuple(self.kinds) or tuple(KINDS)
        self._random = random.Random(self.seed)

    # -- lifecycle -------------------------------------------------------------------------------

    def install(self) -> FaultInjector:
        global _active
        with _install_lock:
            if _active is not None:
                raise RuntimeError("a fault injector is already installed")
            _active = self
            Endpoint._do_get_response = _intercepted  # type: ignore[method-assign]
        return self

    def uninstall(self) -> None:
        global _active
        with _install_lock:
            if _active is self:
                Endpoint._do_get_response = _original  # type: ignore[method-assign]
                _active = None
        if self.report is not None:
            self.write_report(self.report)

    def __enter__(self) -> FaultInjector:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def write_report(self, path: Path) -> None:
        """What fired here, plus what the workers' reports beside ``path`` say fired there."""
        with self._lock:
            fired, calls = Counter(self.fired), sum(self.calls.values())
        for part in sorted(path.parent.glob(f"{path.name}.worker-*")):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                data = json.loads(part.read_text())
                fired.update(data["fired"])
                calls += int(data["calls"])
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"fired": dict(fired), "calls": calls}, sort_keys=True))
        os.replace(temporary, path)  # whole, for a reader at any moment

    @contextlib.contextmanager
    def invocation(self) -> Iterator[None]:
        """The calls made on this thread meanwhile belong to a Lambda invocation: a random
        ``crash`` may hit them."""
        self._scope.inside = True
        try:
            yield
        finally:
            self._scope.inside = False

    # -- choosing --------------------------------------------------------------------------------

    def choose(self, service: str, operation: str) -> Kind | None:
        """The fault this call gets, if any (counts the call, and the fault as fired)."""
        inside = bool(getattr(self._scope, "inside", False))
        with self._lock:
            self.calls[operation] += 1
            kind = self._planned(operation) or self._drawn(service, operation, inside)
            if kind is not None:
                self.fired[kind.name] += 1
        if kind is not None and self.eager and self.report is not None:
            self.write_report(self.report)
        return kind

    def lose_disconnect(self) -> bool:
        """Whether this ``$disconnect`` invocation never happens (counted as fired)."""
        kind = self.choose("", DISCONNECT)
        return kind is not None

    def _planned(self, operation: str) -> Kind | None:
        number = self.calls[operation]
        for planned in self.plan:
            if planned.matches(operation, number):
                return KINDS[planned.kind]
        return None

    def _drawn(self, service: str, operation: str, inside: bool) -> Kind | None:
        if self.rate <= 0.0 or self._random.random() >= self.rate:
            return None
        candidates = [
            KINDS[name] for name in self.kinds if _eligible(KINDS[name], service, operation, inside)
        ]
        return self._random.choice(candidates) if candidates else None

    # -- firing ----------------------------------------------------------------------------------

    def respond(
        self, endpoint: Endpoint, original: Callable[..., Any], request: Any, model: Any, context: Any
    ) -> Any:
        """What ``_do_get_response`` returns for this attempt: (response, None) or (None, error)."""
        service = model.service_model.service_id.hyphenize()
        kind = self.choose(service, model.name)
        if kind is None:
            return original(endpoint, request, model, context)
        log.info("injecting %s into %s.%s", kind.name, service, model.name)
        if kind.crash:
            raise Crash(f"injected crash at {service}.{model.name}")
        if kind.timeout == "before":
            return None, ConnectTimeoutError(endpoint_url=request.url)
        if kind.timeout == "after":
            original(endpoint, request, model, context)  # applied; its answer is lost
            return None, ReadTimeoutError(endpoint_url=request.url)
        return _error_response(endpoint, request, model, kind), None


def _eligible(kind: Kind, service: str, operation: str, inside: bool) -> bool:
    if operation == DISCONNECT:
        return kind.name == "disconnect_lost"
    if kind.crash:
        return inside
    return bool(kind.service) and kind.applies(service, operation)


def _intercepted(self: Endpoint, request: Any, operation_model: Any, context: Any) -> Any:
    injector = _active
    if injector is None:
        return _original(self, request, operation_model, context)
    return injector.respond(self, _original, request, operation_model, context)


# -- error responses, as each protocol writes them ---------------------------------------------


class _Body:
    """The raw body of an ``AWSResponse`` (botocore reads it with ``stream()``)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._data


def _error_response(endpoint: Endpoint, request: Any, model: Any, kind: Kind) -> tuple[AWSResponse, Any]:
    """The error as the service would send it, parsed by botocore's parser for its protocol."""
    protocol = model.service_model.resolved_protocol
    message = f"injected {kind.name}"
    headers: dict[str, str] = {"x-amzn-RequestId": "injected-fault"}
    body: dict[str, Any] = {}
    if protocol == "query":
        data = (
            f"<ErrorResponse><Error><Type>Receiver</Type><Code>{kind.code}</Code><Message>{message}"
            "</Message></Error><RequestId>injected-fault</RequestId></ErrorResponse>"
        ).encode()
        headers["Content-Type"] = "text/xml"
    else:
        if protocol == "rest-json":
            headers["x-amzn-ErrorType"] = kind.code
        else:
            body["__type"] = f"com.amazonaws.{model.service_model.service_name}#{kind.code}"
        headers["Content-Type"] = "application/x-amz-json-1.0"
        body["message"] = message
        if kind.name == "conflict":
            body.update(_conflict_fields(request))
        data = json.dumps(body).encode()
    http_response = AWSResponse(request.url, kind.status, headers, _Body(data))
    response_dict = convert_to_response_dict(http_response, model)
    parser = endpoint._response_parser_factory.create_parser(protocol)
    parsed = parser.parse(response_dict, model.output_shape)
    endpoint._add_modeled_error_fields(response_dict, parsed, model, parser)
    return http_response, parsed


def _conflict_fields(request: Any) -> dict[str, Any]:
    """A TransactionCanceledException's reasons: one per item, the first a TransactionConflict."""
    try:
        items = json.loads(request.body or b"{}").get("TransactItems") or [{}]
    except ValueError:
        items = [{}]
    reasons = [{"Code": "None"} for _ in items]
    reasons[0] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
    codes = ", ".join(r["Code"] for r in reasons)
    return {
        "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
        "CancellationReasons": reasons,
    }


# -- configuration -----------------------------------------------------------------------------


def from_spec(spec: str) -> FaultInjector | None:
    """Parse ``CHAT_FAULTS``: comma-separated ``seed=N``, ``rate=R`` (0..1), ``kinds=K,K,...``
    (the names after ``kinds=`` run until the next ``key=``; default every kind) and
    ``report=PATH``. Empty: None (no injection). A bad value raises ValueError naming it."""
    spec = spec.strip()
    if not spec:
        return None
    options: dict[str, list[str]] = {}
    key = ""
    for token in (t.strip() for t in spec.split(",")):
        if not token:
            continue
        if "=" in token:
            key, _, value = token.partition("=")
            key = key.strip()
            if key not in ("seed", "rate", "kinds", "report"):
                raise ValueError(f"{ENV_VARIABLE}: unknown option {key!r} (seed, rate, kinds, report)")
            options[key] = [value.strip()] if value.strip() else []
        elif key == "kinds":
            options[key].append(token)
        else:
            raise ValueError(f"{ENV_VARIABLE}: {token!r} is not key=value")
    try:
        seed = int(options.get("seed", ["0"])[0])
        rate = float(options.get("rate", ["0"])[0])
    except ValueError as exc:
        raise ValueError(f"{ENV_VARIABLE}: {exc}") from None
    kinds = [k for k in options.get("kinds", []) if k != "all"]
    report = Path(options["report"][0]) if options.get("report") else None
    try:
        return FaultInjector(seed=seed, rate=rate, kinds=kinds, report=report)
    except ValueError as exc:
        raise ValueError(f"{ENV_VARIABLE}: {exc}") from None


def from_env(env: Mapping[str, str]) -> FaultInjector | None:
    return from_spec(env.get(ENV_VARIABLE, ""))


# -- in a worker process (runtime_worker --setup) -----------------------------------------------

WORKER_SETUP = Path(__file__).resolve()


def worker_report(report: Path, function: str, pid: int) -> Path:
    return report.with_name(f"{report.name}.worker-{function}-{pid}")


def for_worker(env: Mapping[str, str], function: str, pid: int) -> FaultInjector | None:
    """The injector a worker process of ``function`` installs: ``CHAT_FAULTS``' rate and kinds,
    a seed drawn from its seed, the function and the process (workers of one function must not
    all fail the same calls), and a report of its own beside the stack's."""
    base = from_env(env)
    if base is None:
        return None
    return FaultInjector(
        seed=zlib.crc32(f"{base.seed}:{function}:{pid}".encode()),
        rate=base.rate,
        kinds=base.kinds,
        report=worker_report(base.report, function, pid) if base.report is not None else None,
        eager=True,
    )


def install(emit: Callable[[str, Any], None]) -> None:
    """``runtime_worker --setup`` entry: inject ``CHAT_FAULTS`` into this worker's AWS calls.
    The worker runs its invocations on this thread, so every call made here is inside one (a
    ``crash`` may hit it: it ends the worker, and its invocation fails as WorkerDied)."""
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "function"
    injector = for_worker(os.environ, function, os.getpid())
    if injector is None:
        return
    injector.install()
    injector._scope.inside = True
    if injector.report is not None:
        atexit.register(injector.write_report, injector.report)
    previous = sys.excepthook

    def killed(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        if issubclass(kind, Crash):
            print(f"{function}[{os.getpid()}] killed: {value}", file=sys.stderr)
            return
        previous(kind, value, tb)

    sys.excepthook = killed
