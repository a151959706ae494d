"""Copy studio: brand voice, campaigns, the content pieces the model writes and their review workflow,
revisions, and publishing to webhooks.

A piece moves draft -> in_review -> approved -> published, or to rejected; the allowed moves live in
`TRANSITIONS` and every move is a guarded UPDATE in marketing.workflow, so two reviewers (or a task that runs
twice) never both win."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models

from accounts.models import Merchant
from catalog.models import Product
from ml.engine.grounding import CHANNEL_FIELDS, CHANNEL_LABELS
from ml.models import Job, ModelVersion

MAX_VARIANTS = 5


# Channels are defined once, in the engine (CHANNEL_LABELS), which checks and limits each: Channel.EMAIL == "email".
Channel = models.TextChoices(
    "Channel", [(value.upper(), (value, label)) for value, label in CHANNEL_LABELS.items()]
)


# The piece fields each channel fills come from the grounding check's CHANNEL_FIELDS (imported above), so
# what is stored, checked and limited always agree; the other fields stay empty. An ad headline is a single
# text, stored in `body`.
CONTENT_FIELDS = ("title", "subject", "body", "hashtags")


class Length(models.TextChoices):
    SHORT = "short", "Short"
    MEDIUM = "medium", "Medium"
    LONG = "long", "Long"


class BrandVoice(models.Model):
    """How the merchant sounds. One per merchant; every prompt includes it, every piece is checked for its
    banned words."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="brand_voice")
    tone_words = models.JSONField(default=list, blank=True, help_text='e.g. ["warm", "playful", "concise"]')
    audience = models.CharField(max_length=500, blank=True)
    do_list = models.JSONField(default=list, blank=True, help_text="Things the copy should do.")
    dont_list = models.JSONField(default=list, blank=True, help_text="Things the copy must avoid.")
    banned_words = models.JSONField(default=list, blank=True, help_text="Words that must never appear.")
    examples = models.JSONField(default=list, blank=True, help_text="A few texts in the brand's voice.")
    updated_by_label = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Brand voice of {self.merchant}"

    def as_prompt_dict(self) -> dict:
        return {
            "tone_words": list(self.tone_words),
            "audience": self.audience,
            "do": list(self.do_list),
            "dont": list(self.dont_list),
            "banned_words": list(self.banned_words),
            "examples": list(self.examples),
        }


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        GENERATING = "generating", "Generating"
        READY = "ready", "Ready for review"
        FAILED = "failed", "Generation failed"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    goal = models.TextField(blank=True)
    channel = models.CharField(max_length=32, choices=Channel.choices)
    products = models.ManyToManyField(Product, blank=True, related_name="campaigns")
    product_filter = models.JSONField(
        default=dict,
        blank=True,
        help_text="Catalog filter used when no products are listed: "
        "search, category, brand, min_price, max_price.",
    )
    # Who the copy is written for, in words; passed to the prompt as the audience.
    audience = models.CharField(max_length=200, blank=True)
    # Which customers the campaign is for (profiles' segments); null: everyone.
    target_segment = models.ForeignKey(
        "profiles.Segment", null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns"
    )
    language = models.CharField(max_length=16, default="en")
    tone = models.CharField(max_length=100, blank=True)
    length = models.CharField(max_length=8, choices=Length.choices, default=Length.MEDIUM)
    variants_per_product = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_VARIANTS)]
    )
    publish_at = models.DateTimeField(
        null=True, blank=True, help_text="From this time on, approved pieces are published automatically."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    last_job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["merchant", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(variants_per_product__gte=1, variants_per_product__lte=MAX_VARIANTS),
                name="campaign_variants_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def current_status(self) -> str:
        """`status`, except that a campaign whose generation job was cancelled before it ran (so no worker
        could mark it) no longer reads as generating."""
        if (
            self.status == self.Status.GENERATING
            and self.last_job is not None
            and not self.last_job.is_active
        ):
            return self.Status.READY if self.last_job.status != Job.Status.FAILED else self.Status.FAILED
        return self.status


class ContentPiece(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        PUBLISHED = "published", "Published"
        REJECTED = "rejected", "Rejected"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="content_pieces")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="pieces")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="content_pieces")
    # The shopper's external id for per-customer copy; "" for copy meant for everyone. An empty string
    # rather than NULL keeps the uniqueness constraint below simple and portable (SQLite has no
    # NULLS NOT DISTINCT).
    customer_external_id = models.CharField(max_length=200, blank=True, default="")
    variant = models.PositiveSmallIntegerField(default=1)
    title = models.CharField(max_length=500, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    hashtags = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="content_pieces"
    )
    prompt = models.TextField(blank=True, help_text="The messages sent to the model, as JSON.")
    params = models.JSONField(default=dict, blank=True, help_text="Decoding parameters and seed.")
    grounding = models.JSONField(default=dict, blank=True, help_text="The latest grounding report.")
    quality = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    flagged = models.BooleanField(
        default=False, help_text="Failed a check (kept after the last retry or edit)."
    )
    approvable = models.BooleanField(
        default=False, help_text="No unsupported claims, channel-limit violations or banned words."
    )
    rejection_reason = models.CharField(max_length=1000, blank=True)
    reviewed_by_label = models.CharField(max_length=200, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign_id", "product_id", "customer_external_id", "variant"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "product", "customer_external_id", "variant"],
                name="uniq_piece_per_variant",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "status"]),
            models.Index(fields=["campaign", "status"]),
        ]

    def __str__(self) -> str:
        who = f" for {self.customer_external_id}" if self.customer_external_id else ""
        return f"{self.campaign} / {self.product.sku}{who} v{self.variant} ({self.status})"

    @property
    def channel(self) -> str:
        return self.campaign.channel

    def fields(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in CONTENT_FIELDS}

    def channel_fields(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in CHANNEL_FIELDS[self.campaign.channel]}


