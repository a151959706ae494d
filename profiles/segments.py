"""Segments: saved lists of customers defined by rules (profiles/segment_rules.py has the rule language).

Reads: `segment_list`, `segment_get`, `segment_queryset` (the rules as one query), `segment_members` (the stored
memberships, or the live query while they are being recomputed), `customer_segments`.
Writes: `segment_create`, `segment_update`, `segment_delete` (audited; saving queues a recompute on commit),
`ensure_builtin_segments`, `recompute_segments` (the worker's diff of memberships; hourly from beat).

Memberships are stored so that other pages (the customer list's segment filter, a campaign's audience) read
them with one indexed join instead of re-running rules. A segment's `computed_at` says when they were last
brought up to date; while it is older than the segment's `updated_at` (rules just changed), readers get the live
query instead, and `member_count` already holds the live count taken when the segment was saved.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from profiles.models import Customer, RFMSegment, Segment, SegmentMembership
from profiles.segment_rules import RULE_FIELDS, clean_rules, describe_rule
from profiles.segment_sql import segment_customers

logger = logging.getLogger(__name__)

# Slugs the dashboard and API routes use next to segment slugs (/customers/segments/new/, .../preview/).
RESERVED_SLUGS = frozenset({"new", "preview", "condition", "conditions", "import", "export"})
SEGMENT_FIELDS = frozenset({"name", "description", "slug", "match", "rules"})
BUILTIN_LOCKED_FIELDS = frozenset({"slug", "match", "rules"})

# The built-in segments: one per main RFM group (profiles.models.RFMSegment says how groups are assigned).
BUILTIN_SEGMENTS: tuple[tuple[str, str, str, str], ...] = (
    ("champions", "Champions", RFMSegment.CHAMPIONS, "Bought recently and often. Your best customers."),
    ("loyal", "Loyal", RFMSegment.LOYAL, "Buy often, not quite as recently as champions."),
    ("at-risk", "At risk", RFMSegment.AT_RISK, "Used to buy often, but not lately. Win them back."),
    ("hibernating", "Hibernating", RFMSegment.HIBERNATING, "Few orders, long ago."),
    ("new-customers", "New customers", RFMSegment.NEW, "First order recently."),
)


class SegmentInvalid(ValidationError):
    """A ValidationError whose `errors` keep the per-condition structure ({"rules": {index: {key: [msg]}}}) for
    the API and the builder; its flat messages ("Condition 2: ...") suit everything else."""

    def __init__(self, errors: dict[str, Any]):
        self.errors = errors
        super().__init__(_flatten(errors))


def _flatten(errors: dict[str, Any]) -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    for name, problems in errors.items():
        if isinstance(problems, dict):
            flat[name] = [
                f"Condition {index + 1}: {message}"
                for index, by_key in sorted(problems.items())
                for messages in by_key.values()
                for message in messages
            ]
        else:
            flat[name] = list(problems)
    return flat


def validate_rules(rules: Any, match: Any = "all", *, allow_empty: bool = False) -> dict:
    """Errors for rules (empty when valid): {"match": [msg]}, {"rules": [msg]} about the list as a whole, or
    {"rules": {index: {"field"|"op"|"value"|extra key: [msg]}}} per condition (0-based index)."""
    return clean_rules(rules, match, allow_empty=allow_empty)[1]


def segment_queryset(*, merchant: Merchant | int, rules: Any, match: str = "all") -> QuerySet[Customer]:
    """The merchant's customers matching the rules, as one query; never customers who refused profiling.
    Raises SegmentInvalid for invalid rules."""
    cleaned, errors = clean_rules(rules, match, allow_empty=True)
    if errors:
        raise SegmentInvalid(errors)
    merchant_id = merchant if isinstance(merchant, int) else merchant.pk
    return segment_customers(cleaned, match, merchant_id=merchant_id)


# ---------- Reads ----------


def segment_list(*, merchant: Merchant | None) -> QuerySet[Segment]:
    return Segment.objects.filter(merchant=merchant)


def segment_get(*, merchant: Merchant | None, slug: str) -> Segment:
    segment = segment_list(merchant=merchant).filter(slug=str(slug)[:140]).first()
    if segment is None:
        raise Http404("No such segment.")
    return segment


def segment_is_current(segment: Segment) -> bool:
    """Whether the stored memberships follow the segment's current rules."""
    return segment.computed_at is not None and segment.computed_at >= segment.updated_at


