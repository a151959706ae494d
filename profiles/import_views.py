"""Dashboard pages for profile imports under /customers/: upload (customers, orders or sequences) -> report ->
apply, and the import history. Reads through profiles.import_selectors (scoped to `request.merchant`), writes
through profiles.import_services. Like the catalog import (catalog/views.py), a dry run's bytes wait in a
per-merchant folder under VAR_DIR, named by a random token only the uploading session knows, until applied."""

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.decorators import merchant_required
from accounts.services import Actor
from accounts.upload_staging import UploadStaging
from catalog.importing import ImportFileError, ImportTooLarge
from profiles.import_forms import ImportForm
from profiles.import_selectors import import_run_get, import_run_list
from profiles.import_services import customer_import, orders_import, sequences_import
from profiles.models import ImportRun

IMPORTS_PER_PAGE = 25
RECENT_IMPORTS = 5
REPORT_ROWS_SHOWN = 500
STAGING_SESSION_KEY = "profiles_staged_imports"
_staging = UploadStaging(session_key=STAGING_SESSION_KEY, folder="profile-import-staging")
_SERVICES = {
    ImportRun.Kind.CUSTOMERS: customer_import,
    ImportRun.Kind.ORDERS: orders_import,
    ImportRun.Kind.SEQUENCES: sequences_import,
}


def _run_import(request, kind: str, data: bytes, filename: str, options: dict, dry_run: bool) -> ImportRun:
    return _SERVICES[kind](
        merchant=request.merchant,
        actor=Actor.for_user(request.user),
        data=data,
        filename=filename,
        dry_run=dry_run,
        **options,
    )


@merchant_required("edit")
def import_view(request):
    if request.method != "POST":
        return _import_form_page(request, ImportForm())
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _import_form_page(request, form, status=413 if _too_large(form) else 400)
    upload = form.cleaned_data["file"]
    data = upload.read()
    kind, dry_run, options = form.cleaned_data["kind"], form.cleaned_data["dry_run"], form.options()
    try:
        run = _run_import(request, kind, data, upload.name, options, dry_run)
    except ImportFileError as exc:  # includes ImportTooLarge
        form.add_error("mapping" if exc.code == "invalid_mapping" else "file", exc.message)
        return _import_form_page(request, form, status=413 if isinstance(exc, ImportTooLarge) else 400)
    if dry_run and run.status == ImportRun.Status.PREVIEWED:
        _staging.stage(request, run.id, data, filename=upload.name, options=options)
    return redirect("profiles:import_detail", import_id=run.id)


def _too_large(form) -> bool:
    return any(error.code == "too_large" for error in form.errors.as_data().get("file", []))


def _import_form_page(request, form, status=200):
    context = {
        "section": "customers",
        "form": form,
        "max_bytes": settings.PROFILES_IMPORT_MAX_BYTES,
        "recent": import_run_list(merchant=request.merchant)[:RECENT_IMPORTS],
    }
    return render(request, "profiles/import.html", context, status=status)


@merchant_required()
def import_list_view(request):
    kind = request.GET.get("kind", "")
    kind = kind if kind in ImportRun.Kind.values else ""
    page = Paginator(import_run_list(merchant=request.merchant, kind=kind), IMPORTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "section": "customers",
        "page": page,
        "kind": kind,
        "kinds": ImportRun.Kind.choices,
        "can_edit": request.membership.can("edit"),
    }
    return render(request, "profiles/import_list.html", context)


@merchant_required()
def import_detail_view(request, import_id: int):
    run = import_run_get(merchant=request.merchant, import_id=import_id)
    report = run.report or {}
    error_rows = [
        {"line": row.get("line"), "refs": _row_refs(row), "field": field, "reason": reason}
        for row in report.get("errors") or []
        for field, reason in (row.get("errors") or {}).items()
    ]
    can_edit = request.membership.can("edit")
    columns = report.get("columns") or {}
    context = {
        "section": "customers",
        "run": run,
        "counts": _count_rows(run),
        "columns": [(h, columns[h]) for h in report.get("column_order") or list(columns) if h in columns],
        "ignored_columns": report.get("ignored_columns") or [],
        "error_rows": error_rows[:REPORT_ROWS_SHOWN],
        "error_rows_total": len(error_rows),
        "errors_omitted": report.get("errors_omitted") or 0,
        "preview": (report.get("preview") or [])[:REPORT_ROWS_SHOWN],
        "can_edit": can_edit,
        "can_apply": can_edit and _staged_path(request, run) is not None,
    }
    return render(request, "profiles/import_detail.html", context)


def _row_refs(row: dict) -> list[str]:
    """What the bad row was about: its customer, invoice and stock code, or user."""
    return [row[key] for key in ("external_id", "invoice", "sku", "user") if row.get(key)]


_COUNT_LABELS = {
    ImportRun.Kind.CUSTOMERS: [
        ("created", "Created", "Would create"),
        ("updated", "Updated", "Would update"),
        ("unchanged", "Unchanged", "Unchanged"),
    ],
    ImportRun.Kind.ORDERS: [
        ("purchases", "Purchases", "Purchases"),
        ("refunds", "Refunds", "Refunds"),
        ("customers_created", "New customers", "New customers"),
        ("products_created", "New products", "New products"),
        ("inserted", "Events stored", "Events to store"),
        ("duplicates", "Already stored", "Already stored"),
    ],
    ImportRun.Kind.SEQUENCES: [
        ("users", "Users", "Users"),
        ("interactions", "Interactions", "Interactions"),
        ("customers_created", "New customers", "New customers"),
        ("unknown_skus", "Items not in the catalog", "Items not in the catalog"),
        ("inserted", "Events stored", "Events to store"),
        ("duplicates", "Already stored", "Already stored"),
    ],
}


def _count_rows(run: ImportRun) -> list[tuple[str, str, int]]:
    counts = run.counts or {}
    return [
        (key, preview_label if run.dry_run else label, counts.get(key, 0))
        for key, label, preview_label in _COUNT_LABELS.get(run.kind, [])
    ]


@merchant_required("edit")
@require_POST
def import_apply_view(request, import_id: int):
    previewed = import_run_get(merchant=request.merchant, import_id=import_id)
    path = _staged_path(request, previewed)
    if path is None:
        messages.error(
            request,
            "The previewed file is no longer available (previews are kept for 24 hours, in the browser session "
            "that uploaded them). Upload it again with “Dry run” unchecked.",
        )
        return redirect("profiles:import")
    entry = _staging.entry(request, previewed.id)
    try:
        run = _run_import(
            request,
            previewed.kind,
            path.read_bytes(),
            entry.get("filename") or previewed.filename,
            entry.get("options") or {},
            dry_run=False,
        )
    except (ImportFileError, ValueError) as exc:
        messages.error(request, getattr(exc, "message", str(exc)))
        return redirect("profiles:import_detail", import_id=previewed.id)
    _staging.unstage(request, previewed.id)
    if run.status == ImportRun.Status.APPLIED:
        messages.success(request, "Import applied. The counts below are what was stored.")
    else:
        messages.error(request, "The import was rejected; nothing was changed. See the report below.")
    return redirect("profiles:import_detail", import_id=run.id)


# --- staging of previewed files ------------------------------------------------------------------------------


def _staged_path(request, run: ImportRun) -> Path | None:
    if run.status != ImportRun.Status.PREVIEWED:
        return None
    return _staging.path(request, import_id=run.id, merchant_id=run.merchant_id)
