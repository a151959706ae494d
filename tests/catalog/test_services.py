import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from accounts.models import AuditLog
from accounts.services import Actor
from catalog import services
from catalog.importing import ImportFileError, ImportTooLarge
from catalog.models import Category, Product, ProductImport
from catalog.services import (
    product_bulk_set_active,
    product_create,
    product_delete,
    product_import,
    product_update,
)
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")

CSV = (
    "sku,title,brand,category,price,currency,stock\n"
    "MUG-1,Enamel mug,Northwind,Kitchen,12.50,USD,5\n"
    'TOTE-1,Canvas tote,Northwind,Bags,"1,299.00",INR,\n'
    "BAD-1,Broken,Northwind,Bags,abc,USD,1\n"
    "BOWL-1,Serving bowl,,Kitchen,$30,USD,2\n"
)


def run_import(merchant, data=CSV, **kwargs):
    kwargs.setdefault("filename", "products.csv")
    return product_import(
        merchant=merchant, actor=ACTOR, data=data.encode() if isinstance(data, str) else data, **kwargs
    )


def snapshot(merchant):
    return list(
        Product.objects.filter(merchant=merchant)
        .order_by("sku")
        .values(
            "sku",
            "title",
            "brand",
            "category__slug",
            "price",
            "currency",
            "stock",
            "attributes",
            "created_at",
        )
    )


# --- product CRUD ------------------------------------------------------------------------------------------


def test_product_create_resolves_category_by_name_and_audits(merchant):
    product = product_create(
        merchant=merchant,
        actor=ACTOR,
        sku=" MUG-1 ",
        title="Enamel mug",
        price="12.5",
        currency="eur",
        category="Kitchen & Dining",
    )
    product.refresh_from_db()
    assert (product.sku, product.price, product.currency) == ("MUG-1", Decimal("12.50"), "EUR")
    assert (product.category.name, product.category.slug) == ("Kitchen & Dining", "kitchen-dining")
    entry = AuditLog.objects.get(action="product.create")
    assert (entry.merchant, entry.object_id, entry.actor_label) == (merchant, str(product.pk), "test")


def test_product_create_reuses_the_merchants_category(merchant, other_merchant):
    mine = CategoryFactory(merchant=merchant, name="Kitchen", slug="kitchen")
    CategoryFactory(merchant=other_merchant, name="Kitchen", slug="kitchen")
    product = product_create(
        merchant=merchant, actor=ACTOR, sku="A", title="Mug", price=1, category="kitchen"
    )
    assert product.category == mine
    assert Category.objects.filter(merchant=merchant).count() == 1


def test_product_create_refuses_another_merchants_category(merchant, other_merchant):
    theirs = CategoryFactory(merchant=other_merchant)
    with pytest.raises(ValidationError) as exc:
        product_create(merchant=merchant, actor=ACTOR, sku="A", title="Mug", price=1, category=theirs)
    assert "category" in exc.value.message_dict


@pytest.mark.parametrize(
    "fields, bad_field",
    [
        ({"price": Decimal("-1")}, "price"),
        ({"price": "abc"}, "price"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "E1"}, "currency"),
        ({"sku": ""}, "sku"),
        ({"title": ""}, "title"),
        ({"stock": -3}, "stock"),
        ({"url": "not a url"}, "url"),
        ({"attributes": ["red"]}, "attributes"),
    ],
)
def test_product_create_validation(merchant, fields, bad_field):
    values = {"sku": "A", "title": "Mug", "price": Decimal("1"), **fields}
    with pytest.raises(ValidationError) as exc:
        product_create(merchant=merchant, actor=ACTOR, **values)
    assert bad_field in exc.value.message_dict
    assert not Product.objects.exists()


def test_sku_is_unique_per_merchant_only(merchant, other_merchant):
    ProductFactory(merchant=merchant, sku="A")
    with pytest.raises(ValidationError) as exc:
        product_create(merchant=merchant, actor=ACTOR, sku="A", title="Mug", price=1)
    assert exc.value.message_dict == {"sku": ["A product with SKU 'A' already exists."]}
    assert product_create(merchant=other_merchant, actor=ACTOR, sku="A", title="Mug", price=1).pk


def test_product_create_rejects_unknown_fields(merchant):
    with pytest.raises(TypeError):
        product_create(merchant=merchant, actor=ACTOR, sku="A", title="Mug", price=1, merchant_id=5)


def test_product_update_changes_only_given_fields_and_records_old_and_new(merchant):
    product = ProductFactory(merchant=merchant, sku="A", title="Mug", price=Decimal("10.00"), stock=4)
    product_update(product=product, actor=ACTOR, price="12", category="Kitchen")
    product.refresh_from_db()
    assert (product.price, product.stock, product.title, product.category.name) == (
        Decimal("12.00"),
        4,
        "Mug",
        "Kitchen",
    )
    entry = AuditLog.objects.get(action="product.update")
    assert entry.changes == {"price": ["10.00", "12.00"], "category": [None, "Kitchen"]}


