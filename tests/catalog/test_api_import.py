import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import AuditLog
from catalog.models import Product, ProductImport

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/import/"
MYNTRA = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "datasets"
    / "myntra_fashion_catalog"
    / "myntra_products_catalog.csv"
)

CSV = (
    "ProductID,ProductName,ProductBrand,Gender,Price (INR),NumImages,Description,PrimaryColor\n"
    "10017413,DKNY Unisex Trolley Bag,DKNY,Unisex,11745,7,Black and grey trolley bag, Black\n"
    '10016283,EthnoVogue Kurta Set,EthnoVogue,Women,"5,810",7,<b>Beige</b> kurta, Beige\n'
    "10009781,SPYKAR Jeans,SPYKAR,Men,-899,7,Dark blue jeans, Blue\n"
    "10017413,DKNY again,DKNY,Unisex,100,7,Duplicate, Black\n"
)


def upload(client, content: bytes | str, name="products.csv", **form):
    content = content.encode() if isinstance(content, str) else content
    return client.post(URL, {"file": SimpleUploadedFile(name, content), **form}, format="multipart")


def raw(client, content: bytes | str, content_type="text/csv", query=""):
    content = content.encode() if isinstance(content, str) else content
    return client.generic("POST", f"{URL}{query}", content, content_type=content_type)


# --- access ------------------------------------------------------------------------------------------------


def test_missing_key_is_401():
    assert upload(APIClient(), CSV).status_code == 401


def test_read_only_key_is_403(make_api_client, merchant):
    response = upload(make_api_client(merchant, scopes=["read"]), CSV)
    assert response.status_code == 403
    assert not Product.objects.exists()


def test_get_is_not_allowed(api_client):
    assert api_client.get(URL).status_code == 405


# --- happy paths -------------------------------------------------------------------------------------------


def test_multipart_import_applies_and_reports(api_client, merchant):
    response = upload(api_client, CSV)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "applied" and body["dry_run"] is False
    assert (body["total_rows"], body["created_count"], body["updated_count"], body["error_count"]) == (
        4,
        2,
        0,
        2,
    )
    assert body["filename"] == "products.csv" and body["file_format"] == "csv"
    assert body["columns"]["Price (INR)"] == "price"
    assert body["columns"]["PrimaryColor"] == "attributes.primary_color"
    assert body["errors"] == [
        {"line": 4, "sku": "10009781", "errors": {"price": "A price cannot be negative (got -899)."}},
        {"line": 5, "sku": "10017413", "errors": {"sku": "Duplicate SKU: already on line 2 of this file."}},
    ]
    assert body["preview"][1] == {
        "line": 3,
        "sku": "10016283",
        "title": "EthnoVogue Kurta Set",
        "brand": "EthnoVogue",
        "category": "",
        "price": "5810.00",
        "currency": "INR",
        "action": "create",
    }
    kurta = Product.objects.get(merchant=merchant, sku="10016283")
    assert (kurta.description, kurta.attributes) == (
        "<b>Beige</b> kurta",
        {"gender": "Women", "num_images": "7", "primary_color": "Beige"},
    )
    assert kurta.category is None and body["columns"]["Gender"] == "attributes.gender"
    assert AuditLog.objects.filter(
        merchant=merchant, action="product.import", object_id=str(body["id"])
    ).exists()


def test_raw_csv_body_and_reimport_is_idempotent(api_client, merchant):
    first = raw(api_client, CSV, query="?filename=myntra.csv").json()
    assert (first["created_count"], first["updated_count"], first["filename"]) == (2, 0, "myntra.csv")
    before = list(Product.objects.filter(merchant=merchant).order_by("sku").values())
    second = raw(api_client, CSV).json()
    assert (
        second["created_count"],
        second["updated_count"],
        second["unchanged_count"],
        second["error_count"],
    ) == (0, 0, 2, 2)
    assert {row["action"] for row in second["preview"]} == {"unchanged"}
    # Unchanged rows are not rewritten: not even updated_at moves.
    assert list(Product.objects.filter(merchant=merchant).order_by("sku").values()) == before

    changed = CSV.replace("DKNY Unisex Trolley Bag", "DKNY Unisex Trolley Bag 2.0")
    third = raw(api_client, changed, query="?dry_run=true").json()
    assert (third["created_count"], third["updated_count"], third["unchanged_count"]) == (0, 1, 1)
    assert [row["action"] for row in third["preview"]] == ["update", "unchanged"]


