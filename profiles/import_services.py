"""Writes for profile imports: customer files, order exports and interaction sequences. Each import is one
transaction and leaves an ImportRun with its counts and per-row report (a dry run writes only the ImportRun);
applied imports are audited. File-level problems raise `catalog.importing.ImportFileError` (`ImportTooLarge`
over the size limit) before anything is written; bad parameters (timezone, currency, event type) raise
ValueError with a message for the user.

Order exports: customers are upserted first with their country (a stored country is never overwritten),
missing products are created through the catalog's own import (`catalog.services.product_import`, one
ProductImport per chunk in the catalog's import history, so the products are validated and audited like any
catalog upload; existing products are left untouched), then the lines go through `profiles.ingest
.ingest_events` in chunks of INGEST_CHUNK. Sequences create no products: unknown item ids are kept on the
events by SKU and linked when products with those SKUs arrive.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from catalog.models import Product
from catalog.services import product_import
from profiles.importing import PREVIEW_ROWS, ParsedCustomerFile, parse_customer_file
from profiles.ingest import ingest_events
from profiles.models import Customer, Event, ImportRun
from profiles.order_import import (
    DEFAULT_CURRENCY,
    ParsedBehaviour,
    check_currency,
    check_event_type,
    order_customers,
    order_products,
    parse_orders,
    parse_sequences,
    read_text,
    sequence_events,
    timezone_get,
)
from profiles.services import customers_upsert_many

INGEST_CHUNK = 10_000
PRODUCT_CHUNK = 20_000  # products per catalog import: well under the catalog's file size limit
_LOOKUP_CHUNK = 5000
_COMPARED_FIELDS = (
    "email",
    "name",
    "locale",
    "country",
    "consent_marketing",
    "consent_profiling",
    "attributes",
)
CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"
_DEFAULT_LIMIT = object()


def _limit(max_bytes: Any) -> int | None:
    return settings.PROFILES_IMPORT_MAX_BYTES if max_bytes is _DEFAULT_LIMIT else max_bytes


# --- customers ---------------------------------------------------------------------------------------------


def customer_import(
    *,
    merchant: Merchant,
    actor: Actor,
    data: bytes,
    filename: str = "",
    file_format: str | None = None,
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    max_bytes: Any = _DEFAULT_LIMIT,
) -> ImportRun:
    """Upsert customers by external id from a CSV or JSON file (see profiles/importing.py for the columns).
    Each valid row is a create, an update or unchanged (every value it gives equals the stored one; given
    attributes are merged into the stored ones). Bad rows are reported and skipped; the others are applied
    together."""
    started = time.monotonic()
    parsed = parse_customer_file(
        data, filename=filename, file_format=file_format, mapping=mapping, max_bytes=_limit(max_bytes)
    )
    with transaction.atomic():
        actions, rows = _customer_actions(merchant, parsed)
        counts = Counter(actions.values())
        if not dry_run and rows:
            customers_upsert_many(merchant=merchant, actor=actor, rows=rows, audit=False)
        run = _run_record(
            merchant=merchant,
            actor=actor,
            kind=ImportRun.Kind.CUSTOMERS,
            filename=filename,
            file_format=parsed.file_format,
            dry_run=dry_run,
            valid=bool(parsed.rows),
            total_rows=parsed.total_rows,
            error_count=parsed.error_count,
            counts={"created": counts[CREATE], "updated": counts[UPDATE], "unchanged": counts[UNCHANGED]},
            report=_customer_report(parsed, actions),
            started=started,
        )
    return run


def _customer_actions(merchant: Merchant, parsed: ParsedCustomerFile) -> tuple[dict[str, str], list[dict]]:
    """What each valid row does, by external id, and the rows to write (attributes merged with the stored)."""
    stored = _stored_customers(merchant, [row.external_id for row in parsed.rows])
    actions: dict[str, str] = {}
    rows: list[dict] = []
    for row in parsed.rows:
        values = dict(row.values)
        current = stored.get(row.external_id)
        if current is None:
            actions[row.external_id] = CREATE
        else:
            if "attributes" in values:
                values["attributes"] = _merged(current["attributes"], values["attributes"])
            changed = any(values[name] != current[name] for name in values if name in _COMPARED_FIELDS)
            actions[row.external_id] = UPDATE if changed else UNCHANGED
        if actions[row.external_id] != UNCHANGED:
            rows.append(values)
    return actions, rows


def _merged(stored: dict | None, sent: dict) -> dict:
    """Attributes as customers_upsert_many merges them: keys sent replace the stored, null removes a key."""
    merged = dict(stored or {})
    for key, value in sent.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _stored_customers(merchant: Merchant, external_ids: list[str]) -> dict[str, dict[str, Any]]:
    stored: dict[str, dict[str, Any]] = {}
    for start in range(0, len(external_ids), _LOOKUP_CHUNK):
        chunk = external_ids[start : start + _LOOKUP_CHUNK]
        for values in Customer.objects.filter(merchant=merchant, external_id__in=chunk).values(
            "external_id", *_COMPARED_FIELDS
        ):
            stored[values["external_id"]] = values
    return stored


def _customer_report(parsed: ParsedCustomerFile, actions: dict[str, str]) -> dict:
    preview = [
        {
            "line": row.line,
            "external_id": row.external_id,
            "email": row.values.get("email", ""),
            "name": row.values.get("name", ""),
            "country": row.values.get("country", ""),
            "action": actions[row.external_id],
        }
        for row in parsed.rows[:PREVIEW_ROWS]
    ]
    return {
        "columns": parsed.columns,
        "column_order": list(parsed.columns),  # JSONB does not keep key order
        "ignored_columns": parsed.ignored_columns,
        "errors": parsed.errors,
        "errors_omitted": parsed.error_count - len(parsed.errors),
        "preview": preview,
    }


# --- order exports -----------------------------------------------------------------------------------------


def orders_import(
    *,
    merchant: Merchant,
    actor: Actor,
    data: bytes,
    filename: str = "",
    dry_run: bool = False,
    currency: str = DEFAULT_CURRENCY,
    timezone_name: str = "UTC",
    max_bytes: Any = _DEFAULT_LIMIT,
) -> ImportRun:
    """Import an order export with the UCI Online Retail header (profiles/order_import.py): customers,
    missing products, and one purchase or refund event per line."""
    started = time.monotonic()
    tz = timezone_get(timezone_name)
    currency = check_currency(currency)
    parsed = parse_orders(read_text(data, max_bytes=_limit(max_bytes)), tz=tz)
    lines = parsed.items
    events = [line.event(currency=currency) for line in lines]
    customers = order_customers(lines)
    products = order_products(lines)
    with transaction.atomic():
        new_customers, country_fills = _customers_to_write(merchant, customers)
        missing_skus = sorted(set(products) - _existing_skus(merchant, list(products)))
        counts: dict[str, Any] = {
            "purchases": sum(1 for line in lines if not line.is_refund),
            "refunds": sum(1 for line in lines if line.is_refund),
            "anonymous_lines": sum(1 for line in lines if not line.customer),
            "customers": len(customers),
            "customers_created": len(new_customers),
            "products": len(products),
            "products_created": len(missing_skus),
            "product_imports": [],
        }
        if not dry_run:
            rows = [
                {"external_id": ext, "country": customers[ext]} for ext in (*new_customers, *country_fills)
            ]
            if rows:
                customers_upsert_many(merchant=merchant, actor=actor, rows=rows, audit=False)
            counts.update(
                _products_create(merchant, actor, [products[sku] for sku in missing_skus], currency, filename)
            )
        counts.update(_events_write(merchant, parsed, events, dry_run=dry_run))
        run = _run_record(
            merchant=merchant,
            actor=actor,
            kind=ImportRun.Kind.ORDERS,
            filename=filename,
            file_format="uci",
            dry_run=dry_run,
            valid=bool(lines),
            total_rows=parsed.total_rows,
            error_count=parsed.error_count + counts["rejected"],
            counts=counts,
            report=_events_report(parsed, events, _order_preview),
            started=started,
        )
    return run


def _customers_to_write(merchant: Merchant, customers: dict[str, str]) -> tuple[list[str], list[str]]:
    """The customers to create, and the stored ones whose blank country the file can fill."""
    stored: dict[str, str] = {}
    ids = list(customers)
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        stored.update(
            Customer.objects.filter(
                merchant=merchant, external_id__in=ids[start : start + _LOOKUP_CHUNK]
            ).values_list("external_id", "country")
        )
    new = [ext for ext in ids if ext not in stored]
    fills = [ext for ext in ids if ext in stored and not stored[ext] and customers[ext]]
    return new, fills


def _existing_skus(merchant: Merchant, skus: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(skus), _LOOKUP_CHUNK):
        found.update(
            Product.objects.filter(
                merchant=merchant, sku__in=skus[start : start + _LOOKUP_CHUNK]
            ).values_list("sku", flat=True)
        )
    return found


def _products_create(
    merchant: Merchant, actor: Actor, products: list[dict], currency: str, filename: str
) -> dict[str, Any]:
    """Creates the missing products through the catalog import; returns its counts and import ids."""
    created = rejected = 0
    import_ids = []
    name = f"{filename or 'orders'} (products from an order import)"[:255]
    for start in range(0, len(products), PRODUCT_CHUNK):
        chunk = [{**product, "currency": currency} for product in products[start : start + PRODUCT_CHUNK]]
        result = product_import(
            merchant=merchant,
            actor=actor,
            data=json.dumps(chunk).encode(),
            filename=name,
            file_format="json",
        )
        created += result.created_count
        rejected += result.error_count
        import_ids.append(result.id)
    return {"products_created": created, "products_rejected": rejected, "product_imports": import_ids}


# --- interaction sequences ---------------------------------------------------------------------------------


def sequences_import(
    *,
    merchant: Merchant,
    actor: Actor,
    data: bytes,
    filename: str = "",
    dry_run: bool = False,
    event_type: str = "purchase",
    customer_prefix: str = "",
    sku_prefix: str = "",
    end: datetime | None = None,
    step: timedelta = timedelta(days=1),
    max_bytes: Any = _DEFAULT_LIMIT,
) -> ImportRun:
    """Import `user item item ...` lines (profiles/order_import.py): one event per item, times synthesised."""
    started = time.monotonic()
    event_type = check_event_type(event_type)
    if len(customer_prefix) > 50 or len(sku_prefix) > 50:
        raise ValueError("A prefix is at most 50 characters.")
    end = (end or timezone.now()).replace(microsecond=0)
    parsed = parse_sequences(
        read_text(data, max_bytes=_limit(max_bytes)), customer_prefix=customer_prefix, sku_prefix=sku_prefix
    )
    events: list[dict] = []
    lines: list[int] = []
    for user in parsed.items:
        events.extend(sequence_events(user, event_type=event_type, end=end, step=step))
        lines.extend([user.line] * len(user.items))
    with transaction.atomic():
        customer_ids = [user.customer for user in parsed.items]
        skus = sorted({event["product"] for event in events})
        counts: dict[str, Any] = {
            "users": len(parsed.items),
            "interactions": len(events),
            "customers_created": len(customer_ids) - len(_existing_customers(merchant, customer_ids)),
            "products": len(skus),
            "unknown_skus": len(skus) - len(_existing_skus(merchant, skus)),
            "event_type": event_type,
            "end": end.isoformat(),
        }
        counts.update(_events_write(merchant, parsed, events, dry_run=dry_run, lines=lines))
        run = _run_record(
            merchant=merchant,
            actor=actor,
            kind=ImportRun.Kind.SEQUENCES,
            filename=filename,
            file_format="sequences",
            dry_run=dry_run,
            valid=bool(events),
            total_rows=parsed.total_rows,
            error_count=parsed.error_count + counts["rejected"],
            counts=counts,
            report=_events_report(parsed, events, _sequence_preview, lines=lines),
            started=started,
        )
    return run


def _existing_customers(merchant: Merchant, external_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(external_ids), _LOOKUP_CHUNK):
        found.update(
            Customer.objects.filter(
                merchant=merchant, external_id__in=external_ids[start : start + _LOOKUP_CHUNK]
            ).values_list("external_id", flat=True)
        )
    return found


# --- events ------------------------------------------------------------------------------------------------


def _events_write(
    merchant: Merchant,
    parsed: ParsedBehaviour,
    events: list[dict],
    *,
    dry_run: bool,
    lines: list[int] | None = None,
) -> dict[str, int]:
    """Ingests the events in chunks (a dry run counts the idempotency keys already stored instead); events the
    ingestion rejects join the report's errors with their line."""
    lines = lines if lines is not None else [item.line for item in parsed.items]
    if dry_run:
        duplicates = _stored_keys(merchant, [event["idempotency_key"] for event in events])
        return {"inserted": len(events) - duplicates, "duplicates": duplicates, "rejected": 0}
    inserted = duplicates = rejected = 0
    for start in range(0, len(events), INGEST_CHUNK):
        result = ingest_events(merchant=merchant, rows=events[start : start + INGEST_CHUNK], source="import")
        inserted += result.inserted
        duplicates += result.duplicates
        rejected += result.rejected
        for error in result.errors:
            reasons = {name: "; ".join(messages) for name, messages in error["errors"].items()}
            parsed.reject(lines[start + error["index"]], reasons)
    parsed.errors.sort(key=lambda error: error["line"])
    return {"inserted": inserted, "duplicates": duplicates, "rejected": rejected}


