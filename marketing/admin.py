import json

from django.contrib import admin, messages
from django.db import models
from django.utils.html import format_html

from accounts.services import Actor
from marketing.models import (
    BrandVoice,
    Campaign,
    ContentPiece,
    ContentRevision,
    WebhookDelivery,
    WebhookEndpoint,
)
from marketing.review.services import content_bulk_approve
from storyfront.validators import validate_outbound_url


def _pretty_json(value) -> str:
    # format_html escapes the JSON, so model-written text stays inert.
    return format_html("<pre class='pre-wrap'>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record of what happened: viewable, never added or edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BrandVoice)
class BrandVoiceAdmin(admin.ModelAdmin):
    list_display = ["merchant", "audience", "updated_by_label", "updated_at"]
    list_filter = ["merchant"]
    list_select_related = ["merchant"]
    search_fields = ["merchant__name", "merchant__slug", "audience"]
    raw_id_fields = ["merchant"]
    readonly_fields = ["updated_by_label", "updated_at"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "merchant",
        "channel",
        "status",
        "variants_per_product",
        "publish_at",
        "created_at",
    ]
    list_filter = ["merchant", "channel", "status"]
    list_select_related = ["merchant"]
    search_fields = ["name", "goal", "merchant__name", "merchant__slug"]
    raw_id_fields = ["merchant", "products"]
    readonly_fields = ["status", "last_job", "created_by_label", "created_at", "updated_at"]
    date_hierarchy = "created_at"


class RevisionInline(admin.TabularInline):
    model = ContentRevision
    extra = 0
    fields = ["created_at", "kind", "author_label", "status_before", "fields_before", "fields_after"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ContentPiece)
class ContentPieceAdmin(admin.ModelAdmin):
    """Pieces change state only through the review workflow (guarded, audited); the text itself can be read
    here, and bulk approval goes through the same checks as everywhere else."""

    list_display = [
        "id",
        "campaign",
        "product",
        "variant",
        "status",
        "flagged",
        "approvable",
        "merchant",
        "updated_at",
    ]
    list_filter = ["merchant", "status", "flagged", "approvable", "campaign__channel"]
    list_select_related = ["merchant", "campaign", "product"]
    search_fields = [
        "title",
        "subject",
        "body",
        "product__sku",
        "product__title",
        "campaign__name",
        "merchant__name",
    ]
    raw_id_fields = ["merchant", "campaign", "product", "model_version"]
    fields = [
        "merchant",
        "campaign",
        "product",
        "customer_external_id",
        "variant",
        "status",
        "title",
        "subject",
        "body",
        "hashtags",
        "flagged",
        "approvable",
        "attempts",
        "rejection_reason",
        "reviewed_by_label",
        "model_version",
        "params_pretty",
        "grounding_pretty",
        "quality_pretty",
        "prompt",
        "published_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [RevisionInline]
    actions = ["approve_passing"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The change page is read-only; the bulk action below needs the permission on the changelist.
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="Parameters")
    def params_pretty(self, obj):
        return _pretty_json(obj.params)

    @admin.display(description="Grounding report")
    def grounding_pretty(self, obj):
        return _pretty_json(obj.grounding)

    @admin.display(description="Quality")
    def quality_pretty(self, obj):
        return _pretty_json(obj.quality)

    @admin.action(description="Approve selected pieces that pass every check", permissions=["change"])
    def approve_passing(self, request, queryset):
        actor = Actor.for_user(request.user)
        approved = skipped = 0
        for merchant_id in queryset.order_by().values_list("merchant_id", flat=True).distinct():
            pieces = queryset.filter(merchant_id=merchant_id).select_related("merchant")
            result = content_bulk_approve(merchant=pieces[0].merchant, actor=actor, pieces=pieces)
            approved += len(result.approved)
            skipped += len(result.skipped)
        self.message_user(request, f"Approved {approved} piece(s); skipped {skipped}.", messages.SUCCESS)


@admin.register(ContentRevision)
class ContentRevisionAdmin(ReadOnlyAdmin):
    list_display = ["id", "piece", "kind", "author_label", "status_before", "merchant", "created_at"]
    list_filter = ["merchant", "kind"]
    list_select_related = ["merchant", "piece", "piece__campaign", "piece__product"]
    search_fields = ["author_label", "piece__title", "piece__body", "merchant__name", "merchant__slug"]
    readonly_fields = [
        "merchant",
        "piece",
        "kind",
        "author",
        "author_label",
        "status_before",
        "fields_before",
        "fields_after",
        "created_at",
    ]
    date_hierarchy = "created_at"

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "merchant", "active", "events", "created_at"]
    list_filter = ["merchant", "active"]
    list_select_related = ["merchant"]
    search_fields = ["url", "description", "merchant__name", "merchant__slug"]
    raw_id_fields = ["merchant"]
    exclude = ["secret"]  # shown once on creation; never displayed again
    formfield_overrides = {models.URLField: {"assume_scheme": "https", "validators": [validate_outbound_url]}}
    readonly_fields = ["created_at"]

    def has_add_permission(self, request):
        return False  # endpoints get their secret from webhook_endpoint_create (API); admin only manages them


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "event",
        "endpoint",
        "piece",
        "status",
        "status_code",
        "attempts",
        "next_retry_at",
        "delivered_at",
        "merchant",
        "created_at",
    ]
    list_filter = ["merchant", "status", "event"]
    list_select_related = ["merchant", "endpoint", "piece", "piece__campaign", "piece__product"]
    search_fields = ["idempotency_key", "endpoint__url", "merchant__name", "merchant__slug"]
    fields = [
        "merchant",
        "endpoint",
        "piece",
        "event",
        "idempotency_key",
        "status",
        "status_code",
        "attempts",
        "next_retry_at",
        "response_excerpt",
        "delivered_at",
        "created_at",
        "payload_pretty",
        "attempt_log_pretty",
    ]
    readonly_fields = fields
    date_hierarchy = "created_at"

    @admin.display(description="Payload")
    def payload_pretty(self, obj):
        return _pretty_json(obj.payload)

    @admin.display(description="Attempts")
    def attempt_log_pretty(self, obj):
        return _pretty_json(obj.attempt_log)
