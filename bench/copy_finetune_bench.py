"""The copy model fine-tuned on a merchant's own catalog, before and after, on held-out products.

    .venv/bin/python bench/copy_finetune_bench.py [--train 480] [--heldout 40] [--steps 60] [--candidates 3]
                                                  [--adapter-out DIR] [--no-write]

Myntra (../shared/datasets) stands in for the merchant: training pairs are (the product's facts without its
description -> its human-written description) (`ml.engine.copy_training.catalog_example`), from products
that are neither held out nor in the labelled grounding set. Held-out products get a product description
from the base model and from base + the new LoRA adapter through the copy studio's own choice
(`ml.engine.copy_assembly.choose` over `--candidates` drafts, production prompt with the full facts,
production sampling), and each is scored against the product's facts and its human description:

- approvable: the verifier finds nothing (`ml.engine.grounding.check_copy`, the Myntra brand voice);
- unsupported: pieces with at least one unsupported claim or unverified statement, and claims per piece;
- fact coverage: share of the title's content words the piece mentions (what it is, colour, fit, ...);
- ROUGE-L F1 and chrF against the human description (with its glued sentences split);
- held-out reply loss of the human descriptions (the trainer's own evaluate_loss).

Writes bench/results/copy_finetune.json and the "Copy model fine-tune" section of docs/benchmarks.md; keeps
the adapter in --adapter-out (default var/models/bench-copy-adapter) so grounding_corpus.py can write with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.benchmarks_md import write_section
from bench.grounding_data import (
    BRAND_VOICES,
    COPY_PIECES,
    DEFAULT_MYNTRA_CSV,
    _myntra_rows,
    _parse,
)

BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
RESULTS_JSON = ROOT / "bench" / "results" / "copy_finetune.json"
SECTION = "## Copy model fine-tune"
CHANNEL = "product_description"


def split_products(csv_path: Path, train: int, heldout: int) -> tuple[list[dict], list[dict]]:
    """Held-out and training products, disjoint from each other and from the labelled grounding set."""
    labelled = set()
    if COPY_PIECES.exists():
        labelled = {
            json.loads(line)["product"].split(":", 1)[1]
            for line in COPY_PIECES.read_text().splitlines()
            if line.startswith("{") and '"myntra:' in line
        }
    fields, rows = _myntra_rows(csv_path)
    rows = [r for r in rows if r.get("ProductID", "").strip() not in labelled]
    step = max(1, len(rows) // (train + heldout))
    chosen = rows[::step][: train + heldout]
    products = _parse(fields, chosen)
    return products[heldout:], products[:heldout]


def write_copy(generator, products: list[dict], *, candidates: int, tag: str) -> list[dict]:
    from marketing.generation import MAX_NEW_TOKENS, SAMPLING, _seed
    from ml.engine.copy_assembly import write_copy as studio_write
    from ml.engine.grounding import CopyChecker
    from ml.engine.prompts import build_copy_messages

    voice = BRAND_VOICES["myntra"]
    items = [
        (
            p,
            build_copy_messages(p, channel=CHANNEL, tone="warm", length="medium", brand_voice=voice),
            CopyChecker(p, banned_words=voice["banned_words"], brand_voice=voice),
        )
        for p in products
    ]
    choices = studio_write(
        generator,
        items,
        channel=CHANNEL,
        candidates=candidates,
        sampling={**SAMPLING, "max_new_tokens": MAX_NEW_TOKENS[CHANNEL]["medium"]},
        seed_of=lambda i, j: _seed("copy-ft", products[i]["sku"], j),
    )
    return [
        {
            "sku": p["sku"],
            "model": tag,
            "fields": c.fields,
            "assembled": c.assembled,
            "report": c.report.to_dict(),
        }
        for p, c in zip(products, choices)
    ]


def score(pieces: list[dict], products: list[dict]) -> dict:
    from ml.engine.copy_metrics import chrf, fact_coverage, rouge_l
    from ml.engine.copy_training import readable_description

    by_sku = {p["sku"]: p for p in products}
    n = len(pieces)
    claims = [len(p["report"]["unsupported"]) for p in pieces]
    text = [" ".join(v for v in p["fields"].values() if v) for p in pieces]
    refs = [readable_description(by_sku[p["sku"]]["description"], 10_000) for p in pieces]
    return {
        "pieces": n,
        "approvable": round(sum(p["report"]["approvable"] for p in pieces) / n, 3),
        "assembled": round(sum(p["assembled"] for p in pieces) / n, 3),
        "with_unsupported": round(sum(c > 0 for c in claims) / n, 3),
        "claims_per_piece": round(sum(claims) / n, 2),
        "fact_coverage": round(sum(fact_coverage(t, by_sku[p["sku"]]) for t, p in zip(text, pieces)) / n, 3),
        "rouge_l": round(sum(rouge_l(t, r) for t, r in zip(text, refs)) / n, 3),
        "chrf": round(sum(chrf(t, r) for t, r in zip(text, refs)) / n, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_MYNTRA_CSV)
    parser.add_argument("--train", type=int, default=480)
    parser.add_argument("--heldout", type=int, default=40)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--candidates", type=int, default=3)
    parser.add_argument("--adapter-out", type=Path, default=ROOT / "var" / "models" / "bench-copy-adapter")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="evaluate the adapter already in --adapter-out")
    parser.add_argument(
        "--render-only", action="store_true", help=f"rewrite the section from {RESULTS_JSON.name}"
    )
    args = parser.parse_args()
    if args.render_only:
        write_section(render(json.loads(RESULTS_JSON.read_text())), SECTION)
        return 0
    if not args.csv.exists():
        print(f"Dataset not found: {args.csv}", file=sys.stderr)
        return 2
    import django

    django.setup()
    import shutil

    import torch

    from ml.engine import FinetuneParams, LocalHFGenerator, provision_base_models
    from ml.engine.copy_training import catalog_example, readable_description
    from ml.engine.finetune import finetune

    train_products, heldout = split_products(args.csv, args.train, args.heldout)
    voice = BRAND_VOICES["myntra"]
    examples = [e for p in train_products if (e := catalog_example(p, brand_voice=voice))]
    eval_examples = [e for p in heldout if (e := catalog_example(p, brand_voice=voice))]
    print(f"{len(examples)} training pairs, {len(heldout)} held-out products", file=sys.stderr)
    base = provision_base_models(ROOT / "var" / "models")["smollm2-135m-instruct"]
    results: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "train_pairs": len(examples),
        "heldout_products": len(heldout),
        "candidates": args.candidates,
    }
    saved = args.adapter_out / "finetune_result.json"
    if args.reuse and saved.exists():
        trained = json.loads(saved.read_text())
        print(f"reusing the adapter in {args.adapter_out}", file=sys.stderr)
    else:
        if args.adapter_out.exists():
            shutil.rmtree(args.adapter_out)
        started = time.perf_counter()
        params = FinetuneParams(
            method="lora",
            max_steps=args.steps,
            epochs=1,
            batch_size=8,
            learning_rate=3e-4,
            max_seq_len=640,
            eval_every=0,
            checkpoint_every=0,
            early_stopping_patience=0,
        )
        result = finetune(str(base), examples, args.adapter_out, params, eval_examples=eval_examples)
        trained = {k: v for k, v in result.__dict__.items() if isinstance(v, (int, float, str))}
        trained["wall_seconds"] = round(time.perf_counter() - started, 1)
    adapter = trained["output_path"]
    results["trainer"] = {k: v for k, v in trained.items() if isinstance(v, (int, float, str))}
    results["heldout_loss"] = {
        "before": round(trained["eval_loss_before"], 4),
        "after": round(trained["eval_loss_after"], 4),
    }
    pieces = {}
    for tag, adapter_path in (("base", None), ("tuned", adapter)):
        generator = LocalHFGenerator(str(base), adapter_path=adapter_path)
        started = time.perf_counter()
        pieces[tag] = write_copy(generator, heldout, candidates=args.candidates, tag=tag)
        results[tag] = {**score(pieces[tag], heldout), "seconds": round(time.perf_counter() - started, 1)}
        print(tag, results[tag], file=sys.stderr)
    results["samples"] = [
        {
            "sku": b["sku"],
            "human": readable_description(p["description"], 300),
            "base": b["fields"],
            "tuned": t["fields"],
            "tuned_approvable": t["report"]["approvable"],
        }
        for b, t, p in list(zip(pieces["base"], pieces["tuned"], heldout))[:6]
    ]
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps({**results, "pieces": pieces}, indent=2, ensure_ascii=False))
    print(json.dumps({k: v for k, v in results.items() if k != "samples"}, indent=2))
    if not args.no_write:
        write_section(render(results), SECTION)
    return 0


def render(results: dict) -> str:
    base, tuned, trainer = results["base"], results["tuned"], results["trainer"]

    def pct(v):
        return f"{v:.1%}"

    rows = [
        ("approvable (the verifier finds nothing)", pct(base["approvable"]), pct(tuned["approvable"])),
        (
            "  of which assembled from several drafts' verified sentences",
            pct(base["assembled"]),
            pct(tuned["assembled"]),
        ),
        (
            "with an unsupported claim or unverified statement",
            pct(base["with_unsupported"]),
            pct(tuned["with_unsupported"]),
        ),
        ("findings per piece", base["claims_per_piece"], tuned["claims_per_piece"]),
        ("fact coverage (title words mentioned)", pct(base["fact_coverage"]), pct(tuned["fact_coverage"])),
        ("ROUGE-L F1 vs the human description", base["rouge_l"], tuned["rouge_l"]),
        ("chrF vs the human description", base["chrf"], tuned["chrf"]),
    ]
    lines = [
        SECTION,
        "",
        (
            f"`bench/copy_finetune_bench.py`, {results['date']} ({results['machine']}): SmolLM2-135M-Instruct LoRA-trained "
            f"on {results['train_pairs']} Myntra products (facts without the description -> the human description), "
            f"{trainer['steps']} steps of 8 in {trainer['seconds'] / 60:.1f} min at {trainer['tokens_per_s']:.0f} tokens/s; "
            f"{results['heldout_products']} held-out products (none in the labelled grounding set) get a product "
            f"description from each model through the studio's choice over {results['candidates']} drafts."
        ),
        "",
        (
            f"Held-out loss on the human descriptions: {results['heldout_loss']['before']} -> "
            f"{results['heldout_loss']['after']}."
        ),
        "",
        "| held-out products | base | fine-tuned |",
        "| --- | ---: | ---: |",
        *[f"| {name} | {b} | {t} |" for name, b, t in rows],
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
