"""The segment builder in a real browser, on a desktop and on a 390 px phone: build a segment from two conditions
with the keyboard and the mouse, watch the live count change as the conditions change (rows redrawn and added
with htmx, Enter only refreshing the preview), save it and find it listed with its count. No script error, no
Content-Security-Policy refusal, nothing wider than the phone. Screenshots land in
/tmp/storyfront-shots/segments-*.png."""

import os
from pathlib import Path

import pytest

from profiles.models import Segment
from tests.browser.conftest import DESKTOP, PHONE, log_in, overflowing_js, switch_merchant
from tests.profiles.segment_helpers import customer

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="Browser tests need the playwright package."
).expect

SHOTS_DIR = Path(os.environ.get("STORYFRONT_SHOTS_DIR", "/tmp/storyfront-shots"))
_OVERFLOWING_JS = overflowing_js(".table-wrap")
CHAMPION = {"r_score": 5, "f_score": 5, "m_score": 4, "rfm_segment": "champions"}
LOYAL = {"r_score": 3, "f_score": 5, "m_score": 3, "rfm_segment": "loyal"}


@pytest.fixture
def shoppers(shop):
    northwind, contoso = shop["northwind"], shop["contoso"]
    customer(northwind, "gb-champ-1", name="Gwen Champion", country="GB", profile=CHAMPION)
    customer(northwind, "gb-champ-2", name="Glen Champion", country="GB", profile=CHAMPION)
    customer(northwind, "gb-loyal", name="Gail Loyal", country="GB", profile=LOYAL)
    customer(northwind, "gb-new", name="Gus New", country="GB")
    customer(northwind, "de-champ", name="Dora Champion", country="DE", profile=CHAMPION)
    customer(northwind, "fr-loyal", name="Fred Loyal", country="FR", profile=LOYAL)
    customer(contoso, "gb-elsewhere", name="Other Shop's Champion", country="GB", profile=CHAMPION)
    return shop


def _watch(page):
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if msg.type == "error" or "Refused to" in msg.text else None,
    )
    return problems


def _shot(page, name):
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS_DIR / f"segments-{name}.png", full_page=True)


def _fits(page, viewport, name):
    _shot(page, name)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"{name}: page is {width}px wide: {page.evaluate(_OVERFLOWING_JS)}"


def _count(page):
    return page.get_by_test_id("preview-count")


