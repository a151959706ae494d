"""Affinities and the interest vector, with no Django: what a customer's product interactions say they like.

Every event about a product weighs ``EVENT_WEIGHTS[type] * 0.5 ** (age_days / half_life_days)``, age counted
back from the time of the computation (the merchant's `affinity_half_life_days`, 90 by default). The weights
of one product are summed and a negative total (a refund larger than what preceded it) counts as 0: a refund
cancels the interest its purchase showed, it does not push the customer away from the product.

Affinities: each product's weight goes to its category, brand, colour and price band; per kind the top
``TOP_N`` labels are kept and rescaled so that their shares sum to 1. Interest vector: the weighted mean of
the unit-length MiniLM vectors of the products, scaled back to unit length (the direction is all that
nearest-product searches use); products without a vector are left out.

The weights rank what a shopper did by how much it says about their taste: buying (5) and reviewing (4)
over adding to the cart (3), a click on a recommendation (2) over a plain product view or an email click
(1). `tests/profiles/test_affinity_weights.py` checks the properties they are tuned for: a shopper who
browses many items of one kind but buys another kind points at what they bought, carted products rank
above viewed ones, and a recent view above an equal older one.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from catalog.attributes import attribute_words

EVENT_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "add_to_cart": 3.0,
    "purchase": 5.0,
    "review": 4.0,
    "recommendation_click": 2.0,
    "email_click": 1.0,
    "refund": -5.0,
    # A search has text, not a product; an email open says nothing about a product.
    "search": 0.0,
    "email_open": 0.0,
}
TOP_N = 10
KINDS = ("category", "brand", "colour", "price_band")
# Quartiles of the merchant's active product prices: budget below the first, premium from the third.
PRICE_BANDS = ("budget", "mid", "upper", "premium")
# Attribute keys (words joined, lower case) that name a product's colour: "colour", "Color", "baseColour"
# (Myntra), "primary_color" (what the catalog import makes of "PrimaryColor").
COLOUR_KEYS = frozenset(
    {
        "colour",
        "color",
        "basecolour",
        "basecolor",
        "primarycolour",
        "primarycolor",
        "maincolour",
        "maincolor",
        "colourname",
        "colorname",
    }
)
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class ProductFacts:
    category: str
    brand: str
    colour: str
    price: float | None


def decay(age_days: float, half_life_days: float) -> float:
    """Weight left after ``age_days`` (events in the future count as new)."""
    return 0.5 ** (max(0.0, age_days) / max(half_life_days, 1e-9))


def product_weights(
    events: Iterable[tuple[str, int | None, datetime]],
    *,
    now: datetime,
    half_life_days: float,
    weights: Mapping[str, float] = EVENT_WEIGHTS,
) -> dict[int, float]:
    """``events``: (type, product_id, occurred_at). Summed, time-decayed weight of each product, above 0."""
    totals: dict[int, float] = {}
    for kind, product_id, at in events:
        weight = weights.get(kind, 0.0)
        if product_id is None or weight == 0.0:
            continue
        age = (now - at).total_seconds() / SECONDS_PER_DAY
        totals[product_id] = totals.get(product_id, 0.0) + weight * decay(age, half_life_days)
    return {pid: weight for pid, weight in totals.items() if weight > 0.0}


def colour_of(attributes: object) -> str:
    """The colour a product's attributes name, capitalised ("NAVY" and "navy" are one colour), or ""."""
    if not isinstance(attributes, dict):
        return ""
    for key, value in attributes.items():
        if "".join(word.lower() for word in attribute_words(key)) in COLOUR_KEYS:
            if isinstance(value, (list, tuple)):
                value = value[0] if value else ""
            text = " ".join(str(value or "").split())
            if text:
                return text[:1].upper() + text[1:].lower()
    return ""


def price_band_edges(prices: Iterable[float]) -> list[float]:
    """Quartile edges [q25, q50, q75] of the prices (empty when there are none)."""
    values = np.asarray([float(p) for p in prices if p is not None], dtype=float)
    if values.size == 0:
        return []
    return [round(float(q), 2) for q in np.percentile(values, [25, 50, 75])]


def price_band(price: float | None, edges: list[float]) -> str:
    if price is None or len(edges) != 3:
        return ""
    for band, edge in zip(PRICE_BANDS, edges):
        if price < edge:
            return band
    return PRICE_BANDS[-1]


def _top_shares(totals: dict[str, float], top_n: int) -> dict[str, float]:
    top = heapq.nlargest(top_n, totals.items(), key=lambda item: (item[1], item[0]))
    total = sum(weight for _, weight in top)
    if total <= 0:
        return {}
    return {label: round(weight / total, 4) for label, weight in top}


def affinities(
    weights: Mapping[int, float],
    facts: Mapping[int, ProductFacts],
    *,
    band_edges: list[float],
    top_n: int = TOP_N,
) -> dict[str, dict[str, float]]:
    """{kind: {label: share}} for the kinds in KINDS, each kind's shares summing to 1 (4 decimals)."""
    totals: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}
    for product_id, weight in weights.items():
        fact = facts.get(product_id)
        if fact is None:
            continue
        labels = (fact.category, fact.brand, fact.colour, price_band(fact.price, band_edges))
        for kind, label in zip(KINDS, labels):
            if label:
                totals[kind][label] = totals[kind].get(label, 0.0) + weight
    return {kind: _top_shares(totals[kind], top_n) for kind in KINDS}


def unit(vector: object) -> np.ndarray | None:
    """A stored vector (list of floats) as a unit-length array; None when empty, malformed or zero."""
    try:
        array = np.asarray(vector, dtype=float)
    except (TypeError, ValueError):
        return None
    if array.ndim != 1 or array.size == 0 or not np.all(np.isfinite(array)):
        return None
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else None


def interest_vector(weights: Mapping[int, float], vectors: Mapping[int, np.ndarray]) -> list[float] | None:
    """Unit-length weighted mean of the products' unit vectors, rounded to 6 places; None without vectors."""
    pairs = [(weight, vectors[pid]) for pid, weight in weights.items() if pid in vectors]
    if not pairs:
        return None
    dims = {vector.shape[0] for _, vector in pairs}
    if len(dims) != 1:  # vectors of two models mixed: keep the dimension most of the weight is in
        by_dim: dict[int, float] = {}
        for weight, vector in pairs:
            by_dim[vector.shape[0]] = by_dim.get(vector.shape[0], 0.0) + weight
        dim = max(by_dim, key=lambda d: by_dim[d])
        pairs = [(w, v) for w, v in pairs if v.shape[0] == dim]
    total = np.asarray([w for w, _ in pairs]) @ np.stack([v for _, v in pairs])
    norm = float(np.linalg.norm(total))
    if norm == 0.0:
        return None
    return np.round(total / norm, 6).tolist()
