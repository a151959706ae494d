"""Customer-service chat: per-merchant chat settings (widget token, allowed origins, handoff rules), the
knowledge the bot answers from, conversations and their messages, and the support dialogues the chat model
is fine-tuned on.

A conversation is served by the bot until it is handed off (the shopper asked for a person, retrieval found
nothing relevant, a sensitive topic came up, or too many answers failed); then staff reply from the inbox
until they hand it back or resolve it. Bot replies are generated in an `ml` worker: the web process stores
the shopper's message and a pending bot message, and the worker fills the reply in (streaming it into
`text` as it decodes)."""

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.dispatch import Signal

from accounts.models import Merchant
from catalog.models import Product
from ml.models import ModelVersion

DEFAULT_HANDOFF_TOPICS = [
    "refund dispute",
    "chargeback",
    "lawyer",
    "legal action",
    "sue",
    "injury",
    "injured",
    "unsafe",
    "allergic reaction",
    "fire hazard",
    "data breach",
]


def new_widget_token() -> str:
    return "wgt_" + secrets.token_urlsafe(24)


class ChatSettings(models.Model):
    """How a merchant's bot behaves and where its widget may run. Created on first use with safe defaults."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="chat_settings")
    bot_name = models.CharField(max_length=80, default="Assistant")
    greeting = models.CharField(
        max_length=300, default="Hi! Ask me about our products, orders, shipping or returns."
    )
    # Public by design: it sits in the merchant's storefront page. It only opens widget conversations, limited
    # to allowed_origins and rate-limited per shopper session; it is not an API key.
    widget_token = models.CharField(max_length=64, unique=True, default=new_widget_token)
    widget_enabled = models.BooleanField(default=True)
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        help_text='Storefront origins allowed to embed the widget, e.g. ["https://shop.example"].',
    )
    handoff_topics = models.JSONField(
        default=list, blank=True, help_text="Phrases that always hand the conversation to a person."
    )
    min_relevance = models.FloatField(
        default=0.35,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Below this retrieval score the bot hands off instead of guessing.",
    )
    max_failed_answers = models.PositiveSmallIntegerField(default=2, validators=[MinValueValidator(1)])
    history_turns = models.PositiveSmallIntegerField(
        default=6, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    rate_limit_per_minute = models.PositiveSmallIntegerField(default=12, validators=[MinValueValidator(1)])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "chat settings"

    def __str__(self) -> str:
        return f"Chat settings of {self.merchant}"


class KnowledgeItem(models.Model):
    """An FAQ (question + answer) or a policy text. Internal items are staff-only: never retrieved into a
    shopper-facing prompt."""

    class Kind(models.TextChoices):
        FAQ = "faq", "FAQ"
        POLICY = "policy", "Policy"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="knowledge_items")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.FAQ)
    title = models.CharField(max_length=300, help_text="The FAQ question, or the policy's name.")
    body = models.TextField(help_text="The FAQ answer, or the policy text.")
    is_internal = models.BooleanField(default=False, help_text="Staff-only; never shown to shoppers.")
    is_active = models.BooleanField(default=True)
    # Unit-length MiniLM vector computed in an ml worker; null until then (lexical search still finds it).
    embedding = models.JSONField(null=True, blank=True, editable=False)
    embedding_model = models.CharField(max_length=100, blank=True, editable=False)
    embedded_text_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "title", "id"]
        indexes = [models.Index(fields=["merchant", "is_active"])]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "kind", "title"], name="uniq_knowledge_title"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def text_for_embedding(self) -> str:
        return f"{self.title}\n{self.body}"


class ProductEmbedding(models.Model):
    """The MiniLM vector of a product's text, for chat retrieval (and later recommendations)."""

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="chat_embedding")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    vector = models.JSONField()
    model_name = models.CharField(max_length=100)
    text_hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.model_name} vector of product {self.product_id}"


