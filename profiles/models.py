"""Shoppers and what they do: customers, behaviour events, computed profiles, segments, erasure records.

Purchases: a `purchase` event is one order line (product, quantity, value) and carries the order's id in
`order_id`; an order is the set of purchase events sharing that id. There is no separate Order table, so the
ingestion path writes one table with COPY and an order export (UCI Online Retail: one row per invoice line)
maps row for row. A cancellation is a `refund` event for the same product, quantity and order id.

Scale: events are append-only. On PostgreSQL the table carries a BRIN index on `occurred_at` (made by
migration 0002, tiny, fits time-range scans of an append-ordered table) and B-tree indexes led by merchant for the per-customer timeline, per-type
windows and unknown-SKU linking. Raw events older than the merchant's retention (`ProfileSettings`,
default 730 days) are deleted nightly; profiles keep the aggregates. See docs/profiles.md.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from accounts.models import Merchant
from catalog.models import Product


class Customer(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="customers")
    external_id = models.CharField(max_length=200, help_text="The shop's own id for the customer.")
    email = models.EmailField(max_length=254, blank=True)
    name = models.CharField(max_length=200, blank=True)
    locale = models.CharField(max_length=16, blank=True)
    country = models.CharField(max_length=64, blank=True)
    # Marketing is opt-in; profiling (and training on their data) is on unless the customer refused it.
    consent_marketing = models.BooleanField(default=False)
    consent_profiling = models.BooleanField(default=True)
    attributes = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"], name="uniq_customer_merchant_external_id"
            )
        ]
        indexes = [
            models.Index(fields=["merchant", "-last_seen_at"]),
            models.Index(fields=["merchant", "email"]),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.external_id


class EventType(models.TextChoices):
    VIEW = "view", "Viewed a product"
    SEARCH = "search", "Searched"
    ADD_TO_CART = "add_to_cart", "Added to cart"
    PURCHASE = "purchase", "Purchased"
    REFUND = "refund", "Refunded"
    REVIEW = "review", "Reviewed"
    EMAIL_OPEN = "email_open", "Opened an email"
    EMAIL_CLICK = "email_click", "Clicked an email"
    RECOMMENDATION_CLICK = "recommendation_click", "Clicked a recommendation"


class Event(models.Model):
    """One thing a shopper did. Written in bulk with COPY by `profiles.ingest`; never updated except to link
    a product that arrived after its SKU was seen."""

    id = models.BigAutoField(primary_key=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", db_index=False)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    session_id = models.CharField(max_length=200, blank=True, help_text="Anonymous shopper's session.")
    type = models.CharField(max_length=24, choices=EventType.choices)
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    # The SKU as sent: kept so that events about products not (yet) in the catalog link up when they arrive.
    product_sku = models.CharField(max_length=100, blank=True)
    quantity = models.IntegerField(default=1)
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    query = models.CharField(max_length=500, blank=True, help_text="Search text.")
    order_id = models.CharField(max_length=100, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=50, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True, help_text="Empty: no deduplication.")
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="uniq_event_merchant_idempotency_key",
            )
        ]
        indexes = [
            models.Index(fields=["merchant", "customer", "-occurred_at"], name="event_customer_time"),
            models.Index(fields=["merchant", "type", "-occurred_at"], name="event_type_time"),
            models.Index(fields=["merchant", "-occurred_at"], name="event_merchant_time"),
            models.Index(fields=["merchant", "session_id"], name="event_session"),
            models.Index(fields=["product"], name="event_product"),
            models.Index(
                fields=["merchant", "product_sku"],
                condition=models.Q(product__isnull=True) & ~models.Q(product_sku=""),
                name="event_unlinked_sku",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} at {self.occurred_at:%Y-%m-%d %H:%M}"


class CustomerProfile(models.Model):
    """What the worker computed about one customer (only customers who consent to profiling have one)."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    # RFM over purchases net of refunds. Scores are quintiles (1-5, 5 best) among the merchant's customers.
    recency_days = models.IntegerField(null=True, blank=True)
    frequency = models.IntegerField(default=0, help_text="Distinct orders.")
    monetary = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    r_score = models.SmallIntegerField(null=True, blank=True)
    f_score = models.SmallIntegerField(null=True, blank=True)
    m_score = models.SmallIntegerField(null=True, blank=True)
    rfm_segment = models.CharField(max_length=32, blank=True)
    lifetime_value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # {"category": {"Shirts": 0.62, ...}, "brand": {...}, "colour": {...}, "price_band": {...}}: time-decayed
    # weighted shares, each kind summing to 1.
    affinities = models.JSONField(default=dict, blank=True)
    # Unit-length time-decayed weighted mean of MiniLM product vectors (null until products are embedded).
    interest_vector = models.JSONField(null=True, blank=True)
    next_purchase_from = models.DateTimeField(null=True, blank=True)
    next_purchase_to = models.DateTimeField(null=True, blank=True)
    churn_risk = models.FloatField(null=True, blank=True, help_text="Probability of no purchase in 90 days.")
    explanation = models.JSONField(
        default=dict, blank=True, help_text="Why the predictions are what they are."
    )
    events_count = models.IntegerField(default=0)
    last_event_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["merchant", "rfm_segment"]),
            models.Index(fields=["merchant", "r_score", "f_score", "m_score"]),
        ]

    def __str__(self) -> str:
        return f"Profile of {self.customer_id}"


