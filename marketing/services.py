"""Writes for the copy studio: brand voice, campaigns, generation jobs, the review workflow of content pieces,
publishing (webhooks, schedule) and exports.

Every state change of a piece is a guarded UPDATE (`filter(pk=..., status=<status read just before>)
.update(...)`): an illegal move, or a piece someone else changed first, raises `ContentConflict`.
Roles and API scopes are checked by the views; these functions trust their caller on *who* may act and
enforce *what* may happen."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from catalog.models import Product
from marketing.models import (
    CHANNEL_FIELDS,
    CONTENT_FIELDS,
    EDITABLE_STATUSES,
    TRANSITIONS,
    BrandVoice,
    Campaign,
    Channel,
    ContentPiece,
    ContentRevision,
    Length,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from marketing.selectors import (
    PRODUCT_FILTER_KEYS,
    brand_voice_get,
    campaign_products,
    content_due_for_scheduled_publish,
    product_facts,
)
from ml.engine.grounding import check_copy
from ml.engine.verification import VERIFIER_VERSION
from ml.models import Job, ModelVersion
from ml.selectors import serving_version

MAX_GENERATION_ATTEMPTS = 2  # regenerations after the first try before a failing piece is kept, flagged
MAX_CAMPAIGN_PRODUCTS = 5000
MAX_FIELD_CHARS = {"title": 500, "subject": 500, "body": 5000, "hashtags": 500}
BRAND_VOICE_LIST_LIMITS = {
    "tone_words": 20,
    "do_list": 30,
    "dont_list": 30,
    "banned_words": 200,
    "examples": 10,
}


class ContentConflict(Exception):
    """The piece (or campaign) is not in a state that allows this action; the API answers 409."""

    def __init__(self, message: str, *, code: str = "illegal_transition", detail: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.detail = detail or {}


# --- brand voice -------------------------------------------------------------------------------------------


def _string_list(name: str, value: Any, limit: int) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValidationError({name: ["Must be a list of strings."]})
    cleaned = [v.strip() for v in value if v.strip()]
    if len(cleaned) > limit:
        raise ValidationError({name: [f"At most {limit} entries."]})
    if any(len(v) > 2000 for v in cleaned):
        raise ValidationError({name: ["Each entry must be at most 2000 characters."]})
    return cleaned


@transaction.atomic
def brand_voice_set(
    *,
    merchant: Merchant,
    actor: Actor,
    tone_words: list[str] | None = None,
    audience: str | None = None,
    do_list: list[str] | None = None,
    dont_list: list[str] | None = None,
    banned_words: list[str] | None = None,
    examples: list[str] | None = None,
) -> BrandVoice:
    """Create or change the merchant's brand voice; arguments left as None keep their current value."""
    voice = brand_voice_get(merchant=merchant) or BrandVoice(merchant=merchant)
    given = {
        "tone_words": tone_words,
        "do_list": do_list,
        "dont_list": dont_list,
        "banned_words": banned_words,
        "examples": examples,
    }
    changes = {}
    for name, value in given.items():
        if value is not None:
            value = _string_list(name, value, BRAND_VOICE_LIST_LIMITS[name])
            if value != getattr(voice, name):
                changes[name] = value
            setattr(voice, name, value)
    if audience is not None:
        audience = audience.strip()
        if len(audience) > 500:
            raise ValidationError({"audience": ["At most 500 characters."]})
        if audience != voice.audience:
            changes["audience"] = audience
        voice.audience = audience
    voice.updated_by_label = actor.label[:200]
    voice.save()
    audit_record(merchant=merchant, actor=actor, action="brand_voice.update", obj=voice, changes=changes)
    return voice


# --- campaigns ---------------------------------------------------------------------------------------------

CAMPAIGN_FIELDS = frozenset(
    {
        "name",
        "goal",
        "channel",
        "products",
        "product_filter",
        "target_segment",
        "language",
        "tone",
        "length",
        "variants_per_product",
        "publish_at",
    }
)


def _campaign_products_resolve(merchant: Merchant, products: Iterable) -> list[Product]:
    ids = []
    for item in products:
        ids.append(item.pk if isinstance(item, Product) else item)
    try:
        found = {p.pk: p for p in Product.objects.filter(merchant=merchant, pk__in=ids)}
    except (TypeError, ValueError):
        raise ValidationError({"products": ["Product ids must be integers."]}) from None
    unknown = [i for i in ids if i not in found]
    if unknown:
        listed = ", ".join(str(i) for i in unknown[:20])
        raise ValidationError({"products": [f"Unknown product id(s) for this merchant: {listed}."]})
    if len(found) > MAX_CAMPAIGN_PRODUCTS:
        raise ValidationError({"products": [f"At most {MAX_CAMPAIGN_PRODUCTS} products per campaign."]})
    return list(found.values())


def _product_filter_validate(value: Any) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationError({"product_filter": ["Must be an object."]})
    unknown = set(value) - PRODUCT_FILTER_KEYS
    if unknown:
        raise ValidationError(
            {
                "product_filter": [
                    f"Unknown key(s): {', '.join(sorted(unknown))}. "
                    f"Allowed: {', '.join(sorted(PRODUCT_FILTER_KEYS))}."
                ]
            }
        )
    for key in ("min_price", "max_price"):
        if value.get(key) not in (None, ""):
            try:
                float(value[key])
            except (TypeError, ValueError):
                raise ValidationError({"product_filter": [f"{key} must be a number."]}) from None
    for key in ("search", "category", "brand"):
        if value.get(key) is not None and not isinstance(value[key], str):
            raise ValidationError({"product_filter": [f"{key} must be a string."]})
    return {k: v for k, v in value.items() if v not in (None, "")}


