"""The customer page (/customers/<id>/): identity and consent, RFM with its explanation, value and predictions
in words, affinities as bar charts with their values, "nearest products" by cosine on the stored vectors, the
segments, the timeline (newest first, by day, "load more"), the weekly chart, and the empty states: no profile
yet, profiling refused. Another merchant's customer is a 404."""

import math
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from profiles.models import Segment
from profiles.nearest import nearest_products
from tests.factories import CustomerFactory, EventFactory, ProductFactory
from tests.profiles.pages_helpers import embed, make_profile, make_segment

pytestmark = pytest.mark.django_db


def page(client, customer, **params):
    response = client.get(reverse("profiles:customer_detail", args=[customer.pk]), params)
    assert response.status_code == 200
    return response.content.decode()


def between(html: str, start: str, end: str = "</section>") -> str:
    i = html.index(start)
    return html[i : html.index(end, i)]


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.dist(a, [0] * len(a)) * math.dist(b, [0] * len(b))
    )


@pytest.fixture
def ada(merchant):
    return CustomerFactory(
        merchant=merchant,
        external_id="C-1001",
        name="Ada Lovelace",
        email="ada@example.com",
        locale="en-GB",
        country="United Kingdom",
        consent_marketing=True,
        attributes={"tier": "gold", "newsletter": "weekly"},
        first_seen_at=timezone.now() - timedelta(days=200),
        last_seen_at=timezone.now() - timedelta(days=2),
    )


def test_identity_consent_and_attributes(login, ada):
    html = page(login(), ada)
    assert '<h1 class="customer-title" data-testid="customer-name">Ada Lovelace</h1>' in html
    identity = between(html, 'data-testid="customer-identity"')
    for text in ("C-1001", "ada@example.com", "en-GB", "United Kingdom"):
        assert text in identity
    consent = between(html, 'data-testid="customer-consent"')
    assert ">Opted in<" in consent and ">Allowed<" in consent
    attributes = between(html, 'data-testid="customer-attributes"')
    assert '<th scope="row">newsletter</th><td class="break">weekly</td>' in attributes
    assert '<th scope="row">tier</th><td class="break">gold</td>' in attributes


def test_rfm_value_and_predictions_in_words(login, ada):
    now = timezone.now()
    make_profile(
        ada,
        recency_days=12,
        frequency=6,
        monetary=Decimal("412.50"),
        r_score=4,
        f_score=5,
        m_score=3,
        rfm_segment="champions",
        lifetime_value=Decimal("1412.50"),
        churn_risk=0.42,
        next_purchase_from=now + timedelta(days=5),
        next_purchase_to=now + timedelta(days=20),
        explanation={
            "next_purchase": {
                "method": "own_intervals",
                "median_interval_days": 21.5,
                "text": "Orders every 3 weeks (median of 5 gaps), give or take 8 days.",
            },
            "churn": {
                "method": "prior",
                "risk": 0.42,
                "summary": "Medium risk (42%) of no order in the next 90 days.",
                "factors": [{"feature": "recency_days", "value": 12, "text": "Last order 12 days ago."}],
            },
        },
    )
    html = page(login(), ada)
    rfm = between(html, 'data-testid="customer-rfm"')
    assert 'data-testid="r-score">4<small> of 5</small>' in rfm
    assert 'data-testid="f-score">5<small> of 5</small>' in rfm
    assert 'data-testid="m-score">3<small> of 5</small>' in rfm
    assert "last purchase 12 days ago" in rfm and "6 orders" in rfm and "412.50 spent" in rfm
    assert '<span class="badge badge-success" data-testid="rfm-segment">Champions</span>' in rfm
    assert "Bought recently and often" in rfm  # what the segment means

    predictions = between(html, 'data-testid="customer-predictions"')
    assert 'data-testid="lifetime-value">1,412.50<' in predictions
    window = f"Between {(now + timedelta(days=5)):%-d %b} and {(now + timedelta(days=20)):%-d %b %Y}"
    assert window in predictions
    assert '<span class="badge badge-warning">Medium</span> 42% chance of no purchase' in predictions
    # The explanation JSON, in words: each part's sentences, then its figures.
    assert "<h4>Next purchase</h4>" in predictions and "<h4>Churn</h4>" in predictions
    assert "<li>Orders every 3 weeks (median of 5 gaps), give or take 8 days.</li>" in predictions
    assert "<li>Medium risk (42%) of no order in the next 90 days.</li>" in predictions
    assert "<li>Last order 12 days ago.</li>" in predictions
    assert "Median interval days: 21.5" in predictions
    assert "{" not in between(predictions, 'data-testid="explanation"', "</div>")


