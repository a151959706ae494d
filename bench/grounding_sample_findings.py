"""Draw a random sample of the verifier's statement findings on the test half of the labelled copy pieces,
for adjudication by reading (bench/grounding/finding_sample.jsonl). The labels mark the main defects of a
piece, not every word of a garbled one, so a finding that overlaps no labelled span is not necessarily
wrong; a reader decides for this sample, and grounding_eval.py reports the precision the reader found.

    .venv/bin/python bench/grounding_sample_findings.py [--n 120] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.grounding_data import BRAND_VOICES, COPY_PIECES, GROUNDING_DIR, products_by_ref
from bench.grounding_eval import split_of

SAMPLE = GROUNDING_DIR / "finding_sample.jsonl"
STATEMENT_CATEGORIES = ("term", "name", "product_type", "colour", "audience", "retailer", "contradiction")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from ml.engine.grounding import check_copy

    pieces = [json.loads(line) for line in COPY_PIECES.read_text().splitlines() if line.strip()]
    products = products_by_ref({p["product"] for p in pieces})
    findings = []
    for piece in pieces:
        if split_of(piece["product"]) != "test":
            continue
        voice = BRAND_VOICES[piece["voice"]]
        fields = {k: v for k, v in piece["fields"].items() if v}
        report = check_copy(
            fields,
            products[piece["product"]],
            channel=piece["channel"],
            banned_words=voice["banned_words"],
            brand_voice=voice,
        )
        for claim in report.unsupported:
            if claim.kind in STATEMENT_CATEGORIES:
                findings.append(
                    {
                        "piece": piece["id"],
                        "field": claim.field,
                        "start": claim.start,
                        "end": claim.end,
                        "span": claim.text,
                        "category": claim.kind,
                    }
                )
    sample = random.Random(args.seed).sample(findings, min(args.n, len(findings)))
    SAMPLE.write_text("".join(json.dumps(f, ensure_ascii=False) + "\n" for f in sample))
    print(
        f"{len(sample)} of {len(findings)} statement findings on the test half -> {SAMPLE.relative_to(ROOT)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
