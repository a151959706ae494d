"""Pieces of the training step written for the CPU, where PyTorch's stock kernels were most of the
non-matmul time and much of the memory (profiled on SmolLM2-135M, batch 8, ~120 tokens a row, two cores):

- ``linear_cross_entropy``: a frozen LM head (LoRA) and the summed cross-entropy over the reply tokens, in
  chunks of rows, with the gradient computed during the forward pass. The stock path materialised (rows,
  49,152) logits several times over (bf16 logits, their fp32 copy, ``log_softmax``'s output, its gradient),
  each allocation large enough to be mmapped and faulted in afresh at every step, and the CPU ``log_softmax``
  forward and backward alone were ~10% of a LoRA step. Here one chunk of logits at a time becomes
  ``softmax - one_hot`` in place and is multiplied straight back into the gradient of the hidden states. A
  trained head (full fine-tuning) keeps the stock path: accumulating its (vocabulary, hidden) gradient chunk
  by chunk was slower and held more memory than autograd's one matmul.
- ``TRAIN_ATTENTION`` (registered with transformers' attention interface): causal attention over a padding
  mask as batched matmuls with an fp32 softmax, keeping only (batch, heads, length) log-sum-exps for the
  backward pass, which recomputes the probabilities (as flash attention does) instead of saving them. The CPU
  flash-attention backward took ~8 ms a layer here for what is ~1 ms of matmuls. What is kept per layer is
  what SDPA keeps (queries, keys, values, output); the fp32 scores exist only while one layer runs, a few rows
  of the batch at a time within ``SCORES_BUDGET_BYTES``, and sequences too long for that go to SDPA. CUDA,
  dropout and other special cases go to SDPA unchanged.

- ``use_training_kernels``: Llama-style RMSNorm and SiLU-gated MLP as autograd functions that keep less for
  the backward pass (the norm's input in its own dtype instead of an fp32 copy; the MLP's gate and up
  projections without silu's output, which is recomputed): ~190 MB less at batch 8 x 128 tokens on
  SmolLM2's 30 layers, the same arithmetic.

Each is checked against the computation it replaces (values and gradients) in
tests/ml/engine/test_training_kernels.py.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

from ..backends.attention import needs_sdpa

TRAIN_ATTENTION = "storyfront_train"
CE_CHUNK_ROWS = 128  # 128 x 49,152 fp32 logits = 25 MB: under glibc's mmap threshold as the engine sets it
# fp32 attention scores computed at once; a few temporaries of this size exist while one layer runs. Batches
# are split by rows to stay within it, and sequences too long for one row to fit go to SDPA instead
# (SmolLM2's 9 heads: up to ~1,400 tokens).
SCORES_BUDGET_BYTES = 64 * 2**20


def _compute_dtype(tensor: torch.Tensor) -> torch.dtype:
    device = tensor.device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return tensor.dtype


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets, chunk_rows):
        dtype = _compute_dtype(hidden)
        with torch.autocast(hidden.device.type, enabled=False):
            w = weight.to(dtype)
            grad_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
            total = torch.zeros((), dtype=torch.float32, device=hidden.device)
            for start in range(0, hidden.shape[0], chunk_rows):
                h = hidden[start : start + chunk_rows].to(dtype)
                t = targets[start : start + chunk_rows, None]
                logits = (h @ w.t()).float()
                target_logits = logits.gather(1, t)
                probs, lse = _softmax_(logits)
                total += (lse - target_logits).sum()
                if grad_hidden is not None:
                    # d(loss)/d(hidden) = (softmax - one_hot) W
                    grad_logits = probs.scatter_add_(1, t, torch.full(t.shape, -1.0, device=t.device))
                    grad_hidden[start : start + chunk_rows] = grad_logits.to(dtype) @ w
        ctx.save_for_backward(grad_hidden)
        return total

    @staticmethod
    def backward(ctx, grad_output):
        (grad_hidden,) = ctx.saved_tensors
        return grad_hidden * grad_output.to(grad_hidden.dtype), None, None, None


def linear_cross_entropy(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk_rows: int = CE_CHUNK_ROWS
) -> torch.Tensor:
    """Summed cross-entropy of ``hidden @ weight.T`` (rows, vocabulary) against ``targets`` (rows,), in fp32,
    for a frozen ``weight`` (an LM head that is not trained: LoRA).

    Matches ``F.cross_entropy(F.linear(hidden, weight).float(), targets, reduction="sum")`` under the same
    autocast, value and gradient, without holding the whole (rows, vocabulary) logits. The gradient is worked
    out in the forward pass, so call ``backward`` on the result at most once.
    """
    if weight.requires_grad and torch.is_grad_enabled():
        raise ValueError(
            "linear_cross_entropy does not train the weight; use the stock path for a trained head"
        )
    return _LinearCrossEntropy.apply(hidden, weight, targets, chunk_rows)


class _CausalAttention(torch.autograd.Function):
    """softmax(q kᵀ · scale, masked) v for (B, H, L, D) queries over (B, H_kv, S, D) keys/values, query head h
    reading key/value head h // (H / H_kv). ``allowed`` is a boolean (B or 1, 1, 1, L, S) mask. Rows of the
    batch go ``rows`` at a time so the fp32 (rows, H, L, S) scores stay within ``SCORES_BUDGET_BYTES``."""

    @staticmethod
    def forward(ctx, query, key, value, allowed, scale, rows):
        batch, heads, length, dim = query.shape
        kv_heads = key.shape[1]
        grouped = query.reshape(batch, kv_heads, heads // kv_heads * length, dim)
        output = torch.empty(grouped.shape, dtype=value.dtype, device=value.device)
        lse = torch.empty((*grouped.shape[:3], 1), dtype=torch.float32, device=query.device)
        for part in _row_slices(batch, rows):
            probs, lse[part] = _probabilities(
                grouped[part], key[part], _rows_of(allowed, part), scale, heads // kv_heads
            )
            output[part] = probs.to(value.dtype) @ value[part]
        ctx.save_for_backward(grouped, key, value, output, lse, allowed)
        ctx.scale, ctx.rows, ctx.query_shape = scale, rows, query.shape
        return output.reshape(query.shape)

    @staticmethod
    def backward(ctx, grad_output):
        grouped, key, value, output, lse, allowed = ctx.saved_tensors
        group = ctx.query_shape[1] // key.shape[1]
        grad_out = grad_output.reshape(output.shape).to(value.dtype)
        grad_query, grad_key, grad_value = (
            torch.empty_like(grouped),
            torch.empty_like(key),
            torch.empty_like(value),
        )
        for part in _row_slices(grouped.shape[0], ctx.rows):
            q, k, v, d_out = grouped[part], key[part], value[part], grad_out[part]
            probs, _ = _probabilities(q, k, _rows_of(allowed, part), ctx.scale, group, lse[part])
            grad_value[part] = probs.to(v.dtype).transpose(-1, -2) @ d_out
            grad_scores = (d_out @ v.transpose(-1, -2)).float()
            row_dot = (d_out.float() * output[part].float()).sum(-1, keepdim=True)
            grad_scores = grad_scores.sub_(row_dot).mul_(probs).mul_(ctx.scale).to(q.dtype)
            grad_query[part] = grad_scores @ k
            grad_key[part] = grad_scores.transpose(-1, -2) @ q
        return grad_query.reshape(ctx.query_shape), grad_key, grad_value, None, None, None


def _row_slices(batch: int, rows: int) -> list[slice]:
    return [slice(start, start + rows) for start in range(0, batch, rows)]


def _rows_of(allowed: torch.Tensor, part: slice) -> torch.Tensor:
    return allowed if allowed.shape[0] == 1 else allowed[part]


def _probabilities(grouped, key, allowed, scale, group, lse=None):
    """fp32 attention probabilities (B, H_kv, G·L, S) and their log-sum-exp (recomputed from ``lse`` if given);
    rows with nothing to attend to get zeros, not NaNs."""
    batch, kv_heads, rows, _ = grouped.shape
    scores = (grouped @ key.transpose(-1, -2)).float().mul_(scale)
    scores.view(batch, kv_heads, group, rows // group, -1).masked_fill_(~allowed, float("-inf"))
    if lse is None:
        return _softmax_(scores)
    return scores.sub_(lse).exp_(), lse


def _softmax_(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax over the last dimension in place, and the log-sum-exp (0 for rows that are all -inf, whose
    probabilities are 0). ``torch.logsumexp`` is ~15x slower than these few passes on the CPU."""
    top = scores.amax(-1, keepdim=True)
    top.masked_fill_(top == float("-inf"), 0.0)
    probs = scores.sub_(top).exp_()
    total = probs.sum(-1, keepdim=True)
    lse = torch.where(total > 0, top + total.log(), 0.0)
    return probs.div_(total.clamp_min_(torch.finfo(total.dtype).tiny)), lse


