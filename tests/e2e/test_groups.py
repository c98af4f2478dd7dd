"""Protocol v2 in the web chat: groups that change, direct chats, system notices, pages.

Each test plays several people, each in a browser context of their own, against one local
stack (one per tier); user ids are unique per test so the tests share nothing else.
"""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, WebSocketRoute, expect

from tests.e2e.pages import (
    accept_next_dialog,
    badge,
    chat_item,
    come_back,
    create_chat,
    go_away,
    member,
    message_person,
    notices,
    open_chat,
    open_members,
    open_new_chat_form,
    send,
    unique,
)
from tests.e2e.wire import WireUser


def assert_centred(page: Page, index: int = 0) -> None:
    """A notice sits in the middle of the timeline, narrower than it: not a bubble on a side."""
    # Found and measured in one step in the page: the timeline is re-rendered as frames arrive.
    left_gap, right_gap = page.locator("#messages").evaluate(
        """(box, index) => {
            const node = box.querySelectorAll(".system")[index];
            const [rect, area] = [node.getBoundingClientRect(), box.getBoundingClientRect()];
            return [rect.left - area.left, area.right - rect.right];
        }""",
        index,
    )
    assert left_gap > 40 and right_gap > 40, (left_gap, right_gap)
    assert abs(left_gap - right_gap) < 16, (left_gap, right_gap)  # a scrollbar may take one side


def add_people(page: Page, users: str) -> None:
    page.fill("#add-input", users)
    page.click("#add-btn")


def test_admin_adds_a_member_from_the_panel(as_user, screenshot):
    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    alice, bob, carol = as_user(alice_id), as_user(bob_id), as_user(carol_id)
    create_chat(alice, bob_id, "Trip")
    open_chat(bob, "Trip")
    open_members(alice)
    expect(member(alice, alice_id).locator(".role")).to_have_text("admin")
    expect(member(alice, bob_id).locator(".role")).to_have_count(0)

    add_people(alice, carol_id)

    expect(chat_item(carol, "Trip")).to_be_visible()
    expect(notices(bob)).to_have_text([f"{alice_id} added {carol_id}"])
    expect(bob.locator("#messages .msg")).to_have_count(0)  # a notice, not a bubble
    assert_centred(bob)
    expect(notices(alice)).to_have_text([f"{alice_id} added {carol_id}"])
    expect(member(alice, carol_id)).to_be_visible()
    expect(bob.locator("#conv-members")).to_contain_text(carol_id)

    open_chat(carol, "Trip")
    send(carol, "hi all")
    expect(bob.locator("#messages .msg .sender")).to_have_text([carol_id])  # groups of 3 name senders
    expect(bob.locator("#messages .msg .text")).to_have_text(["hi all"])
    screenshot(alice, "alice-panel")
    screenshot(bob, "bob")
    screenshot(carol, "carol")


def test_admin_removes_a_member(as_user, screenshot):
    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    alice, bob, carol = as_user(alice_id), as_user(bob_id), as_user(carol_id)
    create_chat(alice, f"{bob_id}, {carol_id}", "Book club")
    open_chat(bob, "Book club")
    open_chat(carol, "Book club")
    open_members(alice)

    accept_next_dialog(alice)
    member(alice, bob_id).locator(".remove").click()

    expect(chat_item(bob, "Book club")).to_have_count(0)
    expect(bob.locator("#conv-notice")).to_have_text("You were removed from Book club")
    expect(bob.locator("#composer")).to_be_hidden()
    expect(bob.locator("#conv-title")).to_have_text("Pick a chat")
    for page in (alice, carol):
        expect(notices(page)).to_have_text([f"{alice_id} removed {bob_id}"])
    expect(member(alice, bob_id)).to_have_count(0)
    expect(carol.locator("#conv-members")).not_to_contain_text(bob_id)

    send(alice, "just us now")
    expect(carol.locator("#messages .msg .text")).to_have_text(["just us now"])
    expect(chat_item(bob, "Book club")).to_have_count(0)  # bob hears nothing more of it
    screenshot(bob, "bob-removed")
    screenshot(carol, "carol")


