"""Blocking in the web chat (docs/protocol.md, "Blocking"): block from a direct chat's header,
which then says so and disables the composer; the settings list of blocked users with Unblock;
block from a member's entry in a group's members panel. Waits on conditions, never on time."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.pages import (
    accept_next_dialog,
    create_chat,
    member,
    message_person,
    open_chat,
    open_members,
    send,
    unique,
)


def test_block_from_a_direct_chat_then_unblock_from_settings(as_user, screenshot):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id), as_user(bob_id)
    message_person(alice, bob_id)
    send(alice, "hi bob")
    open_chat(bob, alice_id)
    expect(bob.locator("#messages")).to_contain_text("hi bob")

    expect(alice.locator("#block-btn")).to_have_text("Block")
    accept_next_dialog(alice)
    alice.click("#block-btn")
    expect(alice.locator("#blocked-notice")).to_be_visible()
    expect(alice.locator("#blocked-text")).to_contain_text(f"You blocked {bob_id}")
    expect(alice.locator("#composer-input")).to_be_disabled()
    expect(alice.locator("#send-btn")).to_be_disabled()
    expect(alice.locator("#block-btn")).to_have_text("Unblock")
    expect(alice.locator("#blocked-count")).to_have_text("1")
    screenshot(alice, "blocked")

    # bob's send is refused by the server: it never reaches alice
    send(bob, "please answer")
    expect(bob.locator("#toast")).to_be_visible()
    expect(alice.locator("#messages")).not_to_contain_text("please answer")

    alice.click("#blocks-settings summary")
    entry = alice.locator(f'#blocked-list .blocked-user[data-user="{bob_id}"]')
    expect(entry).to_be_visible()
    entry.locator(".unblock").click()
    expect(alice.locator("#blocked-count")).to_have_text("0")
    expect(alice.locator("#blocked-notice")).to_be_hidden()
    expect(alice.locator("#composer-input")).to_be_enabled()
    send(alice, "welcome back")
    expect(bob.locator("#messages")).to_contain_text("welcome back")


def test_block_a_member_from_a_groups_panel(as_user):
    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    alice = as_user(alice_id)
    create_chat(alice, f"{bob_id}, {carol_id}", "Book club")
    open_members(alice)
    expect(member(alice, alice_id).locator(".block-member")).to_have_count(0)  # not yourself
    accept_next_dialog(alice)
    member(alice, bob_id).locator(".block-member").click()
    expect(member(alice, bob_id).locator(".block-member")).to_have_text("Unblock")
    expect(alice.locator("#blocked-count")).to_have_text("1")
    # the group's composer stays open: a block closes only the direct chat
    expect(alice.locator("#composer-input")).to_be_enabled()
    # the list survives a reload (it is the server's)
    alice.reload()
    expect(alice.locator("#blocked-count")).to_have_text("1")
