from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.models import AuditLog
from catalog.models import Product
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"


def detail(product) -> str:
    return f"{URL}{product.pk}/"


@pytest.fixture
def mug(merchant):
    return ProductFactory(
        merchant=merchant,
        sku="MUG-1",
        title="Enamel mug",
        brand="Northwind",
        price=Decimal("12.50"),
        category=CategoryFactory(merchant=merchant, name="Kitchen", slug="kitchen"),
    )


@pytest.fixture
def their_product(other_merchant):
    return ProductFactory(merchant=other_merchant, sku="THEIRS-1", title="Their product")


# --- access ------------------------------------------------------------------------------------------------


def test_missing_key_is_401(mug):
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_read_only_key_can_list_but_not_write(make_api_client, merchant, mug):
    client = make_api_client(merchant, scopes=["read"])
    assert client.get(URL).status_code == 200
    response = client.post(URL, {"sku": "NEW", "title": "New", "price": "1.00"}, format="json")
    assert response.status_code == 403
    assert "'write' scope" in response.json()["message"]
    assert client.patch(detail(mug), {"title": "x"}, format="json").status_code == 403
    assert client.delete(detail(mug)).status_code == 403
    assert Product.objects.filter(merchant=merchant).count() == 1


def test_write_only_key_cannot_read(make_api_client, merchant, mug):
    assert make_api_client(merchant, scopes=["write"]).get(URL).status_code == 403


