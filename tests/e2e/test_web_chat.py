"""The three delivery scenarios, as a person sees them in the web chat."""

from __future__ import annotations

import itertools

from playwright.sync_api import expect

from tests.e2e.pages import badge, come_back, create_chat, go_away, last_tick, open_chat, send, unique


def test_both_viewing_real_time_and_read_ticks(as_user, screenshot):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id), as_user(bob_id)
    create_chat(alice, bob_id, "Weekend")
    open_chat(bob, "Weekend")

    send(alice, "hi bob")

    expect(bob.locator("#messages .msg .text")).to_have_text(["hi bob"])
    expect(last_tick(alice)).to_have_attribute("data-status", "read")  # bob is looking at it
    bob.fill("#composer-input", "typing…")
    bob.dispatch_event("#composer-input", "input")
    expect(alice.locator("#typing")).to_contain_text(f"{bob_id} is typing")
    screenshot(alice, "alice")
    screenshot(bob, "bob")


def test_background_badge_counts_up_then_clears_on_open(as_user, screenshot):
    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    alice, bob = as_user(alice_id), as_user(bob_id)
    create_chat(alice, bob_id, "Plans")
    create_chat(bob, carol_id, "Elsewhere")  # bob is now viewing another chat

    send(alice, "one")
    expect(badge(bob, "Plans")).to_have_text("1")
    send(alice, "two")
    expect(badge(bob, "Plans")).to_have_text("2")
    expect(last_tick(alice)).to_have_attribute("data-status", "delivered")  # reached bob, not read
    screenshot(bob, "badge")

    open_chat(bob, "Plans")

    expect(bob.locator("#messages .msg .text")).to_have_text(["one", "two"])
    expect(badge(bob, "Plans")).to_have_attribute("data-count", "0")
    expect(last_tick(alice)).to_have_attribute("data-status", "read")
    screenshot(bob, "opened")
    screenshot(alice, "alice")


def test_offline_member_finds_it_stored_with_unread(as_user, screenshot):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice = as_user(alice_id)
    bob = as_user(bob_id)
    bob.close()  # bob goes offline
    create_chat(alice, bob_id, "Later")

    send(alice, "while you were away")
    expect(last_tick(alice)).to_have_attribute("data-status", "sent")

    bob = as_user(bob_id)  # bob comes back
    expect(badge(bob, "Later")).to_have_text("1")
    expect(bob.locator(".chat-item", has_text="Later").locator(".preview")).to_contain_text(
        "while you were away"
    )
    open_chat(bob, "Later")
    expect(bob.locator("#messages .msg .text")).to_have_text(["while you were away"])
    expect(last_tick(alice)).to_have_attribute("data-status", "read")
    screenshot(bob, "bob")
    screenshot(alice, "alice")


def test_reconnect_resyncs_what_was_missed(as_user, stack_url):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id), as_user(bob_id)
    create_chat(alice, bob_id, "Flaky")
    open_chat(bob, "Flaky")
    go_away(bob)

    send(alice, "missed one")
    send(alice, "missed two")
    expect(last_tick(alice)).to_have_attribute("data-status", "sent")  # bob really is away
    come_back(bob)

    expect(bob.locator("#messages .msg .text")).to_have_text(["missed one", "missed two"], timeout=20_000)


def test_the_page_confirms_a_background_burst_once_a_second(as_user, stack_url):
    """PROTOCOL v3, "Reach": the page sends message.delivered for what arrives in the
    background, the first at once and then at most once a second per chat, for the highest seq."""
    import json
    import time

    from tests.e2e.pages import chat_id_of
    from tests.e2e.wire import WireUser

    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    bob = as_user(bob_id)
    confirms: list[tuple[float, dict]] = []

    def watch(ws):  # type: ignore[no-untyped-def]
        def sent(payload):  # type: ignore[no-untyped-def]
            frame = json.loads(payload)
            if frame.get("action") == "message.delivered":
                confirms.append((time.monotonic(), frame))

        ws.on("framesent", sent)

    bob.on("websocket", watch)
    bob.reload()
    bob.locator('#conn-status[data-state="online"]').wait_for()
    create_chat(bob, carol_id, "Elsewhere")  # bob views another chat: alice's arrive in the background
    with WireUser(stack_url, alice_id) as alice:
        chat_id = alice.request("chat.create", members=[bob_id], title="Burst")["chat"]["chat_id"]
        for i in range(5):
            alice.request("message.send", chat_id=chat_id, client_msg_id=f"b{i}", text=f"burst {i}")
        expect(badge(bob, "Burst")).to_have_text("5")
        bob.wait_for_timeout(1500)
        opened = alice.request("chat.open", chat_id=chat_id)
    assert chat_id_of(bob, "Burst") == chat_id
    ours = [(t, f) for t, f in confirms if f["chat_id"] == chat_id]
    # The highest, in the end, each confirmation higher than the last. The once-a-second rule is
    # asserted where the page's clock is held (tests/unit/web/test_confirm_js.py); here, on a
    # busy machine, the gaps the test process sees are only printed (a 0.7 s floor asserted here
    # failed under load with web/ unchanged).
    assert ours and ours[-1][1]["seq"] == 5
    seqs = [f["seq"] for _, f in ours]
    assert seqs == sorted(set(seqs))
    gaps = [round(later[0] - earlier[0], 2) for earlier, later in itertools.pairwise(ours)]
    print(f"confirmations of a 5-message burst: seqs {seqs}, gaps {gaps} s")
    assert opened["receipts"][bob_id]["delivered_seq"] == 5


def test_the_page_confirms_the_message_that_added_it_to_a_group(as_user, stack_url):
    """PROTOCOL v3, "Reach": the system message that adds a member is pushed to them unless they
    confirm it; the page, online when chat:added arrives, confirms the chat's last_seq."""
    from tests.e2e.wire import WireUser

    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    bob = as_user(bob_id)
    bob.locator('#conn-status[data-state="online"]').wait_for()
    with WireUser(stack_url, alice_id) as alice:
        chat_id = alice.request("chat.create", members=[carol_id], title="Added")["chat"]["chat_id"]
        alice.request("message.send", chat_id=chat_id, client_msg_id="a1", text="before bob")
        added = alice.request("chat.add", chat_id=chat_id, members=[bob_id])
        seq = added["chat"]["last_seq"]
        bob.locator(".chat-item", has_text="Added").wait_for()
        bob.wait_for_timeout(500)
        opened = alice.request("chat.open", chat_id=chat_id)
    assert opened["receipts"][bob_id]["delivered_seq"] == seq
