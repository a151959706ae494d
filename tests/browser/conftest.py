"""Playwright (sync API) driving Debian's headless Chromium against pytest-django's live server.

Browser tests use `transactional_db` so the rows a test creates are committed and visible to the live
server's thread. The Chromium binary is the system one; `playwright install` is never needed."""

import os
from pathlib import Path

import pytest

from accounts.models import Role
from tests.factories import MembershipFactory, MerchantFactory, UserFactory

CHROMIUM = Path(os.environ.get("STORYFRONT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "pw-Storyfront-1"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="package")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium).")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Browser tests need the playwright package.")
    # Playwright's sync API keeps an asyncio loop on the main thread while it is started, which makes Django
    # refuse ORM calls from test code. Allow them only while the browser runs, then restore the guard.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        # The machines that run this are shared and slow at times; wait up to 10 s for the page to catch up.
        sync_api.expect.set_options(timeout=10_000)
        with sync_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser, live_server):
    """Opens pages in fresh browser contexts (own cookies) at a given viewport; all closed after the test."""
    contexts = []

    def make(viewport=DESKTOP, **options):
        context = browser.new_context(base_url=live_server.url, viewport=viewport, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def shop(transactional_db):
    """An owner of two merchants, so the switcher has something to switch to."""
    owner = UserFactory(username="owner@example.com", password=PASSWORD)
    northwind = MerchantFactory(name="Northwind Outfitters", slug="northwind")
    contoso = MerchantFactory(name="Contoso Goods", slug="contoso")
    MembershipFactory(user=owner, merchant=northwind, role=Role.OWNER)
    MembershipFactory(user=owner, merchant=contoso, role=Role.EDITOR)
    return {"owner": owner, "northwind": northwind, "contoso": contoso}


def log_in(page, username="owner@example.com", password=PASSWORD):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def switch_merchant(page, name):
    page.get_by_test_id("merchant-switcher").locator("summary").click()
    page.get_by_role("button", name=name).click()
    page.get_by_role("heading", level=1, name=name).wait_for()


def overflowing_js(excluded: str = ".table-wrap") -> str:
    """A page.evaluate() script listing up to 8 elements that stick out past the viewport's right edge (a page
    that scrolls sideways on a phone), ignoring those inside ``excluded`` (CSS selectors of parts meant to scroll)."""
    return (
        "() => [...document.querySelectorAll('body *')]\n"
        "  .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)\n"
        f"  .filter(el => !el.closest('{excluded}'))\n"
        "  .slice(0, 8)\n"
        "  .map(el => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} "
        "right=${Math.round(el.getBoundingClientRect().right)}`)"
    )
