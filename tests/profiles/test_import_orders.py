"""Order and sequence imports into the database, on the real files in ../shared/datasets (skipped when absent):
the UCI Online Retail sample (counts checked against the file read with the csv module) and the first lines of
the S3-Rec Amazon Beauty sequences."""

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import AuditLog
from accounts.services import Actor
from catalog.models import Product, ProductImport
from profiles.import_services import orders_import, sequences_import
from profiles.ingest import link_unknown_products
from profiles.models import Customer, Event, ImportRun
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
UCI = DATASETS / "uci_online_retail_first8000" / "online_retail_first8000.csv"
BEAUTY = DATASETS / "amazon_beauty_sequences_s3rec" / "Beauty.txt"
ACTOR = Actor.system("test")

needs_uci = pytest.mark.skipif(not UCI.exists(), reason=f"shared dataset not present at {UCI}")
needs_beauty = pytest.mark.skipif(not BEAUTY.exists(), reason=f"shared dataset not present at {BEAUTY}")


def uci_expected() -> dict:
    """What the importer should make of the file, worked out here from the rows themselves."""
    with UCI.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    cancellations = [r for r in rows if r["InvoiceNo"].startswith("C")]
    adjustments = [r for r in rows if not r["InvoiceNo"].startswith("C") and int(float(r["Quantity"])) <= 0]
    valid = [r for r in rows if r not in adjustments]
    return {
        "lines": len(rows),
        "refunds": len(cancellations),
        "rejected": len(adjustments),
        "purchases": len(valid) - len(cancellations),
        "customers": len({r["CustomerID"] for r in valid if r["CustomerID"]}),
        "products": len({r["StockCode"] for r in valid}),
        "anonymous": sum(1 for r in valid if not r["CustomerID"]),
        "refund_value": sum(
            abs(Decimal(r["Quantity"]) * Decimal(r["UnitPrice"])).quantize(Decimal("0.01"))
            for r in cancellations
        ),
    }


@needs_uci
def test_uci_file_imports_customers_products_purchases_and_refunds(merchant):
    expected = uci_expected()
    assert expected["refunds"] == 89 and expected["rejected"] == 30  # what the sample is known to hold

    run = orders_import(merchant=merchant, actor=ACTOR, data=UCI.read_bytes(), filename=UCI.name)

    assert run.status == ImportRun.Status.APPLIED and run.kind == ImportRun.Kind.ORDERS
    assert run.total_rows == expected["lines"]
    assert run.error_count == expected["rejected"]
    counts = run.counts
    assert counts["purchases"] == expected["purchases"]
    assert counts["refunds"] == expected["refunds"]
    assert counts["customers"] == counts["customers_created"] == expected["customers"]
    assert counts["products"] == counts["products_created"] == expected["products"]
    assert counts["anonymous_lines"] == expected["anonymous"]
    assert counts["inserted"] == expected["purchases"] + expected["refunds"]
    assert counts["duplicates"] == 0

    events = Event.objects.filter(merchant=merchant)
    assert events.filter(type="purchase").count() == expected["purchases"]
    refunds = events.filter(type="refund")
    assert refunds.count() == expected["refunds"]
    assert sum(e.value for e in refunds) == expected["refund_value"]
    assert not refunds.filter(quantity__lte=0).exists()
    assert set(refunds.values_list("order_id", flat=True)) == {
        e.order_id for e in refunds if e.order_id.startswith("C")
    }
    assert events.filter(customer__isnull=True).count() == expected["anonymous"]
    assert not events.filter(product__isnull=True).exists()  # every stock code became a product
    assert Customer.objects.filter(merchant=merchant).count() == expected["customers"]
    assert Product.objects.filter(merchant=merchant).count() == expected["products"]
    assert ProductImport.objects.get(pk=counts["product_imports"][0]).created_count == expected["products"]

    first = events.get(idempotency_key="order:536365:1")
    assert (first.type, first.customer.external_id, first.product.sku, first.quantity) == (
        "purchase",
        "17850",
        "85123A",
        6,
    )
    assert (first.value, first.currency, first.order_id) == (Decimal("15.30"), "GBP", "536365")
    assert first.occurred_at == datetime(2010, 12, 1, 8, 26, tzinfo=UTC)
    assert first.customer.country == "United Kingdom"
    assert Customer.objects.get(merchant=merchant, external_id="12583").country == "France"
    lantern = Product.objects.get(merchant=merchant, sku="85123A")
    assert (lantern.title, lantern.price, lantern.currency) == (
        "WHITE HANGING HEART T-LIGHT HOLDER",
        Decimal("2.55"),
        "GBP",
    )
    assert Product.objects.get(merchant=merchant, sku="POST").is_active is False

    errors = run.report["errors"]
    assert len(errors) == expected["rejected"]
    assert errors[0]["line"] == 2408 and "stock adjustment" in errors[0]["errors"]["quantity"]
    assert AuditLog.objects.filter(merchant=merchant, action="event.import", object_id=str(run.pk)).exists()


