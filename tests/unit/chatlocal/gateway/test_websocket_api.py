"""The emulator's API Gateway behaviour, in-process with stand-in handlers (no DynamoDB):
what each route's Lambda gets, refusals, concurrency, Lambda errors, and $disconnect."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chatlocal.aws.sigv4 import Credentials, sign_headers
from chatlocal.functions.lambdas import Lambdas
from chatlocal.gateway.events import Api, new_connection_id
from chatlocal.gateway.websocket_api import Gateway

LOCAL = Credentials("local", "local")


class Handlers:
    """Three stand-in Lambdas that record their events; behaviour set per test."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.connect_result: Any = {"statusCode": 200}
        self.on_message = lambda event: None

    def record(self, event: dict[str, Any]) -> None:
        with self.lock:
            self.events.append(event)

    def connect(self, event: dict[str, Any], context: Any) -> Any:
        self.record(event)
        if isinstance(self.connect_result, Exception):
            raise self.connect_result
        return self.connect_result

    def message(self, event: dict[str, Any], context: Any) -> Any:
        self.record(event)
        assert context.get_remaining_time_in_millis() > 0
        return self.on_message(event)

    def disconnect(self, event: dict[str, Any], context: Any) -> Any:
        self.record(event)
        return {"statusCode": 200}

    def routes(self, route: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["requestContext"]["routeKey"] == route]


def run_with_gateway(
    handlers: Handlers, scenario, idle_timeout: float = 60, concurrency: int = 64, **options
) -> Any:  # type: ignore[no-untyped-def]
    async def main() -> Any:
        lambdas = Lambdas(
            {"$connect": handlers.connect, "$default": handlers.message, "$disconnect": handlers.disconnect},
            concurrency,
        )
        api = Api(api_id="abc123", stage="local", domain_name="localhost")
        gateway = Gateway(lambdas, api, idle_timeout, **options)
        app = web.Application()
        app.add_routes(gateway.routes())
        server = TestServer(app)
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as session:
                return await asyncio.wait_for(scenario(server, session, gateway), 20)
        finally:
            await gateway.close_all()
            await server.close()
            lambdas.shutdown()

    return asyncio.run(main())


def test_connect_event_has_what_api_gateway_sends():
    handlers = Handlers()

    async def scenario(server, session, gateway):
        ws = await session.ws_connect(server.make_url("/ws?token=t0k&x=1"), headers={"User-Agent": "tester"})
        await ws.send_str('{"action": "ping"}')
        while not handlers.routes("$default"):
            await asyncio.sleep(0.01)
        await ws.close()
        while not handlers.routes("$disconnect"):
            await asyncio.sleep(0.01)

    run_with_gateway(handlers, scenario)
    (connect,) = handlers.routes("$connect")
    ctx = connect["requestContext"]
    assert ctx["eventType"] == "CONNECT" and ctx["apiId"] == "abc123" and ctx["stage"] == "local"
    assert ctx["domainName"] == "localhost" and ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["identity"]["userAgent"] == "tester"
    assert isinstance(ctx["connectedAt"], int) and ctx["requestId"] and ctx["connectionId"].endswith("=")
    assert connect["queryStringParameters"] == {"token": "t0k", "x": "1"}
    assert connect["headers"]["User-Agent"] == "tester"
    (message,) = handlers.routes("$default")
    assert message["body"] == '{"action": "ping"}' and message["isBase64Encoded"] is False
    assert message["requestContext"]["eventType"] == "MESSAGE"
    assert message["requestContext"]["connectionId"] == ctx["connectionId"]
    (disconnect,) = handlers.routes("$disconnect")
    assert disconnect["requestContext"]["eventType"] == "DISCONNECT"
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1000


@pytest.mark.parametrize(
    ("result", "status"),
    [({"statusCode": 401}, 401), ({"statusCode": 403, "body": ""}, 403), (RuntimeError("boom"), 500)],
)
def test_connect_result_other_than_200_refuses_with_that_status(result, status):
    handlers = Handlers()
    handlers.connect_result = result

    async def scenario(server, session, gateway):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(server.make_url("/ws"))
        return refused.value.status

    assert run_with_gateway(handlers, scenario) == status
    assert handlers.routes("$disconnect") == []  # never connected, so never disconnected


def test_subprotocol_chosen_by_connect_is_echoed():
    handlers = Handlers()
    handlers.connect_result = {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "chat.v1"}}

    async def scenario(server, session, gateway):
        ws = await session.ws_connect(server.make_url("/ws"), protocols=("chat.v1",))
        chosen = ws.protocol
        await ws.close()
        return chosen

    assert run_with_gateway(handlers, scenario) == "chat.v1"


