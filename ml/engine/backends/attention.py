"""Attention for batched decoding on the CPU: one query token per row as two small grouped matmuls.

PyTorch's CPU ``scaled_dot_product_attention`` runs its flash kernel for a decode step (one query token per
row, a padding mask over a few hundred cached keys), which in bf16 is ~10x slower here than the plain
computation: (B, kv_heads, group, D) @ (B, kv_heads, D, L), a masked fp32 softmax, then @ (B, kv_heads, L, D).
Grouped-query heads share their key/value head without copying it (no ``repeat_kv``). Prefill (many query
tokens), training and CUDA keep Hugging Face's SDPA path unchanged.

A decode step reads the whole KV cache (at batch 64, ~180 positions and 30 layers, 265 MB in bf16), which does
not fit in the CPU's caches: attention is bound by memory bandwidth there, so the int8 model (fp32 activations)
keeps its cache in bf16 where bf16 is fast, and its queries are cast to meet it.

Registered with transformers' attention and mask interfaces under ``ATTENTION``; the local generator sets it on
the models it loads for the CPU.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

ATTENTION = "storyfront_decode"


def needs_sdpa(query: torch.Tensor, dropout: float, kwargs: dict) -> bool:
    """What the engine's matmul attentions (this decode step, the trainer's) leave to SDPA: devices other than
    the CPU, dropout, and the attention variants some models pass in (position bias, softcap, sliding window)."""
    return bool(
        query.device.type != "cpu"
        or dropout
        or kwargs.get("position_bias") is not None
        or kwargs.get("softcap") is not None
        or kwargs.get("sliding_window")
    )


def decode_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    batch, heads, q_length, dim = query.shape
    if (
        q_length != 1
        or needs_sdpa(query, dropout, kwargs)
        or (attention_mask is not None and attention_mask.shape[1] != 1)
    ):
        if key.dtype != query.dtype:  # a cache kept in another dtype (see prefill's cache_dtype)
            key, value = key.to(query.dtype), value.to(query.dtype)
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    kv_heads = key.shape[1]
    out_dtype = query.dtype
    query = query.to(key.dtype)  # the int8 model's fp32 queries meet its bf16 cache
    scale = dim**-0.5 if scaling is None else scaling
    grouped = query.reshape(batch, kv_heads, heads // kv_heads, dim)  # head h reads key/value head h // group
    scores = torch.matmul(grouped, key.transpose(-1, -2)).float() * scale  # (batch, kv_heads, group, length)
    if attention_mask is not None:
        mask = attention_mask  # (batch, 1, 1, length): broadcasts over key/value heads and the group
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask.float()
    probs = scores.softmax(-1).to(value.dtype)
    output = torch.matmul(probs, value)  # (batch, kv_heads, group, dim)
    return output.reshape(batch, 1, heads, dim).to(out_dtype), None


AttentionInterface.register(ATTENTION, decode_attention_forward)
ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, sdpa_mask)