# Sent (kwarg merchant_id) after product vectors of a merchant were written; profiles rebuilds interest vectors.
product_vectors_changed = Signal()


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open (bot)"
        HANDED_OFF = "handed_off", "Handed off"
        RESOLVED = "resolved", "Resolved"

    class Source(models.TextChoices):
        API = "api", "API"
        WIDGET = "widget", "Widget"
        DASHBOARD = "dashboard", "Dashboard"

    class HandoffReason(models.TextChoices):
        NONE = "", "—"
        REQUESTED = "requested", "Shopper asked for a person"
        LOW_RELEVANCE = "low_relevance", "Nothing relevant in the knowledge base"
        SENSITIVE = "sensitive", "Sensitive topic"
        FAILED_ANSWERS = "failed_answers", "Repeated failed answers"
        STAFF = "staff", "Taken over by staff"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="conversations")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    customer_external_id = models.CharField(max_length=200, blank=True)
    # Widget conversations: a random secret the shopper's browser holds; only it can read or post.
    session_secret = models.CharField(max_length=64, blank=True, editable=False)
    origin = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    handoff_reason = models.CharField(max_length=32, choices=HandoffReason.choices, blank=True)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    failed_answers = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Set once the conversation's dialogue has been used for incremental fine-tuning.
    trained_in = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-last_message_at", "-id"]
        indexes = [models.Index(fields=["merchant", "status", "-last_message_at"])]

    def __str__(self) -> str:
        return f"Conversation #{self.pk} ({self.status})"

    @property
    def bot_active(self) -> bool:
        return self.status == self.Status.OPEN


class Message(models.Model):
    class Role(models.TextChoices):
        SHOPPER = "shopper", "Shopper"
        BOT = "bot", "Bot"
        STAFF = "staff", "Staff"
        SYSTEM = "system", "System notice"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        STREAMING = "streaming", "Streaming"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=16, choices=Role.choices)
    text = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    # [{"type": "knowledge"|"product", "id": ..., "title": ..., "score": ...}] the reply was grounded on.
    sources = models.JSONField(default=list, blank=True)
    handoff = models.BooleanField(default=False, help_text="This reply handed the conversation to a person.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    params = models.JSONField(default=dict, blank=True)
    prompt = models.TextField(blank=True, help_text="The exact prompt (staff-only).")
    safety = models.JSONField(default=dict, blank=True, help_text="What the output checks found and changed.")
    error = models.TextField(blank=True)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    tokens = models.PositiveIntegerField(null=True, blank=True)
    # Staff feedback on bot replies: a rating and an optional corrected reply (preferred as training data).
    rating = models.SmallIntegerField(null=True, blank=True, choices=[(1, "Good"), (-1, "Bad")])
    correction = models.TextField(blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at"])]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:40]}"


class DialogueImport(models.Model):
    """One upload of support dialogues, with its per-row report."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="dialogue_imports")
    filename = models.CharField(max_length=300, blank=True)
    format = models.CharField(max_length=32)
    rows_total = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    masked_counts = models.JSONField(default=dict, blank=True, help_text='{"email": 3, "phone": 1, ...}')
    created_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.filename or 'upload'}: {self.rows_imported} of {self.rows_total} dialogues imported"


class SupportDialogue(models.Model):
    """A support dialogue to train on, with personal data already masked. `split` fixes a per-merchant
    held-out set and a regression set that incremental versions must not get worse on."""

    class Source(models.TextChoices):
        IMPORT = "import", "Imported"
        CONVERSATION = "conversation", "Resolved conversation"

    class Split(models.TextChoices):
        TRAIN = "train", "Training"
        HELDOUT = "heldout", "Held-out"
        REGRESSION = "regression", "Regression set"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="support_dialogues")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.IMPORT)
    split = models.CharField(max_length=16, choices=Split.choices, default=Split.TRAIN)
    # [{"role": "customer"|"agent", "text": ...}], masked.
    turns = models.JSONField()
    intent = models.CharField(max_length=100, blank=True)
    import_batch = models.ForeignKey(
        DialogueImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="dialogues"
    )
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "content_hash"], name="uniq_dialogue_per_merchant"),
        ]
        indexes = [models.Index(fields=["merchant", "split", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_source_display()} dialogue {self.pk} ({self.split}, {len(self.turns or [])} turns)"
