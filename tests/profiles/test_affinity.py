"""Affinity arithmetic on hand-made cases: decay, per-product weights, colours, price bands, shares, and the
interest vector's mean and normalisation."""

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from profiles.affinity import (
    EVENT_WEIGHTS,
    ProductFacts,
    affinities,
    colour_of,
    decay,
    interest_vector,
    price_band,
    price_band_edges,
    product_weights,
    unit,
)

NOW = datetime(2024, 6, 30, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_decay_halves_every_half_life():
    assert decay(0, 90) == 1.0
    assert decay(90, 90) == pytest.approx(0.5)
    assert decay(180, 90) == pytest.approx(0.25)
    assert decay(45, 90) == pytest.approx(math.sqrt(0.5))
    assert decay(-5, 90) == 1.0  # a clock ahead of ours does not make an event weigh more


def test_product_weights_sum_decayed_type_weights_per_product():
    weights = product_weights(
        [
            ("view", 1, ago(0)),
            ("add_to_cart", 1, ago(30)),
            ("purchase", 2, ago(10)),
            ("refund", 2, ago(10)),  # cancels the purchase: nothing left
            ("view", 3, ago(60)),
            ("refund", 3, ago(60)),  # more refunded than shown: clipped, not negative
            ("search", None, ago(1)),
            ("email_open", 4, ago(1)),
            ("review", 5, ago(90)),
        ],
        now=NOW,
        half_life_days=30,
    )
    assert weights == pytest.approx({1: 1 + 3 * 0.5, 5: 4 * 0.125})


def test_weights_are_documented_for_every_event_type():
    from profiles.models import EventType

    assert set(EVENT_WEIGHTS) == set(EventType.values)
    assert EVENT_WEIGHTS["purchase"] > EVENT_WEIGHTS["add_to_cart"] > EVENT_WEIGHTS["view"]


@pytest.mark.parametrize(
    ("attributes", "colour"),
    [
        ({"colour": "NAVY", "material": "wool"}, "Navy"),
        ({"baseColour": "Sky Blue"}, "Sky blue"),
        ({"primary_color": ["red", "white"]}, "Red"),
        ({"Color": "  forest   green "}, "Forest green"),
        ({"material": "wool"}, ""),
        ({"colour": ""}, ""),
        ("not a dict", ""),
        (None, ""),
    ],
)
def test_colour_is_read_from_the_usual_attribute_keys(attributes, colour):
    assert colour_of(attributes) == colour


def test_price_bands_are_the_catalog_quartiles():
    edges = price_band_edges([10, 20, 30, 40, 50])
    assert edges == [20.0, 30.0, 40.0]
    assert [price_band(p, edges) for p in (5, 19.99, 20, 35, 40, 500)] == [
        "budget",
        "budget",
        "mid",
        "upper",
        "premium",
        "premium",
    ]
    assert price_band(None, edges) == ""
    assert price_band_edges([]) == []
    assert price_band(12, []) == ""


def test_affinity_shares_per_kind_sum_to_one():
    facts = {
        1: ProductFacts("Shirts", "Acme", "Navy", 10.0),
        2: ProductFacts("Shoes", "Acme", "Red", 45.0),
        3: ProductFacts("Shoes", "", "", None),
    }
    result = affinities({1: 3.0, 2: 1.0, 3: 4.0, 99: 10.0}, facts, band_edges=[20.0, 30.0, 40.0])
    assert result["category"] == {"Shoes": 0.625, "Shirts": 0.375}
    assert result["brand"] == {"Acme": 1.0}  # product 3 has no brand: it counts for no brand
    assert result["colour"] == {"Navy": 0.75, "Red": 0.25}
    assert result["price_band"] == {"budget": 0.75, "premium": 0.25}


def test_only_the_top_labels_are_kept_and_rescaled():
    facts = {i: ProductFacts(f"Cat {i:02d}", "", "", None) for i in range(15)}
    weights = {i: float(i + 1) for i in range(15)}
    shares = affinities(weights, facts, band_edges=[], top_n=10)["category"]
    assert set(shares) == {f"Cat {i:02d}" for i in range(5, 15)}
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
    assert shares["Cat 14"] == pytest.approx(15 / sum(range(6, 16)), abs=1e-4)
    assert affinities({}, facts, band_edges=[]) == {
        "category": {},
        "brand": {},
        "colour": {},
        "price_band": {},
    }


def test_interest_vector_is_the_unit_weighted_mean_of_unit_vectors():
    vectors = {1: unit([2.0, 0.0, 0.0]), 2: unit([0.0, 0.5, 0.0]), 3: unit([0.0, 0.0, 1.0])}
    result = interest_vector({1: 3.0, 2: 1.0, 7: 5.0}, vectors)  # product 7 has no vector
    expected = np.array([3.0, 1.0, 0.0]) / math.sqrt(10)
    assert result == pytest.approx(list(expected), abs=1e-6)
    assert np.linalg.norm(result) == pytest.approx(1.0, abs=1e-5)
    assert all(round(x, 6) == x for x in result)
    assert interest_vector({7: 5.0}, vectors) is None
    assert interest_vector({}, vectors) is None


def test_unusable_stored_vectors_are_ignored():
    assert unit([]) is None
    assert unit([0.0, 0.0]) is None
    assert unit(["a", "b"]) is None
    assert unit([[1.0], [2.0]]) is None
    assert unit([float("nan"), 1.0]) is None
    assert unit([3.0, 4.0]) == pytest.approx([0.6, 0.8])
