"""The campaign pages in a real browser, with the worker's side played by the test through the helpers the
worker itself uses (ml.jobs: job_claim, ProgressReporter, job_finish; marketing.campaigns.services:
content_piece_record, campaign_generation_finished) while the page polls:

- a campaign page left open while its job ends shows the finished state without a reload: status, piece
  counts, the review link and the generate button (and so does the campaign list);
- the progress line counts products as the worker reports them, says it is estimating before the first one is
  done, then shows the time left;
- the campaign form's catalog filter shows its live product-match preview while typing, with no htmx error."""

import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import transaction

from accounts.models import Role
from marketing.campaigns.services import campaign_generation_finished, content_piece_record
from marketing.models import Campaign
from marketing.workflow import content_check
from ml.jobs import ProgressReporter, job_claim, job_finish
from ml.models import Job, ModelVersion
from tests.browser.conftest import PASSWORD, log_in
from tests.factories import CategoryFactory, MembershipFactory, MerchantFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="Browser tests need the playwright package."
).expect


@pytest.fixture
def shop(transactional_db, monkeypatch):
    # The live server runs in this process: keep the queued task off the shared broker.
    from marketing import tasks

    monkeypatch.setattr(
        tasks.generate_campaign_copy_task, "apply_async", lambda *a, **k: SimpleNamespace(id="test-task")
    )
    owner = UserFactory(username="owner@example.com", password=PASSWORD)
    merchant = MerchantFactory(name="Northwind Outfitters", slug="northwind")
    MembershipFactory(user=owner, merchant=merchant, role=Role.OWNER)
    ModelVersion.objects.create(
        name="SmolLM2-135M-Instruct", kind="base", path="/var/models/smollm2", status="ready"
    )
    outdoor = CategoryFactory(merchant=merchant, name="Outdoor", slug="outdoor")
    products = [
        ProductFactory(
            merchant=merchant,
            sku="BOTTLE-1",
            title="Trail bottle",
            brand="Northwind",
            price=Decimal("24.90"),
            category=outdoor,
            description="Insulated bottle that keeps drinks cold for 24 hours.",
        ),
        ProductFactory(
            merchant=merchant,
            sku="MUG-1",
            title="Camp mug",
            brand="Northwind",
            price=Decimal("12.50"),
            category=outdoor,
            description="An enamel mug for the campfire.",
        ),
        ProductFactory(
            merchant=merchant,
            sku="LAMP-1",
            title="Head lamp",
            brand="Lumen",
            price=Decimal("39.00"),
            description="A rechargeable head lamp with 300 lumens.",
        ),
    ]
    campaign = Campaign.objects.create(merchant=merchant, name="Spring launch", channel="product_description")
    campaign.products.set(products)
    # Another merchant's product with a matching title must never show up in the preview.
    ProductFactory(merchant=MerchantFactory(name="Contoso"), title="Contoso trail bottle", brand="Northwind")
    return SimpleNamespace(owner=owner, merchant=merchant, campaign=campaign, products=products)


def write_piece(campaign, product):
    """What the worker stores for a finished product."""
    fields = {"title": product.title, "body": f"{product.title}: {product.description}"}
    outcome = content_check(product=product, channel=campaign.channel, fields=fields)
    content_piece_record(
        campaign=campaign,
        product=product,
        variant=1,
        fields=fields,
        outcome=outcome,
        model_version=None,
        prompt="[]",
        params={},
        quality={},
        attempts=1,
    )


def start_generation(page, campaign):
    page.goto(f"/campaigns/{campaign.pk}/")
    expect(page.get_by_test_id("not-generated")).to_be_visible()
    page.get_by_test_id("generate").click()
    expect(page.get_by_test_id("campaign-progress")).to_have_attribute("data-status", "queued")
    return Job.objects.get(params__campaign_id=campaign.pk)