def _campaign_validate(campaign: Campaign) -> None:
    errors: dict[str, list[str]] = {}
    try:
        campaign.full_clean(exclude=["merchant", "last_job", "products"], validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def campaign_create(
    *,
    merchant: Merchant,
    actor: Actor,
    name: str,
    channel: str,
    products: Iterable | None = None,
    product_filter: dict | None = None,
    goal: str = "",
    target_segment: str = "",
    language: str = "en",
    tone: str = "",
    length: str = Length.MEDIUM,
    variants_per_product: int = 1,
    publish_at: datetime | None = None,
) -> Campaign:
    """A campaign over an explicit list of the merchant's products or a catalog filter (one is required).
    Raises ValidationError naming any product id that is not the merchant's."""
    product_rows = _campaign_products_resolve(merchant, products or [])
    product_filter = _product_filter_validate(product_filter)
    if not product_rows and not product_filter:
        raise ValidationError({"products": ["Choose some products or give a catalog filter."]})
    campaign = Campaign(
        merchant=merchant,
        name=name,
        channel=channel,
        product_filter=product_filter,
        goal=goal,
        target_segment=target_segment,
        language=language,
        tone=tone,
        length=length,
        variants_per_product=variants_per_product,
        publish_at=publish_at,
        created_by_label=actor.label[:200],
    )
    _campaign_validate(campaign)
    campaign.save()
    campaign.products.set(product_rows)
    audit_record(
        merchant=merchant,
        actor=actor,
        action="campaign.create",
        obj=campaign,
        changes={"channel": channel, "products": len(product_rows), "product_filter": product_filter},
    )
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, actor: Actor, **fields: Any) -> Campaign:
    """Change the given fields. The channel cannot change once pieces exist (they were written for it)."""
    unknown = set(fields) - CAMPAIGN_FIELDS
    if unknown:
        raise TypeError(f"Unknown campaign field(s): {', '.join(sorted(unknown))}")
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if "channel" in fields and fields["channel"] != campaign.channel and campaign.pieces.exists():
        raise ValidationError({"channel": ["The channel cannot change once copy has been generated."]})
    changes: dict[str, Any] = {}
    product_rows = None
    if "products" in fields:
        product_rows = _campaign_products_resolve(campaign.merchant, fields.pop("products") or [])
        changes["products"] = len(product_rows)
    if "product_filter" in fields:
        fields["product_filter"] = _product_filter_validate(fields["product_filter"])
    for name, value in fields.items():
        if getattr(campaign, name) != value:
            changes[name] = str(value) if isinstance(value, datetime) else value
        setattr(campaign, name, value)
    has_products = bool(product_rows) if product_rows is not None else campaign.products.exists()
    if not has_products and not campaign.product_filter:
        raise ValidationError({"products": ["Choose some products or give a catalog filter."]})
    _campaign_validate(campaign)
    campaign.save()
    if product_rows is not None:
        campaign.products.set(product_rows)
    if changes:
        audit_record(
            merchant=campaign.merchant, actor=actor, action="campaign.update", obj=campaign, changes=changes
        )
    return campaign


def _generating(campaign: Campaign, *, whole_campaign_only: bool = False) -> bool:
    """Whether a generation job (or, unless `whole_campaign_only`, a piece regeneration) is queued or
    running."""
    jobs = Job.objects.filter(
        merchant_id=campaign.merchant_id,
        kind=Job.Kind.GENERATE,
        status__in=Job.ACTIVE,
        params__campaign_id=campaign.pk,
    )
    if whole_campaign_only:
        jobs = jobs.filter(params__has_key="product_ids")
    return jobs.exists()


@transaction.atomic
def campaign_delete(*, campaign: Campaign, actor: Actor) -> None:
    """Delete a campaign and its pieces; refused while it generates or has published pieces."""
    if campaign.pieces.filter(status=ContentPiece.Status.PUBLISHED).exists():
        raise ContentConflict(
            "Unpublish this campaign's published pieces before deleting it.", code="has_published"
        )
    if _generating(campaign):
        raise ContentConflict(
            "This campaign is generating; cancel its job or wait for it to finish.", code="already_generating"
        )
    audit_record(
        merchant=campaign.merchant,
        actor=actor,
        action="campaign.delete",
        obj=campaign,
        changes={"pieces": campaign.pieces.count()},
    )
    campaign.delete()


def _generation_version(merchant: Merchant) -> ModelVersion:
    version = serving_version(merchant=merchant, purpose="copy")
    if version is None:
        raise ContentConflict(
            "No copy model is registered yet; run `manage.py ml_provision` first.", code="no_model"
        )
    return version