def test_a_passed_purchase_window_says_overdue(login, ada):
    now = timezone.now()
    make_profile(ada, next_purchase_from=now - timedelta(days=30), next_purchase_to=now - timedelta(days=3))
    predictions = between(page(login(), ada), 'data-testid="customer-predictions"')
    assert "overdue" in predictions


def test_affinities_are_bar_charts_with_their_values(login, ada):
    make_profile(
        ada,
        affinities={
            "category": {"Shirts": 0.6, "Shoes": 0.3, "Hats": 0.1},
            "brand": {"Northwind": 1.0},
            "colour": {},
            "price_band": {"25-50": 0.75, "50-100": 0.25},
        },
    )
    html = page(login(), ada)
    category = between(html, 'data-testid="affinity-category"', "</figure>")
    assert "<svg" in category and 'role="img"' in category
    labels = re.findall(r'data-label="([^"]+)" data-value="([^"]+)"', category)
    assert labels == [("Shirts", "0.6"), ("Shoes", "0.3"), ("Hats", "0.1")]
    assert ">60%</text>" in category and ">30%</text>" in category and ">10%</text>" in category
    assert "Shirts: 60%; Shoes: 30%; Hats: 10%." in category  # the description says the values
    assert ">100%</text>" in between(html, 'data-testid="affinity-brand"', "</figure>")
    assert "No colours yet." in between(html, 'data-testid="affinity-colour"', "</figure>")
    assert ">75%</text>" in between(html, 'data-testid="affinity-price_band"', "</figure>")


def test_nearest_products_by_cosine_on_hand_made_vectors(login, merchant, other_merchant, ada):
    # Interest points along x with a little y: cosine ranks a, b, c, d; e is opposite; f is inactive; g is
    # another merchant's product pointing exactly the same way.
    vectors = {
        "Alpha": [1.0, 0.1, 0.0],
        "Beta": [0.9, 0.4, 0.0],
        "Gamma": [0.5, 0.5, 0.5],
        "Delta": [0.1, 1.0, 0.0],
        "Epsilon": [-1.0, 0.0, 0.0],
        "Zeta": [0.0, 0.0, 1.0],
        "Eta": [0.0, -1.0, 0.2],
    }
    products = {title: ProductFactory(merchant=merchant, title=title) for title in vectors}
    for title, vector in vectors.items():
        embed(products[title], vector)
    inactive = ProductFactory(merchant=merchant, title="Inactive twin", is_active=False)
    embed(inactive, [1.0, 0.1, 0.0])
    embed(ProductFactory(merchant=other_merchant, title="Their twin"), [1.0, 0.1, 0.0])
    # A vector of another length (another model) cannot be compared and is skipped.
    embed(ProductFactory(merchant=merchant, title="Other model"), [1.0, 0.0])
    make_profile(ada, interest_vector=[2.0, 0.4, 0.0])  # not unit length: cosine does not care

    found = nearest_products(merchant=merchant, vector=[2.0, 0.4, 0.0], limit=6)
    assert [item.product.title for item in found] == ["Alpha", "Beta", "Gamma", "Delta", "Zeta", "Eta"]
    query = [2.0, 0.4, 0.0]
    assert [item.similarity for item in found] == pytest.approx(
        [cosine(query, vectors[title]) for title in ("Alpha", "Beta", "Gamma", "Delta", "Zeta", "Eta")],
        abs=1e-5,
    )

    html = page(login(), ada)
    nearest = between(html, 'data-testid="customer-nearest"')
    titles = re.findall(r'<a class="row-title" href="/catalog/products/\d+/">([^<]+)</a>', nearest)
    assert titles == ["Alpha", "Beta", "Gamma", "Delta", "Zeta", "Eta"]
    assert f'href="{reverse("catalog:product_detail", args=[products["Alpha"].pk])}"' in nearest
    assert "Inactive twin" not in nearest and "Their twin" not in nearest and "Epsilon" not in nearest

    # Deactivating a product drops it at once (the cached matrix is refreshed).
    products["Alpha"].is_active = False
    products["Alpha"].save()
    assert [
        i.product.title for i in nearest_products(merchant=merchant, vector=[2.0, 0.4, 0.0], limit=2)
    ] == [
        "Beta",
        "Gamma",
    ]


