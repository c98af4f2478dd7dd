"""The push path turned against the system or other users (issue 21, acceptance 3), each abuse
as an adversarial probe found it: registration of malformed and internal endpoints, a push
service answering with a redirect to another local server, a host resolving to an internal
address, and a tarpit of slow devices delaying another user's push. Every server here listens
on 127.0.0.1; internal addresses are refused before any connection (checked by refusing every
connection that is not to loopback)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import urllib3.util.connection

from chalicelib.domain import ids
from chalicelib.domain.records import Device
from tests.functional.push.test_push import register
from tests.functional.webpush_receiver import Receiver, Subscription, Tarpit

TARPIT_DEVICES = 20
PUSH_WITHIN_SECONDS = 5.0


@pytest.fixture
def loopback_only(monkeypatch):
    """Every connection urllib3 makes, recorded; one to anything but loopback fails the test."""
    made: list[tuple[str, int]] = []
    original = urllib3.util.connection.create_connection

    def create_connection(address, *args, **kwargs):
        made.append(address)
        assert address[0] in ("127.0.0.1", "::1"), f"connected to {address}"
        return original(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    return made


BAD_ENDPOINTS = [
    "https://127.0.0.1:99999/x",
    "https://push.example:abc/x",
    "https://push.example:0/x",
    "https://push.example\r\n.evil/x",
    "https://push .example/x",
    "https://user:pw@push.example/x",
    "https://push.example/" + "x" * 2048,
    "https://169.254.169.254/",
    "https://10.0.0.1:8443/x",
    "https://[fe80::1]/x",
    "http://10.0.0.1/x",
    "https://224.0.0.1/x",
]


@pytest.mark.parametrize("endpoint", BAD_ENDPOINTS)
def test_malformed_and_internal_endpoints_are_refused_at_registration(push, endpoint):
    b = push.harness.connect("bob")
    keys = Subscription(endpoint="").to_wire()["keys"]
    reply = b.send("device.register", platform="webpush", subscription={"endpoint": endpoint, "keys": keys})
    assert reply["code"] == "bad_request", reply
    assert "subscription.endpoint" in reply["message"]
    assert b.send("device.list")["devices"] == []


class Redirector:
    """A 'push service' on 127.0.0.1 answering every POST with 307 to ``location``."""

    def __init__(self, location: str) -> None:
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.hits += 1
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(307)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Redirector:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/push/redirect"


def test_a_redirect_is_not_followed(push, loopback_only):
    with Receiver() as inside:
        internal = inside.subscription("internal").endpoint
        with Redirector(internal) as redirector:
            a = push.harness.connect("alice")
            b = push.harness.connect("bob")
            register(b, "webpush", subscription=Subscription(endpoint=redirector.endpoint).to_wire())
            b.disconnect()
            chat_id = push.harness.chat(a, "bob")
            a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="follow me")
            push.drain()
            assert redirector.hits == 1  # the push went to the endpoint...
            assert inside.received == []  # ...and nowhere it pointed to
            assert push.sent == []
            assert push.harness.fanout_results[-1] == {"batchItemFailures": []}  # not retried


def test_a_host_resolving_to_an_internal_address_is_refused_at_send_and_forgotten(
    push, loopback_only, monkeypatch
):
    from chalicelib.push import devices

    asked = []

    def resolve(host, port):
        asked.append(host)
        return {"push.attacker.example": ["169.254.169.254"]}[host]

    monkeypatch.setattr(devices, "default_resolver", resolve)
    a = push.harness.connect("alice")
    b = push.harness.connect("bob")
    subscription = Subscription(endpoint="https://push.attacker.example/x")
    register(b, "webpush", subscription=subscription.to_wire())  # a public name: accepted
    b.disconnect()
    chat_id = push.harness.chat(a, "bob")
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    push.drain()
    assert asked == ["push.attacker.example"] and loopback_only == []
    assert push.sent == [] and push.harness.store_devices("bob") == []  # refused and forgotten


@pytest.mark.parametrize(
    "endpoint",
    ["https://169.254.169.254/latest", "https://127.0.0.1:99999/x", "http://push.example/x"],
)
def test_a_device_registered_before_the_rules_is_refused_at_send_and_forgotten(push, loopback_only, endpoint):
    from chalicelib import runtime

    keys = Subscription(endpoint=endpoint).to_wire()["keys"]
    device = Device(
        device_id="dv_" + ids.ulid(),
        user_id="bob",
        platform="webpush",
        token=endpoint,
        preview=True,
        registered_at=ids.iso_now(),
        p256dh=keys["p256dh"],
        auth=keys["auth"],
    )
    runtime.service().store.save_device(device, None)
    a = push.harness.connect("alice")
    chat_id = push.harness.chat(a, "bob")
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    push.drain()
    assert loopback_only == [] and push.sent == []
    assert push.harness.store_devices("bob") == []


def test_slow_devices_never_delay_another_users_push(push, capsys):
    """20 devices whose push service accepts and never answers; another user's push still
    arrives within 5 s (it took 200 s before), and the slow devices are retried on their own."""
    with Tarpit() as tarpit, Receiver() as receiver:
        a = push.harness.connect("alice")
        slow = push.harness.connect("aaron")  # sorts first: his job runs first
        for i in range(TARPIT_DEVICES):
            register(slow, "webpush", subscription=Subscription(endpoint=tarpit.endpoint(f"s{i}")).to_wire())
        slow.disconnect()
        b = push.harness.connect("bob")
        register(b, "webpush", subscription=receiver.subscription("bob").to_wire())
        b.disconnect()
        slow_chat = push.harness.chat(a, "aaron")
        bob_chat = push.harness.chat(a, "bob")

        started = time.monotonic()
        a.send("message.send", chat_id=slow_chat, client_msg_id="k1", text="to the tarpit")
        a.send("message.send", chat_id=bob_chat, client_msg_id="k2", text="to bob")
        drain = threading.Thread(target=push.drain, daemon=True)
        drain.start()
        while not receiver.received and time.monotonic() - started < 60:
            time.sleep(0.01)
        arrived = time.monotonic() - started
        drain.join(120)
        with capsys.disabled():
            print(f"\n  tarpit: bob's push arrived after {arrived:.2f} s with {TARPIT_DEVICES} slow devices")
        assert len(receiver.received) == 1
        assert arrived < PUSH_WITHIN_SECONDS
        assert len(tarpit.held) == TARPIT_DEVICES  # each slow device was tried once, at once
        assert push.harness.fanout_results[-1] == {"batchItemFailures": []}
        delayed = push.harness.sqs.get_queue_attributes(
            QueueUrl=push.harness.push_queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
        )["Attributes"]["ApproximateNumberOfMessagesDelayed"]
        assert delayed == str(TARPIT_DEVICES)  # one retry job per slow device, later