def test_member_leaves_and_the_last_admin_hands_over(as_user, screenshot):
    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    alice, bob, carol = as_user(alice_id), as_user(bob_id), as_user(carol_id)
    create_chat(alice, f"{bob_id}, {carol_id}", "Hikers")
    open_chat(bob, "Hikers")
    open_chat(carol, "Hikers")
    open_members(bob)
    expect(bob.locator("#add-form")).to_be_hidden()  # bob is not an admin
    expect(bob.locator("#admin-hint")).to_be_visible()

    # A panel that still offers admin controls (rights just lost): the page says why it failed.
    bob.evaluate(
        """(user) => {
            document.getElementById("add-input").value = user;
            document.getElementById("add-form").requestSubmit();
        }""",
        unique("dan"),
    )
    expect(bob.locator("#toast")).to_have_text("Only admins can add people")

    bob.once("dialog", lambda dialog: dialog.dismiss())
    bob.click("#leave-btn")
    send(bob, "still here")  # changed his mind: still a member
    expect(alice.locator("#messages .msg .text")).to_have_text(["still here"])
    expect(notices(alice)).to_have_count(0)

    accept_next_dialog(bob)
    bob.click("#leave-btn")
    expect(bob.locator("#conv-notice")).to_have_text("You left Hikers")
    expect(chat_item(bob, "Hikers")).to_have_count(0)
    expect(bob.locator("#members-panel")).to_be_hidden()
    expect(notices(alice)).to_have_text([f"{bob_id} left"])
    screenshot(bob, "bob-left")

    open_members(carol)
    accept_next_dialog(alice)
    open_members(alice)
    alice.click("#leave-btn")  # the only admin leaves: carol, the member left, takes over
    expect(notices(carol)).to_have_text([f"{bob_id} left", f"{alice_id} left; {carol_id} is now an admin"])
    expect(member(carol, carol_id).locator(".role")).to_have_text("admin")
    expect(carol.locator("#add-form")).to_be_visible()
    screenshot(carol, "carol-admin")


def test_rename_and_make_admin_reach_every_member(as_user, screenshot):
    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    alice, bob, carol = as_user(alice_id), as_user(bob_id), as_user(carol_id)
    create_chat(alice, f"{bob_id}, {carol_id}", "Old name")
    open_chat(bob, "Old name")  # carol looks at no chat
    expect(chat_item(carol, "Old name")).to_be_visible()
    open_members(alice)

    alice.fill("#rename-input", "New name")
    alice.click("#rename-btn")

    for page in (alice, bob):
        expect(page.locator("#conv-title")).to_have_text("New name")
    for page in (alice, bob, carol):
        expect(chat_item(page, "New name")).to_be_visible()
        expect(chat_item(page, "Old name")).to_have_count(0)
    expect(notices(bob)).to_have_count(1)
    expect(notices(bob)).to_contain_text("New name")
    expect(badge(carol, "New name")).to_have_text("1")  # a system message counts as unread

    open_members(bob)
    expect(bob.locator("#rename-form")).to_be_hidden()
    member(alice, bob_id).locator(".make-admin").click()
    expect(member(bob, bob_id).locator(".role")).to_have_text("admin")
    expect(bob.locator("#rename-form")).to_be_visible()
    bob.fill("#rename-input", "Third name")
    bob.click("#rename-btn")
    expect(alice.locator("#conv-title")).to_have_text("Third name")
    expect(chat_item(carol, "Third name")).to_be_visible()
    screenshot(alice, "alice")
    screenshot(bob, "bob")