# Which moves are legal: action -> (statuses it may start from, status it ends in). Editing and regenerating
# also send a rejected or approved piece back to review; see marketing.review.recheck.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "submit": ((ContentPiece.Status.DRAFT,), ContentPiece.Status.IN_REVIEW),
    "approve": ((ContentPiece.Status.IN_REVIEW,), ContentPiece.Status.APPROVED),
    "reject": ((ContentPiece.Status.DRAFT, ContentPiece.Status.IN_REVIEW), ContentPiece.Status.REJECTED),
    "publish": ((ContentPiece.Status.APPROVED,), ContentPiece.Status.PUBLISHED),
    "unpublish": ((ContentPiece.Status.PUBLISHED,), ContentPiece.Status.APPROVED),
    "regenerate": (
        (ContentPiece.Status.DRAFT, ContentPiece.Status.IN_REVIEW, ContentPiece.Status.REJECTED),
        ContentPiece.Status.IN_REVIEW,
    ),
    # A newer checker blocks an approved (not yet published) piece: it goes back to review.
    "recheck": ((ContentPiece.Status.APPROVED,), ContentPiece.Status.IN_REVIEW),
}
EDITABLE_STATUSES = (
    ContentPiece.Status.DRAFT,
    ContentPiece.Status.IN_REVIEW,
    ContentPiece.Status.REJECTED,
    ContentPiece.Status.APPROVED,
)


class ContentRevision(models.Model):
    """One edit of a piece (by a person or a regeneration): the channel fields before and after."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="content_revisions")
    piece = models.ForeignKey(ContentPiece, on_delete=models.CASCADE, related_name="revisions")
    fields_before = models.JSONField(default=dict)
    fields_after = models.JSONField(default=dict)
    status_before = models.CharField(max_length=16, choices=ContentPiece.Status.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_label = models.CharField(max_length=200)
    kind = models.CharField(
        max_length=16, choices=[("edit", "Edit"), ("regenerate", "Regeneration")], default="edit"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} of piece #{self.piece_id} by {self.author_label}"


class WebhookEvent(models.TextChoices):
    CONTENT_PUBLISHED = "content.published", "Content published"
    CONTENT_UNPUBLISHED = "content.unpublished", "Content unpublished"


class WebhookEndpoint(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=1000, validators=[URLValidator(schemes=["http", "https"])])
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=128, help_text="HMAC-SHA256 signing key; shown once on creation.")
    events = models.JSONField(default=list, blank=True, help_text="Event names to send; empty means all.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event: str) -> bool:
        return self.active and (not self.events or event in self.events)


class WebhookDelivery(models.Model):
    """One event sent to one endpoint, with every attempt in `attempt_log`; retries reuse the row and its
    idempotency key so the receiver can drop duplicates."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="webhook_deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    piece = models.ForeignKey(
        ContentPiece, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    event = models.CharField(max_length=64, choices=WebhookEvent.choices)
    idempotency_key = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    attempt_log = models.JSONField(default=list, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "idempotency_key"], name="uniq_delivery_per_endpoint_key"
            ),
        ]
        indexes = [models.Index(fields=["merchant", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.event} -> {self.endpoint} ({self.status})"