def test_nearest_products_empty_states(login, merchant, ada):
    profile = make_profile(ada, interest_vector=None)
    client = login()
    assert "No interest vector yet" in between(page(client, ada), 'data-testid="customer-nearest"')
    profile.interest_vector = [0.0, 1.0]
    profile.save()
    assert "No product vectors to compare with yet" in between(
        page(client, ada), 'data-testid="customer-nearest"'
    )
    assert nearest_products(merchant=merchant, vector=[0.0, 0.0], limit=6) == []


def test_segments_the_customer_is_in(login, merchant, ada):
    make_segment(merchant, "VIP", [ada], slug="vip")
    make_segment(merchant, "Champions", [ada], kind=Segment.Kind.BUILTIN, slug="champions")
    make_segment(merchant, "Lapsed", [], slug="lapsed")
    segments = between(page(login(), ada), 'data-testid="customer-segments"')
    assert re.findall(r'href="/customers/\?segment=([a-z-]+)"[^>]*>([^<]+)</a>', segments) == [
        ("champions", "Champions"),
        ("vip", "VIP"),
    ]


def test_timeline_newest_first_by_day_with_products_orders_and_values(login, merchant, ada):
    shirt = ProductFactory(merchant=merchant, title="Oxford shirt")
    day1 = timezone.make_aware(datetime(2026, 3, 2, 9, 15))
    day2 = timezone.make_aware(datetime(2026, 3, 5, 18, 40))
    EventFactory(customer=ada, type="view", product=shirt, occurred_at=day1)
    EventFactory(customer=ada, type="search", query="linen shirt", occurred_at=day1 + timedelta(minutes=5))
    EventFactory(
        customer=ada,
        type="purchase",
        product=shirt,
        quantity=2,
        value=Decimal("79.80"),
        currency="EUR",
        order_id="A-9001",
        occurred_at=day2,
    )
    EventFactory(customer=ada, type="view", product_sku="GONE-1", occurred_at=day2 - timedelta(hours=1))
    html = page(login(), ada)
    timeline = between(html, 'data-testid="customer-timeline"')
    assert re.findall(r'<li class="timeline-day" data-day="([\d-]+)">', timeline) == [
        "2026-03-05",
        "2026-03-02",
    ]
    assert "Thursday 5 March 2026" in timeline and "Monday 2 March 2026" in timeline
    types = re.findall(r'data-testid="timeline-event" data-event-type="(\w+)"', timeline)
    assert types == ["purchase", "view", "search", "view"]
    purchase = between(timeline, 'data-event-type="purchase"', "</li>")
    assert "18:40" in purchase and ">Purchased<" in purchase
    assert f'href="{reverse("catalog:product_detail", args=[shirt.pk])}">Oxford shirt</a>' in purchase
    assert "× 2" in purchase and "79.80 EUR" in purchase and "<code>A-9001</code>" in purchase
    assert '<code>GONE-1</code> <span class="muted">(not in the catalog)</span>' in timeline
    assert '<q class="timeline-query">linen shirt</q>' in timeline
    assert "4 events" in timeline


def test_timeline_loads_more_with_htmx_without_repeating_a_day(login, merchant, ada):
    start = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=3)
    # 35 events on one day: the first page holds 30, "load more" brings the other 5 under no second heading.
    for i in range(35):
        EventFactory(customer=ada, type="view", occurred_at=start + timedelta(minutes=i))
    EventFactory(customer=ada, type="purchase", occurred_at=start - timedelta(days=1))
    client = login()
    html = page(client, ada)
    first = re.findall(r'data-testid="timeline-event"', html)
    assert len(first) == 30
    more = re.search(r'hx-get="([^"]+)"[^>]*data-testid="timeline-more"', html.replace("\n", " "))
    assert more and more.group(1) == f"/customers/{ada.pk}/?events_page=2"
    assert "30 of 36 shown" in html

    response = client.get(more.group(1).replace("&amp;", "&"), HTTP_HX_REQUEST="true")
    fragment = response.content.decode()
    assert "<html" not in fragment
    assert len(re.findall(r'data-testid="timeline-event"', fragment)) == 6
    # The continued day's heading is for screen readers only; the older day gets its own.
    assert fragment.count('class="timeline-day-title visually-hidden"') == 1
    assert fragment.count('class="timeline-day-title"') == 1
    assert 'data-testid="timeline-more"' not in fragment
    # Without JavaScript the same link opens the whole page at that point.
    full = page(client, ada, events_page=2)
    assert "<html" in full and "Back to the newest events" in full


