"""Every rule of the segment language on hand-made customers: what matches, what does not, and the errors bad
conditions get (by condition index)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from profiles.models import Event
from profiles.segments import SegmentInvalid, segment_queryset, validate_rules
from tests.profiles.segment_helpers import customer, events, ids

pytestmark = pytest.mark.django_db


def match(merchant, *rules, how="all"):
    return ids(segment_queryset(merchant=merchant, rules=list(rules), match=how))


@pytest.fixture
def rfm(merchant):
    """Three profiled customers with different scores, one without a profile."""
    customer(
        merchant,
        "ann",
        profile={
            "r_score": 5,
            "f_score": 4,
            "m_score": 3,
            "rfm_segment": "champions",
            "recency_days": 3,
            "frequency": 9,
            "monetary": "420.50",
            "lifetime_value": "420.50",
            "churn_risk": 0.1,
        },
    )
    customer(
        merchant,
        "bob",
        profile={
            "r_score": 2,
            "f_score": 3,
            "m_score": 2,
            "rfm_segment": "at_risk",
            "recency_days": 200,
            "frequency": 3,
            "monetary": "80",
            "lifetime_value": "80",
            "churn_risk": 0.8,
        },
    )
    customer(
        merchant,
        "cat",
        profile={
            "r_score": 4,
            "f_score": 1,
            "m_score": 1,
            "rfm_segment": "new",
            "recency_days": 10,
            "frequency": 1,
            "monetary": "19.99",
            "lifetime_value": "19.99",
            "churn_risk": 0.5,
        },
    )
    customer(merchant, "dan")  # no purchase, no profile


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"field": "r_score", "op": "eq", "value": 4}, ["cat"]),
        ({"field": "r_score", "op": "gte", "value": 4}, ["ann", "cat"]),
        ({"field": "r_score", "op": "lte", "value": 2}, ["bob"]),
        ({"field": "f_score", "op": "gte", "value": 3}, ["ann", "bob"]),
        ({"field": "m_score", "op": "lte", "value": 2}, ["bob", "cat"]),
        ({"field": "rfm_segment", "op": "in", "value": ["champions", "new"]}, ["ann", "cat"]),
        ({"field": "rfm_segment", "op": "not_in", "value": ["champions"]}, ["bob", "cat"]),
        ({"field": "recency_days", "op": "lt", "value": 10}, ["ann"]),
        ({"field": "recency_days", "op": "lte", "value": 10}, ["ann", "cat"]),
        ({"field": "frequency", "op": "gt", "value": 3}, ["ann"]),
        ({"field": "frequency", "op": "eq", "value": 3}, ["bob"]),
        ({"field": "monetary", "op": "gte", "value": 80}, ["ann", "bob"]),
        ({"field": "monetary", "op": "gt", "value": "19.98"}, ["ann", "bob", "cat"]),
        ({"field": "lifetime_value", "op": "lt", "value": 80}, ["cat"]),
        ({"field": "churn_risk", "op": "gte", "value": 0.5}, ["bob", "cat"]),
        ({"field": "churn_risk", "op": "lt", "value": "0.5"}, ["ann"]),
    ],
)
def test_profile_conditions(merchant, rfm, rule, expected):
    assert match(merchant, rule) == expected


def test_customers_who_refused_profiling_are_in_no_segment(merchant, rfm):
    eve = customer(
        merchant,
        "eve",
        country="GB",
        consent_profiling=False,
        profile={"r_score": 5, "f_score": 5, "m_score": 5, "rfm_segment": "champions"},
    )
    events(eve, "purchase", 1, 2)
    assert match(merchant, {"field": "r_score", "op": "gte", "value": 5}) == ["ann"]
    assert match(merchant, {"field": "rfm_segment", "op": "in", "value": ["champions"]}) == ["ann"]
    purchases = {"field": "events", "event_type": "purchase", "within_days": 30, "op": "lte", "value": 5}
    assert "eve" not in match(merchant, purchases)
    # Not even through what the shop was told about them.
    assert match(merchant, {"field": "country", "op": "in", "value": ["GB"]}) == []
    assert match(merchant, {"field": "consent_profiling", "op": "eq", "value": False}) == []
    assert "eve" not in match(merchant)


@pytest.fixture
def interests(merchant):
    customer(
        merchant,
        "shirts",
        profile={"affinities": {"category": {"Shirts": 0.62, "Hats": 0.38}, "colour": {"Blue": 1.0}}},
    )
    customer(merchant, "hats", profile={"affinities": {"category": {"Hats": 0.9, "Shirts": 0.1}}})
    customer(
        merchant, "odd", profile={"affinities": {"category": {"Shirts": "lots", "2024": 0.7}, "brand": []}}
    )
    customer(merchant, "quotes", profile={"affinities": {"brand": {'Levi\'s "Red"': 0.5}}})
    customer(merchant, "empty", profile={"affinities": {}})
    customer(merchant, "unprofiled")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"kind": "category", "name": "Shirts", "op": "gte", "value": 0.5}, ["shirts"]),
        # At most: a name the customer has no (numeric) share of counts as 0; no profile, no match.
        (
            {"kind": "category", "name": "Shirts", "op": "lte", "value": 0.5},
            ["empty", "hats", "odd", "quotes"],
        ),
        ({"kind": "category", "name": "sHIRTS", "op": "gte", "value": 0.5}, ["shirts"]),
        ({"kind": "category", "name": "Hats", "op": "gte", "value": 0.38}, ["hats", "shirts"]),
        ({"kind": "colour", "name": "Blue", "op": "gte", "value": 1}, ["shirts"]),
        # A name that looks like a number is still an object key, never an array index.
        ({"kind": "category", "name": "2024", "op": "gte", "value": 0.5}, ["odd"]),
        # Quotes in a name are data, not SQL or JSON path syntax.
        ({"kind": "brand", "name": 'Levi\'s "Red"', "op": "gte", "value": 0.5}, ["quotes"]),
        ({"kind": "price_band", "name": "Shirts", "op": "gte", "value": 0}, []),
    ],
)
def test_affinity_conditions(merchant, interests, rule, expected):
    assert match(merchant, {"field": "affinity", **rule}) == expected


@pytest.fixture
def activity(merchant, other_merchant):
    often = customer(merchant, "often")
    events(often, "purchase", 1, 5, 20, 45)  # three in the last 30 days
    once = customer(merchant, "once")
    events(once, "purchase", 2)
    events(once, "view", 1, 1, 1)
    old = customer(merchant, "old")
    events(old, "purchase", 40, 50)
    customer(merchant, "never")
    # Anonymous events and another merchant's events are never counted.
    Event.objects.create(merchant=merchant, type="purchase", session_id="s1", occurred_at=timezone.now())
    stranger = customer(other_merchant, "often")
    events(stranger, "purchase", 1, 1, 1, 1)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"event_type": "purchase", "within_days": 30, "op": "gte", "value": 1}, ["often", "once"]),
        ({"event_type": "purchase", "within_days": 30, "op": "gte", "value": 3}, ["often"]),
        ({"event_type": "purchase", "within_days": 60, "op": "gte", "value": 2}, ["often", "old"]),
        ({"event_type": "purchase", "within_days": 30, "op": "eq", "value": 1}, ["once"]),
        ({"event_type": "purchase", "within_days": 30, "op": "eq", "value": 0}, ["never", "old"]),
        ({"event_type": "purchase", "within_days": 30, "op": "lte", "value": 1}, ["never", "old", "once"]),
        (
            {"event_type": "purchase", "within_days": 30, "op": "gte", "value": 0},
            ["never", "often", "old", "once"],
        ),
        ({"event_type": "view", "within_days": 7, "op": "gte", "value": 3}, ["once"]),
        ({"event_type": "any", "within_days": 30, "op": "gte", "value": 4}, ["once"]),
        ({"within_days": 30, "op": "gte", "value": 3}, ["often", "once"]),  # no event_type: any
    ],
)
def test_event_window_conditions(merchant, activity, rule, expected):
    assert match(merchant, {"field": "events", **rule}) == expected


@pytest.fixture
def people(merchant):
    now = timezone.now()
    customer(
        merchant,
        "gold",
        attributes={"tier": "Gold", "vip": True, "visits": 12, "note": "100% cotton fan"},
        country="GB",
        locale="en-GB",
        consent_marketing=True,
        first_seen_at=now - timedelta(days=5),
        last_seen_at=now - timedelta(days=1),
    )
    customer(
        merchant,
        "silver",
        attributes={"tier": "silver", "note": "likes_linen"},
        country="de",
        locale="de-DE",
        first_seen_at=now - timedelta(days=400),
        last_seen_at=now - timedelta(days=90),
    )
    customer(merchant, "bare", attributes={"tier": None}, country="United Kingdom", locale="en")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"field": "attribute", "key": "tier", "op": "eq", "value": "gold"}, ["gold"]),
        ({"field": "attribute", "key": "tier", "op": "neq", "value": "gold"}, ["bare", "silver"]),
        ({"field": "attribute", "key": "vip", "op": "eq", "value": "true"}, ["gold"]),
        ({"field": "attribute", "key": "visits", "op": "eq", "value": "12"}, ["gold"]),
        ({"field": "attribute", "key": "note", "op": "contains", "value": "100%"}, ["gold"]),
        # LIKE wildcards in the value are literal characters.
        ({"field": "attribute", "key": "note", "op": "contains", "value": "_"}, ["silver"]),
        ({"field": "attribute", "key": "tier", "op": "exists"}, ["gold", "silver"]),
        ({"field": "attribute", "key": "missing", "op": "exists"}, []),
        ({"field": "consent_marketing", "op": "eq", "value": True}, ["gold"]),
        ({"field": "consent_marketing", "value": "no"}, ["bare", "silver"]),
        ({"field": "consent_profiling", "op": "eq", "value": "yes"}, ["bare", "gold", "silver"]),
        ({"field": "country", "op": "in", "value": ["gb", "DE"]}, ["gold", "silver"]),
        ({"field": "country", "op": "in", "value": "United Kingdom, GB"}, ["bare", "gold"]),
        ({"field": "country", "op": "not_in", "value": ["GB"]}, ["bare", "silver"]),
        ({"field": "locale", "op": "eq", "value": "EN"}, ["bare"]),
        ({"field": "locale", "op": "startswith", "value": "en"}, ["bare", "gold"]),
        ({"field": "first_seen_days", "op": "lte", "value": 30}, ["gold"]),
        ({"field": "first_seen_days", "op": "gte", "value": 365}, ["silver"]),
        ({"field": "last_seen_days", "op": "lte", "value": 100}, ["gold", "silver"]),
        ({"field": "last_seen_days", "op": "gte", "value": 30}, ["silver"]),
    ],
)
def test_customer_conditions(merchant, people, rule, expected):
    assert match(merchant, rule) == expected


def test_all_and_any(merchant, people):
    gb = {"field": "country", "op": "in", "value": ["GB", "United Kingdom"]}
    new = {"field": "first_seen_days", "op": "lte", "value": 30}
    silver = {"field": "attribute", "key": "tier", "op": "eq", "value": "silver"}
    assert match(merchant, gb, new) == ["gold"]
    assert match(merchant, gb, new, how="any") == ["bare", "gold"]
    assert match(merchant, new, silver, how="any") == ["gold", "silver"]
    assert match(merchant, new, silver) == []
    assert match(merchant) == ["bare", "gold", "silver"]  # no condition: everyone


def test_segments_see_only_their_merchants_customers(merchant, other_merchant, people):
    customer(other_merchant, "gold-elsewhere", country="GB", attributes={"tier": "gold"})
    rule = {"field": "attribute", "key": "tier", "op": "eq", "value": "gold"}
    assert match(merchant, rule) == ["gold"]
    assert match(other_merchant, rule) == ["gold-elsewhere"]


def test_one_query_whatever_the_conditions(merchant, rfm, activity, django_assert_num_queries):
    rules = [
        {"field": "r_score", "op": "gte", "value": 2},
        {"field": "affinity", "kind": "brand", "name": "X", "op": "lte", "value": 0.5},
        {"field": "events", "event_type": "purchase", "within_days": 30, "op": "lte", "value": 2},
        {"field": "attribute", "key": "tier", "op": "neq", "value": "gold"},
        {"field": "country", "op": "not_in", "value": ["FR"]},
    ]
    queryset = segment_queryset(merchant=merchant, rules=rules, match="any")
    with django_assert_num_queries(1):
        assert queryset.count() == 8  # every customer is outside FR


# ---------- Validation ----------


def test_valid_rules_have_no_errors():
    rules = [
        {"field": "r_score", "op": "gte", "value": "4"},
        {"field": "events", "event_type": "purchase", "within_days": "30", "op": "gte", "value": 1},
    ]
    assert validate_rules(rules, "all") == {}


@pytest.mark.parametrize(
    ("rule", "key", "message"),
    [
        ("r_score >= 4", "field", "must be an object"),
        ({"field": "shoe_size", "op": "eq", "value": 4}, "field", "Unknown field"),
        ({"field": "r_score", "op": "in", "value": 4}, "op", "one of: eq, gte, lte"),
        ({"field": "r_score", "op": "gte", "value": 6}, "value", "from 1 to 5"),
        ({"field": "r_score", "op": "gte", "value": 2.5}, "value", "whole number"),
        ({"field": "r_score", "op": "gte", "value": "four"}, "value", "Enter a number"),
        ({"field": "r_score", "op": "gte", "value": True}, "value", "Enter a number"),
        ({"field": "r_score", "op": "gte"}, "value", "Enter a number"),
        ({"field": "churn_risk", "op": "gte", "value": 1.5}, "value", "from 0 to 1"),
        ({"field": "frequency", "op": "gte", "value": -1}, "value", "at least 0"),
        ({"field": "monetary", "op": "gte", "value": "NaN"}, "value", "smaller number"),
        ({"field": "monetary", "op": "gte", "value": "1e400"}, "value", "smaller number"),
        ({"field": "rfm_segment", "op": "in", "value": ["champs"]}, "value", "Unknown RFM group"),
        ({"field": "rfm_segment", "op": "in", "value": []}, "value", "at least one"),
        ({"field": "affinity", "kind": "mood", "name": "x", "op": "gte", "value": 0.1}, "kind", "category"),
        ({"field": "affinity", "kind": "brand", "name": "", "op": "gte", "value": 0.1}, "name", "required"),
        (
            {"field": "affinity", "kind": "brand", "name": "x", "op": "gte", "value": 2},
            "value",
            "from 0 to 1",
        ),
        (
            {"field": "events", "event_type": "hug", "within_days": 3, "op": "gte", "value": 1},
            "event_type",
            "purchase",
        ),
        (
            {"field": "events", "event_type": "view", "within_days": 0, "op": "gte", "value": 1},
            "within_days",
            "from 1",
        ),
        ({"field": "events", "event_type": "view", "op": "gte", "value": 1}, "within_days", "Enter a number"),
        ({"field": "attribute", "key": "", "op": "eq", "value": "x"}, "key", "required"),
        ({"field": "attribute", "key": "2024", "op": "eq", "value": "x"}, "key", "Start with a letter"),
        ({"field": "attribute", "key": "tier", "op": "contains", "value": ""}, "value", "required"),
        ({"field": "attribute", "key": "tier", "op": "eq", "value": {"a": 1}}, "value", "Enter text"),
        ({"field": "consent_marketing", "op": "eq", "value": "maybe"}, "value", "yes or no"),
        ({"field": "country", "op": "in", "value": " , "}, "value", "at least one"),
        ({"field": "country", "op": "in", "value": ["x" * 65]}, "value", "At most 64"),
        ({"field": "locale", "op": "eq", "value": "en\n"}, "value", None),
        ({"field": "locale", "op": "eq", "value": "a\x00b"}, "value", "Control characters"),
        (
            {"field": "r_score", "op": "gte", "value": 4, "extra": 1},
            "field",
            "Unknown key(s) for r_score: extra",
        ),
    ],
)
def test_invalid_conditions_get_errors_by_index(rule, key, message):
    rules = [{"field": "r_score", "op": "gte", "value": 4}, rule]
    errors = validate_rules(rules, "all")
    if message is None:  # surrounding whitespace is trimmed: valid
        assert errors == {}
        return
    assert list(errors) == ["rules"] and list(errors["rules"]) == [1]
    assert list(errors["rules"][1]) == [key]
    assert message in errors["rules"][1][key][0]


def test_whole_list_errors():
    assert validate_rules({"field": "r_score"}, "all") == {"rules": ["Send a list of conditions."]}
    assert validate_rules([], "all") == {"rules": ["Add at least one condition."]}
    assert validate_rules([], "all", allow_empty=True) == {}
    assert validate_rules([{"field": "r_score", "op": "eq", "value": 1}], "some") == {
        "match": ["Choose all or any."]
    }
    too_many = [{"field": "r_score", "op": "eq", "value": 1}] * 21
    assert validate_rules(too_many, "all") == {"rules": ["At most 20 conditions."]}


def test_segment_queryset_refuses_invalid_rules(merchant):
    with pytest.raises(SegmentInvalid) as caught:
        segment_queryset(
            merchant=merchant, rules=[{"field": "r_score", "op": "gte", "value": 9}], match="all"
        )
    assert caught.value.errors == {"rules": {0: {"value": ["Enter a number from 1 to 5."]}}}
    assert caught.value.message_dict == {"rules": ["Condition 1: Enter a number from 1 to 5."]}


def test_any_keeps_customers_without_a_profile(merchant, rfm):
    customer(merchant, "gb-no-profile", country="GB")
    rules = [
        {"field": "r_score", "op": "gte", "value": 5},
        {"field": "affinity", "kind": "brand", "name": "Acme", "op": "gte", "value": 0.1},
        {"field": "country", "op": "in", "value": ["GB"]},
    ]
    assert match(merchant, *rules, how="any") == ["ann", "gb-no-profile"]
