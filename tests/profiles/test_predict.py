"""Predictions on constructed histories: next-purchase windows, the churn prior, the fitted logistic model
(time split, effects in the expected direction, explanations in words)."""

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from profiles.predict import (
    ChurnFeatures,
    churn_risk,
    features_at,
    fit_logistic,
    next_purchase_window,
    population_gap,
    train_churn_model,
    training_set,
    typical_interval,
    visits,
)
from profiles.rfm import Order

NOW = datetime(2024, 6, 30, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def orders(*days_ago: float, value: str = "20") -> list[Order]:
    return [Order(at=ago(d), value=Decimal(value)) for d in sorted(days_ago, reverse=True)]


def test_window_from_regular_own_intervals():
    history = orders(90, 60, 30, 0)
    start, end, info = next_purchase_window(history, population={})
    assert info["method"] == "own_intervals"
    assert info["median_interval_days"] == 30
    assert info["spread_days"] == 7.5  # no deviation: a quarter of the gap
    assert start == NOW + timedelta(days=22.5)
    assert end == NOW + timedelta(days=37.5)
    assert "30 days" in info["text"]


def test_window_spread_follows_irregular_intervals():
    history = orders(100, 90, 50, 40, 0)  # gaps 10, 40, 10, 40
    _, _, info = next_purchase_window(history, population={})
    assert info["median_interval_days"] == 25
    assert info["spread_days"] == 15  # median absolute deviation


def test_two_orders_give_a_wide_window():
    start, end, info = next_purchase_window(orders(40, 20), population={})
    assert (start, end) == (ago(10), ago(-10))  # last order + 20 days, give or take 10
    assert info["spread_days"] == 10


def test_one_order_customers_get_the_shops_second_order_gap():
    population = population_gap([orders(100, 60), orders(80, 60, 50), orders(50, 20), orders(10)])
    # Three of four came back: (3 + 1) / (4 + 2).
    assert population == {"median_days": 30.0, "spread_days": 10.0, "customers": 3, "repeat_rate": 0.6667}
    start, end, info = next_purchase_window(orders(5), population=population)
    assert info["method"] == "merchant_second_order"
    assert (start, end) == (ago(5) + timedelta(days=20), ago(5) + timedelta(days=40))


def test_orders_hours_apart_are_one_visit():
    history = orders(30, 29.9, 29.8, 10, 9.7)  # two visits of several invoices each
    assert len(visits(history)) == 2
    _, _, info = next_purchase_window(history, population={})
    assert info["median_interval_days"] == 20  # not the minutes between invoices
    population = population_gap([history, orders(5, 4.9)])
    assert (population["customers"], population["repeat_rate"]) == (1, 0.5)  # (1 + 1) / (2 + 2)


def test_no_window_without_orders_or_repeat_customers():
    assert next_purchase_window([], population={})[:2] == (None, None)
    empty = population_gap([orders(3), []])
    assert (empty["median_days"], empty["repeat_rate"]) == (None, 0.3333)  # none of one came back, smoothed
    start, end, info = next_purchase_window(orders(3), population=empty)
    assert (start, end, info["method"]) == (None, None, "none")


def test_features_only_see_orders_up_to_the_cut():
    history = orders(200, 150, 100, 10)
    features = features_at(history, ago(90), typical_interval_days=45)
    assert features == ChurnFeatures(
        recency_days=10, frequency=3, monetary=60.0, mean_interval_days=50, own_interval=True
    )
    single = features_at(history, ago(180), typical_interval_days=45)
    assert (single.frequency, single.mean_interval_days, single.own_interval) == (1, 45, False)
    assert features_at(history, ago(300), typical_interval_days=45) is None
    assert typical_interval({"median_days": None}) == 90.0


def test_prior_risk_arithmetic():
    on_time = ChurnFeatures(10, 4, 100.0, 30.0, True)
    risk, info = churn_risk(on_time, model=None)
    assert risk == pytest.approx(math.exp(-3), abs=1e-4)  # alive, and 90 days = 3 usual gaps
    assert info["method"] == "prior"
    assert info["summary"].startswith("Low risk")
    lapsed = ChurnFeatures(120, 4, 100.0, 30.0, True)
    risk, info = churn_risk(lapsed, model=None)
    assert risk == pytest.approx(1 - math.exp(-3) * (1 - math.exp(-3)), abs=1e-4)
    assert info["summary"].startswith("High risk")
    assert info["factors"][0]["effect"] == "raises"
    assert "4.0 times" in info["factors"][0]["text"]


def test_prior_counts_the_shops_repeat_rate_for_one_visit_customers():
    once = ChurnFeatures(10, 1, 40.0, 30.0, False)  # 30 days: the shop's typical gap
    risk, info = churn_risk(once, model=None, repeat_rate=0.25)
    assert risk == pytest.approx(1 - 0.25 * (1 - math.exp(-3)), abs=1e-4)
    assert "25% of the shop's customers" in info["factors"][-1]["text"]
    # A customer who already came back is not discounted by the shop's repeat rate.
    again = ChurnFeatures(10, 2, 40.0, 30.0, True)
    assert churn_risk(again, model=None, repeat_rate=0.25)[0] == pytest.approx(math.exp(-3), abs=1e-4)
    assert churn_risk(once, model=None)[0] == pytest.approx(math.exp(-3), abs=1e-4)  # rate unknown


def test_no_orders_no_churn_estimate():
    risk, info = churn_risk(None, model=None)
    assert risk is None
    assert info["method"] == "none"


def test_logistic_fit_reaches_the_penalised_optimum():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3))
    y = (x @ np.array([2.0, -1.0, 0.0]) + rng.normal(size=300) > 0).astype(float)
    coef, intercept = fit_logistic(x, y, ridge=1.0)
    w = np.concatenate([[intercept], coef])
    design = np.hstack([np.ones((300, 1)), x])
    p = 1 / (1 + np.exp(-(design @ w)))
    gradient = design.T @ (p - y) + np.concatenate([[0.0], coef])
    assert np.max(np.abs(gradient)) < 1e-6
    assert (
        coef[0] > 1 and coef[1] < -0.5 and abs(coef[2]) < abs(coef[1]) / 3
    )  # the unused feature stays small


