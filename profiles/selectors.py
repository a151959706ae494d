"""Reads for profiles, always filtered by merchant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncDate, TruncWeek
from django.utils import timezone

from accounts.models import Merchant
from accounts.selectors import object_get_or_404
from catalog.models import Product
from profiles.models import Customer, CustomerProfile, Event, RFMSegment, Segment, SegmentMembership

# The customer list's sort orders: key -> (label, ordering). Customers with no value sort last.
CUSTOMER_SORTS: dict[str, tuple[str, tuple]] = {
    "last_seen": ("Last seen", (F("last_seen_at").desc(nulls_last=True), "-id")),
    "ltv": ("Lifetime value", (F("profile__lifetime_value").desc(nulls_last=True), "-id")),
    "recency": ("Most recent purchase", (F("profile__recency_days").asc(nulls_last=True), "-id")),
    "first_seen": ("Newest customers", (F("first_seen_at").desc(nulls_last=True), "-created_at", "-id")),
}
# Consent filters: key -> (label, condition).
CUSTOMER_CONSENT_FILTERS: dict[str, tuple[str, Q]] = {
    "marketing": ("Marketing: opted in", Q(consent_marketing=True)),
    "no_marketing": ("Marketing: not opted in", Q(consent_marketing=False)),
    "no_profiling": ("Refused profiling", Q(consent_profiling=False)),
}


def customer_list(
    *,
    merchant: Merchant | None,
    search: str = "",
    segment: Segment | None = None,
    rfm_segment: str = "",
    consent: str = "",
    sort: str = "",
) -> QuerySet[Customer]:
    """The merchant's customers. `segment` must be one of the merchant's segments; `rfm_segment` a
    `RFMSegment` value; `consent` and `sort` keys of CUSTOMER_CONSENT_FILTERS and CUSTOMER_SORTS (unknown
    keys are ignored)."""
    qs = Customer.objects.filter(merchant=merchant).select_related("profile")
    search = (search or "").strip()
    if search:
        qs = qs.filter(
            Q(external_id__icontains=search) | Q(email__icontains=search) | Q(name__icontains=search)
        )
    if segment is not None:
        qs = qs.filter(segment_memberships__segment=segment)
    if rfm_segment:
        qs = qs.filter(profile__rfm_segment=rfm_segment, consent_profiling=True)
    if consent in CUSTOMER_CONSENT_FILTERS:
        qs = qs.filter(CUSTOMER_CONSENT_FILTERS[consent][1])
    if sort in CUSTOMER_SORTS:
        qs = qs.order_by(*CUSTOMER_SORTS[sort][1])
    return qs


def customer_by_external_id(*, merchant: Merchant | None, external_id: str) -> Customer | None:
    return customer_list(merchant=merchant).filter(external_id=external_id).first()


def customer_get(*, merchant: Merchant, customer_id) -> Customer:
    """The merchant's customer with this id (profile joined), else 404."""
    return object_get_or_404(customer_list(merchant=merchant), customer_id, "customer")


def customer_profile(*, customer: Customer) -> CustomerProfile | None:
    """The computed profile, or None when there is none yet or the customer refused profiling (a profile left
    over from before the refusal is never shown or used)."""
    if not customer.consent_profiling:
        return None
    try:
        return customer.profile
    except CustomerProfile.DoesNotExist:
        return None


def event_list(
    *,
    merchant: Merchant | None,
    customer: Customer | None = None,
    types: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Event]:
    qs = Event.objects.filter(merchant=merchant)
    if customer is not None:
        qs = qs.filter(customer=customer)
    if types:
        qs = qs.filter(type__in=types)
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    return qs.select_related("customer", "product")


def segment_choice_list(*, merchant: Merchant) -> QuerySet[Segment]:
    """The merchant's segments (built-in first, then custom, by name), for filters."""
    return Segment.objects.filter(merchant=merchant).order_by("kind", "name", "id")


def segment_by_slug(*, merchant: Merchant, slug: str) -> Segment | None:
    return Segment.objects.filter(merchant=merchant, slug=slug).first() if slug else None


