"""Copy studio quality and throughput: a campaign over real Myntra products with the real SmolLM2 model.

    .venv/bin/python bench/campaign_bench.py [CSV] [--products 200] [--sequential-products 24]
                                             [--threads N] [--database-url URL] [--no-write]
                                             [--render-only]

Imports N products (rows with a description, evenly spread over the file) through the product import
service, registers SmolLM2-135M-Instruct as the base model (provisioning it into var/models if needed), sets
a brand voice, and runs two campaigns (product descriptions and SMS) through the real campaign task,
`generate_campaign_copy_task`, executed in this process (Celery eager mode: the same code an `ml` worker
runs, minus the broker). It reports, per channel: the share of pieces passing every grounding check on the
first try, the share still flagged after the automatic retries, unsupported claims left in approvable pieces,
channel-limit compliance, corpus distinct-2 and duplicate rate, and products/minute. The baseline generates
the same kind of pieces one model call at a time (the same task with a batch of one product) on the first
`--sequential-products` products, so it costs minutes, not hours; rates are per product either way.

Uses its own database (default postgres://postgres@127.0.0.1:5432/storyfront_bench_copy), dropped and
re-created each run. Writes bench/results/campaign.json and the "Copy studio" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CSV = ROOT.parent / "shared" / "datasets" / "myntra_fashion_catalog" / "myntra_products_catalog.csv"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/storyfront_bench_copy"
sys.path.insert(0, str(ROOT))

from bench.benchmarks_md import write_section

BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
RESULTS_JSON = ROOT / "bench" / "results" / "campaign.json"
SECTION = "## Copy studio"
CHANNELS = ("product_description", "sms")
SAMPLES_PER_CHANNEL = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", nargs="?", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument(
        "--sequential-products",
        type=int,
        default=24,
        help="Products for the one-call-at-a-time baseline (per channel).",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads (default: torch's choice). On a shared machine whose other cores are "
        "busy, 1 avoids OpenMP threads spinning against other processes.",
    )
    parser.add_argument(
        "--channels",
        default=",".join(CHANNELS),
        help="Comma-separated channels, one campaign each (default: %(default)s).",
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--no-write", action="store_true", help=f"Do not update {BENCHMARKS_MD.name}.")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help=f"Rewrite the section from {RESULTS_JSON.name}; run nothing.",
    )
    args = parser.parse_args()
    if args.render_only:
        write_section(render(json.loads(RESULTS_JSON.read_text())), SECTION)
        print(f"Updated {BENCHMARKS_MD.relative_to(ROOT)} from {RESULTS_JSON.relative_to(ROOT)}")
        return 0
    if not args.csv.exists():
        print(f"Dataset not found: {args.csv}", file=sys.stderr)
        return 2
    _setup_django(args.database_url)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    channels = tuple(c.strip() for c in args.channels.split(",") if c.strip())
    results = run(
        args.csv, products=args.products, sequential_products=args.sequential_products, channels=channels
    )
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    section = render(results)
    print(section)
    if not args.no_write:
        write_section(section, SECTION)
        print(f"Updated {BENCHMARKS_MD.relative_to(ROOT)}")
    return 0


def _progress(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _setup_django(database_url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["TEST_DATABASE_URL"] = database_url
    # The campaign task runs in this process when its transaction commits: no broker, no other worker.
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if database_url.startswith(("postgres://", "postgresql://")):
        _create_postgres_database(database_url)

    import django
    from django.core.management import call_command

    django.setup()
    _progress("migrating the benchmark database")
    call_command("migrate", verbosity=0)


def _create_postgres_database(database_url: str) -> None:
    from urllib.parse import urlparse

    import psycopg
    from psycopg import sql

    name = urlparse(database_url).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(
            f"Refusing to use database '{name}': the benchmark drops its database; use a *bench* name."
        )
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _sample_rows(csv_path: Path, count: int) -> bytes:
    with open(csv_path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [r for r in reader if (r.get("Description") or "").strip()]
        fields = reader.fieldnames
    step = max(1, len(rows) // count)
    chosen = rows[::step][:count]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(chosen)
    return out.getvalue().encode()


def run(
    csv_path: Path, *, products: int, sequential_products: int, channels: tuple[str, ...] = CHANNELS
) -> dict:
    import torch
    from django.conf import settings
    from django.db import transaction

    from accounts.services import Actor, merchant_create
    from catalog.models import Product
    from catalog.services import product_import
    from marketing import generation
    from marketing.campaigns.services import brand_voice_set, campaign_create, campaign_generate
    from marketing.models import ContentPiece
    from ml.engine import provision_base_models
    from ml.engine.devices import resolve_device, resolve_dtype
    from ml.models import Job
    from ml.services import base_model_register

    actor = Actor.system("bench")
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    merchant, _ = merchant_create(slug=f"bench-copy-{stamp}", name="Bench copy studio")
    report = product_import(
        merchant=merchant, actor=actor, data=_sample_rows(csv_path, products), filename=csv_path.name
    )
    _progress(f"imported {report.created_count} products ({report.error_count} row errors)")
    product_ids = list(Product.objects.filter(merchant=merchant).order_by("id").values_list("pk", flat=True))

    _progress("provisioning SmolLM2-135M-Instruct")
    checkpoint = provision_base_models(ROOT / "var" / "models")["smollm2-135m-instruct"]
    version = base_model_register(name="smollm2-135m-instruct", path=str(checkpoint))
    brand_voice_set(
        merchant=merchant,
        actor=actor,
        tone_words=["confident", "warm", "concise"],
        audience="Fashion shoppers in India browsing on their phones",
        do_list=["Name the colour and what the product is", "Use only the facts given"],
        dont_list=["Invent discounts, sizes or materials"],
        banned_words=["cheap", "guaranteed"],
    )
    # Load the model once, outside the timed runs, as a warm worker would have it.
    generation.generator_for(version).generate([])

    def run_campaign(name: str, channel: str, ids: list[int]) -> tuple[dict, float]:
        campaign = campaign_create(
            merchant=merchant,
            actor=actor,
            name=name,
            channel=channel,
            products=ids,
            length="medium",
            tone="upbeat",
        )
        started = time.perf_counter()
        with transaction.atomic():
            job = campaign_generate(campaign=campaign, actor=actor)  # runs on commit (eager)
        seconds = time.perf_counter() - started
        job = Job.objects.get(pk=job.pk)
        if job.status != Job.Status.SUCCEEDED:
            raise SystemExit(f"{name}: job {job.pk} {job.status}: {job.error}\n{job.logs}")
        _progress(
            f"{name}: {len(ids)} products in {seconds:.1f} s ({len(ids) / seconds * 60:.1f}/min); "
            f"{job.metrics.get('flagged')} flagged"
        )
        return {"campaign_id": campaign.pk, "job_id": job.pk, "metrics": job.metrics}, seconds

    results: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": _machine(torch),
        "products": len(product_ids),
        "model": version.name,
        "batch_products": generation.BATCH_PRODUCTS,
        "dtype": str(resolve_dtype(resolve_device(None))).replace("torch.", ""),
        "max_retries": 2,
        "sampling": generation.SAMPLING,
        "banned_phrases": settings.GENERATION_BANNED_PHRASES,
        "channel_temperature": generation.CHANNEL_TEMPERATURE,
        "retry_feedback": settings.GENERATION_RETRY_FEEDBACK,
        "channels": {},
    }
    load_before = os.getloadavg()
    for channel in channels:
        _progress(f"campaign task, {channel}, {len(product_ids)} products")
        info, seconds = run_campaign(f"Bench {channel}", channel, product_ids)
        pieces = list(ContentPiece.objects.filter(campaign_id=info["campaign_id"]).select_related("product"))
        results["channels"][channel] = {
            **_quality(pieces, channel),
            "seconds": round(seconds, 1),
            "products_per_minute": round(len(product_ids) / seconds * 60, 1),
            "max_new_tokens": generation.MAX_NEW_TOKENS[channel]["medium"],
            "job_metrics": info["metrics"],
            "samples": _samples(pieces, channel),
        }

    subset = product_ids[:sequential_products]
    batch = generation.BATCH_PRODUCTS
    generation.BATCH_PRODUCTS = 1
    try:
        for channel in channels if subset else ():  # --sequential-products 0 skips the baseline
            _progress(f"one call at a time, {channel}, {len(subset)} products")
            _, seconds = run_campaign(f"Sequential {channel}", channel, subset)
            results["channels"][channel]["sequential"] = {
                "products": len(subset),
                "seconds": round(seconds, 1),
                "products_per_minute": round(len(subset) / seconds * 60, 1),
            }
    finally:
        generation.BATCH_PRODUCTS = batch
    results["load_average_before"] = [round(x, 2) for x in load_before]
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return results


def _quality(pieces, channel: str) -> dict:
    from ml.engine.grounding import CHANNEL_FIELDS, distinct_n, duplicate_rate

    n = len(pieces) or 1
    texts = [" ".join(p.fields()[f] for f in CHANNEL_FIELDS[channel] if p.fields()[f]) for p in pieces]
    approvable = [p for p in pieces if p.approvable]
    return {
        "pieces": len(pieces),
        "passed_first_try": round(sum(bool(p.quality.get("passed_first_try")) for p in pieces) / n, 3),
        "passed_after_retries": round(sum(bool(p.grounding.get("passed")) for p in pieces) / n, 3),
        "flagged_after_retries": round(sum(p.flagged for p in pieces) / n, 3),
        "approvable": round(len(approvable) / n, 3),
        "unsupported_in_approvable": sum(len(p.grounding.get("unsupported") or []) for p in approvable),
        "unsupported_in_flagged": sum(
            len(p.grounding.get("unsupported") or []) for p in pieces if not p.approvable
        ),
        "channel_compliance_all": round(
            sum(not p.grounding.get("channel_violations") for p in pieces) / n, 3
        ),
        "channel_compliance_approvable": round(
            sum(not p.grounding.get("channel_violations") for p in approvable) / (len(approvable) or 1), 3
        ),
        "degenerate": round(sum(bool(p.grounding.get("degenerate")) for p in pieces) / n, 3),
        "mean_attempts": round(sum(p.attempts for p in pieces) / n, 2),
        "distinct_2": round(distinct_n(texts, 2), 3),
        "duplicate_rate": round(duplicate_rate(texts), 3),
        "mean_chars": round(sum(len(t) for t in texts) / n, 1),
        "problems": _problem_counts(pieces),
    }


def _problem_counts(pieces) -> dict:
    from collections import Counter

    kinds = Counter()
    for piece in pieces:
        for claim in piece.grounding.get("unsupported") or []:
            kinds[f"unsupported {claim['kind']}"] += 1
        for key in ("channel_violations", "degenerate", "banned"):
            kinds[key] += bool(piece.grounding.get(key))
    return dict(kinds.most_common())


def _samples(pieces, channel: str) -> list[dict]:
    from ml.engine.grounding import CHANNEL_FIELDS

    step = max(1, len(pieces) // SAMPLES_PER_CHANNEL)
    return [
        {
            "product": p.product.title,
            "price": f"{p.product.price} {p.product.currency}",
            "fields": {f: p.fields()[f] for f in CHANNEL_FIELDS[channel]},
            "passed": p.grounding.get("passed"),
            "approvable": p.approvable,
            "attempts": p.attempts,
            "problems": [f"{c['kind']}: {c['text']!r}" for c in p.grounding.get("unsupported") or []]
            + list(p.grounding.get("channel_violations") or [])
            + list(p.grounding.get("degenerate") or []),
        }
        for p in sorted(pieces, key=lambda p: p.product_id)[::step][:SAMPLES_PER_CHANNEL]
    ]


def _machine(torch) -> dict:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def render(r: dict) -> str:
    m = r["machine"]
    threads = m["torch_threads"]
    lines = [
        SECTION,
        "",
        f"`bench/campaign_bench.py` on {r['date']}: {r['products']} Myntra products (rows with a description, "
        "evenly spread over myntra_products_catalog.csv) imported through the product import service, then one "
        f"campaign per channel through `generate_campaign_copy_task` with the real {r['model']} ({r.get('dtype', 'float32')}, "
        f"{r['batch_products']} products per batch, up to {r['max_retries']} automatic retries of a piece that "
        f"fails a check). Machine: {m['cores']} cores of {m['cpu']}; Python {m['python']}, torch {m['torch']}, "
        f"{threads} torch thread{'s' if threads != 1 else ''}. The machine is shared (load average "
        f"{r['load_average_before'][0]} before the run, {r['load_average_after'][0]} after)"
        + (
            ": with two OpenMP threads competing with other processes for two cores, decoding ran an order of "
            "magnitude slower, so torch was held to one thread. Expect noise."
            if threads == 1
            else ", so expect noise."
        ),
    ]
    if r["products"] < 200:
        minutes = sum(
            200 / c["products_per_minute"] for c in r["channels"].values() if c["products_per_minute"]
        )
        lines += [
            "",
            f"{r['products']} products rather than 200: at the rates measured here, 200 products would have "
            f"kept this shared machine busy for about {minutes:.0f} minutes. Rates are per product and do not "
            "depend on the count.",
        ]
    lines += [
        "",
        "| Channel | Pieces | Pass first try | Flagged after retries | Approvable | Unsupported claims left in "
        "approvable pieces | Channel-limit compliance (approvable / all) | Distinct-2 | Duplicate rate | "
        "Mean attempts |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for channel, c in r["channels"].items():
        lines.append(
            f"| {channel} | {c['pieces']} | {c['passed_first_try']:.0%} | {c['flagged_after_retries']:.0%} | "
            f"{c['approvable']:.0%} | {c['unsupported_in_approvable']} | "
            f"{c['channel_compliance_approvable']:.0%} / {c['channel_compliance_all']:.0%} | {c['distinct_2']} | "
            f"{c['duplicate_rate']:.1%} | {c['mean_attempts']} |"
        )
    lines += [
        "",
        "| Channel | Campaign task (batched) | One call at a time | Speed-up |",
        "|---|---:|---:|---:|",
    ]
    for channel, c in r["channels"].items():
        seq = c.get("sequential") or {}
        speed = c["products_per_minute"] / seq["products_per_minute"] if seq.get("products_per_minute") else 0
        lines.append(
            f"| {channel} | {c['products_per_minute']} products/min ({c['pieces']} in {c['seconds']} s) | "
            f"{seq.get('products_per_minute', 'n/a')} products/min ({seq.get('products', 0)} in "
            f"{seq.get('seconds', 0)} s) | {speed:.1f}× |"
        )
    lines += [
        "",
        "Both columns include prompt building, grounding, the automatic retries and the database writes; the "
        "baseline is the same task with one product per model call, timed on the first "
        f"{next(iter(r['channels'].values())).get('sequential', {}).get('products', 0)} products (its rate does not "
        'depend on how many). "Pass first try" means no unsupported claim, no channel-limit violation, no '
        "degenerate output and no banned word on the first generation; flagged pieces are kept for review "
        "and approvable ones need no edit to be approved. Approvable pieces carry no unsupported claim and "
        "respect the channel limits by construction: approval is refused otherwise.",
        "",
        "Passing the grounding check is not the same as good copy: it proves that every price, number, size, "
        "percentage, material and claim-like phrase in the text is backed by the product data, not that the "
        "text is about the product or reads well. SmolLM2-135M often writes fluent text about something else "
        "(see the samples): that is what the review step, and fine-tuning on approved and edited copy, are for.",
        "",
        "What the checks caught (pieces with each problem after retries, unsupported claims by kind):",
        "",
    ]
    for channel, c in r["channels"].items():
        problems = ", ".join(f"{k} {v}" for k, v in c["problems"].items() if v) or "none"
        lines.append(f"- {channel}: {problems}")
    lines += ["", "Ten outputs verbatim (five per channel, spread over the products):", ""]
    for channel, c in r["channels"].items():
        for s in c["samples"]:
            text = " / ".join(f"{k}: {v}" for k, v in s["fields"].items() if v) or "(empty)"
            verdict = "passed" if s["passed"] else ("approvable" if s["approvable"] else "flagged")
            problems = f" — {'; '.join(s['problems'])}" if s["problems"] else ""
            lines.append(
                f"- **{channel}**, *{s['product']}* ({s['price']}), {verdict} after {s['attempts']} "
                f"attempt(s){problems}:"
            )
            lines.append(f"  > {_quote(text)}")
    lines += [
        "",
        "Reproduce: `.venv/bin/python bench/campaign_bench.py` (PostgreSQL at 127.0.0.1:5432; it re-creates "
        "`storyfront_bench_copy`). Raw figures: `bench/results/campaign.json`.",
        "",
    ]
    return "\n".join(lines)


def _quote(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


if __name__ == "__main__":
    sys.exit(main())
