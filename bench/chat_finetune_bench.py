"""Held-out reply perplexity of the real SmolLM2-135M-Instruct on Bitext support dialogues, before and after
LoRA fine-tuning with the engine's trainer: the data path chat fine-tuning uses (parse_dialogues, mask_pii on
every turn, dialogue_to_examples with the live bot's system prompt), an intent-stratified split, and the
trainer's own reply-token loss on the held-out set before and after training.

    .venv/bin/python bench/chat_finetune_bench.py [DATASETS_DIR] [--train 400] [--heldout 100] [--steps 40]

DATASETS_DIR is the folder holding bitext_customer_support/ (default ../shared/datasets). Writes
bench/results/chat_finetune.json and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch

from ml.engine import FinetuneParams, provision_base_models
from ml.engine.chat import build_system_prompt
from ml.engine.dialogues import Dialogue, dialogue_to_examples, parse_dialogues
from ml.engine.finetune import finetune
from ml.engine.pii import mask_pii

CSV_NAME = "bitext_customer_support/bitext_customer_support_training.csv"


def masked_dialogues(path: Path) -> tuple[list[Dialogue], Counter, int]:
    parsed = parse_dialogues(path.read_bytes(), filename=path.name)
    if parsed.errors:
        raise SystemExit(f"{len(parsed.errors)} rows could not be read: {parsed.errors[:3]}")
    counts: Counter = Counter()
    seen, out = set(), []
    for dialogue in parsed.dialogues:
        turns = []
        for turn in dialogue.turns:
            result = mask_pii(turn["text"])
            counts.update(result.counts)
            turns.append({"role": turn["role"], "text": result.text})
        key = json.dumps([[t["role"], " ".join(t["text"].split()).lower()] for t in turns])
        if key not in seen:  # what the import's dedupe does: same masked content, one dialogue
            seen.add(key)
            out.append(Dialogue(turns=turns, intent=dialogue.intent))
    return out, counts, len(parsed.dialogues)


def stratified_split(dialogues: list[Dialogue], train: int, heldout: int, seed: int):
    """The same share of every intent in each part: intents get their quota in turn, shuffled within."""
    by_intent: dict[str, list[Dialogue]] = defaultdict(list)
    for dialogue in dialogues:
        by_intent[dialogue.intent].append(dialogue)
    rng = random.Random(seed)
    for group in by_intent.values():
        rng.shuffle(group)
    intents = sorted(by_intent)
    taken = {intent: 0 for intent in intents}

    def take(count: int) -> list[Dialogue]:
        picked = []
        while len(picked) < count:
            progressed = False
            for intent in intents:
                if len(picked) < count and taken[intent] < len(by_intent[intent]):
                    picked.append(by_intent[intent][taken[intent]])
                    taken[intent] += 1
                    progressed = True
            if not progressed:
                break
        return picked

    held = take(heldout)
    return take(train), held, len(intents)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("datasets", nargs="?", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--train", type=int, default=400)
    parser.add_argument("--heldout", type=int, default=100)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--max-seq-len", type=int, default=320)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = Path(args.datasets) / CSV_NAME
    if not path.is_file():
        raise SystemExit(f"{path} not found: pass the folder that holds bitext_customer_support/")
    torch.set_num_threads(args.threads)

    dialogues, masked, rows = masked_dialogues(path)
    train, heldout, intents = stratified_split(dialogues, args.train, args.heldout, args.seed)
    system_prompt = build_system_prompt(merchant_name="Northwind Outfitters", bot_name="Assistant")
    train_examples = [e for d in train for e in dialogue_to_examples(d, system_prompt=system_prompt)]
    heldout_examples = [e for d in heldout for e in dialogue_to_examples(d, system_prompt=system_prompt)]
    params = FinetuneParams(
        method="lora",
        max_steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=max(1, args.steps // 10),
        max_seq_len=args.max_seq_len,
        eval_every=0,
        checkpoint_every=0,
        seed=args.seed,
    )
    checkpoint = provision_base_models(ROOT / "var" / "models")["smollm2-135m-instruct"]
    report = {
        "data": {
            "rows": rows,
            "dialogues_after_dedupe": len(dialogues),
            "intents": intents,
            "train_dialogues": len(train),
            "heldout_dialogues": len(heldout),
            "train_examples": len(train_examples),
            "heldout_examples": len(heldout_examples),
            "masked": dict(sorted(masked.items())),
        },
        "params": {
            k: getattr(params, k)
            for k in (
                "method",
                "max_steps",
                "batch_size",
                "learning_rate",
                "warmup_steps",
                "max_seq_len",
                "lora_r",
                "lora_alpha",
            )
        },
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_before": os.getloadavg(),
    }
    print(json.dumps(report, indent=2), flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        result = finetune(checkpoint, train_examples, out, params, eval_examples=heldout_examples)
    report["result"] = {
        "base_heldout_loss": round(result.eval_loss_before, 4),
        "base_heldout_perplexity": round(result.perplexity_before, 3),
        "tuned_heldout_loss": round(result.eval_loss_after, 4),
        "tuned_heldout_perplexity": round(result.perplexity_after, 3),
        "perplexity_reduction": round(1 - result.perplexity_after / result.perplexity_before, 4),
        "steps": result.steps,
        "examples_seen": result.steps * args.batch_size,
        "truncated_examples": result.truncated_examples,
        "train_tokens_per_s": round(result.tokens_per_s, 1),
        "train_seconds": round(result.tokens_trained / result.tokens_per_s, 1)
        if result.tokens_per_s
        else None,
        "total_seconds": round(time.perf_counter() - started, 1),
        "loss_history": [(s, round(v, 4)) for s, v in result.train_loss_history],
    }
    report["load_average_after"] = os.getloadavg()
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "chat_finetune.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report["result"].items() if k != "loss_history"}, indent=2))


if __name__ == "__main__":
    main()
