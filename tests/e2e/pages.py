"""What a person does in the web chat, as Playwright steps shared by the browser tests."""

from __future__ import annotations

import itertools

from playwright.sync_api import Locator, Page, expect

_n = itertools.count(1)


def unique(name: str) -> str:
    """A user id no other test (or earlier run against the same stack) has used."""
    return f"{name}{next(_n)}x{id(_n) % 10000}"


def open_new_chat_form(page: Page) -> None:
    """The new-chat forms sit behind the "New chat" button."""
    if page.locator("#new-chat-panel").is_hidden():
        page.click("#new-chat-btn")
    expect(page.locator("#new-chat-panel")).to_be_visible()


def create_chat(page: Page, members: str, title: str) -> None:
    open_new_chat_form(page)
    page.fill("#new-members", members)
    page.fill("#new-title", title)
    page.click("#create-btn")
    expect(page.locator("#new-chat-panel")).to_be_hidden()  # the server made it
    expect(page.locator("#conv-title")).to_have_text(title)


def message_person(page: Page, user: str) -> None:
    open_new_chat_form(page)
    page.fill("#direct-user", user)
    page.click("#direct-btn")
    expect(page.locator("#new-chat-panel")).to_be_hidden()  # the server answered
    expect(page.locator("#conv-title")).to_have_text(user)


def open_chat(page: Page, title: str) -> None:
    """Clicks the chat in the list until it is the open one: the list reorders when a message
    or an ack lands, and a click aimed at a row can then land on the row that moved there."""
    conv_title = page.locator("#conv-title")
    for _ in range(4):
        chat_item(page, title).click()
        try:
            expect(conv_title).to_have_text(title, timeout=2_000)
            return
        except AssertionError:
            continue
    expect(conv_title).to_have_text(title)


def chat_item(page: Page, title: str) -> Locator:
    return page.locator(".chat-item", has=page.locator(".title", has_text=title))


def send(page: Page, text: str) -> None:
    page.fill("#composer-input", text)
    page.click("#send-btn")


def badge(page: Page, title: str) -> Locator:
    return chat_item(page, title).locator(".badge")


def last_tick(page: Page) -> Locator:
    return page.locator("#messages .msg.mine .tick").last


def notices(page: Page) -> Locator:
    """System messages in the open conversation's timeline."""
    return page.locator("#messages .system")


def open_members(page: Page) -> Locator:
    page.click("#members-btn")
    panel = page.locator("#members-panel")
    expect(panel).to_be_visible()
    return panel


def member(page: Page, user: str) -> Locator:
    return page.locator(f'#member-list .member[data-user="{user}"]')


def accept_next_dialog(page: Page) -> None:
    page.once("dialog", lambda dialog: dialog.accept())


def go_away(page: Page) -> None:
    """Cut the page off: its socket closes and it cannot get a token to reconnect."""
    page.route("**/dev/token*", lambda route: route.abort())
    page.evaluate("window.chat.conn.ws && window.chat.conn.ws.close()")
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "offline")


def come_back(page: Page) -> None:
    """Let the page reconnect (on its own backoff) and wait until it is online again."""
    page.unroute("**/dev/token*")
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "online", timeout=20_000)


# -- notifications ---------------------------------------------------------------------------------

# Before the page's own scripts: the tab's visibility under the test's control (headless pages
# are always "visible"), and every Notification the page constructs recorded (still shown for
# real) in window.__notifications; window.focus() calls are counted.
NOTIFICATION_PROBE = """
(() => {
  let visibility = "visible";
  const define = (name, get) => Object.defineProperty(Document.prototype, name, { get, configurable: true });
  define("visibilityState", () => visibility);
  define("hidden", () => visibility === "hidden");
  window.__setVisibility = (value) => {
    visibility = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };
  window.__focused = 0;
  const focus = window.focus.bind(window);
  window.focus = () => { window.__focused += 1; focus(); };
  const Real = window.Notification;
  window.__notifications = [];
  class Recorded extends Real {
    constructor(title, options = {}) {
      super(title, options);
      window.__notifications.push({ title, body: options.body, tag: options.tag, data: options.data });
      window.__lastNotification = this;
    }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorded;
})();
"""


def watch_notifications(stack_url: str, allowed: bool = True):  # type: ignore[no-untyped-def]
    """A ``before_load`` for ``as_user``: the probe above, and the permission granted (or not)."""

    def before_load(page: Page) -> None:
        if allowed:
            page.context.grant_permissions(["notifications"], origin=stack_url)
        page.add_init_script(NOTIFICATION_PROBE)

    return before_load


