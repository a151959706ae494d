"""Generation throughput on the real SmolLM2-135M-Instruct: the engine's batched decoding vs a naive
one-prompt-at-a-time generate() loop in fp32 vs CTranslate2 int8 at its best batch size, on prompts built
from real Myntra products, with sampling on and quality measured alongside.

    .venv/bin/python bench/generation_bench.py [CSV] [--prompts 64] [--naive-prompts 16] [--rounds 3]

Every contender runs once per round, the rounds interleaved; ratios are taken within a round and their median
reported. Writes bench/results/generation.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch

from ml.engine import GenerationRequest, LocalHFGenerator, clear_model_cache, provision_base_models

DEFAULT_CSV = ROOT.parent / "shared/datasets/myntra_fashion_catalog/myntra_products_catalog.csv"
SYSTEM = (
    "You are a copywriter for an online fashion store. Write vivid, accurate copy using only the facts given."
)
SAMPLING = {
    "temperature": 0.7,
    "top_p": 0.9,
    "top_k": 50,
    "repetition_penalty": 1.15,
    "max_new_tokens": 64,
    "min_new_tokens": 48,
}


def load_products(path: Path, count: int) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["Description"].strip()]
    step = max(1, len(rows) // count)
    return rows[::step][:count]


def messages_for(product: dict) -> list[dict]:
    facts = (
        f"Product: {product['ProductName']}\nBrand: {product['ProductBrand']}\nFor: {product['Gender']}\n"
        f"Colour: {(product.get('PrimaryColor') or '').strip() or 'n/a'}\nPrice: INR {product['Price (INR)']}\n"
        f"Details: {product['Description'][:120]}"
    )
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"{facts}\n\nWrite a two-sentence product description."},
    ]


QUALITY_SUBSET = (
    16  # distinct-2 depends on how many texts are pooled: every run is scored on the same first 16
)


def quality(texts: list[str]) -> dict:
    bigrams, repeated = [], 0
    for number, text in enumerate(texts):
        words = text.lower().split()
        if number < QUALITY_SUBSET:
            bigrams += list(itertools.pairwise(words))
        grams = list(zip(*(words[i:] for i in range(4))))
        repeated += len(grams) != len(set(grams))
    return {
        "distinct_2": round(len(set(bigrams)) / max(len(bigrams), 1), 3),
        "share_with_repeated_4gram": round(repeated / max(len(texts), 1), 3),
    }


def run_engine(checkpoint: str, conversations, quantization=None, batch=64, dtype=None) -> dict:
    clear_model_cache()
    generator = LocalHFGenerator(checkpoint, quantization=quantization, max_batch_size=batch, dtype=dtype)
    _ = generator.loaded  # load outside the timed region, as a warm worker would be
    generator.generate([GenerationRequest.chat(conversations[0], max_new_tokens=4)])
    requests = [GenerationRequest.chat(c, seed=i, **SAMPLING) for i, c in enumerate(conversations)]
    start = time.perf_counter()
    results = generator.generate(requests)
    seconds = time.perf_counter() - start
    tokens = sum(r.completion_tokens for r in results)
    texts = [r.text for r in results]
    return {
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
        "dtype": str(generator.loaded.dtype),
        "batch": batch,
        "quantization": quantization,
        **quality(texts),
        "samples": texts[:3],
    }


def run_naive(checkpoint: str, conversations, device: str = "cpu") -> dict:
    """How the original design did it: one generate() call per prompt, fp32, HF's own sampling."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).to(device).eval()
    torch.manual_seed(0)
    texts, tokens = [], 0
    start = time.perf_counter()
    for conversation in conversations:
        ids = tokenizer.apply_chat_template(
            conversation, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(device)
        out = model.generate(
            **ids,
            do_sample=True,
            temperature=0.7,
            top_p=0.9,
            top_k=50,
            repetition_penalty=1.15,
            max_new_tokens=64,
            min_new_tokens=48,
            pad_token_id=tokenizer.pad_token_id,
        )
        new = out[0, ids["input_ids"].shape[1] :]
        tokens += int((new != tokenizer.eos_token_id).sum()) + int((new == tokenizer.eos_token_id).any())
        texts.append(tokenizer.decode(new, skip_special_tokens=True))
    seconds = time.perf_counter() - start
    return {
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
        "prompts": len(conversations),
        **quality(texts),
    }


def run_ctranslate2(checkpoint: str, conversations, batch_sizes=(8, 16, 32, 64)) -> dict:
    import ctranslate2
    from ctranslate2.converters import TransformersConverter
    from transformers import AutoTokenizer

    out_dir = ROOT / "var" / "models" / "smollm2-135m-instruct-ct2-int8"
    if not (out_dir / "model.bin").is_file():
        TransformersConverter(checkpoint).convert(str(out_dir), quantization="int8", force=True)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    generator = ctranslate2.Generator(
        str(out_dir), device="cpu", compute_type="int8", intra_threads=torch.get_num_threads()
    )
    prompts = [
        tokenizer.convert_ids_to_tokens(
            tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=True, return_dict=False)
        )
        for c in conversations
    ]
    runs = []
    for bs in batch_sizes:
        start = time.perf_counter()
        results = generator.generate_batch(
            prompts,
            max_batch_size=bs,
            sampling_topk=50,
            sampling_topp=0.9,
            sampling_temperature=0.7,
            repetition_penalty=1.15,
            max_length=64,
            min_length=48,
            include_prompt_in_result=False,
            end_token="<|im_end|>",
        )
        seconds = time.perf_counter() - start
        tokens = sum(len(r.sequences_ids[0]) for r in results)
        texts = [tokenizer.decode(r.sequences_ids[0], skip_special_tokens=True) for r in results]
        runs.append(
            {
                "batch": bs,
                "tokens": tokens,
                "seconds": round(seconds, 2),
                "tokens_per_s": round(tokens / seconds, 1),
                **quality(texts),
            }
        )
        print("  ctranslate2", runs[-1], flush=True)
    best = max(runs, key=lambda r: r["tokens_per_s"])
    return {**best, "all_batch_sizes": runs, "version": ctranslate2.__version__}


