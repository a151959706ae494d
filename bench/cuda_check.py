"""The engine's CUDA paths in one prepared run, for a session that is lent a GPU machine (the `device` tool).

What it proves, with the engine's own code on the given device: bf16 batched generation (the local backend's
prefill, preallocated KV cache, seeded sampling) and its throughput against a naive fp32 ``generate()`` loop on
the same device; greedy batched vs one-at-a-time output in fp32; a short LoRA run under bf16 autocast that must
lower the held-out loss, its adapter reloaded for evaluation and generation; a short full fine-tune for the
LoRA/full peak-memory ratio. The device machine cannot take the SmolLM2 weights along (the working tree that
travels is capped at 64 MiB, the weights are 538 MB), so the model is SmolLM2-135M's architecture and tokenizer
with random weights (seeded): the code paths and the arithmetic per token are the real model's, the text is not.

    # here, once: SmolLM2's config and tokenizer, 64 Myntra prompts and 96 (prompt, reply) examples, and the
    # pinned transformers/peft wheels (the device image has older ones) into .device_kit/ (git-ignored)
    .venv/bin/python bench/cuda_check.py --prepare
    # on the device machine: run(command=..., carry=[".device_kit"])
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .device_kit/whl/*.whl \
      && PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 python3 bench/cuda_check.py --out $OUT
    # here, the script itself on the CPU with a tiny model (tests/ml/engine/test_cuda_check.py does this)
    .venv/bin/python bench/cuda_check.py --device cpu --tiny --out /tmp/cuda-check

Writes OUT/cuda_check.json and prints a summary; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KIT = ROOT / ".device_kit"
ARCH_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "special_tokens_map.json",
)


def prepare(kit: Path = KIT) -> None:
    """Fill ``kit`` with what the device run needs and the device machine lacks (all small)."""
    from bench.generation_bench import DEFAULT_CSV, load_products, messages_for
    from ml.engine.provision import SMOLLM2_DIRNAME

    source = ROOT / "var/models" / SMOLLM2_DIRNAME
    arch = kit / SMOLLM2_DIRNAME
    arch.mkdir(parents=True, exist_ok=True)
    for name in ARCH_FILES:
        if (source / name).exists():
            shutil.copy2(source / name, arch / name)
    products = load_products(DEFAULT_CSV, 96)
    data = {
        "prompts": [messages_for(p) for p in products[:64]],
        "examples": [
            {"prompt": messages_for(p), "response": " ".join(p["Description"].split(". ")[:2]).strip()}
            for p in products
        ],
    }
    (kit / "data.json").write_text(json.dumps(data))
    import peft
    import transformers

    wheels = kit / "whl"
    shutil.rmtree(wheels, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(wheels)]
        + [f"transformers=={transformers.__version__}", f"peft=={peft.__version__}"],
        check=True,
    )
    size = sum(f.stat().st_size for f in kit.rglob("*") if f.is_file())
    print(f"{kit}: {size / 2**20:.1f} MiB (carry it: run(..., carry=['.device_kit']))")


def build_checkpoint(arch: Path, target: Path, tiny: bool, seed: int = 0) -> Path:
    """SmolLM2's (or ``arch``'s) architecture with seeded random weights, saved as a checkpoint directory.

    The output projections are scaled up so the logits are not near-uniform: with a flat distribution greedy
    decoding turns on rounding-level ties and the batched/one-at-a-time comparison would say nothing."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(arch)
    if tiny:
        config.update(
            {
                "hidden_size": 64,
                "intermediate_size": 128,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "num_key_value_heads": 2,
                "head_dim": 16,
            }
        )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                weight.mul_(4)
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(arch).save_pretrained(target)
    for name in ("generation_config.json", "chat_template.jinja"):
        if (arch / name).exists() and not (target / name).exists():
            shutil.copy2(arch / name, target / name)
    return target


def environment(device) -> dict:
    import peft
    import torch
    import transformers

    info = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "device": str(device),
    }
    if device.type == "cuda":
        info.update(
            name=torch.cuda.get_device_name(device),
            capability=".".join(map(str, torch.cuda.get_device_capability(device))),
            bf16_supported=torch.cuda.is_bf16_supported(),
            memory_gib=round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1),
        )
    return info