@needs_uci
def test_reimporting_the_uci_file_inserts_nothing(merchant):
    data = UCI.read_bytes()
    first = orders_import(merchant=merchant, actor=ACTOR, data=data, filename=UCI.name)
    preview = orders_import(merchant=merchant, actor=ACTOR, data=data, filename=UCI.name, dry_run=True)
    again = orders_import(merchant=merchant, actor=ACTOR, data=data, filename=UCI.name)

    stored = first.counts["inserted"]
    assert preview.status == ImportRun.Status.PREVIEWED
    assert (preview.counts["inserted"], preview.counts["duplicates"]) == (0, stored)
    assert (again.counts["inserted"], again.counts["duplicates"]) == (0, stored)
    assert again.counts["customers_created"] == again.counts["products_created"] == 0
    assert Event.objects.filter(merchant=merchant).count() == stored


def test_dry_run_writes_only_the_report(merchant):
    data = (
        b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        b"1001,A-1,Mug,2,2024-03-01 10:00:00,4.50,501.0,Norway\n"
        b"1002,A-2,Plate,x,2024-03-01 10:05:00,3.00,,Norway\n"
    )
    run = orders_import(
        merchant=merchant, actor=ACTOR, data=data, filename="o.csv", dry_run=True, currency="eur"
    )
    assert run.status == ImportRun.Status.PREVIEWED and run.dry_run
    assert (run.counts["purchases"], run.counts["customers_created"], run.counts["products_created"]) == (
        1,
        1,
        1,
    )
    assert run.counts["inserted"] == 1 and run.error_count == 1
    assert run.report["preview"][0]["value"] == "9.00"
    assert run.report["errors"] == [
        {"line": 3, "invoice": "1002", "sku": "A-2", "errors": {"quantity": "'x' is not a whole number."}}
    ]
    assert not Event.objects.exists() and not Customer.objects.exists() and not Product.objects.exists()
    assert not AuditLog.objects.filter(action="event.import").exists()


def test_stored_country_and_products_are_kept(merchant):
    CustomerFactory(merchant=merchant, external_id="501", country="Sweden")
    CustomerFactory(merchant=merchant, external_id="502", country="")
    Product.objects.create(
        merchant=merchant, sku="A-1", title="Our mug", price=Decimal("5.00"), currency="NOK"
    )
    data = (
        b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        b"1001,A-1,Mug,2,2024-03-01 10:00:00,4.50,501.0,Norway\n"
        b"1002,A-1,Mug,1,2024-03-01 11:00:00,4.50,502.0,Norway\n"
    )
    run = orders_import(merchant=merchant, actor=ACTOR, data=data, timezone_name="Europe/Oslo")
    assert run.counts["customers_created"] == run.counts["products_created"] == 0
    assert Customer.objects.get(external_id="501").country == "Sweden"
    assert Customer.objects.get(external_id="502").country == "Norway"
    assert Product.objects.get(sku="A-1").title == "Our mug"
    assert Event.objects.get(order_id="1001").occurred_at == datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def test_orders_of_one_merchant_stay_with_it(merchant, other_merchant):
    data = (
        b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        b"1001,A-1,Mug,2,2024-03-01 10:00:00,4.50,501,Norway\n"
    )
    orders_import(merchant=merchant, actor=ACTOR, data=data)
    other = orders_import(merchant=other_merchant, actor=ACTOR, data=data)
    # Same idempotency key, other tenant: not a duplicate.
    assert (other.counts["inserted"], other.counts["duplicates"], other.counts["customers_created"]) == (
        1,
        0,
        1,
    )
    assert Event.objects.filter(merchant=other_merchant, customer__merchant=other_merchant).count() == 1