def test_a_slow_invocation_does_not_hold_up_other_frames():
    handlers = Handlers()
    release = threading.Event()

    def on_message(event):
        if json.loads(event["body"]).get("slow"):
            release.wait(5)

    handlers.on_message = on_message

    async def scenario(server, session, gateway):
        ws = await session.ws_connect(server.make_url("/ws"))
        await ws.send_str('{"slow": true}')
        await ws.send_str('{"slow": false}')
        deadline = time.monotonic() + 5
        while len(handlers.routes("$default")) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        both_started = len(handlers.routes("$default")) == 2
        release.set()
        await ws.close()
        return both_started

    assert run_with_gateway(handlers, scenario) is True


def test_a_raising_invocation_gets_api_gateways_error_frame():
    handlers = Handlers()

    def on_message(event):
        raise ValueError("bug")

    handlers.on_message = on_message

    async def scenario(server, session, gateway):
        ws = await session.ws_connect(server.make_url("/ws"))
        await ws.send_str("{}")
        frame = json.loads((await ws.receive(timeout=5)).data)
        await ws.close()
        return frame, gateway.stats["lambda_errors"]

    frame, errors = run_with_gateway(handlers, scenario)
    assert frame["message"] == "Internal server error" and frame["connectionId"] and frame["requestId"]
    assert errors == 1


def test_binary_frames_arrive_base64_encoded():
    handlers = Handlers()

    async def scenario(server, session, gateway):
        ws = await session.ws_connect(server.make_url("/ws"))
        await ws.send_bytes(b"\x00\x01")
        while not handlers.routes("$default"):
            await asyncio.sleep(0.01)
        await ws.close()

    run_with_gateway(handlers, scenario)
    (message,) = handlers.routes("$default")
    assert message["isBase64Encoded"] is True and message["body"] == "AAE="


def signed(method: str, url: Any, body: bytes = b"", credentials: Credentials = LOCAL) -> dict[str, str]:
    return sign_headers(credentials, "us-east-1", method, str(url), body)


def test_management_api_posts_gets_and_deletes():
    handlers = Handlers()

    async def call(session, server, method: str, path: str, body: bytes = b""):  # type: ignore[no-untyped-def]
        url = server.make_url(path)
        return await session.request(method, url, data=body, headers=signed(method, url, body))

    async def scenario(server, session, gateway):
        ws = await session.ws_connect(server.make_url("/ws"))
        (conn,) = await (await session.get(server.make_url("/dev/connections"))).json()
        cid = conn["connectionId"]
        posted = await call(session, server, "POST", f"/@connections/{cid}", b'{"event":"x"}')
        staged = await call(session, server, "POST", f"/local/@connections/{cid}", b'{"event":"y"}')
        wrong_stage = await call(session, server, "POST", f"/prod/@connections/{cid}", b"{}")
        first, second = (await ws.receive(timeout=5)).data, (await ws.receive(timeout=5)).data
        info = await (await call(session, server, "GET", f"/@connections/{cid}")).json()
        deleted = await call(session, server, "DELETE", f"/@connections/{cid}")
        closed = await ws.receive(timeout=5)
        after = await call(session, server, "POST", f"/@connections/{cid}", b"{}")
        unknown = await call(session, server, "GET", f"/@connections/{new_connection_id()}")
        return (
            posted.status, staged.status, wrong_stage.status, first, second, info,
            deleted.status, closed.type, after.status, after.headers.get("x-amzn-ErrorType"), unknown.status,
        )  # fmt: skip

    posted, staged, wrong, first, second, info, deleted, closed, after, error_type, unknown = (
        run_with_gateway(handlers, scenario)
    )
    assert (posted, staged, wrong) == (200, 200, 410)
    assert (first, second) == ('{"event":"x"}', '{"event":"y"}')
    assert set(info) == {"connectedAt", "identity", "lastActiveAt"} and info["connectedAt"].endswith("Z")
    assert deleted == 204 and closed == aiohttp.WSMsgType.CLOSE
    assert (after, error_type, unknown) == (410, "GoneException", 410)


