"""Reads for the copy studio. Every function takes the merchant and never returns another merchant's rows."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db.models import Count, F, Prefetch, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from accounts.models import Merchant
from accounts.selectors import object_get_or_404 as _get
from catalog.models import Product
from catalog.selectors import product_list
from marketing.models import (
    BrandVoice,
    Campaign,
    ContentPiece,
    ContentRevision,
    WebhookDelivery,
    WebhookEndpoint,
)
from ml.models import Job

PRODUCT_FILTER_KEYS = frozenset({"search", "category", "brand", "min_price", "max_price"})
EXPORTABLE_STATUSES = (ContentPiece.Status.APPROVED, ContentPiece.Status.PUBLISHED)


# --- brand voice -------------------------------------------------------------------------------------------


def brand_voice_get(*, merchant: Merchant) -> BrandVoice | None:
    return BrandVoice.objects.filter(merchant=merchant).first()


# --- campaigns ---------------------------------------------------------------------------------------------


def campaign_list(
    *, merchant: Merchant, status: str | None = None, channel: str | None = None
) -> QuerySet[Campaign]:
    """Newest first, each with `piece_count`, `in_review_count`, `approved_count`, `published_count` and
    `flagged_count`, and its latest job (for a progress bar)."""
    queryset = (
        Campaign.objects.filter(merchant=merchant)
        .select_related("last_job", "target_segment")
        .annotate(
            piece_count=Count("pieces"),
            in_review_count=Count("pieces", filter=Q(pieces__status=ContentPiece.Status.IN_REVIEW)),
            approved_count=Count("pieces", filter=Q(pieces__status=ContentPiece.Status.APPROVED)),
            published_count=Count("pieces", filter=Q(pieces__status=ContentPiece.Status.PUBLISHED)),
            flagged_count=Count("pieces", filter=Q(pieces__flagged=True)),
        )
    )
    if status:
        queryset = queryset.filter(status=status)
    if channel:
        queryset = queryset.filter(channel=channel)
    return queryset


def campaign_get(*, merchant: Merchant, campaign_id) -> Campaign:
    return _get(campaign_list(merchant=merchant).prefetch_related("products"), campaign_id, "campaign")


def product_filter_apply(*, merchant: Merchant, product_filter: dict) -> QuerySet[Product]:
    """Active products of the merchant matching a campaign's catalog filter (see PRODUCT_FILTER_KEYS)."""
    queryset = product_list(
        merchant=merchant,
        search=product_filter.get("search") or "",
        category=product_filter.get("category") or None,
        brand=product_filter.get("brand") or None,
        is_active=True,
    )
    for key, lookup in (("min_price", "price__gte"), ("max_price", "price__lte")):
        if product_filter.get(key) not in (None, ""):
            try:
                queryset = queryset.filter(**{lookup: Decimal(str(product_filter[key]))})
            except InvalidOperation:
                return queryset.none()
    return queryset


def campaign_products(*, campaign: Campaign) -> QuerySet[Product]:
    """The products a campaign covers: its explicit list if it has one, else its catalog filter."""
    explicit = Product.objects.filter(merchant_id=campaign.merchant_id, campaigns=campaign)
    if explicit.exists():
        return explicit.select_related("category").order_by("id")
    if campaign.product_filter:
        return product_filter_apply(
            merchant=campaign.merchant, product_filter=campaign.product_filter
        ).order_by("id")
    return Product.objects.none()


def product_facts(product: Product) -> dict:
    """The product as the prompt builder and the grounding check see it (also shown beside each piece)."""
    return {
        "sku": product.sku,
        "title": product.title,
        "brand": product.brand,
        "category": product.category.name if product.category_id else "",
        "price": str(product.price),
        "currency": product.currency,
        "attributes": {str(k): "" if v is None else str(v) for k, v in (product.attributes or {}).items()},
        "description": product.description,
        "url": product.url,
        "in_stock": product.in_stock,
    }


# --- content pieces ----------------------------------------------------------------------------------------


def content_list(
    *,
    merchant: Merchant,
    campaign: int | Campaign | None = None,
    status: str | list[str] | None = None,
    channel: str | None = None,
    flagged: bool | None = None,
    product: int | None = None,
) -> QuerySet[ContentPiece]:
    """The review queue. Each piece comes with its campaign, product (and category) and model version
    loaded, so rendering any number of pieces beside their product facts costs a fixed number of queries."""
    queryset = ContentPiece.objects.filter(merchant=merchant).select_related(
        "campaign", "product", "product__category", "model_version"
    )
    if campaign is not None:
        queryset = queryset.filter(campaign=campaign)
    if status:
        queryset = queryset.filter(status__in=[status] if isinstance(status, str) else status)
    if channel:
        queryset = queryset.filter(campaign__channel=channel)
    if flagged is not None:
        queryset = queryset.filter(flagged=flagged)
    if product is not None:
        queryset = queryset.filter(product=product)
    return queryset.order_by("-created_at", "-id")


@dataclass(frozen=True)
class ReviewFigures:
    """The review queue at a glance, for the Overview."""

    in_review: int
    flagged: int  # in review and failing a check: each needs an edit before it can be approved
    approved_unpublished: int

    @property
    def any(self) -> bool:
        return bool(self.in_review or self.approved_unpublished)


