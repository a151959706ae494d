"""Segment queries and membership recompute on PostgreSQL at tens of thousands of customers.

    .venv/bin/python bench/segment_bench.py [--customers N] [--events N] [--database-url URL]

Builds one merchant in its own database (default postgres://postgres@127.0.0.1:5432/storyfront_segment_bench,
dropped and re-created; a name without "bench" is refused) with N customers (90 % consenting to profiling,
each with an RFM profile and category affinities) and N events over a year, written with INSERT ... SELECT
from generate_series, then ANALYZEd. It times `segment_queryset(...).count()` for each kind of rule (median of
5 runs), then `recompute_segments` for a new segment (every member inserted), the same again (nothing to
change) and for the whole merchant (the five built-ins and the custom ones). Prints a markdown section for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/storyfront_segment_bench"

RULE_SETS = {
    "RFM scores (R >= 4 and F >= 3)": (
        "all",
        [{"field": "r_score", "op": "gte", "value": 4}, {"field": "f_score", "op": "gte", "value": 3}],
    ),
    "RFM group in (champions, loyal)": (
        "all",
        [{"field": "rfm_segment", "op": "in", "value": ["champions", "loyal"]}],
    ),
    "Affinity: category Shirts >= 30 %": (
        "all",
        [{"field": "affinity", "kind": "category", "name": "Shirts", "op": "gte", "value": 0.3}],
    ),
    ">= 2 purchases in the last 90 days": (
        "all",
        [{"field": "events", "event_type": "purchase", "within_days": 90, "op": "gte", "value": 2}],
    ),
    "No event in the last 30 days": (
        "all",
        [{"field": "events", "event_type": "any", "within_days": 30, "op": "eq", "value": 0}],
    ),
    "Attribute tier = gold": ("all", [{"field": "attribute", "key": "tier", "op": "eq", "value": "gold"}]),
    "Any of 4 (country, churn risk, views, locale)": (
        "any",
        [
            {"field": "country", "op": "in", "value": ["DE", "FR"]},
            {"field": "churn_risk", "op": "gte", "value": 0.9},
            {"field": "events", "event_type": "view", "within_days": 7, "op": "gte", "value": 3},
            {"field": "locale", "op": "startswith", "value": "en"},
        ],
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.import_bench import _setup_django

    _setup_django(args.database_url)
    print(render(run(args.customers, args.events), args.customers, args.events))
    return 0


def _fill(merchant_id: int, customers: int, events: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO profiles_customer (merchant_id, external_id, email, name, locale, country,
                consent_marketing, consent_profiling, attributes, first_seen_at, last_seen_at, created_at, updated_at)
            SELECT %s, 'c' || i, 'c' || i || '@example.com', 'Customer ' || i,
                (ARRAY['en-GB', 'de-DE', 'fr-FR', 'en-US', 'es-ES'])[1 + i %% 5],
                (ARRAY['GB', 'DE', 'FR', 'US', 'ES'])[1 + i %% 5], i %% 3 = 0, i %% 10 <> 0,
                jsonb_build_object('tier', (ARRAY['gold', 'silver', 'bronze', 'none'])[1 + i %% 4]),
                now() - (i %% 700) * interval '1 day', now() - (i %% 120) * interval '1 day', now(), now()
            FROM generate_series(1, %s) AS i
            """,
            [merchant_id, customers],
        )
        cursor.execute(
            """
            INSERT INTO profiles_customerprofile (customer_id, merchant_id, recency_days, frequency, monetary,
                r_score, f_score, m_score, rfm_segment, lifetime_value, affinities, churn_risk, explanation,
                events_count, computed_at)
            SELECT c.id, c.merchant_id, c.id %% 365, c.id %% 12, (c.id %% 500) * 1.5, 1 + c.id %% 5,
                1 + (c.id / 5) %% 5, 1 + (c.id / 25) %% 5,
                (ARRAY['champions', 'loyal', 'potential', 'new', 'at_risk', 'hibernating', 'need_attention'])[1 + c.id %% 7],
                (c.id %% 500) * 1.5,
                jsonb_build_object('category', jsonb_build_object('Shirts', (c.id %% 100) / 100.0,
                    'Hats', 1 - (c.id %% 100) / 100.0)),
                (c.id %% 100) / 100.0, '{}'::jsonb, c.id %% 50, now()
            FROM profiles_customer c WHERE c.merchant_id = %s AND c.consent_profiling
            """,
            [merchant_id],
        )
        cursor.execute(
            """
            INSERT INTO profiles_event (merchant_id, customer_id, session_id, type, product_sku, quantity,
                currency, query, order_id, occurred_at, received_at, source, idempotency_key, properties)
            SELECT %s, ids.first + (random() * (%s - 1))::int, '',
                (ARRAY['view', 'view', 'view', 'add_to_cart', 'purchase', 'search', 'email_open'])[1 + (random() * 6)::int],
                '', 1, '', '', '', now() - random() * interval '365 days', now(), 'bench', '', '{}'::jsonb
            FROM generate_series(1, %s), (SELECT min(id) AS first FROM profiles_customer WHERE merchant_id = %s) ids
            """,
            [merchant_id, customers, events, merchant_id],
        )
        cursor.execute("ANALYZE profiles_customer, profiles_customerprofile, profiles_event")


