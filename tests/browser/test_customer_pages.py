"""The customer pages in a real browser, on a desktop and a 390 px phone: the list searches as you type (htmx)
and filters by segment, a customer opens from it, their page shows RFM, the affinity bar charts, nearest
products and a timeline that loads older events in place; the Overview's events chart shows. No page scrolls
sideways on the phone, charts are visible and inside the viewport, and the Content-Security-Policy refuses
nothing. Screenshots land in /tmp/storyfront-shots/customers-*.png."""

import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from tests.browser.conftest import DESKTOP, PHONE, log_in, overflowing_js, switch_merchant
from tests.factories import CustomerFactory, EventFactory, ProductFactory
from tests.profiles.pages_helpers import embed, make_profile, make_segment

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="Browser tests need the playwright package."
).expect

SHOTS_DIR = Path(os.environ.get("STORYFRONT_SHOTS_DIR", "/tmp/storyfront-shots"))
_OVERFLOWING_JS = overflowing_js(".table-wrap, .status-tabs, .code-block")


def _fits(page, viewport, name):
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS_DIR / f"customers-{name}.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"{name}: page is {width}px wide: {page.evaluate(_OVERFLOWING_JS)}"


def _chart_fits(locator, viewport):
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box["width"] > 100 and box["height"] > 20, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 0.5, box


@pytest.fixture
def customers(shop):
    northwind = shop["northwind"]
    now = timezone.now()
    shirt = ProductFactory(merchant=northwind, title="Oxford shirt", sku="OX-1")
    boots = ProductFactory(merchant=northwind, title="Trail boots", sku="TB-1")
    embed(shirt, [1.0, 0.2, 0.0])
    embed(boots, [0.1, 1.0, 0.0])
    ada = CustomerFactory(
        merchant=northwind,
        external_id="C-1001",
        name="Ada Lovelace",
        email="ada@example.com",
        consent_marketing=True,
        first_seen_at=now - timedelta(days=120),
        last_seen_at=now - timedelta(hours=3),
        attributes={"tier": "gold"},
    )
    make_profile(
        ada,
        r_score=5,
        f_score=4,
        m_score=4,
        rfm_segment="champions",
        lifetime_value=Decimal("1280.40"),
        churn_risk=0.12,
        next_purchase_from=now + timedelta(days=4),
        next_purchase_to=now + timedelta(days=18),
        affinities={
            "category": {"Shirts with an unusually long category name for a phone": 0.55, "Footwear": 0.45},
            "brand": {"Northwind": 0.8, "Acme": 0.2},
            "colour": {"blue": 0.7, "white": 0.3},
            "price_band": {"25-50": 0.6, "50-100": 0.4},
        },
        interest_vector=[1.0, 0.3, 0.0],
        explanation={"churn": {"summary": "Low risk (12%) of no order in the next 90 days."}},
    )
    for i in range(40):
        EventFactory(
            customer=ada,
            type="view" if i % 4 else "purchase",
            product=shirt if i % 2 else boots,
            value=Decimal("49.90") if i % 4 == 0 else None,
            currency="EUR" if i % 4 == 0 else "",
            order_id=f"A-{9000 + i}" if i % 4 == 0 else "",
            occurred_at=now - timedelta(hours=3 + 20 * i),
        )
    others = [
        CustomerFactory(merchant=northwind, name=f"Shopper {i:02d}", last_seen_at=now - timedelta(days=2 + i))
        for i in range(30)
    ]
    make_segment(northwind, "VIP", [ada, others[0]], slug="vip")
    CustomerFactory(merchant=shop["contoso"], name="Contoso shopper")
    return {"ada": ada}


def _watch(page):
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda msg: problems.append(msg.text) if "Refused to" in msg.text else None)
    return problems


