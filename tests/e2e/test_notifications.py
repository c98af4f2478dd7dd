"""Push in the web chat: browser notifications while the tab is hidden, muting (the level Off), the
Web Push subscription, and the service worker (web/sw.js).

The page's tab visibility and the notifications it shows are observed through an init script
(pages.NOTIFICATION_PROBE); a Web Push message reaches the service worker as a real push event
through the DevTools protocol (ServiceWorker.deliverPushMessage). Headless Chromium has no push
service (its contexts are incognito), so the subscription itself is stubbed where a test needs
one, and the page's registration of it with the stack is real.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from playwright.sync_api import BrowserContext, Page, Worker, expect

from tests.e2e.pages import (
    badge,
    chat_id_of,
    chat_item,
    create_chat,
    hide,
    last_tick,
    notifications,
    open_chat,
    send,
    show,
    unique,
    wait_for_notifications,
    watch_notifications,
)
from tests.e2e.wire import WireUser

VAPID_PUBLIC_KEY = base64.urlsafe_b64encode(bytes([4]) + bytes(range(1, 65))).decode().rstrip("=")

# The browser's PushManager, stubbed: no push service in headless Chromium. The subscription has
# an endpoint on 127.0.0.1, which the local stack takes over http.
FAKE_PUSH_MANAGER = """
(() => {
  window.__subscribeCalls = [];
  const subscription = (endpoint) => ({
    endpoint,
    options: { applicationServerKey: null },
    toJSON: () => ({
      endpoint,
      expirationTime: null,
      keys: {
        p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
        auth: "tBHItJI5svbpez7KI4CCXg",
      },
    }),
    unsubscribe: async () => true,
  });
  PushManager.prototype.getSubscription = async function () { return null; };
  PushManager.prototype.subscribe = async function (options) {
    window.__subscribeCalls.push({
      userVisibleOnly: options.userVisibleOnly,
      key: Array.from(new Uint8Array(options.applicationServerKey)),
    });
    return subscription(`http://127.0.0.1:9/push/${new URLSearchParams(location.search).get("user")}`);
  };
})();
"""


def test_hidden_tab_notifies_and_the_click_opens_the_chat(as_user, stack_url, screenshot):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id), as_user(bob_id, watch_notifications(stack_url))
    create_chat(alice, bob_id, "Ping")
    # headless Chromium has no push service: notifications only while the page is open, and it says so
    expect(bob.locator("#notify-state")).to_contain_text("they show only while this page is open")
    expect(bob.locator("#notify-btn")).to_be_hidden()  # nothing to ask: already allowed

    send(alice, "while you look")
    expect(badge(bob, "Ping")).to_have_text("1")  # visible tab: the list shows it, no notification
    hide(bob)
    send(alice, "while you are away")
    chat_id = chat_id_of(bob, "Ping")

    shown = wait_for_notifications(bob, 1)
    assert shown == [
        {
            "title": "Ping",
            "body": f"{alice_id}: while you are away",
            "tag": chat_id,
            "data": {"chat_id": chat_id, "seq": 2},
        }
    ]
    bob.evaluate("window.__lastNotification.dispatchEvent(new Event('click'))")
    expect(bob.locator("#conv-title")).to_have_text("Ping")
    expect(bob.locator("#messages .msg .text")).to_have_text(["while you look", "while you are away"])
    assert bob.evaluate("window.__focused") >= 1

    # The chat is open but the tab is hidden: notified, and not read until the tab is shown.
    long_text = "are you there? " + "x" * 150
    send(alice, long_text)
    body = wait_for_notifications(bob, 2)[1]["body"]
    assert body == f"{alice_id}: {long_text}"[:119] + "…"  # cut as the server cuts a push's body
    expect(last_tick(alice)).to_have_attribute("data-status", "delivered")
    show(bob)
    expect(last_tick(alice)).to_have_attribute("data-status", "read")
    send(alice, "welcome back")
    expect(bob.locator("#messages .msg .text").last).to_have_text("welcome back")
    bob.wait_for_timeout(300)  # a notification for it would have been constructed by now
    assert len(notifications(bob)) == 2
    screenshot(bob, "opened-from-notification")


def test_a_muted_chat_does_not_notify_and_stays_muted_after_reload(as_user, stack_url, screenshot):
    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    alice, bob = as_user(alice_id), as_user(bob_id, watch_notifications(stack_url))
    create_chat(alice, bob_id, "Quiet")
    create_chat(alice, bob_id, "Loud")
    open_chat(bob, "Quiet")
    level = bob.locator("#notify-level")  # the chat's notification level: Off is muted
    expect(level).to_have_value("all")
    level.select_option(label="Never (muted)")
    muted_icon = chat_item(bob, "Quiet").get_by_role("img", name="Muted")
    expect(muted_icon).to_be_visible()
    expect(chat_item(bob, "Loud").get_by_role("img", name="Muted")).to_have_count(0)
    create_chat(bob, carol_id, "Elsewhere")  # bob views neither: both arrive in the background

    hide(bob)
    open_chat(alice, "Quiet")
    send(alice, "shh")
    open_chat(alice, "Loud")
    send(alice, "HEY")
    expect(badge(bob, "Quiet")).to_have_text("1")  # the muted chat's message did arrive
    expect(badge(bob, "Loud")).to_have_text("1")
    shown = wait_for_notifications(bob, 1)
    bob.wait_for_timeout(300)
    assert [(n["title"], n["body"]) for n in notifications(bob)] == [("Loud", f"{alice_id}: HEY")], shown

    show(bob)
    bob.reload()
    expect(bob.locator("#conn-status")).to_have_attribute("data-state", "online")
    expect(chat_item(bob, "Quiet").get_by_role("img", name="Muted")).to_be_visible()  # from the server
    open_chat(bob, "Quiet")
    expect(level).to_have_value("none")
    expect(bob.locator("#messages .msg .text")).to_have_text(["shh"])
    screenshot(bob, "muted")
    with WireUser(stack_url, bob_id) as wire:
        listed = {c["chat_id"]: c["muted"] for c in wire.request("chat.list")["chats"]}
    assert listed[chat_id_of(bob, "Quiet")] is True and listed[chat_id_of(bob, "Loud")] is False

    level.select_option(label="Every message")
    expect(muted_icon).to_have_count(0)
    bob.reload()
    expect(bob.locator("#conn-status")).to_have_attribute("data-state", "online")
    expect(chat_item(bob, "Quiet")).to_be_visible()
    expect(chat_item(bob, "Quiet").get_by_role("img", name="Muted")).to_have_count(0)


# The browser's permission prompt, answered "Allow": asking grants the permission (and counts).
USER_ALLOWS = """
(() => {
  const ask = Notification.requestPermission;
  window.__permissionAsked = 0;
  Notification.requestPermission = async () => {
    window.__permissionAsked += 1;
    await window.__userAllows();
    return ask();
  };
})();
"""


def test_enable_notifications_asks_on_click_and_registers_the_browser_for_web_push(
    as_user, stack_url, screenshot
):
    bob_id = unique("bob")
    logged: list[str] = []

    def before_load(page: Page) -> None:
        watch_notifications(stack_url, allowed=False)(page)

        def allow(source: object) -> None:
            page.context.grant_permissions(["notifications"], origin=stack_url)

        page.expose_binding("__userAllows", allow)
        page.add_init_script(USER_ALLOWS)
        page.add_init_script(FAKE_PUSH_MANAGER)
        page.route("**/dev/vapid", lambda route: route.fulfill(json={"public_key": VAPID_PUBLIC_KEY}))
        page.on("console", lambda message: logged.append(message.text))

    bob = as_user(bob_id, before_load)
    expect(bob.locator("#notify-btn")).to_have_text("Enable notifications")
    expect(bob.locator("#notify-state")).to_have_text("Notifications off")
    bob.wait_for_timeout(300)
    assert bob.evaluate("[window.__permissionAsked, window.chat.webPush]") == [0, "not tried"]  # not unasked
    screenshot(bob, "enable")

    bob.click("#notify-btn")
    expect(bob.locator("#notify-state")).to_have_text("Notifications on")
    expect(bob.locator("#notify-btn")).to_be_hidden()
    bob.wait_for_function("window.chat.webPush === 'registered'")
    assert bob.evaluate("window.__permissionAsked") == 1

    calls = bob.evaluate("window.__subscribeCalls")
    assert calls == [{"userVisibleOnly": True, "key": [4, *range(1, 65)]}]
    with WireUser(stack_url, bob_id) as wire:
        devices = wire.request("device.list")["devices"]
        assert [(d["platform"], d["preview"]) for d in devices] == [("webpush", True)]
        registered = [line for line in logged if line.startswith("Web Push: subscribed")]
        assert registered == [f"Web Push: subscribed; registered as device {devices[0]['device_id']}"]
        wire.request("device.unregister", device_id=devices[0]["device_id"])


def test_without_a_vapid_key_the_page_says_so_and_does_not_subscribe(as_user, stack_url):
    bob_id = unique("bob")
    logged: list[str] = []

    def before_load(page: Page) -> None:
        watch_notifications(stack_url)(page)
        page.add_init_script(FAKE_PUSH_MANAGER)
        page.route("**/dev/vapid", lambda route: route.fulfill(status=404, body="not here"))
        page.on("console", lambda message: logged.append(message.text))

    bob = as_user(bob_id, before_load)
    bob.wait_for_function("window.chat.webPush !== 'not tried' && window.chat.webPush !== 'trying'")
    assert bob.evaluate("window.chat.webPush").startswith("no VAPID public key from the server")
    assert (
        "Web Push: no VAPID public key from the server (GET /dev/vapid answered 404): not subscribing; "
        "notifications show only while this page is open"
    ) in logged
    assert bob.evaluate("window.__subscribeCalls") == []
    with WireUser(stack_url, bob_id) as wire:
        assert wire.request("device.list")["devices"] == []


def service_worker(context: BrowserContext) -> Worker:
    workers = [w for w in context.service_workers if w.url.endswith("/static/sw.js")]
    return workers[0] if workers else context.wait_for_event("serviceworker")


def deliver_push(page: Page, stack_url: str, data: str) -> None:
    """A real push event for the page's service worker, as the browser's push service delivers it."""
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    page.wait_for_function(
        "navigator.serviceWorker.getRegistration('/static/').then(r => Boolean(r && r.active))"
    )
    while not registrations:
        page.wait_for_timeout(50)
    [registration] = [r for r in registrations if r["scopeURL"].endswith("/static/") and not r["isDeleted"]]
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": stack_url, "registrationId": registration["registrationId"], "data": data},
    )
    cdp.detach()


def worker_notifications(page: Page, count: int) -> list[dict[str, Any]]:
    script = """async (count) => {
        const registration = await navigator.serviceWorker.getRegistration('/static/');
        for (let i = 0; i < 100; i++) {
            const shown = await registration.getNotifications();
            if (shown.length >= count) {
                return shown.map((n) => ({title: n.title, body: n.body, tag: n.tag, data: n.data}));
            }
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return [];
    }"""
    shown: list[dict[str, Any]] = page.evaluate(script, count)
    return shown


def test_service_worker_shows_web_push_and_its_click_opens_the_chat(as_user, stack_url, screenshot):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id), as_user(bob_id, watch_notifications(stack_url))
    create_chat(alice, bob_id, "Pushed")
    send(alice, "first")
    expect(badge(bob, "Pushed")).to_have_text("1")
    chat_id = chat_id_of(bob, "Pushed")
    message_id = bob.evaluate(f"window.chat.state.chats.get({json.dumps(chat_id)}).last_message.message_id")
    payload = {  # what the server pushes for alice's message, decrypted by the browser
        "chat_id": chat_id,
        "seq": 1,
        "message_id": message_id,
        "title": "Pushed",
        "body": f"{alice_id}: first",
        "badge": 1,
        "collapse_key": chat_id,
        "sender_id": alice_id,
    }
    deliver_push(bob, stack_url, json.dumps(payload))
    assert worker_notifications(bob, 1) == [
        {"title": "Pushed", "body": f"{alice_id}: first", "tag": chat_id, "data": payload}
    ]

    newer = {
        **payload,
        "seq": 2,
        "message_id": "m_2",
        "body": f"{alice_id}: second",
        "badge": 2,
    }
    deliver_push(bob, stack_url, json.dumps(newer))
    bob.wait_for_timeout(300)
    assert [n["data"]["seq"] for n in worker_notifications(bob, 1)] == [2]  # the same chat: replaced

    deliver_push(bob, stack_url, "not JSON")  # still shown (userVisibleOnly), as a plain notice
    assert ("New message", "chat") in [(n["title"], n["tag"]) for n in worker_notifications(bob, 2)]

    # notificationclick: the open page is told which chat to show.
    service_worker(bob.context).evaluate(f"openChatWindow({{chat_id: {json.dumps(chat_id)}}})")
    expect(bob.locator("#conv-title")).to_have_text("Pushed")

    # With no page open, the click opens /?chat=ID, which logs in as the last user and shows it.
    bob.close()
    again = bob.context.new_page()
    again.goto(f"{stack_url}/?chat={chat_id}")
    expect(again.locator("#me")).to_have_text(bob_id)
    expect(again.locator("#conv-title")).to_have_text("Pushed")
    expect(again.locator("#messages .msg .text")).to_have_text(["first"])
    screenshot(again, "opened-from-web-push")