class ProfileSettings(models.Model):
    """Per-merchant knobs for profiling, with the defaults a new merchant gets."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="profile_settings")
    event_retention_days = models.PositiveIntegerField(
        default=730, help_text="Raw events older than this are deleted nightly; profiles keep the aggregates."
    )
    affinity_half_life_days = models.PositiveIntegerField(
        default=90, help_text="An interaction's weight halves every this many days."
    )
    # RFM quintile cut points of the last full rebuild, used to score customers updated in between.
    rfm_cutoffs = models.JSONField(default=dict, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Profile settings of {self.merchant_id}"


class Segment(models.Model):
    class Kind(models.TextChoices):
        BUILTIN = "builtin", "Built-in (RFM)"
        CUSTOM = "custom", "Custom rules"

    class Match(models.TextChoices):
        ALL = "all", "All conditions"
        ANY = "any", "Any condition"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140)
    description = models.CharField(max_length=500, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CUSTOM)
    match = models.CharField(max_length=8, choices=Match.choices, default=Match.ALL)
    # [{"field": "r_score", "op": "gte", "value": 4}, ...]; see profiles/segments.py for the vocabulary.
    rules = models.JSONField(default=list, blank=True)
    member_count = models.IntegerField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "slug"], name="uniq_segment_merchant_slug")
        ]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="segment_memberships")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", db_index=False)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "customer"], name="uniq_segment_membership")
        ]
        indexes = [models.Index(fields=["merchant", "customer"])]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.segment_id}"


class ErasureRecord(models.Model):
    """What an erasure removed, without personal data: the customer is kept only as a hash of their id."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="erasure_records")
    customer_ref = models.CharField(max_length=64, help_text="SHA-256 of the merchant id and external id.")
    requested_by = models.CharField(max_length=200)
    deleted = models.JSONField(default=dict, help_text="Counts of what was deleted or anonymised, by kind.")
    model_versions = models.JSONField(
        default=list, help_text="Trained model versions whose training data included this customer's data."
    )
    retrain_purposes = models.JSONField(default=list, help_text="Purposes queued for retraining without it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Erasure {self.customer_ref[:12]}"


class RFMSegment(models.TextChoices):
    """Built-in segments from the RFM scores (R, F: quintile scores 1-5), first match wins:
    prospect: no purchase yet; champions: R>=4 and F>=4; new: R>=4 and one order; loyal: F>=4;
    potential: R>=3 and F 2-3; at_risk: R<=2 and F>=3; hibernating: R<=2 and F<=2; need_attention: the rest."""

    CHAMPIONS = "champions", "Champions"
    LOYAL = "loyal", "Loyal"
    POTENTIAL = "potential", "Potential loyalists"
    NEW = "new", "New customers"
    AT_RISK = "at_risk", "At risk"
    HIBERNATING = "hibernating", "Hibernating"
    NEED_ATTENTION = "need_attention", "Need attention"
    PROSPECT = "prospect", "Prospects (no purchase)"


class ImportRun(models.Model):
    """One file import into profiles (customers, order lines or interaction sequences), dry run or applied,
    with its counts and per-row report. Written by profiles/import_services.py and profiles/order_import.py."""

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", "Customers"
        ORDERS = "orders", "Orders"
        SEQUENCES = "sequences", "Interaction sequences"

    class Status(models.TextChoices):
        PREVIEWED = "previewed", "Previewed (dry run)"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="import_runs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    filename = models.CharField(max_length=255, blank=True)
    file_format = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    dry_run = models.BooleanField(default=False)
    total_rows = models.PositiveIntegerField(default=0, help_text="Rows (or lines) read from the file.")
    error_count = models.PositiveIntegerField(default=0, help_text="Rows rejected.")
    # By kind: customers {created, updated, unchanged}; orders {purchases, refunds, customers_created,
    # products_created, inserted, duplicates, ...}; sequences {users, interactions, inserted, duplicates, ...}.
    counts = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=dict, blank=True)
    seconds = models.FloatField(default=0, help_text="How long the import took.")
    created_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="importrun_merchant_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import {self.filename or self.pk}"
