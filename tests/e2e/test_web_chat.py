"""The three delivery scenarios, as a person sees them in the web chat."""

from __future__ import annotations

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
