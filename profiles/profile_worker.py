"""Computing customer profiles on the worker (default queue; no model is loaded, numpy only).

Two entry points share one computation. `update_profiles` (queued by ingestion for the customers who just
had events) recomputes those customers' profiles in full from their events, scoring RFM against the cut
points of the last full rebuild. `rebuild_profiles` (nightly from beat, 02:30, or on demand) first derives
the merchant's model from every consenting customer's purchases (RFM cut points, price bands, the typical
gap to a second order, the churn regression) and stores it in `ProfileSettings.rfm_cutoffs`, then recomputes
every profile the same way; with an unchanged model both give the same profile.

Work is done per merchant and in chunks of ``CHUNK`` customers: one query for a chunk's events, one for the
products and one for the product vectors not seen yet, one upsert; the number of queries grows with the
number of chunks, never with customers or events. Only customers with `consent_profiling` get a profile
and only their purchases shape the merchant's model; a profile whose customer refused is deleted.
The formulas are in profiles/rfm.py, profiles/affinity.py and profiles/predict.py.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import groupby

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import Product
from chat.models import ProductEmbedding
from profiles.affinity import (
    ProductFacts,
    affinities,
    colour_of,
    interest_vector,
    price_band_edges,
    product_weights,
    unit,
)
from profiles.models import Customer, CustomerProfile, Event, ProfileSettings
from profiles.predict import (
    HORIZON_DAYS,
    churn_risk,
    features_at,
    next_purchase_window,
    population_gap,
    train_churn_model,
    training_set,
    typical_interval,
)
from profiles.rfm import PURCHASE, REFUND, purchase_history, rfm_cutoffs, rfm_scores, rfm_segment, rfm_values

logger = logging.getLogger(__name__)

CHUNK = 500
CENT = Decimal("0.01")
PROFILE_FIELDS = [
    "merchant",
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


def rebuild_all_merchants(*, now: datetime | None = None) -> int:
    """Rebuilds every merchant that has customers; one merchant's failure is logged and the rest go on."""
    total = 0
    merchant_ids = Customer.objects.order_by().values_list("merchant_id", flat=True).distinct()
    for merchant_id in sorted(set(merchant_ids)):
        try:
            total += rebuild_profiles(merchant_id, now=now)
        except Exception:
            logger.exception("Profile rebuild failed for merchant %s", merchant_id)
    return total


def rebuild_profiles(merchant_id: int, *, now: datetime | None = None) -> int:
    """Recomputes the merchant's model and every consenting customer's profile; returns profiles written."""
    now = now or timezone.now()
    settings, _ = ProfileSettings.objects.get_or_create(merchant_id=merchant_id)
    consenting = _consenting_ids(merchant_id)
    model = merchant_model(merchant_id, consenting, now=now)
    ProfileSettings.objects.filter(pk=settings.pk).update(rfm_cutoffs=model, rebuilt_at=now)
    CustomerProfile.objects.filter(merchant_id=merchant_id).filter(
        Q(customer__consent_profiling=False) | ~Q(customer__merchant_id=merchant_id)
    ).delete()
    written = _compute_and_store(
        merchant_id, sorted(consenting), model, half_life=settings.affinity_half_life_days, now=now
    )
    _recompute_segments(merchant_id)
    return written


def update_profiles(merchant_id: int, customer_ids: list[int], *, now: datetime | None = None) -> int:
    """Recomputes the given customers' profiles (ids of other merchants are ignored); returns profiles written."""
    now = now or timezone.now()
    wanted = sorted(set(customer_ids))
    rows = [
        row
        for start in range(0, len(wanted), CHUNK)
        for row in Customer.objects.filter(merchant_id=merchant_id, id__in=wanted[start : start + CHUNK])
        .order_by()
        .values_list("id", "consent_profiling")
    ]
    consenting = sorted(cid for cid, consent in rows if consent)
    refused = [cid for cid, consent in rows if not consent]
    if refused:
        CustomerProfile.objects.filter(merchant_id=merchant_id, customer_id__in=refused).delete()
    if not consenting:
        return 0
    settings, _ = ProfileSettings.objects.get_or_create(merchant_id=merchant_id)
    model = settings.rfm_cutoffs
    if not model.get("computed_at"):  # never rebuilt: derive the model now, as the rebuild would
        model = merchant_model(merchant_id, _consenting_ids(merchant_id), now=now)
        ProfileSettings.objects.filter(pk=settings.pk).update(rfm_cutoffs=model)
    return _compute_and_store(
        merchant_id, consenting, model, half_life=settings.affinity_half_life_days, now=now
    )


def merchant_model(merchant_id: int, consenting: set[int], *, now: datetime) -> dict:
    """RFM cut points, price band edges, typical second-order gap and churn model, as stored JSON."""
    histories = _purchase_histories(merchant_id, consenting)
    orders = [history.orders for history in histories]
    population = population_gap(orders)
    features, labels = training_set(
        orders,
        cut=now - timedelta(days=HORIZON_DAYS),
        horizon_days=HORIZON_DAYS,
        typical_interval_days=typical_interval(population),
    )
    prices = (
        Product.objects.filter(merchant_id=merchant_id, is_active=True)
        .order_by()
        .values_list("price", flat=True)
    )
    return {
        **rfm_cutoffs(rfm_values(h, now=now) for h in histories if h.has_purchased),
        "price_bands": price_band_edges(prices),
        "second_order_gap": population,
        "churn_model": train_churn_model(features, labels),
        "computed_at": now.isoformat(),
    }


def _consenting_ids(merchant_id: int) -> set[int]:
    return set(
        Customer.objects.filter(merchant_id=merchant_id, consent_profiling=True)
        .order_by()
        .values_list("id", flat=True)
    )


