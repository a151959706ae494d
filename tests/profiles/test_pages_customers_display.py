"""How profile figures read on the customer pages: the worker's explanation JSON in words, churn levels,
affinity rows, and the RFM badge template tag (scores and segment always in words)."""

import pytest
from django.template import Context, Template

from profiles.display import affinity_rows, churn_level, explanation_sections, rfm_label
from profiles.models import CustomerProfile


def test_explanation_in_words_one_section_per_part():
    explanation = {
        "churn": {
            "method": "logistic",
            "risk": 0.71,
            "horizon_days": 90,
            "summary": "High risk (71%) of no order in the next 90 days.",
            "factors": [
                {
                    "feature": "recency_days",
                    "value": 140,
                    "effect": "raises",
                    "text": "Last order 140 days ago.",
                },
                {"feature": "orders", "value": 1, "effect": "raises", "text": "Only one order."},
            ],
        },
        "next_purchase": {
            "method": "none",
            "text": "One order so far and no repeat customers to learn from.",
        },
        "version": 2,
    }
    sections = explanation_sections(explanation)
    assert [s.title for s in sections] == ["", "Churn", "Next purchase"]
    top, churn, window = sections
    assert top.sentences == [] and top.details == ["Version: 2"]
    assert churn.sentences == [
        "High risk (71%) of no order in the next 90 days.",
        "Last order 140 days ago.",
        "Only one order.",
    ]
    assert churn.details == ["Method: logistic", "Risk: 0.71", "Horizon days: 90"]
    # "method: none" says nothing a reader needs.
    assert window.sentences == ["One order so far and no repeat customers to learn from."]
    assert window.details == []


@pytest.mark.parametrize(
    ("explanation", "expected"),
    [
        (None, []),
        ({}, []),
        ("plain text", [("", ["plain text"], [])]),
        ({"weights": {"view": 1, "purchase": 5.5}}, [("Weights", [], ["View: 1", "Purchase: 5.5"])]),
        (
            {"flags": [True, False], "median_interval_days": 21.25},
            [("", [], ["Flags: yes, no", "Median interval days: 21.25"])],
        ),
        ({"method": "own_intervals"}, [("", [], ["Method: own intervals"])]),
    ],
)
def test_explanation_shapes(explanation, expected):
    assert [(s.title, s.sentences, s.details) for s in explanation_sections(explanation)] == expected


@pytest.mark.parametrize(
    ("risk", "label", "tone", "percent"),
    [
        (0.0, "Low", "success", 0),
        (0.32, "Low", "success", 32),
        (0.5, "Medium", "warning", 50),
        (0.67, "High", "danger", 67),
        (1.4, "High", "danger", 100),
    ],
)
def test_churn_levels(risk, label, tone, percent):
    level = churn_level(risk)
    assert (level.label, level.tone, level.percent) == (label, tone, percent)


def test_no_churn_estimate():
    assert churn_level(None) is None


def test_affinity_rows_largest_first_bad_entries_skipped():
    affinities = {
        "category": {"b": 0.2, "a": 0.2, "c": 0.5, "bad": "x", "zero": 0, "none": None},
        "brand": [],
    }
    assert affinity_rows(affinities, "category") == [("c", 0.5), ("a", 0.2), ("b", 0.2)]
    assert affinity_rows(affinities, "category", limit=1) == [("c", 0.5)]
    assert affinity_rows(affinities, "brand") == []
    assert affinity_rows(None, "colour") == []


def test_rfm_labels():
    assert rfm_label("at_risk") == "At risk"
    assert rfm_label("something_else") == "something_else"
    assert rfm_label("") == ""


def render_badge(profile):
    return Template("{% load profiles_tags %}{% rfm_badge profile %}").render(Context({"profile": profile}))


def test_rfm_badge_says_scores_and_segment_in_words():
    html = render_badge(CustomerProfile(r_score=2, f_score=4, m_score=5, rfm_segment="at_risk"))
    assert "Recency 2 of 5, frequency 4 of 5, monetary 5 of 5." in html
    assert '<span class="badge badge-danger rfm-segment" title="Used to buy often' in html
    assert ">At risk</span>" in html
    assert 'class="rfm-score rfm-score-2" aria-hidden="true" title="Recency 2 of 5">R2<' in html


def test_rfm_badge_for_a_prospect_and_for_no_profile():
    prospect = render_badge(CustomerProfile(rfm_segment="prospect"))
    assert "Prospects (no purchase)" in prospect and "badge-muted" in prospect
    assert "rfm-scores" not in prospect  # no purchase, no scores
    assert render_badge(None).strip() == '<span class="muted">—</span>'