# --- sequences ---------------------------------------------------------------------------------------------

SEQUENCE_LINES = 300


@needs_beauty
def test_first_lines_of_the_beauty_sequences(merchant):
    lines = BEAUTY.read_text().splitlines()[:SEQUENCE_LINES]
    users = {line.split()[0]: line.split()[1:] for line in lines}
    interactions = sum(len(items) for items in users.values())
    items = {item for sequence in users.values() for item in sequence}
    end = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    data = ("\n".join(lines) + "\n").encode()

    run = sequences_import(
        merchant=merchant, actor=ACTOR, data=data, filename="Beauty.txt", customer_prefix="b-", end=end
    )

    assert run.kind == ImportRun.Kind.SEQUENCES and run.status == ImportRun.Status.APPLIED
    assert run.total_rows == SEQUENCE_LINES and run.error_count == 0
    assert run.counts["users"] == run.counts["customers_created"] == len(users)
    assert run.counts["interactions"] == run.counts["inserted"] == interactions
    assert run.counts["unknown_skus"] == len(items)
    events = Event.objects.filter(merchant=merchant)
    assert events.count() == interactions
    assert not events.filter(value__isnull=False).exists()
    assert set(events.values_list("type", flat=True)) == {"purchase"}
    user, sequence = next(iter(users.items()))
    timeline = list(events.filter(customer__external_id=f"b-{user}").order_by("occurred_at"))
    assert [e.product_sku for e in timeline] == sequence
    assert timeline[-1].occurred_at == end
    assert timeline[0].occurred_at == end - timedelta(days=len(sequence) - 1)
    assert timeline[0].idempotency_key == f"seq:b-{user}:1"

    again = sequences_import(merchant=merchant, actor=ACTOR, data=data, customer_prefix="b-", end=end)
    assert (again.counts["inserted"], again.counts["duplicates"]) == (0, interactions)

    # Items arrive in the catalog later: their events link up.
    Product.objects.create(merchant=merchant, sku=sequence[0], title="Serum", price=Decimal("12.00"))
    linked = link_unknown_products(merchant.pk)
    assert linked == events.filter(product_sku=sequence[0]).count() > 0
    assert not events.filter(product_sku=sequence[0], product__isnull=True).exists()


def test_sequences_with_bad_lines_and_another_event_type(merchant):
    run = sequences_import(merchant=merchant, actor=ACTOR, data=b"7 1 2\n8\n7 3\n9 4\n", event_type="view")
    assert run.total_rows == 4 and run.error_count == 2
    assert [e["line"] for e in run.report["errors"]] == [2, 3]
    assert Event.objects.filter(type="view").count() == 3
    with pytest.raises(ValueError, match="Unknown event type"):
        sequences_import(merchant=merchant, actor=ACTOR, data=b"1 2\n", event_type="like")


# --- the command -------------------------------------------------------------------------------------------


def test_import_orders_command(merchant, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_bytes(
        b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        b"1001,A-1,Mug,2,2024-03-01 10:00:00,4.50,501,Norway\n"
        b"C1002,A-1,Mug,-1,2024-03-02 10:00:00,4.50,501,Norway\n"
        b"1003,A-2,Plate,0,2024-03-02 10:00:00,4.50,501,Norway\n"
    )
    call_command("import_orders", str(path), "--merchant", merchant.slug)
    out = capsys.readouterr().out
    assert "3 lines read, 1 rejected" in out
    assert "purchases: 1" in out and "refunds: 1" in out and "inserted: 2" in out
    assert "line 4: quantity: The quantity is 0." in out
    seq = tmp_path / "seq.txt"
    seq.write_text("1 A-1 A-2\n")
    call_command("import_orders", str(seq), "--merchant", merchant.slug, "--format", "sequences", "--dry-run")
    assert "Previewed" in capsys.readouterr().out
    assert Event.objects.count() == 2


def test_import_orders_command_errors(merchant, tmp_path):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="No merchant"):
        call_command("import_orders", "x.csv", "--merchant", "nope")
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_orders", str(tmp_path / "x.csv"), "--merchant", merchant.slug)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(CommandError, match="not an order export"):
        call_command("import_orders", str(bad), "--merchant", merchant.slug)