@transaction.atomic
def campaign_generate(
    *, campaign: Campaign, actor: Actor, max_attempts: int = MAX_GENERATION_ATTEMPTS
) -> Job:
    """Queue batch generation of the campaign's pieces on the `ml` queue and return its Job.

    The product list is fixed when the job is created, so a redelivered task works on the same set.
    Pieces that already exist are kept, so generating again only fills in what is missing."""
    from marketing.tasks import generate_campaign_copy_task

    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if _generating(campaign, whole_campaign_only=True):
        raise ContentConflict("This campaign is already generating.", code="already_generating")
    product_ids = list(
        campaign_products(campaign=campaign).values_list("pk", flat=True)[:MAX_CAMPAIGN_PRODUCTS]
    )
    if not product_ids:
        raise ContentConflict("The campaign matches no products.", code="no_products")
    version = _generation_version(campaign.merchant)
    job = Job.objects.create(
        merchant=campaign.merchant,
        kind=Job.Kind.GENERATE,
        params={
            "campaign_id": campaign.pk,
            "product_ids": product_ids,
            "variants": campaign.variants_per_product,
            "max_attempts": max_attempts,
        },
        progress_total=len(product_ids),
        base_version=version,
        created_by=actor.user,
        created_by_label=actor.label[:200],
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.GENERATING, last_job=job, updated_at=timezone.now()
    )
    audit_record(
        merchant=campaign.merchant,
        actor=actor,
        action="campaign.generate",
        obj=campaign,
        changes={"job": job.pk, "products": len(product_ids), "model": version.name},
    )
    transaction.on_commit(
        lambda: Job.objects.filter(pk=job.pk).update(
            celery_task_id=generate_campaign_copy_task.apply_async(args=[job.pk], queue="ml").id
        )
    )
    return job


def campaign_generation_finished(*, campaign_id: int, succeeded: bool) -> None:
    """Called by the worker when a generation job ends."""
    Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.GENERATING).update(
        status=Campaign.Status.READY if succeeded else Campaign.Status.FAILED, updated_at=timezone.now()
    )


# --- grounding ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroundingOutcome:
    report: dict
    passed: bool
    approvable: bool


def content_check(
    *,
    product: Product,
    channel: str,
    fields: dict[str, str],
    banned_words: Iterable[str] = (),
    prompt: str = "",
    brand_voice: dict | None = None,
) -> GroundingOutcome:
    """Run the engine's grounding check (standard library only, safe in the web process). ``brand_voice``
    (``BrandVoice.as_prompt_dict()``) adds the voice's "never" rules to the banned words."""
    report = check_copy(
        {k: v for k, v in fields.items() if v},
        product_facts(product),
        channel=channel,
        banned_words=tuple(banned_words),
        prompt=prompt,
        brand_voice=brand_voice,
    )
    return GroundingOutcome(
        report=report.to_dict(), passed=bool(report.passed), approvable=bool(report.approvable)
    )


def _voice_rules(merchant: Merchant) -> dict:
    """content_check's banned_words and brand_voice arguments for the merchant's voice."""
    voice = brand_voice_get(merchant=merchant)
    if voice is None:
        return {"banned_words": [], "brand_voice": None}
    return {"banned_words": list(voice.banned_words), "brand_voice": voice.as_prompt_dict()}


# --- content: recording what the model wrote ---------------------------------------------------------------


def content_piece_record(
    *,
    campaign: Campaign,
    product: Product,
    variant: int,
    fields: dict[str, str],
    outcome: GroundingOutcome,
    model_version: ModelVersion | None,
    prompt: str,
    params: dict,
    quality: dict,
    attempts: int,
    customer_external_id: str = "",
) -> tuple[ContentPiece, bool]:
    """Store a generated piece in review, unless that (campaign, product, customer, variant) already exists,
    in which case the existing piece is returned untouched: a rerun or a redelivered task never duplicates."""
    values = _clean_fields(campaign.channel, fields, truncate=True)
    return ContentPiece.objects.get_or_create(
        campaign=campaign,
        product=product,
        customer_external_id=customer_external_id,
        variant=variant,
        defaults={
            "merchant_id": campaign.merchant_id,
            **values,
            "status": ContentPiece.Status.IN_REVIEW,
            "model_version": model_version,
            "prompt": prompt,
            "params": params,
            "grounding": _report_stamped(outcome.report),
            "quality": quality,
            "attempts": attempts,
            "flagged": not outcome.passed,
            "approvable": outcome.approvable,
        },
    )


def _clean_fields(channel: str, fields: dict[str, str], *, truncate: bool = False) -> dict[str, str]:
    """The channel's fields, stripped; other fields empty. Generated text is cut to the column sizes, a
    person's edit that is too long is an error."""
    allowed = CHANNEL_FIELDS[channel]
    values = {}
    for name in CONTENT_FIELDS:
        value = (fields.get(name) or "").strip() if name in allowed else ""
        if len(value) > MAX_FIELD_CHARS[name]:
            if not truncate:
                raise ValidationError({name: [f"At most {MAX_FIELD_CHARS[name]} characters."]})
            value = value[: MAX_FIELD_CHARS[name]]
        values[name] = value
    return values


# --- content: the review workflow --------------------------------------------------------------------------


