"""Fine-tuning on the real SmolLM2-135M-Instruct with (product facts -> human-written description) pairs from
the Myntra catalog: LoRA vs full fine-tuning (peak RSS, tokens/s) and the engine's batched, length-grouped
trainer vs a naive batch-size-1 loop. Every run is a fresh subprocess so peak RSS is its own.

    .venv/bin/python bench/finetune_bench.py [CSV] [--examples 64] [--steps 8] [--rounds 2]

Writes bench/results/finetune.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_CSV = ROOT.parent / "shared/datasets/myntra_fashion_catalog/myntra_products_catalog.csv"
MAX_SEQ_LEN = 128


def examples_from(path: Path, count: int) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if len(r["Description"].strip()) > 60]
    rows = rows[:: max(1, len(rows) // count)][:count]
    return [
        {
            "prompt": f"Write a product description for {r['ProductName']} by {r['ProductBrand']}, "
            f"priced at INR {r['Price (INR)']}.",
            "response": r["Description"].strip()[:240],
        }
        for r in rows
    ]


def worker(kind: str, data: list[dict], steps: int) -> dict:
    from ml.engine import FinetuneParams, provision_base_models
    from ml.engine.finetune import finetune

    checkpoint = provision_base_models(ROOT / "var" / "models")["smollm2-135m-instruct"]
    if kind == "naive_lora_bs1":
        return naive_loop(checkpoint, data, steps)
    method = "full" if kind.startswith("full") else "lora"
    params = FinetuneParams(
        method=method,
        max_steps=steps,
        batch_size=8,
        max_seq_len=MAX_SEQ_LEN,
        gradient_checkpointing=kind.endswith("_gc"),
        learning_rate=5e-5 if method == "full" else 2e-4,
        eval_fraction=0.1,
        eval_every=0,
        checkpoint_every=0,
    )
    with tempfile.TemporaryDirectory() as out:
        result = finetune(checkpoint, data, out, params)
        size = sum(f.stat().st_size for f in Path(result.output_path).rglob("*") if f.is_file())
    return {
        "tokens_per_s": round(result.tokens_per_s, 1),
        "peak_rss_mb": round(result.peak_memory_bytes / 2**20),
        "steps": result.steps,
        "tokens": result.tokens_trained,
        "eval_loss_before": round(result.eval_loss_before, 3),
        "eval_loss_after": round(result.eval_loss_after, 3),
        "artifact_mb": round(size / 2**20, 1),
        "train_seconds": round(result.tokens_trained / result.tokens_per_s, 1),
    }


def naive_loop(checkpoint: str, data: list[dict], steps: int) -> dict:
    """The textbook loop: one example per step, fp32, the model's own full-vocabulary loss, and the same LoRA
    adapter as the engine's (rank, alpha, dropout, q/k/v/o), so only the way of training differs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ml.engine import FinetuneParams

    lora = FinetuneParams()

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32),
        LoraConfig(
            r=lora.lora_r,
            lora_alpha=lora.lora_alpha,
            lora_dropout=lora.lora_dropout,
            task_type="CAUSAL_LM",
            target_modules=list(lora.lora_targets),
        ),
    )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    model.train()
    tokens, start = 0, time.perf_counter()
    for record in data[: steps * 2]:  # a rate: a quarter of the batched run's examples is plenty
        messages = [{"role": "user", "content": record["prompt"]}]
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        full = tokenizer.apply_chat_template(
            messages + [{"role": "assistant", "content": record["response"]}], tokenize=False
        )
        ids = tokenizer(full, add_special_tokens=False, return_tensors="pt")["input_ids"][:, :MAX_SEQ_LEN]
        labels = ids.clone()
        labels[:, : len(tokenizer(prompt, add_special_tokens=False)["input_ids"])] = -100
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += ids.shape[1]
    seconds = time.perf_counter() - start
    return {
        "tokens_per_s": round(tokens / seconds, 1),
        "tokens": tokens,
        "examples": steps * 2,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "train_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("csv", nargs="?", default=str(DEFAULT_CSV))
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; ratios are medians")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    data = examples_from(Path(args.csv), args.examples)
    if args.worker:
        print(json.dumps(worker(args.worker, data, args.steps)))
        return
    report = {
        "examples": len(data),
        "steps": args.steps,
        "batch_size": 8,
        "max_seq_len": MAX_SEQ_LEN,
        "load_average_before": os.getloadavg(),
        "rounds": [],
    }
    for number in range(args.rounds):
        round_ = {}
        for kind in KINDS:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    args.csv,
                    "--examples",
                    str(args.examples),
                    "--steps",
                    str(args.steps),
                    "--worker",
                    kind,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            round_[kind] = json.loads(out.stdout.strip().splitlines()[-1])
            print(number, kind, round_[kind], flush=True)
        report["rounds"].append(round_)
    report["load_average_after"] = os.getloadavg()
    report["summary"] = summarise(report["rounds"])
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "finetune.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report["summary"], indent=2))


KINDS = ("lora_batched", "full_batched", "lora_batched_gc", "full_batched_gc", "naive_lora_bs1")


def summarise(rounds: list[dict]) -> dict:
    """Median figures per run; LoRA/full and batched/naive ratios taken within each round, then their median."""
    from statistics import median

    def ratios(top, bottom, field):
        values = [r[top][field] / r[bottom][field] for r in rounds]
        return round(median(values), 2), round(min(values), 2), round(max(values), 2)

    summary = {
        kind: {
            "tokens_per_s": round(median(r[kind]["tokens_per_s"] for r in rounds), 1),
            "peak_rss_mb": round(median(r[kind]["peak_rss_mb"] for r in rounds)),
        }
        for kind in KINDS
    }
    summary["ratios"] = {
        "lora_vs_full_peak_rss": ratios("lora_batched", "full_batched", "peak_rss_mb"),
        "lora_vs_full_peak_rss_checkpointed": ratios("lora_batched_gc", "full_batched_gc", "peak_rss_mb"),
        "lora_vs_full_tokens_per_s": ratios("lora_batched", "full_batched", "tokens_per_s"),
        "batched_lora_vs_naive_tokens_per_s": ratios("lora_batched", "naive_lora_bs1", "tokens_per_s"),
    }
    return summary


if __name__ == "__main__":
    main()
