"""The import endpoints: customers/import/, events/import/, imports/ and imports/{id}/ — uploads (multipart
and raw), dry runs, mappings, errors, size limits, scopes and tenant isolation."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from profiles.models import Customer, Event, ImportRun

pytestmark = pytest.mark.django_db

CUSTOMERS_URL = "/api/v1/customers/import/"
EVENTS_URL = "/api/v1/events/import/"
IMPORTS_URL = "/api/v1/imports/"
CSV = (
    "Customer ID,First Name,Email,Accepts Email Marketing\n7204,Maya,maya@example.com,yes\n7205,Omar,bad,no\n"
)
ORDERS = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "1001,A-1,Mug,2,2024-03-01 10:00:00,4.50,501.0,Norway\n"
    "C1002,A-1,Mug,-1,2024-03-02 10:00:00,4.50,501.0,Norway\n"
    "1003,A-2,Plate,2,not a date,4.50,,Norway\n"
)


def upload(client, url, content, name="customers.csv", query="", **form):
    content = content.encode() if isinstance(content, str) else content
    return client.post(
        f"{url}{query}", {"file": SimpleUploadedFile(name, content), **form}, format="multipart"
    )


def raw(client, url, content, content_type="text/csv", query=""):
    content = content.encode() if isinstance(content, str) else content
    return client.generic("POST", f"{url}{query}", content, content_type=content_type)


# --- customers/import/ -------------------------------------------------------------------------------------


def test_customer_import_multipart_applies_and_reports(api_client, merchant):
    response = upload(api_client, CUSTOMERS_URL, CSV)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["kind"], body["status"], body["dry_run"], body["filename"]) == (
        "customers",
        "applied",
        False,
        "customers.csv",
    )
    assert body["counts"] == {"created": 1, "updated": 0, "unchanged": 0}
    assert body["errors"] == [
        {"line": 3, "external_id": "7205", "errors": {"email": "'bad' is not a valid email address."}}
    ]
    assert body["columns"]["Customer ID"] == "external_id"
    assert body["preview"][0]["action"] == "create"
    assert Customer.objects.get(merchant=merchant, external_id="7204").consent_marketing is True


def test_customer_import_raw_json_dry_run_with_mapping_in_the_query(api_client, merchant):
    items = [{"member": "m-1", "mail": "a@example.com"}]
    query = "?dry_run=true&mapping=" + json.dumps({"member": "external_id", "mail": "email"})
    response = raw(api_client, CUSTOMERS_URL, json.dumps(items), "application/json", query)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["file_format"], body["counts"]["created"]) == ("previewed", "json", 1)
    assert not Customer.objects.exists()


def test_customer_import_mapping_as_a_form_field(api_client, merchant):
    response = upload(
        api_client,
        CUSTOMERS_URL,
        "Member,Mail\nm-1,a@example.com\n",
        mapping='{"Member": "external_id", "Mail": "email"}',
    )
    assert response.status_code == 200, response.json()
    assert Customer.objects.get(merchant=merchant, external_id="m-1").email == "a@example.com"


@pytest.mark.parametrize(
    ("mapping", "field", "code"),
    [
        ("{not json", "mapping", "invalid"),
        ('{"Member": "phone"}', "mapping", "invalid_mapping"),
        ('{"Nope": "email"}', "mapping", "invalid_mapping"),
    ],
)
def test_bad_mapping_is_400(api_client, mapping, field, code):
    response = upload(api_client, CUSTOMERS_URL, "Member,Mail\nm-1,a@example.com\n", mapping=mapping)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code and field in body["field_errors"]
    assert not Customer.objects.exists() and not ImportRun.objects.exists()


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        ("", "c.csv", "empty_file"),
        ("phone,city\n1,Paris\n", "c.csv", "missing_columns"),
        ("[1, 2", "c.json", "malformed_json"),
    ],
)
def test_bad_customer_files_are_400_and_write_nothing(api_client, content, name, code):
    response = upload(api_client, CUSTOMERS_URL, content, name=name)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["field_errors"]["file"]
    assert not ImportRun.objects.exists()


def test_over_the_limit_is_413(api_client, settings):
    settings.PROFILES_IMPORT_MAX_BYTES = 20
    assert upload(api_client, CUSTOMERS_URL, CSV).status_code == 413
    assert raw(api_client, CUSTOMERS_URL, CSV).status_code == 413
    assert raw(api_client, EVENTS_URL, ORDERS).status_code == 413
    assert not ImportRun.objects.exists()


def test_keys_and_scopes(make_api_client, merchant):
    assert upload(APIClient(), CUSTOMERS_URL, CSV).status_code == 401
    read_only = make_api_client(merchant, scopes=["read"])
    assert upload(read_only, CUSTOMERS_URL, CSV).status_code == 403
    assert raw(read_only, EVENTS_URL, ORDERS).status_code == 403
    assert read_only.get(IMPORTS_URL).status_code == 200
    assert not Customer.objects.exists()


def test_unsupported_content_type_is_415(api_client):
    assert raw(api_client, CUSTOMERS_URL, "<x/>", "application/xml").status_code == 415


# --- events/import/ ----------------------------------------------------------------------------------------


def test_order_import_raw_csv(api_client, merchant):
    response = raw(api_client, EVENTS_URL, ORDERS, query="?format=uci&currency=nok&timezone=Europe/Oslo")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["kind"], body["status"], body["total_rows"], body["error_count"]) == (
        "orders",
        "applied",
        3,
        1,
    )
    counts = body["counts"]
    assert (counts["purchases"], counts["refunds"], counts["inserted"], counts["customers_created"]) == (
        1,
        1,
        2,
        1,
    )
    assert body["errors"][0]["line"] == 4 and "date" in body["errors"][0]["errors"]
    assert set(Event.objects.filter(merchant=merchant).values_list("currency", flat=True)) == {"NOK"}
    again = raw(api_client, EVENTS_URL, ORDERS).json()
    assert (again["counts"]["inserted"], again["counts"]["duplicates"]) == (0, 2)


def test_sequence_import_multipart_dry_run(api_client, merchant):
    response = upload(
        api_client,
        EVENTS_URL,
        "1 10 11\n2 12\n3\n",
        name="seq.txt",
        query="?format=sequences&customer_prefix=s-&event_type=view",
        dry_run="true",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["kind"], body["status"], body["error_count"]) == ("sequences", "previewed", 1)
    assert body["counts"]["interactions"] == 3 and body["counts"]["unknown_skus"] == 3
    assert body["preview"][0]["customer"] == "s-1" and body["preview"][0]["type"] == "view"
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("query", "field"),
    [("?format=xml", "format"), ("?timezone=Mars/Base", "timezone"), ("?currency=pounds", "currency")],
)
def test_bad_event_import_options_are_400(api_client, query, field):
    response = raw(api_client, EVENTS_URL, ORDERS, query=query)
    assert response.status_code == 400
    assert field in response.json()["field_errors"]


def test_a_customer_file_sent_as_orders_is_400(api_client):
    response = raw(api_client, EVENTS_URL, CSV)
    assert response.status_code == 400 and response.json()["code"] == "missing_columns"


# --- imports/ ----------------------------------------------------------------------------------------------


def test_import_history_is_tenant_scoped(api_client, outsider_api_client):
    mine = upload(api_client, CUSTOMERS_URL, CSV).json()["id"]
    raw(api_client, EVENTS_URL, ORDERS)
    theirs = upload(outsider_api_client, CUSTOMERS_URL, CSV).json()["id"]

    listed = api_client.get(IMPORTS_URL).json()
    runs = listed["results"] if isinstance(listed, dict) else listed
    assert {run["id"] for run in runs} == {mine, mine + 1}
    assert "errors" not in runs[0]
    only_customers = api_client.get(IMPORTS_URL, {"kind": "customers"}).json()
    runs = only_customers["results"] if isinstance(only_customers, dict) else only_customers
    assert [run["id"] for run in runs] == [mine]

    detail = api_client.get(f"{IMPORTS_URL}{mine}/")
    assert detail.status_code == 200 and detail.json()["errors"][0]["line"] == 3
    assert api_client.get(f"{IMPORTS_URL}{theirs}/").status_code == 404
    assert outsider_api_client.get(f"{IMPORTS_URL}{mine}/").status_code == 404
    assert api_client.get(IMPORTS_URL, {"kind": "nope"}).status_code == 400
