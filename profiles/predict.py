"""Predictions from a customer's orders, with no Django: the next-purchase window and the churn risk.

Visits: orders placed within ``SAME_VISIT_DAYS`` (12 hours) of a visit's first order belong to that visit, so
an order split in two invoices minutes apart is not a "gap" of minutes. Gaps are measured between visits.

Next purchase: from the gaps between the customer's visits (in days): the median gap m and a spread s =
max(median absolute deviation, m / 4, 1 day) with two or more gaps, s = m / 2 with one gap; the window is the
last order + m - s to + m + s (never before the last order). A one-visit customer gets the merchant's median
gap between first and second visits, with its spread by the same rule; without repeat customers, no window.

Churn risk = probability of no order in the next ``HORIZON_DAYS``. Features at a point in time: days since
the last order, number of orders, money spent, mean gap between visits (a one-visit customer gets the
merchant's typical gap), each as log(1 + x), standardised. With enough history the merchant gets its own
logistic regression (L2 penalty ``RIDGE``, Newton's method), trained with a time split: features as they
were ``HORIZON_DAYS`` ago, label = no order since. Enough = at least ``MIN_TRAINING_CUSTOMERS`` customers
who had ordered by then, and ``MIN_CLASS`` of them both bought and did not. Otherwise a prior with no
fitting: with I the customer's mean gap (or the merchant's typical gap, else ``DEFAULT_INTERVAL_DAYS``),
P(comes back at all) = 1 for a customer who already came back, else the merchant's repeat rate (share of
customers with a second visit, smoothed as (r + 1) / (n + 2); 1 when unknown), P(still a customer) = exp(-max(0, recency - I) / I) and
P(order within h days | still a customer) = 1 - exp(-h / I), so
risk = 1 - P(comes back) * P(still) * P(order). Both name the factors behind the risk in words.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from profiles.rfm import Order

HORIZON_DAYS = 90
FEATURES = ("recency_days", "frequency", "monetary", "mean_interval_days")
MIN_TRAINING_CUSTOMERS = 50
MIN_CLASS = 10
RIDGE = 1.0
DEFAULT_INTERVAL_DAYS = 90.0
MIN_INTERVAL_DAYS = 1 / 24  # one hour: a gap used as a divisor never reaches 0
SAME_VISIT_DAYS = 0.5
DAY = 86400.0


@dataclass(frozen=True)
class ChurnFeatures:
    recency_days: float
    frequency: int
    monetary: float
    mean_interval_days: float
    own_interval: bool  # False: one visit so far, the merchant's typical gap stands in for theirs

    def row(self) -> list[float]:
        return [self.recency_days, float(self.frequency), max(0.0, self.monetary), self.mean_interval_days]


def visits(orders: list[Order]) -> list[datetime]:
    """Start of each visit (orders oldest first)."""
    starts: list[datetime] = []
    for order in orders:
        if not starts or (order.at - starts[-1]).total_seconds() / DAY >= SAME_VISIT_DAYS:
            starts.append(order.at)
    return starts


def gaps_days(orders: list[Order]) -> list[float]:
    """Days between consecutive visits."""
    starts = visits(orders)
    return [(b - a).total_seconds() / DAY for a, b in zip(starts, starts[1:])]


def _spread(gaps: list[float], median: float) -> float:
    if len(gaps) == 1:
        return median / 2
    mad = statistics.median(abs(g - median) for g in gaps)
    return max(mad, median / 4, 1.0)


def population_gap(histories: Iterable[list[Order]]) -> dict:
    """The merchant's gap between first and second visits and its repeat rate:
    {"median_days", "spread_days", "customers" (with a second visit), "repeat_rate"}."""
    second, buyers = [], 0
    for orders in histories:
        if orders:
            buyers += 1
            gaps = gaps_days(orders)
            if gaps:
                second.append(gaps[0])
    # Laplace-smoothed, so that a young shop with no return yet is not told every customer is lost.
    repeat_rate = round((len(second) + 1) / (buyers + 2), 4) if buyers else None
    if not second:
        return {"median_days": None, "spread_days": None, "customers": 0, "repeat_rate": repeat_rate}
    median = statistics.median(second)
    return {
        "median_days": round(median, 3),
        "spread_days": round(_spread(second, median), 3),
        "customers": len(second),
        "repeat_rate": repeat_rate,
    }


def _days_text(days: float) -> str:
    return f"{days:.1f} days" if days < 10 else f"{round(days)} days"


def next_purchase_window(
    orders: list[Order], *, population: dict
) -> tuple[datetime | None, datetime | None, dict]:
    """(from, to, explanation) for one customer's orders (oldest first)."""
    if not orders:
        return None, None, {"method": "none", "text": "No order yet."}
    last = orders[-1].at
    gaps = gaps_days(orders)
    if gaps:
        median = statistics.median(gaps)
        spread = _spread(gaps, median)
        method = "own_intervals"
        text = (
            f"Comes back every {_days_text(median)} (median of {len(gaps)} gap{'s' if len(gaps) > 1 else ''})"
        )
    elif population.get("median_days") is not None:
        median, spread = population["median_days"], population["spread_days"]
        method = "merchant_second_order"
        text = (
            f"One visit so far; the shop's returning customers come back {_days_text(median)} after "
            f"their first (median of {population['customers']})"
        )
    else:
        return (
            None,
            None,
            {"method": "none", "text": "One visit so far and no repeat customers to learn from."},
        )
    start = last + timedelta(days=max(0.0, median - spread))
    end = last + timedelta(days=median + spread)
    info = {"method": method, "median_interval_days": round(median, 2), "spread_days": round(spread, 2)}
    info["text"] = f"{text}, give or take {_days_text(spread)}."
    return start, end, info


