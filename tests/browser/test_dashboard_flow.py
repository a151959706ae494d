"""End to end through a real browser: log in, import with a report, apply, live search, switch merchant."""

import re

import pytest

from catalog.models import Product, ProductImport
from tests.browser.conftest import PHONE, log_in, switch_merchant
from tests.factories import ProductFactory

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="Browser tests need the playwright package."
).expect

CSV = (
    "sku,title,brand,category,price,currency\n"
    "TB-750,Trailblazer bottle 750 ml,Northwind,Drinkware,24.90,USD\n"
    "TB-500,Trailblazer bottle 500 ml,Northwind,Drinkware,19.90,USD\n"
    "CM-350,Campfire mug,Northwind,Drinkware,not-a-price,USD\n"
    "HL-300,Ridge head lamp,Lumen,Lighting,39.00,USD\n"
    "LN-200,Harbor lantern,Lumen,Lighting,54.00,USD\n"
)


def test_login_import_apply_search_and_switch(page, shop, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    log_in(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Contoso Goods")

    # Work in Northwind: switch through the header's merchant menu.
    page.get_by_test_id("merchant-switcher").locator("summary").click()
    page.get_by_role("button", name=re.compile("Northwind Outfitters")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Northwind Outfitters")
    expect(page.get_by_role("status")).to_contain_text("Switched to Northwind Outfitters.")
    expect(page.get_by_text("Your catalog is empty")).to_be_visible()

    # Import: a dry run first, with a per-row report.
    page.get_by_role("link", name="Import your catalog").click()
    page.get_by_label("Catalog file").set_input_files(
        {"name": "outdoor.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    )
    expect(page.get_by_label(re.compile("Dry run"))).to_be_checked()
    page.get_by_role("button", name="Upload").click()

    expect(page.get_by_test_id("dry-run-callout")).to_contain_text("nothing in the catalog has changed")
    expect(page.get_by_test_id("count-total")).to_have_text("5")
    expect(page.get_by_test_id("count-created")).to_have_text("4")
    expect(page.get_by_test_id("count-errors")).to_have_text("1")
    bad_row = page.get_by_test_id("error-table").locator("tbody tr")
    expect(bad_row).to_have_count(1)
    expect(bad_row.locator("td").nth(0)).to_have_text("4")  # header is line 1
    expect(bad_row).to_contain_text("CM-350")
    expect(bad_row).to_contain_text("price")
    expect(page.get_by_test_id("preview-table").locator("tbody tr")).to_have_count(4)
    assert not Product.objects.exists()

    # Apply the same file without uploading it again.
    page.get_by_test_id("apply-import").click()
    expect(page.get_by_role("status")).to_contain_text("Import applied: 4 created, 0 updated.")
    assert set(Product.objects.filter(merchant=shop["northwind"]).values_list("sku", flat=True)) == {
        "TB-750",
        "TB-500",
        "HL-300",
        "LN-200",
    }
    assert ProductImport.objects.filter(merchant=shop["northwind"]).count() == 2

    # Live search narrows the table in place (no page load) and updates the address bar.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalog").click()
    rows = page.get_by_test_id("product-table").locator("tbody tr")
    expect(rows).to_have_count(4)
    page.evaluate("window.__sameDocument = true")
    page.locator("body").press("/")  # keyboard shortcut to the search box
    expect(page.get_by_role("searchbox", name="Search products")).to_be_focused()
    page.keyboard.type("lumen")
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("product-table")).to_contain_text("Ridge head lamp")
    expect(page.get_by_test_id("product-table")).not_to_contain_text("Trailblazer")
    expect(page).to_have_url(re.compile(r"/catalog/\?q=lumen"))
    assert page.evaluate("window.__sameDocument") is True

    page.get_by_role("searchbox", name="Search products").fill("lantern")
    expect(rows).to_have_count(1)
    page.get_by_role("link", name="Harbor lantern").click()
    expect(page.get_by_test_id("product-title")).to_have_text("Harbor lantern")

    # Switch to the other merchant: its catalog is empty and Northwind's products are not there.
    page.get_by_test_id("merchant-switcher").locator("summary").click()
    page.get_by_role("button", name=re.compile("Contoso Goods")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Contoso Goods")
    page.goto("/catalog/?q=lantern")
    expect(page.get_by_text("No products match")).to_be_visible()

    # Log out through the account menu (a POST).
    page.locator(".user-menu summary").click()
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))


def test_filters_and_pagination_swap_the_table_and_survive_back(page, shop):
    ProductFactory.create_batch(30, merchant=shop["northwind"], brand="Northwind", description="")
    ProductFactory(merchant=shop["northwind"], title="Solo lantern", brand="Lumen", description="")
    log_in(page)
    switch_merchant(page, "Northwind Outfitters")
    page.goto("/catalog/")
    page.evaluate("window.__sameDocument = true")
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()

    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(page).to_have_url(re.compile(r"page=2"))

    page.get_by_label("Brand").select_option("Lumen")
    expect(page.get_by_test_id("product-table").locator("tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"brand=Lumen"))
    assert page.evaluate("window.__sameDocument") is True

    page.go_back()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()


def test_phone_navigation_collapses_behind_a_menu_button(new_page, shop):
    page = new_page(PHONE)
    log_in(page)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(nav).to_be_visible()
    nav.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page scrolls sideways on a phone ({width}px)"


def test_owner_creates_an_api_key_shown_once_with_a_copy_button(page, shop):
    log_in(page)
    switch_merchant(page, "Northwind Outfitters")  # the owner is only an editor at Contoso
    page.goto("/settings/")
    page.get_by_label("Name").fill("ERP nightly sync")
    page.get_by_label("Write").check()
    page.get_by_role("button", name="Create key").click()

    key_field = page.get_by_test_id("new-key-value")
    key = key_field.input_value()
    assert re.fullmatch(r"[\w-]{8}\.[\w-]+", key)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    expect(page.get_by_test_id("api-key-table")).to_contain_text("ERP nightly sync")

    page.goto("/settings/")
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    assert key not in page.content()
