"""Generate the copy pieces of the grounding evaluation set (bench/grounding/copy_pieces.jsonl).

    .venv/bin/python bench/grounding_corpus.py [--myntra 36] [--demo 28] [--model smollm2-135m-instruct]
                                               [--adapter DIR] [--tag base] [--out FILE]

Each piece is what the copy studio shows a merchant on the first try: the production prompt
(`ml.engine.prompts.build_copy_messages` with the brand voice), the production sampling settings
(`marketing.generation.SAMPLING` and the medium token budget), the production parser (`parse_copy_output`),
one product per prompt, batched. Products come from the Myntra catalog in ../shared/datasets (evenly spaced
rows with a description, starting away from the rows the copy benchmark uses) and from the project's own
demo catalog; every channel is written for every product.

The file stores the generated text, the product *reference* (``myntra:<ProductID>`` or ``demo:<sku>``), the
channel, the brand voice name, the model and the seed; never dataset text. `bench/grounding_eval.py` reads the
product facts from ../shared at evaluation time. Appends to an existing file, skipping pieces already there
(keyed on product ref, channel and model tag), so a second model's pieces can be added later.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.grounding_data import (
    BRAND_VOICES,
    COPY_PIECES,
    DEFAULT_MYNTRA_CSV,
    demo_products,
    myntra_products,
)
from ml.engine.grounding import CHANNELS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--myntra", type=int, default=36, help="Myntra products (default: %(default)s)")
    parser.add_argument("--demo", type=int, default=28, help="demo catalog products (default: %(default)s)")
    parser.add_argument("--csv", type=Path, default=DEFAULT_MYNTRA_CSV)
    parser.add_argument("--model", default="smollm2-135m-instruct", help="base model to provision and use")
    parser.add_argument("--adapter", type=Path, default=None, help="a LoRA adapter directory on the base")
    parser.add_argument("--tag", default="base", help="name of this model in the file (default: %(default)s)")
    parser.add_argument("--channels", default=",".join(CHANNELS))
    parser.add_argument("--out", type=Path, default=COPY_PIECES)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument(
        "--candidates",
        type=int,
        default=1,
        help="drafts per piece; above 1 the copy studio's choice runs on them (a passing draft, else one "
        "assembled from their verified sentences, else the best) and replies cut by the token budget are "
        "trimmed to their last complete sentence, as marketing.generation does (default: %(default)s, the "
        "pipeline before that choice existed)",
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import django

    django.setup()
    from marketing.generation import MAX_NEW_TOKENS, SAMPLING, _printable, _seed
    from ml.engine import GenerationRequest, LocalHFGenerator, provision_base_models
    from ml.engine.copy_assembly import choose, complete_sentences
    from ml.engine.grounding import CopyChecker
    from ml.engine.prompts import build_copy_messages, parse_copy_output

    products = []
    by_ref = {}
    if args.myntra:
        if not args.csv.exists():
            print(f"Dataset not found: {args.csv}", file=sys.stderr)
            return 2
        products += [("myntra", p) for p in myntra_products(args.csv, args.myntra)]
    products += [("demo", p) for p in demo_products(args.demo)]

    existing = set()
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                existing.add((row["product"], row["channel"], row["model"]))

    checkpoint = provision_base_models(ROOT / "var" / "models")[args.model]
    generator = LocalHFGenerator(str(checkpoint), adapter_path=str(args.adapter) if args.adapter else None)
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    todo = []
    for source, product in products:
        ref = f"{source}:{product['sku']}"
        by_ref[ref] = product
        voice_name = "myntra" if source == "myntra" else "demo"
        for channel in channels:
            if (ref, channel, args.tag) in existing:
                continue
            messages = build_copy_messages(
                product, channel=channel, tone="warm", length="medium", brand_voice=BRAND_VOICES[voice_name]
            )
            seed = _seed("grounding-eval", ref, channel, args.tag)
            params = {**SAMPLING, "max_new_tokens": MAX_NEW_TOKENS[channel]["medium"]}
            todo.append((ref, voice_name, channel, messages, seed, params))
    print(f"{len(todo)} pieces to write ({len(existing)} already in {args.out.name})", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with args.out.open("a") as out:
        # One channel at a time keeps the rows of a batch a similar length.
        todo.sort(key=lambda t: (t[2], t[0]))
        for start in range(0, len(todo), args.batch):
            chunk = todo[start : start + args.batch]
            k = args.candidates
            requests = [
                GenerationRequest.chat(m, request_id=ref, seed=seed + j, **params)
                for ref, _, _, m, seed, params in chunk
                for j in range(k)
            ]
            outputs = generator.generate(requests)
            for i, (ref, voice_name, channel, messages, seed, _params) in enumerate(chunk):
                results = outputs[i * k : (i + 1) * k]
                result = results[0]
                fields = parse_copy_output(_printable(result.text), channel)
                assembled = False
                if k > 1:
                    drafts = []
                    for one in results:
                        draft = parse_copy_output(_printable(one.text), channel)
                        if one.finish_reason == "length":
                            draft = complete_sentences(draft, channel)
                        drafts.append({n: v for n, v in draft.items() if v})
                    voice = BRAND_VOICES[voice_name]
                    checker = CopyChecker(by_ref[ref], banned_words=voice["banned_words"], brand_voice=voice)
                    choice = choose(
                        drafts, by_ref[ref], channel=channel, checker=checker, prompt=messages[-1]["content"]
                    )
                    fields = {n: choice.fields.get(n, "") for n in fields}
                    assembled = choice.assembled
                    result = results[choice.index or 0]
                row = {
                    "id": f"{args.tag}:{channel}:{ref}",
                    "product": ref,
                    "channel": channel,
                    "voice": voice_name,
                    "model": args.tag,
                    "seed": seed,
                    "finish_reason": result.finish_reason,
                    "candidates": k,
                    "assembled": assembled,
                    "fields": fields,
                }
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            print(
                f"[{time.perf_counter() - started:6.0f} s] {min(start + args.batch, len(todo))}/{len(todo)}",
                file=sys.stderr,
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