def features_at(orders: list[Order], at: datetime, *, typical_interval_days: float) -> ChurnFeatures | None:
    """The features as they stood at ``at`` (orders after it unseen); None before the first order."""
    past = [order for order in orders if order.at <= at]
    if not past:
        return None
    gaps = gaps_days(past)
    return ChurnFeatures(
        recency_days=(at - past[-1].at).total_seconds() / DAY,
        frequency=len(past),
        monetary=float(sum(order.value for order in past)),
        mean_interval_days=max(statistics.fmean(gaps), MIN_INTERVAL_DAYS) if gaps else typical_interval_days,
        own_interval=bool(gaps),
    )


def typical_interval(population: dict) -> float:
    median = population.get("median_days")
    return max(float(median), MIN_INTERVAL_DAYS) if median else DEFAULT_INTERVAL_DAYS


def _transform(rows: list[list[float]]) -> np.ndarray:
    return np.log1p(np.maximum(np.asarray(rows, dtype=float), 0.0))


def fit_logistic(x: np.ndarray, y: np.ndarray, *, ridge: float = RIDGE) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression (intercept not penalised) by Newton's method."""
    design = np.hstack([np.ones((x.shape[0], 1)), x])
    penalty = np.eye(design.shape[1]) * ridge
    penalty[0, 0] = 0.0
    w = np.zeros(design.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        gradient = design.T @ (p - y) + penalty @ w
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty + np.eye(design.shape[1]) * 1e-9
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return w[1:], float(w[0])


def training_set(
    histories: Iterable[list[Order]], *, cut: datetime, horizon_days: float, typical_interval_days: float
) -> tuple[list[ChurnFeatures], list[int]]:
    """Features at ``cut`` of everyone who had ordered by then; label 1 = no order in (cut, cut + horizon]."""
    end = cut + timedelta(days=horizon_days)
    features, labels = [], []
    for orders in histories:
        feature = features_at(orders, cut, typical_interval_days=typical_interval_days)
        if feature is None:
            continue
        features.append(feature)
        labels.append(0 if any(cut < order.at <= end for order in orders) else 1)
    return features, labels


def train_churn_model(
    features: list[ChurnFeatures],
    labels: list[int],
    *,
    horizon_days: float = HORIZON_DAYS,
    min_customers: int = MIN_TRAINING_CUSTOMERS,
    min_class: int = MIN_CLASS,
) -> dict | None:
    """A JSON-able logistic model, or None when the history is too thin to fit one."""
    churned = sum(labels)
    if len(labels) < min_customers or min(churned, len(labels) - churned) < min_class:
        return None
    x = _transform([f.row() for f in features])
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std < 1e-6] = 1.0  # a feature that barely varies (stored to 6 places) is left unscaled
    coef, intercept = fit_logistic((x - mean) / std, np.asarray(labels, dtype=float))
    return {
        "kind": "logistic",
        "features": list(FEATURES),
        "mean": [round(float(v), 6) for v in mean],
        "std": [round(float(v), 6) for v in std],
        "coef": [round(float(v), 6) for v in coef],
        "intercept": round(intercept, 6),
        "horizon_days": horizon_days,
        "trained_on": len(labels),
        "base_rate": round(churned / len(labels), 4),
    }


