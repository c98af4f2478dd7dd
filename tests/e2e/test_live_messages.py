"""Messages that live (issue 22) in the web chat, on a phone (390x844, touch: long presses) and
on a desktop (hover): replying (the quote above the composer and in the bubble, which scrolls
to the original, loading older history), editing, deleting (one's own; an admin's in a group),
and reacting (two people, counts, toggling, who reacted). The person acting uses the device
under test; the others watch on a desktop."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import WebSocketRoute, expect

from tests.e2e.pages import (
    DESKTOP,
    DEVICES,
    accept_next_dialog,
    bubble,
    chat_id_of,
    chip,
    choose,
    come_back,
    create_chat,
    go_away,
    long_press,
    menu_offers,
    message_menu,
    message_person,
    open_chat,
    react,
    send,
    tap,
    unique,
)
from tests.e2e.wire import WireUser

DELETED = "This message was deleted"


@pytest.fixture(params=sorted(DEVICES))
def device(request):  # type: ignore[no-untyped-def]
    return DEVICES[request.param]


def test_reply_quotes_the_original_in_the_composer_and_the_bubble(as_user, device, stack_url, screenshot):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id, **device), as_user(bob_id, **DESKTOP)
    create_chat(alice, bob_id, "Replies")
    open_chat(bob, "Replies")
    send(bob, "Dinner at eight?")
    send(bob, "Or nine")
    question = bubble(alice, "Dinner at eight?")
    expect(question).to_be_visible()

    choose(alice, question, "Reply")
    context = alice.locator("#composer-context")
    expect(context).to_be_visible()
    expect(alice.locator("#context-title")).to_have_text(f"Replying to {bob_id}")
    expect(alice.locator("#context-text")).to_have_text("Dinner at eight?")
    tap(alice, alice.locator("#context-cancel"))  # changed my mind
    expect(context).to_be_hidden()
    choose(alice, question, "Reply")
    expect(alice.locator("#context-text")).to_have_text("Dinner at eight?")
    alice.fill("#composer-input", "Eight works")
    alice.keyboard.press("Enter")

    expect(context).to_be_hidden()  # the reply went with the message
    for page in (alice, bob):
        answer = bubble(page, "Eight works")
        expect(answer.locator(".quote .quote-text")).to_have_text("Dinner at eight?")
        expect(answer.locator(".quote .quote-sender")).to_have_text(bob_id)
    with WireUser(stack_url, bob_id) as wire:
        history = wire.request("chat.history", chat_id=chat_id_of(bob, "Replies"))["messages"]
    assert [(m["text"], m["reply_to"]) for m in history] == [
        ("Dinner at eight?", None),
        ("Or nine", None),
        ("Eight works", 1),
    ]
    screenshot(alice, "reply")

    # The original deleted later: the quote says so, on both sides.
    with WireUser(stack_url, bob_id) as wire:
        wire.request("message.delete", chat_id=chat_id_of(bob, "Replies"), seq=1)
    for page in (alice, bob):
        expect(bubble(page, "Eight works").locator(".quote .quote-text")).to_have_text(DELETED)
        expect(page.locator('#messages .msg[data-seq="1"] .text')).to_have_text(DELETED)


def test_a_quotes_click_scrolls_to_the_original_loading_older_history(as_user, device, stack_url):
    alice_id, bob_id = unique("alice"), unique("bob")
    with WireUser(stack_url, bob_id) as wire:
        chat_id = wire.request("chat.create", members=[alice_id], title="Long story")["chat"]["chat_id"]
        wire.request("message.send", chat_id=chat_id, client_msg_id="first", text="Once upon a time")
        for i in range(70):
            wire.request("message.send", chat_id=chat_id, client_msg_id=f"f{i}", text=f"and then {i}")
        wire.request(
            "message.send", chat_id=chat_id, client_msg_id="end", text="Remember the start?", reply_to=1
        )
    alice = as_user(alice_id, **device)
    open_chat(alice, "Long story")
    reply = bubble(alice, "Remember the start?")
    quote = reply.locator(".quote")
    expect(quote.locator(".quote-text")).to_have_text("Once upon a time")  # fetched for the quote
    expect(alice.locator('#messages .msg[data-seq="1"]')).to_have_count(0)  # not loaded: 50 of 72

    tap(alice, quote)

    original = alice.locator('#messages .msg[data-seq="1"]')
    expect(original).to_have_class("msg highlight")
    expect(original).to_be_in_viewport()
    expect(alice.locator("#messages .msg")).to_have_count(72)


def test_edit_own_message_and_everyone_sees_edited(as_user, device, screenshot):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id, **device), as_user(bob_id, **DESKTOP)
    message_person(alice, bob_id)  # a direct chat: nobody is its admin
    open_chat(bob, alice_id)
    send(alice, "See you tomorow")
    send(bob, "ok")
    expect(bubble(alice, "ok")).to_be_visible()
    mine, theirs = alice.locator('#messages .msg[data-seq="1"]'), bubble(alice, "ok")  # by seq: it changes
    offered = ["Reply", "React", "Edit", "Delete"]
    assert menu_offers(alice, mine, offered) == offered
    offered = ["Reply", "React", "Report"]
    assert menu_offers(alice, theirs, offered) == offered  # bob's message
    alice.fill("#composer-input", "half-written")

    choose(alice, mine, "Edit")
    expect(alice.locator("#context-title")).to_have_text("Edit message")
    expect(alice.locator("#composer-input")).to_have_value("See you tomorow")
    alice.fill("#composer-input", "See you tomorrow")
    alice.keyboard.press("Enter")

    for page in (alice, bob):
        edited = page.locator('#messages .msg[data-seq="1"]')
        expect(edited.locator(".text")).to_have_text("See you tomorrow")
        expect(edited.locator(".edited")).to_have_text("edited")
    expect(bob.locator('#messages .msg[data-seq="2"] .edited')).to_have_count(0)
    expect(alice.locator("#composer-input")).to_have_value("half-written")  # the draft is back
    expect(alice.locator("#composer-context")).to_be_hidden()
    screenshot(alice, "edited")

    # An edit to nothing is refused in the page: the message stays, nothing is sent.
    choose(alice, mine, "Edit")
    alice.fill("#composer-input", "   ")
    alice.keyboard.press("Enter")
    expect(alice.locator("#toast")).to_contain_text("needs some text")
    alice.keyboard.press("Escape")
    expect(alice.locator("#composer-input")).to_have_value("half-written")
    expect(bob.locator('#messages .msg[data-seq="1"] .text')).to_have_text("See you tomorrow")


def test_delete_own_message_and_an_admin_deletes_anyones(as_user, device, stack_url):
    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    alice, bob = as_user(alice_id, **device), as_user(bob_id, **DESKTOP)
    create_chat(alice, f"{bob_id}, {carol_id}", "Cleanup")  # alice is the group's admin
    open_chat(bob, "Cleanup")
    send(alice, "wrong chat, sorry")
    send(bob, "buy cheap watches")
    expect(bubble(alice, "buy cheap watches")).to_be_visible()
    offered = ["Reply", "React", "Report"]
    assert menu_offers(bob, bubble(bob, "wrong chat, sorry"), offered) == offered  # bob is no admin
    offered = ["Reply", "React", "Delete", "Report"]
    assert menu_offers(alice, bubble(alice, "buy cheap watches"), offered) == offered

    accept_next_dialog(alice)
    choose(alice, bubble(alice, "wrong chat, sorry"), "Delete")
    accept_next_dialog(alice)
    choose(alice, bubble(alice, "buy cheap watches"), "Delete")

    for page in (alice, bob):
        expect(page.locator("#messages .msg .text")).to_have_text([DELETED, DELETED])
        expect(page.locator("#messages .msg.deleted")).to_have_count(2)
    offered = ["Reply"]
    assert menu_offers(alice, alice.locator('#messages .msg[data-seq="1"]'), offered) == offered
    with WireUser(stack_url, carol_id) as carol:  # gone from storage, not hidden
        stored = carol.request("chat.history", chat_id=chat_id_of(alice, "Cleanup"))["messages"]
    assert [(m["text"], m["deleted"]) for m in stored] == [("", True), ("", True)]
    # A system notice has no menu at all.
    with WireUser(stack_url, alice_id) as wire:
        wire.request("chat.add", chat_id=chat_id_of(alice, "Cleanup"), members=[unique("dave")])
    expect(alice.locator("#messages .system")).to_have_count(1)
    expect(alice.locator("#messages .system .msg-menu-btn")).to_have_count(0)


def test_edit_refused_after_an_admin_deleted_it_says_so_and_stays_deleted(as_user, device):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id, **DESKTOP), as_user(bob_id, **device)
    create_chat(alice, f"{bob_id}, {unique('carol')}", "Moderated")
    open_chat(bob, "Moderated")
    send(bob, "borderline")
    expect(bubble(alice, "borderline")).to_be_visible()
    choose(bob, bubble(bob, "borderline"), "Edit")  # bob starts editing...
    accept_next_dialog(alice)
    choose(alice, bubble(alice, "borderline"), "Delete")  # ...while the admin deletes it
    expect(bob.locator('#messages .msg[data-seq="1"] .text')).to_have_text(DELETED)

    bob.fill("#composer-input", "fine now")
    bob.keyboard.press("Enter")

    expect(bob.locator("#toast")).to_have_text("This message can no longer be edited")
    for page in (alice, bob):
        expect(page.locator('#messages .msg[data-seq="1"] .text')).to_have_text(DELETED)
    expect(bob.locator("#messages .msg")).to_have_count(1)  # the edit was not sent as a message


def test_reactions_two_people_count_toggle_and_say_who(as_user, device, screenshot):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id, **device), as_user(bob_id, **DESKTOP)
    create_chat(alice, bob_id, "Party")
    open_chat(bob, "Party")
    send(alice, "Party on Friday?")
    mine, bobs = bubble(alice, "Party on Friday?"), bubble(bob, "Party on Friday?")
    expect(bobs).to_be_visible()

    react(bob, bobs, "🎉")
    expect(chip(alice, mine, "🎉").locator(".count")).to_have_text("1")
    expect(chip(alice, mine, "🎉")).to_have_attribute("aria-pressed", "false")  # not alice's
    expect(chip(bob, bobs, "🎉")).to_have_attribute("aria-pressed", "true")

    tap(alice, chip(alice, mine, "🎉"))  # alice joins in
    for page, target in ((alice, mine), (bob, bobs)):
        expect(chip(page, target, "🎉").locator(".count")).to_have_text("2")
        expect(chip(page, target, "🎉")).to_have_attribute("aria-pressed", "true")
    expect(chip(bob, bobs, "🎉")).to_have_attribute("title", f"{alice_id}, {bob_id} (you)")
    reactors = alice.locator("#reactors")
    if device["touch"]:  # who reacted: a long press on the chip (a hover's title on a desktop)
        long_press(alice, chip(alice, mine, "🎉"), until=reactors)
        expect(reactors.locator("li")).to_have_text([f"{alice_id} (you)", bob_id])
        alice.keyboard.press("Escape")
        expect(reactors).to_be_hidden()
        expect(chip(alice, mine, "🎉").locator(".count")).to_have_text("2")  # a press is not a tap
    else:
        expect(chip(alice, mine, "🎉")).to_have_attribute("title", f"{alice_id} (you), {bob_id}")
    screenshot(alice, "reactions")

    tap(alice, chip(alice, mine, "🎉"))  # and takes it back
    for page, target in ((alice, mine), (bob, bobs)):
        expect(chip(page, target, "🎉").locator(".count")).to_have_text("1")
    expect(chip(alice, mine, "🎉")).to_have_attribute("aria-pressed", "false")

    react(alice, mine, "👍")  # one reaction each: bob's 🎉 stays, alice's 👍 joins it
    react(bob, bobs, "👍")  # bob's moves from 🎉 to 👍
    for page, target in ((alice, mine), (bob, bobs)):
        expect(target.locator(".chip")).to_have_count(1)
        expect(chip(page, target, "👍").locator(".count")).to_have_text("2")
    choices = message_menu(alice, mine).get_by_role("menuitem")
    expect(choices).to_have_text(["Reply", "React", "Edit", "Delete"])


def test_a_page_offline_during_changes_converges_after_reconnecting(as_user, stack_url):
    """Changes made while a page is away reach it after it reconnects: the latest page comes
    back with chat.open, and what is older than it (loaded before) through chat.changes."""
    alice_id, bob_id = unique("alice"), unique("bob")
    bob = as_user(bob_id, **DESKTOP)
    asked: list[dict[str, object]] = []

    def watch(ws):  # type: ignore[no-untyped-def]
        def sent(payload):  # type: ignore[no-untyped-def]
            frame = json.loads(payload)
            if frame.get("action") == "chat.changes":
                asked.append(frame)

        ws.on("framesent", sent)

    bob.on("websocket", watch)
    with WireUser(stack_url, alice_id) as alice:
        chat_id = alice.request("chat.create", members=[bob_id], title="Archive")["chat"]["chat_id"]
        for i in range(60):
            alice.request("message.send", chat_id=chat_id, client_msg_id=f"m{i}", text=f"note {i}")
        open_chat(bob, "Archive")
        expect(bob.locator("#messages .msg")).to_have_count(50)
        bob.get_by_role("button", name="Load earlier messages").click()
        expect(bob.locator("#messages .msg")).to_have_count(60)
        go_away(bob)

        alice.request("message.edit", chat_id=chat_id, seq=1, text="note 0, revised")
        alice.request("message.delete", chat_id=chat_id, seq=2)
        alice.request("reaction.set", chat_id=chat_id, seq=3, emoji="👀")
        alice.request("message.edit", chat_id=chat_id, seq=60, text="note 59, revised")
        come_back(bob)

    def at(seq: int):  # type: ignore[no-untyped-def]
        return bob.locator(f'#messages .msg[data-seq="{seq}"]')

    expect(at(1).locator(".text")).to_have_text("note 0, revised")
    expect(at(1).locator(".edited")).to_have_text("edited")
    expect(at(2).locator(".text")).to_have_text(DELETED)
    expect(at(3).locator('.chip[data-emoji="👀"] .count')).to_have_text("1")
    expect(at(60).locator(".text")).to_have_text("note 59, revised")
    expect(bob.locator("#messages .msg")).to_have_count(60)
    assert [(f["chat_id"], f["after_rev"]) for f in asked][:1] == [(chat_id, 0)], asked


def lose_first_update(page) -> None:  # type: ignore[no-untyped-def]
    """Stand between the page and the stack: the first chat:message:updated never arrives (as
    a change made between a chat.open's read and the connection starting to view the chat)."""
    lost: list[str] = []

    def route(page_side: WebSocketRoute) -> None:
        server = page_side.connect_to_server()

        def from_server(message: str | bytes) -> None:
            if not lost and json.loads(message).get("event") == "chat:message:updated":
                lost.append(str(message))
                return
            page_side.send(message)

        server.on_message(from_server)
        page_side.on_message(server.send)

    page.route_web_socket(re.compile(r"/ws\?"), route)


def test_a_change_frame_past_the_next_rev_fetches_the_ones_missed(as_user, stack_url):
    alice_id, bob_id = unique("alice"), unique("bob")
    bob = as_user(bob_id, before_load=lose_first_update, **DESKTOP)
    with WireUser(stack_url, alice_id) as alice:
        chat_id = alice.request("chat.create", members=[bob_id], title="Gaps")["chat"]["chat_id"]
        for text in ("first", "second"):
            alice.request("message.send", chat_id=chat_id, client_msg_id=text, text=text)
        open_chat(bob, "Gaps")
        expect(bob.locator("#messages .msg")).to_have_count(2)
        alice.request("message.edit", chat_id=chat_id, seq=1, text="first, fixed")  # rev 1: lost
        alice.request("reaction.set", chat_id=chat_id, seq=2, emoji="👍")  # rev 2

        expect(bob.locator('#messages .msg[data-seq="2"] .chip .count')).to_have_text("1")
        expect(bob.locator('#messages .msg[data-seq="1"] .text')).to_have_text("first, fixed")
    expect(bob.locator("#conn-status")).to_have_attribute("data-state", "online")  # no reconnect needed


def test_a_reaction_past_twenty_emoji_is_refused_and_changes_nothing(as_user, stack_url):
    alice_id, bob_id = unique("alice"), unique("bob")
    others = [unique("fan") for _ in range(20)]
    with WireUser(stack_url, alice_id) as alice:
        chat_id = alice.request("chat.create", members=[bob_id, *others], title="Crowd")["chat"]["chat_id"]
        alice.request("message.send", chat_id=chat_id, client_msg_id="hi", text="Big news")
    for i, fan in enumerate(others):  # twenty different emoji: the most a message may have
        with WireUser(stack_url, fan) as wire:
            wire.request("reaction.set", chat_id=chat_id, seq=1, emoji=f"r{i}")
    bob = as_user(bob_id, **DESKTOP)
    open_chat(bob, "Crowd")
    news = bubble(bob, "Big news")
    expect(news.locator(".chip")).to_have_count(20)

    react(bob, news, "🎉")

    expect(bob.locator("#toast")).to_have_text("A message can have at most 20 different reactions")
    expect(news.locator(".chip")).to_have_count(20)
    expect(news.locator(".chip.mine")).to_have_count(0)
    react(bob, news, "👍")  # still refused: a 21st emoji whichever it is
    with WireUser(stack_url, bob_id) as wire:
        stored = wire.request("chat.history", chat_id=chat_id)["messages"][0]["reactions"]
    assert sorted(stored) == sorted(f"r{i}" for i in range(20))
    tap(bob, chip(bob, news, "r0"))  # joining an emoji already there is fine
    expect(chip(bob, news, "r0").locator(".count")).to_have_text("2")
