"""A stage with an OpenID Connect provider, in the browser: the page signs in with the
Authorization Code flow and PKCE against a test-run provider on 127.0.0.1 (discovery, authorize,
token endpoints; tests/oidc_provider.py), refreshes its short-lived tokens before they expire,
and after its first token has expired reconnects with a refreshed one without losing a message
written meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.pages import message_person, open_chat, send, unique
from tests.oidc_provider import OidcProvider
from tests.stack import ONE_PROCESS, LocalStack

LIFETIME = 6  # seconds: the page refreshes halfway through


@pytest.fixture(scope="module")
def provider():
    with OidcProvider(client_id="web", lifetime=LIFETIME) as running:
        yield running


@pytest.fixture(scope="module")
def oidc_stack(provider):
    env = {
        "CHAT_OIDC_ISSUER": provider.url,
        "CHAT_OIDC_AUDIENCE": "web",
        "CHAT_OIDC_JWKS_URL": provider.jwks_url,
    }
    with LocalStack(CHAT_JWT_SECRET="e2e-oidc-" * 5, **env, **ONE_PROCESS) as stack:
        yield stack


def wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        time.sleep(0.05)


def sign_in(browser, stack: LocalStack, provider: OidcProvider, user: str) -> Page:
    page = browser.new_context(viewport={"width": 1100, "height": 700}).new_page()
    page.set_default_timeout(15_000)
    page.goto(stack.url + "/")
    provider.next_user = user
    page.click("#oidc-signin")  # to the provider's /authorize, and back with a code
    page.locator('#conn-status[data-state="online"]').wait_for()
    expect(page.locator("#me")).to_have_text(user.title())  # the id token's name
    assert page.evaluate("window.chat.state.me") == user  # its sub
    assert "code=" not in page.url  # the code does not stay in the address bar
    return page


def test_pkce_sign_in_refresh_and_a_reconnect_with_the_new_token_keeps_the_outbox(
    browser, oidc_stack, provider
):
    assert oidc_stack.get_json("/config.json")["auth"] == "oidc"
    pat_id, quinn_id = unique("pat"), unique("quinn")
    pat = sign_in(browser, oidc_stack, provider, pat_id)
    quinn = sign_in(browser, oidc_stack, provider, quinn_id)
    message_person(pat, quinn_id)
    open_chat(quinn, pat_id)

    start = provider.refreshes
    wait_until(lambda: provider.refreshes >= start + 4)  # two each: both first tokens have expired
    (connection,) = [c["connectionId"] for c in oidc_stack.connections() if c["user"] == pat_id]
    oidc_stack.drop(connection)  # a lost network: the page reconnects with a token of its own
    send(pat, "written across the reconnect")

    expect(quinn.locator("#messages .msg .text")).to_have_text(["written across the reconnect"])
    pat.locator('#conn-status[data-state="online"]').wait_for()
    assert any(c["user"] == pat_id and c["connectionId"] != connection for c in oidc_stack.connections())
    for page in (pat, quinn):
        page.context.close()
