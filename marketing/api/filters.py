"""Query-string filters for the content list (the review queue)."""

from django_filters import rest_framework as filters

from marketing.models import Channel, ContentPiece


class ContentFilter(filters.FilterSet):
    campaign = filters.NumberFilter(field_name="campaign_id", label="Campaign id.")
    status = filters.MultipleChoiceFilter(
        choices=ContentPiece.Status.choices, label="Status (repeat for several)."
    )
    channel = filters.ChoiceFilter(field_name="campaign__channel", choices=Channel.choices)
    flagged = filters.BooleanFilter(
        field_name="flagged", label="Failed a check after the last retry or edit."
    )
    approvable = filters.BooleanFilter(field_name="approvable", label="Nothing blocks approval.")
    product = filters.NumberFilter(field_name="product_id", label="Product id.")
    customer = filters.CharFilter(field_name="customer_external_id", label="Customer external id.")

    class Meta:
        model = ContentPiece
        fields = ["campaign", "status", "channel", "flagged", "approvable", "product", "customer"]
