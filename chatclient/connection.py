"""Socket supervision: one WebSocket kept open, requests correlated by ``req``, pushed frames
handed on one at a time in arrival order.

``Connection`` connects (the first time within ``connect_timeout``; a refused token stops it
for good), pings well inside API Gateway's idle limit, reconnects with backoff and jitter, and
sends ``rate_limited`` requests again as the server says. It knows nothing of chats: the layer
above (``chatclient.delivery``) overrides two hooks, ``_on_connected`` (bring the application
up to date on a new connection, before the client reports itself online; tried again in the
background by ``_catch_up`` while incomplete) and ``_dispatch`` (one pushed frame). The only
module of the client that touches the socket, as python-websockets' ``asyncio/connection.py``
moves the bytes its ``protocol.py`` makes sense of.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Self

import websockets

from chatclient.backoff import Backoff
from chatclient.errors import AuthError, CannotConnect, ConnectionLost, ProtocolViolation, RequestTimeout
from chatclient.models import ChatError
from chatclient.token import token_subject

log = logging.getLogger("chatclient")

Handler = Callable[[Any], Any]  # sync or async; gets a Message, Receipt, Typing, Chat, chat id or state
TokenSource = str | Callable[[], str | Awaitable[str]]
RATE_LIMIT_RETRIES = 5  # a request refused rate_limited is sent again up to this many times
MAX_RATE_LIMIT_PAUSE = 30.0  # seconds; longer retry_after_ms values are cut to this
CATCH_UP_TRIES = 6  # an incomplete resync is tried again this many times while online
CLOSE_TIMEOUT = 2.0  # seconds to wait for the server's half of a closing handshake, or a task


def _refusal(url: str, exc: BaseException) -> AuthError | None:
    """An ``AuthError`` if ``exc`` is a handshake refused with 401 or 403, else None."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if not isinstance(exc, websockets.InvalidStatus) or status not in (401, 403):
        return None
    return AuthError(url, int(status), _reason_text(response))


def _reason_text(response: Any) -> str:
    """The server's reason: the body's ``message`` (API Gateway's JSON), else its text, else the
    status line's phrase."""
    body = bytes(getattr(response, "body", b"") or b"")
    with contextlib.suppress(ValueError):
        parsed = json.loads(body)
        if isinstance(parsed, dict) and parsed.get("message"):
            return str(parsed["message"])
    text = body.decode("utf-8", "replace").strip()
    return text[:200] or str(getattr(response, "reason_phrase", ""))


def _settle(future: asyncio.Future[Any]) -> None:
    """Cancel ``future`` if it is still waiting, else mark its exception (if any) as retrieved,
    so that asyncio never reports it as "never retrieved"."""
    if not future.done():
        future.cancel()
    elif not future.cancelled():
        future.exception()


async def call_handler(handler: Handler | None, value: Any) -> None:
    """Call an application handler (sync or async); what it raises is logged, not raised."""
    if handler is None:
        return
    try:
        result = handler(value)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("handler %r raised", handler)


async def _close_socket(ws: Any) -> None:
    """``ws.close()``, waiting at most ``CLOSE_TIMEOUT`` for the server to answer; then the
    socket is dropped. A server that never answers must not keep a closing client (or the CLI
    after Ctrl-C) waiting."""
    try:
        await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT)
    except TimeoutError:
        log.info("the server did not answer the closing handshake: dropping the connection")
        transport = getattr(ws, "transport", None)
        if transport is not None:
            transport.abort()
    except Exception as exc:  # already closed, reset...
        log.debug("closing the connection: %s", exc)