def _stored_keys(merchant: Merchant, keys: list[str]) -> int:
    found = 0
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        found += Event.objects.filter(
            merchant=merchant, idempotency_key__in=keys[start : start + _LOOKUP_CHUNK]
        ).count()
    return found


def _order_preview(event: dict, line: int) -> dict:
    return {
        "line": line,
        "type": event["type"],
        "order_id": event["order_id"],
        "customer": event.get("customer", ""),
        "session_id": event.get("session_id", ""),
        "product": event["product"],
        "quantity": event["quantity"],
        "value": event["value"],
        "occurred_at": event["occurred_at"],
    }


def _sequence_preview(event: dict, line: int) -> dict:
    return {
        "line": line,
        "type": event["type"],
        "customer": event["customer"],
        "product": event["product"],
        "quantity": event["quantity"],
        "occurred_at": event["occurred_at"],
    }


def _events_report(
    parsed: ParsedBehaviour,
    events: list[dict],
    preview: Callable[[dict, int], dict],
    lines: list[int] | None = None,
) -> dict:
    lines = lines if lines is not None else [item.line for item in parsed.items]
    return {
        "columns": parsed.columns,
        "column_order": list(parsed.columns),
        "ignored_columns": [],
        "errors": parsed.errors,
        "errors_omitted": parsed.error_count - len(parsed.errors),
        "preview": [preview(event, line) for event, line in zip(events[:PREVIEW_ROWS], lines, strict=False)],
    }


# --- the run -----------------------------------------------------------------------------------------------


def _run_record(
    *,
    merchant: Merchant,
    actor: Actor,
    kind: str,
    filename: str,
    file_format: str,
    dry_run: bool,
    valid: bool,
    total_rows: int,
    error_count: int,
    counts: dict,
    report: dict,
    started: float,
) -> ImportRun:
    if not valid:
        status = ImportRun.Status.REJECTED
    elif dry_run:
        status = ImportRun.Status.PREVIEWED
    else:
        status = ImportRun.Status.APPLIED
    run = ImportRun.objects.create(
        merchant=merchant,
        kind=kind,
        filename=(filename or "")[:255],
        file_format=file_format,
        status=status,
        dry_run=dry_run,
        total_rows=total_rows,
        error_count=error_count,
        counts=counts,
        report=report,
        seconds=round(time.monotonic() - started, 3),
        created_by_label=actor.label[:200],
    )
    if not dry_run:
        audit_record(
            merchant=merchant,
            actor=actor,
            action=f"{'customer' if kind == ImportRun.Kind.CUSTOMERS else 'event'}.import",
            obj=run,
            changes={
                "kind": kind,
                "status": status,
                "filename": run.filename,
                "errors": error_count,
                **counts,
            },
        )
    return run