def test_raw_json_body(api_client, merchant):
    payload = [
        {"sku": "A-1", "title": "Mug", "price": 3.5, "category": "Kitchen", "attributes": {"color": "red"}},
        {"sku": "A-2", "title": "Cup", "price": "two"},
    ]
    response = raw(api_client, json.dumps(payload), content_type="application/json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["file_format"] == "json"
    assert body["errors"] == [{"line": 2, "sku": "A-2", "errors": {"price": "'two' is not a price."}}]
    assert Product.objects.get(merchant=merchant, sku="A-1").attributes == {"color": "red"}


@pytest.mark.parametrize("how", ["query", "form"])
def test_dry_run_writes_no_products(api_client, merchant, how):
    if how == "query":
        response = api_client.post(f"{URL}?dry_run=true", {"file": SimpleUploadedFile("p.csv", CSV.encode())})
    else:
        response = upload(api_client, CSV, dry_run="true")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["dry_run"], body["created_count"], body["error_count"]) == (
        "previewed",
        True,
        2,
        2,
    )
    assert [row["action"] for row in body["preview"]] == ["create", "create"]
    assert not Product.objects.exists()
    assert ProductImport.objects.filter(merchant=merchant, dry_run=True).count() == 1


def test_bad_dry_run_value_is_400(api_client):
    response = raw(api_client, CSV, query="?dry_run=perhaps")
    assert response.status_code == 400
    assert "dry_run" in response.json()["field_errors"]


def test_nothing_valid_is_200_rejected(api_client):
    body = raw(api_client, "sku,title,price\nA,Mug,free\n").json()
    assert (body["status"], body["created_count"], body["error_count"]) == ("rejected", 0, 1)


# --- bad files ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, name, code, phrase",
    [
        (b"", "p.csv", "empty_file", "empty"),
        (b"sku,title,price\n", "p.csv", "no_rows", "no product rows"),
        (
            b"colour,cost\nred,3\n",
            "p.csv",
            "missing_columns",
            "Missing required column(s): sku, title, price",
        ),
        (bytes(range(128, 256)) * 40 + b"\x00" * 50, "p.csv", "bad_encoding", "UTF-8"),
        (b'{"sku": "A", "title": "Mug", "price": 1}', "p.json", "not_a_list", "list of product objects"),
        (b'[{"sku": "A",', "p.json", "malformed_json", "not valid JSON"),
        (b"PK\x03\x04 zipped", "p.xlsx", "unsupported_format", "Excel"),
        (b"<products/>", "p.xml", "unknown_format", ".xml"),
    ],
)
def test_file_level_problems_are_400_with_message_and_code(api_client, content, name, code, phrase):
    response = upload(api_client, content, name=name)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert phrase in body["message"]
    assert body["field_errors"] == {"file": [body["message"]]}
    assert not ProductImport.objects.exists() and not Product.objects.exists()


def test_missing_file_field_is_400(api_client):
    response = api_client.post(URL, {"dry_run": "true"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["field_errors"]


def test_empty_raw_body_is_400(api_client):
    response = raw(api_client, b"")
    assert response.status_code == 400
    assert response.json()["code"] == "empty_file"


def test_unsupported_content_type_is_415(api_client):
    response = raw(api_client, "sku,title,price\nA,Mug,1\n", content_type="application/xml")
    assert response.status_code == 415


@override_settings(CATALOG_IMPORT_MAX_BYTES=200)
def test_file_over_the_limit_is_413(api_client):
    big = "sku,title,price\n" + "".join(f"SKU-{i},Product {i},1\n" for i in range(40))
    for response in (upload(api_client, big), raw(api_client, big)):
        assert response.status_code == 413
        body = response.json()
        assert body["code"] == "payload_too_large"
        assert "limit" in body["message"]
    assert not Product.objects.exists()


@override_settings(CATALOG_IMPORT_MAX_BYTES=100)
def test_oversized_body_is_refused_from_content_length_without_reading_it(api_client):
    class Unreadable:
        def read(self, *args):
            raise AssertionError("the body was read")

        readline = read

    response = api_client.generic(
        "POST", URL, b"", content_type="text/csv", CONTENT_LENGTH="5000", **{"wsgi.input": Unreadable()}
    )
    assert response.status_code == 413


@pytest.mark.skipif(not MYNTRA.exists(), reason=f"shared dataset not present at {MYNTRA}")
def test_real_myntra_file_through_the_api(api_client, merchant):
    response = upload(api_client, MYNTRA.read_bytes(), name=MYNTRA.name)
    assert response.status_code == 200
    body = response.json()
    assert (body["total_rows"], body["created_count"], body["error_count"]) == (12491, 12491, 0)
    assert Product.objects.filter(merchant=merchant).count() == 12491
    assert set(Product.objects.filter(merchant=merchant).values_list("currency", flat=True)) == {"INR"}
    assert not Product.objects.filter(merchant=merchant, category__isnull=False).exists()
    genders = Product.objects.filter(merchant=merchant).values_list("attributes__gender", flat=True)
    assert set(genders) == {"Women", "Men", "Unisex", "Boys", "Girls", "Unisex Kids"}

    again = upload(api_client, MYNTRA.read_bytes(), name=MYNTRA.name, dry_run="true").json()
    assert (again["created_count"], again["updated_count"], again["unchanged_count"]) == (0, 0, 12491)