def hide(page: Page) -> None:
    page.evaluate("window.__setVisibility('hidden')")


def show(page: Page) -> None:
    page.evaluate("window.__setVisibility('visible')")


def notifications(page: Page) -> list[dict[str, object]]:
    """What the page showed with ``new Notification``, oldest first."""
    shown: list[dict[str, object]] = page.evaluate("window.__notifications")
    return shown


def wait_for_notifications(page: Page, count: int) -> list[dict[str, object]]:
    page.wait_for_function(f"window.__notifications.length >= {count}")
    return notifications(page)


def chat_id_of(page: Page, title: str) -> str:
    chat_id = chat_item(page, title).get_attribute("data-chat-id")
    assert chat_id, f"no chat {title!r} listed"
    return chat_id


# -- messages that live (issue 22): menus, long presses, chips ------------------------------------

PHONE = {"viewport": (390, 844), "touch": True}
DESKTOP = {"viewport": (1280, 800), "touch": False}
DEVICES = {"phone": PHONE, "desktop": DESKTOP}


def is_touch(page: Page) -> bool:
    touch: bool = page.evaluate("matchMedia('(hover: none)').matches && navigator.maxTouchPoints > 0")
    return touch


def bubble(page: Page, text: str) -> Locator:
    """The bubble of the message whose text contains ``text``."""
    return page.locator("#messages .msg", has=page.locator(":scope > .text", has_text=text))


def long_press(page: Page, target: Locator, until: Locator) -> None:
    """Hold a finger on ``target`` until ``until`` shows (a condition, not a duration), then lift it."""
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    assert box, "nothing to press"
    x, y = box["x"] + min(box["width"] / 2, 40), box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    try:
        expect(until).to_be_visible()
    finally:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        cdp.detach()


def message_menu(page: Page, target: Locator) -> Locator:
    """Open a message's menu: a long press on a phone, the hover button on a desktop."""
    menu = page.locator("#msg-menu")
    if is_touch(page):
        long_press(page, target.locator(":scope > .text"), until=menu)  # not on a chip or a quote
    else:
        target.hover()
        target.locator(".msg-menu-btn").click()
        expect(menu).to_be_visible()
    return menu


def menu_choices(page: Page, target: Locator) -> list[str]:
    """What a message's menu offers (then closed again)."""
    menu = message_menu(page, target)
    choices: list[str] = menu.locator("[role=menuitem]").all_inner_texts()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    return choices


def menu_offers(page: Page, target: Locator, expected: list[str], attempts: int = 5) -> list[str]:
    """What a message's menu offers, asked again (up to ``attempts`` times) until it is
    ``expected``: a long press lands where the message was when it began, and a bubble that
    arrives or re-renders meanwhile can move another message under the finger (it failed a CI
    run once on the phone, offering the other member's message's choices)."""
    choices = menu_choices(page, target)
    for _ in range(attempts - 1):
        if choices == expected:
            break
        choices = menu_choices(page, target)
    return choices


def choose(page: Page, target: Locator, action: str) -> None:
    """Reply, React, Edit or Delete from a message's menu."""
    tap(page, message_menu(page, target).get_by_role("menuitem", name=action))


def tap(page: Page, target: Locator) -> None:
    if is_touch(page):
        target.tap()
    else:
        target.click()


def chip(page: Page, target: Locator, emoji: str) -> Locator:
    return target.locator(f'.chip[data-emoji="{emoji}"]')


def react(page: Page, target: Locator, emoji: str) -> None:
    choose(page, target, "React")
    tap(page, page.locator(f'#emoji-picker [data-emoji="{emoji}"]'))


def switch_chat(page: Page, title: str) -> None:
    """Open another chat: on a phone, back to the list first."""
    if page.locator("#back-btn").is_visible():
        page.click("#back-btn")
    open_chat(page, title)


def new_group(stack_url: str, owner: str, members: list[str], title: str) -> str:
    """A group made over the owner's own socket (the pages hear of it as chat:added): its id."""
    from tests.e2e.wire import WireUser

    with WireUser(stack_url, owner) as wire:
        chat_id: str = wire.request("chat.create", members=members, title=title)["chat"]["chat_id"]
    return chat_id
