"""The dashboard's import pages under /customers/: upload, dry-run report, apply, history, and who may do what."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Role
from profiles.import_views import STAGING_SESSION_KEY
from profiles.models import Customer, Event, ImportRun

CUSTOMERS = (
    b"Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Loyalty Tier\n"
    b"7204,Maya,Chen,maya@example.com,yes,gold\n"
    b"7205,Omar,Haddad,not-an-email,no,\n"
    b"7206,Lea,Roy,lea@example.com,no,\n"
)
ORDERS = (
    b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    b"1001,A-1,Mug,2,2024-03-01 10:00:00,4.50,501.0,Norway\n"
    b"C1002,A-1,Mug,-1,2024-03-02 10:00:00,4.50,501.0,Norway\n"
)


@pytest.fixture(autouse=True)
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def editor_client(client, member_with_role):
    client.force_login(member_with_role(Role.EDITOR))
    return client


def upload(client, content: bytes, name="customers.csv", kind="customers", dry_run=True, **fields):
    data = {
        "file": SimpleUploadedFile(name, content),
        "kind": kind,
        "currency": "GBP",
        "timezone": "UTC",
        "event_type": "purchase",
        **fields,
    }
    if dry_run:
        data["dry_run"] = "on"
    return client.post(reverse("profiles:import"), data)


def staged_files(var_dir):
    return [p for p in var_dir.rglob("*") if p.is_file()]


def test_import_page_has_the_form_tabs_and_recent_imports(editor_client, merchant):
    ImportRun.objects.create(merchant=merchant, kind="orders", status="applied", filename="old-orders.csv")
    response = editor_client.get(reverse("profiles:import"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert re.search(r'<input type="checkbox" name="dry_run"[^>]*checked', html)
    assert re.search(r'<input type="radio" name="kind" value="customers"[^>]*checked', html)
    assert 'aria-current="page">Import<' in html
    assert "old-orders.csv" in html


def test_customer_dry_run_then_apply(editor_client, merchant, var_dir):
    response = upload(editor_client, CUSTOMERS)
    run = ImportRun.objects.get(merchant=merchant)
    assert response.status_code == 302
    assert response["Location"] == reverse("profiles:import_detail", args=[run.id])
    assert run.status == ImportRun.Status.PREVIEWED and not Customer.objects.exists()
    assert len(staged_files(var_dir)) == 1

    html = editor_client.get(response["Location"]).content.decode()
    assert "This was a dry run" in html
    assert 'data-testid="count-created">2<' in html and 'data-testid="count-errors">1<' in html
    row = re.search(r'<tr>\s*<td class="num">3</td>.*?</tr>', html, re.DOTALL).group(0)
    assert "7205" in row and "email" in row and "not a valid email address" in row
    assert '<span class="badge badge-muted">attribute</span> loyalty_tier' in html
    assert "maya@example.com" in html

    applied = editor_client.post(reverse("profiles:import_apply", args=[run.id]), follow=True)
    done = ImportRun.objects.get(merchant=merchant, status=ImportRun.Status.APPLIED)
    assert applied.redirect_chain[-1][0] == reverse("profiles:import_detail", args=[done.id])
    assert set(Customer.objects.filter(merchant=merchant).values_list("external_id", flat=True)) == {
        "7204",
        "7206",
    }
    assert "Import applied" in applied.content.decode()
    assert staged_files(var_dir) == []
    assert not editor_client.session.get(STAGING_SESSION_KEY)

    again = editor_client.post(reverse("profiles:import_apply", args=[run.id]), follow=True)
    assert again.redirect_chain[-1][0] == reverse("profiles:import")
    assert "no longer available" in again.content.decode()


def test_orders_upload_applied_directly(editor_client, merchant):
    response = upload(editor_client, ORDERS, name="orders.csv", kind="orders", dry_run=False, currency="NOK")
    run = ImportRun.objects.get(merchant=merchant)
    html = editor_client.get(response["Location"]).content.decode()
    assert run.kind == "orders" and run.status == "applied"
    assert 'data-testid="count-purchases">1<' in html and 'data-testid="count-refunds">1<' in html
    assert "Refund" in html and "C1002" in html
    assert Event.objects.filter(merchant=merchant, currency="NOK").count() == 2


def test_sequences_with_a_prefix(editor_client, merchant):
    upload(editor_client, b"1 10 11\n", name="seq.txt", kind="sequences", dry_run=False, customer_prefix="b-")
    assert Event.objects.filter(merchant=merchant, customer__external_id="b-1").count() == 2


@pytest.mark.parametrize(
    ("content", "fields", "message"),
    [
        (b"phone,city\n1,Paris\n", {}, "Missing an id column"),
        (CUSTOMERS, {"mapping": "{oops"}, "Write the mapping as JSON"),
        (CUSTOMERS, {"mapping": '{"Nope": "email"}'}, "names a column"),
        (CUSTOMERS, {"timezone": "Mars/Base"}, "Unknown timezone"),
    ],
)
def test_bad_uploads_show_the_reason_and_write_nothing(editor_client, content, fields, message):
    response = upload(editor_client, content, **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ImportRun.objects.exists() and not Customer.objects.exists()


def test_too_large_upload_is_413(editor_client, settings):
    settings.PROFILES_IMPORT_MAX_BYTES = 10
    response = upload(editor_client, CUSTOMERS)
    assert response.status_code == 413
    assert "the limit is" in response.content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REVIEWER])
def test_viewers_see_history_but_cannot_import(client, member_with_role, merchant, role):
    run = ImportRun.objects.create(merchant=merchant, kind="customers", status="applied", filename="c.csv")
    client.force_login(member_with_role(role))
    assert client.get(reverse("profiles:import")).status_code == 403
    assert upload(client, CUSTOMERS, dry_run=False).status_code == 403
    assert client.post(reverse("profiles:import_apply", args=[run.id])).status_code == 403
    assert client.get(reverse("profiles:import_list")).status_code == 200
    assert client.get(reverse("profiles:import_detail", args=[run.id])).status_code == 200
    assert not Customer.objects.exists()


def test_another_merchants_imports_are_invisible(editor_client, client, outsider, merchant, other_merchant):
    upload(editor_client, CUSTOMERS)
    mine = ImportRun.objects.get(merchant=merchant)
    theirs = ImportRun.objects.create(
        merchant=other_merchant, kind="orders", status="applied", filename="theirs.csv"
    )

    listing = editor_client.get(reverse("profiles:import_list")).content.decode()
    assert "customers.csv" in listing and "theirs.csv" not in listing
    assert editor_client.get(reverse("profiles:import_detail", args=[theirs.id])).status_code == 404
    assert editor_client.post(reverse("profiles:import_apply", args=[theirs.id])).status_code == 404

    client.force_login(outsider)
    assert client.get(reverse("profiles:import_detail", args=[mine.id])).status_code == 404
    assert client.post(reverse("profiles:import_apply", args=[mine.id])).status_code == 404
    assert "customers.csv" not in client.get(reverse("profiles:import_list")).content.decode()
    assert not Customer.objects.exists()


def test_history_filters_by_kind(editor_client, merchant):
    ImportRun.objects.create(merchant=merchant, kind="customers", status="applied", filename="c.csv")
    ImportRun.objects.create(merchant=merchant, kind="orders", status="applied", filename="o.csv")
    html = editor_client.get(reverse("profiles:import_list"), {"kind": "orders"}).content.decode()
    assert "o.csv" in html and "c.csv" not in html