def _purchase_histories(merchant_id: int, consenting: set[int]) -> list:
    rows = (
        Event.objects.filter(merchant_id=merchant_id, type__in=[PURCHASE, REFUND], customer_id__isnull=False)
        .order_by("customer_id")
        .values_list("customer_id", "type", "order_id", "value", "occurred_at")
        .iterator(chunk_size=10_000)
    )
    histories = []
    for customer_id, group in groupby(rows, key=lambda row: row[0]):
        if customer_id in consenting:
            histories.append(purchase_history(row[1:] for row in group))
    return histories


class _Products:
    """Facts and unit vectors of the merchant's products, loaded as events mention them."""

    def __init__(self, merchant_id: int):
        self.merchant_id = merchant_id
        self.facts: dict[int, ProductFacts] = {}
        self.vectors: dict = {}
        self.seen: set[int] = set()

    def load(self, product_ids: set[int]) -> None:
        missing = sorted(product_ids - self.seen)
        for start in range(0, len(missing), CHUNK):
            ids = missing[start : start + CHUNK]
            products = (
                Product.objects.filter(merchant_id=self.merchant_id, id__in=ids)
                .order_by()
                .values_list("id", "category__name", "brand", "price", "attributes")
            )
            for pid, category, brand, price, attributes in products:
                self.facts[pid] = ProductFacts(
                    category=category or "",
                    brand=(brand or "").strip(),
                    colour=colour_of(attributes),
                    price=float(price) if price is not None else None,
                )
            embeddings = ProductEmbedding.objects.filter(
                merchant_id=self.merchant_id, product_id__in=ids
            ).values_list("product_id", "vector")
            for pid, vector in embeddings:
                array = unit(vector)
                if array is not None:
                    self.vectors[pid] = array
        self.seen.update(missing)


def _compute_and_store(
    merchant_id: int, customer_ids: list[int], model: dict, *, half_life: float, now: datetime
) -> int:
    products = _Products(merchant_id)
    written = 0
    for start in range(0, len(customer_ids), CHUNK):
        chunk = customer_ids[start : start + CHUNK]
        events: dict[int, list] = defaultdict(list)
        rows = (
            Event.objects.filter(merchant_id=merchant_id, customer_id__in=chunk)
            .order_by()
            .values_list("customer_id", "type", "product_id", "order_id", "value", "occurred_at")
        )
        for row in rows:
            events[row[0]].append(row[1:])
        products.load({row[1] for rows_ in events.values() for row in rows_ if row[1] is not None})
        profiles = [
            _profile(merchant_id, cid, events.get(cid, []), model, products, half_life=half_life, now=now)
            for cid in chunk
        ]
        written += _upsert(merchant_id, profiles)
    return written


def _profile(
    merchant_id: int, customer_id: int, events: list, model: dict, products: _Products, *, half_life, now
) -> CustomerProfile:
    """``events``: (type, product_id, order_id, value, occurred_at) of one customer."""
    history = purchase_history(
        (kind, order_id, value, at) for kind, _, order_id, value, at in events if kind in (PURCHASE, REFUND)
    )
    rfm = rfm_values(history, now=now)
    r, f, m = rfm_scores(rfm, model)
    weights = product_weights(
        ((kind, pid, at) for kind, pid, _, _, at in events), now=now, half_life_days=half_life
    )
    population = model.get("second_order_gap") or {}
    start, end, window = next_purchase_window(history.orders, population=population)
    features = features_at(history.orders, now, typical_interval_days=typical_interval(population))
    risk, churn = churn_risk(
        features, model=model.get("churn_model"), repeat_rate=population.get("repeat_rate")
    )
    monetary = rfm.monetary.quantize(CENT)
    return CustomerProfile(
        customer_id=customer_id,
        merchant_id=merchant_id,
        recency_days=rfm.recency_days,
        frequency=rfm.frequency,
        monetary=monetary,
        r_score=r,
        f_score=f,
        m_score=m,
        rfm_segment=rfm_segment(r, f, frequency=rfm.frequency, purchased=history.has_purchased),
        lifetime_value=monetary,
        affinities=affinities(weights, products.facts, band_edges=model.get("price_bands") or []),
        interest_vector=interest_vector(weights, products.vectors),
        next_purchase_from=start,
        next_purchase_to=end,
        churn_risk=risk,
        explanation={"churn": churn, "next_purchase": window},
        events_count=len(events),
        last_event_at=max((event[4] for event in events), default=None),
        computed_at=now,
    )


def _upsert(merchant_id: int, profiles: list[CustomerProfile]) -> int:
    """Writes the profiles of customers who still exist and still consent (checked again just before, so a
    customer erased or withdrawn meanwhile gets no profile back; a deletion in between is retried once)."""
    for attempt in (1, 2):
        live = set(
            Customer.objects.filter(
                merchant_id=merchant_id, consent_profiling=True, id__in=[p.customer_id for p in profiles]
            )
            .order_by()
            .values_list("id", flat=True)
        )
        keep = [p for p in profiles if p.customer_id in live]
        try:
            with transaction.atomic():
                CustomerProfile.objects.bulk_create(
                    keep, update_conflicts=True, unique_fields=["customer"], update_fields=PROFILE_FIELDS
                )
            return len(keep)
        except IntegrityError:
            if attempt == 2:
                raise
    return 0


def _recompute_segments(merchant_id: int) -> None:
    try:
        from profiles.segments import recompute_segments
    except ModuleNotFoundError as error:  # segments arrive with their own part of the issue
        if error.name != "profiles.segments":
            raise
        return
    recompute_segments(merchant_id=merchant_id)