def test_direct_chat_is_named_after_the_other_person_and_never_doubles(as_user, screenshot):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id), as_user(bob_id)

    message_person(alice, bob_id)
    expect(alice.locator("#conv-members")).to_have_text("direct chat")
    send(alice, "hello you")

    expect(chat_item(bob, alice_id)).to_be_visible()
    expect(badge(bob, alice_id)).to_have_text("1")
    open_chat(bob, alice_id)
    expect(bob.locator("#messages .msg .text")).to_have_text(["hello you"])
    expect(bob.locator("#messages .msg .sender")).to_have_count(0)

    message_person(alice, bob_id)  # again: the same chat
    message_person(bob, alice_id)  # from the other side: the same chat
    for page in (alice, bob):
        expect(page.locator(".chat-item")).to_have_count(1)
        expect(page.locator("#messages .msg .text")).to_have_text(["hello you"])
    open_members(bob)
    expect(bob.locator("#member-list .member")).to_have_count(2)
    expect(bob.locator("#add-form")).to_be_hidden()
    expect(bob.locator("#leave-btn")).to_be_hidden()

    open_new_chat_form(bob)
    bob.fill("#direct-user", bob_id)
    bob.click("#direct-btn")
    expect(bob.locator("#new-chat-error")).to_have_text("Pick someone other than yourself")
    screenshot(alice, "alice")
    screenshot(bob, "bob")


def test_removed_while_away_is_dropped_on_reconnect(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id), as_user(bob_id)
    create_chat(alice, bob_id, "Gone")
    open_chat(bob, "Gone")
    go_away(bob)

    open_members(alice)
    accept_next_dialog(alice)
    member(alice, bob_id).locator(".remove").click()
    expect(notices(alice)).to_have_count(1)
    come_back(bob)

    expect(chat_item(bob, "Gone")).to_have_count(0)
    expect(bob.locator("#conv-notice")).to_have_text("You were removed from Gone")


def hold_opened_until_removed(page: Page) -> None:
    """Stand between the page and the stack: keep chat:opened replies back until a
    chat:removed has reached the page, as a slow reply can be overtaken."""

    def route(page_side: WebSocketRoute) -> None:
        server = page_side.connect_to_server()
        held: list[str | bytes] = []

        def from_server(message: str | bytes) -> None:
            event = json.loads(message).get("event")
            if event == "chat:opened":
                held.append(message)
                return
            page_side.send(message)
            if event == "chat:removed":
                for late in held:
                    page_side.send(late)
                held.clear()

        server.on_message(from_server)
        page_side.on_message(server.send)

    page.route_web_socket(re.compile(r"/ws\?"), route)


def test_a_late_reply_does_not_bring_back_a_chat_the_user_was_removed_from(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id), as_user(bob_id, before_load=hold_opened_until_removed)
    create_chat(alice, bob_id, "Overtaken")
    open_chat(bob, "Overtaken")  # its chat:opened is held back

    open_members(alice)
    accept_next_dialog(alice)
    member(alice, bob_id).locator(".remove").click()

    expect(bob.locator("#conv-notice")).to_have_text("You were removed from Overtaken")
    bob.wait_for_function("window.chat.conn.waiting.size === 0")  # the late chat:opened is in
    expect(chat_item(bob, "Overtaken")).to_have_count(0)
    expect(bob.locator("#conv-notice")).to_be_visible()


def test_long_chat_list_and_long_history_arrive_in_pages(as_user, stack_url, screenshot):
    dana_id, erin_id = unique("dana"), unique("erin")
    texts = [f"{i:02d}" + " long message" * 300 for i in range(40)]  # 40 of 3.9 KB: over 128 KiB
    with WireUser(stack_url, dana_id) as dana:
        for i in range(101, 0, -1):  # 101 chats: more than one chat.list page of 100
            created = dana.request("chat.create", members=[erin_id], title=f"Room {i:03d}")
        for n, text in enumerate(texts):  # in the newest chat, "Room 001"
            dana.request("message.send", chat_id=created["chat"]["chat_id"], client_msg_id=f"m{n}", text=text)

    erin = as_user(erin_id)

    expect(erin.locator(".chat-item")).to_have_count(101)
    open_chat(erin, "Room 001")
    shown = erin.locator("#messages .msg .text")
    expect(shown.last).to_have_text(texts[-1])
    first_page = shown.count()
    assert 0 < first_page < len(texts), first_page  # chat:opened cut to fit 128 KiB: has_more
    while erin.locator("#messages .load-earlier button").count():
        erin.click("#messages .load-earlier button")
        expect(shown).not_to_have_count(first_page)
        first_page = shown.count()
    expect(shown).to_have_text(texts)
    screenshot(erin, "erin")