@pytest.mark.parametrize(
    ("make_headers", "error_type"),
    [
        (lambda method, url, body: {}, "MissingAuthenticationTokenException"),
        (
            lambda method, url, body: signed(method, url, body, Credentials("other", "local")),
            "UnrecognizedClientException",
        ),
        (
            lambda method, url, body: signed(method, url, body, Credentials("local", "wrong")),
            "InvalidSignatureException",
        ),
        (lambda method, url, body: signed(method, url, b"another body"), "InvalidSignatureException"),
        (
            lambda method, url, body: signed(
                method, str(url).replace("@connections", "prod/@connections"), body
            ),
            "InvalidSignatureException",
        ),
    ],
    ids=["unsigned", "unknown key", "wrong secret", "body changed", "path changed"],
)
def test_management_api_refuses_what_is_not_signed_with_the_stacks_credentials(make_headers, error_type):
    handlers = Handlers()

    async def scenario(server, session, gateway):
        ws = await session.ws_connect(server.make_url("/ws"))
        (conn,) = await (await session.get(server.make_url("/dev/connections"))).json()
        results = []
        for method, body in (("POST", b'{"event":"forged"}'), ("GET", b""), ("DELETE", b"")):
            url = server.make_url(f"/@connections/{conn['connectionId']}")
            response = await session.request(method, url, data=body, headers=make_headers(method, url, body))
            results.append((response.status, response.headers.get("x-amzn-ErrorType"), await response.json()))
        with pytest.raises(asyncio.TimeoutError):  # the forged frame never arrives
            await ws.receive(timeout=0.3)
        still_open = not ws.closed
        await ws.close()
        return results, still_open, gateway.stats["posts"]

    results, still_open, posts = run_with_gateway(handlers, scenario)
    assert [(status, kind) for status, kind, _ in results] == [(403, error_type)] * 3
    assert all(set(body) == {"message"} for _, _, body in results)
    assert still_open and posts == 0


def test_disconnect_runs_once_when_the_client_vanishes():
    handlers = Handlers()

    async def scenario(server, session, gateway):
        ws = await session.ws_connect(server.make_url("/ws"))
        (conn,) = await (await session.get(server.make_url("/dev/connections"))).json()
        dropped = await session.post(server.make_url(f"/dev/connections/{conn['connectionId']}/drop"))
        await ws.receive(timeout=5)
        while not handlers.routes("$disconnect"):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        return dropped.status

    assert run_with_gateway(handlers, scenario) == 204
    (disconnect,) = handlers.routes("$disconnect")
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1006


def test_upgrade_is_required_on_ws():
    handlers = Handlers()

    async def scenario(server, session, gateway):
        return (await session.get(server.make_url("/ws"))).status

    assert run_with_gateway(handlers, scenario) == 426


