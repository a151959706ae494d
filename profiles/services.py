"""Writes for customers: upsert by the shop's external id, one at a time (API, dashboard) or in bulk (imports).

Field rules live in `customer_fields_clean`, which the API serializer calls too, so the API, the dashboard and
the services give the same messages. Attributes are merged: keys sent replace the stored ones, a key sent as
null removes it, other stored keys stay (what Klaviyo's profile properties do)."""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from profiles.models import Customer
from storyfront.parsing import parse_bool

CUSTOMER_FIELDS = (
    "email",
    "name",
    "locale",
    "country",
    "consent_marketing",
    "consent_profiling",
    "attributes",
)
ATTRIBUTES_MAX_BYTES = 16 * 1024
BULK_CHUNK = 1000
_TEXT_LIMITS = {"external_id": 200, "email": 254, "name": 200, "locale": 16, "country": 64}
_LOCALE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*")


def customer_fields_clean(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Checks and normalises the Customer fields given (external_id included if present); returns the clean
    values and {field: [message]} for the bad ones. Absent fields stay absent (partial updates)."""
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in fields.items():
        try:
            clean[name] = _CLEANERS[name](value)
        except KeyError:
            errors[name] = ["Unknown customer field."]
        except ValueError as exc:
            errors[name] = [str(exc)]
    return clean, errors


def _text(name: str, value: Any, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if isinstance(value, int) and not isinstance(value, bool) and name == "external_id":
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    value = value.strip()
    if required and not value:
        raise ValueError("This field is required.")
    if len(value) > _TEXT_LIMITS[name]:
        raise ValueError(f"At most {_TEXT_LIMITS[name]} characters.")
    if "\x00" in value:
        raise ValueError("Must not contain NUL characters.")
    return value


def _email(value: Any) -> str:
    email = _text("email", value)
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise ValueError("Enter a valid email address.") from exc
    return email


def _locale(value: Any) -> str:
    locale = _text("locale", value)
    if locale and not _LOCALE.fullmatch(locale):
        raise ValueError("Use a language tag such as en, en-GB or pt_BR.")
    return locale.replace("_", "-")


def _consent(value: Any) -> bool:
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise ValueError("Must be true or false.") from exc


def _attributes(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError('Must be an object of name/value pairs, e.g. {"vip": true}.')
    try:
        size = len(json.dumps(value, allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        raise ValueError("Must be plain JSON.") from exc
    if size > ATTRIBUTES_MAX_BYTES:
        raise ValueError(f"At most {ATTRIBUTES_MAX_BYTES // 1024} KB of JSON.")
    if "\\u0000" in json.dumps(value):
        raise ValueError("Must not contain NUL characters.")
    return value


_CLEANERS = {
    "external_id": lambda v: _text("external_id", v, required=True),
    "email": _email,
    "name": lambda v: _text("name", v),
    "locale": _locale,
    "country": lambda v: _text("country", v),
    "consent_marketing": _consent,
    "consent_profiling": _consent,
    "attributes": _attributes,
}


def _merged_attributes(stored: dict, sent: dict) -> dict:
    merged = dict(stored or {})
    for key, value in sent.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _apply(customer: Customer, fields: dict[str, Any]) -> dict[str, list]:
    """Sets the fields on the customer; returns {field: [old, new]} for those that changed."""
    changes = {}
    for name, value in fields.items():
        old = getattr(customer, name)
        new = _merged_attributes(old, value) if name == "attributes" else value
        if new != old:
            setattr(customer, name, new)
            changes[name] = [old, new]
    return changes


def _consent_withdrawn(changes: dict[str, list]) -> bool:
    return changes.get("consent_profiling", [None, None])[1] is False


@transaction.atomic
def customer_upsert(
    *, merchant: Merchant, actor: Actor, external_id: str, **fields: Any
) -> tuple[Customer, bool]:
    """Creates the merchant's customer with this external id, or changes the given fields of the existing one.
    Returns (customer, created). Raises ValidationError with per-field messages. Audited (create, or update
    with each changed field's old and new value; nothing when nothing changed). Withdrawing profiling
    consent drops the customer's profile and segment memberships (profiles.privacy.consent_changed)."""
    clean, errors = customer_fields_clean({"external_id": external_id, **fields})
    if errors:
        raise ValidationError(errors)
    external_id = clean.pop("external_id")
    customer = Customer.objects.select_for_update().filter(merchant=merchant, external_id=external_id).first()
    if customer is None:
        try:
            with transaction.atomic():
                customer = Customer(merchant=merchant, external_id=external_id)
                _apply(customer, clean)
                customer.save()
        except IntegrityError:  # created concurrently since the lookup: update that one instead
            customer = Customer.objects.select_for_update().get(merchant=merchant, external_id=external_id)
        else:
            audit_record(
                merchant=merchant,
                actor=actor,
                action="customer.create",
                obj=customer,
                summary=external_id,
                changes={name: _audit_value(name, value) for name, value in clean.items()},
            )
            return customer, True
    changes = _apply(customer, clean)
    if changes:
        customer.save(update_fields=[*changes, "updated_at"])
        audit_record(
            merchant=merchant,
            actor=actor,
            action="customer.update",
            obj=customer,
            summary=external_id,
            changes={
                name: [_audit_value(name, old), _audit_value(name, new)]
                for name, (old, new) in changes.items()
            },
        )
        if _consent_withdrawn(changes):
            _consent_changed(customer, actor)
    return customer, False


# Personal data stays out of the audit log (an erasure could not reach it there): these are logged as changed,
# without their values.
_REDACTED = frozenset({"email", "name", "attributes"})


def _audit_value(name: str, value: Any) -> Any:
    return "(set)" if name in _REDACTED and value else value


def _consent_changed(customer: Customer, actor: Actor) -> None:
    from profiles.privacy import consent_changed

    consent_changed(customer=customer, actor=actor)


def customers_upsert_many(
    *, merchant: Merchant, actor: Actor, rows: list[dict], audit: bool = True
) -> dict[str, int]:
    """Upserts customers from already-validated rows ({"external_id": ..., <Customer fields>}); each row
    changes only the fields it has. A later row for the same external id wins. Returns {"created", "updated",
    "unchanged"}. One audit entry for the whole call (pass audit=False when the caller records its own, as
    an import does)."""
    by_id: dict[str, dict] = {}
    for row in rows:
        row = dict(row)
        external_id = str(row.pop("external_id")).strip()
        by_id.setdefault(external_id, {}).update(row)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    withdrawn: list[Customer] = []
    ids = sorted(by_id)
    with transaction.atomic():
        for start in range(0, len(ids), BULK_CHUNK):
            chunk = ids[start : start + BULK_CHUNK]
            withdrawn += _upsert_chunk(merchant, {i: by_id[i] for i in chunk}, counts)
        for customer in withdrawn:
            _consent_changed(customer, actor)
        if audit and rows:
            audit_record(
                merchant=merchant,
                actor=actor,
                action="customer.upsert_many",
                object_type="customer",
                summary=(
                    f"{counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged"
                ),
                changes=dict(counts),
            )
    return counts


def _upsert_chunk(merchant: Merchant, rows: dict[str, dict], counts: dict[str, int]) -> list[Customer]:
    existing = {
        c.external_id: c
        for c in Customer.objects.select_for_update().filter(merchant=merchant, external_id__in=list(rows))
    }
    new, changed, withdrawn, fields = [], [], [], set()
    for external_id, values in rows.items():
        customer = existing.get(external_id)
        if customer is None:
            customer = Customer(merchant=merchant, external_id=external_id)
            _apply(customer, values)
            new.append(customer)
            continue
        changes = _apply(customer, values)
        if changes:
            changed.append(customer)
            fields.update(changes)
            if _consent_withdrawn(changes):
                withdrawn.append(customer)
    # ignore_conflicts: a customer created concurrently since the lookup (by an event, say) keeps that row,
    # and this call's values for it are not applied.
    Customer.objects.bulk_create(new, ignore_conflicts=True, batch_size=BULK_CHUNK)
    if changed:
        now = timezone.now()  # bulk_update does not touch auto_now fields
        for customer in changed:
            customer.updated_at = now
        Customer.objects.bulk_update(changed, [*sorted(fields), "updated_at"], batch_size=BULK_CHUNK)
    counts["created"] += len(new)
    counts["updated"] += len(changed)
    counts["unchanged"] += len(rows) - len(new) - len(changed)
    return withdrawn
