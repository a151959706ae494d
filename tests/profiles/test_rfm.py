"""RFM arithmetic on hand-made cases: orders net of refunds, mid-rank quintile scores, stored cut points and
the built-in segment."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from profiles.models import RFMSegment
from profiles.rfm import (
    RFM,
    purchase_history,
    rfm_cutoffs,
    rfm_scores,
    rfm_segment,
    rfm_values,
    score,
    score_cutoffs,
)

NOW = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return NOW - timedelta(days=n)


def test_order_lines_sharing_an_id_are_one_order_and_lines_without_one_count_alone():
    history = purchase_history(
        [
            ("purchase", "A-1", Decimal("10.00"), day(40)),
            ("purchase", "A-1", Decimal("20.00"), day(40)),
            ("purchase", "", Decimal("5.00"), day(30)),
            ("purchase", "", Decimal("7.50"), day(20)),
        ]
    )
    assert history.frequency == 3
    assert history.monetary == Decimal("42.50")
    assert [order.value for order in history.orders] == [Decimal("30.00"), Decimal("5.00"), Decimal("7.50")]
    assert rfm_values(history, now=NOW) == RFM(recency_days=20, frequency=3, monetary=Decimal("42.50"))


def test_refunds_net_against_their_order_and_a_fully_refunded_order_is_not_counted():
    history = purchase_history(
        [
            ("purchase", "A-1", Decimal("30.00"), day(40)),
            ("purchase", "B-2", Decimal("15.00"), day(10)),
            ("refund", "B-2", Decimal("15.00"), day(9)),  # whole order back
            ("purchase", "C-3", Decimal("50.00"), day(5)),
            ("refund", "C-3", Decimal("-20.00"), day(4)),  # negative sign: same amount back
            ("refund", "C9999", Decimal("-4.00"), day(3)),  # cancellation with its own number
        ]
    )
    assert history.frequency == 2  # A-1 and C-3; B-2 cancelled to nothing
    assert [order.value for order in history.orders] == [Decimal("30.00"), Decimal("30.00")]
    assert history.monetary == Decimal("56.00")  # 95 bought - 15 - 20 - 4 refunded
    # The last purchase (even of a refunded order) is the recency.
    assert rfm_values(history, now=NOW).recency_days == 5


def test_purchases_without_value_count_as_orders_worth_nothing():
    history = purchase_history([("purchase", "X", None, day(2)), ("view", "", None, day(1))])
    assert history.frequency == 1
    assert history.monetary == Decimal("0")
    assert history.has_purchased


def test_no_purchase_means_no_recency():
    history = purchase_history([("refund", "Z", Decimal("3"), day(1))])
    assert not history.has_purchased
    assert rfm_values(history, now=NOW) == RFM(recency_days=None, frequency=0, monetary=Decimal("-3"))


def test_distinct_values_split_into_equal_quintiles():
    cutoffs = score_cutoffs(range(1, 11))
    assert cutoffs == [3, 5, 7, 9]
    assert [score(v, cutoffs) for v in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_ties_share_their_mid_rank_score():
    # Seven one-order customers sit at the middle of their 70%: score 2, not 1 nor 5.
    frequencies = [1] * 7 + [2, 3, 5]
    cutoffs = score_cutoffs(frequencies)
    assert cutoffs == [1, 2, 2, 3]
    assert [score(v, cutoffs) for v in (1, 2, 3, 5)] == [2, 4, 5, 5]
    # Values the population did not have: below everyone, between, above everyone.
    assert score(0, cutoffs) == 1
    assert score(4, cutoffs) == 5


@pytest.mark.parametrize(
    ("values", "expected"),
    [([42], [3]), ([10, 20], [2, 4]), ([7, 7, 7], [3, 3, 3]), ([5, 9, 9], [1, 4, 4])],
)
def test_small_populations(values, expected):
    cutoffs = score_cutoffs(values)
    assert [score(v, cutoffs) for v in values] == expected


def test_recency_is_scored_reversed():
    days = [1, 3, 8, 15, 30, 45, 60, 90, 120, 400]
    cutoffs = score_cutoffs(days, higher_is_better=False)
    scores = [score(d, cutoffs, higher_is_better=False) for d in days]
    assert scores == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert score(0, cutoffs, higher_is_better=False) == 5
    assert score(1000, cutoffs, higher_is_better=False) == 1


def test_stored_cutoffs_reproduce_the_population_scores():
    import random

    rng = random.Random(3)
    people = [
        RFM(rng.randint(0, 400), rng.choice([1, 1, 1, 2, 2, 3, 4, 7]), Decimal(rng.randint(5, 900)))
        for _ in range(137)
    ]
    cutoffs = rfm_cutoffs(people)
    assert cutoffs["population"] == 137
    for person in people:
        r, f, m = rfm_scores(person, cutoffs)
        # Direct mid-rank score of this person, for comparison.
        for value, got, population, better in (
            (person.recency_days, r, [p.recency_days for p in people], -1),
            (person.frequency, f, [p.frequency for p in people], 1),
            (person.monetary, m, [p.monetary for p in people], 1),
        ):
            below = sum(1 for v in population if better * v < better * value)
            equal = sum(1 for v in population if v == value)
            assert got == min(5, 1 + (5 * (2 * below + equal)) // (2 * len(population)))


def test_no_cutoffs_or_no_purchase_give_no_scores():
    assert rfm_scores(RFM(3, 1, Decimal("10")), {}) == (None, None, None)
    cutoffs = rfm_cutoffs([RFM(3, 1, Decimal("10"))])
    assert rfm_scores(RFM(None, 0, Decimal("0")), cutoffs) == (None, None, None)
    assert rfm_scores(RFM(3, 1, Decimal("10")), cutoffs) == (3, 3, 3)


@pytest.mark.parametrize(
    ("r", "f", "frequency", "purchased", "segment"),
    [
        (None, None, 0, False, "prospect"),
        (5, 5, 9, True, "champions"),
        (4, 2, 1, True, "new"),
        (5, 4, 1, True, "champions"),  # first match wins
        (2, 5, 8, True, "loyal"),
        (3, 2, 2, True, "potential"),
        (4, 3, 3, True, "potential"),
        (1, 3, 3, True, "at_risk"),
        (2, 2, 1, True, "hibernating"),
        (3, 1, 0, True, "need_attention"),
        (4, 1, 0, True, "need_attention"),
    ],
)
def test_segment_follows_the_documented_rules(r, f, frequency, purchased, segment):
    assert rfm_segment(r, f, frequency=frequency, purchased=purchased) == segment
    assert segment in RFMSegment.values
