"""How close generated copy is to the merchant's own and to the product: ROUGE-L, chrF and fact coverage.
Standard library only; the copy model's promotion gate and bench/copy_finetune_bench.py use them."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from ml.engine.verification.statements import forms
from ml.engine.verification.vocabulary import FUNCTION_WORDS


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", str(text or "").lower())


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased word tokens (longest common subsequence)."""
    a, b = _words(candidate), _words(reference)
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[-1]))
        previous = current
    lcs = previous[-1]
    if not lcs:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def chrf(candidate: str, reference: str, n: int = 6, beta: float = 2.0) -> float:
    """chrF: character n-grams up to ``n`` (spaces removed), recall weighted by ``beta``, on a 0-1 scale."""
    hyp, ref = re.sub(r"\s+", "", str(candidate or "")), re.sub(r"\s+", "", str(reference or ""))
    precisions, recalls = [], []
    for k in range(1, n + 1):
        h = Counter(hyp[i : i + k] for i in range(len(hyp) - k + 1))
        r = Counter(ref[i : i + k] for i in range(len(ref) - k + 1))
        if not h or not r:
            continue
        overlap = sum((h & r).values())
        precisions.append(overlap / sum(h.values()))
        recalls.append(overlap / sum(r.values()))
    if not precisions:
        return 0.0
    precision, recall = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    if precision + recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def fact_coverage(text: str, product: Mapping) -> float:
    """Share of the product title's content words (what it is, its colour, fit, ...; the brand left out) that
    the text mentions, in any inflection. 1.0 for a title with none."""
    brand = set(_words(product.get("brand") or ""))
    wanted = {w for w in _words(product.get("title") or "") if len(w) > 2 and w not in FUNCTION_WORDS} - brand
    if not wanted:
        return 1.0
    have = {f for w in _words(text) for f in forms(w)}
    return sum(bool(forms(w) & have) for w in wanted) / len(wanted)