def segment_members(*, segment: Segment) -> QuerySet[Customer]:
    """The segment's customers (with their profiles), most recently seen first."""
    if segment_is_current(segment):
        members = Customer.objects.filter(
            merchant_id=segment.merchant_id, segment_memberships__segment=segment
        )
    else:
        members = segment_queryset(merchant=segment.merchant_id, rules=segment.rules, match=segment.match)
    return members.select_related("profile").order_by("-last_seen_at", "-id")


def customer_segments(*, customer: Customer) -> list[Segment]:
    """The segments the customer is a member of (as last computed), built-in first, then by name."""
    return list(
        Segment.objects.filter(merchant_id=customer.merchant_id, memberships__customer=customer).order_by(
            "kind", "name", "id"
        )
    )


def segment_rule_lines(segment: Segment) -> list[str]:
    return [describe_rule(rule) for rule in segment.rules if isinstance(rule, dict)]


# ---------- Writes ----------


def _slug_free(merchant: Merchant, slug: str, exclude_pk: int | None = None) -> bool:
    taken = Segment.objects.filter(merchant=merchant, slug=slug)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    return slug not in RESERVED_SLUGS and not taken.exists()


def _slug_for(merchant: Merchant, name: str, exclude_pk: int | None = None) -> str:
    base = slugify(name)[:130].strip("-") or "segment"
    slug, number = base, 2
    while not _slug_free(merchant, slug, exclude_pk):
        slug = f"{base}-{number}"
        number += 1
    return slug


def _check_slug(merchant: Merchant, slug: Any, exclude_pk: int | None = None) -> str:
    if not isinstance(slug, str) or not slug or len(slug) > 140 or slugify(slug) != slug:
        raise SegmentInvalid({"slug": ["Use lowercase letters, digits and hyphens (at most 140)."]})
    if slug in RESERVED_SLUGS:
        raise SegmentInvalid({"slug": [f"“{slug}” is reserved; choose another."]})
    if not _slug_free(merchant, slug, exclude_pk):
        raise SegmentInvalid({"slug": ["Another segment already has this slug."]})
    return slug


def _check_text(errors: dict, name: str, value: Any, limit: int, *, required: bool) -> str:
    text = value.strip() if isinstance(value, str) else None
    if text is None:
        errors[name] = ["Enter text."]
    elif required and not text:
        errors[name] = ["This field is required."]
    elif len(text) > limit:
        errors[name] = [f"At most {limit} characters."]
    return text or ""


def _recompute_on_commit(segment_id: int) -> None:
    from profiles.tasks import recompute_segments_task

    # Robust: the segment is saved either way; if the broker is down, the hourly run catches up.
    transaction.on_commit(lambda: recompute_segments_task.delay(segment_id=segment_id), robust=True)


def _live_count(segment: Segment) -> int:
    return segment_queryset(merchant=segment.merchant_id, rules=segment.rules, match=segment.match).count()


