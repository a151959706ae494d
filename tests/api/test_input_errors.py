"""Bad input never answers 5xx: each cause schemathesis found gets the documented JSON error (or, on the
dashboard, a 400 page). One test per cause, plus the JSON 404/405 for paths and methods the API lacks."""

import json

import pytest
from django.conf import settings
from django.urls import reverse

from catalog.models import Product
from marketing.models import Campaign, ContentPiece
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code and body["message"]
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/models/abc/"),
        ("post", "/api/v1/models/abc/promote/"),
        ("get", "/api/v1/jobs/abc/"),
        ("post", "/api/v1/jobs/abc/cancel/"),
        ("get", "/api/v1/models/99999999999999999999999/"),
        ("get", "/api/v1/jobs/-1/"),
    ],
)
def test_ids_of_the_wrong_type_answer_404(api_client, method, path):
    assert_error(getattr(api_client, method)(path, {}, format="json"), 404, "not_found")


def _too_many_fields() -> str:
    return "&".join(f"field{i}=x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))


@pytest.fixture
def campaign(merchant):
    return Campaign.objects.create(merchant=merchant, name="Spring launch", channel="product_description")


@pytest.mark.parametrize("method", ["post-bulk-approve", "patch-campaign", "put-campaign"])
def test_too_many_form_fields_answer_400(api_client, campaign, method):
    verb, _, target = method.partition("-")
    path = (
        "/api/v1/contents/bulk-approve/" if target == "bulk-approve" else f"/api/v1/campaigns/{campaign.pk}/"
    )
    response = getattr(api_client, verb)(
        path, _too_many_fields(), content_type="application/x-www-form-urlencoded"
    )
    body = assert_error(response, 400, "too_many_fields")
    assert str(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS) in body["message"]
    campaign.refresh_from_db()
    assert campaign.name == "Spring launch"


def test_too_many_multipart_fields_answer_400(api_client):
    fields = {f"field{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    assert_error(api_client.post("/api/v1/contents/bulk-approve/", fields), 400, "too_many_fields")


def test_json_body_over_the_upload_limit_answers_413(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = (
        1024 * 1024
    )  # the 25 MiB default, scaled down to keep the test quick
    body = json.dumps({"sku": "BIG-1", "title": "Big", "price": "1.00", "description": "x" * (1024 * 1024)})
    response = api_client.post("/api/v1/products/", body, content_type="application/json")
    assert_error(response, 413, "payload_too_large")
    assert not Product.objects.filter(sku="BIG-1").exists()


def test_json_body_of_25_mib_answers_413(api_client):
    body = (
        b'{"sku": "BIG-2", "title": "Big", "price": "1.00", "description": "'
        + b"x" * (25 * 1024 * 1024)
        + b'"}'
    )
    assert_error(
        api_client.post("/api/v1/products/", body, content_type="application/json"), 413, "payload_too_large"
    )


def _nested(depth: int):
    value = "deep"
    for _ in range(depth):
        value = {"a": value}
    return value


def test_json_nested_5000_deep_answers_400(api_client):
    # Built as text: json.dumps would hit the recursion limit itself.
    text = (
        '{"sku": "DEEP-1", "title": "Deep", "price": "1.00", "attributes": '
        + '{"a": ' * 5000
        + '"deep"'
        + "}" * 5001
    )
    body = assert_error(
        api_client.post("/api/v1/products/", text, content_type="application/json"), 400, "too_deep"
    )
    assert "32" in body["message"]
    assert not Product.objects.filter(sku="DEEP-1").exists()


def test_json_nesting_limit_is_32_levels(api_client):
    # The body object is level 1; `attributes` holding 31 nested objects reaches level 32, the limit.
    ok = {"sku": "DEEP-2", "title": "Deep", "price": "1.00", "attributes": _nested(31)}
    assert api_client.post("/api/v1/products/", ok, format="json").status_code == 201
    too_deep = {**ok, "sku": "DEEP-3", "attributes": _nested(32)}
    assert_error(api_client.post("/api/v1/products/", too_deep, format="json"), 400, "too_deep")
    assert_error(
        api_client.post("/api/v1/products/", "[" * 40 + "]" * 40, content_type="application/json"),
        400,
        "too_deep",
    )


def test_brackets_inside_json_strings_do_not_count_as_nesting(api_client):
    ok = {"sku": "DEEP-4", "title": "[" * 100 + '"{' * 50, "price": "1.00", "attributes": {"note": "{" * 200}}
    assert api_client.post("/api/v1/products/", ok, format="json").status_code == 201


def test_malformed_json_answers_400(api_client):
    assert_error(
        api_client.post("/api/v1/products/", '{"sku": ', content_type="application/json"), 400, "parse_error"
    )


@pytest.mark.parametrize(
    "path", ["/api/v1/", "/api/v1/nope/", "/api/v1/webhooks/0.5/", "/api/v1/products/1/x/", "/api/"]
)
def test_unknown_api_paths_answer_json_404(api_client, path):
    assert_error(api_client.get(path), 404, "not_found")
    assert_error(api_client.post(path, {}, format="json"), 404, "not_found")


def test_unknown_api_paths_answer_json_404_without_a_key(client):
    assert_error(client.get("/api/v1/nope/"), 404, "not_found")


def test_dashboard_paths_keep_the_html_404_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_api_paths_without_the_trailing_slash_still_redirect(api_client):
    response = api_client.get("/api/v1/products")
    assert response.status_code == 301 and response["Location"].endswith("/api/v1/products/")


@pytest.mark.parametrize(
    ("method", "path"), [("delete", "/api/v1/me/"), ("put", "/api/v1/products/"), ("post", "/api/v1/jobs/")]
)
def test_wrong_methods_answer_json_405(api_client, method, path):
    response = getattr(api_client, method)(path, {}, format="json")
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"]


@pytest.mark.parametrize("page_size", ["abc", "1.5", "0", "-3", ""])
def test_page_size_that_is_not_a_positive_integer_answers_400(api_client, page_size):
    body = assert_error(api_client.get("/api/v1/products/", {"page_size": page_size}), 400, "invalid")
    assert "page_size" in body["field_errors"]


def test_page_size_over_the_maximum_is_capped(api_client, merchant):
    ProductFactory.create_batch(3, merchant=merchant)
    response = api_client.get("/api/v1/products/", {"page_size": 100000})
    assert response.status_code == 200 and len(response.json()["results"]) == 3
    assert len(api_client.get("/api/v1/products/", {"page_size": 2}).json()["results"]) == 2


def test_product_patch_answers_the_full_product(api_client, merchant):
    product = ProductFactory(merchant=merchant, category=None)
    body = api_client.patch(f"/api/v1/products/{product.pk}/", {"stock": 3}, format="json").json()
    assert body["category_slug"] is None and body["stock"] == 3


def test_dashboard_bulk_form_with_too_many_fields_answers_400(client, owner, merchant):
    campaign = Campaign.objects.create(merchant=merchant, name="Spring launch", channel="product_description")
    piece = ContentPiece.objects.create(
        merchant=merchant,
        campaign=campaign,
        product=ProductFactory(merchant=merchant),
        body="Copy",
        status="in_review",
        approvable=True,
    )
    client.force_login(owner)
    response = client.post(
        reverse("marketing:bulk_approve"),
        _too_many_fields() + f"&action=selected&ids={piece.pk}",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
    piece.refresh_from_db()
    assert piece.status == "in_review"