class Tracker:
    """A $default handler that records, per connection, the order frames start in and how many
    run at once; each takes ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.started: list[tuple[str, str]] = []  # (connection, body)
        self.running: dict[str, int] = {}
        self.most: dict[str, int] = {}

    def __call__(self, event: dict[str, Any]) -> None:
        cid = event["requestContext"]["connectionId"]
        with self.lock:
            self.started.append((cid, event["body"]))
            self.running[cid] = self.running.get(cid, 0) + 1
            self.most[cid] = max(self.most.get(cid, 0), self.running[cid])
        time.sleep(self.seconds)
        with self.lock:
            self.running[cid] -= 1


async def wait_for_count(predicate, timeout: float = 15) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


def test_no_more_of_a_connections_frames_run_at_once_than_its_limit():
    handlers = Handlers()
    tracker = Tracker(0)
    release = threading.Event()

    def on_message(event):
        tracker(event)
        release.wait(10)

    handlers.on_message = on_message

    async def scenario(server, session, gateway):
        ws = await session.ws_connect(server.make_url("/ws"))
        for i in range(20):
            await ws.send_str(str(i))
        await wait_for_count(lambda: len(tracker.started) == 3 and gateway.stats["messages"] == 20)
        await asyncio.sleep(0.3)  # room for a fourth to start, were the limit not kept
        started_while_held = len(tracker.started)
        release.set()
        await wait_for_count(lambda: len(tracker.started) == 20)
        await ws.close()
        return started_while_held

    assert run_with_gateway(handlers, scenario, connection_concurrency=3) == 3
    assert sorted(int(body) for _, body in tracker.started) == list(range(20))


def test_one_at_a_time_a_connections_frames_run_in_arrival_order():
    handlers = Handlers()
    tracker = Tracker(0)
    handlers.on_message = tracker

    async def scenario(server, session, gateway):
        ws = await session.ws_connect(server.make_url("/ws"))
        for i in range(50):
            await ws.send_str(str(i))
        await wait_for_count(lambda: len(tracker.started) == 50)
        await ws.close()

    run_with_gateway(handlers, scenario, connection_concurrency=1)
    assert [body for _, body in tracker.started] == [str(i) for i in range(50)]


def test_a_flood_from_one_connection_does_not_hold_up_another():
    handlers = Handlers()
    tracker = Tracker(0)
    other_ran = threading.Event()

    def on_message(event):
        tracker(event)
        if event["body"] == "ping":
            other_ran.set()
        else:
            other_ran.wait(10)  # the flood's frames hold their threads until the other frame ran

    handlers.on_message = on_message

    async def scenario(server, session, gateway):
        flooder = await session.ws_connect(server.make_url("/ws"))
        other = await session.ws_connect(server.make_url("/ws"))
        for i in range(200):
            await flooder.send_str(f"flood {i}")
        await wait_for_count(lambda: gateway.stats["messages"] == 200)
        await other.send_str("ping")
        await wait_for_count(lambda: len(tracker.started) == 201)
        bodies = [body for _, body in tracker.started]
        await flooder.close()
        await other.close()
        return bodies.index("ping")

    # A shared first-come queue would give all 8 threads to the flood, each waiting 10 s.
    assert run_with_gateway(handlers, scenario, concurrency=8, connection_concurrency=2) == 2


def test_a_backlog_over_its_bytes_is_answered_too_many_requests():
    handlers = Handlers()
    release = threading.Event()
    invoked: list[str] = []

    def on_message(event):
        invoked.append(event["body"])
        release.wait(5)

    handlers.on_message = on_message

    async def scenario(server, session, gateway):
        ws = await session.ws_connect(server.make_url("/ws"))
        await ws.send_str("running")
        await wait_for_count(lambda: invoked == ["running"])
        for i in range(3):
            await ws.send_str(f"{i}" * 60)  # 60 bytes each: the second and third do not fit in 100
        refusals = [json.loads((await ws.receive(timeout=5)).data) for _ in range(2)]
        release.set()
        await wait_for_count(lambda: len(invoked) == 2)
        await ws.close()
        return refusals, gateway.stats["frames_refused"]

    refusals, refused = run_with_gateway(
        handlers, scenario, connection_concurrency=1, connection_backlog_bytes=100
    )
    assert [frame["message"] for frame in refusals] == ["Too Many Requests"] * 2
    assert all(set(frame) == {"message", "connectionId", "requestId"} for frame in refusals)
    assert refused == 2 and invoked == ["running", "0" * 60]


def test_close_all_drops_waiting_frames_and_returns_within_its_time():
    handlers = Handlers()
    release = threading.Event()
    invoked: list[str] = []

    def on_message(event):
        invoked.append(event["body"])
        release.wait(5)

    handlers.on_message = on_message

    async def scenario(server, session, gateway):
        ws = await session.ws_connect(server.make_url("/ws"))
        for i in range(5):
            await ws.send_str(str(i))
        await wait_for_count(lambda: invoked == ["0"] and gateway.stats["messages"] == 5)
        started = time.monotonic()
        unfinished = await gateway.close_all(timeout=0.5)
        took = time.monotonic() - started
        release.set()
        return unfinished, took, gateway.stats["frames_dropped_at_stop"]

    unfinished, took, dropped = run_with_gateway(handlers, scenario, connection_concurrency=1)
    print(f"close_all with an invocation stuck: returned after {took:.2f} s")
    assert unfinished >= 1 and dropped == 4 and invoked == ["0"]


def test_a_frame_that_waits_for_its_invocation_carries_the_time_it_arrived():
    """requestTimeEpoch is when the frame reached the gateway, as on AWS, not when its queued
    invocation ran: the backend's rate limit counts frames at arrival (issue 21)."""
    handlers = Handlers()
    seen: list[tuple[str, int, int]] = []  # (body, requestTimeEpoch, when the handler began)
    release = threading.Event()

    def on_message(event):
        began = int(time.time() * 1000)
        seen.append((event["body"], event["requestContext"]["requestTimeEpoch"], began))
        if event["body"] == "first":
            release.wait(10)

    handlers.on_message = on_message

    async def scenario(server, session, gateway):
        ws = await session.ws_connect(server.make_url("/ws"))
        await ws.send_str("first")
        await wait_for_count(lambda: len(seen) == 1)
        await ws.send_str("second")  # waits in the lane behind "first"
        await wait_for_count(lambda: gateway.stats["messages"] == 2)
        await asyncio.sleep(0.2)
        released_at = int(time.time() * 1000)
        release.set()
        await wait_for_count(lambda: len(seen) == 2)
        await ws.close()
        return released_at

    released_at = run_with_gateway(handlers, scenario, connection_concurrency=1)
    (_, _, _), (body, arrived, began) = seen
    assert body == "second" and began >= released_at
    assert arrived < released_at  # stamped on arrival, before "first" let it run
