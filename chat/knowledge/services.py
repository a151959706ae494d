"""Writes for the knowledge the bot answers from: knowledge items (create, update, delete), the knowledge import
(CSV or JSON) and queueing the embeddings that retrieval needs (the runs themselves: chat.knowledge.embeddings).
Roles are checked by the views."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from chat.models import KnowledgeItem
from chat.text import clean_text
from storyfront import uploads
from storyfront.parsing import parse_bool

KNOWLEDGE_LIMITS = {"title": 300, "body": 10_000}
KNOWLEDGE_IMPORT_MAX_ROWS = 2_000

KNOWLEDGE_FIELDS = frozenset({"kind", "title", "body", "is_internal", "is_active"})


def _knowledge_validate(item: KnowledgeItem) -> None:
    errors: dict[str, list[str]] = {}
    for name, limit in KNOWLEDGE_LIMITS.items():
        value = getattr(item, name)
        if not isinstance(value, str):
            errors[name] = ["Must be a string."]
            continue
        try:
            setattr(item, name, clean_text(value, name=name, limit=limit))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if item.kind not in KnowledgeItem.Kind.values:
        errors["kind"] = [f"Must be one of {', '.join(KnowledgeItem.Kind.values)}."]
    for name in ("is_internal", "is_active"):
        if not isinstance(getattr(item, name), bool):
            errors[name] = ["Must be true or false."]
    if not errors:
        clash = KnowledgeItem.objects.filter(merchant_id=item.merchant_id, kind=item.kind, title=item.title)
        if item.pk:
            clash = clash.exclude(pk=item.pk)
        if clash.exists():
            errors["title"] = [f"There is already a {item.kind} titled {item.title!r}."]
    if errors:
        raise ValidationError(errors)


def embeddings_refresh_enqueue(*, merchant_id: int) -> None:
    """Queue the `ml` worker that (re)computes changed knowledge and product vectors of a merchant."""
    from chat.tasks import embed_knowledge_task, embed_products_task

    embed_knowledge_task.apply_async(args=[merchant_id], queue="ml")
    embed_products_task.apply_async(args=[merchant_id], queue="ml")


def product_vectors_refresh_soon(*, merchant_id: int) -> bool:
    """Queue the product vectors of a merchant whose catalog changed since they were computed, at most once
    every few minutes per merchant (conversations start often; the beat sweep catches the rest)."""
    from django.core.cache import cache

    from chat.selectors import products_needing_embedding
    from chat.tasks import embed_products_task

    if not cache.add(f"chat:product-vectors:{merchant_id}", 1, timeout=300):
        return False
    if not products_needing_embedding(merchant_id=merchant_id).exists():
        return False
    embed_products_task.apply_async(args=[merchant_id], queue="ml")
    return True


def _knowledge_embed_on_commit(merchant_id: int) -> None:
    from chat.tasks import embed_knowledge_task

    transaction.on_commit(lambda: embed_knowledge_task.apply_async(args=[merchant_id], queue="ml"))


@transaction.atomic
def knowledge_item_create(
    *,
    merchant: Merchant,
    actor: Actor,
    title: str,
    body: str,
    kind: str = KnowledgeItem.Kind.FAQ,
    is_internal: bool = False,
    is_active: bool = True,
) -> KnowledgeItem:
    item = KnowledgeItem(
        merchant=merchant, kind=kind, title=title, body=body, is_internal=is_internal, is_active=is_active
    )
    _knowledge_validate(item)
    item.save()
    audit_record(
        merchant=merchant,
        actor=actor,
        action="knowledge.create",
        obj=item,
        changes={"kind": item.kind, "is_internal": item.is_internal},
    )
    _knowledge_embed_on_commit(merchant.pk)
    return item


@transaction.atomic
def knowledge_item_update(
    *, merchant: Merchant, actor: Actor, item: KnowledgeItem, **fields: Any
) -> KnowledgeItem:
    unknown = set(fields) - KNOWLEDGE_FIELDS
    if unknown:
        raise TypeError(f"Unknown knowledge field(s): {', '.join(sorted(unknown))}")
    item = KnowledgeItem.objects.select_for_update().get(pk=item.pk, merchant=merchant)
    changes = {}
    for name, value in fields.items():
        if getattr(item, name) != value:
            changes[name] = value if name not in ("body",) else f"{len(str(value))} characters"
        setattr(item, name, value)
    _knowledge_validate(item)
    item.save()
    if changes:
        audit_record(merchant=merchant, actor=actor, action="knowledge.update", obj=item, changes=changes)
        _knowledge_embed_on_commit(merchant.pk)
    return item


@transaction.atomic
def knowledge_item_delete(*, merchant: Merchant, actor: Actor, item: KnowledgeItem) -> None:
    item = KnowledgeItem.objects.filter(pk=item.pk, merchant=merchant).first()
    if item is None:
        return
    audit_record(merchant=merchant, actor=actor, action="knowledge.delete", obj=item)
    item.delete()


@dataclass
class KnowledgeImportReport:
    """Per upload: rows read, created and updated, and each bad row's line and errors. `applied` is False
    when any row was bad: nothing is written then."""

    filename: str
    file_format: str
    total: int = 0
    created: int = 0
    updated: int = 0
    errors: list[dict] = field(default_factory=list)
    applied: bool = False

    def as_dict(self) -> dict:
        return {
            "filename": self.filename,
            "format": self.file_format,
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "errors": self.errors,
            "applied": self.applied,
        }


def _import_bool(value: Any) -> bool:
    """An ``is_internal`` cell: yes/no words (storyfront.parsing), "internal"/"public", blank for no."""
    return parse_bool(value, blank=False, true_words=("internal",), false_words=("public",))


_IMPORT_SUFFIXES = {".csv": "csv", ".json": "json"}


def _import_rows(data: bytes, filename: str) -> tuple[str, list[tuple[int, Any]]]:
    """The file's format and its non-blank rows, each with the number the report shows (CSV: the record as
    a spreadsheet numbers it, header = 1; JSON: the 1-based position in the list)."""
    try:
        text = uploads.decode_upload(data)
        if not text.lstrip("\ufeff \t\r\n"):
            raise ValidationError({"file": ["The file is empty."]})
        file_format = uploads.detect_format(filename, text, suffixes=_IMPORT_SUFFIXES)
        if file_format == "json":
            return "json", _import_json_rows(text)
        return "csv", _import_csv_rows(text)
    except uploads.UploadError as exc:
        raise ValidationError({"file": [exc.message]}) from None


def _import_json_rows(text: str) -> list[tuple[int, Any]]:
    try:
        return [(item.row, item.value) for item in uploads.iter_json_rows(text)]
    except uploads.UploadError as exc:
        if exc.code == "not_a_list":
            raise ValidationError({"file": ["A JSON import must be a list of objects."]}) from None
        if exc.code == "malformed_json":
            raise ValidationError({"file": [f"Not valid JSON: {exc.detail} (line {exc.line})."]}) from None
        raise


def _import_csv_rows(text: str) -> list[tuple[int, Any]]:
    """Blank rows before the header and after it are skipped, as the catalog import does."""
    headers: list[str] | None = None
    rows: list[tuple[int, Any]] = []
    for record in uploads.iter_csv_rows(text):
        if headers is None:
            if any(cell.strip() for cell in record.cells):
                headers = _import_headers(record.cells)
            continue
        # Cells past the header's columns are dropped; a short row leaves its last columns out.
        clean = dict(zip(headers, record.cells, strict=False))
        if any(value.strip() for value in clean.values()):
            rows.append((record.row, clean))
    if headers is None:  # only blank rows (",,,"): no title or body column
        _import_headers([])
    return rows


def _import_headers(cells: list[str]) -> list[str]:
    """The header row's column names (trimmed, lower case); ValidationError without title and body."""
    headers = [cell.strip().lower() for cell in cells]
    missing = [name for name in ("title", "body") if name not in headers]
    if missing:
        raise ValidationError(
            {
                "file": [
                    f"Missing required column(s): {', '.join(missing)}. Columns: kind, title, body, is_internal."
                ]
            }
        )
    return headers


