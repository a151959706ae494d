import json

import pytest

from ml.engine import (
    DatasetError,
    Example,
    FinetuneParams,
    GenerationRequest,
    HyperparameterError,
    InvalidCheckpoint,
    LocalHFGenerator,
    TrainingCancelled,
    clear_model_cache,
    evaluate_loss,
    validate_finetune_params,
)
from ml.engine.finetune import IGNORE_INDEX, finetune, tokenize_example

PRODUCTS = [
    "navy cotton shirt",
    "denim jeans",
    "running shoes",
    "leather wallet",
    "printed kurta set",
    "wool scarf",
    "canvas tote bag",
    "silk saree",
    "linen trousers",
    "rain jacket",
    "sports socks",
    "steel watch",
]
DATA = [{"prompt": f"Describe the {p}.", "response": f"A lovely {p}, made to last."} for p in PRODUCTS] * 2

FAST = {
    "batch_size": 4,
    "max_seq_len": 64,
    "learning_rate": 5e-3,
    "lora_r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "eval_fraction": 0.25,
    "checkpoint_every": 0,
    "eval_every": 0,
}


def test_prompt_tokens_are_masked(tiny_checkpoint):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    example = Example("Describe the navy cotton shirt.", "A lovely shirt.")
    tokenized = tokenize_example(tokenizer, example, max_seq_len=128)
    prompt_len = tokenized.labels.index(next(t for t in tokenized.labels if t != IGNORE_INDEX))
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": example.prompt}], tokenize=False, add_generation_prompt=True
    )
    assert prompt_len == len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert all(label == IGNORE_INDEX for label in tokenized.labels[:prompt_len])
    assert tokenized.labels[prompt_len:] == tokenized.input_ids[prompt_len:]
    assert tokenizer.decode(tokenized.labels[prompt_len:]).startswith("A lovely shirt.<|im_end|>")


def test_long_examples_are_truncated_and_counted(tiny_checkpoint, tmp_path):
    data = DATA + [{"prompt": "Describe " + "the very long product " * 30, "response": "Short."}]
    result = finetune(
        tiny_checkpoint, data, tmp_path, FinetuneParams(max_steps=1, **{**FAST, "max_seq_len": 32})
    )
    assert result.truncated_examples >= 1
    assert result.dropped_examples == 0


def test_lora_lowers_loss_and_adapter_reloads(tiny_checkpoint, tmp_path):
    seen = []
    result = finetune(
        tiny_checkpoint, DATA, tmp_path, FinetuneParams(max_steps=24, **FAST), progress=seen.append
    )
    losses = [loss for _, loss in result.train_loss_history]
    assert sum(losses[-4:]) / 4 < 0.7 * sum(losses[:4]) / 4
    assert result.eval_loss_after < result.eval_loss_before
    assert result.perplexity_after < result.perplexity_before
    assert [p.step for p in seen] == list(range(1, 25)) and seen[-1].total_steps == 24 and seen[-1].eta_s == 0
    assert result.tokens_per_s > 0 and result.peak_memory_bytes > 0

    adapter = tmp_path / "adapter"
    assert result.output_path == str(adapter)
    assert (adapter / "adapter_model.safetensors").stat().st_size < 200_000
    assert not (tmp_path / "checkpoint").exists()
    assert json.loads((tmp_path / "finetune_result.json").read_text())["steps"] == 24

    held_out = [
        {"prompt": "Describe the denim jeans.", "response": "A lovely denim jeans, made to last."}
    ] * 5
    tuned_loss, _ = evaluate_loss(tiny_checkpoint, held_out, adapter_path=adapter)
    base_loss, _ = evaluate_loss(tiny_checkpoint, held_out)
    assert tuned_loss < base_loss

    request = GenerationRequest.chat(
        [{"role": "user", "content": "Describe the denim jeans."}], greedy=True, max_new_tokens=10
    )
    tuned = LocalHFGenerator(tiny_checkpoint, adapter_path=adapter).generate([request])[0].text
    base = LocalHFGenerator(tiny_checkpoint).generate([request])[0].text
    assert tuned != base
    clear_model_cache()
    assert LocalHFGenerator(tiny_checkpoint, adapter_path=adapter).generate([request])[0].text == tuned


def test_resume_after_cancel_matches_an_uninterrupted_run(tiny_checkpoint, tmp_path):
    params = FinetuneParams(max_steps=6, **{**FAST, "checkpoint_every": 2, "lora_dropout": 0.1})
    straight = finetune(tiny_checkpoint, DATA, tmp_path / "a", params)

    steps_seen = []
    with pytest.raises(TrainingCancelled):
        finetune(
            tiny_checkpoint,
            DATA,
            tmp_path / "b",
            params,
            progress=lambda p: steps_seen.append(p.step),
            should_cancel=lambda: len(steps_seen) >= 3,
        )
    assert (tmp_path / "b" / "checkpoint" / "state.pt").is_file()
    assert not (tmp_path / "b" / "adapter").exists()

    resumed = finetune(tiny_checkpoint, DATA, tmp_path / "b", params)
    assert resumed.resumed_from_step == 3
    assert [s for s, _ in resumed.train_loss_history] == list(range(1, 7))
    assert [loss for _, loss in resumed.train_loss_history] == pytest.approx(
        [loss for _, loss in straight.train_loss_history], rel=1e-4
    )
    assert resumed.eval_loss_after == pytest.approx(straight.eval_loss_after, rel=1e-4)