def customer_segment_list(*, merchant: Merchant, customer: Customer) -> list[Segment]:
    """The segments the customer is a member of, by name."""
    memberships = SegmentMembership.objects.filter(merchant=merchant, customer=customer).select_related(
        "segment"
    )
    return sorted((m.segment for m in memberships), key=lambda s: (s.kind, s.name.lower(), s.id))


def _day_range(start: date, days: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(days)]


def event_counts_by_day(
    *, merchant: Merchant, days: int = 30, now: datetime | None = None
) -> list[tuple[date, int]]:
    """Events per local calendar day over the last `days` days (today included), zeros filled in."""
    today = timezone.localdate(now or timezone.now())
    start = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(start, datetime.min.time()))
    rows = (
        Event.objects.filter(merchant=merchant, occurred_at__gte=since)
        .annotate(day=TruncDate("occurred_at"))
        .values("day")
        .annotate(n=Count("id"))
    )
    counts = {row["day"]: row["n"] for row in rows}
    return [(day, counts.get(day, 0)) for day in _day_range(start, days)]


def customer_events_by_week(
    *, merchant: Merchant, customer: Customer, weeks: int = 26, now: datetime | None = None
) -> list[tuple[date, int]]:
    """The customer's events per week (weeks start on Monday) over the last `weeks` weeks, zeros filled in."""
    today = timezone.localdate(now or timezone.now())
    start = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    since = timezone.make_aware(datetime.combine(start, datetime.min.time()))
    rows = (
        Event.objects.filter(merchant=merchant, customer=customer, occurred_at__gte=since)
        .annotate(week=TruncWeek("occurred_at"))
        .values("week")
        .annotate(n=Count("id"))
    )
    counts: dict[date, int] = {}
    for row in rows:
        week = row["week"]
        week = timezone.localdate(week) if isinstance(week, datetime) else week
        counts[week] = counts.get(week, 0) + row["n"]
    return [(week, counts.get(week, 0)) for week in (start + timedelta(weeks=i) for i in range(weeks))]


@dataclass(frozen=True)
class CustomerFigures:
    """Customers at a glance, for the Overview."""

    total: int
    new_30_days: int  # first seen (or, never seen, created) in the last 30 days
    events_by_day: list[tuple[date, int]]
    top_segments: list[Segment]

    @property
    def events_30_days(self) -> int:
        return sum(n for _, n in self.events_by_day)

    @property
    def any(self) -> bool:
        return bool(self.total or self.events_30_days)


def customer_figures(
    *, merchant: Merchant, now: datetime | None = None, segments: int = 8
) -> CustomerFigures:
    """Three queries: one aggregate over customers, events per day, and the largest segments."""
    now = now or timezone.now()
    since = now - timedelta(days=30)
    counts = Customer.objects.filter(merchant=merchant).aggregate(
        total=Count("id"),
        new=Count(
            "id",
            filter=Q(first_seen_at__gte=since) | Q(first_seen_at__isnull=True, created_at__gte=since),
        ),
    )
    largest = Segment.objects.filter(merchant=merchant, member_count__gt=0).order_by("-member_count", "name")
    return CustomerFigures(
        total=counts["total"],
        new_30_days=counts["new"],
        events_by_day=event_counts_by_day(merchant=merchant, days=30, now=now),
        top_segments=list(largest[:segments]),
    )


def rfm_segment_counts(*, merchant: Merchant) -> dict[str, int]:
    """{RFM segment value: number of profiled customers in it}, every segment present."""
    counts = dict.fromkeys(RFMSegment.values, 0)
    rows = (
        CustomerProfile.objects.filter(merchant=merchant, customer__consent_profiling=True)
        .exclude(rfm_segment="")
        .values("rfm_segment")
        .annotate(n=Count("customer_id"))
    )
    for row in rows:
        counts[row["rfm_segment"]] = row["n"]
    return counts


def active_products_by_id(*, merchant: Merchant, product_ids: list[int]) -> dict[int, Product]:
    """The merchant's active products among `product_ids`, by id."""
    products = Product.objects.filter(merchant=merchant, is_active=True, pk__in=product_ids)
    return {product.pk: product for product in products}
