"""Hand-made customers, profiles and events for the segment tests."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from profiles.models import CustomerProfile, Event
from tests.factories import CustomerFactory


def customer(merchant, external_id, *, profile=None, **fields):
    """A customer of `merchant`; `profile` (a dict of CustomerProfile fields) gives them a profile."""
    made = CustomerFactory(merchant=merchant, external_id=external_id, **fields)
    if profile is not None:
        values = dict(profile)
        for name in ("monetary", "lifetime_value"):
            if name in values:
                values[name] = Decimal(str(values[name]))
        CustomerProfile.objects.create(customer=made, merchant=merchant, **values)
    return made


def events(customer, event_type, *days_ago, merchant=None):
    """One event of `event_type` for each number of days ago."""
    now = timezone.now()
    Event.objects.bulk_create(
        Event(
            merchant=merchant or customer.merchant,
            customer=customer,
            type=event_type,
            occurred_at=now - timedelta(days=days, minutes=1),
        )
        for days in days_ago
    )


def ids(queryset):
    return sorted(queryset.values_list("external_id", flat=True))
