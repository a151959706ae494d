"""The event-type weights and the half-life, tuned on hand-made shoppers: the properties below are what the
documented weights (profiles.affinity.EVENT_WEIGHTS) are chosen to achieve, checked through the nearest
products of the interest vector. Product vectors are random but fixed unit vectors in MiniLM's 384
dimensions (seeded), so unrelated products are nearly orthogonal, as unrelated texts roughly are."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from profiles.affinity import EVENT_WEIGHTS, interest_vector, product_weights, unit

NOW = datetime(2024, 6, 30, tzinfo=UTC)
HALF_LIFE = 90
DIM = 384


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def random_vectors(count: int, seed: int = 7) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {i: unit(rng.normal(size=DIM)) for i in range(count)}


def clustered_vectors(per_cluster: int, seed: int = 11) -> tuple[dict[int, np.ndarray], list[int], list[int]]:
    """Two kinds of product (say hiking boots, A, and kitchenware, B): items of a kind share a direction."""
    rng = np.random.default_rng(seed)
    centres = [unit(rng.normal(size=DIM)), unit(rng.normal(size=DIM))]
    vectors, kinds = {}, ([], [])
    for i in range(2 * per_cluster):
        kind = i % 2
        vectors[i] = unit(centres[kind] + unit(rng.normal(size=DIM)))
        kinds[kind].append(i)
    return vectors, kinds[0], kinds[1]


def ranking(events, vectors, weights=EVENT_WEIGHTS) -> list[int]:
    """Products by cosine similarity to the shopper's interest vector, nearest first."""
    interest = np.asarray(
        interest_vector(product_weights(events, now=NOW, half_life_days=HALF_LIFE, weights=weights), vectors)
    )
    return sorted(vectors, key=lambda pid: -float(vectors[pid] @ interest))


def test_a_shopper_who_browses_one_kind_and_buys_another_points_at_what_they_bought():
    vectors, kind_a, kind_b = clustered_vectors(per_cluster=20)
    browsed, bought = kind_a[:10], kind_b[:2]
    events = [("view", pid, ago(3 + i)) for i, pid in enumerate(browsed)]
    for pid in bought:  # the usual path to a purchase: view, cart, buy
        events += [("view", pid, ago(5)), ("add_to_cart", pid, ago(5)), ("purchase", pid, ago(5))]
    unseen_a, unseen_b = kind_a[10:], kind_b[2:]

    order = ranking(events, vectors)
    unseen = [pid for pid in order if pid in unseen_a or pid in unseen_b]
    # Every product of the bought kind the shopper has not seen yet comes before every unseen browsed kind.
    assert set(unseen[: len(unseen_b)]) == set(unseen_b)

    # The weights are what does it: counting every event alike, ten views outweigh two purchases.
    flat = dict.fromkeys(EVENT_WEIGHTS, 1.0)
    unseen_flat = [pid for pid in ranking(events, vectors, flat) if pid in unseen_a or pid in unseen_b]
    assert set(unseen_flat[: len(unseen_a)]) == set(unseen_a)


def test_purchased_and_carted_products_rank_above_merely_viewed_ones():
    vectors = random_vectors(12)
    viewed, carted, purchased, reviewed = [0, 1, 2, 3, 4, 5], [6, 7], [8, 9], [10]
    events = [("view", pid, ago(10)) for pid in viewed + carted + purchased + reviewed]
    events += [("add_to_cart", pid, ago(10)) for pid in carted + purchased]
    events += [("purchase", pid, ago(10)) for pid in purchased]
    events += [("purchase", pid, ago(10)) for pid in reviewed] + [
        ("review", pid, ago(10)) for pid in reviewed
    ]
    order = ranking(events, vectors)
    position = {pid: order.index(pid) for pid in vectors}
    assert position[10] == 0  # bought and reviewed
    assert max(position[p] for p in purchased) < min(position[p] for p in carted)
    assert max(position[p] for p in carted) < min(position[p] for p in viewed)
    assert position[11] == len(order) - 1  # never touched


def test_a_recommendation_click_counts_more_than_a_view_and_less_than_a_cart():
    vectors = random_vectors(3, seed=5)
    events = [("view", 0, ago(1)), ("recommendation_click", 1, ago(1)), ("add_to_cart", 2, ago(1))]
    assert ranking(events, vectors) == [2, 1, 0]


def test_recent_interest_outranks_the_same_interest_long_ago():
    vectors = random_vectors(4, seed=9)
    events = [("view", 0, ago(1)), ("view", 1, ago(120)), ("purchase", 2, ago(2)), ("purchase", 3, ago(200))]
    order = ranking(events, vectors)
    assert order.index(0) < order.index(1)
    assert order.index(2) < order.index(3)


def test_a_purchase_a_year_ago_weighs_less_than_a_view_today():
    # 5 x 0.5 ** (365 / 90) = 0.30 < 1: a 90-day half-life lets tastes move on within a season or two.
    vectors = random_vectors(2, seed=13)
    assert ranking([("purchase", 0, ago(365)), ("view", 1, ago(0))], vectors) == [1, 0]
    assert EVENT_WEIGHTS["purchase"] * 0.5 ** (365 / HALF_LIFE) == pytest.approx(0.30, abs=0.01)


def test_a_refunded_purchase_leaves_no_interest_behind():
    vectors = random_vectors(3, seed=17)
    events = [
        ("purchase", 0, ago(5)),
        ("refund", 0, ago(4)),
        ("view", 1, ago(5)),
        ("purchase", 2, ago(30)),
    ]
    weights = product_weights(events, now=NOW, half_life_days=HALF_LIFE)
    assert 0 not in weights
    order = ranking(events, vectors)
    assert order[-1] == 0
