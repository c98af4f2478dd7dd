"""Browser tier: Debian's Chromium driven by Playwright against the local stack.

The stack runs as a subprocess (``python -m chatlocal``, as ``make run`` starts it) on a free
port. Without Chromium the tests skip with the reason, except under CI (CI=true), where a
missing browser is a failure: ``make test`` installs it first (``make browser``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.client.push_env import local_push_env
from tests.stack import ONE_PROCESS, ROOT, LocalStack

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


# Package scope (this tier), not session: Playwright's sync API keeps an event loop running in
# this thread while it is open, and later tiers call asyncio.run(). One stack and one browser
# serve every browser test; user ids are unique per test, so tests share nothing else.
@pytest.fixture(scope="package")
def local_stack():
    # local_push_env: the stack takes the web page's Web Push registration (see test_notifications)
    # the one-process mode: these tests are of the web page (tests/stack.py)
    with LocalStack(CHAT_JWT_SECRET="e2e-secret-" * 4, **local_push_env(), **ONE_PROCESS) as stack:
        yield stack


@pytest.fixture(scope="package")
def stack_url(local_stack):
    return local_stack.url


@pytest.fixture(scope="package")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser`")
        pytest.skip(f"Chromium not found at {CHROMIUM} (make browser installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def as_user(browser, stack_url):
    """Open the web chat logged in as a user, in a browser context of its own."""
    contexts = []

    def open_page(user: str, before_load=None, viewport=(1100, 700), touch=False):
        # touch: a phone's browser (touch events, no hover, the mobile viewport)
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, has_touch=touch, is_mobile=touch
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        if before_load:  # for example, routes that stand between the page and the stack
            before_load(page)
        page.goto(f"{stack_url}/?user={user}")
        page.locator('#conn-status[data-state="online"]').wait_for()
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot(request):
    def take(page, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
