"""Hybrid ranking for chat retrieval: MiniLM cosine similarity fused with PostgreSQL full-text scores.

Standard library only (the web process and the chat worker both rank). Public API:

    hybrid_rank(query_vector, candidates, lexical_scores, *, k=5, semantic_weight=0.7) -> [(key, score)]
    cosine(a, b) -> float
    semantic_score(cos) -> float in [0, 1]
    SEMANTIC_FLOOR, SEMANTIC_CEILING

Calibration. The caller hands off when the best fused score is below ChatSettings.min_relevance (0.35 by
default), so the score is built to put that line between "answers the question" and "does not":
- Semantic part. ``semantic_score`` maps cosine linearly from SEMANTIC_FLOOR (0.10 -> 0) to SEMANTIC_CEILING
  (0.60 -> 1), clipped. With the default weight 0.7 and no lexical match, the 0.35 line falls at cosine 0.35.
  Measured with all-MiniLM-L6-v2 (questions against "title\nbody" FAQ texts): the right FAQ for a paraphrased
  question scored 0.38-0.59 ("can I send back a shirt that does not fit" vs the return policy 0.38, "i want to
  stop my purchase" vs "How do I cancel my order?" 0.59); wrong FAQs and off-topic questions ("what is the
  capital of france", "do you sell bicycles") at most 0.25, mostly under 0.15. So a cosine of 0.38 scores 0.39
  and passes, 0.25 scores 0.21 and hands off; nearby but unanswered questions (0.29, "is the bottle dishwasher
  safe" vs the bottle) hand off too.
- Lexical part. ts_rank values are small and unbounded, so they are divided by the query's best lexical score:
  the best lexical match gets 1.0, the rest a share of it. With plainto_tsquery every query word has to
  match, so a lexical hit is real evidence; it adds up to 1 - semantic_weight (0.3) to the semantic part.
- No semantic signal. A candidate without a vector (not embedded yet, or from another embedding model) or a
  query without one (the embedder is down) is scored on lexical evidence alone: the normalised lexical score
  itself. So an exact SKU or order-term hit scores 1.0 and wins even with no vector.
Fused scores are in [0, 1]; candidates scoring 0 (nothing in common) are left out.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

__all__ = ["SEMANTIC_CEILING", "SEMANTIC_FLOOR", "cosine", "hybrid_rank", "semantic_score"]

SEMANTIC_FLOOR = 0.10
SEMANTIC_CEILING = 0.60


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; 0.0 when either vector is all zeros. Vectors of different lengths are an error."""
    if len(a) != len(b):
        raise ValueError(f"vectors differ in length ({len(a)} and {len(b)})")
    dot = norm_a = norm_b = 0.0
    for x, y in zip(a, b, strict=True):
        x, y = float(x), float(y)
        dot += x * y
        norm_a += x * x
        norm_b += y * y
    if norm_a <= 0.0 or norm_b <= 0.0 or not math.isfinite(dot):
        return 0.0
    return max(-1.0, min(1.0, dot / math.sqrt(norm_a * norm_b)))


def semantic_score(cos: float) -> float:
    """Cosine mapped to [0, 1]: SEMANTIC_FLOOR and below -> 0, SEMANTIC_CEILING and above -> 1."""
    if not math.isfinite(cos):
        return 0.0
    return max(0.0, min(1.0, (cos - SEMANTIC_FLOOR) / (SEMANTIC_CEILING - SEMANTIC_FLOOR)))


def hybrid_rank(
    query_vector: Sequence[float] | None,
    candidates: Sequence[tuple[Hashable, Sequence[float] | None]],
    lexical_scores: Mapping[Hashable, float],
    *,
    k: int = 5,
    semantic_weight: float = 0.7,
) -> list[tuple[Hashable, float]]:
    """The best ``k`` candidates as ``(key, fused score)``, best first; ties keep the candidates' order.

    ``candidates`` are ``(key, vector or None)``; keys found only in ``lexical_scores`` are candidates without
    a vector. A vector of a different length from the query's counts as no vector."""
    if not 0.0 <= semantic_weight <= 1.0:
        raise ValueError("semantic_weight must be between 0 and 1")
    if k <= 0:
        return []
    order: dict[Hashable, Sequence[float] | None] = {}
    for key, vector in candidates:
        if key not in order or order[key] is None:
            order[key] = vector
    for key in lexical_scores:
        order.setdefault(key, None)

    lexical = {key: _finite_positive(score) for key, score in lexical_scores.items()}
    best_lexical = max(lexical.values(), default=0.0)
    query = list(query_vector) if query_vector is not None and len(query_vector) else None

    scored = []
    for position, (key, vector) in enumerate(order.items()):
        lex = lexical.get(key, 0.0) / best_lexical if best_lexical > 0 else 0.0
        if query is not None and vector is not None and len(vector) == len(query):
            score = semantic_weight * semantic_score(cosine(query, vector)) + (1 - semantic_weight) * lex
        else:
            score = lex
        if score > 0.0:
            scored.append((-score, position, key))
    scored.sort()
    return [(key, min(1.0, -neg)) for neg, _, key in scored[:k]]


def _finite_positive(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) and value > 0 else 0.0
