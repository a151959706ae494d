"""The trainer's CPU kernels (ml/engine/finetune/kernels.py), each checked against the stock computation it
replaces, values and gradients: the chunked LM-head cross-entropy vs F.linear + F.cross_entropy, the training
attention vs SDPA; and the trainer's loss with them vs the stock loss on a tiny model."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from ml.engine.finetune.data import Example, collate, tokenize_example
from ml.engine.finetune.kernels import TRAIN_ATTENTION, linear_cross_entropy, train_attention_forward


class FakeAttentionModule(torch.nn.Module):
    def __init__(self, groups):
        super().__init__()
        self.num_key_value_groups = groups
        self.is_causal = True


@pytest.mark.parametrize("rows,chunk", [(300, 128), (128, 128), (5, 2), (1, 128)])
def test_linear_cross_entropy_matches_the_stock_loss_and_gradient(rows, chunk):
    torch.manual_seed(0)
    hidden = torch.randn(rows, 32, requires_grad=True)
    weight = torch.randn(500, 32)
    targets = torch.randint(0, 500, (rows,))

    fused = linear_cross_entropy(hidden, weight, targets, chunk_rows=chunk)
    (fused * 0.25).backward()
    fused_grad = hidden.grad.clone()
    hidden.grad = None
    stock = F.cross_entropy(F.linear(hidden, weight).float(), targets, reduction="sum")
    (stock * 0.25).backward()

    assert fused.dtype == torch.float32
    assert fused.item() == pytest.approx(stock.item(), rel=1e-6)
    torch.testing.assert_close(fused_grad, hidden.grad, rtol=1e-5, atol=1e-6)


def test_linear_cross_entropy_under_bf16_autocast_matches_the_stock_path():
    torch.manual_seed(1)
    hidden = torch.randn(70, 32, dtype=torch.bfloat16, requires_grad=True)
    weight = torch.randn(300, 32, dtype=torch.bfloat16)
    targets = torch.randint(0, 300, (70,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fused = linear_cross_entropy(hidden, weight, targets, chunk_rows=32)
    fused.backward()
    fused_grad = hidden.grad.clone()
    hidden.grad = None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        stock = F.cross_entropy(F.linear(hidden, weight).float(), targets, reduction="sum")
    stock.backward()
    assert fused.item() == pytest.approx(stock.item(), rel=1e-5)
    torch.testing.assert_close(fused_grad.float(), hidden.grad.float(), rtol=0.02, atol=0.02)


def test_linear_cross_entropy_refuses_to_train_the_weight_but_evaluates_with_it():
    weight = torch.randn(50, 8, requires_grad=True)
    hidden, targets = torch.randn(4, 8), torch.randint(0, 50, (4,))
    with pytest.raises(ValueError, match="does not train the weight"):
        linear_cross_entropy(hidden, weight, targets)
    with torch.inference_mode():
        value = linear_cross_entropy(hidden, weight, targets)
        assert value.item() == pytest.approx(
            F.cross_entropy(F.linear(hidden, weight), targets, reduction="sum").item(), rel=1e-6
        )


def _mask(lengths, length, left=False):
    """(B, 1, L, L) boolean causal mask over each row's real tokens (right padding unless ``left``)."""
    positions = torch.arange(length)
    real = (
        positions[None, :] >= length - torch.tensor(lengths)[:, None]
        if left
        else positions[None, :] < torch.tensor(lengths)[:, None]
    )
    causal = positions[:, None] >= positions[None, :]
    return (causal[None] & real[:, None, :])[:, None]


