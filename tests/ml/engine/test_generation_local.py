"""The local backend with a tiny random Llama. Exact batched == one-at-a-time comparisons run in float32: they
prove padding, masking and positions are right. In bf16 (which the CPU probe picks on AVX512-BF16/AMX machines)
a different batch shape changes rounding, so greedy output may differ in late tokens there."""

import pytest

from ml.engine import GenerationParams, GenerationRequest, InvalidCheckpoint, LocalHFGenerator, TextGenerator

PROMPTS = [
    "Describe the navy cotton shirt.",
    "Write a product description for the following item: slim fit denim jeans with five pockets and a zip fly.",
    "Shoes?",
    "The leather wallet has six card slots and a coin pocket. Customer asked about returns within 30 days.",
    "Printed kurta set",
]


def chat(text, **params):
    return GenerationRequest.chat([{"role": "user", "content": text}], **params)


@pytest.fixture
def generator(tiny_checkpoint):
    return LocalHFGenerator(tiny_checkpoint, max_batch_size=8, dtype="float32")


def test_is_a_text_generator(generator):
    assert isinstance(generator, TextGenerator)


def test_batched_greedy_equals_one_at_a_time(generator):
    requests = [
        chat(p, greedy=True, max_new_tokens=12, repetition_penalty=1.2, no_repeat_ngram_size=3)
        for p in PROMPTS
    ]
    batched = generator.generate(requests)
    single = [generator.generate([r])[0] for r in requests]
    assert [r.text for r in batched] == [r.text for r in single]
    assert [r.completion_tokens for r in batched] == [r.completion_tokens for r in single]
    assert len({r.prompt_tokens for r in batched}) > 1, "prompts must differ in length to exercise padding"
    assert all(r.completion_tokens > 0 for r in batched)


def test_batches_are_split_by_max_batch_size_and_keep_request_order(tiny_checkpoint):
    requests = [chat(p, greedy=True, max_new_tokens=6, request_id=str(i)) for i, p in enumerate(PROMPTS)]
    small = LocalHFGenerator(tiny_checkpoint, max_batch_size=2, dtype="float32").generate(requests)
    large = LocalHFGenerator(tiny_checkpoint, max_batch_size=16, dtype="float32").generate(requests)
    assert [r.request_id for r in small] == [str(i) for i in range(len(PROMPTS))]
    assert [r.text for r in small] == [r.text for r in large]


def test_seeded_sampling_is_reproducible_alone_or_batched(generator):
    seeded = [chat(p, seed=7, max_new_tokens=10, temperature=1.0, top_p=0.95) for p in PROMPTS]
    first = [r.text for r in generator.generate(seeded)]
    again = [r.text for r in generator.generate(seeded)]
    alone = generator.generate([seeded[1]])[0].text
    assert first == again
    assert alone == first[1]
    other_seed = [
        r.text
        for r in generator.generate([chat(p, seed=8, max_new_tokens=10, temperature=1.0) for p in PROMPTS])
    ]
    assert other_seed != first


def test_max_new_tokens_gives_length_finish(generator):
    result = generator.generate([chat(PROMPTS[0], greedy=True, max_new_tokens=3)])[0]
    assert result.completion_tokens <= 3
    if result.completion_tokens == 3:
        assert result.finish_reason == "length"


def test_stop_sequence_cuts_the_text(generator):
    free = generator.generate([chat(PROMPTS[1], greedy=True, max_new_tokens=24)])[0].text
    assert len(free) > 6
    stop = free[4:6]
    cut = generator.generate([chat(PROMPTS[1], greedy=True, max_new_tokens=24, stop=(stop,))])[0]
    assert cut.text == free[: free.index(stop)]
    assert cut.finish_reason == "stop"
    assert stop not in cut.text


def test_stream_matches_non_streamed_greedy(generator):
    for prompt in PROMPTS[:3]:
        request = chat(prompt, greedy=True, max_new_tokens=16)
        chunks = list(generator.stream(request))
        assert len(chunks) >= 1
        assert "".join(chunks) == generator.generate([request])[0].text


