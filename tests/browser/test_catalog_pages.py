"""The catalog's product pages in a real browser: create a product with the keyboard (attribute rows added
with HTMX), edit it (a taken SKU comes back as a field error with the cursor on it), see its copy on its page
and follow a piece to the review queue; the form and the product page fit a 390 px phone. Screenshots land
in /tmp/storyfront-shots/catalog-*.png."""

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from catalog.models import Product
from marketing.models import Campaign, ContentPiece
from tests.browser.conftest import DESKTOP, PHONE, log_in, overflowing_js, switch_merchant
from tests.factories import ProductFactory

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="Browser tests need the playwright package."
).expect

SHOTS_DIR = Path(os.environ.get("STORYFRONT_SHOTS_DIR", "/tmp/storyfront-shots"))
_OVERFLOWING_JS = overflowing_js(".table-wrap")


def _fits(page, viewport, name):
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS_DIR / f"catalog-{name}.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"{name}: page is {width}px wide: {page.evaluate(_OVERFLOWING_JS)}"


def test_create_edit_and_see_copy(page, shop):
    northwind = shop["northwind"]
    ProductFactory(merchant=northwind, sku="HL-300", title="Ridge head lamp", description="")
    # Script errors and Content-Security-Policy refusals (htmx's swaps included) would show here.
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda msg: problems.append(msg.text) if "Refused to" in msg.text else None)
    log_in(page)
    switch_merchant(page, "Northwind Outfitters")

    # Create, from the products list, with the keyboard.
    page.goto("/catalog/")
    page.get_by_test_id("new-product").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New product")
    page.get_by_label("Title").fill("Trailblazer bottle 750 ml")
    page.get_by_label("SKU").fill("TB-750")
    page.get_by_label("Brand").fill("Northwind")
    page.get_by_label("Category").fill("Drinkware")
    page.get_by_label("Price").fill("24.90")
    page.get_by_label("Description").fill("Keeps drinks cold for 24 hours.")
    page.get_by_label("Attribute 1 name").fill("material")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Attribute 1 value")).to_be_focused()
    page.keyboard.type("Stainless steel")
    page.get_by_label("Attribute 2 name").fill("num_images")
    page.get_by_label("Attribute 2 value").fill("4")
    # A third row, fetched with HTMX; the cursor lands in it.
    page.get_by_role("button", name="Add an attribute").click()
    expect(page.get_by_label("Attribute 3 name")).to_be_focused()
    page.keyboard.type("capacity_ml")
    page.keyboard.press("Tab")
    page.keyboard.type("750")
    page.keyboard.press("Enter")  # submits the form: "Add an attribute" is not a submit button

    expect(page.get_by_test_id("product-title")).to_have_text("Trailblazer bottle 750 ml")
    expect(page.get_by_role("status")).to_contain_text("Product “Trailblazer bottle 750 ml” created.")
    product = Product.objects.get(merchant=northwind, sku="TB-750")
    assert product.attributes == {"material": "Stainless steel", "num_images": "4", "capacity_ml": "750"}
    assert (product.price, product.currency, product.category.name) == (Decimal("24.90"), "USD", "Drinkware")
    facts = page.locator("table.table-kv")
    expect(facts).to_contain_text("Material")
    expect(facts).to_contain_text("Capacity ml")
    expect(facts).not_to_contain_text("images")
    expect(page.get_by_test_id("product-bookkeeping")).to_contain_text("Number of images: 4")
    expect(page.get_by_test_id("product-copy-empty")).to_be_visible()

    # Edit: a SKU another product has is refused on the SKU field, with the cursor there.
    page.get_by_test_id("edit-product").click()
    expect(page.get_by_label("Attribute 1 name")).to_have_value(re.compile("material|capacity_ml|num_images"))
    page.get_by_label("Title").fill("Trailblazer bottle 750 ml, green")
    page.get_by_label("SKU").fill("HL-300")
    page.get_by_test_id("product-save").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("The product was not saved.")
    sku = page.get_by_label("SKU")
    expect(sku).to_be_focused()
    expect(sku).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field.has-error")).to_contain_text("A product with SKU 'HL-300' already exists.")
    expect(page.get_by_label("Title")).to_have_value("Trailblazer bottle 750 ml, green")
    assert Product.objects.get(pk=product.pk).sku == "TB-750"

    page.keyboard.press("Control+A")
    page.keyboard.type("TB-750-G")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("product-title")).to_have_text("Trailblazer bottle 750 ml, green")
    expect(page.get_by_role("status")).to_contain_text("saved")
    product.refresh_from_db()
    assert (product.sku, product.title) == ("TB-750-G", "Trailblazer bottle 750 ml, green")

    # Copy written for it shows on its page and leads to the piece in the review queue.
    campaign = Campaign.objects.create(
        merchant=northwind, name="Spring launch", channel="product_description"
    )
    piece = ContentPiece.objects.create(
        merchant=northwind,
        campaign=campaign,
        product=product,
        status=ContentPiece.Status.IN_REVIEW,
        title="Cold all day",
        body="A stainless steel bottle that keeps drinks cold for 24 hours.",
    )
    page.reload()
    listed = page.get_by_test_id("product-piece")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Cold all day")
    expect(listed).to_contain_text("Product description · Spring launch")
    expect(listed).to_contain_text("In review")
    listed.click()
    expect(page).to_have_url(re.compile(rf"/review/\?campaign={campaign.pk}&status=all#piece-{piece.pk}$"))
    expect(page.locator(f"#piece-{piece.pk}")).to_contain_text("Cold all day")
    assert problems == []


def test_product_form_and_page_fit_a_phone(new_page, shop):
    product = ProductFactory(
        merchant=shop["northwind"],
        title="Trailblazer insulated stainless steel bottle with a bamboo lid, 750 ml",
        attributes={"material": "Stainless steel", "num_images": "4", "care_instructions": "Hand wash only"},
    )
    Campaign.objects.create(merchant=shop["northwind"], name="Spring", channel="email")
    ContentPiece.objects.create(
        merchant=shop["northwind"],
        campaign=Campaign.objects.get(name="Spring"),
        product=product,
        status=ContentPiece.Status.APPROVED,
        subject="Cold drinks, all summer long",
        body="Meet the bottle that keeps drinks cold for 24 hours, whatever the trail.",
    )
    for device, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = new_page(viewport)
        log_in(page)
        switch_merchant(page, "Northwind Outfitters")
        page.goto(f"/catalog/products/{product.pk}/")
        expect(page.get_by_test_id("product-piece")).to_contain_text("Cold drinks, all summer long")
        _fits(page, viewport, f"{device}-product")
        page.goto(f"/catalog/products/{product.pk}/edit/")
        page.get_by_role("button", name="Add an attribute").click()
        expect(page.get_by_label("Attribute 6 name")).to_be_focused()
        _fits(page, viewport, f"{device}-product-form")
        page.get_by_label("SKU").fill("")
        page.get_by_test_id("product-save").click()
        expect(page.get_by_test_id("form-error")).to_be_visible()
        _fits(page, viewport, f"{device}-product-form-errors")