def _timed(function, repeat: int = 1) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def run(customers: int, events: int) -> dict:
    from accounts.services import Actor
    from profiles.segments import recompute_segments, segment_create, segment_queryset
    from tests.factories import MerchantFactory

    merchant = MerchantFactory(name="Segment bench", slug="segment-bench")
    start = time.perf_counter()
    _fill(merchant.pk, customers, events)
    results = {"fill_s": time.perf_counter() - start, "queries": [], "recompute": []}
    for label, (match, rules) in RULE_SETS.items():
        seconds, count = _timed(
            lambda m=match, r=rules: segment_queryset(merchant=merchant, rules=r, match=m).count(), 5
        )
        results["queries"].append((label, count, seconds))
    actor = Actor.system("bench")
    segment = segment_create(
        merchant=merchant,
        actor=actor,
        name="Everyone but DE",
        rules=[{"field": "country", "op": "not_in", "value": ["DE"]}],
    )
    results["recompute"].append(
        ("New segment, every member inserted", *_timed(lambda: recompute_segments(segment_id=segment.pk)))
    )
    results["recompute"].append(
        ("Same segment again, nothing to change", *_timed(lambda: recompute_segments(segment_id=segment.pk)))
    )
    for label, (match, rules) in list(RULE_SETS.items())[:4]:
        segment_create(merchant=merchant, actor=actor, name=label[:100], rules=rules, match=match)
    results["recompute"].append(
        (
            "Whole merchant: 5 built-ins + 5 custom, first time",
            *_timed(lambda: recompute_segments(merchant_id=merchant.pk)),
        )
    )
    results["recompute"].append(
        (
            "Whole merchant again (hourly run, no change)",
            *_timed(lambda: recompute_segments(merchant_id=merchant.pk)),
        )
    )
    return results


def render(results: dict, customers: int, events: int) -> str:
    lines = [
        "## Segments",
        "",
        f"`bench/segment_bench.py` on PostgreSQL ({platform.machine()}, {os.cpu_count()} CPUs): one merchant with "
        f"{customers:,} customers (90 % with a profile) and {events:,} events over a year "
        f"(generated in {results['fill_s']:.0f} s). Counting a segment is one query (median of 5):",
        "",
        "| rules | customers matching | count query |",
        "| --- | ---: | ---: |",
    ]
    lines += [
        f"| {label} | {count:,} | {seconds * 1000:.0f} ms |" for label, count, seconds in results["queries"]
    ]
    lines += [
        "",
        "Recomputing memberships (two statements per segment: INSERT ... SELECT, DELETE):",
        "",
        "| run | memberships added or removed | time |",
        "| --- | ---: | ---: |",
    ]
    lines += [
        f"| {label} | {changed:,} | {seconds:.2f} s |" for label, seconds, changed in results["recompute"]
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
