"""Keeps the retrieval vectors of knowledge items and products fresh, in an `ml` worker (it reaches torch
through the embedder). A vector is rewritten only when the text it was made from (or the model) changed."""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.utils import timezone

from catalog.models import Product
from chat.models import KnowledgeItem, ProductEmbedding, product_vectors_changed
from chat.replies.engine import default_embedder, embedder_name
from chat.selectors import (
    products_needing_embedding,
)

EMBED_BATCH = 64
PRODUCTS_PER_RUN = 512


def text_hash(text: str, model_name: str) -> str:
    return hashlib.sha256(f"{model_name}\n{text}".encode()).hexdigest()


def _vectors(embedder, texts: list[str]) -> list[list[float]]:
    out = []
    for start in range(0, len(texts), EMBED_BATCH):
        for row in embedder.embed(texts[start : start + EMBED_BATCH]):
            out.append([round(float(x), 6) for x in row])
    return out


def embed_knowledge_run(merchant_id: int, *, embedder=None) -> int:
    """(Re)compute the vectors of knowledge items whose text changed; returns how many were written. An
    item edited meanwhile is left for the task its edit queued."""
    embedder = embedder or default_embedder()
    name = embedder_name(embedder)
    stale = [
        item
        for item in KnowledgeItem.objects.filter(merchant_id=merchant_id).only(
            "pk", "title", "body", "embedded_text_hash", "updated_at"
        )
        if item.embedded_text_hash != text_hash(item.text_for_embedding, name)
    ]
    if not stale:
        return 0
    written = 0
    for item, vector in zip(stale, _vectors(embedder, [i.text_for_embedding for i in stale])):
        written += KnowledgeItem.objects.filter(pk=item.pk, updated_at=item.updated_at).update(
            embedding=vector,
            embedding_model=name,
            embedded_text_hash=text_hash(item.text_for_embedding, name),
        )
    return written


def product_text(product: Product) -> str:
    attributes = ", ".join(f"{k}: {v}" for k, v in (product.attributes or {}).items())
    category = product.category.name if product.category_id else ""
    return "\n".join(
        p for p in (product.title, product.brand, category, attributes, product.description) if p
    )


def embed_products_run(merchant_id: int, *, embedder=None, limit: int | None = None) -> tuple[int, bool]:
    """(Re)compute up to `limit` product vectors whose text changed. Returns (written, more_left)."""
    limit = limit or PRODUCTS_PER_RUN
    embedder = embedder or default_embedder()
    name = embedder_name(embedder)
    products = list(
        products_needing_embedding(merchant_id=merchant_id).select_related("category", "chat_embedding")[
            : limit + 1
        ]
    )
    more = len(products) > limit
    products = products[:limit]
    todo, written = [], 0
    for product in products:
        digest = text_hash(product_text(product), name)
        existing = getattr(product, "chat_embedding", None)
        if existing is not None and existing.text_hash == digest:
            ProductEmbedding.objects.filter(pk=existing.pk).update(updated_at=timezone.now())
        else:
            todo.append((product, digest))
    for (product, digest), vector in zip(todo, _vectors(embedder, [product_text(p) for p, _ in todo])):
        ProductEmbedding.objects.update_or_create(
            product=product,
            defaults={"merchant_id": merchant_id, "vector": vector, "model_name": name, "text_hash": digest},
        )
        written += 1
    if written:
        # Customers' interest vectors are built from these vectors: let the apps that use them know.
        transaction.on_commit(
            lambda: product_vectors_changed.send(sender=ProductEmbedding, merchant_id=merchant_id)
        )
    return written, more