def train_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """Attention for training and evaluation passes on the CPU (see the module docstring); SDPA otherwise."""
    _, heads, length, dim = query.shape
    is_causal = kwargs.get("is_causal")
    is_causal = getattr(module, "is_causal", True) if is_causal is None else is_causal
    if (
        length == 1
        or needs_sdpa(query, dropout, kwargs)
        or heads % key.shape[1]
        or key.dtype != query.dtype
        or (attention_mask is None and not is_causal)
        or (attention_mask is not None and attention_mask.dtype != torch.bool)
    ):
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    span = key.shape[2]
    rows = SCORES_BUDGET_BYTES // (heads * length * span * 4)
    if rows < 1:  # one sequence's scores alone exceed the budget: SDPA's flash kernel keeps memory flat
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    if attention_mask is None:  # causal, no padding: aligned to the end, as SDPA's is_causal with a cache
        positions = torch.arange(span, device=query.device)
        attention_mask = (positions[-length:, None] >= positions[None, :])[None, None]
    allowed = attention_mask[:, :, None]  # (B|1, 1, 1, L, S): broadcasts over key/value heads and groups
    scale = dim**-0.5 if scaling is None else scaling
    output = _CausalAttention.apply(query, key, value, allowed, scale, rows)
    return output.transpose(1, 2).contiguous(), None


