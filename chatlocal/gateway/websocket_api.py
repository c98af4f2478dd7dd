"""The API Gateway WebSocket API, emulated over aiohttp.

What it does, as API Gateway does it:

- a client's handshake on ``/ws`` runs ``$connect``; a result other than 200 refuses the
  handshake with that status, and the connection exists only after ``$connect`` returns;
- every data frame runs ``$default`` as its own invocation, concurrently (a slow invocation
  does not hold up the next frame); an invocation that raises sends the client API Gateway's
  ``{"message": "Internal server error", ...}`` frame;
- a frame over 128 KiB closes the connection with 1009; no data frame from the client for the
  idle timeout (10 minutes by default) closes it with 1001;
- ``$disconnect`` runs once for every connection that was accepted, however it ended;
- the management API, ``POST|GET|DELETE /@connections/{id}`` (also under ``/{stage}``),
  answers 410 Gone for a connection that is not open.

The management API checks each request's SigV4 signature (``chatlocal.aws.sigv4``) against the
credentials the app signs with, as AWS does: anything else gets 403 and changes nothing.

Where it differs, on purpose: a connection's frames are invoked at most ``connection_concurrency``
(2) at once, handed to the pool in arrival order; the others wait in that connection's queue,
each as the event made when it arrived (its ``requestTimeEpoch`` is the arrival, as on AWS,
which is what the backend's rate limit counts by: a burst that waits here is still refused as
the burst it was). Every
connection therefore gets its turn on the shared invocation pool: a flood from one cannot starve
the others (on AWS each frame is its own Lambda and only the account's concurrency is shared).
A frame that would take a connection's waiting frames past ``connection_backlog_bytes`` (8 MiB)
is not invoked: the client gets ``{"message": "Too Many Requests", ...}`` (the emulator's own
bound, so that a flood cannot take all memory; the socket is still read, pings still answered).

Local additions under ``/dev/connections`` list the open connections and drop one without a
close frame (a network cut), for tests and for trying reconnects by hand; ``/dev/stats`` counts
what happened, with the counters of whatever else was added (the SQS pollers').
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import jwt
from aiohttp import WSCloseCode, WSMsgType, web

from chatlocal.aws.services import LOCAL_CREDENTIALS
from chatlocal.aws.sigv4 import Credentials, Verifier
from chatlocal.functions.lambdas import Lambdas
from chatlocal.gateway.events import (
    Api,
    Socket,
    connect_event,
    disconnect_event,
    message_event,
    new_connection_id,
)

log = logging.getLogger("chatlocal.gateway")

MAX_FRAME_BYTES = 128 * 1024
DEFAULT_IDLE_TIMEOUT = 600.0
# Half the $default workers the stack has by default (two per core on 2 cores): one connection's
# frames never hold every worker, so another user's frame finds one free (issue 21: with 4, a
# burst of sends from one connection took every worker and other users' ping p99 went from
# 81 ms to 1,478 ms on the loaded 2-core machine).
DEFAULT_CONNECTION_CONCURRENCY = 2
DEFAULT_CONNECTION_BACKLOG_BYTES = 8 * 1024 * 1024
GOING_AWAY = 1001
LOCAL_VERIFIER = Verifier(
    lambda: Credentials(LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"], LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]),
    region="us-east-1",
)


class Lane:
    """One connection's frames waiting for their ``$default`` invocation (each as its event, made
    when the frame arrived: ``requestTimeEpoch`` is the arrival, as on AWS), and how many run."""

    def __init__(self) -> None:
        self.waiting: deque[tuple[int, dict[str, Any]]] = deque()
        self.waiting_bytes = 0
        self.running = 0

    def push(self, size: int, event: dict[str, Any]) -> None:
        self.waiting.append((size, event))
        self.waiting_bytes += size

    def pop(self) -> dict[str, Any] | None:
        if not self.waiting:
            return None
        size, event = self.waiting.popleft()
        self.waiting_bytes -= size
        return event

    def clear(self) -> int:
        """Forget the frames not started yet; how many there were."""
        dropped = len(self.waiting)
        self.waiting.clear()
        self.waiting_bytes = 0
        return dropped


@dataclass
class Open:
    socket: Socket
    ws: web.WebSocketResponse
    request: web.Request
    lane: Lane
    dropped: bool = False  # cut by /dev/connections/{id}/drop: no close frame was exchanged


def _iso(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _aws_error(status: int, error_type: str, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": error_type})


def _token_subject(query: dict[str, str]) -> str | None:
    """Who a connection claims to be (unverified: $connect verified it), for the dev listing."""
    try:
        claims = jwt.decode(query.get("token", ""), options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) else None


class Gateway:
    def __init__(
        self,
        lambdas: Lambdas,
        api: Api,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        *,
        management_auth: Verifier = LOCAL_VERIFIER,
        connection_concurrency: int = DEFAULT_CONNECTION_CONCURRENCY,
        connection_backlog_bytes: int = DEFAULT_CONNECTION_BACKLOG_BYTES,
    ) -> None:
        self.lambdas = lambdas
        self.api = api
        self.idle_timeout = idle_timeout
        self.management_auth = management_auth
        self.connection_concurrency = connection_concurrency
        self.connection_backlog_bytes = connection_backlog_bytes
        self._closing = False
        self._open: dict[str, Open] = {}
        self._invocations: set[asyncio.Task[None]] = set()
        self.stats: Counter[str] = Counter()
        self._more_stats: list[Callable[[], Mapping[str, int]]] = []

    def add_stats(self, source: Callable[[], Mapping[str, int]]) -> None:
        """Include these counters in ``/dev/stats`` (called on the event loop, so it must not block)."""
        self._more_stats.append(source)

    def routes(self) -> list[web.RouteDef]:
        connection = "/@connections/{connection_id}"
        staged = "/{stage}/@connections/{connection_id}"
        return [
            web.get("/ws", self.websocket),
            web.post(connection, self.post_to_connection),
            web.get(connection, self.get_connection),
            web.delete(connection, self.delete_connection),
            web.post(staged, self.post_to_connection),
            web.get(staged, self.get_connection),
            web.delete(staged, self.delete_connection),
            web.get("/dev/connections", self.list_connections),
            web.get("/dev/stats", self.get_stats),
            web.post("/dev/connections/{connection_id}/drop", self.drop_connection),
        ]

    # -- the WebSocket side ------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.json_response({"message": "expected a WebSocket upgrade"}, status=426)
        if self._closing:
            return web.json_response({"message": "Service Unavailable"}, status=503)
        socket = Socket(
            connection_id=new_connection_id(),
            source_ip=request.remote or "127.0.0.1",
            user_agent=request.headers.get("User-Agent", ""),
            headers={k: v for k, v in request.headers.items()},
            multi_headers={k: request.headers.getall(k) for k in set(request.headers)},
            query={k: v for k, v in request.query.items()},
            multi_query={k: request.query.getall(k) for k in set(request.query)},
        )
        connected = await self.lambdas.invoke("$connect", connect_event(self.api, socket))
        status = connected.status_code
        if status != 200:
            self.stats["refused"] += 1
            log.info("refused %s with %d", socket.connection_id, status)
            return web.json_response({"message": _reason(status)}, status=status)

        protocols = _chosen_protocols(connected.result)
        ws = web.WebSocketResponse(
            max_msg_size=MAX_FRAME_BYTES + 1,  # aiohttp refuses sizes >= its limit; 128 KiB is allowed
            autoping=True,
            autoclose=True,
            protocols=protocols,
            compress=False,  # API Gateway negotiates no permessage-deflate
        )
        await ws.prepare(request)
        found = Open(socket, ws, request, Lane())
        self._open[socket.connection_id] = found
        self.stats["connected"] += 1
        log.info("connected %s", socket.connection_id)
        status, reason = WSCloseCode.ABNORMAL_CLOSURE, "Connection lost"
        try:
            status, reason = await self._pump(found)
        finally:
            # Also when aiohttp cancels this handler because the socket went away: $disconnect
            # runs in a task of its own, once for every accepted connection.
            self._open.pop(socket.connection_id, None)
            self._spawn(self._disconnected(found, int(status), reason))
        return ws

    async def _disconnected(self, found: Open, status: int, reason: str) -> None:
        if not found.ws.closed:
            await found.ws.close()
        log.info("disconnected %s (%d %s)", found.socket.connection_id, status, reason)
        await self.lambdas.invoke("$disconnect", disconnect_event(self.api, found.socket, status, reason))
        self.stats["disconnected"] += 1

    async def _pump(self, found: Open) -> tuple[int, str]:
        socket, ws = found.socket, found.ws
        while True:
            idle_for = time.time() - socket.last_active_ms / 1000
            try:
                message = await ws.receive(timeout=max(0.0, self.idle_timeout - idle_for))
            except TimeoutError:
                await ws.close(code=GOING_AWAY, message=b"Going away")
                return GOING_AWAY, "Idle timeout"
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                socket.last_active_ms = int(time.time() * 1000)
                self.stats["messages"] += 1
                await self._admit(found, message.data)
            elif message.type == WSMsgType.ERROR:
                code = getattr(message.data, "code", None) or ws.close_code or WSCloseCode.ABNORMAL_CLOSURE
                return int(code), str(message.data) or "Client error"
            elif found.dropped:
                return WSCloseCode.ABNORMAL_CLOSURE, "Connection lost"
            elif message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                code = ws.close_code or 1006
                return code, "Client closed" if code != 1006 else "Connection lost"

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._invocations.add(task)
        task.add_done_callback(self._invocations.discard)

    async def _admit(self, found: Open, data: str | bytes) -> None:
        """Queue a frame on its connection's lane, and start working the lane if it may run more."""
        if self._closing:
            self.stats["frames_dropped_at_stop"] += 1
            return
        lane = found.lane
        if lane.waiting_bytes + len(data) > self.connection_backlog_bytes:
            self.stats["frames_refused"] += 1
            await self._send_error(found.ws, "Too Many Requests", found.socket.connection_id)
            return
        lane.push(len(data), message_event(self.api, found.socket, data))
        if lane.running < self.connection_concurrency:
            lane.running += 1
            self._spawn(self._drain(found))

    async def _drain(self, found: Open) -> None:
        """Invoke the lane's frames one after another until none waits."""
        lane = found.lane
        try:
            while not self._closing and (event := lane.pop()) is not None:
                await self._run_default(found.socket, found.ws, event)
        finally:
            lane.running -= 1

    async def _send_error(
        self, ws: web.WebSocketResponse, message: str, connection_id: str, request_id: str | None = None
    ) -> None:
        """API Gateway's error frame (``{"message", "connectionId", "requestId"}``)."""
        frame = {
            "message": message,
            "connectionId": connection_id,
            "requestId": request_id or secrets.token_urlsafe(9),
        }
        if not ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):  # closed meanwhile
                await ws.send_str(json.dumps(frame))

    async def _run_default(self, socket: Socket, ws: web.WebSocketResponse, event: dict[str, Any]) -> None:
        invocation = await self.lambdas.invoke("$default", event)
        if invocation.error is not None:
            self.stats["lambda_errors"] += 1
            request_id = event["requestContext"]["requestId"]
            await self._send_error(ws, "Internal server error", socket.connection_id, request_id)

    # -- the management API ------------------------------------------------------------------

    def _find(self, request: web.Request) -> Open | None:
        stage = request.match_info.get("stage")
        if stage is not None and stage != self.api.stage:
            return None
        found = self._open.get(request.match_info["connection_id"])
        return found if found is not None and not found.ws.closed else None

    def _refused(self, request: web.Request, body: bytes = b"") -> web.Response | None:
        """API Gateway's 403 when the request is not signed with the stack's credentials."""
        headers = {name.lower(): request.headers.getall(name) for name in request.headers}
        refusal = self.management_auth.check(request.method, request.raw_path, headers, body)
        if refusal is None:
            return None
        self.stats["management_refused"] += 1
        log.warning("management API %s %s refused: %s", request.method, request.path, refusal.error_type)
        return _aws_error(refusal.status, refusal.error_type, refusal.message)

    async def post_to_connection(self, request: web.Request) -> web.Response:
        data = await request.read()
        if refused := self._refused(request, data):
            return refused
        self.stats["posts"] += 1
        if len(data) > MAX_FRAME_BYTES:
            return _aws_error(413, "PayloadTooLargeException", f"Data exceeds {MAX_FRAME_BYTES} bytes")
        target = self._find(request)
        if target is None:
            self.stats["posts_gone"] += 1
            return _aws_error(410, "GoneException", "Connection is not open")
        try:
            try:
                await target.ws.send_str(data.decode("utf-8"))
            except UnicodeDecodeError:
                await target.ws.send_bytes(data)
        except (ConnectionError, RuntimeError):
            self.stats["posts_gone"] += 1
            return _aws_error(410, "GoneException", "Connection is not open")
        return web.Response(status=200)

    async def get_connection(self, request: web.Request) -> web.Response:
        if refused := self._refused(request, await request.read()):
            return refused
        target = self._find(request)
        if target is None:
            return _aws_error(410, "GoneException", "Connection is not open")
        socket = target.socket
        return web.json_response(
            {
                # The wire names of the GetConnection response (boto3 maps them to ConnectedAt...).
                "connectedAt": _iso(socket.connected_at_ms),
                "identity": {"sourceIp": socket.source_ip, "userAgent": socket.user_agent},
                "lastActiveAt": _iso(socket.last_active_ms),
            }
        )

    async def delete_connection(self, request: web.Request) -> web.Response:
        if refused := self._refused(request, await request.read()):
            return refused
        target = self._find(request)
        if target is None:
            return _aws_error(410, "GoneException", "Connection is not open")
        await target.ws.close(code=WSCloseCode.OK, message=b"Connection deleted")
        return web.Response(status=204)

    # -- local-only helpers --------------------------------------------------------------------

    async def list_connections(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "connectionId": cid,
                    "user": _token_subject(dict(found.socket.query)),
                    "connectedAt": _iso(found.socket.connected_at_ms),
                    "userAgent": found.socket.user_agent,
                }
                for cid, found in list(self._open.items())
            ]
        )

    async def get_stats(self, request: web.Request) -> web.Response:
        """Counters since start: connected, refused, disconnected, messages, posts, posts_gone...,
        then those of the sources added with ``add_stats``."""
        names = (
            "connected", "refused", "disconnected", "messages", "lambda_errors", "posts", "posts_gone",
            "management_refused", "frames_refused", "frames_dropped_at_stop",
        )  # fmt: skip
        stats: dict[str, int] = {name: self.stats[name] for name in names} | {"open": len(self._open)}
        for source in self._more_stats:
            stats.update(source())
        return web.json_response(stats)

    async def drop_connection(self, request: web.Request) -> web.Response:
        """Cut the TCP connection without a close frame, as a lost network would."""
        target = self._open.get(request.match_info["connection_id"])
        if target is None or target.request.transport is None:
            return _aws_error(410, "GoneException", "Connection is not open")
        target.dropped = True
        target.request.transport.abort()
        # aiohttp does not wake a pending receive() when its own transport is aborted: closing the
        # response does (the close frame it tries to send goes nowhere: the socket is gone). Not
        # awaited: close() then waits for a close frame that cannot come.
        self._spawn(target.ws.close(code=WSCloseCode.ABNORMAL_CLOSURE))
        return web.Response(status=204)

    # -- lifecycle -----------------------------------------------------------------------------

    async def close_all(self, timeout: float = 3) -> int:
        """Stop taking frames and connections, drop the frames not started, close every connection
        and let their $disconnect and the running invocations finish, for at most ``timeout``
        seconds. Returns how many of those were still running then (never raises on time)."""
        deadline = time.monotonic() + timeout
        self._closing = True
        for found in list(self._open.values()):
            self.stats["frames_dropped_at_stop"] += found.lane.clear()
        closing = [
            asyncio.ensure_future(found.ws.close(code=GOING_AWAY, message=b"Server shutting down"))
            for found in list(self._open.values())
        ]
        if closing:
            await asyncio.wait(closing, timeout=max(0.1, deadline - time.monotonic()))
        while self._open and time.monotonic() < deadline:  # handlers spawn $disconnect as they end
            await asyncio.sleep(0.01)
        pending = set(self._invocations)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=max(0.1, deadline - time.monotonic()))
        return len(pending)


def _reason(status: int) -> str:
    if status >= 500:
        return "Internal server error"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Forbidden"


def _chosen_protocols(result: Any) -> tuple[str, ...]:
    """A subprotocol the $connect result selected (API Gateway requires it echoed)."""
    headers = result.get("headers") if isinstance(result, dict) else None
    if isinstance(headers, dict):
        for name, value in headers.items():
            if name.lower() == "sec-websocket-protocol" and isinstance(value, str):
                return (value,)
    return ()
