"""``CHAT_AUTH=cognito make run``: people sign up and sign in on the web page with a user name and
a password (the local stack's Cognito, moto's cognito-idp), and chat: their user ids are the
pool's ``sub``s, verified by the same OpenID Connect path a deployed stage takes."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.pages import message_person, open_chat, send, unique
from tests.stack import ONE_PROCESS, LocalStack

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def cognito_url():
    with LocalStack(CHAT_JWT_SECRET="e2e-cognito-" * 4, CHAT_AUTH="cognito", **ONE_PROCESS) as stack:
        yield stack.url


@pytest.fixture
def new_page(browser, cognito_url):
    contexts = []

    def open_page() -> Page:
        context = browser.new_context(viewport={"width": 1100, "height": 700})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(cognito_url + "/")
        expect(page.locator("#signin-form")).to_be_visible()
        expect(page.locator("#login-form")).to_be_hidden()  # no dev tokens in this mode
        return page

    yield open_page
    for context in contexts:
        context.close()


def fill(page: Page, name: str, password: str = PASSWORD) -> None:
    page.fill("#signin-user", name)
    page.fill("#signin-password", password)


def online(page: Page, name: str) -> str:
    page.locator('#conn-status[data-state="online"]').wait_for()
    expect(page.locator("#me")).to_have_text(name)  # the display name: cognito:username
    return str(page.evaluate("window.chat.state.me"))  # the user id: the pool's sub


def test_sign_up_and_sign_in_on_the_page_then_chat(new_page, screenshot):
    alice_name, bob_name = unique("alice"), unique("bob")
    alice = new_page()
    fill(alice, alice_name)
    alice.click("#signup-btn")
    alice_id = online(alice, alice_name)

    bob = new_page()
    fill(bob, bob_name)
    bob.click("#signup-btn")
    online(bob, bob_name)
    bob.click("#logout-btn")  # and back in, with the password this time
    expect(bob.locator("#signin-form")).to_be_visible()
    fill(bob, bob_name, "not the password")
    bob.click("#signin-btn")
    expect(bob.locator("#signin-error")).to_be_visible()
    fill(bob, bob_name)
    bob.click("#signin-btn")
    bob_id = online(bob, bob_name)
    assert alice_id != bob_id and alice_id not in (alice_name, bob_name)

    message_person(alice, bob_id)
    send(alice, "signed in through Cognito")
    expect(bob.locator(".chat-item")).to_have_count(1)
    open_chat(bob, alice_id)
    expect(bob.locator("#messages .msg .text")).to_have_text(["signed in through Cognito"])
    send(bob, "me too")
    expect(alice.locator("#messages .msg .text")).to_have_text(["signed in through Cognito", "me too"])
    screenshot(alice, "alice")

    alice.reload()  # the kept session signs in again without the password
    assert online(alice, alice_name) == alice_id
