"""Screenshots of the main pages on a desktop and a 390 px phone, for a person to look at, plus the checks a
screenshot cannot make by eye: no sideways scrolling on the phone and no request leaving the site."""

import json
import os
from pathlib import Path

import pytest

from accounts.models import Role
from accounts.services import Actor, api_key_create
from catalog.demo_catalog import demo_catalog_rows
from catalog.models import Product
from catalog.services import product_import
from tests.browser.conftest import DESKTOP, PHONE, log_in, overflowing_js
from tests.factories import MembershipFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.browser

SHOTS_DIR = Path(os.environ.get("STORYFRONT_SHOTS_DIR", "/tmp/storyfront-shots"))
BAD_CSV = (
    b"sku,title,brand,category,price,currency,colour\n"
    b"DEMO-NEW-1,Alpine day pack 22 l,Fjellsti,Bags,89.00,USD,green\n"
    b"DEMO-NEW-2,Trail gaiters,Fjellsti,Outdoor apparel,-5,USD,black\n"
    b",Mystery item,,Bags,12.00,USD,\n"
)


@pytest.fixture
def demo(transactional_db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    owner = UserFactory(username="demo@storyfront.local", password="pw-Storyfront-1")
    merchant = MerchantFactory(name="Storyfront Demo Outfitters", slug="demo")
    empty = MerchantFactory(name="Empty Shop", slug="empty")
    MembershipFactory(user=owner, merchant=merchant, role=Role.OWNER)
    MembershipFactory(user=owner, merchant=empty, role=Role.OWNER)
    MembershipFactory(
        user=UserFactory(username="editor@storyfront.local"), merchant=merchant, role=Role.EDITOR
    )
    actor = Actor.for_user(owner)
    product_import(
        merchant=merchant,
        actor=actor,
        data=json.dumps(demo_catalog_rows()).encode(),
        filename="demo-catalog.json",
    )
    report = product_import(
        merchant=merchant, actor=actor, data=BAD_CSV, filename="new-season.csv", dry_run=True
    )
    api_key_create(merchant=merchant, name="Storefront sync", scopes=["read", "write"], actor=actor)
    product = Product.objects.filter(merchant=merchant).exclude(attributes={}).first()
    return {"merchant": merchant, "empty": empty, "import": report, "product": product}


# Lists the elements that stick out past the right edge, so a failure says what to fix.
_OVERFLOWING_JS = overflowing_js(".table-wrap, details:not([open]) > :not(summary)")


def _switch_to(page, name):
    switcher = page.get_by_test_id("merchant-switcher")
    if name not in switcher.locator("summary").inner_text():
        switcher.locator("summary").click()
        page.get_by_role("button", name=name).click()
        page.wait_for_load_state()


def test_main_pages_screenshots(new_page, demo, live_server):
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    pages = [
        ("overview", "/"),
        ("products", "/catalog/"),
        ("products-search", "/catalog/?q=bottle"),
        ("product", f"/catalog/products/{demo['product'].id}/"),
        ("import", "/catalog/import/"),
        ("import-report", f"/catalog/imports/{demo['import'].id}/"),
        ("import-history", "/catalog/imports/"),
        ("settings", "/settings/"),
        ("webhooks", "/campaigns/webhooks/"),
        ("campaigns", "/campaigns/"),
        ("not-found", "/catalog/products/999999/"),
    ]
    for device, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = new_page(viewport)
        outside = []
        page.on(
            "request",
            lambda r, seen=outside: seen.append(r.url) if not r.url.startswith(live_server.url) else None,
        )
        page.goto("/accounts/login/")
        page.screenshot(path=SHOTS_DIR / f"{device}-login.png", full_page=True)
        log_in(page, "demo@storyfront.local")
        _switch_to(page, "Storyfront Demo Outfitters")
        for name, url in pages:
            page.goto(url)
            page.screenshot(path=SHOTS_DIR / f"{device}-{name}.png", full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], (
                f"{device} {name}: page is {width}px wide: {page.evaluate(_OVERFLOWING_JS)}"
            )
        page.goto("/settings/")
        page.get_by_label("Name").fill("ERP nightly sync")
        page.get_by_label("Write").check()
        page.get_by_role("button", name="Create key").click()
        page.get_by_test_id("new-key").wait_for()
        page.screenshot(path=SHOTS_DIR / f"{device}-settings-new-key.png", full_page=True)
        if device == "phone":
            page.goto("/")
            page.get_by_role("button", name="Menu").click()
            page.screenshot(path=SHOTS_DIR / "phone-nav-open.png")
            page.get_by_role("button", name="Menu").click()
            page.get_by_test_id("merchant-switcher").locator("summary").click()
            page.screenshot(path=SHOTS_DIR / "phone-switcher-open.png")
            page.keyboard.press("Escape")
        _switch_to(page, "Empty Shop")
        page.goto("/")
        page.screenshot(path=SHOTS_DIR / f"{device}-overview-empty.png", full_page=True)
        assert outside == [], f"requests left the site: {outside}"