def greedy_batched_vs_single(checkpoint: Path, prompts: list, device: str) -> dict:
    """fp32, greedy: the same prompts decoded as one padded batch and one at a time."""
    from ml.engine import GenerationRequest, LocalHFGenerator, clear_model_cache

    clear_model_cache()
    generator = LocalHFGenerator(checkpoint, device=device, dtype="float32", max_batch_size=len(prompts))
    requests = [GenerationRequest.chat(p, max_new_tokens=24, greedy=True) for p in prompts]
    batched = [r.text for r in generator.generate(requests)]
    single = [generator.generate([r])[0].text for r in requests]
    same = sum(a == b for a, b in zip(batched, single))
    return {"prompts": len(prompts), "identical": same, "dtype": str(generator.loaded.dtype)}


def throughput(checkpoint: Path, prompts: list, device: str, naive_prompts: int) -> dict:
    """The engine's batched generation in its default dtype vs a naive fp32 generate() loop, same device."""
    import torch

    from bench.generation_bench import SAMPLING, run_naive
    from ml.engine import GenerationRequest, LocalHFGenerator, clear_model_cache

    def sync():
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()

    clear_model_cache()
    runs = []
    for batch in (64, 256):
        generator = LocalHFGenerator(checkpoint, device=device, max_batch_size=batch)
        generator.generate([GenerationRequest.chat(prompts[0], max_new_tokens=4)])  # load and warm up
        rows = (prompts * (batch // len(prompts) + 1))[:batch]
        requests = [GenerationRequest.chat(p, seed=i, **SAMPLING) for i, p in enumerate(rows)]
        sync()
        start = time.perf_counter()
        results = generator.generate(requests)
        sync()
        seconds = time.perf_counter() - start
        tokens = sum(r.completion_tokens for r in results)
        runs.append(
            {
                "batch": batch,
                "dtype": str(generator.loaded.dtype),
                "tokens": tokens,
                "seconds": round(seconds, 3),
                "tokens_per_s": round(tokens / seconds, 1),
                "fewest_tokens_in_a_row": min(r.completion_tokens for r in results),
            }
        )
    # generation_bench's loop (its int() token counts sync CUDA after every prompt, so its timing holds)
    naive = run_naive(str(checkpoint), prompts[:naive_prompts], device)
    for run in runs:
        run["vs_naive"] = round(run["tokens_per_s"] / naive["tokens_per_s"], 1)
    return {"engine": runs, "naive_fp32": naive}


def finetuning(checkpoint: Path, examples: list, device: str, work: Path, steps: int) -> dict:
    """A short LoRA run (bf16 autocast on CUDA) that must lower the held-out loss, its adapter reloaded for
    evaluation and generation, then a short full fine-tune on the same data for the peak-memory ratio."""
    from ml.engine import Example, FinetuneParams, GenerationRequest, LocalHFGenerator, evaluate_loss
    from ml.engine.finetune import finetune

    _release_models()  # on CUDA, peak memory counts every allocated tensor: the generation models too
    data = [Example(e["prompt"], e["response"]) for e in examples]
    train, held_out = data[:-8], data[-8:]
    params = {"max_steps": steps, "batch_size": 8, "eval_every": 0, "checkpoint_every": 0, "max_seq_len": 256}
    lora = finetune(
        checkpoint,
        train,
        work / "lora",
        FinetuneParams(learning_rate=1e-3, **params),
        eval_examples=held_out,
        device=device,
    )
    reloaded_loss, _ = evaluate_loss(
        checkpoint, held_out, adapter_path=lora.output_path, max_seq_len=256, device=device
    )
    text = (
        LocalHFGenerator(checkpoint, adapter_path=lora.output_path, device=device)
        .generate([GenerationRequest.chat(examples[0]["prompt"], max_new_tokens=16, greedy=True)])[0]
        .text
    )
    _release_models()
    full = finetune(
        checkpoint,
        train,
        work / "full",
        FinetuneParams(method="full", learning_rate=1e-5, **{**params, "max_steps": max(2, steps // 3)}),
        eval_examples=held_out,
        device=device,
    )
    adapter_bytes = sum(f.stat().st_size for f in Path(lora.output_path).rglob("*") if f.is_file())
    return {
        "lora": _summary(lora),
        "lora_reloaded_eval_loss": round(reloaded_loss, 4),
        "lora_adapter_mib": round(adapter_bytes / 2**20, 2),
        "lora_generation": text,
        "full": _summary(full),
        "peak_memory_lora_vs_full": round(lora.peak_memory_bytes / max(full.peak_memory_bytes, 1), 2),
    }


def _release_models() -> None:
    import gc

    import torch

    from ml.engine import clear_model_cache

    clear_model_cache()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _summary(result) -> dict:
    keep = (
        "steps",
        "eval_loss_before",
        "eval_loss_after",
        "tokens_trained",
        "tokens_per_s",
        "peak_memory_bytes",
        "seconds",
    )
    summary = {k: getattr(result, k) for k in keep}
    summary["train_loss_history"] = result.train_loss_history
    return summary


def checks(report: dict) -> dict[str, bool | None]:
    """Each check's verdict; None where it means nothing off CUDA (the dtype; peak memory, which on the CPU is
    the process's peak RSS, the same for both runs of one process). A part that raised fails as a whole."""
    on_cuda = report["environment"]["device"].startswith("cuda")
    verdicts: dict[str, bool | None] = {}
    if "error" in report["greedy_batched_vs_single"]:
        verdicts["greedy batched vs single ran"] = False
    generation = report["throughput"]
    if "error" in generation:
        verdicts["generation ran"] = False
    else:
        runs = generation["engine"]
        verdicts["generation gave every row tokens"] = all(run["fewest_tokens_in_a_row"] > 0 for run in runs)
        verdicts["generation ran in bf16 on CUDA"] = (
            all(run["dtype"] == "torch.bfloat16" for run in runs) if on_cuda else None
        )
    training = report["finetuning"]
    if "error" in training:
        verdicts["fine-tuning ran"] = False
    else:
        lora = training["lora"]
        verdicts["LoRA lowered the held-out loss"] = lora["eval_loss_after"] < lora["eval_loss_before"]
        verdicts["reloaded adapter gives the trained held-out loss"] = (
            abs(training["lora_reloaded_eval_loss"] - lora["eval_loss_after"]) < 0.05
        )
        verdicts["LoRA peak memory below full fine-tuning's"] = (
            training["peak_memory_lora_vs_full"] < 1.0 if on_cuda else None
        )
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prepare", action="store_true", help="fill .device_kit/ here and stop")
    parser.add_argument("--kit", type=Path, default=KIT)
    parser.add_argument("--arch", type=Path, help="config + tokenizer folder (default: the kit's SmolLM2)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model: checks the script, not speed")
    parser.add_argument("--steps", type=int, default=12, help="LoRA optimizer steps")
    parser.add_argument("--naive-prompts", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or ROOT / "bench/results"))
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(args.kit)
        return 0

    import torch

    from ml.engine.provision import SMOLLM2_DIRNAME

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here", file=sys.stderr)
        return 2
    data = json.loads((args.kit / "data.json").read_text())
    arch = args.arch or args.kit / SMOLLM2_DIRNAME
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        checkpoint = build_checkpoint(arch, work / "model", args.tiny)
        report = {"environment": environment(device), "tiny": args.tiny}
        # Each part runs even if one before it failed: a device call is scarce, so one run should say it all.
        sections = {
            "greedy_batched_vs_single": lambda: greedy_batched_vs_single(
                checkpoint, data["prompts"][:8], str(device)
            ),
            "throughput": lambda: throughput(checkpoint, data["prompts"], str(device), args.naive_prompts),
            "finetuning": lambda: finetuning(checkpoint, data["examples"], str(device), work, args.steps),
        }
        for name, run in sections.items():
            try:
                report[name] = run()
            except Exception:  # noqa: BLE001 (reported, and the checks that need it fail)
                report[name] = {"error": traceback.format_exc()}
                print(report[name]["error"], file=sys.stderr)
    report["checks"] = checks(report)
    report["seconds"] = round(time.perf_counter() - started, 1)
    (args.out / "cuda_check.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    failed = [name for name, ok in report["checks"].items() if ok is False]
    print("FAILED: " + "; ".join(failed) if failed else "all checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
