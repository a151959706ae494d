"""Generate the copy the studio ships, for labelling by reading (bench/grounding/studio_pieces.jsonl).

    .venv/bin/python bench/studio_corpus.py [--myntra 40] [--demo 20] [--channels ...] [--tag studio]

`bench/grounding_corpus.py` writes one draft per piece with the production prompt, which is what the studio
did before it wrote several drafts, assembled verified sentences and retried flagged pieces. This script
runs the studio itself: products are imported through the catalog import service, each merchant gets the
brand voice of `bench.grounding_data.BRAND_VOICES`, and one campaign per channel runs through the real
campaign task (`generate_campaign_copy_task`, Celery eager: the code an `ml` worker runs, minus the broker)
with the registered base model. Every piece the campaign stores is written out, approvable or not, with its
product *reference* (``myntra:<ProductID>`` or ``demo:<sku>``) and never dataset text, and without the
checker's verdict, which goes to a file beside it (`studio_pieces.verdicts.jsonl`: the studio's own
`approvable` and `flagged`, for `bench/grounding_eval.py --pieces`), so labels are made without it.

Products: Myntra rows with a description, evenly spaced from a quarter step (so neither the copy
benchmark's rows nor the first labelled set's), and the demo catalog products the first set did not use.
Uses its own database (default postgres://postgres@127.0.0.1:5432/storyfront_bench_studio), dropped and
re-created each run.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.campaign_bench import _progress, _setup_django
from bench.grounding_data import BRAND_VOICES, DEFAULT_MYNTRA_CSV, GROUNDING_DIR, _myntra_rows
from ml.engine.grounding import CHANNELS

DEFAULT_OUT = GROUNDING_DIR / "studio_pieces.jsonl"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/storyfront_bench_studio"


def myntra_csv(csv_path: Path, count: int) -> bytes:
    fields, rows = _myntra_rows(csv_path)
    step = max(1, len(rows) // count)
    chosen = rows[step // 4 :: step][:count]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(chosen)
    return out.getvalue().encode()


def demo_json(count: int) -> bytes:
    from catalog.demo_catalog import demo_catalog_rows

    return json.dumps(demo_catalog_rows()[1::2][:count]).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--myntra", type=int, default=40)
    parser.add_argument("--demo", type=int, default=20)
    parser.add_argument("--csv", type=Path, default=DEFAULT_MYNTRA_CSV)
    parser.add_argument("--channels", default=",".join(CHANNELS))
    parser.add_argument("--tag", default="studio", help="the pieces' model tag (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.myntra and not args.csv.exists():
        print(f"Dataset not found: {args.csv}", file=sys.stderr)
        return 2
    _setup_django(args.database_url)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from django.db import transaction

    from accounts.services import Actor, merchant_create
    from catalog.models import Product
    from catalog.services import product_import
    from marketing import generation
    from marketing.campaigns.services import brand_voice_set, campaign_create, campaign_generate
    from marketing.models import ContentPiece
    from ml.engine import provision_base_models
    from ml.engine.grounding import CHANNEL_FIELDS
    from ml.models import Job
    from ml.services import base_model_register

    actor = Actor.system("bench")
    checkpoint = provision_base_models(ROOT / "var" / "models")["smollm2-135m-instruct"]
    version = base_model_register(name="smollm2-135m-instruct", path=str(checkpoint))
    generation.generator_for(version).generate([])

    sources = []
    if args.myntra:
        sources.append(("myntra", myntra_csv(args.csv, args.myntra), args.csv.name))
    if args.demo:
        sources.append(("demo", demo_json(args.demo), "demo.json"))
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    started = time.perf_counter()
    verdicts_path = args.out.with_suffix(".verdicts.jsonl")
    with args.out.open("w") as out, verdicts_path.open("w") as verdicts:
        for source, data, filename in sources:
            merchant, _ = merchant_create(slug=f"studio-{source}", name=f"Studio corpus {source}")
            report = product_import(merchant=merchant, actor=actor, data=data, filename=filename)
            _progress(f"{source}: imported {report.created_count} products ({report.error_count} row errors)")
            voice = BRAND_VOICES[source]
            brand_voice_set(
                merchant=merchant,
                actor=actor,
                tone_words=voice["tone_words"],
                audience=voice["audience"],
                do_list=voice["do"],
                dont_list=voice["dont"],
                banned_words=voice["banned_words"],
                examples=voice["examples"],
            )
            ids = list(Product.objects.filter(merchant=merchant).order_by("id").values_list("pk", flat=True))
            for channel in channels:
                campaign = campaign_create(
                    merchant=merchant,
                    actor=actor,
                    name=f"{source} {channel}",
                    channel=channel,
                    products=ids,
                    length="medium",
                    tone="warm",
                )
                with transaction.atomic():
                    job = campaign_generate(campaign=campaign, actor=actor)  # runs on commit (eager)
                job = Job.objects.get(pk=job.pk)
                if job.status != Job.Status.SUCCEEDED:
                    raise SystemExit(f"{source} {channel}: job {job.pk} {job.status}: {job.error}")
                pieces = (
                    ContentPiece.objects.filter(campaign=campaign).select_related("product").order_by("id")
                )
                for piece in pieces:
                    ref = f"{source}:{piece.product.sku}"
                    row = {
                        "id": f"{args.tag}:{channel}:{ref}",
                        "product": ref,
                        "channel": channel,
                        "voice": source,
                        "model": args.tag,
                        "fields": {name: getattr(piece, name) for name in CHANNEL_FIELDS[channel]},
                    }
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    verdict = {"id": row["id"], "approvable": piece.approvable, "flagged": piece.flagged}
                    verdicts.write(json.dumps(verdict) + "\n")
                    written += 1
                out.flush()
                verdicts.flush()
                _progress(
                    f"{source} {channel}: {pieces.count()} pieces, "
                    f"{time.perf_counter() - started:.0f} s so far; {job.metrics.get('flagged')} flagged"
                )
    _progress(f"wrote {written} pieces to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
