"""The Django side of chat retrieval: finds the knowledge items and products a shopper's question is about.

Two signals, fused by the engine's `hybrid_rank`:
- semantic: cosine between the question's MiniLM vector and the stored vectors (KnowledgeItem.embedding,
  ProductEmbedding.vector), computed here with numpy over the merchant's rows;
- lexical: PostgreSQL full-text search (title and body of knowledge; title, brand, SKU and description of
  products), so exact terms a sentence encoder blurs (SKUs, model numbers, product names) still match. A row
  is a hit when it holds every question word the store uses anywhere, and those are at least half the
  question's words (see `_covering`). An exact SKU in the question scores as a perfect lexical hit. On SQLite
  (the embedded demo) the same rule runs over plain substrings.

Only active, shopper-facing knowledge is ever a candidate: internal items never reach a shopper's prompt.
Imported by the chat worker only (numpy and the engine's ranking)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

import numpy as np
from django.db import connection
from django.db.models import Max, Q

from catalog.models import Product
from chat.models import KnowledgeItem, ProductEmbedding
from ml.engine.retrieval import hybrid_rank

SEMANTIC_PRODUCT_CANDIDATES = 50
LEXICAL_CANDIDATES = 100
_LEXEME = re.compile(r"'((?:[^']|'')+)'")
MAX_QUERY_TOKENS = 24
_TOKEN = re.compile(r"[0-9A-Za-z][0-9A-Za-z\-_.#/]*[0-9A-Za-z]|[0-9A-Za-z]")
# Common question words carry no signal for matching (PostgreSQL drops its own stop words as well).
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "be",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "please",
        "the",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)


@dataclass
class RetrievalResult:
    knowledge: list[tuple[KnowledgeItem, float]] = field(default_factory=list)
    products: list[tuple[Product, float]] = field(default_factory=list)

    @property
    def top_score(self) -> float:
        scores = [s for _, s in self.knowledge] + [s for _, s in self.products]
        return max(scores, default=0.0)

    def sources(self) -> list[dict]:
        rows = [
            {"type": "knowledge", "id": item.pk, "title": item.title, "score": round(float(score), 4)}
            for item, score in self.knowledge
        ] + [
            {"type": "product", "id": product.pk, "title": product.title, "score": round(float(score), 4)}
            for product, score in self.products
        ]
        return sorted(rows, key=lambda row: -row["score"])


def query_tokens(question: str) -> list[str]:
    tokens = []
    for token in _TOKEN.findall(question):
        lowered = token.lower()
        if lowered not in _STOP and lowered not in tokens:
            tokens.append(lowered)
    return tokens[:MAX_QUERY_TOKENS]


def _sku_variants(question: str) -> list[str]:
    raw = [t.strip(".,;:!?") for t in question.split()]
    return sorted({v for t in raw if t for v in (t, t.upper(), t.lower())})[: 3 * MAX_QUERY_TOKENS]


# --- lexical -----------------------------------------------------------------------------------------------


def _postgres_lexemes(tokens: list[str]) -> dict[str, frozenset[str]]:
    """Each token as PostgreSQL's English configuration indexes it (stemmed; stop words give nothing)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT t, plainto_tsquery('english', t)::text FROM unnest(%s::text[]) AS t", [tokens])
        return {token: frozenset(_LEXEME.findall(query or "")) for token, query in cursor.fetchall()}


def _postgres_scores(queryset, fields: dict[str, str], tokens: list[str]) -> dict[int, float]:
    from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
    from django.db.models import TextField
    from django.db.models.functions import Cast

    vector = None
    for name, weight in fields.items():
        part = SearchVector(name, weight=weight, config="english")
        vector = part if vector is None else vector + part
    any_token = None
    for token in tokens:
        part = SearchQuery(token, config="english", search_type="plain")
        any_token = part if any_token is None else any_token | part
    # Filtering on the match itself (@@) matters: ts_rank gives rows that do not match a tiny non-zero rank.
    rows = list(
        queryset.annotate(
            search=vector,
            rank=SearchRank(vector, any_token, normalization=32),
            lexemes=Cast(vector, TextField()),
        )
        .filter(search=any_token)
        .order_by("-rank")
        .values_list("pk", "rank", "lexemes")[:LEXICAL_CANDIDATES]
    )
    if not rows:
        return {}
    by_token = {t: lx for t, lx in _postgres_lexemes(tokens).items() if lx}
    row_lexemes = {pk: frozenset(_LEXEME.findall(text)) for pk, _, text in rows}
    return _covering(
        {pk: rank for pk, rank, _ in rows},
        row_lexemes,
        by_token,
        contains=lambda row, lexemes: lexemes <= row,
    )


def _covering(ranks: dict, rows: dict, by_token: dict, *, contains) -> dict[int, float]:
    """The rows holding every *informative* token of the question -- one that occurs somewhere in what was
    searched (words like "tell" or "about" that the store never uses carry no evidence) -- provided those
    are at least half of the question's words. A lexical hit then is real evidence: the engine's hybrid_rank
    gives the best one full lexical credit."""
    informative = [t for t, lx in by_token.items() if any(contains(row, lx) for row in rows.values())]
    if not informative or len(informative) * 2 < len(by_token):
        return {}
    return {
        pk: float(ranks[pk])
        for pk, row in rows.items()
        if all(contains(row, by_token[t]) for t in informative)
    }