class _RMSNorm(torch.autograd.Function):
    """``weight * (x · rsqrt(mean(x²) + eps)).to(x.dtype)`` as Llama computes it (in fp32, cast back), saving
    ``x`` in its own dtype and the (…, 1) reciprocal RMS, where autograd kept an fp32 copy of ``x``."""

    @staticmethod
    def forward(ctx, x, weight, eps):
        with torch.autocast(x.device.type, enabled=False):
            xf = x.float()
            rstd = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
            out = weight * (xf * rstd).to(x.dtype)
        ctx.save_for_backward(x, weight, rstd)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, weight, rstd = ctx.saved_tensors
        normed = x.float() * rstd
        grad_weight = None
        if ctx.needs_input_grad[1]:
            reduce = tuple(range(grad_output.dim() - 1))
            rounded = normed.to(x.dtype).float()  # the forward multiplied the weight by the rounded value
            grad_weight = (grad_output.float() * rounded).sum(reduce).to(weight.dtype)
        if not ctx.needs_input_grad[0]:  # the first layer's input: frozen embeddings (LoRA)
            return None, grad_weight, None
        grad_normed = (grad_output * weight).float()
        grad_x = rstd * (grad_normed - normed * (grad_normed * normed).mean(-1, keepdim=True))
        return grad_x.to(x.dtype), grad_weight, None


class _SwiGLU(torch.autograd.Function):
    """``silu(gate) * up``, saving ``gate`` and ``up`` only (silu is recomputed in backward), where autograd
    kept silu's output as well: one (tokens, intermediate) tensor less per layer."""

    @staticmethod
    def forward(ctx, gate, up):
        ctx.save_for_backward(gate, up)
        return torch.nn.functional.silu(gate) * up

    @staticmethod
    def backward(ctx, grad_output):
        gate, up = ctx.saved_tensors
        grad_up = grad_output * torch.nn.functional.silu(gate)
        grad_gate = torch.ops.aten.silu_backward(grad_output * up, gate)  # the ops autograd would run
        return grad_gate, grad_up


RMS_NORMS = {"LlamaRMSNorm", "MistralRMSNorm", "Qwen2RMSNorm", "Qwen3RMSNorm"}
SWIGLU_MLPS = {"LlamaMLP", "MistralMLP", "Qwen2MLP", "Qwen3MLP"}


def _rms_norm_forward(self, hidden_states):
    return _RMSNorm.apply(hidden_states, self.weight, self.variance_epsilon)


def _swiglu_mlp_forward(self, x):
    return self.down_proj(_SwiGLU.apply(self.gate_proj(x), self.up_proj(x)))


def use_training_kernels(model: torch.nn.Module) -> int:
    """Give the model's RMSNorms and SiLU-gated MLPs (Llama, Mistral, Qwen2/3 classes) the memory-lighter
    training functions above, per instance; other modules are left as they are. Returns how many changed."""
    from transformers.activations import SiLUActivation

    changed = 0
    for module in model.modules():
        name = type(module).__name__
        if name in RMS_NORMS and hasattr(module, "variance_epsilon") and module.weight.dim() == 1:
            module.forward = _rms_norm_forward.__get__(module)
            changed += 1
        elif (
            name in SWIGLU_MLPS
            and isinstance(getattr(module, "act_fn", None), (SiLUActivation, torch.nn.SiLU))
            and all(hasattr(module, p) for p in ("gate_proj", "up_proj", "down_proj"))
        ):
            module.forward = _swiglu_mlp_forward.__get__(module)
            changed += 1
    return changed


AttentionInterface.register(TRAIN_ATTENTION, train_attention_forward)
ALL_MASK_ATTENTION_FUNCTIONS.register(TRAIN_ATTENTION, sdpa_mask)