def _import_item(
    *, merchant: Merchant, existing: dict[tuple[str, str], KnowledgeItem], raw: dict
) -> tuple[KnowledgeItem, dict[str, list[str]]]:
    """One import row as the item it creates or updates (matched by kind and title), and its errors."""
    errors: dict[str, list[str]] = {}
    kind = raw.get("kind")
    kind = (kind.strip().lower() if isinstance(kind, str) else kind) or KnowledgeItem.Kind.FAQ
    try:
        is_internal = _import_bool(raw.get("is_internal"))
    except ValueError as exc:
        errors["is_internal"] = [str(exc).capitalize() + "."]
        is_internal = False
    key_title = raw.get("title").strip() if isinstance(raw.get("title"), str) else raw.get("title")
    item = existing.get((kind, key_title)) or KnowledgeItem(merchant=merchant)
    item.kind, item.title, item.body, item.is_internal = (
        kind,
        raw.get("title"),
        raw.get("body"),
        is_internal,
    )
    for name, limit in KNOWLEDGE_LIMITS.items():
        try:
            setattr(
                item,
                name,
                clean_text(
                    getattr(item, name) if getattr(item, name) is not None else "", name=name, limit=limit
                ),
            )
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if kind not in KnowledgeItem.Kind.values:
        errors["kind"] = [f"Must be one of {', '.join(KnowledgeItem.Kind.values)}."]
    return item, errors


