"""Query-string filters of the customers and events API."""

from django.db.models import Q
from django_filters import rest_framework as filters

from profiles.models import Customer, Event, EventType, RFMSegment


class CustomerFilter(filters.FilterSet):
    search = filters.CharFilter(
        method="filter_search", label="Text in the external id, email or name (case-insensitive)."
    )
    q = filters.CharFilter(method="filter_search", label="Same as `search` (the dashboard's name for it).")
    country = filters.CharFilter(
        field_name="country", lookup_expr="iexact", label="Country (case-insensitive)."
    )
    consent_marketing = filters.BooleanFilter(field_name="consent_marketing")
    consent_profiling = filters.BooleanFilter(field_name="consent_profiling")
    rfm_segment = filters.ChoiceFilter(
        field_name="profile__rfm_segment", choices=RFMSegment.choices, label="Built-in RFM segment."
    )
    segment = filters.CharFilter(method="filter_segment", label="Segment slug: its members only.")

    class Meta:
        model = Customer
        fields = [
            "search",
            "q",
            "country",
            "consent_marketing",
            "consent_profiling",
            "rfm_segment",
            "segment",
        ]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(external_id__icontains=value) | Q(email__icontains=value) | Q(name__icontains=value)
        )

    def filter_segment(self, queryset, name, value):
        # The queryset is the merchant's customers, and a segment's members are its merchant's customers:
        # another merchant's slug matches nothing here.
        return queryset.filter(segment_memberships__segment__slug=value)


class EventFilter(filters.FilterSet):
    customer = filters.CharFilter(field_name="customer__external_id", label="The customer's external id.")
    type = filters.MultipleChoiceFilter(
        field_name="type", choices=EventType.choices, label="Event type (repeat for several)."
    )
    since = filters.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", label="Occurred at or after."
    )
    until = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt", label="Occurred before.")
    session_id = filters.CharFilter(field_name="session_id")
    order_id = filters.CharFilter(field_name="order_id")

    class Meta:
        model = Event
        fields = ["customer", "type", "since", "until", "session_id", "order_id"]