def _transition(
    piece: ContentPiece, action: str, actor: Actor, *, extra_filter: dict | None = None, **updates: Any
) -> ContentPiece:
    """Move the piece as `action` says, as one guarded UPDATE on the status read just before it: if another
    request changed the piece in between, nothing is written and the caller gets a ContentConflict."""
    allowed, target = TRANSITIONS[action]
    current = ContentPiece.objects.filter(pk=piece.pk).values_list("status", flat=True).first()
    if current not in allowed:
        raise ContentConflict(
            f"{_a_piece(current)} cannot be {_past(action)}; only {_pieces(allowed)} can.",
            detail={"status": current},
        )
    updated = ContentPiece.objects.filter(pk=piece.pk, status=current, **(extra_filter or {})).update(
        status=target, updated_at=timezone.now(), **updates
    )
    if not updated:
        raise ContentConflict(
            f"Piece {piece.pk} changed meanwhile and cannot be {_past(action)} now; reload it.", code="stale"
        )
    piece.refresh_from_db()
    audit_record(
        merchant=piece.merchant,
        actor=actor,
        action=f"content.{action}",
        obj=piece,
        changes={"from": current, "to": target, **{k: v for k, v in updates.items() if isinstance(v, str)}},
    )
    return piece


def _past(action: str) -> str:
    return {
        "submit": "submitted for review",
        "approve": "approved",
        "reject": "rejected",
        "publish": "published",
        "unpublish": "unpublished",
        "regenerate": "regenerated",
        "recheck": "sent back to review by a recheck",
    }[action]


def _status_label(status: str | None) -> str:
    return ContentPiece.Status(status).label.lower() if status else "deleted"


def _a_piece(status: str | None) -> str:
    """The subject of a refusal: "A piece in review", "An approved piece", "A deleted piece"."""
    if status == ContentPiece.Status.IN_REVIEW:
        return "A piece in review"
    label = _status_label(status)
    return f"{'An' if label[0] in 'aeiou' else 'A'} {label} piece"


def _pieces(statuses) -> str:
    """Pieces in any of `statuses`, as a sentence says it: "draft or rejected pieces, or pieces in review"."""
    labels = [_status_label(s) for s in statuses if s != ContentPiece.Status.IN_REVIEW]
    named = f"{' or '.join(labels)} pieces" if labels else ""
    if ContentPiece.Status.IN_REVIEW not in statuses:
        return named
    return f"{named}, or pieces in review," if named else "pieces in review"


@transaction.atomic
def content_submit(*, piece: ContentPiece, actor: Actor) -> ContentPiece:
    """draft -> in_review."""
    return _transition(piece, "submit", actor)


def _approval_blockers(piece: ContentPiece) -> list[str]:
    report = piece.grounding or {}
    blockers = []
    if report.get("unsupported"):
        blockers.append(f"{len(report['unsupported'])} unsupported claim(s)")
    if report.get("channel_violations"):
        blockers.append("channel limit violation(s)")
    if report.get("banned"):
        blockers.append("brand voice rule(s): " + ", ".join(map(str, report["banned"])))
    if report.get("degenerate"):
        blockers.append("text problem(s): " + "; ".join(map(str, report["degenerate"][:3])))
    if not blockers and not piece.approvable:
        blockers.append("failed grounding checks")
    return blockers


def content_approve(*, piece: ContentPiece, actor: Actor) -> ContentPiece:
    """in_review -> approved, only when the grounding report has no blocking problem; otherwise the piece must
    be edited first (the edit re-runs the check). A report an older checker wrote is rechecked first (and kept
    even when the approval is then refused); the UPDATE itself requires a current report."""
    piece.refresh_from_db()
    if piece.status in TRANSITIONS["approve"][0]:
        piece = _verdict_refresh(piece, actor)
    with transaction.atomic():
        if piece.status in TRANSITIONS["approve"][0] and not piece.approvable:
            raise ContentConflict(
                f"Piece {piece.pk} cannot be approved until it is edited: "
                f"{', '.join(_approval_blockers(piece))}.",
                code="grounding_failed",
                detail={"grounding": piece.grounding},
            )
        return _transition(
            piece,
            "approve",
            actor,
            extra_filter={"approvable": True, **CURRENT_REPORT},
            reviewed_by_label=actor.label[:200],
            rejection_reason="",
        )


@transaction.atomic
def content_reject(*, piece: ContentPiece, actor: Actor, reason: str) -> ContentPiece:
    """draft or in_review -> rejected; a reason is required."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why the piece is rejected."]})
    if len(reason) > 1000:
        raise ValidationError({"reason": ["At most 1000 characters."]})
    return _transition(piece, "reject", actor, rejection_reason=reason, reviewed_by_label=actor.label[:200])


@dataclass
class BulkApproval:
    """What a bulk action did: ``approved`` holds the pieces it acted on (approved, rejected or queued)."""

    approved: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


def content_bulk_approve(
    *, merchant: Merchant, actor: Actor, pieces: QuerySet[ContentPiece] | Iterable[ContentPiece]
) -> BulkApproval:
    """Approve every given piece that is in review and passes every check (not flagged, nothing blocking);
    the others are skipped with the reason. Each approval is its own guarded update and audit entry."""
    result = BulkApproval()
    for piece in pieces:
        if piece.merchant_id != merchant.pk:
            result.skipped[piece.pk] = "not found"
            continue
        if piece.status != ContentPiece.Status.IN_REVIEW:
            result.skipped[piece.pk] = f"is {_status_label(piece.status)}"
            continue
        stale = _verdict_stale(piece)
        if stale:
            piece = _verdict_refresh(piece, actor)
        if piece.flagged or not piece.approvable:
            result.skipped[piece.pk] = RECHECK_BLOCKED_REASON if stale else "does not pass every check"
            continue
        try:
            with transaction.atomic():
                _transition(
                    piece,
                    "approve",
                    actor,
                    extra_filter={"approvable": True, "flagged": False, **CURRENT_REPORT},
                    reviewed_by_label=actor.label[:200],
                    rejection_reason="",
                )
        except ContentConflict as exc:
            result.skipped[piece.pk] = exc.message
        else:
            result.approved.append(piece.pk)
    return result


def content_bulk_reject(
    *, merchant: Merchant, actor: Actor, pieces: QuerySet[ContentPiece] | Iterable[ContentPiece], reason: str
) -> BulkApproval:
    """Reject every given piece that is in draft or review, with one reason; the others are skipped with
    why. An empty reason rejects nothing (ValidationError, as for one piece)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why the pieces are rejected."]})
    return _bulk_each(merchant, pieces, lambda piece: content_reject(piece=piece, actor=actor, reason=reason))


