from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from marketing.campaigns.services import MAX_CAMPAIGN_PRODUCTS
from marketing.models import (
    MAX_VARIANTS,
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
from profiles.models import Segment
from storyfront.validators import validate_outbound_url


class ProductFilterSerializer(serializers.Serializer):
    """Which active products a campaign covers when it lists none explicitly."""

    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Words that must all appear in the SKU, title, brand or description.",
    )
    category = serializers.CharField(
        required=False, allow_blank=True, max_length=220, help_text="Category slug."
    )
    brand = serializers.CharField(required=False, allow_blank=True, max_length=200)
    min_price = serializers.DecimalField(required=False, allow_null=True, max_digits=12, decimal_places=2)
    max_price = serializers.DecimalField(required=False, allow_null=True, max_digits=12, decimal_places=2)

    def to_internal_value(self, data):
        unknown = set(data) - set(self.fields) if isinstance(data, dict) else set()
        if unknown:
            raise serializers.ValidationError(f"Unknown key(s): {', '.join(sorted(map(str, unknown)))}.")
        values = super().to_internal_value(data)
        return {k: (str(v) if k.endswith("_price") else v) for k, v in values.items() if v not in (None, "")}

    def to_representation(self, instance):
        return {k: v for k, v in super().to_representation(instance).items() if v is not None}


class ProductIdsField(serializers.ListField):
    """Written as a list of product ids, read from the campaign's products (prefetched by the selector)."""

    def to_representation(self, data):
        return sorted(product.pk for product in data.all())


@extend_schema_field({"type": "string", "nullable": True, "example": "champions"})
class SegmentRefField(serializers.Field):
    """A customer segment of the requesting merchant, written by slug or id and read as its slug."""

    default_error_messages = {
        "unknown": "No such segment for this merchant.",
        "invalid": "Give a slug or an id.",
    }

    def to_internal_value(self, data):
        if data in ("", None):
            return None
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        segments = Segment.objects.filter(merchant=getattr(self.context.get("view"), "merchant", None))
        text = str(data).strip()[:140]
        found = segments.filter(slug=text).first()
        if found is None and text.isdigit() and len(text) < 19:
            found = segments.filter(pk=int(text)).first()
        if found is None:
            self.fail("unknown")
        return found

    def to_representation(self, value):
        return value.slug


class CampaignSerializer(serializers.ModelSerializer):
    products = ProductIdsField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=MAX_CAMPAIGN_PRODUCTS,
        help_text="Ids of this merchant's products. Either this or product_filter is required.",
    )
    product_filter = ProductFilterSerializer(required=False)
    channel = serializers.ChoiceField(choices=Channel.choices)
    length = serializers.ChoiceField(choices=Length.choices, required=False)
    variants_per_product = serializers.IntegerField(min_value=1, max_value=MAX_VARIANTS, required=False)
    audience = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Who the copy is for, in words (e.g. 'lapsed customers'); passed to the prompt.",
    )
    target_segment = SegmentRefField(
        required=False,
        allow_null=True,
        help_text="Slug (or id) of one of this merchant's customer segments; null for everyone. "
        "Read as the slug.",
    )
    status = serializers.ChoiceField(source="current_status", choices=Campaign.Status.choices, read_only=True)
    last_job = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="Latest generation job; null before the first."
    )
    piece_count = serializers.IntegerField(read_only=True)
    in_review_count = serializers.IntegerField(read_only=True)
    approved_count = serializers.IntegerField(read_only=True)
    published_count = serializers.IntegerField(read_only=True)
    flagged_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
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
            "status",
            "last_job",
            "piece_count",
            "in_review_count",
            "approved_count",
            "published_count",
            "flagged_count",
            "created_by_label",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status", "created_by_label", "created_at", "updated_at"]
        extra_kwargs = {
            "language": {"help_text": "Language code of the copy, e.g. en."},
            "publish_at": {"help_text": "From this time on, approved pieces are published automatically."},
        }


class ProductBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    title = serializers.CharField()
    brand = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()