def test_product_update_without_changes_writes_nothing(merchant):
    product = ProductFactory(merchant=merchant, title="Mug")
    product_update(product=product, actor=ACTOR, title="Mug")
    assert not AuditLog.objects.filter(action="product.update").exists()


def test_product_update_refuses_a_taken_sku(merchant):
    ProductFactory(merchant=merchant, sku="A")
    product = ProductFactory(merchant=merchant, sku="B")
    with pytest.raises(ValidationError) as exc:
        product_update(product=product, actor=ACTOR, sku="A")
    assert "sku" in exc.value.message_dict
    product.refresh_from_db()
    assert product.sku == "B"


def test_product_delete_audits_then_deletes(merchant):
    product = ProductFactory(merchant=merchant, sku="GONE")
    pk = product.pk
    product_delete(product=product, actor=ACTOR)
    assert not Product.objects.filter(pk=pk).exists()
    entry = AuditLog.objects.get(action="product.delete")
    assert (entry.object_id, entry.changes["sku"]) == (str(pk), "GONE")


def test_bulk_set_active_audits_per_merchant(merchant, other_merchant):
    ProductFactory.create_batch(2, merchant=merchant, is_active=True)
    ProductFactory(merchant=other_merchant, is_active=True)
    ProductFactory(merchant=other_merchant, is_active=False)
    changed = product_bulk_set_active(queryset=Product.objects.all(), is_active=False, actor=ACTOR)
    assert changed == 3
    assert not Product.objects.filter(is_active=True).exists()
    counts = dict(
        AuditLog.objects.filter(action="product.deactivate").values_list("merchant__slug", "changes__count")
    )
    assert counts == {"northwind": 2, "contoso": 1}


# --- imports -----------------------------------------------------------------------------------------------


def test_import_applies_valid_rows_and_reports_bad_ones(merchant):
    result = run_import(merchant)
    assert result.status == ProductImport.Status.APPLIED
    assert (result.total_rows, result.created_count, result.updated_count, result.error_count) == (4, 3, 0, 1)
    assert result.report["errors"] == [
        {"line": 4, "sku": "BAD-1", "errors": {"price": "'abc' is not a price."}}
    ]
    assert result.report["columns"]["price"] == "price"
    assert [row["sku"] for row in result.report["preview"]] == ["MUG-1", "TOTE-1", "BOWL-1"]
    assert result.report["preview"][1] == {
        "line": 3,
        "sku": "TOTE-1",
        "title": "Canvas tote",
        "brand": "Northwind",
        "category": "Bags",
        "price": "1299.00",
        "currency": "INR",
        "action": "create",
    }
    products = {p["sku"]: p for p in snapshot(merchant)}
    assert set(products) == {"MUG-1", "TOTE-1", "BOWL-1"}
    assert products["TOTE-1"]["price"] == Decimal("1299.00") and products["TOTE-1"]["stock"] is None
    assert products["BOWL-1"]["category__slug"] == "kitchen"
    assert Category.objects.filter(merchant=merchant).count() == 2


def test_reimport_is_idempotent(merchant):
    run_import(merchant)
    before = snapshot(merchant)
    again = run_import(merchant)
    assert (again.created_count, again.updated_count, again.unchanged_count, again.error_count) == (
        0,
        0,
        3,
        1,
    )
    assert {row["action"] for row in again.report["preview"]} == {"unchanged"}
    assert snapshot(merchant) == before
    assert Category.objects.filter(merchant=merchant).count() == 2


def test_reimport_of_an_unchanged_file_rewrites_nothing(merchant):
    run_import(merchant)
    stamps = dict(Product.objects.filter(merchant=merchant).values_list("sku", "updated_at"))
    again = run_import(merchant, dry_run=True)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 3)
    applied = run_import(merchant)
    assert (applied.created_count, applied.updated_count, applied.unchanged_count) == (0, 0, 3)
    assert dict(Product.objects.filter(merchant=merchant).values_list("sku", "updated_at")) == stamps
    entry = AuditLog.objects.get(action="product.import", object_id=str(applied.pk))
    assert (entry.changes["updated"], entry.changes["unchanged"]) == (0, 3)


