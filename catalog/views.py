"""Dashboard pages for the catalog: products list (HTMX search, filters, pagination), product detail (with the
product's copy from the review queue), creating and editing a product, and the import flow (upload -> report
-> apply). Reads through selectors scoped to `request.merchant`; writes through `catalog.services`."""

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import merchant_required
from accounts.services import Actor
from accounts.upload_staging import UploadStaging
from catalog.attributes import attribute_rows
from catalog.forms import (
    MAX_ATTRIBUTE_ROWS,
    AttributeRowForm,
    ProductFilterForm,
    ProductForm,
    ProductImportForm,
    add_service_errors,
)
from catalog.importing import ImportFileError, ImportTooLarge
from catalog.models import ProductImport
from catalog.selectors import product_get, product_import_get, product_import_list, product_list
from catalog.services import product_create, product_import, product_update

PRODUCTS_PER_PAGE = 25
IMPORTS_PER_PAGE = 25
# A report can list thousands of rows; the page shows the first ones and says how many there are.
REPORT_ROWS_SHOWN = 500

# Between a dry run and "apply", the uploaded bytes wait in a per-merchant folder under VAR_DIR, named by
# a random token that only the uploader's session knows. Applying deletes the file; stale ones are swept.
STAGING_SESSION_KEY = "catalog_staged_imports"
_staging = UploadStaging(session_key=STAGING_SESSION_KEY, folder="import-staging")


def _wants_partial(request) -> bool:
    # A history-restore request (back button after a cache miss) needs the whole page, not the fragment.
    return bool(request.htmx) and not request.htmx.history_restore_request