def test_stream_honours_stop_sequences(generator):
    full = generator.generate([chat(PROMPTS[3], greedy=True, max_new_tokens=24)])[0].text
    stop = full[5:7]
    streamed = "".join(generator.stream(chat(PROMPTS[3], greedy=True, max_new_tokens=24, stop=(stop,))))
    assert streamed == full[: full.index(stop)]


def test_raw_prompt_is_used_verbatim(generator):
    result = generator.generate(
        [GenerationRequest.raw("A soft cotton shirt", greedy=True, max_new_tokens=5)]
    )[0]
    assert result.prompt_tokens == len(generator.loaded.tokenizer("A soft cotton shirt")["input_ids"])


def test_rejects_a_directory_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InvalidCheckpoint, match="config.json"):
        LocalHFGenerator(tmp_path)
    with pytest.raises(InvalidCheckpoint, match="not a directory"):
        LocalHFGenerator(tmp_path / "missing")


def test_request_needs_exactly_one_of_messages_or_prompt():
    with pytest.raises(ValueError):
        GenerationRequest()
    with pytest.raises(ValueError):
        GenerationRequest(messages=({"role": "user", "content": "x"},), prompt="x")
    with pytest.raises(ValueError):
        GenerationRequest.chat([{"role": "user"}])


def test_params_field_errors():
    assert GenerationParams().field_errors() == {}
    errors = GenerationParams(max_new_tokens=0, temperature=-1, top_p=1.5, stop=("",), seed=-3).field_errors()
    assert set(errors) == {"max_new_tokens", "temperature", "top_p", "stop", "seed"}


def test_shared_system_prompt_is_prefilled_once_and_output_is_unchanged(generator):
    from ml.engine.backends.prefill import MIN_SHARED_PREFIX, shared_prefix_length

    system = {"role": "system", "content": "Write a product description for the following item. " * 3}
    requests = [
        GenerationRequest.chat(
            [system, {"role": "user", "content": p}],
            greedy=True,
            max_new_tokens=10,
            repetition_penalty=1.3,
            no_repeat_ngram_size=2,
        )
        for p in PROMPTS
    ]
    rows = [generator._encode(generator.loaded, r) for r in requests]
    assert shared_prefix_length(rows) >= MIN_SHARED_PREFIX
    batched = generator.generate(requests)
    assert [r.text for r in batched] == [generator.generate([r])[0].text for r in requests]
    seeded = [GenerationRequest.chat(r.messages, seed=5, max_new_tokens=10) for r in requests]
    assert [r.text for r in generator.generate(seeded)] == [generator.generate([r])[0].text for r in seeded]


@pytest.mark.parametrize("system", [None, "Write a product description for the following item. " * 3])
def test_bucketed_prefill_matches_one_at_a_time(generator, monkeypatch, system):
    from ml.engine.backends import prefill

    monkeypatch.setattr(prefill, "PREFILL_BUCKET", 2)  # five prompts -> three prefill buckets
    prompts = PROMPTS + ["x"]  # the shortest row pads most within its bucket
    head = [{"role": "system", "content": system}] if system else []
    requests = [
        GenerationRequest.chat(head + [{"role": "user", "content": p}], greedy=True, max_new_tokens=8)
        for p in prompts
    ]
    assert [r.text for r in generator.generate(requests)] == [
        generator.generate([r])[0].text for r in requests
    ]


def test_int8_loads_fp32_weights_even_where_the_cpu_probe_prefers_bf16(tiny_checkpoint, monkeypatch):
    from ml.engine import clear_model_cache, devices

    # An AVX512-BF16 CPU makes the probe choose bf16; dynamic int8 must still quantize fp32 layers.
    monkeypatch.setattr(devices, "cpu_bf16_is_fast", lambda: True)
    clear_model_cache()
    try:
        generator = LocalHFGenerator(tiny_checkpoint, quantization="int8")
        [result] = generator.generate(
            [chat("Describe the navy cotton shirt.", greedy=True, max_new_tokens=6)]
        )
        assert result.completion_tokens > 0
        with pytest.raises(ValueError, match="float32"):
            LocalHFGenerator(tiny_checkpoint, quantization="int8", dtype="bfloat16").generate(
                [chat("Shoes?", greedy=True, max_new_tokens=2)]
            )
    finally:
        clear_model_cache()