def test_weekly_events_chart(login, merchant, ada):
    now = timezone.now()
    for days_ago in (0, 1, 8, 8, 8):
        EventFactory(customer=ada, type="view", occurred_at=now - timedelta(days=days_ago))
    EventFactory(customer=ada, type="view", occurred_at=now - timedelta(days=400))  # outside the 26 weeks
    chart = between(page(login(), ada), 'data-testid="weekly-chart"', "</figure>")
    assert "<svg" in chart and "Events per week" in chart
    values = [int(v) for v in re.findall(r'class="chart-column"[^>]*data-value="(\d+)"', chart)]
    assert len(values) == 26 and sum(values) == 5


def test_no_profile_yet(login, ada):
    html = page(login(), ada)
    assert 'data-testid="profile-pending"' in html and "computed on the worker" in html
    assert 'data-testid="customer-rfm"' not in html
    assert "No events recorded for this customer" in html
    assert 'data-testid="weekly-chart"' not in html


def test_refused_profiling_shows_no_profile(login, merchant):
    eve = CustomerFactory(merchant=merchant, name="Eve Quiet", consent_profiling=False)
    make_profile(eve, affinities={"category": {"Secret": 1.0}}, lifetime_value=Decimal("777.77"))
    EventFactory(customer=eve, type="view")
    html = page(login(), eve)
    assert 'data-testid="profiling-refused"' in html and "This customer refused profiling." in html
    for hidden in (
        'data-testid="customer-rfm"',
        "Secret",
        "777.77",
        'data-testid="customer-nearest"',
        "rfm-badge",
    ):
        assert hidden not in html
    assert ">Refused<" in between(html, 'data-testid="customer-consent"')
    assert len(re.findall(r'data-testid="timeline-event"', html)) == 1


def test_another_merchants_customer_is_404(client, outsider, merchant):
    ada = CustomerFactory(merchant=merchant, name="Ada")
    client.force_login(outsider)
    assert client.get(reverse("profiles:customer_detail", args=[ada.pk])).status_code == 404
    assert client.get(f"/customers/{ada.pk}/?events_page=2", HTTP_HX_REQUEST="true").status_code == 404
    assert client.get("/customers/999999/").status_code == 404


def test_the_timeline_never_shows_another_merchants_events(login, merchant, other_merchant, ada):
    theirs = CustomerFactory(merchant=other_merchant)
    EventFactory(customer=theirs, merchant=other_merchant, type="purchase", order_id="THEIRS-1")
    EventFactory(customer=ada, type="purchase", order_id="OURS-1")
    html = page(login(), ada)
    assert "OURS-1" in html and "THEIRS-1" not in html


@pytest.mark.parametrize("role", [Role.EDITOR, Role.REVIEWER, Role.VIEWER])
def test_every_role_can_view(login, merchant, role, ada):
    make_profile(ada)
    assert "Ada Lovelace" in page(login(role), ada)


def test_the_page_costs_a_fixed_number_of_queries(login, merchant, ada, django_assert_max_num_queries):
    make_profile(ada, affinities={"category": {"Shirts": 1.0}}, interest_vector=[1.0, 0.0])
    embed(ProductFactory(merchant=merchant), [1.0, 0.0])
    make_segment(merchant, "VIP", [ada])
    client = login()
    for _ in range(3):
        EventFactory(customer=ada, type="purchase", product=ProductFactory(merchant=merchant))
    with django_assert_max_num_queries(40) as captured:
        page(client, ada)
    few = len(captured)
    for _ in range(20):
        EventFactory(customer=ada, type="view", product=ProductFactory(merchant=merchant))
    with django_assert_max_num_queries(few):
        page(client, ada)


def test_owners_get_the_erase_action_and_viewers_do_not(login, ada):
    erase = reverse("profiles:customer_erase", args=[ada.pk])
    assert f'href="{erase}" data-testid="erase-customer"' in page(login(), ada)
    assert erase not in page(login(Role.VIEWER), ada)