@merchant_required()
@vary_on_headers("HX-Request")
def product_list_view(request):
    form = ProductFilterForm(request.GET, merchant=request.merchant)
    filters = form.selector_filters()
    products = product_list(merchant=request.merchant, **filters).select_related("category")
    page = Paginator(products, PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
    filtered = any(value not in ("", None) for value in filters.values())
    context = {
        "section": "catalog",
        "form": form,
        "page": page,
        "filtered": filtered,
        "can_edit": request.membership.can("edit"),
    }
    template = (
        "catalog/partials/_product_table.html" if _wants_partial(request) else "catalog/product_list.html"
    )
    return render(request, template, context)


@merchant_required()
def product_detail_view(request, product_id: int):
    product = product_get(merchant=request.merchant, product_id=product_id)
    facts, bookkeeping = attribute_rows(product.attributes)
    context = {
        "section": "catalog",
        "product": product,
        "attributes": facts,
        "bookkeeping": bookkeeping,
        # Only http(s) links are rendered as links; anything else (e.g. "javascript:") is shown as text.
        "url_is_safe": product.url.lower().startswith(("http://", "https://")),
        "can_edit": request.membership.can("edit"),
    }
    return render(request, "catalog/product_detail.html", context)


@merchant_required("edit")
def product_create_view(request):
    data = request.POST if request.method == "POST" else None
    form = ProductForm(data, merchant=request.merchant)
    if data is not None and form.is_valid():
        try:
            product = product_create(
                merchant=request.merchant, actor=Actor.for_user(request.user), **form.service_kwargs()
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Product “{product.title}” created.")
            return redirect("catalog:product_detail", product_id=product.pk)
    return _product_form_page(request, form, status=200 if data is None else 400)


@merchant_required("edit")
def product_edit_view(request, product_id: int):
    product = product_get(merchant=request.merchant, product_id=product_id)
    data = request.POST if request.method == "POST" else None
    form = ProductForm(data, merchant=request.merchant, product=product)
    if data is not None and form.is_valid():
        updated_at = product.updated_at
        try:
            product_update(product=product, actor=Actor.for_user(request.user), **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
            # The service set the rejected values on the instance; the page's header shows the stored ones.
            form.product = product_get(merchant=request.merchant, product_id=product_id)
        else:
            if product.updated_at == updated_at:
                messages.info(request, "No changes to save.")
            else:
                messages.success(request, f"Product “{product.title}” saved.")
            return redirect("catalog:product_detail", product_id=product.pk)
    return _product_form_page(request, form, status=200 if data is None else 400)


def _product_form_page(request, form, status=200):
    form.focus_first_error()
    return render(
        request,
        "catalog/product_form.html",
        {"section": "catalog", "form": form, "product": form.product},
        status=status,
    )


@merchant_required("edit")
def attribute_row_view(request):
    """One more empty attribute row for the product form (HTMX), and the form's row count raised to match."""
    prefix = ProductForm.ATTRIBUTES_PREFIX
    try:
        index = int(request.GET.get(f"{prefix}-TOTAL_FORMS", ""))
    except ValueError:
        return HttpResponseBadRequest("Missing or invalid row count.")
    if not 0 <= index < MAX_ATTRIBUTE_ROWS:
        return HttpResponseBadRequest(f"A product can have at most {MAX_ATTRIBUTE_ROWS} attribute rows.")
    row = AttributeRowForm(prefix=f"{prefix}-{index}", use_required_attribute=False)
    row.fields["key"].widget.attrs["autofocus"] = True
    context = {"row": row, "number": index + 1, "total_forms": index + 1, "prefix": prefix}
    return render(request, "catalog/partials/_attribute_row_added.html", context)


@merchant_required()
def import_list_view(request):
    page = Paginator(product_import_list(merchant=request.merchant), IMPORTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "catalog/import_list.html",
        {"section": "catalog", "page": page, "can_edit": request.membership.can("edit")},
    )


@merchant_required("edit")
def import_view(request):
    if request.method != "POST":
        return _import_form_page(request, ProductImportForm())
    form = ProductImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _import_form_page(request, form, status=400)
    upload = form.cleaned_data["file"]
    data = upload.read()
    file_format = form.cleaned_data["file_format"] or None
    dry_run = form.cleaned_data["dry_run"]
    try:
        result = product_import(
            merchant=request.merchant,
            actor=Actor.for_user(request.user),
            data=data,
            filename=upload.name,
            file_format=file_format,
            dry_run=dry_run,
        )
    except ImportFileError as exc:  # includes ImportTooLarge
        form.add_error("file", exc.message)
        return _import_form_page(request, form, status=413 if isinstance(exc, ImportTooLarge) else 400)
    if dry_run and result.status == ProductImport.Status.PREVIEWED:
        _staging.stage(request, result.id, data, filename=upload.name, file_format=file_format)
    return redirect("catalog:import_detail", import_id=result.id)


def _import_form_page(request, form, status=200):
    context = {"section": "catalog", "form": form, "max_bytes": settings.CATALOG_IMPORT_MAX_BYTES}
    return render(request, "catalog/import.html", context, status=status)


@merchant_required()
def import_detail_view(request, import_id: int):
    product_import_obj = product_import_get(merchant=request.merchant, import_id=import_id)
    report = product_import_obj.report or {}
    error_rows = [
        {"line": row.get("line"), "sku": row.get("sku") or "", "field": field, "reason": reason}
        for row in report.get("errors") or []
        for field, reason in (row.get("errors") or {}).items()
    ]
    preview = report.get("preview") or []
    can_edit = request.membership.can("edit")
    context = {
        "section": "catalog",
        "imp": product_import_obj,
        "columns": _columns_in_file_order(report),
        "ignored_columns": report.get("ignored_columns") or [],
        "error_rows": error_rows[:REPORT_ROWS_SHOWN],
        # The report keeps a bounded number of errors and preview rows; the counts on the import are exact.
        "error_rows_total": len(error_rows),
        "errors_omitted": report.get("errors_omitted") or 0,
        "preview": preview[:REPORT_ROWS_SHOWN],
        "valid_rows": product_import_obj.created_count
        + product_import_obj.updated_count
        + product_import_obj.unchanged_count,
        "can_edit": can_edit,
        "can_apply": can_edit and _staged_path(request, product_import_obj) is not None,
    }
    return render(request, "catalog/import_detail.html", context)


@merchant_required("edit")
@require_POST
def import_apply_view(request, import_id: int):
    previewed = product_import_get(merchant=request.merchant, import_id=import_id)
    path = _staged_path(request, previewed)
    if path is None:
        messages.error(
            request,
            "The previewed file is no longer available (previews are kept for 24 hours, in the browser session "
            "that uploaded them). Upload it again with “Dry run” unchecked.",
        )
        return redirect("catalog:import")
    entry = _staging.entry(request, previewed.id)
    try:
        result = product_import(
            merchant=request.merchant,
            actor=Actor.for_user(request.user),
            data=path.read_bytes(),
            filename=entry.get("filename") or previewed.filename,
            file_format=entry.get("file_format"),
            dry_run=False,
        )
    except ImportFileError as exc:
        messages.error(request, exc.message)
        return redirect("catalog:import_detail", import_id=previewed.id)
    _staging.unstage(request, previewed.id)
    if result.status == ProductImport.Status.APPLIED:
        unchanged = f", {result.unchanged_count} unchanged" if result.unchanged_count else ""
        messages.success(
            request,
            f"Import applied: {result.created_count} created, {result.updated_count} updated{unchanged}.",
        )
    else:
        messages.error(request, "The import was rejected; nothing was changed. See the report below.")
    return redirect("catalog:import_detail", import_id=result.id)


def _columns_in_file_order(report: dict) -> list[tuple[str, str]]:
    columns = report.get("columns") or {}
    order = report.get("column_order") or list(columns)
    return [(header, columns[header]) for header in order if header in columns]


def _staged_path(request, product_import_obj) -> Path | None:
    if product_import_obj.status != ProductImport.Status.PREVIEWED:
        return None
    return _staging.path(request, import_id=product_import_obj.id, merchant_id=product_import_obj.merchant_id)
