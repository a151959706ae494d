"""Writes for campaigns: the brand voice, campaign create/edit/delete, starting generation jobs and recording
the pieces the model wrote."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from catalog.models import Product
from marketing.models import BrandVoice, Campaign, ContentPiece, Length
from marketing.selectors import PRODUCT_FILTER_KEYS, brand_voice_get, campaign_products
from marketing.workflow import ContentConflict, GroundingOutcome, clean_fields, report_stamped
from ml.models import Job, ModelVersion
from ml.selectors import serving_version

MAX_GENERATION_ATTEMPTS = 2  # regenerations after the first try before a failing piece is kept, flagged
MAX_CAMPAIGN_PRODUCTS = 5000
BRAND_VOICE_LIST_LIMITS = {
    "tone_words": 20,
    "do_list": 30,
    "dont_list": 30,
    "banned_words": 200,
    "examples": 10,
}


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


CAMPAIGN_FIELDS = frozenset(
    {
        "name",
        "goal",
        "channel",
        "products",
        "product_filter",
        "audience",
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


def _campaign_segment_check(merchant: Merchant, segment: Any) -> None:
    """A target segment must be one of the merchant's own (profiles.Segment) or None (everyone)."""
    if segment is not None and getattr(segment, "merchant_id", None) != merchant.pk:
        raise ValidationError({"target_segment": ["No such segment for this merchant."]})


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
    audience: str = "",
    target_segment: Any = None,
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
    _campaign_segment_check(merchant, target_segment)
    if not product_rows and not product_filter:
        raise ValidationError({"products": ["Choose some products or give a catalog filter."]})
    campaign = Campaign(
        merchant=merchant,
        name=name,
        channel=channel,
        product_filter=product_filter,
        goal=goal,
        audience=audience,
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
        changes={
            "channel": channel,
            "products": len(product_rows),
            "product_filter": product_filter,
            "target_segment": target_segment.slug if target_segment is not None else None,
        },
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
    if "target_segment" in fields:
        _campaign_segment_check(campaign.merchant, fields["target_segment"])
    for name, value in fields.items():
        if getattr(campaign, name) != value:
            changes[name] = str(value) if isinstance(value, datetime) else value
            if name == "target_segment":
                changes[name] = value.slug if value is not None else None
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


def generation_version(merchant: Merchant) -> ModelVersion:
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
    version = generation_version(campaign.merchant)
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
    values = clean_fields(campaign.channel, fields, truncate=True)
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
            "grounding": report_stamped(outcome.report),
            "quality": quality,
            "attempts": attempts,
            "flagged": not outcome.passed,
            "approvable": outcome.approvable,
        },
    )
