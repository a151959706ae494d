"""POST/GET /api/v1/events/: body shapes, limits, reports, scopes, tenant isolation, and unknown SKUs linked
once the product is created through the catalog API."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from profiles.api import events as events_api
from profiles.models import Customer, Event
from profiles.tasks import link_unknown_products_task
from tests.factories import CustomerFactory, EventFactory, ProductFactory

URL = "/api/v1/events/"


def post_json(client, body, content_type="application/json"):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(URL, data=data, content_type=content_type)


def event(i=0, **extra):
    return {"type": "view", "customer": f"c{i % 3}", "product": f"SKU-{i % 5}", **extra}


@pytest.mark.parametrize(
    "body",
    [
        event(idempotency_key="one"),
        [event(idempotency_key="one")],
        {"events": [event(idempotency_key="one")]},
    ],
    ids=["object", "array", "wrapped"],
)
def test_one_event_in_any_json_shape(api_client, merchant, body):
    response = post_json(api_client, body)
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "received": 1,
        "inserted": 1,
        "duplicates": 0,
        "rejected": 0,
        "unknown_skus": 1,
        "customers_created": 1,
        "errors": [],
    }
    assert Event.objects.filter(merchant=merchant, idempotency_key="one").count() == 1


def test_a_batch_with_duplicates_and_bad_events(api_client, merchant):
    ProductFactory(merchant=merchant, sku="SKU-0")
    batch = [event(i, idempotency_key=f"k{i}") for i in range(10)]
    batch[3] = {"type": "view", "customer": "c1"}  # no product
    batch[7]["idempotency_key"] = "k2"  # repeats an earlier event of the batch
    batch.append({"type": "teleport", "customer": "c1", "quantity": "many"})
    response = post_json(api_client, batch)
    body = response.json()
    assert response.status_code == 200
    assert (body["received"], body["inserted"], body["duplicates"], body["rejected"]) == (11, 8, 1, 2)
    assert body["unknown_skus"] == 4
    assert body["errors"] == [
        {"index": 3, "errors": {"product": ["A view event needs the product's SKU."]}},
        {
            "index": 10,
            "errors": {
                "type": [
                    "Unknown type; one of: view, search, add_to_cart, purchase, refund, review, email_open, "
                    "email_click, recommendation_click."
                ],
                "quantity": ["Must be a whole number."],
            },
        },
    ]
    again = post_json(api_client, batch).json()
    assert (again["inserted"], again["duplicates"], again["rejected"]) == (0, 9, 2)
    assert Event.objects.filter(merchant=merchant).count() == 8


def test_ndjson(api_client, merchant):
    lines = "\n".join(json.dumps(event(i)) for i in range(4)) + "\n\n"
    response = post_json(api_client, lines, content_type="application/x-ndjson")
    assert response.status_code == 200 and response.json()["inserted"] == 4
    bad = json.dumps(event()) + "\n{not json\n"
    response = post_json(api_client, bad, content_type="application/x-ndjson")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Line 2 is not valid JSON")
    assert Event.objects.filter(merchant=merchant).count() == 4


def test_no_valid_event_is_a_400_with_the_report(api_client, merchant):
    response = post_json(api_client, [{"type": "view"}, "x"])
    body = response.json()
    assert response.status_code == 400
    assert body["code"] == "invalid" and body["rejected"] == 2 and body["inserted"] == 0
    assert [e["index"] for e in body["errors"]] == [0, 1]
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"{not json", "application/json", "The body is not valid JSON"),
        (b"", "application/json", "The body is empty"),
        (b'"view"', "application/json", "Send one event"),
        (b'{"events": {"type": "view"}}', "application/json", "Send one event"),
        (b"\xff\xfe\x00", "application/json", "not valid JSON"),
        (b"[" * 100_000, "application/json", "nested too deeply"),
    ],
)
def test_malformed_bodies_are_400(api_client, body, content_type, message):
    response = post_json(api_client, body, content_type=content_type)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_other_content_types_are_415(api_client):
    response = api_client.post(URL, data="type=view", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_over_10000_events_is_413_and_nothing_is_written(api_client, merchant):
    batch = [{"type": "email_open", "customer": "c"}] * 10_001
    response = post_json(api_client, batch)
    assert response.status_code == 413
    assert response.json() == {
        "message": "10,001 events. At most 10,000 events per request; send the rest in further requests.",
        "code": "payload_too_large",
    }
    ndjson = "\n".join(['{"type": "email_open", "customer": "c"}'] * 10_001)
    assert post_json(api_client, ndjson, content_type="application/x-ndjson").status_code == 413
    assert not Event.objects.exists()
    assert post_json(api_client, batch[:10_000]).json()["inserted"] == 10_000


def test_a_body_over_the_byte_limit_is_413_before_it_is_read(api_client, monkeypatch):
    monkeypatch.setattr(events_api, "MAX_BODY_BYTES", 1000)
    response = post_json(api_client, [event(i, properties={"pad": "x" * 50}) for i in range(20)])
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_a_read_key_cannot_post_and_no_key_is_401(make_api_client, merchant, client):
    reader = make_api_client(merchant, scopes=("read",))
    assert post_json(reader, [event()]).status_code == 403
    assert reader.get(URL).status_code == 200
    assert client.post(URL, data="[]", content_type="application/json").status_code == 401
    assert not Event.objects.exists()


def test_list_is_newest_first_with_a_cursor_and_filters(api_client, merchant):
    customer = CustomerFactory(merchant=merchant, external_id="c-1")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for day in range(5):
        EventFactory(customer=customer, type="view", occurred_at=start + timedelta(days=day), product_sku="A")
    EventFactory(
        customer=CustomerFactory(merchant=merchant), type="purchase", occurred_at=start, order_id="o1"
    )
    Event.objects.create(merchant=merchant, type="search", session_id="s-1", query="hat", occurred_at=start)

    page = api_client.get(URL, {"page_size": 2}).json()
    assert [e["occurred_at"][:10] for e in page["results"]] == ["2025-01-05", "2025-01-04"]
    assert page["results"][0]["customer"] == "c-1" and page["results"][0]["product"] == "A"
    second = api_client.get(page["next"]).json()
    assert [e["occurred_at"][:10] for e in second["results"]] == ["2025-01-03", "2025-01-02"]

    def ids(**params):
        return len(api_client.get(URL, params).json()["results"])

    assert ids(customer="c-1") == 5
    assert ids(type="purchase") == 1
    assert ids(type=["purchase", "search"]) == 2
    assert ids(since="2025-01-03T00:00:00Z") == 3
    assert ids(until="2025-01-02T00:00:00Z") == 3
    assert ids(session_id="s-1") == 1
    assert ids(order_id="o1") == 1
    assert api_client.get(URL, {"since": "soon"}).status_code == 400
    assert api_client.get(URL, {"type": "teleport"}).status_code == 400


def test_another_merchants_events_are_invisible(api_client, outsider_api_client, merchant, other_merchant):
    theirs = CustomerFactory(merchant=other_merchant, external_id="shared-id")
    EventFactory(customer=theirs)
    post_json(api_client, [{"type": "email_open", "customer": "shared-id"}])
    mine = api_client.get(URL).json()["results"]
    assert len(mine) == 1 and mine[0]["type"] == "email_open"
    assert len(api_client.get(URL, {"customer": "shared-id"}).json()["results"]) == 1
    assert len(outsider_api_client.get(URL).json()["results"]) == 1
    assert Customer.objects.get(merchant=merchant, external_id="shared-id") != theirs


def test_unknown_sku_is_linked_when_the_product_is_created_through_the_catalog_api(
    api_client,
    merchant,
    queued_tasks,
    django_capture_on_commit_callbacks,
):
    post_json(api_client, [event(0, product="LATER-1"), event(1, product="LATER-1")])
    assert Event.objects.filter(product_sku="LATER-1", product__isnull=True).count() == 2

    product = {"sku": "LATER-1", "title": "Late arrival", "price": "9.50"}
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.post("/api/v1/products/", product, format="json").status_code == 201
    tasks = queued_tasks()
    assert ("profiles.tasks.link_unknown_products_task", [merchant.pk]) in tasks

    with django_capture_on_commit_callbacks(execute=True):
        assert link_unknown_products_task.apply(args=[merchant.pk]).get() == 2
    linked = Event.objects.filter(product__sku="LATER-1", product__merchant=merchant)
    assert linked.count() == 2
    listed = api_client.get(URL).json()["results"]
    assert {e["product_id"] for e in listed} == {linked.first().product_id}
    # Their profiles change (affinities): queued for the worker.
    customers = sorted(Customer.objects.filter(merchant=merchant).values_list("pk", flat=True))
    assert ("profiles.tasks.update_profiles_task", [merchant.pk, customers]) in queued_tasks()


def test_products_without_unlinked_events_queue_nothing(
    api_client,
    merchant,
    queued_tasks,
    django_capture_on_commit_callbacks,
):
    ProductFactory(merchant=merchant, sku="HAS-1")
    post_json(api_client, [event(0, product="HAS-1")])
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post("/api/v1/products/", {"sku": "X", "title": "X", "price": "1"}, format="json")
    assert not [name for name, _ in queued_tasks() if name.endswith("link_unknown_products_task")]


def test_products_arriving_by_import_or_sku_change_queue_the_linking(
    api_client,
    merchant,
    queued_tasks,
    django_capture_on_commit_callbacks,
):
    post_json(api_client, [event(0, product="IMPORTED-1"), event(1, product="RENAMED-1")])
    csv = b"sku,title,price\nIMPORTED-1,Imported,5.00\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/products/import/", data=csv, content_type="text/csv")
    assert response.status_code == 200 and response.json()["created_count"] == 1
    assert queued_tasks() == [("profiles.tasks.link_unknown_products_task", [merchant.pk])]
    assert link_unknown_products_task.apply(args=[merchant.pk]).get() == 1

    product = ProductFactory(merchant=merchant, sku="OLD-SKU")
    with django_capture_on_commit_callbacks(execute=True):
        api_client.patch(f"/api/v1/products/{product.pk}/", {"title": "Same SKU"}, format="json")
    assert [name for name, _ in queued_tasks()].count("profiles.tasks.link_unknown_products_task") == 1
    with django_capture_on_commit_callbacks(execute=True):
        api_client.patch(f"/api/v1/products/{product.pk}/", {"sku": "RENAMED-1"}, format="json")
    assert [name for name, _ in queued_tasks()].count("profiles.tasks.link_unknown_products_task") == 2
    assert link_unknown_products_task.apply(args=[merchant.pk]).get() == 1
    assert not Event.objects.filter(merchant=merchant, product__isnull=True).exists()