def _fallback_scores(queryset, fields: dict[str, str], tokens: list[str]) -> dict[int, float]:
    """SQLite (the embedded demo) has no full-text search: the same rule over plain substrings, each hit
    scoring the share of the question's tokens it holds."""
    condition = Q()
    for token in tokens:
        for name in fields:
            condition |= Q(**{f"{name}__icontains": token})
    rows = {
        row["pk"]: " ".join(str(row[name] or "") for name in fields).lower()
        for row in queryset.filter(condition).values("pk", *fields)[:LEXICAL_CANDIDATES]
    }
    ranks = {pk: sum(t in text for t in tokens) / len(tokens) for pk, text in rows.items()}
    return _covering(ranks, rows, {t: t for t in tokens}, contains=lambda row, token: token in row)


def lexical_scores(queryset, fields: dict[str, str], question: str) -> dict[int, float]:
    tokens = query_tokens(question)
    if not tokens:
        return {}
    if connection.vendor == "postgresql":
        return _postgres_scores(queryset, fields, tokens)
    return _fallback_scores(queryset, fields, tokens)


# --- semantic ----------------------------------------------------------------------------------------------

_product_matrices: dict[int, tuple[tuple, list[int], np.ndarray]] = {}
_matrix_lock = threading.Lock()


def _product_matrix(merchant_id: int) -> tuple[list[int], np.ndarray]:
    """The merchant's product vectors as one matrix, rebuilt only when a vector changed (kept per process:
    parsing thousands of JSON vectors on every turn would dominate the retrieval time)."""
    rows = ProductEmbedding.objects.filter(merchant_id=merchant_id, product__is_active=True)
    stamp = tuple(rows.aggregate(n=Max("id"), t=Max("updated_at")).values()) + (rows.count(),)
    with _matrix_lock:
        cached = _product_matrices.get(merchant_id)
        if cached and cached[0] == stamp:
            return cached[1], cached[2]
    ids, vectors = [], []
    for product_id, vector in rows.values_list("product_id", "vector").iterator(chunk_size=2000):
        if vector:
            ids.append(product_id)
            vectors.append(vector)
    matrix = np.asarray(vectors, dtype=np.float32) if vectors else np.zeros((0, 1), dtype=np.float32)
    with _matrix_lock:
        _product_matrices[merchant_id] = (stamp, ids, matrix)
    return ids, matrix


def _semantic_product_candidates(merchant_id: int, query_vector: np.ndarray) -> dict[int, list[float]]:
    ids, matrix = _product_matrix(merchant_id)
    if not ids or matrix.shape[1] != query_vector.shape[0]:
        return {}
    scores = matrix @ query_vector
    top = np.argsort(-scores)[:SEMANTIC_PRODUCT_CANDIDATES]
    return {ids[i]: matrix[i].tolist() for i in top}


# --- fused -------------------------------------------------------------------------------------------------

KNOWLEDGE_FIELDS = {"title": "A", "body": "B"}
PRODUCT_FIELDS = {"title": "A", "sku": "A", "brand": "B", "description": "C"}


def retrieve(
    *, merchant_id: int, question: str, query_vector, k: int = 5, semantic_weight: float = 0.7
) -> RetrievalResult:
    """The top-k knowledge items and products for a question, each with its fused score."""
    query_vector = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    tokens = query_tokens(question)
    knowledge_qs = KnowledgeItem.objects.filter(merchant_id=merchant_id, is_active=True, is_internal=False)
    product_qs = Product.objects.filter(merchant_id=merchant_id, is_active=True)

    lexical: dict[str, float] = {}
    for pk, score in lexical_scores(knowledge_qs, KNOWLEDGE_FIELDS, question).items():
        lexical[f"knowledge:{pk}"] = score
    for pk, score in lexical_scores(product_qs, PRODUCT_FIELDS, question).items():
        lexical[f"product:{pk}"] = score
    if tokens:
        # An exact SKU anywhere in the question is the strongest lexical evidence there is.
        best = max(lexical.values(), default=1.0)
        for pk in product_qs.filter(sku__in=_sku_variants(question)).values_list("pk", flat=True)[:20]:
            lexical[f"product:{pk}"] = max(best, 1.0)

    candidates: list[tuple[str, list[float] | None]] = []
    for pk, vector in knowledge_qs.values_list("pk", "embedding"):
        candidates.append((f"knowledge:{pk}", vector or None))
    semantic_products = _semantic_product_candidates(merchant_id, query_vector)
    for pk, vector in semantic_products.items():
        candidates.append((f"product:{pk}", vector))
    lexical_only = [
        key for key in lexical if key.startswith("product:") and int(key[8:]) not in semantic_products
    ]
    vectors = dict(
        ProductEmbedding.objects.filter(product_id__in=[int(key[8:]) for key in lexical_only]).values_list(
            "product_id", "vector"
        )
    )
    for key in lexical_only:
        candidates.append((key, vectors.get(int(key[8:]))))
    if not candidates:
        return RetrievalResult()

    ranked = hybrid_rank(query_vector, candidates, lexical, k=k, semantic_weight=semantic_weight)
    knowledge_ids = {int(key.split(":")[1]): score for key, score in ranked if key.startswith("knowledge:")}
    product_ids = {int(key.split(":")[1]): score for key, score in ranked if key.startswith("product:")}
    items = KnowledgeItem.objects.in_bulk(list(knowledge_ids))
    products = Product.objects.select_related("category").in_bulk(list(product_ids))
    return RetrievalResult(
        knowledge=[(items[pk], score) for pk, score in knowledge_ids.items() if pk in items],
        products=[(products[pk], score) for pk, score in product_ids.items() if pk in products],
    )
