"""`manage.py demo_customers`: project-made customers with every kind of event over the demo catalog,
anonymous visits, mixed consent, orders whose values come from the product prices; the profiles and segments
computed at the end; a re-run adds nothing; a larger run only adds customers."""

import json
from collections import Counter
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from accounts.services import Actor
from catalog.demo_catalog import demo_catalog_rows
from catalog.models import Product
from catalog.services import product_import
from profiles.models import Customer, CustomerProfile, Event, EventType, Segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(merchant):
    product_import(
        merchant=merchant,
        actor=Actor.system("test"),
        data=json.dumps(demo_catalog_rows()).encode(),
        filename="demo-catalog.json",
    )


def run(merchant, customers=40, **options) -> str:
    out = StringIO()
    call_command(
        "demo_customers", merchant=merchant.slug, customers=customers, days=90, stdout=out, **options
    )
    return out.getvalue()


def test_makes_customers_with_every_kind_of_event(merchant, other_merchant, catalog):
    output = run(merchant)

    customers = Customer.objects.filter(merchant=merchant)
    assert customers.count() == 40 and "40 added" in output
    assert all(c.email.split("@")[1] in ("example.com", "example.net", "example.org") for c in customers)
    assert customers.values("country").distinct().count() >= 4
    assert 0 < customers.filter(consent_marketing=True).count() < 30
    assert customers.filter(consent_profiling=False).exists()
    events = Event.objects.filter(merchant=merchant)
    assert set(events.values_list("type", flat=True)) == set(EventType.values)
    assert events.filter(customer__isnull=True).exclude(session_id="").exists()  # anonymous visits
    assert not Event.objects.filter(merchant=other_merchant).exists()
    # Customers' first and last seen match their events.
    busiest = customers.annotate(n=Count("events")).order_by("-n").first()
    times = busiest.events.values_list("occurred_at", flat=True)
    assert (busiest.first_seen_at, busiest.last_seen_at) == (min(times), max(times))
    # Purchases: order lines priced from the catalog; searches carry text; reviews a rating.
    prices = dict(Product.objects.filter(merchant=merchant).values_list("pk", "price"))
    for purchase in events.filter(type="purchase"):
        assert purchase.order_id and purchase.value == prices[purchase.product_id] * purchase.quantity
    orders = Counter(events.filter(type="purchase").values_list("order_id", flat=True))
    assert max(orders.values()) > 1  # some orders have several lines
    assert all(events.filter(type="search").values_list("query", flat=True))
    assert all(
        1 <= r["rating"] <= 5 for r in events.filter(type="review").values_list("properties", flat=True)
    )
    # Some customers bought again and again, some never did.
    pairs = set(events.filter(type="purchase", customer__isnull=False).values_list("customer_id", "order_id"))
    buyers = Counter(customer_id for customer_id, _ in pairs)
    assert max(buyers.values()) >= 4 and customers.count() > len(buyers)
    # Profiles for those who consent only, and the built-in segments with members.
    profiled = set(CustomerProfile.objects.filter(merchant=merchant).values_list("customer_id", flat=True))
    assert profiled and profiled <= set(customers.filter(consent_profiling=True).values_list("pk", flat=True))
    assert Segment.objects.filter(merchant=merchant, kind="builtin", member_count__gt=0).exists()
    assert (
        sum(CustomerProfile.objects.filter(merchant=merchant).values_list("monetary", flat=True), Decimal(0))
        > 0
    )


def test_a_rerun_adds_nothing_and_a_bigger_run_only_adds(merchant, catalog):
    run(merchant)
    events = Event.objects.filter(merchant=merchant)
    before = set(events.values_list("idempotency_key", "type", "customer__external_id"))

    output = run(merchant)
    assert "0 added" in output and "0 events added" in output
    assert set(events.values_list("idempotency_key", "type", "customer__external_id")) == before

    run(merchant, customers=45)
    assert Customer.objects.filter(merchant=merchant).count() == 45
    after = set(events.values_list("idempotency_key", "type", "customer__external_id"))
    assert before < after
    assert {ext for _, _, ext in after - before} - {None} <= {f"demo-{n:04d}" for n in range(41, 46)}


def test_refuses_without_a_merchant_or_a_catalog(merchant):
    with pytest.raises(CommandError, match="No merchant 'nowhere'"):
        call_command("demo_customers", merchant="nowhere")
    with pytest.raises(CommandError, match="no active products"):
        call_command("demo_customers", merchant=merchant.slug, customers=5)
    assert not Customer.objects.exists()