def _import_save(planned: list[KnowledgeItem], report: KnowledgeImportReport) -> None:
    """Write the planned items, counting the created and updated ones on the report."""
    for item in planned:
        if item.pk:
            report.updated += 1
        else:
            report.created += 1
        item.is_active = True if item.pk is None else item.is_active
        try:
            item.save()
        except IntegrityError:  # a concurrent upload created the same title; this one is refused whole
            raise ValidationError(
                {"file": ["Another upload changed these items at the same time; try again."]}
            ) from None


@transaction.atomic
def knowledge_import(*, merchant: Merchant, actor: Actor, data: bytes, filename: str = "") -> dict:
    """Upsert knowledge items by (kind, title) from CSV (columns kind, title, body, is_internal) or a JSON list
    of objects with those keys. All or nothing: one bad row and nothing is written; the report lists every
    bad row with its line (CSV: the row as a spreadsheet numbers it, header = 1, a multi-line cell one row,
    as the catalog import numbers them; JSON: 1-based position). A file that cannot be read at all raises
    ValidationError on `file`."""
    file_format, rows = _import_rows(data, filename or "")
    report = KnowledgeImportReport(filename=filename or "", file_format=file_format, total=len(rows))
    if not rows:
        raise ValidationError({"file": ["The file has no rows."]})
    if len(rows) > KNOWLEDGE_IMPORT_MAX_ROWS:
        raise ValidationError({"file": [f"At most {KNOWLEDGE_IMPORT_MAX_ROWS} rows per upload."]})
    existing = {
        (i.kind, i.title): i for i in KnowledgeItem.objects.select_for_update().filter(merchant=merchant)
    }
    seen: dict[tuple[str, str], int] = {}
    planned: list[KnowledgeItem] = []
    for line, raw in rows:
        if not isinstance(raw, dict):
            report.errors.append({"line": line, "errors": {"row": ["Must be an object."]}})
            continue
        item, errors = _import_item(merchant=merchant, existing=existing, raw=raw)
        if not errors:
            key = (item.kind, item.title)
            if key in seen:
                errors["title"] = [f"Duplicate of line {seen[key]} in this file."]
            seen[key] = line
        if errors:
            report.errors.append({"line": line, "errors": errors})
            continue
        planned.append(item)
    if report.errors:
        return report.as_dict()
    _import_save(planned, report)
    report.applied = True
    audit_record(
        merchant=merchant,
        actor=actor,
        action="knowledge.import",
        object_type="knowledgeitem",
        summary=f"Imported {report.total} knowledge item(s) from {filename or file_format}",
        changes={"created": report.created, "updated": report.updated},
    )
    _knowledge_embed_on_commit(merchant.pk)
    return report.as_dict()


def merchants_with_stale_product_vectors() -> list[int]:
    """Merchants with chat settings (they use chat) and products whose vectors are missing or out of date."""
    from django.db.models import Q

    from catalog.models import Product

    return list(
        Product.objects.filter(is_active=True, merchant__chat_settings__isnull=False)
        .filter(Q(chat_embedding__isnull=True) | Q(updated_at__gt=F("chat_embedding__updated_at")))
        .values_list("merchant_id", flat=True)
        .distinct()
        .order_by("merchant_id")
    )