@pytest.mark.parametrize("kv_heads,heads", [(3, 9), (2, 2)])
@pytest.mark.parametrize("masked", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_training_attention_matches_sdpa(kv_heads, heads, masked, dtype):
    torch.manual_seed(2)
    batch, length, dim = 3, 11, 16
    query = torch.randn(batch, heads, length, dim, dtype=dtype, requires_grad=True)
    key = torch.randn(batch, kv_heads, length, dim, dtype=dtype, requires_grad=True)
    value = torch.randn(batch, kv_heads, length, dim, dtype=dtype, requires_grad=True)
    mask = _mask([11, 7, 2], length) if masked else None
    module = FakeAttentionModule(heads // kv_heads)

    ours, _ = train_attention_forward(module, query, key, value, mask)
    upstream = torch.randn_like(ours)
    our_grads = torch.autograd.grad(ours, (query, key, value), upstream)
    sdpa, _ = sdpa_attention_forward(module, query, key, value, mask)
    sdpa_grads = torch.autograd.grad(sdpa, (query, key, value), upstream)

    tolerance = {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 0.05, "atol": 0.05}
    assert ours.shape == sdpa.shape == (batch, length, heads, dim)
    torch.testing.assert_close(ours, sdpa, **tolerance)
    for mine, theirs in zip(our_grads, sdpa_grads):
        torch.testing.assert_close(mine, theirs, **tolerance)


def test_training_attention_gives_zeros_not_nans_for_rows_with_nothing_to_attend():
    torch.manual_seed(3)
    query = torch.randn(2, 4, 6, 8, requires_grad=True)
    key = torch.randn(2, 2, 6, 8, requires_grad=True)
    value = torch.randn(2, 2, 6, 8, requires_grad=True)
    mask = _mask([6, 3], 6, left=True)  # row 1's first three queries see no real key
    out, _ = train_attention_forward(FakeAttentionModule(2), query, key, value, mask)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(query.grad).all()
    assert torch.isfinite(key.grad).all() and torch.isfinite(value.grad).all()
    assert out[1, :3].abs().max() == 0
    real = sdpa_attention_forward(FakeAttentionModule(2), query, key, value, mask)[0]
    torch.testing.assert_close(out[:, 3:], real[:, 3:], rtol=1e-4, atol=1e-5)


def test_training_attention_hands_other_cases_to_sdpa():
    query, key, value = torch.randn(2, 4, 1, 8), torch.randn(2, 2, 5, 8), torch.randn(2, 2, 5, 8)
    additive = torch.zeros(2, 1, 1, 5)
    module = FakeAttentionModule(2)
    for args in ((query, key, value, None), (torch.randn(2, 4, 5, 8), key, value, additive)):
        ours, _ = train_attention_forward(module, *args)
        torch.testing.assert_close(ours, sdpa_attention_forward(module, *args)[0])


def test_trainer_loss_with_the_kernels_matches_the_stock_loss(tiny_checkpoint):
    """LoRA-style: frozen base and head, the loss and the gradient reaching the inputs' embeddings agree with
    SDPA + the full-logits cross-entropy on a padded batch (fp32)."""
    from transformers import AutoTokenizer

    from ml.engine.finetune.trainer import _loss_sum, _use_cpu_kernels

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    examples = [
        tokenize_example(tokenizer, Example(p, r), 64)
        for p, r in [
            ("Describe the shirt.", "A soft navy shirt."),
            ("Jeans?", "Slim fit denim jeans, five pockets."),
        ]
    ]
    batch = collate(examples, tokenizer.pad_token_id)
    results = []
    for kernels in (True, False):
        model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint, dtype=torch.float32)
        if kernels:
            _use_cpu_kernels(model, torch.device("cpu"))
            assert model.config._attn_implementation == TRAIN_ATTENTION
        for p in model.parameters():
            p.requires_grad_(False)
        embeddings = model.get_input_embeddings().weight
        embeddings.requires_grad_(True)  # a stand-in for the adapters: gradient flows through every layer
        if kernels:
            loss, count = _loss_sum(model, batch)
        else:
            hidden = model.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            targets = batch["labels"][:, 1:]
            keep = targets != -100
            logits = model.lm_head(hidden.last_hidden_state[:, :-1][keep]).float()
            loss, count = F.cross_entropy(logits, targets[keep], reduction="sum"), int(keep.sum())
        loss.backward()
        results.append((loss.item(), count, embeddings.grad.clone()))
    (ours, our_count, our_grad), (stock, stock_count, stock_grad) = results
    assert our_count == stock_count > 0
    assert ours == pytest.approx(stock, rel=1e-5)
    scale = stock_grad.abs().max().item()  # the tiny model's sharpened weights make large, spiky gradients
    assert scale > 0
    torch.testing.assert_close(our_grad, stock_grad, rtol=1e-3, atol=1e-5 * scale)


def _llama_config(**overrides):
    from transformers import LlamaConfig

    return LlamaConfig(**{"hidden_size": 32, "intermediate_size": 80, "hidden_act": "silu", **overrides})


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("train_weight", [False, True])
def test_rms_norm_kernel_matches_llama_rms_norm(dtype, train_weight):
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    from ml.engine.finetune.kernels import use_training_kernels

    torch.manual_seed(4)
    stock = LlamaRMSNorm(32, eps=1e-5).to(dtype)
    with torch.no_grad():
        stock.weight.copy_(torch.randn(32))
    ours = LlamaRMSNorm(32, eps=1e-5).to(dtype)
    ours.load_state_dict(stock.state_dict())
    assert use_training_kernels(ours) == 1
    for module in (stock, ours):
        module.weight.requires_grad_(train_weight)
    x = torch.randn(3, 7, 32, dtype=dtype) * 3
    upstream = torch.randn(3, 7, 32, dtype=dtype)
    results = []
    for module in (stock, ours):
        xi = x.clone().requires_grad_(True)
        out = module(xi)
        wanted = (xi, module.weight) if train_weight else (xi,)
        results.append((out, torch.autograd.grad(out, wanted, upstream)))
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 0.02, "atol": 0.05}
    torch.testing.assert_close(results[1][0], results[0][0], rtol=0, atol=0)  # forward: the same ops
    for mine, theirs in zip(results[1][1], results[0][1]):
        torch.testing.assert_close(mine, theirs, **tolerance)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_swiglu_kernel_matches_llama_mlp(dtype):
    from transformers.models.llama.modeling_llama import LlamaMLP

    from ml.engine.finetune.kernels import use_training_kernels

    torch.manual_seed(5)
    stock = LlamaMLP(_llama_config()).to(dtype)
    ours = LlamaMLP(_llama_config()).to(dtype)
    ours.load_state_dict(stock.state_dict())
    assert use_training_kernels(ours) == 1
    x = torch.randn(2, 9, 32, dtype=dtype)
    upstream = torch.randn(2, 9, 32, dtype=dtype)
    results = []
    for module in (stock, ours):
        xi = x.clone().requires_grad_(True)
        out = module(xi)
        results.append((out, torch.autograd.grad(out, (xi, *module.parameters()), upstream)))
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 0.02, "atol": 0.05}
    torch.testing.assert_close(results[1][0], results[0][0], rtol=0, atol=0)
    for mine, theirs in zip(results[1][1], results[0][1]):
        torch.testing.assert_close(mine, theirs, **tolerance)


def test_training_kernels_leave_other_modules_alone():
    from transformers.models.llama.modeling_llama import LlamaMLP

    from ml.engine.finetune.kernels import use_training_kernels

    gelu = LlamaMLP(_llama_config(hidden_act="gelu"))
    before = gelu.forward
    assert use_training_kernels(gelu) == 0
    assert gelu.forward == before
    assert use_training_kernels(torch.nn.LayerNorm(8)) == 0


def test_training_attention_splits_the_batch_to_bound_memory_and_hands_long_rows_to_sdpa(monkeypatch):
    from ml.engine.finetune import kernels

    torch.manual_seed(6)
    query = torch.randn(4, 6, 9, 8, requires_grad=True)
    key = torch.randn(4, 2, 9, 8, requires_grad=True)
    value = torch.randn(4, 2, 9, 8, requires_grad=True)
    mask = _mask([9, 4, 7, 1], 9)
    module = FakeAttentionModule(3)
    upstream = torch.randn(4, 9, 6, 8)

    def run():
        out, _ = train_attention_forward(module, query, key, value, mask)
        return out, torch.autograd.grad(out, (query, key, value), upstream)

    reference = sdpa_attention_forward(module, query, key, value, mask)[0]
    reference_grads = torch.autograd.grad(reference, (query, key, value), upstream)
    whole, whole_grads = run()
    one_row = 6 * 9 * 9 * 4  # bytes of one row's fp32 scores
    monkeypatch.setattr(kernels, "SCORES_BUDGET_BYTES", one_row)  # one row at a time
    split, split_grads = run()
    for out, grads in ((whole, whole_grads), (split, split_grads)):
        torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-5)
        for mine, theirs in zip(grads, reference_grads):
            torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)

    calls = []
    monkeypatch.setattr(kernels, "SCORES_BUDGET_BYTES", one_row - 1)  # not even one row fits
    monkeypatch.setattr(kernels, "_CausalAttention", SimpleNamespace(apply=lambda *a: calls.append(a)))
    long_rows, _ = train_attention_forward(module, query, key, value, mask)
    assert calls == []
    torch.testing.assert_close(long_rows, sdpa_attention_forward(module, query, key, value, mask)[0])
