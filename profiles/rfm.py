"""RFM arithmetic, with no Django: a customer's purchase history net of refunds, quintile scores among the
merchant's purchasing customers, and the built-in RFM segment.

Orders: purchase events sharing an `order_id` are one order (a purchase without one is an order of its own);
its net value is the sum of its purchase values minus the refunds carrying the same order id. A refund whose
order id matches none of the customer's purchases (an export that gives cancellations their own number) only
lowers the monetary value. An order whose refunds cancel it entirely (net value <= 0) is not counted.
Refund values are taken as positive amounts whatever their sign, so both conventions net the same way.

Scores: each customer's value gets the mid-rank percentile of the population, p = (below + equal / 2) / n,
and the score 1 + floor(5 p), capped at 5 (recency: fewer days is better, so it is ranked reversed). Ties
share one score, one customer alone scores 3, two score 2 and 4, and a value most customers share (one
order) sits at its middle rank instead of being pushed to 1 or 5. The full rebuild stores, per measure, the
least good value that still earns each score 2-5 (`score_cutoffs`); incremental updates score against those,
which reproduces the rebuild's scores exactly for the same values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

PURCHASE = "purchase"
REFUND = "refund"
MEASURES = ("recency", "frequency", "monetary")
ZERO = Decimal("0")


@dataclass(frozen=True)
class Order:
    at: datetime  # the order's first purchase event
    value: Decimal  # purchases minus the refunds with the same order id


@dataclass
class PurchaseHistory:
    orders: list[Order] = field(default_factory=list)  # counted orders, oldest first
    monetary: Decimal = ZERO
    last_purchase_at: datetime | None = None
    purchase_events: int = 0

    @property
    def frequency(self) -> int:
        return len(self.orders)

    @property
    def has_purchased(self) -> bool:
        return self.purchase_events > 0


@dataclass(frozen=True)
class RFM:
    recency_days: int | None
    frequency: int
    monetary: Decimal


@dataclass
class _OrderTotal:
    at: datetime
    value: Decimal = ZERO
    refunded: bool = False


def purchase_history(rows: Iterable[tuple[str, str, Decimal | None, datetime]]) -> PurchaseHistory:
    """``rows``: (type, order_id, value, occurred_at) of one customer's purchase and refund events, any order."""
    totals: dict[tuple[str, object], _OrderTotal] = {}
    refunds: dict[str, Decimal] = {}
    unmatched_refunds = ZERO
    history = PurchaseHistory()
    for index, (kind, order_id, value, at) in enumerate(rows):
        amount = abs(value) if value is not None else ZERO
        if kind == PURCHASE:
            history.purchase_events += 1
            if history.last_purchase_at is None or at > history.last_purchase_at:
                history.last_purchase_at = at
            total = totals.setdefault(("order", order_id) if order_id else ("line", index), _OrderTotal(at))
            total.at = min(total.at, at)
            total.value += amount
        elif kind == REFUND and order_id:
            refunds[order_id] = refunds.get(order_id, ZERO) + amount
        elif kind == REFUND:
            unmatched_refunds += amount
    for order_id, amount in refunds.items():
        total = totals.get(("order", order_id))
        if total is None:
            unmatched_refunds += amount
        else:
            total.value -= amount
            total.refunded = True
    history.orders = sorted(
        (Order(at=t.at, value=t.value) for t in totals.values() if not t.refunded or t.value > ZERO),
        key=lambda order: order.at,
    )
    history.monetary = sum((t.value for t in totals.values()), ZERO) - unmatched_refunds
    return history


def rfm_values(history: PurchaseHistory, *, now: datetime) -> RFM:
    recency = None
    if history.last_purchase_at is not None:
        recency = max(0, (now - history.last_purchase_at).days)
    return RFM(recency_days=recency, frequency=history.frequency, monetary=history.monetary)


def _scores_by_value(values: list[float]) -> dict[float, int]:
    """Mid-rank quintile score of each distinct value (higher is better)."""
    ordered = sorted(values)
    n = len(ordered)
    scores: dict[float, int] = {}
    below = 0
    i = 0
    while i < n:
        j = i
        while j < n and ordered[j] == ordered[i]:
            j += 1
        equal = j - i
        scores[ordered[i]] = min(5, 1 + (5 * (2 * below + equal)) // (2 * n))
        below += equal
        i = j
    return scores


def score_cutoffs(values: Iterable[float], *, higher_is_better: bool = True) -> list[float | None]:
    """For scores 2, 3, 4, 5: the least good population value with at least that score (None: nobody has it).
    Recency (``higher_is_better=False``) gives the largest number of days that still earns each score."""
    sign = 1 if higher_is_better else -1
    scores = _scores_by_value([sign * float(v) for v in values])
    cutoffs: list[float | None] = []
    for wanted in range(2, 6):
        qualifying = [value for value, score in scores.items() if score >= wanted]
        cutoffs.append(sign * min(qualifying) if qualifying else None)
    return cutoffs


def score(value: float, cutoffs: list[float | None], *, higher_is_better: bool = True) -> int:
    if higher_is_better:
        return 1 + sum(1 for cut in cutoffs if cut is not None and value >= cut)
    return 1 + sum(1 for cut in cutoffs if cut is not None and value <= cut)


def rfm_cutoffs(population: Iterable[RFM]) -> dict:
    """The stored cut points, from the RFM values of the merchant's purchasing customers."""
    people = [rfm for rfm in population if rfm.recency_days is not None]
    return {
        "recency": score_cutoffs([p.recency_days for p in people], higher_is_better=False),
        "frequency": score_cutoffs([p.frequency for p in people]),
        "monetary": score_cutoffs([float(p.monetary) for p in people]),
        "population": len(people),
    }


def rfm_scores(rfm: RFM, cutoffs: dict) -> tuple[int | None, int | None, int | None]:
    """(R, F, M); all None for a customer who never purchased or when no cut points exist yet."""
    if rfm.recency_days is None or not cutoffs.get("population"):
        return None, None, None
    return (
        score(rfm.recency_days, cutoffs["recency"], higher_is_better=False),
        score(rfm.frequency, cutoffs["frequency"]),
        score(float(rfm.monetary), cutoffs["monetary"]),
    )


def rfm_segment(r: int | None, f: int | None, *, frequency: int, purchased: bool) -> str:
    """The built-in segment (values of profiles.models.RFMSegment), first match wins."""
    if not purchased or r is None or f is None:
        return "prospect"
    if r >= 4 and f >= 4:
        return "champions"
    if r >= 4 and frequency == 1:
        return "new"
    if f >= 4:
        return "loyal"
    if r >= 3 and 2 <= f <= 3:
        return "potential"
    if r <= 2 and f >= 3:
        return "at_risk"
    if r <= 2 and f <= 2:
        return "hibernating"
    return "need_attention"