def test_only_rows_whose_values_differ_are_updated(merchant):
    run_import(merchant)
    stamps = dict(Product.objects.filter(merchant=merchant).values_list("sku", "updated_at"))
    changed = CSV.replace("MUG-1,Enamel mug,Northwind,Kitchen,12.50", "MUG-1,Enamel mug,Northwind,Kitchen,13")
    preview = run_import(merchant, changed, dry_run=True)
    assert (preview.created_count, preview.updated_count, preview.unchanged_count) == (0, 1, 2)
    assert [row["action"] for row in preview.report["preview"]] == ["update", "unchanged", "unchanged"]

    result = run_import(merchant, changed)
    assert (result.updated_count, result.unchanged_count) == (1, 2)
    assert [row["action"] for row in result.report["preview"]] == ["update", "unchanged", "unchanged"]
    after = dict(Product.objects.filter(merchant=merchant).values_list("sku", "updated_at"))
    assert after["MUG-1"] > stamps["MUG-1"]
    assert (after["TOTE-1"], after["BOWL-1"]) == (stamps["TOTE-1"], stamps["BOWL-1"])
    assert Product.objects.get(merchant=merchant, sku="MUG-1").price == Decimal("13.00")


def test_unchanged_compares_only_the_columns_the_file_has(merchant):
    run_import(merchant)
    # Changed elsewhere, in a field the file does not carry: the file cannot change it, so it is unchanged.
    Product.objects.filter(merchant=merchant, sku="MUG-1").update(url="https://shop.example/mug")
    # A category named with other capitals is the same category (categories match by slug).
    recased = CSV.replace("MUG-1,Enamel mug,Northwind,Kitchen", "MUG-1,Enamel mug,Northwind,KITCHEN")
    assert run_import(merchant, recased).unchanged_count == 3
    # A different category, a cleared brand, a stock change: each is an update.
    for edited in (
        CSV.replace("MUG-1,Enamel mug,Northwind,Kitchen", "MUG-1,Enamel mug,Northwind,Bags"),
        CSV.replace("MUG-1,Enamel mug,Northwind,", "MUG-1,Enamel mug,,"),
        CSV.replace("12.50,USD,5", "12.50,USD,6"),
    ):
        result = run_import(merchant, edited, dry_run=True)
        assert (result.updated_count, result.unchanged_count) == (1, 2), edited


def test_unchanged_attributes_keep_their_types_from_json(merchant):
    item = {"sku": "S-1", "title": "Shirt", "price": 20, "attributes": {"sizes": ["S", "M"], "weight_g": 180}}
    run_import(merchant, json.dumps([item]), filename="p.json")
    assert run_import(merchant, json.dumps([item]), filename="p.json").unchanged_count == 1
    item["attributes"]["weight_g"] = 190
    again = run_import(merchant, json.dumps([item]), filename="p.json")
    assert (again.updated_count, again.unchanged_count) == (1, 0)
    assert Product.objects.get(merchant=merchant, sku="S-1").attributes == {
        "sizes": ["S", "M"],
        "weight_g": 190,
    }


def test_unchanged_rows_with_extra_columns_as_attributes(merchant):
    data = "sku,title,price,Primary Color\nA,Mug,3,Red\nB,Cup,2,\n"
    run_import(merchant, data)
    assert run_import(merchant, data).unchanged_count == 2
    result = run_import(merchant, data.replace("Red", "Blue"))
    assert (result.updated_count, result.unchanged_count) == (1, 1)


def test_reimport_updates_changed_values_but_keeps_fields_the_file_lacks(merchant):
    run_import(merchant)
    Product.objects.filter(merchant=merchant, sku="MUG-1").update(url="https://shop.example/mug")
    run_import(merchant, "sku,title,price\nMUG-1,Enamel mug XL,14\n")
    mug = Product.objects.get(merchant=merchant, sku="MUG-1")
    assert (mug.title, mug.price, mug.stock, mug.url, mug.category.slug) == (
        "Enamel mug XL",
        Decimal("14.00"),
        5,
        "https://shop.example/mug",
        "kitchen",
    )


def test_import_does_not_touch_another_merchants_products(merchant, other_merchant):
    ProductFactory(merchant=other_merchant, sku="MUG-1", title="Their mug")
    result = run_import(merchant)
    assert result.created_count == 3
    assert Product.objects.get(merchant=other_merchant, sku="MUG-1").title == "Their mug"


def test_dry_run_writes_no_products_categories_or_audit(merchant):
    ProductFactory(merchant=merchant, sku="MUG-1", title="Old mug")
    result = run_import(merchant, dry_run=True)
    assert result.status == ProductImport.Status.PREVIEWED and result.dry_run
    assert (result.created_count, result.updated_count, result.error_count) == (2, 1, 1)
    assert [row["action"] for row in result.report["preview"]] == ["update", "create", "create"]
    assert list(Product.objects.filter(merchant=merchant).values_list("sku", "title")) == [
        ("MUG-1", "Old mug")
    ]
    assert not Category.objects.exists()
    assert not AuditLog.objects.filter(action="product.import").exists()


