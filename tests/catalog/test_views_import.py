"""The import page: upload, dry-run report, apply, history, and who may do what."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Role
from catalog.models import Product, ProductImport
from catalog.views import STAGING_SESSION_KEY

CSV_WITH_ONE_BAD_ROW = (
    b"sku,title,brand,category,price,currency,colour\n"
    b"TB-1,Trail bottle,Northwind,Bottles,24.90,USD,blue\n"
    b"CM-1,Camp mug,Northwind,Mugs,-3,USD,red\n"
    b"HL-1,Head lamp,Lumen,Lamps,39.00,USD,\n"
)


@pytest.fixture(autouse=True)
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def editor_client(client, member_with_role):
    client.force_login(member_with_role(Role.EDITOR))
    return client


def upload(client, content: bytes, name="products.csv", dry_run=True, file_format=""):
    data = {"file": SimpleUploadedFile(name, content), "file_format": file_format}
    if dry_run:
        data["dry_run"] = "on"
    return client.post(reverse("catalog:import"), data)


def staged_files(var_dir):
    return [p for p in var_dir.rglob("*") if p.is_file()]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REVIEWER])
def test_viewers_and_reviewers_cannot_import(client, member_with_role, role, merchant):
    client.force_login(member_with_role(role))
    assert client.get(reverse("catalog:import")).status_code == 403
    response = upload(client, CSV_WITH_ONE_BAD_ROW, dry_run=False)
    assert response.status_code == 403
    assert "cannot edit" in response.content.decode()
    assert not Product.objects.exists()
    assert not ProductImport.objects.exists()
    # The catalog itself stays readable, without import buttons.
    html = client.get(reverse("catalog:product_list")).content.decode()
    assert f'href="{reverse("catalog:import")}"' not in html


def test_import_page_renders_form_with_dry_run_checked(editor_client):
    response = editor_client.get(reverse("catalog:import"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert re.search(r'<input type="checkbox" name="dry_run"[^>]*checked', html)


def test_dry_run_reports_rows_and_changes_nothing(editor_client, merchant, var_dir):
    response = upload(editor_client, CSV_WITH_ONE_BAD_ROW)

    imp = ProductImport.objects.get(merchant=merchant)
    assert response.status_code == 302
    assert response["Location"] == reverse("catalog:import_detail", args=[imp.id])
    assert imp.status == ProductImport.Status.PREVIEWED
    assert not Product.objects.exists()
    assert len(staged_files(var_dir)) == 1

    html = editor_client.get(response["Location"]).content.decode()
    assert "This was a dry run" in html
    assert 'data-testid="count-created">2<' in html
    assert 'data-testid="count-errors">1<' in html
    # The bad row's line (header is line 1), SKU, field and reason.
    row = re.search(r'<tr>\s*<td class="num">3</td>.*?</tr>', html, re.DOTALL).group(0)
    assert "CM-1" in row and "price" in row
    # Mapped columns, the unknown column as an attribute, and the preview.
    assert "<code>colour</code>" in html and '<span class="badge badge-muted">attribute</span> colour' in html
    assert "Trail bottle" in html and "Head lamp" in html
    assert 'data-testid="apply-import"' in html


def test_apply_imports_the_previewed_file_and_forgets_it(editor_client, merchant, var_dir):
    upload(editor_client, CSV_WITH_ONE_BAD_ROW)
    previewed = ProductImport.objects.get(merchant=merchant)

    response = editor_client.post(reverse("catalog:import_apply", args=[previewed.id]), follow=True)

    applied = ProductImport.objects.get(merchant=merchant, status=ProductImport.Status.APPLIED)
    assert response.redirect_chain[-1][0] == reverse("catalog:import_detail", args=[applied.id])
    assert set(Product.objects.filter(merchant=merchant).values_list("sku", flat=True)) == {"TB-1", "HL-1"}
    assert applied.filename == "products.csv"
    html = response.content.decode()
    assert "Import applied: 2 created, 0 updated." in html
    assert "Applied to the catalog." in html
    assert staged_files(var_dir) == []
    assert STAGING_SESSION_KEY not in editor_client.session or not editor_client.session[STAGING_SESSION_KEY]

    # Applying the same preview again is refused politely: the file is gone.
    again = editor_client.post(reverse("catalog:import_apply", args=[previewed.id]), follow=True)
    assert again.redirect_chain[-1][0] == reverse("catalog:import")
    assert "no longer available" in again.content.decode()
    assert ProductImport.objects.filter(status=ProductImport.Status.APPLIED).count() == 1


def test_only_the_uploading_session_can_apply_a_preview(editor_client, client_factory_for, merchant, owner):
    upload(editor_client, CSV_WITH_ONE_BAD_ROW)
    previewed = ProductImport.objects.get(merchant=merchant)
    other = client_factory_for(owner)

    html = other.get(reverse("catalog:import_detail", args=[previewed.id])).content.decode()
    assert 'data-testid="apply-import"' not in html
    assert "upload the file again" in html
    other.post(reverse("catalog:import_apply", args=[previewed.id]))
    assert not Product.objects.exists()


def test_reimporting_an_unchanged_file_reports_it_unchanged(editor_client, merchant):
    upload(editor_client, CSV_WITH_ONE_BAD_ROW, dry_run=False)
    edited = CSV_WITH_ONE_BAD_ROW.replace(b"Head lamp,Lumen,Lamps,39.00", b"Head lamp,Lumen,Lamps,41.00")

    preview = editor_client.get(upload(editor_client, edited)["Location"]).content.decode()
    assert re.search(r'data-testid="count-updated">1<', preview)
    assert re.search(r'data-testid="count-unchanged">1 unchanged, left as they are<', preview)
    assert '<span class="badge badge-muted">Unchanged</span>' in preview
    assert "first" not in preview.split('id="preview-title"')[1].split("</header>")[0]
    assert "2 valid rows" in preview

    previewed = ProductImport.objects.get(merchant=merchant, status=ProductImport.Status.PREVIEWED)
    applied = editor_client.post(reverse("catalog:import_apply", args=[previewed.id]), follow=True)
    html = applied.content.decode()
    assert "Import applied: 0 created, 1 updated, 1 unchanged." in html
    assert "0 created, 1 updated, 1 unchanged; 1 row with errors skipped." in html
    history = editor_client.get(reverse("catalog:import_list")).content.decode()
    assert '<td class="num col-optional">1</td>' in history


@pytest.fixture
def client_factory_for(db):
    from django.test import Client

    def make(user):
        c = Client()
        c.force_login(user)
        return c

    return make


def test_import_without_dry_run_applies_at_once(editor_client, merchant, var_dir):
    response = upload(editor_client, CSV_WITH_ONE_BAD_ROW, dry_run=False)
    imp = ProductImport.objects.get(merchant=merchant)
    assert imp.status == ProductImport.Status.APPLIED
    assert Product.objects.filter(merchant=merchant).count() == 2
    assert staged_files(var_dir) == []
    html = editor_client.get(response["Location"]).content.decode()
    assert "Applied to the catalog." in html
    assert 'data-testid="apply-import"' not in html


def test_json_import(editor_client, merchant):
    payload = [{"sku": "J-1", "title": "JSON bottle", "price": 10}, {"sku": "J-2", "title": "No price"}]
    upload(editor_client, json.dumps(payload).encode(), name="products.json", dry_run=False)
    imp = ProductImport.objects.get(merchant=merchant)
    assert imp.file_format == "json"
    assert imp.created_count == 1 and imp.error_count == 1
    assert Product.objects.get(merchant=merchant).title == "JSON bottle"


def test_empty_file_is_a_form_error(editor_client, merchant):
    response = upload(editor_client, b"")
    assert response.status_code == 400
    assert "The file is empty." in response.content.decode()
    assert not ProductImport.objects.exists()


def test_header_only_file_is_a_form_error(editor_client):
    response = upload(editor_client, b"sku,title,price\n")
    assert response.status_code == 400
    assert "no product rows" in response.content.decode()


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        (b'{"sku": "x"', "broken.json", "not valid JSON"),
        (b'{"sku": "x", "title": "t", "price": 1}', "object.json", "list"),
        (b"title,brand\nBottle,Northwind\n", "missing.csv", "sku"),
    ],
)
def test_file_level_problems_show_on_the_form(editor_client, content, name, expected):
    response = upload(editor_client, content, name=name)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="import-error"' in html
    assert expected in html
    assert not ProductImport.objects.exists()


def test_no_file_is_a_form_error(editor_client):
    response = editor_client.post(reverse("catalog:import"), {"dry_run": "on"})
    assert response.status_code == 400
    assert "Choose a CSV or JSON file to import." in response.content.decode()


def test_too_large_file_is_refused_with_a_message(editor_client, settings):
    settings.CATALOG_IMPORT_MAX_BYTES = 50
    response = upload(editor_client, CSV_WITH_ONE_BAD_ROW)
    assert response.status_code == 400
    assert "the limit is 50" in response.content.decode()
    assert not ProductImport.objects.exists()


def test_import_detail_and_apply_of_another_merchant_are_404(client, outsider, editor_client, merchant):
    upload(editor_client, CSV_WITH_ONE_BAD_ROW)
    previewed = ProductImport.objects.get(merchant=merchant)
    client.force_login(outsider)
    assert client.get(reverse("catalog:import_detail", args=[previewed.id])).status_code == 404
    assert client.post(reverse("catalog:import_apply", args=[previewed.id])).status_code == 404
    assert not Product.objects.exists()


def test_viewer_sees_history_and_reports_but_cannot_apply(
    client, editor_client, member_with_role, merchant, other_merchant
):
    upload(editor_client, CSV_WITH_ONE_BAD_ROW)
    previewed = ProductImport.objects.get(merchant=merchant)
    ProductImport.objects.create(
        merchant=other_merchant,
        filename="contoso.csv",
        file_format="csv",
        status=ProductImport.Status.APPLIED,
    )
    client.force_login(member_with_role(Role.VIEWER))

    history = client.get(reverse("catalog:import_list")).content.decode()
    assert "products.csv" in history and "contoso.csv" not in history

    report = client.get(reverse("catalog:import_detail", args=[previewed.id]))
    assert report.status_code == 200
    assert 'data-testid="apply-import"' not in report.content.decode()
    assert client.post(reverse("catalog:import_apply", args=[previewed.id])).status_code == 403


def test_apply_is_post_only(editor_client, merchant):
    upload(editor_client, CSV_WITH_ONE_BAD_ROW)
    previewed = ProductImport.objects.get(merchant=merchant)
    assert editor_client.get(reverse("catalog:import_apply", args=[previewed.id])).status_code == 405


def test_html_in_import_report_is_escaped(editor_client, merchant):
    content = b"sku,title,price\n<b>X</b>,<script>alert(1)</script>,1\nY,<i>bad</i>,-1\n"
    response = upload(editor_client, content)
    html = editor_client.get(response["Location"]).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>X</b>" not in html


def test_too_large_from_the_importer_is_a_413_form_error(editor_client, monkeypatch):
    # The form checks the upload's size first; this is the importer's own check (e.g. a limit lowered later).
    from catalog import views
    from catalog.importing import ImportTooLarge

    def too_large(**kwargs):
        raise ImportTooLarge(len(kwargs["data"]), 10)

    monkeypatch.setattr(views, "product_import", too_large)
    response = upload(editor_client, CSV_WITH_ONE_BAD_ROW)
    assert response.status_code == 413
    assert "Split it into smaller files." in response.content.decode()


def test_column_mapping_is_listed_in_the_files_column_order(editor_client):
    response = editor_client.post(
        reverse("catalog:import"),
        {
            "file": SimpleUploadedFile("p.csv", b"Variant Price,Title,Handle\n12.50,Camp mug,CM-1\n"),
            "dry_run": "on",
        },
        follow=True,
    )
    html = response.content.decode()
    positions = [html.index(f"<code>{header}</code>") for header in ("Variant Price", "Title", "Handle")]
    assert positions == sorted(positions)
