"""The profile worker against PostgreSQL: RFM, affinities, interest vectors and predictions written for the
right customers, consent, tenant isolation, incremental = full, and a query-count smoke test."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from chat.models import ProductEmbedding
from profiles.models import Customer, CustomerProfile, Event, ProfileSettings
from profiles.profile_worker import rebuild_all_merchants, rebuild_profiles, update_profiles
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def add_events(customer, *rows, merchant=None) -> None:
    """rows: (type, days ago, order_id, value[, product])."""
    Event.objects.bulk_create(
        Event(
            merchant=merchant or customer.merchant,
            customer=customer,
            type=row[0],
            occurred_at=ago(row[1]),
            order_id=row[2],
            value=Decimal(row[3]) if row[3] is not None else None,
            product=row[4] if len(row) > 4 else None,
        )
        for row in rows
    )


def profile_of(customer) -> CustomerProfile:
    return CustomerProfile.objects.get(customer=customer)


@pytest.fixture
def shoppers(merchant):
    """Four purchasers, one window-shopper and one customer who refused profiling (see the module's test)."""
    c = {
        name: CustomerFactory(merchant=merchant, external_id=name) for name in ("c1", "c2", "c3", "c4", "c5")
    }
    c["refused"] = CustomerFactory(merchant=merchant, external_id="refused", consent_profiling=False)
    add_events(
        c["c1"], ("purchase", 100, "O1", "50"), ("purchase", 40, "O2", "30"), ("purchase", 5, "O3", "20")
    )
    add_events(c["c2"], ("purchase", 200, "O4", "10"))
    add_events(c["c3"], ("purchase", 20, "O5", "80"), ("refund", 19, "O5", "-30"))
    add_events(
        c["c4"],
        ("purchase", 60, "O7", "25"),
        ("purchase", 10, "O6", "40"),
        ("refund", 9, "O6", "40"),
        ("view", 1, "", None),
    )
    add_events(c["c5"], ("view", 3, "", None), ("view", 2, "", None))
    add_events(c["refused"], *[("purchase", d, f"R{d}", "5000") for d in (1, 2, 3, 4, 5, 6)])
    return c


def test_rebuild_scores_rfm_net_of_refunds(merchant, shoppers):
    assert rebuild_profiles(merchant.id, now=NOW) == 5

    c1, c2, c3, c4, c5 = (profile_of(shoppers[k]) for k in ("c1", "c2", "c3", "c4", "c5"))
    assert (c1.recency_days, c1.frequency, c1.monetary, c1.lifetime_value) == (
        5,
        3,
        Decimal("100"),
        Decimal("100"),
    )
    assert (c3.recency_days, c3.frequency, c3.monetary) == (20, 1, Decimal("50"))
    # O6 was refunded in full: one order left, and the refunded purchase is still the last one.
    assert (c4.recency_days, c4.frequency, c4.monetary) == (10, 1, Decimal("25"))
    # Four purchasers: recency 5 < 10 < 20 < 200 days; frequency 3 > 1 = 1 = 1; money 100 > 50 > 25 > 10.
    assert (c1.r_score, c1.f_score, c1.m_score, c1.rfm_segment) == (5, 5, 5, "champions")
    assert (c4.r_score, c4.f_score, c4.m_score, c4.rfm_segment) == (4, 2, 2, "new")
    assert (c3.r_score, c3.f_score, c3.m_score, c3.rfm_segment) == (2, 2, 4, "hibernating")
    assert (c2.r_score, c2.f_score, c2.m_score, c2.rfm_segment) == (1, 2, 1, "hibernating")
    assert (c5.r_score, c5.rfm_segment, c5.frequency, c5.recency_days) == (None, "prospect", 0, None)
    assert c5.churn_risk is None and c5.next_purchase_from is None
    assert (c4.events_count, c4.last_event_at, c4.computed_at) == (4, ago(1), NOW)

    settings = ProfileSettings.objects.get(merchant=merchant)
    assert settings.rebuilt_at == NOW
    assert settings.rfm_cutoffs["population"] == 4  # the refusing customer's orders shape nothing
    assert settings.rfm_cutoffs["recency"] == [20, 10, 10, 5]
    assert settings.rfm_cutoffs["churn_model"] is None  # four customers: the prior, explained
    assert c1.explanation["churn"]["method"] == "prior"
    assert c1.explanation["next_purchase"]["method"] == "own_intervals"
    assert c2.explanation["next_purchase"]["method"] == "merchant_second_order"


def test_customers_who_refused_profiling_get_no_profile(merchant, shoppers):
    CustomerProfile.objects.create(customer=shoppers["refused"], merchant=merchant, frequency=6)
    rebuild_profiles(merchant.id, now=NOW)
    assert not CustomerProfile.objects.filter(customer=shoppers["refused"]).exists()

    shoppers["c1"].consent_profiling = False
    shoppers["c1"].save()
    assert update_profiles(merchant.id, [shoppers["c1"].id, shoppers["refused"].id], now=NOW) == 0
    assert not CustomerProfile.objects.filter(customer=shoppers["c1"]).exists()
    assert CustomerProfile.objects.filter(merchant=merchant).count() == 4


def test_incremental_update_equals_full_rebuild_when_the_model_is_unchanged(merchant, shoppers):
    product, *_ = (ProductFactory(merchant=merchant, price=Decimal(p)) for p in ("30", "10", "50", "70"))
    rebuild_profiles(merchant.id, now=NOW)
    model = ProfileSettings.objects.get(merchant=merchant).rfm_cutoffs
    assert model["price_bands"] == [25.0, 40.0, 55.0]
    add_events(shoppers["c2"], ("view", 0.5, "", None, product), ("add_to_cart", 0.4, "", None, product))

    assert update_profiles(merchant.id, [shoppers["c2"].id], now=NOW) == 1
    incremental = {c.pk: model_to_dict(c) for c in CustomerProfile.objects.filter(merchant=merchant)}
    assert incremental[shoppers["c2"].id]["events_count"] == 3
    assert incremental[shoppers["c2"].id]["affinities"]["price_band"] == {"mid": 1.0}

    rebuild_profiles(merchant.id, now=NOW)
    assert ProfileSettings.objects.get(merchant=merchant).rfm_cutoffs == model
    full = {c.pk: model_to_dict(c) for c in CustomerProfile.objects.filter(merchant=merchant)}
    assert full == incremental


def test_update_before_any_rebuild_derives_and_stores_the_model(merchant, shoppers):
    assert update_profiles(merchant.id, [shoppers["c1"].id], now=NOW) == 1
    settings = ProfileSettings.objects.get(merchant=merchant)
    assert settings.rfm_cutoffs["population"] == 4 and settings.rebuilt_at is None
    assert (profile_of(shoppers["c1"]).r_score, CustomerProfile.objects.count()) == (5, 1)


def test_a_merchants_rebuild_never_touches_another_merchant(merchant, other_merchant, shoppers):
    theirs = CustomerFactory(merchant=other_merchant, external_id="c1")
    add_events(theirs, ("purchase", 1, "O1", "999"), ("purchase", 2, "O2", "999"))
    rebuild_profiles(other_merchant.id, now=ago(0.5))
    before = model_to_dict(profile_of(theirs))
    their_settings = model_to_dict(ProfileSettings.objects.get(merchant=other_merchant))

    rebuild_profiles(merchant.id, now=NOW)
    assert update_profiles(merchant.id, [theirs.id], now=NOW) == 0  # not this merchant's customer
    update_profiles(other_merchant.id, [shoppers["c1"].id], now=NOW)

    assert model_to_dict(profile_of(theirs)) == before
    assert model_to_dict(ProfileSettings.objects.get(merchant=other_merchant)) == their_settings
    assert ProfileSettings.objects.get(merchant=merchant).rfm_cutoffs["population"] == 4
    assert profile_of(shoppers["c1"]).merchant_id == merchant.id


def test_affinities_come_from_the_products_facts(merchant, other_merchant):
    boots, socks = (
        CategoryFactory(merchant=merchant, name="Boots"),
        CategoryFactory(merchant=merchant, name="Socks"),
    )
    p1 = ProductFactory(
        merchant=merchant, category=boots, brand="Alpina", price=Decimal("120"), attributes={"colour": "Navy"}
    )
    p2 = ProductFactory(
        merchant=merchant, category=socks, brand="Woolly", price=Decimal("10"), attributes={"Color": "red"}
    )
    for price in ("20", "40", "60"):
        ProductFactory(merchant=merchant, price=Decimal(price))
    foreign = ProductFactory(merchant=other_merchant, brand="Elsewhere", price=Decimal("5"))
    shopper = CustomerFactory(merchant=merchant)
    add_events(
        shopper, ("purchase", 0, "A", "120", p1), ("view", 0, "", None, p2), ("view", 0, "", None, foreign)
    )

    rebuild_profiles(merchant.id, now=NOW)
    settings = ProfileSettings.objects.get(merchant=merchant)
    assert settings.rfm_cutoffs["price_bands"] == [20.0, 40.0, 60.0]
    assert profile_of(shopper).affinities == {
        "category": {"Boots": pytest.approx(5 / 6, abs=1e-4), "Socks": pytest.approx(1 / 6, abs=1e-4)},
        "brand": {"Alpina": pytest.approx(5 / 6, abs=1e-4), "Woolly": pytest.approx(1 / 6, abs=1e-4)},
        "colour": {"Navy": pytest.approx(5 / 6, abs=1e-4), "Red": pytest.approx(1 / 6, abs=1e-4)},
        "price_band": {"premium": pytest.approx(5 / 6, abs=1e-4), "budget": pytest.approx(1 / 6, abs=1e-4)},
    }


def test_affinities_decay_with_the_merchants_half_life(merchant):
    ProfileSettings.objects.create(merchant=merchant, affinity_half_life_days=30)
    old = ProductFactory(merchant=merchant, brand="Old", price=Decimal("10"))
    new = ProductFactory(merchant=merchant, brand="New", price=Decimal("10"))
    shopper = CustomerFactory(merchant=merchant)
    add_events(shopper, ("view", 60, "", None, old), ("view", 0, "", None, new))
    rebuild_profiles(merchant.id, now=NOW)
    assert profile_of(shopper).affinities["brand"] == {"New": 0.8, "Old": 0.2}  # 1 : 0.25


def embed(product, vector) -> None:
    ProductEmbedding.objects.create(
        product=product,
        merchant=product.merchant,
        vector=vector,
        model_name="all-MiniLM-L6-v2",
        text_hash="x",
    )


def test_interest_vector_is_the_weighted_mean_of_embedded_products(merchant, other_merchant):
    dims = 384
    basis = np.eye(dims)
    p1, p2, p3 = (ProductFactory(merchant=merchant) for _ in range(3))
    embed(p1, list(basis[0] * 2))  # not unit length as stored: normalised before use
    embed(p2, list(basis[1]))
    foreign = ProductFactory(merchant=other_merchant)
    embed(foreign, list(basis[2]))
    shopper, plain = CustomerFactory(merchant=merchant), CustomerFactory(merchant=merchant)
    add_events(
        shopper, ("view", 0, "", None, p1), ("purchase", 0, "A", "10", p2), ("view", 0, "", None, foreign)
    )
    add_events(plain, ("view", 0, "", None, p3))

    rebuild_profiles(merchant.id, now=NOW)
    vector = profile_of(shopper).interest_vector
    assert len(vector) == dims
    expected = np.zeros(dims)
    expected[0], expected[1] = 1 / np.sqrt(26), 5 / np.sqrt(26)
    assert vector == pytest.approx(list(expected), abs=1e-6)
    assert profile_of(plain).interest_vector is None  # p3 not embedded yet


def regular_or_lapsed(index: int) -> list[tuple]:
    """Odd: a regular who has ordered every 20-34 days for over a year; even: 2-6 orders ending 120+ days ago."""
    gap = 20 + index % 15
    if index % 2:
        days = list(range(gap, 420, gap))
    else:
        stop = 120 + index
        days = [stop + gap * k for k in range(2 + index % 5)]
    return [("purchase", d, f"O{index}-{d}", "30") for d in days]


def test_a_shop_with_history_gets_its_own_churn_model(merchant):
    customers = [CustomerFactory(merchant=merchant) for _ in range(120)]
    for index, customer in enumerate(customers):
        add_events(customer, *regular_or_lapsed(index))

    rebuild_profiles(merchant.id, now=NOW)
    model = ProfileSettings.objects.get(merchant=merchant).rfm_cutoffs["churn_model"]
    assert model["kind"] == "logistic" and model["trained_on"] >= 100
    regular, lapsed = profile_of(customers[1]), profile_of(customers[0])
    assert regular.churn_risk < 0.5 < lapsed.churn_risk
    assert lapsed.explanation["churn"]["method"] == "logistic"
    assert "raises the risk" in lapsed.explanation["churn"]["factors"][0]["text"]
    # Orders every 21 days, the last one 21 days ago: next expected about now.
    assert regular.frequency == 19
    assert regular.explanation["next_purchase"]["median_interval_days"] == 21
    assert regular.next_purchase_from < NOW < regular.next_purchase_to
    assert profile_of(customers[118]).rfm_segment in ("at_risk", "hibernating")  # stopped 238 days ago


def test_rebuild_all_merchants_covers_every_merchant(merchant, other_merchant, shoppers):
    theirs = CustomerFactory(merchant=other_merchant)
    add_events(theirs, ("purchase", 3, "Z", "5"))
    assert rebuild_all_merchants(now=NOW) == 6
    # Alone in its shop, the customer sits mid-population: 3, 3, 3 ("potential" by the documented rules).
    theirs_profile = profile_of(theirs)
    assert (theirs_profile.r_score, theirs_profile.f_score, theirs_profile.m_score) == (3, 3, 3)
    assert profile_of(shoppers["c1"]).rfm_segment == "champions"
    assert ProfileSettings.objects.get(merchant=other_merchant).rebuilt_at == NOW


def test_rebuild_queries_grow_with_chunks_not_customers(merchant):
    products = [ProductFactory(merchant=merchant) for _ in range(40)]
    for product in products:
        embed(product, list(np.random.default_rng(product.id).normal(size=384)))
    customers = Customer.objects.bulk_create(
        Customer(merchant=merchant, external_id=f"bulk-{i}") for i in range(1100)
    )
    kinds = ["view", "view", "add_to_cart", "purchase", "view", "refund", "review", "email_click"]
    Event.objects.bulk_create(
        Event(
            merchant=merchant,
            customer=customer,
            type=kinds[(i + j) % len(kinds)],
            product=products[(i * 7 + j) % len(products)],
            order_id=f"O{i}-{j // 4}",
            value=Decimal("12.50"),
            occurred_at=ago((i * 13 + j * 29) % 400),
        )
        for i, customer in enumerate(customers)
        for j in range(12)
    )
    with CaptureQueriesContext(connection) as captured:
        assert rebuild_profiles(merchant.id, now=NOW) == 1100
    sql = [query["sql"] for query in captured.captured_queries]
    # 1100 customers are three chunks of 500: one pass over purchases for the model, then per chunk one
    # events query and one upsert; the 40 products and their vectors are read once.
    assert sum('FROM "profiles_event"' in q for q in sql) == 1 + 3
    assert sum(q.startswith('INSERT INTO "profiles_customerprofile"') for q in sql) == 3
    assert sum('FROM "chat_productembedding"' in q for q in sql) == 1
    profiles = CustomerProfile.objects.filter(merchant=merchant)
    assert profiles.filter(interest_vector__isnull=False).count() == 1100
    assert profiles.exclude(rfm_segment="prospect").count() == 1100


def test_the_update_task_runs_the_worker(merchant, shoppers):
    from profiles.tasks import update_profiles_task

    ids = [shoppers["c1"].id, shoppers["refused"].id]
    assert update_profiles_task.apply(args=(merchant.id, ids)).get() == 1
    assert profile_of(shoppers["c1"]).frequency == 3
    assert not CustomerProfile.objects.filter(customer=shoppers["refused"]).exists()
