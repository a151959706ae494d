"""Through a real browser: the Overview's daily figures (review queue, chat, jobs) lead to the rows they count;
Settings › Webhooks adds an endpoint (a private URL is refused on the URL field), disables and deletes it; and
another merchant's endpoints never show."""

import re

import pytest

from accounts.services import Actor
from marketing.models import WebhookDelivery, WebhookEndpoint
from marketing.publishing.services import webhook_endpoint_create
from tests.browser.conftest import log_in, switch_merchant
from tests.config.overview_data import FAILED_JOB_ERROR, seed_daily_work

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="Browser tests need the playwright package."
).expect

PUBLIC_URL = "https://8.8.8.8/storyfront/hooks"


@pytest.fixture(autouse=True)
def private_refused(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False


def test_overview_figures_lead_to_the_review_queue_inbox_and_failed_job(page, shop):
    failed_job = seed_daily_work(shop["northwind"], staff=shop["owner"])
    log_in(page)
    switch_merchant(page, "Northwind Outfitters")

    review = page.get_by_test_id("overview-review")
    expect(review.get_by_test_id("figure-in-review")).to_contain_text("3")
    expect(review.get_by_test_id("figure-flagged")).to_contain_text("1")
    expect(review.get_by_test_id("figure-approved")).to_contain_text("2")
    chat = page.get_by_test_id("overview-chat")
    expect(chat.get_by_test_id("figure-handed-off")).to_contain_text("2")
    expect(chat.get_by_test_id("figure-handed-off")).to_contain_text("1 not taken over yet")
    expect(chat.get_by_test_id("figure-chats-today")).to_contain_text("2")
    expect(chat.get_by_test_id("figure-chats-week")).to_contain_text("3")
    jobs = page.get_by_test_id("overview-jobs")
    expect(jobs.get_by_test_id("figure-jobs-running")).to_contain_text("1")
    expect(jobs.get_by_test_id("figure-jobs-failed")).to_contain_text("1")
    expect(jobs).to_contain_text(FAILED_JOB_ERROR)

    # The flagged figure opens the queue filtered to flagged pieces in review: exactly the one it counted.
    review.get_by_test_id("figure-flagged").click()
    expect(page).to_have_url(re.compile(r"/review/\?status=in_review&flag=flagged$"))
    expect(page.get_by_test_id("piece-flagged")).to_have_count(1)

    page.go_back()
    page.get_by_test_id("overview-chat").get_by_test_id("figure-handed-off").click()
    expect(page).to_have_url(re.compile(r"/chat/\?status=handed_off$"))

    page.go_back()
    page.get_by_test_id("overview-jobs").get_by_role("link", name=re.compile(f"#{failed_job.pk}")).click()
    expect(page).to_have_url(re.compile(rf"/models/jobs/{failed_job.pk}/$"))


def test_overview_empty_areas_point_somewhere_useful(page, shop):
    from tests.factories import ProductFactory

    ProductFactory(merchant=shop["contoso"])
    log_in(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Contoso Goods")
    expect(page.get_by_test_id("overview-review-empty")).to_contain_text("Nothing waits for review.")
    expect(page.get_by_test_id("overview-chat-empty")).to_contain_text("No conversations in the last 7 days.")
    expect(page.get_by_test_id("overview-jobs-empty")).to_contain_text("No job is running")


def test_webhooks_add_refused_then_valid_disable_and_delete(page, shop):
    log_in(page)
    switch_merchant(page, "Northwind Outfitters")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    expect(page.get_by_test_id("webhooks-empty")).to_be_visible()

    # A loopback URL is refused by the SSRF guard, on the URL field, and nothing is saved.
    form = page.get_by_test_id("webhook-add-form")
    form.get_by_label("URL").fill("http://127.0.0.1:6379/")
    form.get_by_label("Description").fill("ERP sync")
    form.get_by_role("button", name="Add endpoint").click()
    error = page.locator("#id_url_error")
    expect(error).to_contain_text("127.0.0.1 is a loopback address")
    expect(page.get_by_test_id("webhook-add-form").get_by_label("Description")).to_have_value("ERP sync")
    assert not WebhookEndpoint.objects.exists()

    # A public URL is added; the signing secret is shown this once.
    form = page.get_by_test_id("webhook-add-form")
    form.get_by_label("URL").fill(PUBLIC_URL)
    form.get_by_label(re.compile("Content published")).check()
    form.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_test_id("new-webhook-secret")).to_contain_text(f"Endpoint {PUBLIC_URL} added.")
    endpoint = WebhookEndpoint.objects.get(merchant=shop["northwind"])
    expect(page.get_by_test_id("new-webhook-secret-value")).to_have_value(endpoint.secret)
    assert endpoint.events == ["content.published"]
    card = page.locator(f'[data-testid="webhook-endpoint"][data-url="{PUBLIC_URL}"]')
    expect(card.get_by_test_id("webhook-status")).to_have_text("Active")
    expect(card.get_by_test_id("webhook-deliveries")).to_contain_text("No deliveries yet")

    # A failed delivery shows with its attempts and last error.
    WebhookDelivery.objects.create(
        merchant=shop["northwind"],
        endpoint=endpoint,
        event="content.published",
        idempotency_key="k1",
        status="failed",
        attempts=8,
        status_code=502,
        response_excerpt="Bad gateway from the receiver",
    )
    page.goto("/campaigns/webhooks/")
    expect(page.get_by_test_id("new-webhook-secret")).to_have_count(0)
    card = page.locator(f'[data-testid="webhook-endpoint"][data-url="{PUBLIC_URL}"]')
    row = card.get_by_test_id("webhook-deliveries").locator("tbody tr")
    expect(row).to_contain_text("Failed")
    expect(row).to_contain_text("502")
    expect(row).to_contain_text("Bad gateway from the receiver")

    card.get_by_role("button", name=re.compile("^Disable")).click()
    expect(page.get_by_role("status")).to_contain_text(f"Disabled {PUBLIC_URL}")
    card = page.locator(f'[data-testid="webhook-endpoint"][data-url="{PUBLIC_URL}"]')
    expect(card.get_by_test_id("webhook-status")).to_have_text("Disabled")
    endpoint.refresh_from_db()
    assert endpoint.active is False

    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name=re.compile("^Delete")).click()
    expect(page.get_by_role("status")).to_contain_text(f"Deleted the endpoint {PUBLIC_URL}")
    expect(page.get_by_test_id("webhooks-empty")).to_be_visible()
    assert not WebhookEndpoint.objects.exists()


def test_another_merchants_endpoints_are_invisible(page, shop):
    theirs, _ = webhook_endpoint_create(
        merchant=shop["contoso"], actor=Actor.system("test"), url="https://1.1.1.1/contoso-only"
    )
    log_in(page)
    switch_merchant(page, "Northwind Outfitters")
    page.goto("/campaigns/webhooks/")
    expect(page.get_by_test_id("webhooks-empty")).to_be_visible()
    expect(page.get_by_text("contoso-only")).to_have_count(0)

    # In Contoso (where this user is an editor) it is listed, read-only.
    switch_merchant(page, "Contoso Goods")
    page.goto("/campaigns/webhooks/")
    expect(page.locator('[data-testid="webhook-endpoint"]')).to_have_count(1)
    expect(page.get_by_role("heading", name="https://1.1.1.1/contoso-only")).to_be_visible()
    expect(page.get_by_text("Only owners can add, change or delete webhook endpoints.")).to_be_visible()
    expect(page.get_by_test_id("webhook-add-form")).to_have_count(0)
    assert WebhookEndpoint.objects.get().pk == theirs.pk