class Connection:
    def __init__(
        self,
        url: str,
        token: TokenSource,
        *,
        request_timeout: float = 10.0,
        keepalive: float = 300.0,
        backoff: Backoff | None = None,
        connect_timeout: float | None = 10.0,
        connect: Callable[..., Any] = websockets.connect,
    ) -> None:
        self.url = url
        self._token = token
        self.request_timeout = request_timeout
        self.keepalive = keepalive
        self.backoff = backoff or Backoff()
        self.connect_timeout = connect_timeout  # the first connect only; None: keep trying
        self._connect = connect

        self.state = "idle"  # idle, connecting, online, offline, failed, closed
        self.error: AuthError | CannotConnect | None = None  # why the client stopped (state "failed")
        self.connects = 0  # successful connections so far (1 + reconnects)
        self.user_id: str | None = None  # the token's subject, known from the first connect
        self._ws: Any = None
        self._online = asyncio.Event()
        self._failed = asyncio.Event()
        self._ever_online = False
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reqs = itertools.count(1)
        self._supervisor: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._closing = False

        self.on_state: Handler | None = None
        self.on_error: Handler | None = None  # gets the AuthError or CannotConnect that stopped it
        # Test hook: awaited right after a message.send frame is written.
        self.after_send_frame: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, wait: bool = True) -> Self:
        """Connect in the background; with ``wait``, until online. Raises ``AuthError`` at once
        if the server refuses the token, ``CannotConnect`` after ``connect_timeout`` seconds
        without a connection (the client is closed in both cases)."""
        if self._supervisor is None:
            self._supervisor = asyncio.ensure_future(self._run())
            self._dispatcher = asyncio.ensure_future(self._dispatch_forever())
        if wait:
            try:
                await self.wait_online()
            except (AuthError, CannotConnect):
                await self.close()
                raise
        return self

    async def wait_online(self, timeout: float | None = None) -> None:
        """Until the client is online; raises the error that stopped it, if one did."""
        await asyncio.wait_for(self._until_online(), timeout)

    async def _until_online(self) -> None:
        if self.error is None and not self._online.is_set():
            online = asyncio.ensure_future(self._online.wait())
            failed = asyncio.ensure_future(self._failed.wait())
            try:
                await asyncio.wait({online, failed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                online.cancel()
                failed.cancel()
        if self.error is not None:
            raise self.error

    async def close(self) -> None:
        """Close the connection and stop; returns within a few seconds even when the server
        never answers the closing handshake (the socket is then dropped)."""
        self._closing = True
        if self._ws is not None:
            await _close_socket(self._ws)
        for task in (self._supervisor, self._dispatcher):
            if task is not None:
                task.cancel()
                done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)
                if not done:
                    log.warning("a client task did not stop within %.0f s of close()", CLOSE_TIMEOUT)
                elif not task.cancelled() and task.exception() is not None:
                    log.info("a client task ended with %r", task.exception())
        await self._set_state("closed")

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _token_value(self) -> str:
        value = self._token() if callable(self._token) else self._token
        return await value if inspect.isawaitable(value) else value

    async def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            await call_handler(self.on_state, state)

    # -- what the layer above does ---------------------------------------------------------------

    async def _on_connected(self) -> bool:
        """Bring the application up to date on a new connection, before the client reports
        itself online: True when complete (False: ``_catch_up`` tries again while online). A
        lost connection raises. Here: nothing to do."""
        return True

    async def _dispatch(self, frame: dict[str, Any]) -> None:
        """One pushed frame (one that answers no request). Here: none is expected."""
        log.debug("unhandled frame %s", frame)

    # -- supervision -----------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        started = asyncio.get_running_loop().time()
        failure: Exception | None = None  # the last attempt's error, for CannotConnect
        while not self._closing:
            await self._set_state("connecting")
            try:
                self._ws = await self._connect_once(started)
            except (AuthError, CannotConnect) as exc:
                await self._stop(exc)
                return
            except Exception as exc:  # unreachable, reset, a server error...
                log.info("connect failed: %s", exc)
                # An attempt cut short by the deadline says less than the one before it.
                failure = failure if isinstance(exc, TimeoutError) and failure is not None else exc
                await self._set_state("offline")
                delay, left = self.backoff.delay(attempt), self._time_left(started)
                if left is not None and delay >= left:  # no time for another try
                    await asyncio.sleep(left)
                    await self._stop(CannotConnect(self.url, self.connect_timeout or 0.0, failure))
                    return
                await asyncio.sleep(delay)
                attempt += 1
                continue
            self.connects += 1
            if await self._serve_safely(self._ws):
                attempt = 0
            else:
                attempt += 1
            if not self._closing:
                await self._set_state("offline")
                await asyncio.sleep(self.backoff.delay(attempt))

    async def _connect_once(self, started: float) -> Any:
        """One handshake, bounded by what is left of ``connect_timeout`` before the first
        connection; a refused token is an ``AuthError``."""
        token = await self._token_value()
        self.user_id = token_subject(token) or self.user_id
        sep = "&" if "?" in self.url else "?"
        try:
            return await asyncio.wait_for(
                self._connect(f"{self.url}{sep}token={token}", max_size=None), self._time_left(started)
            )
        except Exception as exc:
            refusal = _refusal(self.url, exc)
            if refusal is not None:
                raise refusal from exc
            raise

    def _time_left(self, started: float) -> float | None:
        """Seconds left to make the first connection (None: no bound, or already online once)."""
        if self._ever_online or self.connect_timeout is None:
            return None
        return max(0.0, started + self.connect_timeout - asyncio.get_running_loop().time())

    async def _stop(self, exc: AuthError | CannotConnect) -> None:
        """Stop for good: the application hears why (``on_error``, state "failed", and every
        waiting or later request raises ``exc``)."""
        log.info("stopped: %s", exc)  # the application hears it; no output of its own
        self.error = exc
        self._failed.set()
        self._fail_pending()
        await self._set_state("failed")
        await call_handler(self.on_error, exc)

    async def _serve_safely(self, ws: Any) -> bool:
        """``_serve``, where anything unexpected ends this connection, never the client."""
        try:
            return await self._serve(ws)
        except Exception:
            log.exception("connection failed unexpectedly; reconnecting")
            return False

    async def _serve(self, ws: Any) -> bool:
        """Resync, then stay online until the connection ends; False if the connection was lost
        during the resync. A resync step the server refused does not keep the client offline: it
        goes online and tries that step again in the background (``_catch_up``)."""
        reader = asyncio.ensure_future(self._read(ws))
        catch_up: asyncio.Task[None] | None = None
        try:
            complete = await self._on_connected()
            self._ever_online = True
            await self._set_state("online")
            self._online.set()
            if not complete:
                catch_up = asyncio.ensure_future(self._catch_up())
            await self._keep_alive(reader)
            return True
        except (ConnectionLost, RequestTimeout, ChatError, ProtocolViolation) as exc:
            log.info("connection lost or refused during resync: %s", exc)
            return False
        except websockets.ConnectionClosed as exc:
            log.info("connection closed during resync: %s", exc)
            return False
        finally:
            self._online.clear()
            if catch_up is not None:
                catch_up.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await catch_up
            await _close_socket(ws)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self._fail_pending()

    async def _catch_up(self) -> None:
        """Run the resync again, with backoff, until it completes (at most ``CATCH_UP_TRIES``
        times; the next reconnect starts over). Messages of a chat left behind also arrive
        through the gap fill of its next live message."""
        for attempt in range(1, CATCH_UP_TRIES + 1):
            await asyncio.sleep(self.backoff.delay(attempt))
            try:
                if await self._on_connected():
                    log.info("resync completed on catch-up try %d", attempt)
                    return
            except (ConnectionLost, RequestTimeout, websockets.ConnectionClosed) as exc:
                log.info("resync catch-up stopped: %s", exc)
                return  # the reconnect resyncs
        log.warning("resync still incomplete after %d more tries; the next reconnect retries", CATCH_UP_TRIES)

    async def _keep_alive(self, reader: asyncio.Task[None]) -> None:
        """Until the connection ends: a ``ping`` well inside API Gateway's 10-minute idle limit."""
        while not reader.done():
            done, _ = await asyncio.wait({reader}, timeout=self.keepalive)
            if done:
                return
            try:
                await self._request("ping", {})
            except (RequestTimeout, ConnectionLost):
                return  # a dead connection: reconnect

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionLost("connection lost before the reply"))
        self._pending.clear()

    # -- frames ----------------------------------------------------------------------------------

    async def _read(self, ws: Any) -> None:
        try:
            async for raw in ws:
                try:
                    frame = json.loads(raw)
                except ValueError:
                    log.warning("not JSON: %r", raw[:200])
                    continue
                if not isinstance(frame, dict):
                    continue
                req = frame.get("req")
                future = self._pending.pop(req, None) if isinstance(req, str) else None
                if future is not None:
                    if not future.done():
                        future.set_result(frame)
                else:
                    self._inbox.put_nowait(frame)
        except websockets.ConnectionClosed:
            pass

    async def _dispatch_forever(self) -> None:
        """Pushed frames, one at a time in arrival order (replies go straight to their request)."""
        while True:
            frame = await self._inbox.get()
            try:
                await self._dispatch(frame)
            except Exception:  # a frame the client cannot take must not stop the next ones
                log.exception("could not handle %r", frame)

    async def _post(self, frame: dict[str, Any]) -> None:
        """Send a frame that gets no reply (``typing``)."""
        await self._ws.send(json.dumps(frame))

    async def _request(
        self, action: str, fields: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """One request and its reply; an ``error`` reply raises ``ChatError``, except that a
        connection the server does not know is closed and ``ConnectionLost`` raised. A ``rate_limited``
        refusal changed nothing on the server: the request is sent again after the server's
        ``retry_after_ms`` (a little more, so that requests refused together spread out), at most
        ``RATE_LIMIT_RETRIES`` times."""
        attempt = 0
        while True:
            ws = self._ws
            reply = await self._exchange(action, fields, timeout)
            if reply.get("event") != "error":
                return reply
            error = ChatError.from_frame(reply)
            if error.means_unregistered:
                # Nothing ran, and nothing will on this connection: close it, so that the
                # client connects again (and resyncs), as the server asks.
                log.warning("%s: the server does not know this connection; reconnecting", action)
                await _close_socket(ws)
                raise ConnectionLost(f"{action}: {error.message}")
            if error.code != "rate_limited" or attempt >= RATE_LIMIT_RETRIES:
                raise error
            pause = min(error.retry_after or 1.0, MAX_RATE_LIMIT_PAUSE)
            log.info("%s rate limited: sending again in %.3f s", action, pause)
            await asyncio.sleep(pause * self.backoff.rng.uniform(1.0, 1.25))
            attempt += 1

    async def _exchange(self, action: str, fields: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        """Send one frame and wait for the frame that answers it."""
        ws = self._ws
        if ws is None:
            raise ConnectionLost("not connected")
        req = f"q{next(self._reqs)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req] = future
        frame = {"action": action, "req": req, **fields}
        try:
            try:
                await ws.send(json.dumps(frame))
            except websockets.ConnectionClosed as exc:
                raise ConnectionLost(str(exc)) from exc
            if action == "message.send" and self.after_send_frame is not None:
                await self.after_send_frame(frame)
            try:
                return await asyncio.wait_for(future, timeout or self.request_timeout)
            except TimeoutError as exc:
                raise RequestTimeout(f"{action}: no reply in {timeout or self.request_timeout}s") from exc
        finally:
            # However the wait ended (a reply, a timeout, a lost connection, the caller cancelled),
            # the future leaves ``_pending`` with it, and an error set on it is marked as seen.
            self._pending.pop(req, None)
            _settle(future)
