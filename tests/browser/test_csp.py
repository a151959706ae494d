"""The Content-Security-Policy in a real browser: the dashboard's pages, the demo store with the chat widget, and
the API docs (Swagger UI, ReDoc) all work under it with no console error, no policy violation and no request to
any other origin. A control proves the watch would see a violation: an inline style put on a page is refused."""

from decimal import Decimal

import pytest

from accounts.models import Role
from chat.models import ChatSettings, Conversation, KnowledgeItem, Message
from marketing.campaigns.services import content_piece_record
from marketing.models import Campaign
from marketing.workflow import content_check
from ml.models import Job, ModelVersion
from tests.browser.conftest import DESKTOP, PASSWORD, PHONE, log_in
from tests.factories import CategoryFactory, MembershipFactory, MerchantFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="Browser tests need the playwright package."
).expect

# Runs before any page script (Playwright injects it outside the page's CSP) and records every violation the
# browser reports, including those inside the widget's shadow root (the event bubbles out of it composed).
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} ` +
    `in ${event.sourceFile || event.documentURI}:${event.lineNumber}`);
}, true);
"""


class Watch:
    """Everything a page does that the policy or the no-CDN rule forbids, gathered as it happens."""

    def __init__(self, page, own_origin):
        self.page = page
        self.own_origin = own_origin
        self.console = []
        self.errors = []
        self.outside = []
        page.add_init_script(WATCH_VIOLATIONS)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", self._on_request)

    def _on_console(self, message):
        if message.type == "error" or "Content Security Policy" in message.text:
            self.console.append(f"{message.type}: {message.text}")

    def _on_request(self, request):
        if request.url.startswith(("data:", "blob:")):
            return
        if not request.url.startswith(self.own_origin + "/"):
            self.outside.append(request.url)

    def goto(self, url):
        response = self.page.goto(url)
        assert response.status == 200, f"{url}: {response.status}"
        header = response.headers.get("content-security-policy", "")
        policy = {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}
        assert policy.get("default-src") == ["'self'"], f"{url}: CSP is {policy!r}"
        assert policy.get("script-src", [])[0] == "'self'" and not any(
            source.startswith(("'unsafe", "http", "*")) for source in policy["script-src"]
        ), f"{url}: CSP is {policy!r}"
        assert policy.get("frame-ancestors") == ["'none'"] and policy.get("object-src") == ["'none'"]
        self.policy = policy
        return response

    def violations(self):
        return self.page.evaluate("window.__cspViolations || []")

    def assert_clean(self, where):
        violations = self.violations()
        assert violations == [], f"{where}: CSP violations {violations}"
        assert self.console == [], f"{where}: console {self.console}"
        assert self.errors == [], f"{where}: page errors {self.errors}"
        assert self.outside == [], f"{where}: requests to other origins {self.outside}"


def _piece(campaign, product, body):
    fields = {"title": product.title, "body": body}
    outcome = content_check(product=product, channel=campaign.channel, fields=fields)
    piece, _ = content_piece_record(
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
    return piece


@pytest.fixture
def shop(transactional_db, live_server):
    """A merchant with something on every page: products in categories, a campaign with pieces to review, chat
    conversations and knowledge, a running fine-tuning job with a loss curve, and the widget switched on."""
    owner = UserFactory(username="owner@example.com", password=PASSWORD)
    merchant = MerchantFactory(name="Demo Outfitters", slug="demo")
    MembershipFactory(user=owner, merchant=merchant, role=Role.OWNER)
    outdoor = CategoryFactory(merchant=merchant, name="Outdoor", slug="outdoor")
    kitchen = CategoryFactory(merchant=merchant, name="Kitchen", slug="kitchen")
    bottle = ProductFactory(
        merchant=merchant,
        sku="BOTTLE-1",
        title="Trail bottle",
        price=Decimal("24.90"),
        category=outdoor,
        attributes={"material": "stainless steel", "capacity": "750 ml"},
        description="Insulated bottle that keeps drinks cold for 24 hours.",
    )
    jacket = ProductFactory(
        merchant=merchant,
        sku="JACKET-1",
        title="Rain jacket",
        price=Decimal("89.00"),
        category=outdoor,
        attributes={"material": "recycled polyester"},
        description="A light waterproof jacket with a hood.",
    )
    ProductFactory(
        merchant=merchant,
        sku="MUG-1",
        title="Camp mug",
        price=Decimal("12.50"),
        category=kitchen,
        attributes={"material": "enamel"},
        description="An enamel mug for the campfire.",
    )
    campaign = Campaign.objects.create(
        merchant=merchant, name="Spring launch", channel="product_description", goal="Launch the spring range"
    )
    campaign.products.set([bottle, jacket])
    _piece(campaign, bottle, "A stainless steel trail bottle that holds 750 ml and keeps drinks cold.")
    _piece(campaign, jacket, "A light waterproof rain jacket in recycled polyester, with a hood.")

    ChatSettings.objects.create(
        merchant=merchant,
        bot_name="Trail Guide",
        greeting="Hi! Ask me anything.",
        allowed_origins=[live_server.url],
    )
    KnowledgeItem.objects.create(
        merchant=merchant, kind="policy", title="Returns policy", body="Unused items within 30 days."
    )
    conversation = Conversation.objects.create(merchant=merchant, source="widget")
    Message.objects.create(
        conversation=conversation, merchant=merchant, role="shopper", text="Do you ship abroad?"
    )
    Message.objects.create(
        conversation=conversation, merchant=merchant, role="bot", text="Yes, to the EU and UK."
    )

    base = ModelVersion.objects.create(
        name="SmolLM2-135M-Instruct",
        kind=ModelVersion.Kind.BASE,
        path="/var/models/smollm2",
        status=ModelVersion.Status.READY,
    )
    job = Job.objects.create(
        merchant=merchant,
        kind=Job.Kind.FINETUNE,
        status=Job.Status.RUNNING,
        base_version=base,
        params={"name": "copy-v1", "purpose": "copy", "hyperparameters": {"method": "lora", "epochs": 1}},
        progress_current=40,
        progress_total=200,
        eta_seconds=420,
        metrics={
            "loss_history": [{"step": s, "loss": 2.6 - s / 100} for s in range(5, 45, 5)],
            "eval_history": [{"step": 20, "eval_loss": 2.4}, {"step": 40, "eval_loss": 2.2}],
            "eval_loss_before": 2.5,
        },
        created_by_label="owner@example.com",
    )
    return {
        "merchant": merchant,
        "product": bottle,
        "campaign": campaign,
        "conversation": conversation,
        "job": job,
    }


def test_dashboard_pages_keep_the_policy(new_page, shop, live_server):
    page = new_page(DESKTOP)
    watch = Watch(page, live_server.url)
    watch.goto("/accounts/login/")
    log_in(page)
    pages = [
        "/",
        "/catalog/",
        f"/catalog/products/{shop['product'].pk}/",
        "/catalog/import/",
        "/campaigns/",
        "/campaigns/new/",
        "/campaigns/brand-voice/",
        f"/campaigns/{shop['campaign'].pk}/",
        "/review/",
        "/chat/",
        f"/chat/conversations/{shop['conversation'].pk}/",
        "/chat/knowledge/",
        "/chat/settings/",
        "/chat/training/",
        "/models/",
        "/models/jobs/",
        f"/models/jobs/{shop['job'].pk}/",
        "/settings/",
    ]
    for url in pages:
        watch.goto(url)
        assert watch.policy["style-src"][0] == "'self'" and "'unsafe-inline'" not in watch.policy["style-src"]
        page.wait_for_load_state("networkidle")
        watch.assert_clean(url)

    # The bars take their lengths from data-width, set by app.js (style attributes would be refused).
    watch.goto("/")
    bars = page.locator(".bar-list .bar")
    expect(bars).to_have_count(2)
    assert bars.evaluate_all("els => els.map(el => el.style.width)") == ["100%", "50%"]

    # A running job's bar is polled and swapped in by htmx: the new fragment is sized as well.
    watch.goto(f"/models/jobs/{shop['job'].pk}/")
    bar = page.locator(f"#job-progress-{shop['job'].pk} .progress-bar")
    assert bar.evaluate("el => el.style.width") == "20%"
    Job.objects.filter(pk=shop["job"].pk).update(progress_current=110)
    expect(page.get_by_test_id("job-percent").first).to_have_text("55%", timeout=15_000)
    expect(page.locator(f"#job-progress-{shop['job'].pk} .progress-bar[data-width='55']")).to_have_count(1)
    assert bar.evaluate("el => el.style.width") == "55%"
    # The loss chart's tick labels are SVG text placed by percentages, inside the axis boxes.
    y_ticks = page.locator(".chart-y-axis text")
    assert y_ticks.count() >= 2
    plot = page.locator(".chart-plot").bounding_box()
    for box in y_ticks.evaluate_all("els => els.map(el => el.getBoundingClientRect().y)"):
        assert plot["y"] - 12 <= box <= plot["y"] + plot["height"] + 12

    # htmx: a live search swaps the table (with its indicator styled by app.css, not an injected <style>).
    watch.goto("/catalog/")
    page.get_by_label("Search products").fill("bottle")
    expect(page.locator("#product-results")).not_to_contain_text("Rain jacket")
    expect(page.locator("#product-results")).to_contain_text("Trail bottle")
    assert page.locator("style").count() == 0
    watch.assert_clean("after the htmx swaps")


def test_an_inline_style_is_refused_and_seen(new_page, shop, live_server):
    """The control: the watch above would catch a violation, and the browser does refuse inline styles."""
    page = new_page(DESKTOP)
    watch = Watch(page, live_server.url)
    watch.goto("/accounts/login/")
    page.evaluate("""() => {
      const box = document.createElement("div");
      box.innerHTML = '<p id="styled" style="width: 123px">x</p>';
      document.body.appendChild(box);
    }""")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("getComputedStyle(document.getElementById('styled')).width") != "123px"
    assert any("style-src" in violation for violation in watch.violations())


def test_demo_store_widget_keeps_the_policy(new_page, shop, live_server, settings):
    settings.DEBUG = True  # the demo store is only served in local development
    page = new_page(PHONE)
    watch = Watch(page, live_server.url)
    watch.goto("/demo/store/")
    assert "'unsafe-inline'" not in watch.policy["style-src"]
    bubble = page.get_by_role("button", name="Chat with Trail Guide")
    expect(bubble).to_be_visible()
    # The widget's stylesheet applied under the policy: a round, coloured bubble fixed in the corner.
    styles = bubble.evaluate(
        "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).borderRadius]"
    )
    assert styles == ["rgb(67, 56, 202)", "999px"]
    bubble.click()
    panel = page.get_by_role("dialog", name="Trail Guide")
    expect(panel.get_by_text("Hi! Ask me anything.")).to_be_visible()
    box = panel.get_by_label("Your message")
    box.fill("Can I talk to a human please?")
    box.press("Enter")
    expect(panel.locator('[data-part="handoff-notice"]')).to_be_visible()
    expect(panel.locator('[data-role="shopper"] .text')).to_have_text("Can I talk to a human please?")
    assert Conversation.objects.filter(merchant=shop["merchant"], status="handed_off").exists()
    watch.assert_clean("demo store")


@pytest.mark.parametrize(
    "url, operation", [("/api/docs/", ".opblock"), ("/api/redoc/", "[data-section-id^='tag/']")]
)
def test_api_docs_are_served_locally_under_the_policy(new_page, live_server, db, url, operation):
    page = new_page(DESKTOP)
    watch = Watch(page, live_server.url)
    watch.goto(url)
    # Only ReDoc's page relaxes style-src (config/api_docs.py says why).
    assert ("'unsafe-inline'" in watch.policy["style-src"]) == (url == "/api/redoc/")
    # Drawn from the schema: the title and the operations, so the bundle and its start-up script both ran.
    expect(page.get_by_role("heading", name="Storyfront API").first).to_be_visible(timeout=20_000)
    expect(page.locator(operation).first).to_be_visible(timeout=20_000)
    page.wait_for_load_state("networkidle")
    watch.assert_clean(url)


def test_admin_pages_keep_the_policy(new_page, shop, live_server):
    UserFactory(username="admin@example.com", password=PASSWORD, is_staff=True, is_superuser=True)
    message = Message.objects.filter(conversation=shop["conversation"], role="bot").get()
    Message.objects.filter(pk=message.pk).update(sources=[{"type": "knowledge", "id": 1, "title": "Returns"}])
    page = new_page(DESKTOP)
    watch = Watch(page, live_server.url)
    watch.goto("/admin/login/")
    page.get_by_label("Username").fill("admin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")
    for url in [
        "/admin/",
        "/admin/catalog/product/",
        f"/admin/catalog/product/{shop['product'].pk}/change/",
        f"/admin/chat/message/{message.pk}/change/",
        f"/admin/ml/job/{shop['job'].pk}/change/",
        f"/admin/marketing/campaign/{shop['campaign'].pk}/change/",
    ]:
        watch.goto(url)
        watch.assert_clean(url)
    # The pretty-printed JSON wraps by a class from static/css/admin.css, not a refused style attribute.
    watch.goto(f"/admin/chat/message/{message.pk}/change/")
    assert page.locator("pre.pre-wrap").first.evaluate("el => getComputedStyle(el).whiteSpace") == "pre-wrap"
