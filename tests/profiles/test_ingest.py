"""profiles.ingest: validation, writing (COPY on PostgreSQL), duplicates, unknown SKUs, seen times, and the
profile updates queued for the worker (read back from the real Redis broker)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from profiles import ingest
from profiles.ingest import ingest_events, link_unknown_products
from profiles.models import Customer, Event
from tests.factories import CustomerFactory, ProductFactory


def view(customer="c1", sku="SKU-1", **extra):
    return {"type": "view", "customer": customer, "product": sku, **extra}


def test_a_batch_is_written_and_customers_created(merchant, django_capture_on_commit_callbacks):
    product = ProductFactory(merchant=merchant, sku="SKU-1")
    CustomerFactory(merchant=merchant, external_id="known")
    rows = [
        view("known", occurred_at="2025-03-01T10:00:00Z"),
        view("new-1", occurred_at="2025-03-02T10:00:00+02:00"),
        {"type": "search", "session_id": "s-9", "query": "red shoes"},
        {
            "type": "purchase",
            "customer": 1001,
            "product": "SKU-1",
            "quantity": 2,
            "value": "39.985",
            "currency": "usd",
            "order_id": "o-1",
            "occurred_at": "2025-03-03T09:00:00",
            "properties": {"coupon": "SPRING", "lines": [1, {"a": None}]},
        },
    ]
    result = ingest_events(merchant=merchant, rows=rows)

    assert (result.received, result.inserted, result.duplicates, result.rejected) == (4, 4, 0, 0)
    assert result.customers_created == 2 and result.unknown_skus == 0 and result.errors == []
    assert Customer.objects.filter(merchant=merchant).count() == 3
    purchase = Event.objects.get(merchant=merchant, type="purchase")
    assert purchase.customer.external_id == "1001"
    assert purchase.product == product and purchase.product_sku == "SKU-1"
    assert (purchase.quantity, purchase.value, purchase.currency) == (2, Decimal("39.98"), "USD")
    assert purchase.occurred_at == datetime(2025, 3, 3, 9, tzinfo=UTC)  # no offset: UTC
    assert purchase.properties == {"coupon": "SPRING", "lines": [1, {"a": None}]}
    assert purchase.source == "api"
    search = Event.objects.get(merchant=merchant, type="search")
    assert search.customer is None and search.session_id == "s-9" and search.query == "red shoes"
    assert Event.objects.get(customer__external_id="new-1").occurred_at == datetime(2025, 3, 2, 8, tzinfo=UTC)


def test_text_that_copy_must_escape_round_trips(merchant):
    awkward = 'tab\there, new\nline, back\\slash, "quotes", \\N, ünïcödé 🛍'
    ingest_events(
        merchant=merchant,
        rows=[view(awkward[:200], awkward[:100], query=awkward, properties={awkward: [awkward, {"n": 1.5}]})],
    )
    stored = Event.objects.get(merchant=merchant)
    assert (stored.customer.external_id, stored.product_sku, stored.query) == (awkward, awkward, awkward)
    assert stored.properties == {awkward: [awkward, {"n": 1.5}]}


def test_first_and_last_seen_only_widen(merchant):
    customer = CustomerFactory(
        merchant=merchant,
        external_id="c1",
        first_seen_at=datetime(2025, 2, 1, tzinfo=UTC),
        last_seen_at=datetime(2025, 2, 10, tzinfo=UTC),
    )
    ingest_events(
        merchant=merchant,
        rows=[view(occurred_at="2025-02-05T00:00:00Z"), view(occurred_at="2025-02-20T00:00:00Z")],
    )
    customer.refresh_from_db()
    assert customer.first_seen_at == datetime(2025, 2, 1, tzinfo=UTC)
    assert customer.last_seen_at == datetime(2025, 2, 20, tzinfo=UTC)
    ingest_events(merchant=merchant, rows=[view(occurred_at="2025-01-15T00:00:00Z")])
    customer.refresh_from_db()
    assert customer.first_seen_at == datetime(2025, 1, 15, tzinfo=UTC)
    assert customer.last_seen_at == datetime(2025, 2, 20, tzinfo=UTC)


def test_duplicates_in_a_batch_and_across_batches_are_counted_not_stored(merchant):
    first = ingest_events(
        merchant=merchant,
        rows=[view(idempotency_key="k1"), view(idempotency_key="k2"), view(idempotency_key="k1"), view()],
    )
    assert (first.inserted, first.duplicates) == (3, 1)
    again = ingest_events(merchant=merchant, rows=[view(idempotency_key="k2"), view(idempotency_key="k3")])
    assert (again.inserted, again.duplicates) == (1, 1)
    assert Event.objects.filter(merchant=merchant).count() == 4
    assert sorted(Event.objects.exclude(idempotency_key="").values_list("idempotency_key", flat=True)) == [
        "k1",
        "k2",
        "k3",
    ]


def test_idempotency_keys_are_per_merchant(merchant, other_merchant):
    ingest_events(merchant=merchant, rows=[view(idempotency_key="k1")])
    result = ingest_events(merchant=other_merchant, rows=[view(idempotency_key="k1")])
    assert (result.inserted, result.duplicates) == (1, 0)
    assert Event.objects.filter(merchant=other_merchant).get().customer.merchant == other_merchant
    assert Customer.objects.filter(external_id="c1").count() == 2


@pytest.mark.parametrize(
    ("event", "field", "message"),
    [
        ({"customer": "c1"}, "type", "This field is required."),
        ({"type": "click", "customer": "c1"}, "type", "Unknown type"),
        ({"type": "email_open"}, "customer", "customer (their external id) or an anonymous session_id"),
        ({"type": "view", "customer": "c1"}, "product", "needs the product's SKU"),
        ({"type": "search", "customer": "c1"}, "query", "needs the query text"),
        ({"type": "email_open", "customer": ["c1"]}, "customer", "Must be a string."),
        ({"type": "email_open", "customer": "x" * 201}, "customer", "At most 200 characters."),
        ({"type": "email_open", "customer": "a\x00b"}, "customer", "cannot be stored"),
        ({"type": "email_open", "customer": "a\ud800"}, "customer", "cannot be stored"),
        (view(quantity=0), "quantity", "Must be between 1"),
        (view(quantity=-2), "quantity", "refund"),
        (view(quantity=1.5), "quantity", "whole number"),
        (view(quantity=True), "quantity", "whole number"),
        (view(value="ten"), "value", "Must be a number"),
        (view(value=-1), "value", "Must not be negative"),
        (view(value="NaN"), "value", "finite"),
        (view(value=10**12), "value", "less than"),
        (view(currency="dollars"), "currency", "3-letter"),
        (view(occurred_at="yesterday"), "occurred_at", "ISO 8601"),
        (view(occurred_at=1700000000), "occurred_at", "ISO 8601"),
        (view(occurred_at="1969-12-31T23:00:00Z"), "occurred_at", "before 1970"),
        (view(query="q" * 501), "query", "At most 500"),
        (view(source="s" * 51), "source", "At most 50"),
        (view(idempotency_key="k" * 201), "idempotency_key", "At most 200"),
        (view(properties=["a"]), "properties", "JSON object"),
        (view(properties={"a": "\x00"}), "properties", "NUL"),
        (view(properties={"big": "x" * 17000}), "properties", "16 KB"),
        (view(properties={"a": float("nan")}), "properties", "plain JSON"),
        (view(occured_at="2025-01-01T00:00:00Z"), "occured_at", "Unknown field"),
    ],
)
def test_bad_events_are_reported_by_index_and_the_valid_ones_written(merchant, event, field, message):
    result = ingest_events(merchant=merchant, rows=[view(), event, view()])
    assert (result.inserted, result.rejected) == (2, 1)
    assert [error["index"] for error in result.errors] == [1]
    assert message in result.errors[0]["errors"][field][0], result.errors


def test_an_event_that_is_not_an_object_is_reported(merchant):
    result = ingest_events(merchant=merchant, rows=["view", 3, None])
    assert result.rejected == 3 and result.inserted == 0
    assert result.errors[0] == {"index": 0, "errors": {"event": ["Each event must be a JSON object."]}}


def test_occurred_at_more_than_a_day_ahead_is_refused_a_little_ahead_is_not(merchant):
    now = timezone.now()
    rows = [
        view(occurred_at=(now + timedelta(hours=23)).isoformat()),
        view(occurred_at=(now + timedelta(hours=25)).isoformat()),
    ]
    result = ingest_events(merchant=merchant, rows=rows)
    assert result.inserted == 1 and result.errors[0]["index"] == 1
    assert result.errors[0]["errors"] == {"occurred_at": ["Is more than a day in the future."]}


def test_defaults_and_normalisation(merchant):
    ingest_events(
        merchant=merchant,
        rows=[
            {"type": "refund", "customer": " c1 ", "product": 85123, "quantity": -3, "value": "-7.5"},
            {"type": "email_open", "customer": "c1", "source": "klaviyo"},
        ],
        source="import",
    )
    refund = Event.objects.get(type="refund")
    assert (refund.quantity, refund.value, refund.product_sku) == (3, Decimal("7.50"), "85123")
    assert refund.source == "import" and refund.customer.external_id == "c1"
    assert abs(refund.occurred_at - timezone.now()) < timedelta(minutes=1)
    assert Event.objects.get(type="email_open").source == "klaviyo"


def test_unknown_skus_are_kept_counted_and_linked_when_the_product_arrives(merchant, other_merchant):
    result = ingest_events(
        merchant=merchant,
        rows=[view("c1", "NEW-1"), view("c2", "NEW-1"), view("c1", "NEW-2"), view("c1", "OLD")],
    )
    ProductFactory(merchant=merchant, sku="OLD")
    assert result.unknown_skus == 3  # distinct SKUs; OLD did not exist yet either
    assert Event.objects.filter(merchant=merchant, product__isnull=True).count() == 4

    ProductFactory(merchant=other_merchant, sku="NEW-2")  # another merchant's product never links
    new = ProductFactory(merchant=merchant, sku="NEW-1")
    assert link_unknown_products(merchant.pk) == 3
    assert set(Event.objects.filter(product=new).values_list("customer__external_id", flat=True)) == {
        "c1",
        "c2",
    }
    assert Event.objects.get(product_sku="NEW-2").product is None
    assert link_unknown_products(merchant.pk) == 0
    assert ingest_events(merchant=merchant, rows=[view("c3", "NEW-1")]).unknown_skus == 0


def test_profile_updates_are_queued_after_commit_for_consenting_customers(
    merchant, queued_tasks, django_capture_on_commit_callbacks
):
    CustomerFactory(merchant=merchant, external_id="refuses", consent_profiling=False)
    with django_capture_on_commit_callbacks(execute=True):
        ingest_events(
            merchant=merchant,
            rows=[
                view("c1"),
                view("refuses"),
                view("c2"),
                {"type": "search", "session_id": "s", "query": "q"},
            ],
        )
    ids = sorted(Customer.objects.filter(external_id__in=["c1", "c2"]).values_list("pk", flat=True))
    assert queued_tasks() == [("profiles.tasks.update_profiles_task", [merchant.pk, ids])]


def test_profile_updates_skip_duplicates_and_come_in_chunks(
    merchant, queued_tasks, django_capture_on_commit_callbacks, monkeypatch
):
    ingest_events(merchant=merchant, rows=[view("c0", idempotency_key="seen")])
    monkeypatch.setattr(ingest, "PROFILE_TASK_CHUNK", 2)
    with django_capture_on_commit_callbacks(execute=True):
        ingest_events(
            merchant=merchant,
            rows=[view("c0", idempotency_key="seen")] + [view(f"c{i}") for i in range(1, 6)],
        )
    tasks = queued_tasks()
    assert [len(args[1]) for _, args in tasks] == [2, 2, 1]
    queued = [pk for _, args in tasks for pk in args[1]]
    assert queued == sorted(Customer.objects.exclude(external_id="c0").values_list("pk", flat=True))


def test_nothing_is_queued_when_nothing_is_inserted(
    merchant, queued_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ingest_events(merchant=merchant, rows=[{"type": "view"}])
    assert queued_tasks() == []


def test_the_portable_writer_gives_the_same_results_as_the_copy_path(merchant, other_merchant):
    """The SQLite path (ORM, bulk_create) run on PostgreSQL next to the COPY path, on the same batch."""
    rows = [
        view("c1", "SKU-1", idempotency_key="k1", occurred_at="2025-01-02T00:00:00Z"),
        view("c1", "SKU-1", idempotency_key="k1"),
        view("c2", "GONE", occurred_at="2025-01-01T00:00:00Z"),
        {"type": "search", "session_id": "s", "query": "hat", "idempotency_key": "k2"},
        view("refuses", "SKU-1", value="3.5", properties={"a": 1}),
    ]
    outcomes = []
    now = timezone.now()
    for shop, write in ((merchant, ingest._write_postgres), (other_merchant, ingest._write_portable)):
        ProductFactory(merchant=shop, sku="SKU-1")
        CustomerFactory(merchant=shop, external_id="refuses", consent_profiling=False)
        ingest_events(
            merchant=shop, rows=[{"type": "email_open", "session_id": "s", "idempotency_key": "k2"}]
        )
        events = [ingest.clean_event(row, i, now, "api")[0] for i, row in enumerate(rows)]
        result = ingest.IngestResult(received=len(rows))
        with transaction.atomic():
            touched = write(shop, events, now, result)
        customers = Customer.objects.filter(merchant=shop)
        outcomes.append(
            (
                result.as_dict(),
                sorted(customers.get(pk=pk).external_id for pk in touched),
                sorted(
                    Event.objects.filter(merchant=shop).values_list(
                        "customer__external_id", "product__sku", "product_sku", "value", "properties"
                    ),
                    key=str,
                ),
                sorted(customers.values_list("external_id", "first_seen_at", "last_seen_at")),
            )
        )
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == {
        "received": 5,
        "inserted": 3,
        "duplicates": 2,
        "rejected": 0,
        "unknown_skus": 1,
        "customers_created": 2,
        "errors": [],
    }
    assert outcomes[0][1] == ["c1", "c2"]