@transaction.atomic
def segment_create(
    *,
    merchant: Merchant,
    actor: Actor,
    name: str,
    rules: Any,
    match: str = Segment.Match.ALL,
    description: str = "",
    slug: str = "",
) -> Segment:
    """A custom segment. The slug is made from the name unless given. Raises SegmentInvalid (a
    ValidationError) with per-condition errors."""
    errors: dict[str, Any] = {}
    name = _check_text(errors, "name", name, 120, required=True)
    description = _check_text(errors, "description", description, 500, required=False)
    cleaned, rule_errors = clean_rules(rules, match)
    errors.update(rule_errors)
    if not errors and slug:
        slug = _check_slug(merchant, slug)
    if errors:
        raise SegmentInvalid(errors)
    segment = Segment(
        merchant=merchant,
        name=name,
        slug=slug or _slug_for(merchant, name),
        description=description,
        kind=Segment.Kind.CUSTOM,
        match=match,
        rules=cleaned,
    )
    segment.member_count = _live_count(segment)
    segment.save()
    audit_record(
        merchant=merchant,
        actor=actor,
        action="segment.create",
        obj=segment,
        changes={"match": match, "rules": segment_rule_lines(segment), "members": segment.member_count},
    )
    _recompute_on_commit(segment.pk)
    return segment


@transaction.atomic
def segment_update(*, segment: Segment, actor: Actor, **fields: Any) -> Segment:
    """Change name, description, slug, match or rules. Built-in segments keep their slug and rules."""
    unknown = set(fields) - SEGMENT_FIELDS
    if unknown:
        raise TypeError(f"Unknown segment field(s): {', '.join(sorted(unknown))}")
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if segment.kind == Segment.Kind.BUILTIN:
        locked = {
            name: ["Built-in segments follow the RFM groups; this cannot change."]
            for name in BUILTIN_LOCKED_FIELDS & set(fields)
            if fields[name] != getattr(segment, name)
        }
        if locked:
            raise SegmentInvalid(locked)
    errors: dict[str, Any] = {}
    if "name" in fields:
        fields["name"] = _check_text(errors, "name", fields["name"], 120, required=True)
    if "description" in fields:
        fields["description"] = _check_text(errors, "description", fields["description"], 500, required=False)
    if "rules" in fields or "match" in fields:
        match = fields.get("match", segment.match)
        cleaned, rule_errors = clean_rules(fields.get("rules", segment.rules), match)
        errors.update(rule_errors)
        fields["rules"], fields["match"] = cleaned, match
    if errors:
        raise SegmentInvalid(errors)
    if "slug" in fields and fields["slug"] != segment.slug:
        _check_slug(segment.merchant, fields["slug"], exclude_pk=segment.pk)
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        if getattr(segment, name) != value:
            changes[name] = value
        setattr(segment, name, value)
    if not changes:
        return segment
    rules_changed = bool({"rules", "match"} & set(changes))
    if rules_changed:
        segment.member_count = _live_count(segment)
        changes["rules"] = segment_rule_lines(segment)
    segment.save()
    audit_record(
        merchant=segment.merchant, actor=actor, action="segment.update", obj=segment, changes=changes
    )
    if rules_changed:
        _recompute_on_commit(segment.pk)
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment, actor: Actor) -> None:
    """Deletes a custom segment and its memberships; campaigns that targeted it target everyone again."""
    if segment.kind == Segment.Kind.BUILTIN:
        raise SegmentInvalid({"segment": ["Built-in segments cannot be deleted."]})
    audit_record(
        merchant=segment.merchant,
        actor=actor,
        action="segment.delete",
        obj=segment,
        changes={"slug": segment.slug, "members": segment.member_count},
    )
    segment.delete()


def ensure_builtin_segments(*, merchant: Merchant | int) -> int:
    """Creates the merchant's missing built-in RFM segments; returns how many it created. A custom segment
    that already holds a built-in slug keeps it; the built-in gets "<slug>-rfm"."""
    merchant_id = merchant if isinstance(merchant, int) else merchant.pk
    existing = Segment.objects.filter(merchant_id=merchant_id)
    have = list(existing.filter(kind=Segment.Kind.BUILTIN).values_list("rules", flat=True))
    taken = set(existing.values_list("slug", flat=True))
    created = 0
    for slug, name, group, description in BUILTIN_SEGMENTS:
        rules = [{"field": "rfm_segment", "op": "in", "value": [str(group)]}]
        if any(rules == stored for stored in have):
            continue
        if slug in taken:
            slug = f"{slug}-rfm"
        with transaction.atomic():
            _, made = Segment.objects.get_or_create(
                merchant_id=merchant_id,
                slug=slug,
                defaults={
                    "name": name,
                    "description": description,
                    "kind": Segment.Kind.BUILTIN,
                    "match": Segment.Match.ALL,
                    "rules": rules,
                },
            )
        created += int(made)
    return created