def test_checkpoint_from_other_settings_is_not_resumed(tiny_checkpoint, tmp_path):
    with pytest.raises(TrainingCancelled):
        finetune(
            tiny_checkpoint, DATA, tmp_path, FinetuneParams(max_steps=4, **FAST), should_cancel=lambda: True
        )
    result = finetune(tiny_checkpoint, DATA, tmp_path, FinetuneParams(max_steps=2, **{**FAST, "seed": 1}))
    assert result.resumed_from_step is None and result.steps == 2


def test_full_finetune_writes_a_loadable_checkpoint(tiny_checkpoint, tmp_path):
    result = finetune(
        tiny_checkpoint,
        DATA,
        tmp_path,
        FinetuneParams(method="full", max_steps=4, **{**FAST, "learning_rate": 1e-3}),
    )
    assert result.output_path == str(tmp_path / "model")
    text = LocalHFGenerator(result.output_path).generate(
        [GenerationRequest.raw("Describe", greedy=True, max_new_tokens=3)]
    )[0]
    assert text.completion_tokens > 0


# Train and held-out replies disagree, so held-out loss soon rises and training stops.
DIVERGING = [
    {"prompt": f"Describe item {i}.", "response": "Red." if i % 4 else "Blue and green and yellow."}
    for i in range(24)
]
EARLY_STOP = FinetuneParams(
    max_steps=60,
    **{
        **FAST,
        "eval_every": 2,
        "early_stopping_patience": 2,
        "learning_rate": 1e-2,
        "eval_fraction": 0.25,
        "checkpoint_every": 2,
    },
)


def test_early_stopping_keeps_the_best_weights(tiny_checkpoint, tmp_path):
    result = finetune(tiny_checkpoint, DIVERGING, tmp_path, EARLY_STOP)
    assert result.stopped_early
    assert result.steps < 60
    assert result.eval_loss_after == pytest.approx(min(loss for _, loss in result.eval_loss_history))


def test_best_weights_survive_a_resume(tiny_checkpoint, tmp_path):
    straight = finetune(tiny_checkpoint, DIVERGING, tmp_path / "a", EARLY_STOP)
    steps = []
    with pytest.raises(TrainingCancelled):
        finetune(
            tiny_checkpoint,
            DIVERGING,
            tmp_path / "b",
            EARLY_STOP,
            progress=lambda p: steps.append(p.step),
            should_cancel=lambda: len(steps) >= straight.steps - 1,
        )
    resumed = finetune(tiny_checkpoint, DIVERGING, tmp_path / "b", EARLY_STOP)
    assert resumed.resumed_from_step == straight.steps - 1
    assert resumed.steps == straight.steps and resumed.stopped_early
    assert resumed.eval_loss_after == pytest.approx(straight.eval_loss_after, rel=1e-4)


@pytest.mark.parametrize(
    "data, message",
    [
        ([], "empty"),
        (DATA[:3], "too small"),
        (DATA[:6] + [{"prompt": "Describe it."}], r"no response \(record 7\)"),
        (DATA[:6] + [{"prompt": "Describe it.", "response": "   "}], "no response"),
        (DATA[:6] + ["just a string"], "no usable prompt"),
    ],
)
def test_bad_datasets_fail_clearly(tiny_checkpoint, tmp_path, data, message):
    with pytest.raises(DatasetError, match=message):
        finetune(tiny_checkpoint, data, tmp_path, FinetuneParams(max_steps=1, **FAST))


def test_invalid_hyperparameters_report_field_errors(tiny_checkpoint, tmp_path):
    with pytest.raises(HyperparameterError) as caught:
        finetune(
            tiny_checkpoint, DATA, tmp_path, FinetuneParams(learning_rate=-1, batch_size=0, method="qlora")
        )
    assert set(caught.value.field_errors) == {"learning_rate", "batch_size", "method"}
    assert validate_finetune_params({"learning_rate": 1e-4, "epochs": 2}) == {}
    assert validate_finetune_params({"epochs": "3", "lora_r": 0}) == {
        "epochs": ["must be an integer between 1 and 100"],
        "lora_r": ["must be between 1 and 256"],
    }
    assert validate_finetune_params({"colour": "red"}) == {"colour": ["unknown field"]}


def test_base_that_is_not_a_checkpoint_fails_clearly(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(InvalidCheckpoint, match="not valid JSON"):
        finetune(tmp_path, DATA, tmp_path / "out", FinetuneParams(max_steps=1, **FAST))


def test_gradient_checkpointing_gives_the_same_losses(tiny_checkpoint, tmp_path):
    plain = finetune(tiny_checkpoint, DATA, tmp_path / "a", FinetuneParams(max_steps=3, **FAST))
    checkpointed = finetune(
        tiny_checkpoint,
        DATA,
        tmp_path / "b",
        FinetuneParams(max_steps=3, gradient_checkpointing=True, **FAST),
    )
    assert [loss for _, loss in checkpointed.train_loss_history] == pytest.approx(
        [loss for _, loss in plain.train_loss_history], rel=1e-4
    )
