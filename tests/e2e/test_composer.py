"""The composer and the chat header of issue 22, on a phone (390x844, touch) and a desktop:
`@` offers the chat's members and the send carries `mentions` (highlighted for the person
mentioned), the notification level (All / Mentions / Off) in the header, and a multi-line
composer (Enter sends, Shift+Enter a new line, it grows) that keeps a draft per chat."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import (
    DESKTOP,
    DEVICES,
    bubble,
    chat_id_of,
    chat_item,
    choose,
    create_chat,
    hide,
    new_group,
    notifications,
    open_chat,
    switch_chat,
    tap,
    unique,
    wait_for_notifications,
    watch_notifications,
)
from tests.e2e.wire import WireUser


@pytest.fixture(params=sorted(DEVICES))
def device(request):  # type: ignore[no-untyped-def]
    return DEVICES[request.param]


def test_at_offers_the_members_and_the_mentioned_person_sees_it_highlighted(as_user, device, stack_url):
    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    alice = as_user(alice_id, **device)
    bob, carol = as_user(bob_id, **DESKTOP), as_user(carol_id, **DESKTOP)
    create_chat(alice, f"{bob_id}, {carol_id}", "Standup")
    open_chat(bob, "Standup")
    open_chat(carol, "Standup")
    box = alice.locator("#composer-input")
    picker = alice.locator("#mention-picker")

    box.press_sequentially("thanks @")
    expect(picker.locator("[role=option]")).to_have_text([f"@{bob_id}", f"@{carol_id}"])  # not alice herself
    box.press_sequentially("bo")
    expect(picker.locator("[role=option]")).to_have_text([f"@{bob_id}"])
    if device["touch"]:
        tap(alice, picker.locator("[role=option]").first)
    else:
        alice.keyboard.press("Enter")  # picks; does not send
    expect(picker).to_be_hidden()
    expect(box).to_have_value(f"thanks @{bob_id} ")
    box.press_sequentially("for the notes")
    alice.keyboard.press("Enter")

    text = f"thanks @{bob_id} for the notes"
    mentioned = bubble(bob, "for the notes")
    expect(mentioned.locator(".text")).to_have_text(text)
    expect(mentioned).to_have_class("msg mentions-me")
    expect(mentioned.locator(".mention.me")).to_have_text(f"@{bob_id}")
    other = bubble(carol, "for the notes")
    expect(other.locator(".mention")).to_have_text(f"@{bob_id}")  # marked, but not as carol's
    expect(other.locator(".mention.me")).to_have_count(0)
    expect(other).not_to_have_class("msg mentions-me")
    with WireUser(stack_url, carol_id) as wire:
        stored = wire.request("chat.history", chat_id=chat_id_of(carol, "Standup"))["messages"]
    assert [(m["text"], m["mentions"]) for m in stored] == [(text, [bob_id])]

    # Escape closes the picker; "@" inside a word is not a mention being typed.
    box.press_sequentially("mail me at a@")
    expect(picker).to_be_hidden()
    box.press_sequentially(" @c")
    expect(picker.locator("[role=option]")).to_have_text([f"@{carol_id}"])
    alice.keyboard.press("Escape")
    expect(picker).to_be_hidden()


def test_notification_level_in_the_header_is_kept_by_the_server(as_user, device, stack_url, screenshot):
    alice_id, bob_id = unique("alice"), unique("bob")
    bob = as_user(bob_id, before_load=watch_notifications(stack_url), **device)
    with WireUser(stack_url, alice_id) as alice:
        chat_id = alice.request("chat.create", members=[bob_id], title="Busy group")["chat"]["chat_id"]
        open_chat(bob, "Busy group")
        level = bob.locator("#notify-level")
        expect(level).to_have_value("all")

        level.select_option(label="Only mentions and replies")  # the list marks it (on a phone, out of sight)
        expect(chat_item(bob, "Busy group").locator(".mentions-icon")).to_have_count(1)
        with WireUser(stack_url, bob_id) as wire:
            listed = {c["chat_id"]: c for c in wire.request("chat.list")["chats"]}
        assert (listed[chat_id]["notify"], listed[chat_id]["muted"]) == ("mentions", False)
        screenshot(bob, "mentions-level")

        # At "mentions" the page notifies (tab hidden) only a mention of bob.
        hide(bob)
        alice.request("message.send", chat_id=chat_id, client_msg_id="p1", text="lunch is here")
        mention = {"text": f"@{bob_id} yours too", "mentions": [bob_id]}
        alice.request("message.send", chat_id=chat_id, client_msg_id="p2", **mention)
        shown = wait_for_notifications(bob, 1)
        expect(bubble(bob, "yours too")).to_have_count(1)
        assert [n["body"] for n in notifications(bob)] == [f"{alice_id}: @{bob_id} yours too"], shown

    bob.reload()
    expect(bob.locator("#conn-status")).to_have_attribute("data-state", "online")
    expect(bob.locator("#conv-title")).to_have_text("Busy group")  # a reload reopens the chat open last
    switch_chat(bob, "Busy group")
    expect(level).to_have_value("mentions")  # from the server
    level.select_option(label="Never (muted)")
    expect(chat_item(bob, "Busy group").locator(".mute-icon")).to_have_count(1)
    with WireUser(stack_url, bob_id) as wire:
        listed = {c["chat_id"]: c for c in wire.request("chat.list")["chats"]}
    assert (listed[chat_id]["notify"], listed[chat_id]["muted"]) == ("none", True)
    level.select_option(label="Every message")
    expect(chat_item(bob, "Busy group").locator(".mute-icon")).to_have_count(0)
    expect(chat_item(bob, "Busy group").locator(".mentions-icon")).to_have_count(0)


def test_multi_line_composer_grows_sends_and_keeps_a_draft_per_chat(as_user, device, stack_url, screenshot):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id, **device), as_user(bob_id, **DESKTOP)
    carol_id = unique("carol")  # the groups' owner: alice and bob both hear of them (chat:added)
    new_group(stack_url, carol_id, [alice_id, bob_id], "Second")
    new_group(stack_url, carol_id, [alice_id, bob_id], "First")
    open_chat(alice, "First")
    box = alice.locator("#composer-input")
    one_line = box.evaluate("(b) => b.getBoundingClientRect().height")

    box.press_sequentially("Shopping list:")
    for item in ("eggs", "milk", "bread"):
        alice.keyboard.press("Shift+Enter")
        box.press_sequentially(item)
    expect(box).to_have_value("Shopping list:\neggs\nmilk\nbread")
    assert box.evaluate("(b) => b.getBoundingClientRect().height") > one_line * 2  # it grew

    switch_chat(alice, "Second")
    expect(box).to_have_value("")
    box.press_sequentially("a draft of my own")
    switch_chat(alice, "First")
    expect(box).to_have_value("Shopping list:\neggs\nmilk\nbread")  # restored
    screenshot(alice, "multi-line")
    alice.reload()  # drafts survive a reload too
    expect(alice.locator("#conn-status")).to_have_attribute("data-state", "online")
    expect(alice.locator("#conv-title")).to_have_text("First")  # the chat open last, reopened
    switch_chat(alice, "Second")
    expect(box).to_have_value("a draft of my own")
    switch_chat(alice, "First")
    expect(box).to_have_value("Shopping list:\neggs\nmilk\nbread")

    box.press("Enter")
    open_chat(bob, "First")
    sent = bubble(bob, "Shopping list:")
    expect(sent.locator(".text")).to_have_text("Shopping list:\neggs\nmilk\nbread")
    assert sent.locator(".text").inner_text() == "Shopping list:\neggs\nmilk\nbread"  # lines, not one
    expect(box).to_have_value("")
    assert box.evaluate("(b) => b.getBoundingClientRect().height") <= one_line + 1  # back to one line
    switch_chat(alice, "Second")
    expect(box).to_have_value("a draft of my own")  # still there after the other chat's send


def test_a_reply_being_written_is_part_of_the_chats_draft(as_user, device, stack_url):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id, **device), as_user(bob_id, **DESKTOP)
    carol_id = unique("carol")
    new_group(stack_url, carol_id, [alice_id, bob_id], "Other")
    new_group(stack_url, carol_id, [alice_id, bob_id], "Questions")
    open_chat(bob, "Questions")
    open_chat(alice, "Questions")
    send_text = "Which day?"
    bob.fill("#composer-input", send_text)
    bob.keyboard.press("Enter")
    choose(alice, bubble(alice, send_text), "Reply")
    alice.locator("#composer-input").press_sequentially("Tuesday")

    switch_chat(alice, "Other")
    expect(alice.locator("#composer-context")).to_be_hidden()
    switch_chat(alice, "Questions")
    expect(alice.locator("#composer-context")).to_be_visible()
    expect(alice.locator("#context-text")).to_have_text(send_text)
    alice.locator("#composer-input").press("Enter")

    expect(bubble(bob, "Tuesday").locator(".quote-text")).to_have_text(send_text)