class ContentPieceSerializer(serializers.ModelSerializer):
    campaign_name = serializers.CharField(source="campaign.name", read_only=True)
    channel = serializers.ChoiceField(source="campaign.channel", choices=Channel.choices, read_only=True)
    product = ProductBriefSerializer(read_only=True)
    model_version = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    # No `default`: DRF skips a defaulted field on partial updates, so PATCH answers lacked it.
    model_version_name = serializers.CharField(source="model_version.name", read_only=True, allow_null=True)

    class Meta:
        model = ContentPiece
        fields = [
            "id",
            "campaign",
            "campaign_name",
            "channel",
            "product",
            "customer_external_id",
            "variant",
            "title",
            "subject",
            "body",
            "hashtags",
            "status",
            "flagged",
            "approvable",
            "grounding",
            "quality",
            "attempts",
            "model_version",
            "model_version_name",
            "params",
            "prompt",
            "rejection_reason",
            "reviewed_by_label",
            "published_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "grounding": {
                "help_text": "Grounding report: unsupported claims (with character spans), channel "
                "violations, degenerate output, banned words, passed/approvable."
            },
            "approvable": {"help_text": "False while the grounding report blocks approval; edit the piece."},
        }


class ContentEditSerializer(serializers.Serializer):
    """Only the channel's fields may be set (an email has subject and body, an SMS only body, ...)."""

    title = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=500)
    subject = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=500)
    body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=5000)
    hashtags = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=500)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give at least one of title, subject, body, hashtags.")
        return attrs


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, help_text="Why the piece is rejected (required).")


class BulkApproveSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=1000,
        help_text="Pieces to approve.",
    )
    campaign = serializers.IntegerField(
        required=False, min_value=1, help_text="Or: every piece of this campaign that is in review."
    )

    def validate(self, attrs):
        if bool(attrs.get("ids")) == bool(attrs.get("campaign")):
            raise serializers.ValidationError({"ids": ["Give either `ids` or `campaign`."]})
        return attrs


class BulkApproveResultSerializer(serializers.Serializer):
    approved = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.DictField(
        child=serializers.CharField(), help_text="Piece id -> why it was not approved."
    )


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "json"], default="json")
    campaign = serializers.IntegerField(required=False, min_value=1)
    # Plain strings (not an enum) so the schema keeps one "status" enum per model.
    status = serializers.CharField(required=False, help_text="`approved` or `published`; default both.")

    def validate_status(self, value):
        if value not in ("approved", "published"):
            raise serializers.ValidationError("Only approved or published pieces are exported.")
        return value


class ContentRevisionSerializer(serializers.ModelSerializer):
    status_before = serializers.CharField(read_only=True, help_text="The piece's status before this change.")

    class Meta:
        model = ContentRevision
        fields = [
            "id",
            "kind",
            "fields_before",
            "fields_after",
            "status_before",
            "author_label",
            "created_at",
        ]
        read_only_fields = fields


class BrandVoiceSerializer(serializers.ModelSerializer):
    tone_words = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=20, required=False
    )
    do_list = serializers.ListField(
        child=serializers.CharField(max_length=2000), max_length=30, required=False
    )
    dont_list = serializers.ListField(
        child=serializers.CharField(max_length=2000), max_length=30, required=False
    )
    banned_words = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=200, required=False
    )
    examples = serializers.ListField(
        child=serializers.CharField(max_length=2000), max_length=10, required=False
    )
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Null until first set.")

    class Meta:
        model = BrandVoice
        fields = [
            "tone_words",
            "audience",
            "do_list",
            "dont_list",
            "banned_words",
            "examples",
            "updated_by_label",
            "updated_at",
        ]
        read_only_fields = ["updated_by_label", "updated_at"]


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        required=False,
        help_text="Events to send; empty means all.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "active", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_url(self, value: str) -> str:
        validate_outbound_url(value)
        return value


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="Signing secret for X-Storyfront-Signature. Shown only in this response."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event = serializers.CharField(read_only=True, help_text="content.published or content.unpublished.")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "piece",
            "event",
            "idempotency_key",
            "status",
            "status_code",
            "attempts",
            "attempt_log",
            "next_retry_at",
            "response_excerpt",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields
