"""The pieces the local backend uses to decode fast on the CPU, each checked against the plain computation it
replaces: grouped decode attention vs SDPA, the preallocated KV cache vs concatenation, the gather/scatter
repetition penalty vs a full-vocabulary one, in-place end-of-turn suppression, and the allocator setting."""

import pytest
import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from ml.engine.backends.attention import ATTENTION, decode_attention_forward
from ml.engine.backends.decoding import MinNewTokens, RepetitionPenalty
from ml.engine.backends.prefill import PreallocatedLayer, _buffer


class FakeAttentionModule(torch.nn.Module):
    def __init__(self, groups):
        super().__init__()
        self.num_key_value_groups = groups
        self.is_causal = True


def _padding_mask(batch, length, pads):
    mask = torch.ones(batch, 1, 1, length, dtype=torch.bool)
    for row, count in enumerate(pads):
        mask[row, :, :, 2 : 2 + count] = (
            False  # [shared prefix][padding][own tokens], as the engine lays it out
        )
    return mask


@pytest.mark.parametrize("kv_heads,heads", [(3, 9), (2, 2)])
@pytest.mark.parametrize("float_mask", [False, True])
def test_decode_attention_matches_sdpa(kv_heads, heads, float_mask):
    torch.manual_seed(0)
    batch, length, dim = 4, 37, 16
    query = torch.randn(batch, heads, 1, dim)
    key = torch.randn(batch, kv_heads, length, dim)
    value = torch.randn(batch, kv_heads, length, dim)
    mask = _padding_mask(batch, length, [0, 3, 10, 1])
    if float_mask:
        mask = torch.zeros(mask.shape).masked_fill(~mask, torch.finfo(torch.float32).min)
    module = FakeAttentionModule(heads // kv_heads)
    ours, _ = decode_attention_forward(module, query, key, value, mask, scaling=dim**-0.5)
    reference, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=dim**-0.5)
    assert ours.shape == reference.shape == (batch, 1, heads, dim)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)


def test_decode_attention_reads_a_transposed_key_buffer_like_a_contiguous_one():
    torch.manual_seed(1)
    batch, kv_heads, heads, length, capacity, dim = 3, 3, 9, 20, 32, 16
    keys = _buffer(torch.empty(1, kv_heads, 1, dim), batch, capacity, keys=True)
    keys.copy_(torch.randn(keys.shape))
    assert (
        keys.shape == (batch, kv_heads, capacity, dim) and not keys.is_contiguous()
    )  # stored (.., dim, capacity)
    value = torch.randn(batch, kv_heads, length, dim)
    query = torch.randn(batch, heads, 1, dim)
    module = FakeAttentionModule(3)
    mask = _padding_mask(batch, length, [0, 2, 5])
    strided, _ = decode_attention_forward(module, query, keys[:, :, :length], value, mask)
    plain, _ = decode_attention_forward(module, query, keys[:, :, :length].contiguous(), value, mask)
    torch.testing.assert_close(strided, plain)


def test_prefill_and_several_query_tokens_stay_on_sdpa():
    torch.manual_seed(2)
    query, key, value = torch.randn(2, 4, 5, 8), torch.randn(2, 2, 5, 8), torch.randn(2, 2, 5, 8)
    module = FakeAttentionModule(2)
    ours, _ = decode_attention_forward(module, query, key, value, None)
    reference, _ = sdpa_attention_forward(module, query, key, value, None)
    assert torch.equal(ours, reference)


def test_cpu_models_are_loaded_with_the_decode_attention(tiny_checkpoint):
    from ml.engine import LocalHFGenerator

    loaded = LocalHFGenerator(tiny_checkpoint, dtype="float32").loaded
    assert loaded.model.config._attn_implementation == ATTENTION


def test_preallocated_layer_writes_in_place_then_grows():
    keys = _buffer(torch.empty(1, 2, 1, 4), 2, 6, keys=True)
    values = _buffer(torch.empty(1, 2, 1, 4), 2, 6)
    keys[:, :, :3] = 1.0
    values[:, :, :3] = 2.0
    layer = PreallocatedLayer(keys, values, 3)
    assert layer.get_seq_length() == 3
    pointer = layer.keys.data_ptr()
    for step in range(3):  # fills the buffer exactly: no reallocation
        k, v = layer.update(torch.full((2, 2, 1, 4), 10.0 + step), torch.full((2, 2, 1, 4), 20.0 + step))
        assert layer.keys.data_ptr() == pointer
    assert k.shape == (2, 2, 6, 4) and torch.equal(k[0, 0, :, 0], torch.tensor([1, 1, 1, 10, 11, 12.0]))
    k, v = layer.update(torch.full((2, 2, 2, 4), 30.0), torch.full((2, 2, 2, 4), 40.0))  # outgrows it
    assert k.shape == (2, 2, 8, 4) and torch.equal(
        k[1, 1, :, 3], torch.tensor([1, 1, 1, 10, 11, 12, 30, 30.0])
    )
    assert torch.equal(v[1, 1, :, 3], torch.tensor([2, 2, 2, 20, 21, 22, 40, 40.0]))


def test_preallocated_layer_honours_keys_replaced_from_outside():
    layer = PreallocatedLayer(torch.zeros(1, 1, 8, 2), torch.zeros(1, 1, 8, 2), 4)
    layer.crop(-2)  # DynamicLayer.crop re-slices keys/values
    k, _ = layer.update(torch.ones(1, 1, 1, 2), torch.ones(1, 1, 1, 2))
    assert k.shape == (1, 1, 3, 2) and torch.equal(k[0, 0, :, 0], torch.tensor([0, 0, 1.0]))