def test_an_open_campaign_page_shows_the_finished_state_when_the_job_ends(page, new_page, shop):
    campaign = shop.campaign
    log_in(page)
    job = start_generation(page, campaign)
    expect(page.get_by_test_id("campaign-status")).to_have_text("Generating")
    expect(page.get_by_test_id("generate")).to_be_disabled()
    expect(page.get_by_test_id("generate-why")).to_contain_text("Generating now.")
    expect(page.get_by_test_id("stat-in-review")).to_contain_text("0")
    expect(page.get_by_role("link", name="Review copy")).to_have_count(0)

    # The campaign list, open in another tab, polls the same job.
    listing = new_page()
    log_in(listing)
    listing.goto("/campaigns/")
    row = listing.get_by_test_id(f"campaign-{campaign.pk}")
    expect(row.get_by_test_id("campaign-status")).to_have_text("Generating")
    expect(row).to_contain_text("No copy yet")

    # A reload would wipe these.
    page.evaluate("window.stillTheSamePage = true")
    listing.evaluate("window.stillTheSamePage = true")

    # The worker: claims the job, writes a piece per product, reports, and ends the job.
    assert job_claim(job.pk) is not None
    reporter = ProgressReporter(job.pk, total=3)
    for done, product in enumerate(shop.products, start=1):
        write_piece(campaign, product)
        reporter(current=done, eta_seconds=5.0 * (3 - done), force=True)
    expect(page.get_by_test_id("job-products")).to_have_text("3 of 3 products done")
    expect(page.get_by_test_id("campaign-status")).to_have_text("Generating")  # still running
    with transaction.atomic():
        job_finish(job.pk, status=Job.Status.SUCCEEDED, progress_current=3, progress_total=3)
        campaign_generation_finished(campaign_id=campaign.pk, succeeded=True)

    progress = page.get_by_test_id("campaign-progress")
    expect(progress).to_have_attribute("data-status", "succeeded")
    expect(progress.get_by_test_id("generation-done")).to_contain_text("3 pieces written")
    # Then the rest of the page catches up, without a reload.
    expect(page.get_by_test_id("campaign-status")).to_have_text("Ready for review")
    expect(page.get_by_test_id("stat-in-review")).to_contain_text("3")
    expect(page.get_by_role("link", name="Review copy")).to_be_visible()
    generate = page.get_by_test_id("generate")
    expect(generate).to_be_enabled()
    expect(generate).to_have_text("Generate missing copy")
    expect(page.get_by_test_id("generate-why")).to_have_count(0)
    assert page.evaluate("window.stillTheSamePage") is True
    assert page.get_by_test_id("campaign-progress").get_attribute("hx-trigger") is None  # polling stopped

    expect(row.get_by_test_id("campaign-status")).to_have_text("Ready for review")
    expect(row).to_contain_text("3 to review")
    assert listing.evaluate("window.stillTheSamePage") is True

    # The refreshed page works like a fresh one: the review link leads to this campaign's pieces.
    page.get_by_role("link", name="Review copy").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review")
    expect(page.locator("[data-piece]")).to_have_count(3)


def test_progress_counts_products_and_shows_the_time_left(page, shop):
    campaign = shop.campaign
    log_in(page)
    job = start_generation(page, campaign)
    progress = page.get_by_test_id("campaign-progress")
    expect(progress).to_contain_text("waiting for a worker")
    expect(progress.get_by_test_id("job-eta")).to_have_count(0)

    # Claimed, nothing finished yet: no pace to estimate from.
    assert job_claim(job.pk) is not None
    reporter = ProgressReporter(job.pk, total=3)
    reporter(current=0, force=True)
    expect(progress).to_have_attribute("data-status", "running")
    expect(progress.get_by_test_id("job-products")).to_have_text("0 of 3 products done")
    expect(progress.get_by_test_id("job-eta")).to_have_text("estimating time left…")

    # The worker reports each product as its pieces are stored.
    write_piece(campaign, shop.products[0])
    reporter(current=1, eta_seconds=84.0, force=True)
    expect(progress.get_by_test_id("job-percent")).to_have_text("33%")
    expect(progress.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "33")
    expect(progress.get_by_test_id("job-products")).to_have_text("1 of 3 products done")
    expect(progress.get_by_test_id("job-eta")).to_have_text("about 1 min left")

    write_piece(campaign, shop.products[1])
    reporter(current=2, eta_seconds=21.6, force=True)
    expect(progress.get_by_test_id("job-percent")).to_have_text("67%")
    expect(progress.get_by_test_id("job-products")).to_have_text("2 of 3 products done")
    expect(progress.get_by_test_id("job-eta")).to_have_text("about 22 s left")
    bar_width = progress.locator(".progress-bar").evaluate("bar => bar.style.width")
    assert bar_width == "67%"


def test_the_catalog_filter_shows_its_matches_live(page, shop):
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page)
    page.goto("/campaigns/new/")
    form = page.get_by_test_id("campaign-form")
    form.get_by_label("Use a catalog filter").check()
    preview = form.get_by_test_id("filter-preview")
    expect(preview).to_contain_text("Give words, a category, a brand or a price range")

    form.get_by_role("textbox", name="Words").press_sequentially(
        "trail", delay=30
    )  # typed, as a person types
    expect(preview).to_contain_text("1 active product match right now: Trail bottle")
    expect(preview).not_to_contain_text("Contoso")  # another merchant's product
    form.get_by_role("textbox", name="Words").fill("")
    form.get_by_role("combobox", name="Brand").select_option("Northwind")
    expect(preview).to_contain_text("2 active products match right now: Camp mug, Trail bottle")
    form.get_by_label("Max price", exact=True).fill("20")
    expect(preview).to_contain_text("1 active product match right now: Camp mug")
    form.get_by_label("Min price", exact=True).fill("100")
    expect(preview).to_contain_text("No active product matches this filter.")
    form.get_by_label("Min price", exact=True).fill("")
    form.get_by_label("Max price", exact=True).fill("")
    form.get_by_role("combobox", name="Brand").select_option("")
    expect(preview).to_contain_text("Give words, a category, a brand or a price range")

    # The preview stays one live region on the page (swapped into, not replaced).
    expect(page.locator("#filter-preview")).to_have_count(1)
    expect(page.locator("#filter-preview")).to_have_attribute("aria-live", "polite")
    assert not [e for e in errors if re.search(r"targetError|htmx", e)], errors
    assert errors == []