RUNS = ("engine", "engine_fp32", "engine_int8", "ctranslate2_int8", "naive_fp32")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("csv", nargs="?", default=str(DEFAULT_CSV))
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument(
        "--naive-prompts",
        type=int,
        default=16,
        help="the naive loop runs ~15 tok/s, so its rate is measured on the first N prompts",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds; ratios are taken within a round and their median reported (a shared "
        "2-core machine varies by 10-15%% between minutes)",
    )
    parser.add_argument("--skip", nargs="*", default=[], choices=["naive", "int8", "ctranslate2"])
    args = parser.parse_args()
    checkpoint = provision_base_models(ROOT / "var" / "models")["smollm2-135m-instruct"]
    conversations = [messages_for(p) for p in load_products(Path(args.csv), args.prompts)]
    report = {
        "prompts": len(conversations),
        "threads": torch.get_num_threads(),
        "sampling": SAMPLING,
        "load_average_before": os.getloadavg(),
        "rounds": [],
    }
    ct2_batches = (8, 16, 32, 64)
    for number in range(args.rounds):
        round_ = {}
        round_["engine"] = run_engine(checkpoint, conversations)
        print(number, "engine", round_["engine"], flush=True)
        if number == 0 and round_["engine"]["dtype"] != "torch.float32":
            # the probe chose bf16: fp32 beside it, once (a reference, not a contender)
            round_["engine_fp32"] = run_engine(checkpoint, conversations, dtype=torch.float32)
            print(number, "engine fp32", round_["engine_fp32"], flush=True)
        if "int8" not in args.skip:
            round_["engine_int8"] = run_engine(checkpoint, conversations, quantization="int8")
            print(number, "engine int8", round_["engine_int8"], flush=True)
        if "ctranslate2" not in args.skip:
            round_["ctranslate2_int8"] = run_ctranslate2(checkpoint, conversations, ct2_batches)
            ct2_batches = (round_["ctranslate2_int8"]["batch"],)  # later rounds: its best batch size only
            print(number, "ctranslate2", round_["ctranslate2_int8"], flush=True)
        if "naive" not in args.skip:
            round_["naive_fp32"] = run_naive(checkpoint, conversations[: args.naive_prompts])
            print(number, "naive", round_["naive_fp32"], flush=True)
        report["rounds"].append(round_)
    report["load_average_after"] = os.getloadavg()
    report["summary"] = summarise(report["rounds"])
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "generation.json").write_text(json.dumps(report, indent=2))
    print(
        "\n| run | tokens/s (median, min-max) | vs naive (median of per-round ratios, min-max) | vs CTranslate2 | "
        "distinct-2 | repeated 4-gram |\n|---|---|---|---|---|---|"
    )
    for key, row in report["summary"].items():
        print(
            f"| {key} | {row['tokens_per_s']} ({row['tokens_per_s_range'][0]}-{row['tokens_per_s_range'][1]}) | "
            f"{_fmt(row.get('vs_naive'))} | {_fmt(row.get('vs_ctranslate2'), 2)} | {row['distinct_2']} | "
            f"{row['share_with_repeated_4gram']} |"
        )


def summarise(rounds: list[dict]) -> dict:
    """Median tokens/s per run over the rounds, and each ratio taken within a round (side by side)."""
    from statistics import median

    summary = {}
    for key in RUNS:
        runs = [r[key] for r in rounds if key in r]
        if not runs:
            continue
        rates = [r["tokens_per_s"] for r in runs]
        row = {
            "tokens_per_s": round(median(rates), 1),
            "tokens_per_s_range": (min(rates), max(rates)),
            "distinct_2": runs[0]["distinct_2"],
            "share_with_repeated_4gram": max(r["share_with_repeated_4gram"] for r in runs),
            "rounds": len(runs),
        }
        for peer, name in (("naive_fp32", "vs_naive"), ("ctranslate2_int8", "vs_ctranslate2")):
            ratios = [
                r[key]["tokens_per_s"] / r[peer]["tokens_per_s"] for r in rounds if key in r and peer in r
            ]
            if ratios:
                row[name] = (round(median(ratios), 2), round(min(ratios), 2), round(max(ratios), 2))
        summary[key] = row
    return summary


def _fmt(ratio, digits=1) -> str:
    if not ratio:
        return "-"
    mid, low, high = ratio
    return f"{mid:.{digits}f}x ({low:.{digits}f}-{high:.{digits}f})"


if __name__ == "__main__":
    main()