def test_build_a_segment_on_a_desktop(new_page, shoppers):
    page = new_page(DESKTOP)
    problems = _watch(page)
    log_in(page)
    switch_merchant(page, "Northwind Outfitters")
    page.goto("/customers/segments/")
    expect(page.get_by_test_id("segments-empty")).to_be_visible()
    page.get_by_test_id("new-segment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New segment")

    # One condition to start with (recency score at least 4), counted as soon as the page loads.
    expect(_count(page)).to_have_text("3")
    page.get_by_label("Name").fill("UK champions")

    # Condition 1 becomes "Country": the row is redrawn for it, keeping the focus on the field select.
    field = page.get_by_label("Condition 1: what to test")
    field.focus()
    field.select_option("country")
    values = page.get_by_label("Condition 1: values, separated by commas")
    expect(values).to_be_visible()
    expect(field).to_be_focused()
    values.fill("gb")
    expect(_count(page)).to_have_text("4")
    expect(page.get_by_test_id("preview-sample")).to_contain_text("Gwen Champion")
    expect(page.get_by_test_id("preview-sample")).not_to_contain_text("Other Shop")

    # A second condition, added with htmx; the cursor lands on its field.
    page.get_by_test_id("add-condition").click()
    second = page.get_by_label("Condition 2: what to test")
    expect(second).to_be_focused()
    _settled(page)
    second.select_option("rfm_segment")
    expect(page.get_by_label("Champions", exact=True)).to_be_checked()
    expect(_count(page)).to_have_text("2")

    # "Any condition" widens it; Enter in a field only refreshes the preview (nothing saved, nothing lost).
    page.get_by_label("Any condition").check()
    expect(_count(page)).to_have_text("5")
    page.get_by_label("All conditions").check()
    expect(_count(page)).to_have_text("2")
    page.get_by_label("Name").press("Enter")
    expect(_count(page)).to_have_text("2")
    assert page.url.endswith("/customers/segments/new/")
    assert not Segment.objects.filter(kind="custom").exists()

    # A bad value is marked on its row and the count waits for a fix.
    values.fill("")
    expect(page.get_by_test_id("condition-errors").first).to_contain_text("Enter at least one value.")
    expect(_count(page)).to_have_text("—")
    values.fill("GB, DE")
    expect(_count(page)).to_have_text("3")
    expect(page.get_by_test_id("condition-errors").first).to_be_empty()
    _shot(page, "builder-desktop")

    page.get_by_test_id("segment-save").click()
    expect(page.get_by_test_id("segment-name")).to_have_text("UK champions")
    expect(page.get_by_test_id("segment-member-count")).to_have_text("3")
    expect(page.get_by_test_id("segment-members")).to_contain_text("Dora Champion")
    segment = Segment.objects.get(slug="uk-champions")
    assert segment.rules == [
        {"field": "country", "op": "in", "value": ["GB", "DE"]},
        {"field": "rfm_segment", "op": "in", "value": ["champions"]},
    ]

    page.get_by_role("link", name="Segments", exact=True).first.click()
    row = page.locator('[data-testid="segment-row"][data-slug="uk-champions"]')
    expect(row).to_contain_text("UK champions")
    expect(row.get_by_test_id("segment-count")).to_have_text("3")
    expect(page.get_by_test_id("segment-chart")).to_contain_text("UK champions")
    _shot(page, "list-desktop")

    # Removing a condition puts the focus on the row that took its place.
    page.goto("/customers/segments/uk-champions/edit/")
    expect(_count(page)).to_have_text("3")
    page.get_by_role("button", name="Remove condition 1").click()
    expect(page.get_by_label("Condition 1: what to test")).to_be_focused()
    expect(page.get_by_label("Condition 1: what to test")).to_have_value("rfm_segment")
    expect(_count(page)).to_have_text("3")  # the three champions of this shop
    assert problems == []


def _settled(page):
    """Waits until htmx has finished swapping in the new row. Chromium may focus an inserted `autofocus` element
    natively before htmx has attached the row's listeners, so focus alone does not say the row is live."""
    expect(page.locator(".htmx-added, .htmx-settling, .htmx-swapping")).to_have_count(0)


def test_build_a_segment_on_a_phone(new_page, shoppers):
    page = new_page(PHONE)
    problems = _watch(page)
    log_in(page)
    switch_merchant(page, "Northwind Outfitters")
    page.goto("/customers/segments/new/")
    expect(_count(page)).to_have_text("3")
    _fits(page, PHONE, "builder-phone")

    page.get_by_label("Name").fill("Loyal French")
    page.get_by_label("Condition 1: what to test").select_option("rfm_segment")
    page.get_by_label("Champions", exact=True).uncheck()
    page.get_by_label("Loyal", exact=True).check()
    expect(_count(page)).to_have_text("2")
    page.get_by_test_id("add-condition").click()
    second = page.get_by_label("Condition 2: what to test")
    expect(second).to_be_focused()
    _settled(page)
    second.select_option("country")
    page.get_by_label("Condition 2: values, separated by commas").fill("FR")
    expect(_count(page)).to_have_text("1")
    _fits(page, PHONE, "builder-phone-filled")

    page.get_by_test_id("segment-save").click()
    expect(page.get_by_test_id("segment-member-count")).to_have_text("1")
    _fits(page, PHONE, "detail-phone")
    page.goto("/customers/segments/")
    row = page.locator('[data-testid="segment-row"][data-slug="loyal-french"]')
    expect(row.get_by_test_id("segment-count")).to_have_text("1")
    _fits(page, PHONE, "list-phone")
    assert problems == []
