"""The web chat as people use it on a phone and a desktop (issue 11): views, wrapping, safe
links, ticks, the tab title, the new-chat forms, errors, logout, and sends that keep their
order and survive a reload."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

from playwright.sync_api import Page, WebSocketRoute, expect

from tests.e2e.pages import (
    accept_next_dialog,
    badge,
    chat_item,
    come_back,
    create_chat,
    go_away,
    last_tick,
    member,
    open_chat,
    open_members,
    open_new_chat_form,
    send,
    unique,
)

# The tab hidden, as far as the page can tell (headless pages are always visible).
VISIBILITY_PROBE = """() => {
  Object.defineProperty(Document.prototype, "visibilityState", { get: () => "hidden", configurable: true });
  Object.defineProperty(Document.prototype, "hidden", { get: () => true, configurable: true });
  window.__hide = () => document.dispatchEvent(new Event("visibilitychange"));
}"""
PHONE = (390, 844)
DESKTOP = (1280, 800)
LONG_URL = "https://example.com/" + "a" * 150 + "?q=" + "b" * 17  # 190 characters, no spaces


def assert_inside_viewport(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    assert box and size, selector
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], (selector, box, size)
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], (selector, box, size)


def assert_no_sideways_scroll(page: Page) -> None:
    messages = page.locator("#messages").evaluate("(box) => [box.scrollWidth, box.clientWidth]")
    assert messages[0] <= messages[1], f"the conversation scrolls sideways: {messages}"
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= page.viewport_size["width"], page_width  # type: ignore[index]


def test_phone_has_list_and_conversation_views_and_long_urls_wrap(as_user, screenshot):
    alice_id, bob_id = unique("alice"), unique("bob")
    phone, desktop = as_user(alice_id, viewport=PHONE), as_user(bob_id, viewport=DESKTOP)
    expect(phone.locator(".sidebar")).to_be_visible()
    expect(phone.locator(".conversation")).to_be_hidden()

    create_chat(phone, bob_id, "Links")  # opens the chat: the conversation view
    expect(phone.locator(".sidebar")).to_be_hidden()
    expect(phone.locator("#back-btn")).to_be_visible()
    send(phone, f"look {LONG_URL}")
    # Bob's desktop is online: the tick may move on from "sent" before it is looked at.
    expect(last_tick(phone)).to_have_attribute("data-status", re.compile("^(sent|delivered|read)$"))
    assert_inside_viewport(phone, "#composer-input")
    assert_inside_viewport(phone, "#send-btn")
    assert_no_sideways_scroll(phone)
    screenshot(phone, "390x844")

    open_chat(desktop, "Links")
    expect(desktop.locator("#messages .msg .text a")).to_have_text(LONG_URL)
    expect(desktop.locator(".sidebar")).to_be_visible()
    expect(desktop.locator("#back-btn")).to_be_hidden()
    assert_inside_viewport(desktop, "#send-btn")
    assert_no_sideways_scroll(desktop)
    screenshot(desktop, "1280x800")

    phone.click("#back-btn")
    expect(phone.locator(".sidebar")).to_be_visible()
    expect(phone.locator(".conversation")).to_be_hidden()
    entry = phone.locator(".chat-item", has_text="Links")
    expect(entry.locator(".title")).to_have_text("Links")
    expect(entry.locator(".time")).to_have_text(re.compile(r"\d"))  # sent today: its time
    screenshot(phone, "390x844-list")


def test_links_are_safe_anchors_and_html_stays_text(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id), as_user(bob_id)
    dialogs: list[str] = []
    bob.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    create_chat(alice, bob_id, "Safe")
    open_chat(bob, "Safe")
    html = "<img src=x onerror=alert(1)>"

    send(alice, f"{html} see https://example.org/page?x=1. and javascript:alert(2)")

    text = bob.locator("#messages .msg .text")
    expect(text).to_have_text(f"{html} see https://example.org/page?x=1. and javascript:alert(2)")
    links = text.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://example.org/page?x=1")
    expect(links).to_have_attribute("rel", "noopener noreferrer")
    expect(bob.locator("#messages img")).to_have_count(0)
    bob.wait_for_timeout(300)  # an injected onerror would have fired by now
    assert dialogs == []


def test_ticks_are_labelled_shapes_from_sending_to_read(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id), as_user(bob_id)
    create_chat(alice, bob_id, "Ticks")
    go_away(alice)
    send(alice, "wait for me")

    pending = last_tick(alice)
    expect(pending).to_have_attribute("data-status", "pending")
    expect(pending).to_have_attribute("aria-label", "Sending")
    expect(pending.locator("svg")).to_have_count(1)  # drawn, not an emoji that needs a font
    assert pending.text_content() == ""

    come_back(alice)
    expect(last_tick(alice)).to_have_attribute("aria-label", "Delivered to everyone")
    open_chat(bob, "Ticks")
    read = last_tick(alice)
    expect(read).to_have_attribute("aria-label", "Read by everyone")
    expect(read).to_have_attribute("title", "Read by everyone")
    shapes = alice.evaluate(
        """() => [...document.querySelectorAll('#messages .tick')].map((t) => t.innerHTML)"""
    )
    assert len(shapes) == 1 and "path" in shapes[0]


def test_unread_count_in_the_tab_title_and_a_favicon(as_user, stack_url):
    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    alice, bob = as_user(alice_id), as_user(bob_id)
    create_chat(alice, bob_id, "Counted")
    create_chat(bob, carol_id, "Elsewhere")  # bob reads another chat
    expect(bob).to_have_title("Chat")

    for text in ("one", "two", "three"):
        send(alice, text)
    expect(badge(bob, "Counted")).to_have_text("3")
    expect(bob).to_have_title("(3) Chat")
    open_chat(bob, "Counted")
    expect(bob).to_have_title("Chat")

    icon = bob.locator('link[rel="icon"]').evaluate("link => link.href")  # resolved against the page
    assert icon.startswith(f"{stack_url}/")
    response = bob.request.get(icon)
    assert response.status == 200 and b"<svg" in response.body()


def test_day_separator_above_todays_messages(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice = as_user(alice_id)
    create_chat(alice, bob_id, "Days")
    send(alice, "first")
    send(alice, "second")
    expect(alice.locator("#messages .msg .text")).to_have_text(["first", "second"])
    expect(alice.locator("#messages .day")).to_have_text(["Today"])
    first = alice.locator("#messages > li").first
    expect(first).to_have_class("day")
    expect(alice.locator("#messages .msg time").first).to_have_attribute("datetime", re.compile(r"^\d{4}-"))


def test_new_chat_form_is_behind_a_button_and_says_the_user_id_format(as_user):
    alice = as_user(unique("alice"))
    expect(alice.locator("#new-chat-panel")).to_be_hidden()
    open_new_chat_form(alice)

    alice.fill("#direct-user", "not valid!")
    alice.click("#direct-btn")
    error = alice.locator("#new-chat-error")
    expect(error).to_contain_text("1-64 letters, digits, '_', '.', '@' or '-'")
    alice.fill("#new-members", "bob, no way!")
    alice.click("#create-btn")
    expect(error).to_have_text(
        "\"way!\" is not a user id: user ids are 1-64 letters, digits, '_', '.', '@' or '-'"
    )
    expect(alice.locator(".chat-item")).to_have_count(0)

    alice.click("#new-chat-btn")  # "Cancel"
    expect(alice.locator("#new-chat-panel")).to_be_hidden()


def test_errors_show_above_the_composer_never_over_it(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice = as_user(alice_id)
    create_chat(alice, bob_id, "Errors")
    open_members(alice)
    alice.fill("#add-input", "carol <script>")
    alice.click("#add-btn")

    banner = alice.locator("#toast")
    expect(banner).to_have_text(
        "\"<script>\" is not a user id: user ids are 1-64 letters, digits, '_', '.', '@' or '-'"
    )
    banner_box, composer_box = banner.bounding_box(), alice.locator("#composer").bounding_box()
    assert banner_box and composer_box
    assert banner_box["y"] + banner_box["height"] <= composer_box["y"] + 1, (banner_box, composer_box)
    send(alice, "still works")
    expect(alice.locator("#messages .msg .text")).to_have_text(["still works"])


def test_log_out_and_log_in_as_someone_else(as_user):
    alice_id, carol_id = unique("alice"), unique("carol")
    page = as_user(alice_id)
    page.click("#logout-btn")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()

    page.fill("#login-user", "two words")
    page.dispatch_event("#login-user", "input")
    message = page.locator("#login-user").evaluate("(input) => input.validationMessage")
    assert "1-64 letters, digits" in message, message
    page.fill("#login-user", carol_id)
    page.dispatch_event("#login-user", "input")
    page.click("#login-btn")
    expect(page.locator("#me")).to_have_text(carol_id)
    expect(page.locator('#conn-status[data-state="online"]')).to_be_visible()


def test_fast_sends_from_one_tab_keep_their_order(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id), as_user(bob_id)
    create_chat(alice, bob_id, "Fast")
    open_chat(bob, "Fast")
    texts = [f"fast {i}" for i in range(10)]

    alice.evaluate(
        """(texts) => {
            for (const text of texts) {
                document.getElementById("composer-input").value = text;
                document.getElementById("composer").requestSubmit();
            }
        }""",
        texts,
    )

    expect(bob.locator("#messages .msg .text")).to_have_text(texts)
    expect(alice.locator("#messages .msg:not(.pending) .text")).to_have_text(texts)
    seqs = alice.locator("#messages .msg").evaluate_all("(items) => items.map((m) => Number(m.dataset.seq))")
    assert seqs == sorted(seqs) and len(set(seqs)) == 10, seqs


def outbox(page: Page, user: str) -> list[dict[str, str]]:
    saved = page.evaluate("(key) => localStorage.getItem(key)", f"chat.outbox.{user}")
    return json.loads(saved) if saved else []


def test_a_message_sent_offline_survives_a_reload_and_arrives_once(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id), as_user(bob_id)
    create_chat(alice, bob_id, "Outbox")
    open_chat(bob, "Outbox")
    go_away(alice)

    send(alice, "written offline")
    expect(last_tick(alice)).to_have_attribute("data-status", "pending")
    alice.reload()  # the token route still fails: the page comes back offline
    expect(alice.locator("#conn-status")).to_have_attribute("data-state", "offline")
    assert [m["text"] for m in outbox(alice, alice_id)] == ["written offline"]
    come_back(alice)

    expect(bob.locator("#messages .msg .text")).to_have_text(["written offline"])
    open_chat(alice, "Outbox")
    expect(alice.locator("#messages .msg .text")).to_have_text(["written offline"])
    expect(last_tick(alice)).to_have_attribute("data-status", "read")
    assert outbox(alice, alice_id) == []
    time.sleep(0.5)  # nothing more on its way
    expect(bob.locator("#messages .msg .text")).to_have_count(1)


def lose_first_ack(page: Page) -> None:
    """Stand between the page and the stack: the first message:ack never reaches the page,
    and the socket drops, as when a connection dies after the server stored the message."""
    lost: list[str | bytes] = []

    def route(page_side: WebSocketRoute) -> None:
        server = page_side.connect_to_server()

        def from_server(message: str | bytes) -> None:
            if not lost and json.loads(message).get("event") == "message:ack":
                lost.append(message)
                page_side.close()
                return
            page_side.send(message)

        server.on_message(from_server)
        page_side.on_message(server.send)

    page.route_web_socket(re.compile(r"/ws\?"), route)


def test_a_send_whose_ack_was_lost_is_retried_and_stored_once(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id, before_load=lose_first_ack), as_user(bob_id)
    create_chat(alice, bob_id, "Once")
    open_chat(bob, "Once")

    send(alice, "only once")
    send(alice, "then this")

    expected = ["only once", "then this"]
    expect(alice.locator("#messages .msg:not(.pending) .text")).to_have_text(expected, timeout=15_000)
    expect(bob.locator("#messages .msg .text")).to_have_text(expected)
    time.sleep(0.5)
    expect(bob.locator("#messages .msg .text")).to_have_text(expected)


def days_later(days: int):  # type: ignore[no-untyped-def]
    """A ``before_load`` for ``as_user``: the page's clock (Date only; timers run) days ahead."""

    def before_load(page: Page) -> None:
        page.clock.set_fixed_time(time.time() + days * 86_400)

    return before_load