def test_import_with_no_valid_rows_is_rejected(merchant):
    result = run_import(merchant, "sku,title,price\nA,Mug,-1\nB,Cup,free\n")
    assert result.status == ProductImport.Status.REJECTED
    assert (result.created_count, result.error_count) == (0, 2)
    assert not Product.objects.exists()


def test_one_audit_entry_per_import(merchant):
    result = run_import(merchant)
    entries = AuditLog.objects.filter(merchant=merchant)
    assert [e.action for e in entries] == ["product.import"]
    assert entries[0].object_id == str(result.pk)
    assert entries[0].changes == {
        "status": "applied",
        "filename": "products.csv",
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "errors": 1,
    }


def test_html_is_stored_verbatim(merchant):
    html = '<p>Soft <b>cotton</b> &amp; linen</p><script>alert("x")</script>'
    data = json.dumps([{"sku": "S-1", "title": "<em>Shirt</em>", "price": 20, "description": html}])
    run_import(merchant, data, filename="p.json")
    product = Product.objects.get(merchant=merchant, sku="S-1")
    assert (product.title, product.description) == ("<em>Shirt</em>", html)


def test_unknown_columns_become_attributes(merchant):
    run_import(merchant, "sku,title,price,Primary Color,Material\nA,Mug,3,Red,\n")
    assert Product.objects.get(merchant=merchant, sku="A").attributes == {"primary_color": "Red"}


def test_file_errors_raise_and_write_nothing(merchant):
    with pytest.raises(ImportFileError) as exc:
        run_import(merchant, "name,cost\nMug,3\n")
    assert exc.value.code == "missing_columns"
    assert not ProductImport.objects.exists() and not Product.objects.exists()


@override_settings(CATALOG_IMPORT_MAX_BYTES=50)
def test_file_over_the_limit_raises_too_large(merchant):
    with pytest.raises(ImportTooLarge):
        run_import(merchant)
    assert not ProductImport.objects.exists()


def test_many_rows_are_written_in_a_few_statements(merchant, django_assert_max_num_queries, monkeypatch):
    monkeypatch.setattr(services, "IMPORT_CHUNK_SIZE", 250)
    rows = "".join(f"SKU-{i},Product {i},Cat {i % 7},{i}.99\n" for i in range(1000))
    # Existing SKUs, 2-3 for categories, at most 4 per chunk of 250, the import record, the audit entry,
    # savepoints: a number that does not grow with the rows.
    with django_assert_max_num_queries(30):
        result = run_import(merchant, "sku,title,category,price\n" + rows)
    assert result.created_count == 1000
    assert Product.objects.filter(merchant=merchant).count() == 1000
    assert Category.objects.filter(merchant=merchant).count() == 7


def test_portable_orm_writer_gives_the_same_products(merchant, other_merchant, monkeypatch):
    """The demo runs on SQLite, where imports go through bulk_create instead of COPY."""
    run_import(merchant)
    run_import(merchant, "sku,title,price\nMUG-1,Enamel mug XL,14\n")
    monkeypatch.setattr(services, "_products_upsert_chunk", services._products_bulk_upsert)
    run_import(other_merchant)
    again = run_import(other_merchant, "sku,title,price\nMUG-1,Enamel mug XL,14\n")
    assert (again.created_count, again.updated_count) == (0, 1)

    def comparable(m):
        return [{k: v for k, v in row.items() if k != "created_at"} for row in snapshot(m)]

    assert comparable(other_merchant) == comparable(merchant)
    assert len(comparable(merchant)) == 3


@pytest.mark.django_db(transaction=True)
def test_a_crash_mid_import_leaves_nothing_half_applied(merchant, monkeypatch):
    monkeypatch.setattr(services, "IMPORT_CHUNK_SIZE", 2)
    real_upsert = services._products_upsert_chunk
    calls = []

    def upsert_then_crash(products, update_fields):
        calls.append(len(products))
        if len(calls) == 2:
            raise RuntimeError("database went away")
        real_upsert(products, update_fields)

    monkeypatch.setattr(services, "_products_upsert_chunk", upsert_then_crash)
    rows = "".join(f"SKU-{i},Product {i},Cat {i},{i}\n" for i in range(6))
    with pytest.raises(RuntimeError):
        run_import(merchant, "sku,title,category,price\n" + rows)
    assert calls == [2, 2]  # the first chunk was written before the crash...
    assert not Product.objects.exists()  # ...and rolled back with everything else
    assert not Category.objects.exists()
    assert not ProductImport.objects.exists()
    assert not AuditLog.objects.filter(action="product.import").exists()
