"""Batched prefill with little wasted work: the prompt prefix every row shares (chat template, system prompt)
is computed once, and the rest in buckets of rows of similar length, each padded only to its own longest
row."""

from __future__ import annotations

import torch
from transformers import DynamicCache

MIN_SHARED_PREFIX = 16  # tokens; below this, a separate prefix pass costs more than it saves
PREFILL_BUCKET = 16  # rows per prefill pass: small enough to pad little, large enough for efficient matmuls


def prefill(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, shared: int) -> DynamicCache:
    """KV cache for every column but the last, computed without most of the batch's padding.

    The shared prefix runs once; the suffixes run in buckets of similar length, each padded only to its own
    longest row, and their keys/values are placed at the row's columns of the full layout. ``generate`` then
    decodes from the last column on. Positions come from the full attention mask, so every key is encoded
    exactly as a plain padded prefill would encode it.
    """
    batch, width = input_ids.shape
    positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    own_lengths = attention_mask[:, shared:].sum(-1)
    keys = values = None
    with torch.inference_mode():
        prefix = None
        if shared:
            prefix = _cache_of(model(input_ids=input_ids[:1, :shared], use_cache=True, logits_to_keep=1))
        for bucket in own_lengths.argsort().split(PREFILL_BUCKET):
            span = int(own_lengths[bucket].max())
            if span < 2:
                continue
            cols = slice(width - span, width - 1)
            cache = None
            if prefix is not None:
                cache = DynamicCache(config=model.config)
                for layer, (k, v) in enumerate(_layer_tensors(prefix)):
                    cache.update(
                        k.expand(len(bucket), -1, -1, -1).clone(),
                        v.expand(len(bucket), -1, -1, -1).clone(),
                        layer,
                    )
            mask = torch.cat([attention_mask[bucket, :shared], attention_mask[bucket, cols]], dim=1)
            out = _cache_of(
                model(
                    input_ids=input_ids[bucket, cols],
                    attention_mask=mask,
                    position_ids=positions[bucket, cols],
                    cache=cache,
                    use_cache=True,
                    logits_to_keep=1,
                )
            )
            tensors = _layer_tensors(out)
            if keys is None:
                keys = [k.new_zeros((batch, k.shape[1], width - 1, k.shape[3])) for k, _ in tensors]
                values = [v.new_zeros((batch, v.shape[1], width - 1, v.shape[3])) for _, v in tensors]
            for layer, (k, v) in enumerate(tensors):
                keys[layer][bucket, :, width - span :] = k[:, :, shared:]
                values[layer][bucket, :, width - span :] = v[:, :, shared:]
        if prefix is None and keys is None:
            return None
        if keys is None:  # every row has one token of its own: only the prefix needs a cache
            keys = [
                k.new_zeros((batch, k.shape[1], width - 1, k.shape[3])) for k, _ in _layer_tensors(prefix)
            ]
            values = [
                v.new_zeros((batch, v.shape[1], width - 1, v.shape[3])) for _, v in _layer_tensors(prefix)
            ]
        if prefix is not None:
            for layer, (k, v) in enumerate(_layer_tensors(prefix)):
                keys[layer][:, :, :shared] = k
                values[layer][:, :, :shared] = v
        full = DynamicCache(config=model.config)
        for layer, (k, v) in enumerate(zip(keys, values)):
            full.update(k, v, layer)
    return full


def _cache_of(output) -> DynamicCache:
    return (
        output["cache"] if "cache" in output else output["past_key_values"]
    )  # renamed during transformers 5.x


def _layer_tensors(cache: DynamicCache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def shared_prefix_length(rows: list[list[int]]) -> int:
    """Tokens every row starts with (each row keeps at least one of its own); 0 when not worth sharing."""
    if len(rows) < 2:
        return 0
    shortest = min(len(r) for r in rows)
    length = 0
    while length < shortest - 1 and all(r[length] == rows[0][length] for r in rows):
        length += 1
    return length if length >= MIN_SHARED_PREFIX else 0