def test_older_messages_show_their_day_and_the_list_their_date(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice = as_user(alice_id)
    create_chat(alice, bob_id, "Old news")
    send(alice, "long ago")
    expect(last_tick(alice)).to_have_attribute("data-status", "sent")
    sent_at = alice.locator("#messages .msg time").first.get_attribute("datetime")
    assert sent_at
    weekday, weekday_short = alice.evaluate(
        """(iso) => [new Date(iso).toLocaleDateString([], { weekday: "long" }),
                     new Date(iso).toLocaleDateString([], { weekday: "short" })]""",
        sent_at,
    )

    tomorrow = as_user(alice_id, before_load=days_later(1))
    expect(tomorrow.locator(".chat-item .time")).to_have_text("Yesterday")
    open_chat(tomorrow, "Old news")
    expect(tomorrow.locator("#messages .day")).to_have_text(["Yesterday"])

    later = as_user(alice_id, before_load=days_later(3))
    expect(later.locator(".chat-item .time")).to_have_text(weekday_short)
    open_chat(later, "Old news")
    expect(later.locator("#messages .day")).to_have_text([re.compile(f"^{weekday}, ")])

    much_later = as_user(alice_id, before_load=days_later(10))
    month = much_later.evaluate("(iso) => new Date(iso).toLocaleDateString([], { month: 'short' })", sent_at)
    day = much_later.evaluate("(iso) => String(new Date(iso).getDate())", sent_at)
    expect(much_later.locator(".chat-item .time")).to_contain_text(month)
    expect(much_later.locator(".chat-item .time")).to_contain_text(day)
    expect(much_later.locator(".chat-item .time")).to_have_attribute("datetime", sent_at)


def forget_chats_after_reconnect(page: Page, state: dict[str, bool]) -> None:
    """Stand between the page and the stack: once ``forgotten`` is set, the next connections
    meet a server that has lost every chat (a local stack started on an empty database)."""

    def route(page_side: WebSocketRoute) -> None:
        server = page_side.connect_to_server()
        forgotten = state["forgotten"]

        def from_page(message: str | bytes) -> None:
            request = json.loads(message)
            if forgotten and request.get("chat_id"):
                reply = {
                    "event": "error",
                    "req": request.get("req"),
                    "code": "not_found",
                    "message": "no such chat",
                }
                page_side.send(json.dumps(reply))
                return
            server.send(message)

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if forgotten and frame.get("event") == "chat:list":
                message = json.dumps({**frame, "chats": [], "next_cursor": None})
            page_side.send(message)

        server.on_message(from_server)
        page_side.on_message(from_page)

    page.route_web_socket(re.compile(r"/ws\?"), route)


def test_chats_the_server_no_longer_has_are_dropped_with_their_unsent_messages(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    server = {"forgotten": False}
    alice = as_user(alice_id, before_load=lambda page: forget_chats_after_reconnect(page, server))
    create_chat(alice, bob_id, "Vanishing")
    send(alice, "before")
    expect(last_tick(alice)).to_have_attribute("data-status", "sent")
    go_away(alice)
    send(alice, "never stored")
    expect(last_tick(alice)).to_have_attribute("data-status", "pending")

    server["forgotten"] = True
    come_back(alice)

    expect(alice.locator(".chat-item")).to_have_count(0)
    expect(alice.locator("#conv-notice")).to_have_text("Vanishing no longer exists on the server")
    expect(alice.locator("#messages .msg")).to_have_count(0)
    assert outbox(alice, alice_id) == []


def test_phone_list_view_shows_errors_and_the_tab_title_counts_a_hidden_open_chat(as_user, screenshot):
    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    alice, bob = as_user(alice_id), as_user(bob_id, viewport=PHONE)
    create_chat(alice, f"{bob_id}, {carol_id}", "Club")
    expect(chat_item(bob, "Club")).to_have_count(1)  # bob on his list view
    open_members(alice)
    accept_next_dialog(alice)
    member(alice, bob_id).locator(".remove").click()

    expect(chat_item(bob, "Club")).to_have_count(0)
    expect(bob.locator("#list-notice")).to_be_visible()
    expect(bob.locator("#list-notice")).to_have_text("You were removed from Club")
    screenshot(bob, "390x844-notice")

    create_chat(alice, bob_id, "Hidden tab")
    open_chat(bob, "Hidden tab")
    bob.evaluate(VISIBILITY_PROBE)
    bob.evaluate("window.__hide()")
    send(alice, "while hidden")
    expect(bob).to_have_title("(1) Chat")


def refuse_first(action: str, code: str, message: str, **more: object) -> Callable[[Page], None]:
    """A ``before_load`` for ``as_user`` that stands between the page and the stack: the first
    ``action`` the page sends is answered with this error and never reaches the server."""

    def before_load(page: Page) -> None:
        refused: list[str] = []

        def route(page_side: WebSocketRoute) -> None:
            server = page_side.connect_to_server()

            def from_page(frame_text: str | bytes) -> None:
                frame = json.loads(frame_text)
                if not refused and frame.get("action") == action:
                    refused.append(action)
                    error = {"event": "error", "req": frame.get("req"), "code": code, "message": message}
                    page_side.send(json.dumps({**error, **more}))
                    return
                server.send(frame_text)

            server.on_message(page_side.send)
            page_side.on_message(from_page)

        page.route_web_socket(re.compile(r"/ws\?"), route)

    return before_load


# As the server answers a connection past its limit.
refuse_first_send_as_rate_limited = refuse_first(
    "message.send", "rate_limited", "too many actions on this connection", retry_after_ms=400
)
# As the server answers a connection it has no record of (expired, or $connect not completed).
refuse_first_open_as_unregistered = refuse_first(
    "chat.open", "forbidden", "this connection is not registered; reconnect"
)


def test_a_send_refused_as_rate_limited_goes_again_after_retry_after_ms(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id, before_load=refuse_first_send_as_rate_limited), as_user(bob_id)
    create_chat(alice, bob_id, "Slow down")
    open_chat(bob, "Slow down")

    send(alice, "patience")

    expect(alice.locator("#messages .msg:not(.pending) .text")).to_have_text(["patience"], timeout=10_000)
    expect(bob.locator("#messages .msg .text")).to_have_text(["patience"])
    expect(last_tick(alice)).to_have_attribute("data-status", re.compile("^(delivered|read)$"))
    assert outbox(alice, alice_id) == []


def test_a_connection_the_server_forgot_is_replaced_and_no_chat_is_dropped(as_user):
    alice_id, bob_id = unique("alice"), unique("bob")
    bob = as_user(bob_id)
    create_chat(bob, alice_id, "Still here")
    send(bob, "hello")
    alice = as_user(alice_id, before_load=refuse_first_open_as_unregistered)

    open_chat(alice, "Still here")

    expect(alice.locator("#messages .msg .text")).to_have_text(["hello"], timeout=15_000)
    expect(chat_item(alice, "Still here")).to_have_count(1)
    expect(alice.locator("#conv-notice")).to_be_hidden()  # not "You were removed"
    send(alice, "still a member")
    expect(bob.locator("#messages .msg .text")).to_have_text(["hello", "still a member"])