def test_list_search_filter_and_customer_page_on_desktop(page, customers):
    problems = _watch(page)
    log_in(page)
    switch_merchant(page, "Northwind Outfitters")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Customers")
    expect(page.get_by_test_id("customer-count")).to_contain_text("31 customers")
    expect(page.get_by_test_id("customer-row")).to_have_count(25)
    expect(page.get_by_text("Contoso shopper")).to_have_count(0)

    # Search as you type: htmx swaps the results and keeps the URL in step.
    page.get_by_label("Search customers").fill("lovelace")
    expect(page.get_by_test_id("customer-row")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/customers/\?q=lovelace"))
    row = page.get_by_test_id("customer-row")
    expect(row).to_contain_text("Champions")
    expect(row).to_contain_text("R5")
    page.get_by_label("Search customers").fill("")
    expect(page.get_by_test_id("customer-row")).to_have_count(25)
    page.get_by_label("Segment", exact=True).select_option("vip")
    expect(page.get_by_test_id("customer-row")).to_have_count(2)
    _fits(page, DESKTOP, "list-desktop")

    page.get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_test_id("customer-name")).to_have_text("Ada Lovelace")
    expect(page.get_by_test_id("rfm-segment")).to_have_text("Champions")
    expect(page.get_by_test_id("churn-risk")).to_contain_text("Low")
    expect(page.get_by_test_id("explanation")).to_contain_text("Low risk (12%)")
    for kind in ("category", "brand", "colour", "price_band"):
        _chart_fits(page.get_by_test_id(f"affinity-{kind}").locator("svg"), DESKTOP)
    expect(page.get_by_test_id("affinity-brand")).to_contain_text("80%")
    nearest = page.get_by_test_id("nearest-product")
    expect(nearest).to_have_count(2)
    expect(nearest.first).to_contain_text("Oxford shirt")
    _chart_fits(page.get_by_test_id("weekly-chart").locator("svg"), DESKTOP)
    # The nav keeps Customers lit on the customer's page.
    expect(page.get_by_role("navigation", name="Main").locator('[aria-current="page"]')).to_have_text(
        "Customers"
    )

    events = page.get_by_test_id("timeline-event")
    expect(events).to_have_count(30)
    page.get_by_test_id("timeline-more").click()
    expect(events).to_have_count(40)
    expect(page.get_by_test_id("timeline-more")).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"/customers/{customers['ada'].pk}/$"))
    _fits(page, DESKTOP, "detail-desktop")

    page.get_by_test_id("timeline-event").filter(has_text="Oxford shirt").first.get_by_role("link").click()
    expect(page.get_by_test_id("product-title")).to_have_text("Oxford shirt")
    assert problems == []


def test_pages_fit_a_phone(new_page, customers):
    page = new_page(PHONE)
    problems = _watch(page)
    log_in(page)
    switch_merchant(page, "Northwind Outfitters")
    events_chart = page.get_by_test_id("overview-events").locator("svg")
    _chart_fits(events_chart, PHONE)
    _chart_fits(page.get_by_test_id("overview-segments").locator("svg"), PHONE)
    page.get_by_test_id("overview-customers").screenshot(
        path=SHOTS_DIR / "customers-overview-section-phone.png"
    )
    _fits(page, PHONE, "overview-phone")

    page.goto("/customers/")
    expect(page.get_by_test_id("customer-row")).to_have_count(25)
    page.screenshot(path=SHOTS_DIR / "customers-list-phone-top.png")
    _fits(page, PHONE, "list-phone")
    # On a phone each customer is a block: the table stays inside the screen instead of scrolling.
    table_box = page.get_by_test_id("customer-table").bounding_box()
    assert table_box["x"] + table_box["width"] <= PHONE["width"]

    page.get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_test_id("customer-name")).to_have_text("Ada Lovelace")
    for kind in ("category", "brand", "colour", "price_band"):
        _chart_fits(page.get_by_test_id(f"affinity-{kind}").locator("svg"), PHONE)
    _chart_fits(page.get_by_test_id("weekly-chart").locator("svg"), PHONE)
    page.screenshot(path=SHOTS_DIR / "customers-detail-phone-top.png")
    page.get_by_test_id("customer-affinities").screenshot(
        path=SHOTS_DIR / "customers-affinities-card-phone.png"
    )
    page.get_by_test_id("customer-timeline").screenshot(path=SHOTS_DIR / "customers-timeline-card-phone.png")
    _fits(page, PHONE, "detail-phone")
    assert problems == []


def test_empty_list_on_a_phone(new_page, shop):
    page = new_page(PHONE)
    log_in(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Contoso Goods")
    page.goto("/customers/")
    expect(page.get_by_test_id("customers-empty")).to_contain_text("No customers yet")
    _fits(page, PHONE, "empty-phone")