def population(seed: int = 4, size: int = 160) -> list[list[Order]]:
    """Regulars who order every 15-40 days up to now, and customers who stopped 100-300 days ago."""
    rng = random.Random(seed)
    histories = []
    for index in range(size):
        gap = rng.uniform(15, 40)
        stop = 0 if index % 2 else rng.uniform(100, 300)
        start = stop + gap * rng.randint(1, 8)
        days, d = [], start
        while d >= stop:
            days.append(d)
            d -= gap * rng.uniform(0.7, 1.3)
        histories.append(orders(*days, value=str(rng.randint(10, 90))))
    return histories


def test_model_trained_on_a_time_split_ranks_lapsed_customers_higher():
    histories = population()
    cut = NOW - timedelta(days=90)
    features, labels = training_set(histories, cut=cut, horizon_days=90, typical_interval_days=30)
    assert 50 < len(features) <= 160
    model = train_churn_model(features, labels)
    assert model["kind"] == "logistic" and model["trained_on"] == len(features)
    recency = model["features"].index("recency_days")
    assert model["coef"][recency] > 0  # the longer since the last order, the higher the risk

    regular = features_at(histories[1], NOW, typical_interval_days=30)
    lapsed = features_at(histories[0], NOW, typical_interval_days=30)
    regular_risk, _ = churn_risk(regular, model=model)
    lapsed_risk, info = churn_risk(lapsed, model=model)
    assert regular_risk < 0.5 < lapsed_risk
    assert info["method"] == "logistic"
    assert info["factors"][0]["feature"] == "recency_days"
    assert (
        info["factors"][0]["text"].startswith("Last order")
        and "raises the risk" in info["factors"][0]["text"]
    )


def test_model_is_calibrated_on_its_own_training_data():
    histories = population(seed=8, size=400)
    features, labels = training_set(
        histories, cut=NOW - timedelta(days=90), horizon_days=90, typical_interval_days=30
    )
    model = train_churn_model(features, labels)
    risks = [churn_risk(f, model=model)[0] for f in features]
    # Logistic regression with an intercept matches the mean rate (up to the small penalty).
    assert np.mean(risks) == pytest.approx(np.mean(labels), abs=0.02)


def test_too_little_history_means_no_model():
    histories = population(size=30)
    features, labels = training_set(
        histories, cut=NOW - timedelta(days=90), horizon_days=90, typical_interval_days=30
    )
    assert train_churn_model(features, labels) is None
    assert train_churn_model(features * 5, [1] * len(labels) * 5) is None  # only one class