def _reference_penalty(input_ids, prompt_mask, scores, penalty):
    """The full-vocabulary version the engine used before: mark seen tokens, penalise them."""
    generated = input_ids.shape[1] - prompt_mask.shape[1]
    real = torch.cat([prompt_mask, prompt_mask.new_ones((input_ids.shape[0], generated))], dim=1)
    seen = torch.zeros_like(scores).scatter_add_(1, input_ids, real.to(scores.dtype)) > 0
    penalised = torch.where(scores > 0, scores / penalty, scores * penalty)
    return torch.where(seen, penalised, scores)


def test_repetition_penalty_matches_the_full_vocabulary_version():
    torch.manual_seed(3)
    pad = 0
    input_ids = torch.randint(1, 50, (4, 12))
    prompt_mask = torch.ones(4, 9, dtype=torch.bool)
    prompt_mask[1, 2:5] = False  # padding in the middle (after a shared prefix) ...
    prompt_mask[2, :4] = False  # ... and on the left
    input_ids[~torch.cat([prompt_mask, torch.ones(4, 3, dtype=torch.bool)], 1)] = pad
    input_ids[3, 10] = pad  # the pad id generated as a real token in row 3: it must be penalised there only
    scores = torch.randn(4, 50)
    expected = _reference_penalty(input_ids, prompt_mask, scores.clone(), 1.3)
    got = RepetitionPenalty(1.3, prompt_mask)(input_ids, scores.clone())
    torch.testing.assert_close(got, expected)
    assert got[3, pad] != scores[3, pad] and got[0, pad] == scores[0, pad]


def test_min_new_tokens_bans_end_of_turn_until_reached():
    processor = MinNewTokens(2, prompt_length=5, eos_ids=[7, 3, 7])
    scores = torch.zeros(2, 10)
    out = processor(torch.zeros(2, 6, dtype=torch.long), scores.clone())  # one generated token so far
    assert torch.isinf(out[:, [3, 7]]).all() and torch.isfinite(out[:, [0, 1, 2, 4, 5, 6, 8, 9]]).all()
    assert torch.equal(processor(torch.zeros(2, 7, dtype=torch.long), scores.clone()), scores)


def test_min_new_tokens_holds_in_generation(tiny_checkpoint):
    from ml.engine import GenerationRequest, LocalHFGenerator

    generator = LocalHFGenerator(tiny_checkpoint, dtype="float32")
    requests = [
        GenerationRequest.raw(text, seed=i, max_new_tokens=12, min_new_tokens=9, temperature=1.5)
        for i, text in enumerate(["Shoes?", "Printed kurta set with dupatta", "x"])
    ]
    for result in generator.generate(requests) + [generator.generate([requests[0]])[0]]:
        assert result.completion_tokens >= 9


def test_allocator_setting_applies_once_and_can_be_turned_off(monkeypatch):
    from ml.engine import devices

    devices.tune_cpu_allocator.cache_clear()
    monkeypatch.setenv("STORYFRONT_TUNE_MALLOC", "0")
    assert devices.tune_cpu_allocator() is False
    devices.tune_cpu_allocator.cache_clear()
    monkeypatch.delenv("STORYFRONT_TUNE_MALLOC")
    assert devices.tune_cpu_allocator() is True  # glibc (Linux) here and in CI
    devices.tune_cpu_allocator.cache_clear()


def test_decode_attention_with_a_bf16_cache_and_fp32_queries():
    torch.manual_seed(4)
    query = torch.randn(2, 6, 1, 16)
    key, value = torch.randn(2, 2, 9, 16), torch.randn(2, 2, 9, 16)
    mask = _padding_mask(2, 9, [0, 3])
    module = FakeAttentionModule(3)
    ours, _ = decode_attention_forward(module, query, key.bfloat16(), value.bfloat16(), mask)
    reference, _ = sdpa_attention_forward(module, query, key, value, mask)
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, reference, rtol=0.03, atol=0.03)


def test_int8_batches_decode_from_a_bf16_cache_where_bf16_is_fast(tiny_checkpoint, monkeypatch):
    from ml.engine import GenerationRequest, LocalHFGenerator, clear_model_cache, devices
    from ml.engine.backends import local_hf

    monkeypatch.setattr(local_hf, "cpu_bf16_is_fast", lambda: True)
    monkeypatch.setattr(devices, "cpu_bf16_is_fast", lambda: True)
    clear_model_cache()
    try:
        generator = LocalHFGenerator(tiny_checkpoint, quantization="int8")
        assert generator._cache_dtype(generator.loaded) == torch.bfloat16
        assert LocalHFGenerator(tiny_checkpoint, dtype="float32")._cache_dtype(generator.loaded) is None
        requests = [
            GenerationRequest.raw(text, greedy=True, max_new_tokens=6)
            for text in ["Shoes?", "Printed kurta set with dupatta", "The leather wallet has six card slots"]
        ]
        results = generator.generate(requests)
        assert all(r.completion_tokens > 0 for r in results)
        monkeypatch.setattr(local_hf, "cpu_bf16_is_fast", lambda: False)  # same batch, fp32 cache
        fp32_cache = generator.generate(requests)
        assert [r.completion_tokens > 0 for r in fp32_cache] == [True] * 3
    finally:
        clear_model_cache()
