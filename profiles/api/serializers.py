"""Serializers of the customers and events API. Customer input is checked by `profiles.services`'s own rules
(`customer_fields_clean`), so the API, the dashboard and imports agree; event input is checked by
`profiles.event_fields` (by hand, for speed), and the event serializers here only document it."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from profiles.event_fields import MAX_QUANTITY, PROPERTIES_MAX_BYTES
from profiles.ingest import MAX_EVENTS_PER_REQUEST
from profiles.models import CustomerProfile, ErasureRecord, Event, EventType, RFMSegment
from profiles.selectors import customer_profile
from profiles.services import CUSTOMER_FIELDS, customer_fields_clean


class CustomerSerializer(serializers.Serializer):
    """A customer, addressed by the shop's own id (`external_id`)."""

    external_id = serializers.CharField(
        max_length=200, help_text="The shop's own id for the customer; unique per merchant."
    )
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    locale = serializers.CharField(
        max_length=16, required=False, allow_blank=True, help_text="Language tag, e.g. en-GB."
    )
    country = serializers.CharField(max_length=64, required=False, allow_blank=True)
    consent_marketing = serializers.BooleanField(
        required=False, help_text="Opted in to marketing (default false)."
    )
    consent_profiling = serializers.BooleanField(
        required=False,
        help_text="Agrees to profiling and to their data training models (default true). Setting it to false "
        "deletes their profile and segment memberships.",
    )
    attributes = serializers.DictField(
        required=False,
        help_text="Custom name/value pairs, merged into the stored ones; a key set to null is removed.",
    )
    first_seen_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_seen_at = serializers.DateTimeField(read_only=True, allow_null=True)
    rfm_segment = serializers.SerializerMethodField(
        help_text="Built-in RFM segment, when a profile has been computed."
    )
    segments = serializers.SerializerMethodField(help_text="Slugs of the segments the customer belongs to.")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        given = {name: data[name] for name in ("external_id", *CUSTOMER_FIELDS) if name in data}
        clean, errors = customer_fields_clean(given)
        if "external_id" not in given and not self.partial:
            errors["external_id"] = ["This field is required."]
        if errors:
            raise serializers.ValidationError(errors)
        return clean

    @extend_schema_field(serializers.ChoiceField(choices=RFMSegment.choices, allow_null=True))
    def get_rfm_segment(self, customer) -> str | None:
        profile = customer_profile(customer=customer)
        return (profile.rfm_segment or None) if profile else None

    def get_segments(self, customer) -> list[str]:
        return sorted(m.segment.slug for m in customer.segment_memberships.all())


class CustomerProfileSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", read_only=True)

    class Meta:
        model = CustomerProfile
        fields = [
            "customer",
            "recency_days",
            "frequency",
            "monetary",
            "r_score",
            "f_score",
            "m_score",
            "rfm_segment",
            "lifetime_value",
            "affinities",
            "interest_vector",
            "next_purchase_from",
            "next_purchase_to",
            "churn_risk",
            "explanation",
            "events_count",
            "last_event_at",
            "computed_at",
        ]
        read_only_fields = fields


class ErasureRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = ErasureRecord
        fields = [
            "id",
            "customer_ref",
            "requested_by",
            "deleted",
            "model_versions",
            "retrain_purposes",
            "created_at",
        ]
        read_only_fields = fields


# --- events ------------------------------------------------------------------------------------------------


class EventSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(
        source="customer.external_id",
        allow_null=True,
        read_only=True,
        help_text="The customer's external id.",
    )
    product = serializers.CharField(source="product_sku", read_only=True, help_text="The SKU as sent.")
    product_id = serializers.IntegerField(
        allow_null=True, read_only=True, help_text="The catalog product, once an SKU matches one."
    )

    class Meta:
        model = Event
        fields = [
            "id",
            "type",
            "customer",
            "session_id",
            "product",
            "product_id",
            "quantity",
            "value",
            "currency",
            "query",
            "order_id",
            "occurred_at",
            "received_at",
            "source",
            "idempotency_key",
            "properties",
        ]
        read_only_fields = fields


class EventInSerializer(serializers.Serializer):
    """One event as sent (documentation only: profiles/event_fields.py checks it)."""

    type = serializers.ChoiceField(choices=EventType.choices)
    customer = serializers.CharField(
        required=False, max_length=200, help_text="The customer's external id; created if new."
    )
    session_id = serializers.CharField(
        required=False,
        max_length=200,
        help_text="Anonymous shopper's session; customer or session_id is needed.",
    )
    product = serializers.CharField(
        required=False,
        max_length=100,
        help_text="SKU. Required for view, add_to_cart, purchase, refund, review and recommendation_click. An "
        "SKU the catalog lacks is stored and linked when the product is created.",
    )
    quantity = serializers.IntegerField(required=False, min_value=1, max_value=MAX_QUANTITY, default=1)
    value = serializers.DecimalField(
        required=False,
        max_digits=14,
        decimal_places=2,
        min_value=0,
        help_text="The line's amount (quantity x unit price), rounded to cents.",
    )
    currency = serializers.CharField(required=False, min_length=3, max_length=3, help_text="e.g. USD.")
    query = serializers.CharField(
        required=False, max_length=500, help_text="Search text (required for search)."
    )
    order_id = serializers.CharField(
        required=False, max_length=100, help_text="Purchases and refunds: the order the line belongs to."
    )
    occurred_at = serializers.DateTimeField(
        required=False,
        help_text="ISO 8601; without an offset it is UTC. Default: when received. At most a day ahead.",
    )
    source = serializers.CharField(required=False, max_length=50, help_text="Default: api.")
    idempotency_key = serializers.CharField(
        required=False,
        max_length=200,
        help_text="An event whose key the merchant already sent (or sent earlier in the batch) is skipped.",
    )
    properties = serializers.DictField(
        required=False, help_text=f"Free-form JSON object, at most {PROPERTIES_MAX_BYTES // 1024} KB."
    )


class EventBatchSerializer(serializers.Serializer):
    events = EventInSerializer(many=True, help_text=f"At most {MAX_EVENTS_PER_REQUEST:,} events.")


class EventErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="0-based position of the event in the batch.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), help_text="Field -> messages."
    )


class IngestReportSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    inserted = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Valid events skipped: their idempotency key was known.")
    rejected = serializers.IntegerField(help_text="Invalid events, listed in errors.")
    unknown_skus = serializers.IntegerField(help_text="Distinct SKUs not in the catalog yet.")
    customers_created = serializers.IntegerField()
    errors = EventErrorSerializer(many=True)