_DESCRIBE = {
    "recency_days": lambda v: f"last order {_days_text(v)} ago",
    "frequency": lambda v: f"{round(v)} order{'s' if round(v) != 1 else ''}",
    "monetary": lambda v: f"{v:.2f} spent",
    "mean_interval_days": lambda v: f"an order every {_days_text(v)} on average",
}
_TYPICAL = {
    "recency_days": _days_text,
    "frequency": lambda v: f"{v:.1f} orders",
    "monetary": lambda v: f"{v:.2f}",
    "mean_interval_days": _days_text,
}


def _level(risk: float) -> str:
    return "High" if risk >= 2 / 3 else "Medium" if risk >= 1 / 3 else "Low"


def _logistic_risk(features: ChurnFeatures, model: dict) -> tuple[float, list[dict]]:
    z = (_transform([features.row()])[0] - np.asarray(model["mean"])) / np.asarray(model["std"])
    contributions = np.asarray(model["coef"]) * z
    logit = model["intercept"] + float(contributions.sum())
    risk = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))
    factors = []
    for index in np.argsort(-np.abs(contributions))[:3]:
        name = FEATURES[index]
        if abs(contributions[index]) < 0.05 or (name == "mean_interval_days" and not features.own_interval):
            continue
        value = features.row()[index]
        typical = math.expm1(model["mean"][index])
        effect = "raises" if contributions[index] > 0 else "lowers"
        factors.append(
            {
                "feature": name,
                "value": round(value, 2),
                "effect": effect,
                "text": f"{_DESCRIBE[name](value).capitalize()} (typical customer: {_TYPICAL[name](typical)}) "
                f"{effect} the risk.",
            }
        )
    return risk, factors


def _prior_risk(
    features: ChurnFeatures, horizon_days: float, repeat_rate: float | None
) -> tuple[float, list[dict]]:
    interval = max(features.mean_interval_days, MIN_INTERVAL_DAYS)
    overdue = max(0.0, features.recency_days - interval)
    alive = math.exp(-overdue / interval)
    comes_back = 1.0 if features.own_interval or repeat_rate is None else repeat_rate
    risk = 1.0 - comes_back * alive * (1.0 - math.exp(-horizon_days / interval))
    source = "this customer's" if features.own_interval else "the shop's typical"
    ratio = features.recency_days / interval
    factors = [
        {
            "feature": "recency_days",
            "value": round(features.recency_days, 2),
            "effect": "raises" if overdue > 0 else "lowers",
            "text": f"Last order {_days_text(features.recency_days)} ago, {ratio:.1f} times {source} "
            f"{_days_text(interval)} between orders.",
        },
        {
            "feature": "mean_interval_days",
            "value": round(interval, 2),
            "effect": "raises" if interval > horizon_days else "lowers",
            "text": f"At {source} pace of an order every {_days_text(interval)}, the chance of one within "
            f"{_days_text(horizon_days)} is {1 - math.exp(-horizon_days / interval):.0%}.",
        },
    ]
    if comes_back < 1.0:
        factors.append(
            {
                "feature": "repeat_rate",
                "value": comes_back,
                "effect": "raises",
                "text": f"One visit so far, and {comes_back:.0%} of the shop's customers have come back for a "
                "second.",
            }
        )
    return risk, factors


def churn_risk(
    features: ChurnFeatures | None,
    *,
    model: dict | None,
    horizon_days: float = HORIZON_DAYS,
    repeat_rate: float | None = None,
) -> tuple[float | None, dict]:
    """(risk, explanation); the merchant's model when there is one, else the prior (``repeat_rate``: the
    merchant's share of customers with a second visit, from `population_gap`)."""
    if features is None:
        return None, {"method": "none", "summary": "No completed order yet, so no churn estimate."}
    if model:
        risk, factors = _logistic_risk(features, model)
        method = "logistic"
        basis = f"a model fitted on {model['trained_on']} of the shop's customers ({model['base_rate']:.0%} lapsed)"
    else:
        risk, factors = _prior_risk(features, horizon_days, repeat_rate)
        method = "prior"
        basis = "the customer's order pace (not enough history to fit the shop's own model)"
    risk = round(min(1.0, max(0.0, risk)), 4)
    explanation = {
        "method": method,
        "risk": risk,
        "horizon_days": horizon_days,
        "summary": f"{_level(risk)} risk ({risk:.0%}) of no order in the next {_days_text(horizon_days)}, "
        f"from {basis}.",
        "factors": factors,
    }
    return risk, explanation
