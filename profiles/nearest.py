"""A customer's interest "nearest products": cosine similarity between the profile's interest vector and the
MiniLM vectors of the merchant's active products (chat.models.ProductEmbedding), in the web process with numpy
only (no model is loaded: both sides are stored vectors).

The merchant's product vectors are read once into a unit-normalised float32 matrix and kept in this process
while they are unchanged (their count and latest update are checked on every call, one aggregate query), so a
customer page does not re-read the catalog's vectors from JSON each time. The cache holds a few merchants.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from django.db.models import Count, Max, QuerySet

from accounts.models import Merchant
from catalog.models import Product
from chat.models import ProductEmbedding
from profiles.selectors import active_products_by_id

_CACHE_MERCHANTS = 4
_cache: OrderedDict[int, tuple[tuple, np.ndarray, np.ndarray]] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class NearProduct:
    product: Product
    similarity: float  # cosine, -1..1


def _embeddings(merchant: Merchant) -> QuerySet[ProductEmbedding]:
    return ProductEmbedding.objects.filter(merchant=merchant, product__is_active=True)


def _product_matrix(merchant: Merchant) -> tuple[np.ndarray, np.ndarray]:
    """(product ids, unit-row matrix) of the merchant's active products' vectors, from the cache when fresh."""
    stamp_row = _embeddings(merchant).aggregate(n=Count("id"), latest=Max("updated_at"))
    stamp = (stamp_row["n"], stamp_row["latest"])
    with _lock:
        cached = _cache.get(merchant.pk)
        if cached is not None and cached[0] == stamp:
            _cache.move_to_end(merchant.pk)
            return cached[1], cached[2]
    rows = list(_embeddings(merchant).values_list("product_id", "vector"))
    ids, matrix = _to_matrix(rows)
    with _lock:
        _cache[merchant.pk] = (stamp, ids, matrix)
        _cache.move_to_end(merchant.pk)
        while len(_cache) > _CACHE_MERCHANTS:
            _cache.popitem(last=False)
    return ids, matrix


def _to_matrix(rows: list[tuple[int, list]]) -> tuple[np.ndarray, np.ndarray]:
    # Vectors of the most common length only: a product embedded by another model cannot be compared.
    lengths = [len(v) for _, v in rows if isinstance(v, list) and v]
    if not lengths:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    dim = max(set(lengths), key=lengths.count)
    kept = [(pk, v) for pk, v in rows if isinstance(v, list) and len(v) == dim]
    ids = np.array([pk for pk, _ in kept], dtype=np.int64)
    matrix = np.array([v for _, v in kept], dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1)
    nonzero = norms > 0
    matrix = matrix[nonzero] / norms[nonzero, None]
    return ids[nonzero], matrix


def nearest_products(*, merchant: Merchant, vector: list | None, limit: int = 6) -> list[NearProduct]:
    """The merchant's active products most similar to `vector`, best first; [] without a usable vector."""
    if not vector or limit <= 0:
        return []
    query = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(query))
    ids, matrix = _product_matrix(merchant)
    if norm == 0 or matrix.size == 0 or query.shape != (matrix.shape[1],):
        return []
    scores = matrix @ (query / norm)
    # A few spares: a product deactivated since the cache was filled is dropped below.
    take = min(len(scores), limit * 2)
    best = np.argpartition(-scores, take - 1)[:take]
    best = best[np.lexsort((ids[best], -scores[best]))]
    products = active_products_by_id(merchant=merchant, product_ids=[int(ids[i]) for i in best])
    found = [
        NearProduct(product=products[int(ids[i])], similarity=float(scores[i]))
        for i in best
        if int(ids[i]) in products
    ]
    return found[:limit]