def test_list_shows_only_own_products(api_client, mug, their_product):
    body = api_client.get(URL).json()
    assert body["count"] == 1
    assert [p["sku"] for p in body["results"]] == ["MUG-1"]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_another_merchants_product_is_404(api_client, their_product, method):
    payload = {"sku": "X", "title": "Taken over", "price": "1.00"}
    response = getattr(api_client, method)(detail(their_product), payload, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    their_product.refresh_from_db()
    assert their_product.title == "Their product"


# --- CRUD --------------------------------------------------------------------------------------------------


def test_retrieve_shape(api_client, mug):
    body = api_client.get(detail(mug)).json()
    assert body == {
        "id": mug.pk,
        "sku": "MUG-1",
        "title": "Enamel mug",
        "brand": "Northwind",
        "category": "Kitchen",
        "category_slug": "kitchen",
        "price": "12.50",
        "currency": "USD",
        "attributes": {"material": "stainless steel", "capacity": "750 ml"},
        "description": mug.description,
        "url": "",
        "stock": 12,
        "in_stock": True,
        "is_active": True,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }


def test_create_product(api_client, merchant):
    response = api_client.post(
        URL,
        {
            "sku": "TOTE-1",
            "title": "Canvas tote",
            "price": "19.90",
            "currency": "eur",
            "category": "Bags",
            "attributes": {"color": "natural"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["sku"], body["price"], body["currency"], body["category"], body["category_slug"]) == (
        "TOTE-1",
        "19.90",
        "EUR",
        "Bags",
        "bags",
    )
    product = Product.objects.get(pk=body["id"])
    assert product.merchant == merchant
    assert AuditLog.objects.filter(action="product.create", object_id=str(product.pk)).exists()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"price": "-1"}, "price"),
        ({"price": "abc"}, "price"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "E1$"}, "currency"),
        ({"sku": ""}, "sku"),
        ({"stock": -1}, "stock"),
        ({"attributes": ["red"]}, "attributes"),
        ({"category": 5}, "category"),
    ],
)
def test_create_validation_errors_are_400_with_field_errors(api_client, payload, field):
    response = api_client.post(URL, {"sku": "A", "title": "Mug", "price": "1.00", **payload}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["field_errors"]
    assert not Product.objects.exists()


def test_duplicate_sku_is_400_on_sku(api_client, mug):
    response = api_client.post(URL, {"sku": "MUG-1", "title": "Another", "price": "1.00"}, format="json")
    assert response.status_code == 400
    assert response.json()["field_errors"] == {"sku": ["A product with SKU 'MUG-1' already exists."]}


def test_same_sku_as_another_merchant_is_fine(api_client, their_product):
    response = api_client.post(URL, {"sku": "THEIRS-1", "title": "Mine", "price": "1.00"}, format="json")
    assert response.status_code == 201


def test_patch_changes_given_fields(api_client, mug):
    response = api_client.patch(detail(mug), {"price": "14.00", "category": None}, format="json")
    assert response.status_code == 200, response.json()
    mug.refresh_from_db()
    assert (mug.price, mug.category, mug.title) == (Decimal("14.00"), None, "Enamel mug")
    assert response.json()["category"] is None


def test_put_replaces(api_client, mug):
    response = api_client.put(
        detail(mug), {"sku": "MUG-2", "title": "Big mug", "price": "15.00", "stock": None}, format="json"
    )
    assert response.status_code == 200, response.json()
    mug.refresh_from_db()
    assert (mug.sku, mug.title, mug.stock) == ("MUG-2", "Big mug", None)


def test_delete(api_client, mug):
    assert api_client.delete(detail(mug)).status_code == 204
    assert not Product.objects.filter(pk=mug.pk).exists()
    assert AuditLog.objects.filter(action="product.delete", object_id=str(mug.pk)).exists()


# --- filtering, search, ordering, pagination ---------------------------------------------------------------


@pytest.fixture
def shelf(merchant, mug):
    bags = CategoryFactory(merchant=merchant, name="Bags", slug="bags")
    ProductFactory(
        merchant=merchant,
        sku="TOTE-1",
        title="Canvas tote",
        brand="Acme",
        price=Decimal("19.90"),
        category=bags,
    )
    ProductFactory(
        merchant=merchant,
        sku="BAG-2",
        title="Leather bag",
        brand="acme",
        price=Decimal("120.00"),
        currency="EUR",
        category=bags,
        is_active=False,
        description="Full-grain leather",
    )
    ProductFactory(merchant=merchant, sku="CUP-1", title="Paper cup", brand="Zeta", price=Decimal("0.50"))


def listed(client, query: str) -> list[str]:
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 200, response.json()
    return [p["sku"] for p in response.json()["results"]]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("brand=ACME", ["TOTE-1", "BAG-2"]),
        ("category=bags", ["TOTE-1", "BAG-2"]),
        ("is_active=false", ["BAG-2"]),
        ("min_price=10&max_price=20", ["MUG-1", "TOTE-1"]),
        ("currency=eur", ["BAG-2"]),
        ("search=leather", ["BAG-2"]),
        ("search=grain", ["BAG-2"]),
        ("search=mug-1", ["MUG-1"]),
        ("search=acme tote", ["TOTE-1"]),
        ("ordering=-price", ["BAG-2", "TOTE-1", "MUG-1", "CUP-1"]),
        ("ordering=price", ["CUP-1", "MUG-1", "TOTE-1", "BAG-2"]),
    ],
)
def test_filters_search_and_ordering(api_client, shelf, query, expected):
    result = listed(api_client, query)
    if "ordering" in query:
        assert result == expected
    else:
        assert sorted(result) == sorted(expected)


def test_bad_filter_value_is_400(api_client, shelf):
    response = api_client.get(f"{URL}?min_price=cheap")
    assert response.status_code == 400
    assert "min_price" in response.json()["field_errors"]


def test_pagination(api_client, merchant):
    ProductFactory.create_batch(7, merchant=merchant)
    body = api_client.get(f"{URL}?page_size=3&page=2").json()
    assert body["count"] == 7 and len(body["results"]) == 3
    assert body["next"] and body["previous"]


def test_schema_documents_the_catalog_endpoints():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert {"/api/v1/products/", "/api/v1/products/{id}/", "/api/v1/products/import/"} <= set(schema["paths"])
    list_params = {p["name"] for p in schema["paths"]["/api/v1/products/"]["get"]["parameters"]}
    assert {
        "brand",
        "category",
        "is_active",
        "min_price",
        "max_price",
        "currency",
        "search",
        "ordering",
        "page",
    } <= list_params
    import_op = schema["paths"]["/api/v1/products/import/"]["post"]
    assert set(import_op["requestBody"]["content"]) == {"multipart/form-data", "text/csv", "application/json"}
    assert {"200", "400", "413"} <= set(import_op["responses"])