def content_review_figures(*, merchant: Merchant) -> ReviewFigures:
    """One aggregate query over the merchant's pieces (the merchant+status index serves it)."""
    in_review = Q(status=ContentPiece.Status.IN_REVIEW)
    row = ContentPiece.objects.filter(merchant=merchant).aggregate(
        in_review=Count("id", filter=in_review),
        flagged=Count("id", filter=in_review & Q(flagged=True)),
        approved_unpublished=Count("id", filter=Q(status=ContentPiece.Status.APPROVED)),
    )
    return ReviewFigures(**row)


def content_get(*, merchant: Merchant, piece_id) -> ContentPiece:
    return _get(content_list(merchant=merchant), piece_id, "content piece")


def content_regenerating_ids(*, merchant: Merchant, piece_ids) -> set[int]:
    """Which of these pieces have a regeneration job still queued or running (one query for a whole page)."""
    if not piece_ids:
        return set()
    values = Job.objects.filter(
        merchant=merchant, kind=Job.Kind.GENERATE, status__in=Job.ACTIVE, params__has_key="piece_id"
    ).values_list("params__piece_id", flat=True)
    wanted = set(piece_ids)
    return {value for value in values if isinstance(value, int) and value in wanted}


def content_revision_list(*, merchant: Merchant, piece: ContentPiece) -> QuerySet[ContentRevision]:
    return ContentRevision.objects.filter(merchant=merchant, piece=piece).select_related("author")


def content_with_revisions(*, merchant: Merchant, piece_id) -> ContentPiece:
    """One piece with `revisions` prefetched (newest first), for a detail view."""
    queryset = content_list(merchant=merchant).prefetch_related(
        Prefetch("revisions", queryset=ContentRevision.objects.order_by("-created_at", "-id"))
    )
    return _get(queryset, piece_id, "content piece")


def content_export_list(
    *, merchant: Merchant, campaign: int | Campaign | None = None, status: str | None = None
) -> QuerySet[ContentPiece]:
    """What may leave Storyfront: approved and published pieces only (`status` narrows to one of them)."""
    if status and status not in EXPORTABLE_STATUSES:
        return ContentPiece.objects.none()
    statuses = [status] if status else list(EXPORTABLE_STATUSES)
    return content_list(merchant=merchant, campaign=campaign, status=statuses).order_by(
        "campaign_id", "product_id", "variant", "id"
    )


def content_due_for_scheduled_publish(*, now) -> QuerySet[ContentPiece]:
    """Approved pieces of campaigns whose publish time has passed (all merchants: for the beat task)."""
    return ContentPiece.objects.filter(
        status=ContentPiece.Status.APPROVED, campaign__publish_at__isnull=False, campaign__publish_at__lte=now
    ).order_by("id")


def approved_examples(
    *, merchant: Merchant, channel: str, exclude_product_id: int | None = None, limit: int = 2
) -> list[ContentPiece]:
    """The merchant's most recent approved or published pieces of ``channel`` whose stored grounding report
    has no finding, one per product (not ``exclude_product_id``), newest first: few-shot examples for the copy
    prompt. Copy for everyone only: per-customer copy names its reader. Each comes with its product (and
    category) and campaign loaded."""
    if limit <= 0:
        return []
    queryset = (
        ContentPiece.objects.filter(
            merchant=merchant,
            campaign__channel=channel,
            status__in=EXPORTABLE_STATUSES,
            customer_external_id="",
            grounding__passed=True,
        )
        .select_related("campaign", "product", "product__category")
        .order_by("-updated_at", "-id")
    )
    if exclude_product_id is not None:
        queryset = queryset.exclude(product_id=exclude_product_id)
    examples, products = [], set()
    # A bounded look: pieces are per product and variant, so a few times the limit finds distinct products.
    for piece in queryset[: limit * 10]:
        if piece.product_id in products or not _has_no_findings(piece.grounding):
            continue
        products.add(piece.product_id)
        examples.append(piece)
        if len(examples) == limit:
            break
    return examples


def _has_no_findings(report) -> bool:
    keys = ("unsupported", "channel_violations", "degenerate", "banned")
    return isinstance(report, dict) and report.get("passed") is True and not any(report.get(k) for k in keys)


# --- webhooks ----------------------------------------------------------------------------------------------


def webhook_endpoint_list(*, merchant: Merchant) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(merchant=merchant)


def webhook_endpoint_get(*, merchant: Merchant, endpoint_id) -> WebhookEndpoint:
    return _get(webhook_endpoint_list(merchant=merchant), endpoint_id, "webhook endpoint")


def webhook_delivery_list(
    *, merchant: Merchant, endpoint: WebhookEndpoint | None = None
) -> QuerySet[WebhookDelivery]:
    queryset = WebhookDelivery.objects.filter(merchant=merchant).select_related("endpoint", "piece")
    return queryset.filter(endpoint=endpoint) if endpoint is not None else queryset


def webhook_recent_deliveries(
    *, merchant: Merchant, endpoint_ids, per_endpoint: int = 5
) -> dict[int, list[WebhookDelivery]]:
    """{endpoint id: its newest deliveries, newest first}, for a page that lists endpoints: one query for all of
    them. The payload and the per-attempt log stay in the database; the row's summary fields say enough."""
    ranked = (
        WebhookDelivery.objects.filter(merchant=merchant, endpoint_id__in=list(endpoint_ids))
        .defer("payload", "attempt_log")
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("endpoint_id")],
                order_by=[F("created_at").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=per_endpoint)
        .order_by("endpoint_id", "rank")
    )
    recent: dict[int, list[WebhookDelivery]] = {}
    for delivery in ranked:
        recent.setdefault(delivery.endpoint_id, []).append(delivery)
    return recent