# ---------- Recomputing memberships (worker) ----------


def _membership_diff(segment: Segment, members: QuerySet[Customer]) -> tuple[int, int]:
    """Adds the members not yet stored and removes the stored ones who no longer match: two statements,
    whatever the segment's size. Returns (added, removed)."""
    table = connection.ops.quote_name(SegmentMembership._meta.db_table)
    sql, params = members.order_by().values("id").query.sql_with_params()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (segment_id, customer_id, merchant_id, added_at) "
            f"SELECT %s, m.id, %s, %s FROM ({sql}) AS m WHERE NOT EXISTS "
            f"(SELECT 1 FROM {table} AS s WHERE s.segment_id = %s AND s.customer_id = m.id) "
            "ON CONFLICT DO NOTHING",
            [segment.pk, segment.merchant_id, now, *params, segment.pk],
        )
        added = max(cursor.rowcount, 0)
    removed, _ = (
        SegmentMembership.objects.filter(segment=segment)
        .exclude(customer_id__in=members.order_by().values("pk"))
        .delete()
    )
    return added, removed


def _recompute_one(segment: Segment) -> int:
    rules, errors = clean_rules(segment.rules, segment.match, allow_empty=True)
    if errors:
        # Rules saved under an older vocabulary: keep the last memberships rather than guess.
        logger.warning("Segment %s has invalid rules, not recomputed: %s", segment.pk, errors)
        return 0
    members = segment_customers(rules, segment.match, merchant_id=segment.merchant_id)
    with transaction.atomic():
        added, removed = _membership_diff(segment, members)
        count = SegmentMembership.objects.filter(segment=segment).count()
        # Guarded: if the rules changed meanwhile, the save queued another recompute; this one must not claim
        # the memberships follow the new rules.
        Segment.objects.filter(pk=segment.pk, updated_at=segment.updated_at).update(
            member_count=count, computed_at=timezone.now()
        )
    return added + removed


def recompute_segments(*, merchant_id: int | None = None, segment_id: int | None = None) -> int:
    """Brings memberships up to date: one segment, one merchant's (creating its built-ins first), or every
    merchant's with customers or segments (hourly from beat). Returns how many memberships were added or
    removed."""
    if segment_id is not None:
        segments = Segment.objects.filter(pk=segment_id)
        if merchant_id is not None:
            segments = segments.filter(merchant_id=merchant_id)
    else:
        if merchant_id is not None:
            merchant_ids = [merchant_id]
        else:
            merchant_ids = list(
                Merchant.objects.filter(
                    Exists(Customer.objects.filter(merchant=OuterRef("pk")))
                    | Exists(Segment.objects.filter(merchant=OuterRef("pk")))
                ).values_list("pk", flat=True)
            )
        for mid in merchant_ids:
            ensure_builtin_segments(merchant=mid)
        segments = Segment.objects.filter(merchant_id__in=merchant_ids)
    changed = 0
    for segment in segments.order_by("merchant_id", "id").iterator():
        changed += _recompute_one(segment)
    return changed


__all__ = [
    "RULE_FIELDS",
    "SegmentInvalid",
    "customer_segments",
    "ensure_builtin_segments",
    "recompute_segments",
    "segment_create",
    "segment_delete",
    "segment_get",
    "segment_list",
    "segment_members",
    "segment_queryset",
    "segment_update",
    "validate_rules",
]