def content_bulk_regenerate(
    *, merchant: Merchant, actor: Actor, pieces: QuerySet[ContentPiece] | Iterable[ContentPiece]
) -> BulkApproval:
    """Queue a regeneration of every given piece that can be regenerated (draft, in review, rejected, and not
    already regenerating); the others are skipped with why. ``approved`` lists the pieces queued."""
    return _bulk_each(merchant, pieces, lambda piece: content_regenerate(piece=piece, actor=actor))


def _bulk_each(merchant: Merchant, pieces, action) -> BulkApproval:
    """``action`` on each of the merchant's pieces in its own transaction; a refusal skips that piece."""
    result = BulkApproval()
    for piece in pieces:
        if piece.merchant_id != merchant.pk:
            result.skipped[piece.pk] = "not found"
            continue
        try:
            with transaction.atomic():
                action(piece)
        except ContentConflict as exc:
            result.skipped[piece.pk] = exc.message
        else:
            result.approved.append(piece.pk)
    return result


@transaction.atomic
def content_update(*, piece: ContentPiece, actor: Actor, **fields: str) -> ContentPiece:
    """A person's edit of the channel fields: saved as a revision, grounding re-checked, and a rejected or
    approved piece goes back to review. Published pieces must be unpublished first."""
    unknown = set(fields) - set(CONTENT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown content field(s): {', '.join(sorted(unknown))}")
    piece = (
        ContentPiece.objects.select_for_update(of=("self",))
        .select_related("campaign", "product", "merchant")
        .get(pk=piece.pk)
    )
    if piece.status not in EDITABLE_STATUSES:
        raise ContentConflict(
            f"{_a_piece(piece.status)} cannot be edited; unpublish it first.",
            detail={"status": piece.status},
        )
    channel = piece.campaign.channel
    not_for_channel = [
        name for name, value in fields.items() if value and name not in CHANNEL_FIELDS[channel]
    ]
    if not_for_channel:
        raise ValidationError(
            {name: [f"A {Channel(channel).label.lower()} has no {name}."] for name in not_for_channel}
        )
    before = piece.fields()
    after = _clean_fields(channel, {**before, **fields})
    if after == before:
        return piece
    outcome = content_check(
        product=piece.product,
        channel=channel,
        fields=after,
        prompt=_prompt_text(piece.prompt),
        **_voice_rules(piece.merchant),
    )
    return _content_replace(
        piece, after, outcome, actor, kind="edit", target_status=_status_after_edit(piece.status)
    )


def _status_after_edit(status: str) -> str:
    if status in (ContentPiece.Status.REJECTED, ContentPiece.Status.APPROVED):
        return ContentPiece.Status.IN_REVIEW
    return status


def _prompt_text(prompt: str) -> str:
    """The user turn of the stored prompt messages (what an echo of the prompt would repeat)."""
    try:
        messages = json.loads(prompt) if prompt else []
    except ValueError:
        return prompt
    if not isinstance(messages, list):
        return prompt
    return "\n".join(
        m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "user"
    )


def _content_replace(
    piece: ContentPiece,
    after: dict[str, str],
    outcome: GroundingOutcome,
    actor: Actor,
    *,
    kind: str,
    target_status: str,
    extra: dict | None = None,
) -> ContentPiece:
    """Write new fields and grounding for a locked piece, keep the revision and audit any status change."""
    before, status_before = piece.fields(), piece.status
    updated = ContentPiece.objects.filter(pk=piece.pk, status=status_before).update(
        **after,
        grounding=_report_stamped(outcome.report),
        flagged=not outcome.passed,
        approvable=outcome.approvable,
        status=target_status,
        rejection_reason="" if target_status != ContentPiece.Status.REJECTED else piece.rejection_reason,
        updated_at=timezone.now(),
        **(extra or {}),
    )
    if not updated:
        raise ContentConflict(f"Piece {piece.pk} changed while it was being edited; reload it.", code="stale")
    ContentRevision.objects.create(
        merchant_id=piece.merchant_id,
        piece=piece,
        fields_before=before,
        fields_after=after,
        status_before=status_before,
        author=actor.user,
        author_label=actor.label[:200],
        kind=kind,
    )
    changed = sorted(name for name in after if after[name] != before[name])
    audit_record(
        merchant=piece.merchant,
        actor=actor,
        action=f"content.{kind}",
        obj=piece,
        changes={
            "fields": changed,
            "from": status_before,
            "to": target_status,
            "approvable": outcome.approvable,
        },
    )
    piece.refresh_from_db()
    return piece


@transaction.atomic
def content_regenerate(*, piece: ContentPiece, actor: Actor) -> Job:
    """Queue a fresh generation of one piece on the `ml` queue (draft, in review or rejected pieces only)."""
    from marketing.tasks import regenerate_content_task

    piece = ContentPiece.objects.select_for_update(of=("self",)).select_related("merchant").get(pk=piece.pk)
    if piece.status not in TRANSITIONS["regenerate"][0]:
        raise ContentConflict(
            f"{_a_piece(piece.status)} cannot be regenerated; only "
            f"{_pieces(TRANSITIONS['regenerate'][0])} can.",
            detail={"status": piece.status},
        )
    if Job.objects.filter(
        merchant_id=piece.merchant_id,
        kind=Job.Kind.GENERATE,
        status__in=Job.ACTIVE,
        params__piece_id=piece.pk,
    ).exists():
        raise ContentConflict("This piece is already being regenerated.", code="already_generating")
    version = _generation_version(piece.merchant)
    job = Job.objects.create(
        merchant_id=piece.merchant_id,
        kind=Job.Kind.GENERATE,
        params={
            "piece_id": piece.pk,
            "campaign_id": piece.campaign_id,
            "max_attempts": MAX_GENERATION_ATTEMPTS,
        },
        progress_total=1,
        base_version=version,
        created_by=actor.user,
        created_by_label=actor.label[:200],
    )
    audit_record(
        merchant=piece.merchant,
        actor=actor,
        action="content.regenerate_requested",
        obj=piece,
        changes={"job": job.pk},
    )
    transaction.on_commit(
        lambda: Job.objects.filter(pk=job.pk).update(
            celery_task_id=regenerate_content_task.apply_async(args=[job.pk], queue="ml").id
        )
    )
    return job


@transaction.atomic
def content_apply_regeneration(
    *,
    piece_id: int,
    actor: Actor,
    fields: dict[str, str],
    outcome: GroundingOutcome,
    model_version: ModelVersion | None,
    prompt: str,
    params: dict,
    quality: dict,
    attempts: int,
) -> ContentPiece:
    """Worker side of a regeneration: replace the text (kept as a revision) and put the piece in review."""
    piece = (
        ContentPiece.objects.select_for_update(of=("self",))
        .select_related("campaign", "merchant")
        .get(pk=piece_id)
    )
    if piece.status not in TRANSITIONS["regenerate"][0]:
        raise ContentConflict(
            f"Piece {piece.pk} became {_status_label(piece.status)} while it was regenerated."
        )
    after = _clean_fields(piece.campaign.channel, fields, truncate=True)
    return _content_replace(
        piece,
        after,
        outcome,
        actor,
        kind="regenerate",
        target_status=ContentPiece.Status.IN_REVIEW,
        extra={
            "model_version": model_version,
            "prompt": prompt,
            "params": params,
            "quality": quality,
            "attempts": piece.attempts + attempts,
        },
    )


# --- content: rechecking stored reports with the current checker -------------------------------------------

RECHECK_BATCH = 200
RECHECK_BLOCKED_REASON = "blocked by the current checker"
# Filter for pieces whose stored report this checker version wrote (jsonb containment: a report without a
# version is simply not matched, where a key lookup would compare NULL).
CURRENT_REPORT = {"grounding__contains": {"verifier_version": VERIFIER_VERSION}}


@dataclass
class RecheckReport:
    """What content_recheck did. ``moved_to_review`` counts approved pieces (also in ``newly_blocked``) sent
    back to review; ``skipped`` ones changed while they were rechecked and keep their stale report until the
    next run; ``remaining`` is how many stale reports are left in scope afterwards."""

    checked: int = 0
    unchanged: int = 0
    newly_blocked: int = 0
    newly_passing: int = 0
    moved_to_review: int = 0
    skipped: int = 0
    remaining: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _report_stamped(report: dict) -> dict:
    """A report as the studio stores it: with the version of the checker that wrote it."""
    return {**report, "verifier_version": VERIFIER_VERSION}


def _verdict_stale(piece: ContentPiece) -> bool:
    report = piece.grounding if isinstance(piece.grounding, dict) else {}
    return report.get("verifier_version") != VERIFIER_VERSION


def _stale_verdicts(pieces: QuerySet[ContentPiece]) -> QuerySet[ContentPiece]:
    """The pieces whose stored report was written by another checker version (or by none)."""
    return pieces.exclude(**CURRENT_REPORT)


def merchants_with_stale_copy() -> list[int]:
    """Ids of the merchants that have pieces whose report another checker version wrote."""
    return sorted(set(_stale_verdicts(ContentPiece.objects.all()).values_list("merchant_id", flat=True)))


def _piece_recheck(
    piece: ContentPiece, actor: Actor, voice: dict, report: RecheckReport, *, force: bool = False
) -> None:
    """Re-run the current check on the stored text and write the verdict, guarded on the status and text read
    just before and (unless ``force``) on the report still being stale, so an edit, a regeneration, a move or
    another recheck made meanwhile wins (the piece is skipped). An approved piece the check now blocks goes
    back to review; any other piece keeps its status (a published one shows the findings on its card)."""
    outcome = content_check(
        product=piece.product,
        channel=piece.campaign.channel,
        fields=piece.fields(),
        prompt=_prompt_text(piece.prompt),
        **voice,
    )
    report.checked += 1
    was_approvable = piece.approvable
    blocked = not outcome.approvable
    target = piece.status
    if blocked and piece.status in TRANSITIONS["recheck"][0]:
        target = TRANSITIONS["recheck"][1]
    guarded = ContentPiece.objects.filter(pk=piece.pk, status=piece.status, **piece.fields())
    if not force:
        guarded = _stale_verdicts(guarded)
    with transaction.atomic():
        updated = guarded.update(
            grounding=_report_stamped(outcome.report),
            flagged=not outcome.passed,
            approvable=outcome.approvable,
            status=target,
            updated_at=timezone.now(),
        )
        if not updated:
            report.skipped += 1
            return
        if target != piece.status:
            report.moved_to_review += 1
        if was_approvable == outcome.approvable and target == piece.status:
            report.unchanged += 1
            return
        if blocked:
            report.newly_blocked += 1
        else:
            report.newly_passing += 1
        piece.grounding, piece.approvable = outcome.report, outcome.approvable
        changes = {
            "from": piece.status,
            "to": target,
            "approvable": outcome.approvable,
            "verifier_version": VERIFIER_VERSION,
        }
        if blocked:
            changes.update(reason=RECHECK_BLOCKED_REASON, blockers=_approval_blockers(piece))
        audit_record(
            merchant=piece.merchant, actor=actor, action="content.recheck", obj=piece, changes=changes
        )


def _pieces_recheck(
    pieces: QuerySet[ContentPiece],
    *,
    actor: Actor,
    report: RecheckReport,
    limit: int | None = None,
    force: bool = False,
) -> RecheckReport:
    """Recheck the given pieces (one merchant's) in batches of RECHECK_BATCH, in id order."""
    voices: dict[int, dict] = {}
    last_pk = 0
    done = 0
    while limit is None or done < limit:
        size = RECHECK_BATCH if limit is None else min(RECHECK_BATCH, limit - done)
        batch = list(
            pieces.filter(pk__gt=last_pk)
            .select_related("campaign", "product", "merchant")
            .order_by("pk")[:size]
        )
        if not batch:
            break
        for piece in batch:
            if piece.merchant_id not in voices:
                voices[piece.merchant_id] = _voice_rules(piece.merchant)
            _piece_recheck(piece, actor, voices[piece.merchant_id], report, force=force)
        last_pk = batch[-1].pk
        done += len(batch)
    return report


def content_recheck(
    *, merchant: Merchant, actor: Actor, campaign: Campaign | None = None, limit: int | None = None
) -> RecheckReport:
    """Re-run the current checker, without regenerating, on every piece of the merchant (or of one of its
    campaigns) whose stored report another checker version wrote: drafts, pieces in review and rejected ones
    get the new report and flags; approved pieces it now blocks go back to review (audited with the reason
    RECHECK_BLOCKED_REASON); published pieces keep their status and get the report, so their card shows the
    findings. Pieces already checked by this version are left alone, so running it twice changes nothing.
    ``limit`` caps how many pieces one call rechecks (a task does a batch, then queues the next)."""
    scope = ContentPiece.objects.filter(merchant=merchant)
    if campaign is not None:
        scope = scope.filter(campaign=campaign)
    report = _pieces_recheck(_stale_verdicts(scope), actor=actor, report=RecheckReport(), limit=limit)
    report.remaining = _stale_verdicts(scope).count()
    if report.checked:
        audit_record(
            merchant=merchant,
            actor=actor,
            action="content.recheck_run",
            obj=campaign,
            object_type="" if campaign is not None else "merchant",
            object_id="" if campaign is not None else str(merchant.pk),
            summary="" if campaign is not None else str(merchant),
            changes={**report.as_dict(), "verifier_version": VERIFIER_VERSION},
        )
    return report


def _verdict_refresh(piece: ContentPiece, actor: Actor, *, force: bool = False) -> ContentPiece:
    """The piece as stored, after rechecking it if its report came from another checker version (or, with
    ``force``, anyway). The recheck commits on its own, so a refusal that follows keeps the fresh report."""
    piece.refresh_from_db()
    if force or _verdict_stale(piece):
        _pieces_recheck(
            ContentPiece.objects.filter(pk=piece.pk), actor=actor, report=RecheckReport(), force=force
        )
        piece.refresh_from_db()
    return piece


def _publish_guard(piece: ContentPiece, actor: Actor) -> ContentPiece:
    """Nothing goes out on an old verdict: an approved piece with a stale report, or one the check blocks (as
    after unpublishing a piece a recheck flagged), is checked now, and if blocked it is back in review and the
    publish is refused."""
    piece.refresh_from_db()
    if piece.status != ContentPiece.Status.APPROVED:
        return piece
    piece = _verdict_refresh(piece, actor, force=not piece.approvable)
    if piece.status != ContentPiece.Status.APPROVED:
        raise ContentConflict(
            f"Piece {piece.pk} was not published: it is {RECHECK_BLOCKED_REASON} "
            f"({', '.join(_approval_blockers(piece))}) and went back to review.",
            code="grounding_failed",
            detail={"grounding": piece.grounding, "status": piece.status},
        )
    return piece


# --- publishing --------------------------------------------------------------------------------------------


def content_publish(*, piece: ContentPiece, actor: Actor) -> ContentPiece:
    """approved -> published, then signed webhooks go out to the merchant's endpoints (after commit). A piece
    approved on an older checker's report is rechecked first; if the check blocks it, it goes back to review
    and the publish is refused (_publish_guard)."""
    piece = _publish_guard(piece, actor)
    with transaction.atomic():
        piece = _transition(
            piece,
            "publish",
            actor,
            extra_filter={"approvable": True, **CURRENT_REPORT},
            published_at=timezone.now(),
        )
        _webhooks_dispatch(piece, WebhookEvent.CONTENT_PUBLISHED, piece.published_at)
    return piece


@transaction.atomic
def content_unpublish(*, piece: ContentPiece, actor: Actor) -> ContentPiece:
    """published -> approved; endpoints get a `content.unpublished` event."""
    piece = _transition(piece, "unpublish", actor, published_at=None)
    _webhooks_dispatch(piece, WebhookEvent.CONTENT_UNPUBLISHED, piece.updated_at)
    return piece


def content_publish_scheduled(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Publish approved pieces of campaigns whose publish time has passed (Celery beat, every minute)."""
    now = now or timezone.now()
    published = []
    for piece in content_due_for_scheduled_publish(now=now).select_related("merchant")[:limit]:
        try:
            content_publish(piece=piece, actor=Actor.system("schedule"))
        except ContentConflict:  # changed since the query (unpublished, edited); the next run looks again
            continue
        published.append(piece.pk)
    return published


def _webhooks_dispatch(piece: ContentPiece, event: str, happened_at: datetime) -> list[WebhookDelivery]:
    from marketing.publishing import idempotency_key, webhook_payload
    from marketing.tasks import deliver_webhook_task

    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(merchant_id=piece.merchant_id, active=True).order_by("id")
        if e.wants(event)
    ]
    if not endpoints:
        return []
    piece = ContentPiece.objects.select_related("campaign", "product").get(pk=piece.pk)
    key = idempotency_key(piece_id=piece.pk, event=event, happened_at=happened_at)
    payload = webhook_payload(piece=piece, event=event, idempotency_key=key, happened_at=happened_at)
    deliveries = []
    for endpoint in endpoints:
        delivery, created = WebhookDelivery.objects.get_or_create(
            endpoint=endpoint,
            idempotency_key=key,
            defaults={"merchant_id": piece.merchant_id, "piece": piece, "event": event, "payload": payload},
        )
        if created:
            deliveries.append(delivery)
    ids = [d.pk for d in deliveries]
    transaction.on_commit(
        lambda: [deliver_webhook_task.apply_async(args=[pk], queue="default") for pk in ids]
    )
    return deliveries


@transaction.atomic
def webhook_endpoint_create(
    *,
    merchant: Merchant,
    actor: Actor,
    url: str,
    events: list[str] | None = None,
    description: str = "",
    active: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; its signing secret is returned here and shown only once."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        merchant=merchant,
        url=url,
        events=_events_validate(events),
        description=description,
        secret=secret,
        active=active,
    )
    _endpoint_validate(endpoint)
    endpoint.save()
    audit_record(
        merchant=merchant,
        actor=actor,
        action="webhook.create",
        obj=endpoint,
        changes={"url": url, "events": endpoint.events},
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, actor: Actor, **fields: Any) -> WebhookEndpoint:
    allowed = {"url", "events", "description", "active"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"Unknown webhook field(s): {', '.join(sorted(unknown))}")
    if "events" in fields:
        fields["events"] = _events_validate(fields["events"])
    changes = {k: v for k, v in fields.items() if getattr(endpoint, k) != v}
    for name, value in fields.items():
        setattr(endpoint, name, value)
    _endpoint_validate(endpoint)
    endpoint.save()
    if changes:
        audit_record(
            merchant=endpoint.merchant, actor=actor, action="webhook.update", obj=endpoint, changes=changes
        )
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor) -> None:
    audit_record(merchant=endpoint.merchant, actor=actor, action="webhook.delete", obj=endpoint)
    endpoint.delete()


def _events_validate(events: list[str] | None) -> list[str]:
    events = list(events or [])
    unknown = [e for e in events if e not in WebhookEvent.values]
    if unknown:
        raise ValidationError(
            {
                "events": [
                    f"Unknown event(s): {', '.join(map(str, unknown))}. "
                    f"Allowed: {', '.join(WebhookEvent.values)}."
                ]
            }
        )
    return sorted(set(events))


def _endpoint_validate(endpoint: WebhookEndpoint) -> None:
    endpoint.full_clean(exclude=["merchant"], validate_constraints=False)


# --- export ------------------------------------------------------------------------------------------------


def content_export(*, pieces: QuerySet[ContentPiece], export_format: str) -> tuple[bytes, str]:
    """Approved/published pieces as CSV or JSON: (body, content type). Text is exported as data; CSV cells
    that a spreadsheet would run as a formula are neutralised."""
    from marketing.publishing import export_csv, export_json

    if export_format == "csv":
        return export_csv(pieces), "text/csv; charset=utf-8"
    if export_format == "json":
        return export_json(pieces), "application/json"
    raise ValidationError({"format": ["Use csv or json."]})
