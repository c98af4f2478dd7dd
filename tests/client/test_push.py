"""Devices and muted chats over real sockets, through the client and the ``chat`` CLI.

The stack of this tier takes Web Push registrations (a VAPID key, http endpoints on 127.0.0.1:
see push_env.py). Whether a notification then reaches a device is the push worker's business,
tested in the functional and integration tiers; nothing here sends a message to a user while
they are offline with a device, and every device registered here is unregistered again."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chatclient import ChatError
from tests.client.conftest import Cli, make_client
from tests.integration.conftest import run
from tests.stack import ROOT


def subscription(user_id: str) -> dict[str, object]:
    """A browser's subscription JSON whose endpoint is on 127.0.0.1 (the local stack takes http)."""
    return {
        "endpoint": f"http://127.0.0.1:9/push/{user_id}",
        "expirationTime": None,
        "keys": {
            "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1X"
            "bjhazAkj7I99e8QcYP7DkM",
            "auth": "tBHItJI5svbpez7KI4CCXg",
        },
    }


def test_a_web_push_subscription_registers_once_moves_to_the_latest_user_and_unregisters(stack, user):
    async def scenario():
        alice_id, bob_id = user("alice"), user("bob")
        async with make_client(stack, alice_id) as alice, make_client(stack, bob_id) as bob:
            device = await alice.register_device(
                "webpush", subscription=subscription(alice_id), preview=False
            )
            assert (device.platform, device.preview) == ("webpush", False)
            assert device.device_id.startswith("dv_") and device.registered_at.endswith("Z")
            again = await alice.register_device("webpush", subscription=subscription(alice_id), preview=False)
            assert again.device_id == device.device_id
            assert await alice.devices() == [again]

            # The same browser, now logged in as bob: the subscription is bob's, not alice's.
            moved = await bob.register_device("webpush", subscription=subscription(alice_id))
            assert moved.device_id == device.device_id and moved.preview
            assert await alice.devices() == []
            assert await bob.devices() == [moved]

            with pytest.raises(ChatError) as not_hers:
                await alice.unregister_device(device.device_id)
            assert not_hers.value.code == "not_found"
            await bob.unregister_device(device.device_id)
            assert await bob.devices() == []

            elsewhere = {**subscription(alice_id), "endpoint": "http://push.example.com/x"}
            with pytest.raises(ChatError) as refused:
                await alice.register_device("webpush", subscription=elsewhere)
            assert refused.value.code == "bad_request" and "https" in refused.value.message

    run(scenario())


def test_mute_is_per_user_and_listed(stack, user):
    async def scenario():
        alice_id, bob_id, carol_id = user("alice"), user("bob"), user("carol")
        async with make_client(stack, alice_id) as alice, make_client(stack, bob_id) as bob:
            chat = await alice.create_chat([bob_id], title="Quiet please")
            assert not chat.muted
            assert await alice.mute(chat.chat_id) is True
            [listed] = [c for c in await alice.list_chats() if c.chat_id == chat.chat_id]
            assert listed.muted
            [bobs] = [c for c in await bob.list_chats() if c.chat_id == chat.chat_id]
            assert not bobs.muted  # alice's choice, not bob's
            opened = await alice.open_chat(chat.chat_id, lambda m: None)
            assert opened.chat.muted

            assert await alice.mute(chat.chat_id, muted=False) is False
            [listed] = [c for c in await alice.list_chats() if c.chat_id == chat.chat_id]
            assert not listed.muted

            other = await bob.create_chat([carol_id], title="Not alice's")
            with pytest.raises(ChatError) as refused:
                await alice.mute(other.chat_id)
            assert refused.value.code == "forbidden"

    run(scenario())


def chat(stack, who: str, *args: str) -> list[str]:  # type: ignore[no-untyped-def]
    """One ``chat`` command: its exit code, then its output lines."""
    done = subprocess.run(
        [sys.executable, "-m", "chatclient", "--server", stack.url, "--user", who, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in (0, 1, 2), done.stderr
    return [f"rc={done.returncode}", *done.stdout.splitlines()]


def test_one_shot_mute_unmute_and_devices(stack, user):
    alice_id, bob_id = user("alice"), user("bob")
    created = chat(stack, alice_id, "create", bob_id, "--title", "Plans")
    chat_id = next(line.split()[1] for line in created if line.startswith("[created]"))

    assert chat(stack, alice_id, "mute", chat_id) == ["rc=0", f"[muted] {chat_id}"]
    assert f"1. {chat_id} Plans (muted)" in chat(stack, alice_id, "chats")
    assert f"1. {chat_id} Plans" in chat(stack, bob_id, "chats")  # muted for alice only
    assert chat(stack, alice_id, "unmute", chat_id) == ["rc=0", f"[unmuted] {chat_id}"]
    assert f"1. {chat_id} Plans" in chat(stack, alice_id, "chats")

    assert chat(stack, alice_id, "devices") == ["rc=0", "[end]"]
    registered = chat(
        stack, alice_id, "register-device", "webpush", json.dumps(subscription(alice_id)), "--no-preview"
    )
    assert registered[0] == "rc=0", registered
    device_id = registered[1].split()[1]
    assert registered[1].startswith(f"[registered] {device_id} webpush (no preview) since ")
    listed = chat(stack, alice_id, "devices")
    assert listed[1].startswith(f"  {device_id} webpush (no preview) since ") and listed[2:] == ["[end]"]
    assert chat(stack, alice_id, "unregister-device", device_id) == ["rc=0", f"[unregistered] {device_id}"]
    assert chat(stack, alice_id, "devices") == ["rc=0", "[end]"]

    refused = chat(stack, alice_id, "unregister-device", device_id)
    assert refused == ["rc=1", f"[error] not found: no device {device_id} of yours"]
    assert chat(stack, alice_id, "register-device", "apns")[0:2] == [
        "rc=2",
        "usage: chat register-device PLATFORM TOKEN [--no-preview] "
        "(the following arguments are required: TOKEN)",
    ]
    bad = chat(stack, alice_id, "register-device", "webpush", "not-json")
    assert bad[0] == "rc=2" and "subscription as JSON" in bad[1]


def test_interactive_mute_marks_the_chat_in_the_list(stack, user, clis):
    alice_id, bob_id = user("alice"), user("bob")
    alice = Cli(stack.url, alice_id)
    clis.append(alice)
    alice.expect(r"^\[ready\]")
    alice.type("/mute")
    alice.expect(r"^\[error\] no chat open")
    alice.type(f"/create {bob_id} -- Hush")
    chat_id = alice.expect(r"^\[created\] (c_\S+) Hush").group(1)
    alice.type(f"/open {chat_id}")
    alice.expect(rf"^\[opened\] {chat_id}")
    alice.type("/mute")
    alice.expect(rf"^\[muted\] {chat_id}$")
    alice.type("/chats")
    alice.expect(rf"^1\. {chat_id} Hush \(muted\)$")
    alice.type("/unmute")
    alice.expect(rf"^\[unmuted\] {chat_id}$")
    alice.type("/chats")
    alice.expect(rf"^1\. {chat_id} Hush$")
    alice.type("/devices")
    alice.expect(r"^\[end\]$")
    assert alice.quit() == 0
