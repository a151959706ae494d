"""Rows for the customer pages' tests: profiles and segments made directly (the worker that computes them is
tested on its own), product vectors for "nearest products"."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from chat.models import ProductEmbedding
from profiles.models import CustomerProfile, Segment, SegmentMembership
from tests.factories import CustomerFactory


def make_profile(customer, **fields) -> CustomerProfile:
    defaults = {
        "merchant": customer.merchant,
        "recency_days": 12,
        "frequency": 6,
        "monetary": Decimal("412.50"),
        "r_score": 4,
        "f_score": 5,
        "m_score": 3,
        "rfm_segment": "champions",
        "lifetime_value": Decimal("412.50"),
        "computed_at": timezone.now(),
    }
    defaults.update(fields)
    return CustomerProfile.objects.create(customer=customer, **defaults)


def make_segment(merchant, name, customers=(), kind=Segment.Kind.CUSTOM, slug=None) -> Segment:
    segment = Segment.objects.create(
        merchant=merchant,
        name=name,
        slug=slug or name.lower().replace(" ", "-"),
        kind=kind,
        member_count=len(customers),
        computed_at=timezone.now(),
    )
    SegmentMembership.objects.bulk_create(
        SegmentMembership(segment=segment, customer=c, merchant=merchant) for c in customers
    )
    return segment


def embed(product, vector) -> ProductEmbedding:
    return ProductEmbedding.objects.create(
        product=product, merchant=product.merchant, vector=list(vector), model_name="test", text_hash="x"
    )


def seen_customers(merchant, count, *, start_days_ago=1, **fields):
    """`count` customers last seen a day apart, the first most recently."""
    now = timezone.now()
    return [
        CustomerFactory(
            merchant=merchant,
            last_seen_at=now - timedelta(days=start_days_ago + i),
            first_seen_at=now - timedelta(days=start_days_ago + i + 100),
            **fields,
        )
        for i in range(count)
    ]
