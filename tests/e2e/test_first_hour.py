"""A newcomer's first hour in the web chat (issue 25): the session kept across reloads, the
notifications state as it really is, deleting a direct chat, the timeline's place kept when the
members panel opens, ticks that never go back, a bad user id in the address, the unread divider,
untitled groups, and a notification level whose choices say what they do."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.pages import (
    accept_next_dialog,
    badge,
    chat_item,
    create_chat,
    last_tick,
    message_person,
    new_group,
    notices,
    open_chat,
    open_members,
    open_new_chat_form,
    send,
    unique,
)
from tests.e2e.test_notifications import FAKE_PUSH_MANAGER, VAPID_PUBLIC_KEY
from tests.e2e.wire import WireUser


@pytest.fixture
def blank_page(browser) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """A page of its own, not yet pointed anywhere (as_user waits until it is online)."""
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def online(page: Page) -> None:
    expect(page.locator('#conn-status[data-state="online"]')).to_be_visible()


def kept_session(page: Page) -> dict[str, object] | None:
    session: dict[str, object] | None = page.evaluate("JSON.parse(localStorage.getItem('chat.session'))")
    return session


def keep_token(page: Page, token: str) -> None:
    page.evaluate(
        "(token) => { const s = JSON.parse(localStorage.getItem('chat.session'));"
        " localStorage.setItem('chat.session', JSON.stringify({ ...s, token })); }",
        token,
    )


def unsigned_token(user: str, exp: float) -> str:
    """A JWT with the right shape and a signature the stack does not accept."""

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': user, 'exp': int(exp)})}.c2lnbmF0dXJl"


# -- 1. the session ---------------------------------------------------------------------------------


def test_a_reload_keeps_the_session_and_reopens_the_last_chat(as_user, stack_url):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice = as_user(alice_id)
    create_chat(alice, bob_id, "Kept")
    session = kept_session(alice)
    assert session and session["user"] == alice_id and session["token"], session

    tokens_asked: list[str] = []
    alice.on("request", lambda request: "/dev/token" in request.url and tokens_asked.append(request.url))
    alice.goto(f"{stack_url}/")  # no ?user=: the session kept says who
    online(alice)
    expect(alice.locator("#me")).to_have_text(alice_id)
    expect(alice.locator("#conv-title")).to_have_text("Kept")  # the chat open last
    assert tokens_asked == []  # the kept token, not a new one

    alice.click("#logout-btn")  # the explicit end of it
    expect(alice.locator("#login")).to_be_visible()
    assert kept_session(alice) is None
    alice.reload()
    expect(alice.locator("#login")).to_be_visible()
    expect(alice.locator("#app")).to_be_hidden()


def test_a_token_the_server_refuses_or_an_expired_one_asks_to_log_in_again(as_user, stack_url):
    alice_id = unique("alice")
    alice = as_user(alice_id)
    keep_token(alice, unsigned_token(alice_id, time.time() + 3600))  # not expired: the server says no
    alice.goto(f"{stack_url}/")
    expect(alice.locator("#login")).to_be_visible()
    expect(alice.locator("#login-error")).to_contain_text("did not accept your saved session")
    expect(alice.locator("#login-user")).to_have_value(alice_id)

    alice.click("#login-btn")  # one click logs in again
    online(alice)
    expect(alice.locator("#me")).to_have_text(alice_id)

    keep_token(alice, unsigned_token(alice_id, time.time() - 60))  # expired: not even tried
    alice.goto(f"{stack_url}/")
    expect(alice.locator("#login-error")).to_have_text("Your session has expired: log in again.")
    alice.click("#login-btn")
    online(alice)


# -- 2. the notifications state ---------------------------------------------------------------------

# Pushes that fail until the test lets them work (window.__pushWorks), over the stubbed PushManager.
FAILING_PUSH = """
(() => {
  const works = PushManager.prototype.subscribe;
  PushManager.prototype.subscribe = function (options) {
    if (window.__pushWorks) return works.call(this, options);
    return Promise.reject(new DOMException("push service not available", "AbortError"));
  };
})();
"""

# The browser's permission under the test's control (window.__permission).
PERMISSION = """
(() => {
  window.__permission = "denied";
  Object.defineProperty(Notification, "permission", { get: () => window.__permission, configurable: true });
  Notification.requestPermission = async () => window.__permission;
})();
"""


def push_page(stack_url: str, *scripts: str, grant: bool = True):  # type: ignore[no-untyped-def]
    def before_load(page: Page) -> None:
        if grant:
            page.context.grant_permissions(["notifications"], origin=stack_url)
        for script in (FAKE_PUSH_MANAGER, *scripts):
            page.add_init_script(script)
        page.route("**/dev/vapid", lambda route: route.fulfill(json={"public_key": VAPID_PUBLIC_KEY}))

    return before_load


def test_a_failed_push_subscription_is_not_notifications_on_and_can_be_retried(as_user, stack_url):
    bob = as_user(unique("bob"), push_page(stack_url, FAILING_PUSH))
    state = bob.locator("#notify-state")
    expect(state).to_contain_text("Notifications failed")  # not "Notifications on"
    expect(state).to_contain_text("AbortError: push service not available")
    expect(bob.locator("#notify-retry")).to_be_visible()
    expect(bob.locator("#notify")).to_have_attribute("data-state", "failed")

    bob.evaluate("window.__pushWorks = true")
    bob.click("#notify-retry")
    expect(state).to_have_text("Notifications on")
    expect(bob.locator("#notify")).to_have_attribute("data-state", "on")
    expect(bob.locator("#notify-retry")).to_be_hidden()


def test_notifications_blocked_by_the_browser_say_so_and_retry_once_allowed(as_user, stack_url):
    bob = as_user(unique("bob"), push_page(stack_url, PERMISSION, grant=False))
    expect(bob.locator("#notify-state")).to_contain_text("blocked by the browser")
    expect(bob.locator("#notify-retry")).to_be_visible()
    expect(bob.locator("#notify-btn")).to_be_hidden()
    expect(bob.locator("#notify")).to_have_attribute("data-state", "blocked")

    bob.click("#notify-retry")  # still blocked: it says where to allow them
    expect(bob.locator("#toast")).to_contain_text("allow them in the browser's site settings")
    expect(bob.locator("#notify")).to_have_attribute("data-state", "blocked")

    bob.evaluate("window.__permission = 'granted'")  # allowed in the site settings
    bob.click("#notify-retry")
    expect(bob.locator("#notify-state")).to_have_text("Notifications on")


# -- 3. deleting a direct chat ----------------------------------------------------------------------


def test_deleting_a_direct_chat_asks_first_and_it_comes_back_with_a_new_message(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id), as_user(bob_id)
    message_person(alice, bob_id)
    send(alice, "first words")
    open_chat(bob, alice_id)
    expect(bob.locator("#messages .msg .text")).to_have_text(["first words"])
    open_members(bob)
    expect(bob.locator("#leave-btn")).to_be_hidden()  # a direct chat is not left as a group is

    asked: list[str] = []
    bob.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    bob.click("#delete-chat-btn")
    expect(chat_item(bob, alice_id)).to_have_count(1)  # dismissed: nothing happened
    assert asked and "until a new message arrives" in asked[0] and f"{alice_id} keeps" in asked[0], asked

    accept_next_dialog(bob)
    bob.click("#delete-chat-btn")
    expect(chat_item(bob, alice_id)).to_have_count(0)
    expect(bob.locator("#conv-notice")).to_contain_text("comes back when a new message arrives")
    bob.reload()
    online(bob)
    expect(bob.locator(".chat-item")).to_have_count(0)  # still deleted after a reload

    send(alice, "are you there?")
    expect(badge(bob, alice_id)).to_have_text("1")
    open_chat(bob, alice_id)
    expect(bob.locator("#messages .msg .text")).to_have_text(["first words", "are you there?"])


# -- 4. the members panel and the timeline's place ------------------------------------------------


AT_BOTTOM = """() => {
  const box = document.getElementById("messages");
  return box.scrollHeight - box.scrollTop - box.clientHeight < 2;
}"""


def test_opening_the_members_panel_keeps_the_timeline_where_it_was(as_user, stack_url):
    alice_id, bob_id = unique("alice"), unique("bob")
    chat_id = new_group(stack_url, alice_id, [bob_id], "Long talk")
    words = "a long line that wraps again when the conversation gets narrower " * 4
    with WireUser(stack_url, alice_id) as wire:
        for n in range(24):
            wire.request("message.send", chat_id=chat_id, client_msg_id=f"m{n}", text=f"{n}: {words}")
    alice = as_user(alice_id)
    open_chat(alice, "Long talk")
    expect(alice.locator("#messages .msg")).to_have_count(24)
    box = alice.locator("#messages")
    from_bottom = "(box) => box.scrollHeight - box.scrollTop - box.clientHeight"
    alice.wait_for_function(AT_BOTTOM)  # opened at the bottom

    open_members(alice)  # at the bottom: still at the bottom, the last message in sight
    expect(alice.locator("#member-list .member")).to_have_count(2)
    assert alice.evaluate(AT_BOTTOM), box.evaluate(from_bottom)
    alice.click("#panel-close")
    expect(alice.locator("#members-panel")).to_be_hidden()

    target = alice.locator('#messages .msg[data-seq="10"]')  # in the middle: that message stays put
    target.evaluate("(node) => node.scrollIntoView({ block: 'start' })")
    where = "(node) => node.getBoundingClientRect().top - node.parentElement.getBoundingClientRect().top"
    before = target.evaluate(where)
    open_members(alice)
    expect(alice.locator("#member-list .member")).to_have_count(2)
    after = target.evaluate(where)
    assert abs(after - before) <= 2, (before, after)


# -- 5. ticks after a member leaves ----------------------------------------------------------------


def test_a_message_read_by_everyone_stays_read_when_a_member_leaves(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id), as_user(bob_id)
    create_chat(alice, bob_id, "Brief")
    send(alice, "read me")
    open_chat(bob, "Brief")
    expect(last_tick(alice)).to_have_attribute("data-status", "read")

    open_members(bob)
    accept_next_dialog(bob)
    bob.click("#leave-btn")
    expect(notices(alice).last).to_contain_text("left")
    expect(last_tick(alice)).to_have_attribute("data-status", "read")
    expect(last_tick(alice)).to_have_attribute("aria-label", "Read by everyone")


# -- 6. a bad user id in the address --------------------------------------------------------------


def test_a_bad_user_id_in_the_address_says_why_and_offers_the_login_form(blank_page, stack_url):
    page = blank_page
    page.goto(f"{stack_url}/?user=bob%20smith")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    expect(page.locator("#login-error")).to_contain_text("“bob smith”, which is not a user id")
    expect(page.locator("#login-error")).to_contain_text("1-64 letters, digits")

    user = unique("bob")
    page.fill("#login-user", user)
    page.click("#login-btn")
    online(page)
    expect(page.locator("#me")).to_have_text(user)
    assert "user=" not in page.url  # a reload does not bring the bad id back


# -- 7. the unread divider -------------------------------------------------------------------------


def test_opening_a_chat_with_unread_messages_shows_the_divider_at_the_first_one(as_user, stack_url):
    alice_id, bob_id = unique("alice"), unique("bob")
    busy = new_group(stack_url, bob_id, [alice_id], "Busy")
    new_group(stack_url, bob_id, [alice_id], "Elsewhere")
    alice = as_user(alice_id)
    with WireUser(stack_url, bob_id) as wire:
        for n in range(5):
            wire.request("message.send", chat_id=busy, client_msg_id=f"r{n}", text=f"read {n}")
        expect(badge(alice, "Busy")).to_have_text("5")
        open_chat(alice, "Busy")
        expect(alice.locator("#messages .msg")).to_have_count(5)
        expect(alice.locator("#messages .unread-divider")).to_have_text("5 unread messages")
        open_chat(alice, "Elsewhere")
        for n in range(25):
            wire.request("message.send", chat_id=busy, client_msg_id=f"u{n}", text=f"unread {n}")
    expect(badge(alice, "Busy")).to_have_text("25")

    open_chat(alice, "Busy")
    divider = alice.locator("#messages .unread-divider")
    expect(divider).to_have_text("25 unread messages")
    expect(alice.locator("#messages .unread-divider + .msg .text")).to_have_text("unread 0")
    alice.wait_for_function(
        """() => {
          const box = document.getElementById("messages");
          const line = box.querySelector(".unread-divider");
          const offset = line.getBoundingClientRect().top - box.getBoundingClientRect().top;
          return offset >= 0 && offset < 40;
        }"""
    )


# -- 8. untitled groups ----------------------------------------------------------------------------


def test_an_untitled_group_has_a_group_icon_member_names_and_says_who_made_it(as_user):
    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    alice = as_user(alice_id)
    message_person(alice, carol_id)
    expect(alice.locator("#conv-icon")).to_be_hidden()  # a direct chat: the person is the title
    open_new_chat_form(alice)
    alice.fill("#new-members", f"{bob_id}, {carol_id}")
    alice.click("#create-btn")
    names = f"{bob_id}, {carol_id}"
    expect(alice.locator("#conv-title")).to_have_text(names)
    expect(alice.locator("#conv-icon").get_by_role("img", name="Group")).to_be_visible()
    expect(chat_item(alice, names).get_by_role("img", name="Group")).to_be_visible()
    expect(
        chat_item(alice, carol_id).filter(has_not_text=bob_id).get_by_role("img", name="Group")
    ).to_have_count(0)
    timeline = alice.locator("#messages > li")
    expect(timeline.nth(0)).to_have_class("day")  # its first line, under the day it was made
    expect(timeline.nth(1)).to_have_class("created")
    expect(timeline.nth(1)).to_contain_text("You created this group on")

    bob = as_user(bob_id)
    open_chat(bob, f"{alice_id}, {carol_id}")
    expect(bob.locator("#messages > li").nth(1)).to_contain_text(f"{alice_id} created this group on")


# -- 9. the notification level ---------------------------------------------------------------------


def test_the_notification_level_says_what_each_choice_does_and_muted_chats_show_it(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice = as_user(alice_id)
    create_chat(alice, bob_id, "Chatter")
    level = alice.get_by_label("Notifications for this chat")
    expect(level.locator("option")).to_have_text(
        ["Every message", "Only mentions and replies", "Never (muted)"]
    )
    muted = chat_item(alice, "Chatter").get_by_role("img", name="Muted")
    expect(muted).to_have_count(0)

    level.select_option(label="Never (muted)")
    expect(muted).to_be_visible()
    level.select_option(label="Every message")
    expect(muted).to_have_count(0)
