"""Print copy pieces of the grounding evaluation set beside their product facts, for labelling by reading.

    .venv/bin/python bench/grounding_view.py [--from 0] [--to 40] [--id ID ...]

Reads bench/grounding/copy_pieces.jsonl and the product facts (Myntra rows from ../shared/datasets, read
now; demo products from the project's demo catalog). Prints no checker output: labels are made by reading.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.grounding_data import BRAND_VOICES, COPY_PIECES, products_by_ref


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="start", type=int, default=0)
    parser.add_argument("--to", dest="stop", type=int, default=None)
    parser.add_argument("--id", action="append", default=[])
    parser.add_argument("--pieces", type=Path, default=COPY_PIECES)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    rows = [json.loads(line) for line in args.pieces.read_text().splitlines() if line.strip()]
    chosen = [r for r in rows if r["id"] in set(args.id)] if args.id else rows[args.start : args.stop]
    products = products_by_ref({r["product"] for r in chosen})
    for index, row in enumerate(chosen, start=args.start if not args.id else 0):
        product = products.get(row["product"])
        voice = BRAND_VOICES[row["voice"]]
        print("=" * 100)
        print(f"#{index}  id: {row['id']}")
        print(f"channel: {row['channel']}")
        if product is None:
            print("PRODUCT NOT FOUND")
        else:
            print("FACTS:")
            for key in ("title", "brand", "category", "price", "currency"):
                print(f"  {key}: {product[key]}")
            for key, value in product["attributes"].items():
                print(f"  attribute {key}: {value}")
            print(f"  description: {product['description']}")
        print(f"BRAND VOICE: don't: {voice['dont']}; banned words: {voice['banned_words']}")
        print("PIECE:")
        for name, text in row["fields"].items():
            print(f"  [{name}] {text!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
