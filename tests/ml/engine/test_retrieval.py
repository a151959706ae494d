"""Hybrid ranking for chat retrieval: cosine and full-text scores fused into one calibrated relevance.
Pure Python: no database, no model."""

import math

import pytest

from ml.engine.retrieval import SEMANTIC_CEILING, SEMANTIC_FLOOR, cosine, hybrid_rank, semantic_score

MIN_RELEVANCE = 0.35  # ChatSettings.min_relevance's default


def unit_at(cos: float) -> list[float]:
    """A unit vector with the given cosine to [1, 0, 0]."""
    return [cos, math.sqrt(1 - cos * cos), 0.0]


QUERY = [1.0, 0.0, 0.0]


def test_cosine_basics():
    assert cosine([1, 0], [1, 0]) == pytest.approx(1.0)
    assert cosine([1, 0], [0, 1]) == pytest.approx(0.0)
    assert cosine([1, 0], [-1, 0]) == pytest.approx(-1.0)
    assert cosine([3, 4], [6, 8]) == pytest.approx(1.0)  # not unit length: normalised
    assert cosine([0, 0], [1, 0]) == 0.0
    with pytest.raises(ValueError, match="differ in length"):
        cosine([1, 0], [1, 0, 0])


def test_semantic_score_is_clipped_and_monotonic():
    assert semantic_score(-0.5) == 0.0
    assert semantic_score(SEMANTIC_FLOOR) == 0.0
    assert semantic_score(SEMANTIC_CEILING) == 1.0
    assert semantic_score(0.95) == 1.0
    assert semantic_score(float("nan")) == 0.0
    values = [semantic_score(c / 100) for c in range(-20, 101)]
    assert values == sorted(values)


@pytest.mark.parametrize(
    "cos, passes",
    [
        (0.38, True),
        (0.5, True),
        (0.59, True),
        (0.8, True),  # paraphrased FAQ matches seen with MiniLM
        (0.0, False),
        (0.15, False),
        (0.25, False),
        (0.29, False),  # unrelated or merely nearby
    ],
)
def test_calibration_against_the_default_min_relevance(cos, passes):
    ranked = hybrid_rank(QUERY, [("faq", unit_at(cos))], {})
    top = ranked[0][1] if ranked else 0.0
    assert (top >= MIN_RELEVANCE) is passes


def test_ranks_by_fused_score_and_keeps_the_best_k():
    candidates = [(("knowledge", i), unit_at(c)) for i, c in enumerate([0.2, 0.7, 0.45, 0.5, 0.3])]
    ranked = hybrid_rank(QUERY, candidates, {}, k=3)
    assert [key for key, _ in ranked] == [("knowledge", 1), ("knowledge", 3), ("knowledge", 2)]
    scores = [score for _, score in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_lexical_scores_are_normalised_per_query_and_break_semantic_ties():
    candidates = [("a", unit_at(0.5)), ("b", unit_at(0.5))]
    tiny = hybrid_rank(QUERY, candidates, {"a": 0.0001, "b": 0.0004})
    large = hybrid_rank(QUERY, candidates, {"a": 1.0, "b": 4.0})
    assert [k for k, _ in tiny] == ["b", "a"]
    assert [k for k, _ in large] == ["b", "a"]
    assert [s for _, s in tiny] == pytest.approx([s for _, s in large])
    assert tiny[0][1] == pytest.approx(0.7 * semantic_score(0.5) + 0.3 * 1.0)
    assert tiny[1][1] == pytest.approx(0.7 * semantic_score(0.5) + 0.3 * 0.25)


def test_exact_lexical_hit_without_vector_wins():
    # A SKU search: the product has no embedding yet, the FAQs are semantically close-ish.
    candidates = [(("knowledge", 1), unit_at(0.55)), (("product", 7), None)]
    ranked = hybrid_rank(QUERY, candidates, {("product", 7): 0.09})
    assert ranked[0] == (("product", 7), 1.0)
    assert ranked[0][1] >= MIN_RELEVANCE


def test_no_query_vector_falls_back_to_lexical_only():
    candidates = [("a", unit_at(0.9)), ("b", unit_at(0.1))]
    ranked = hybrid_rank(None, candidates, {"b": 0.2, "a": 0.05})
    assert ranked == [("b", 1.0), ("a", pytest.approx(0.25))]
    assert hybrid_rank(None, candidates, {}) == []


def test_keys_only_in_lexical_scores_are_candidates_and_nothing_in_common_is_dropped():
    ranked = hybrid_rank(QUERY, [("far", unit_at(-0.3))], {"only_lexical": 0.3})
    assert ranked == [("only_lexical", 1.0)]


def test_mismatched_vector_dimensions_count_as_no_vector():
    ranked = hybrid_rank(QUERY, [("old_model", [0.1] * 5), ("ok", unit_at(0.6))], {"old_model": 0.1})
    assert dict(ranked) == {"old_model": 1.0, "ok": pytest.approx(0.7 + 0.0)}


def test_bad_lexical_values_are_ignored_and_ties_keep_candidate_order():
    candidates = [("x", unit_at(0.5)), ("y", unit_at(0.5)), ("z", unit_at(0.5))]
    ranked = hybrid_rank(QUERY, candidates, {"x": float("nan"), "y": -1, "z": "junk"})
    assert [k for k, _ in ranked] == ["x", "y", "z"]


def test_arguments_are_validated():
    assert hybrid_rank(QUERY, [("a", unit_at(0.9))], {}, k=0) == []
    with pytest.raises(ValueError):
        hybrid_rank(QUERY, [], {}, semantic_weight=1.5)
    only_semantic = hybrid_rank(QUERY, [("a", unit_at(0.9))], {"a": 1}, semantic_weight=1.0)
    assert only_semantic == [("a", 1.0)]
