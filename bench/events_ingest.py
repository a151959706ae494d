"""Event ingestion throughput through the real API: batches of 1,000 events versus one POST per event.

    .venv/bin/python bench/events_ingest.py [--batches N] [--batch-size N] [--single N] [--server nodelay|runserver] [--write]

Serves the project with Django's own development server (the server `make demo` runs; the project ships
no gunicorn), threaded, DEBUG off, with one change: TCP_NODELAY on each accepted connection. Plain
`runserver` writes the response headers and body in separate small sends, so Nagle's algorithm holds the
body until the client's delayed ACK (~40 ms on Linux): that alone costs 40-90 ms per request here and would
measure the dev server's socket handling, not ingestion (`--server runserver` shows it); gunicorn sets
TCP_NODELAY too. The database is a fresh PostgreSQL one (default
postgres://postgres@127.0.0.1:5432/storyfront_events_bench, dropped and re-created on every run; a name
without "bench" is refused) and Redis for the queued profile updates (no worker runs: the web request's
cost is what is measured). One merchant has 2,000 products; the events name 2,200 SKUs (so ~9% are unknown),
20,000 customers (created on first sight), a fifth of them anonymous sessions, all with idempotency keys.
All request bodies are encoded before the clock starts, and sent over one keep-alive connection, one
request at a time. After the run the events are counted in the database. Prints the docs/benchmarks.md
section ("Event ingestion"); --write replaces it there.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/storyfront_events_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
SECTION = "## Event ingestion"
PRODUCTS = 2000
SKUS = 2200
CUSTOMERS = 20_000
TYPES = [
    ("view", 55),
    ("add_to_cart", 15),
    ("search", 10),
    ("purchase", 10),
    ("email_open", 5),
    ("refund", 5),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--batches", type=int, default=100, help="Timed batches (default 100).")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--single", type=int, default=1000, help="Events sent one per POST (default 1,000).")
    parser.add_argument(
        "--server",
        choices=["nodelay", "runserver"],
        default="nodelay",
        help="Django's server with TCP_NODELAY (default), or plain `manage.py runserver`.",
    )
    parser.add_argument("--write", action="store_true", help="Replace the section in docs/benchmarks.md.")
    args = parser.parse_args()

    load = os.getloadavg()
    env = _environment(args.database_url, args.redis_url)
    _create_database(args.database_url)
    _progress("migrating the benchmark database")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )
    key, merchant_id = _seed(env)
    port = _free_port()
    if args.server == "runserver":
        command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    else:
        command = [sys.executable, "-c", _SERVE, str(port)]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        results = run(port, key, args)
    finally:
        server.terminate()
        server.wait(timeout=30)
    results.update(_database_facts(env, merchant_id, args.redis_url), load=load)
    section = render(results, args)
    print(section)
    expected = results["sent"]
    if results["rows"] != expected:
        print(f"Row count {results['rows']:,} differs from the {expected:,} events sent.", file=sys.stderr)
        return 1
    if args.write:
        from bench.benchmarks_md import write_section

        write_section(section, SECTION)
    return 0


def _environment(database_url: str, redis_url: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "0",
        "API_KEY_RATE": "100000000/min",
        "PYTHONPATH": str(ROOT),
    }


def _create_database(database_url: str) -> None:
    from urllib.parse import urlparse

    import psycopg
    from psycopg import sql

    name = urlparse(database_url).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"Refusing to use database '{name}': the benchmark drops it; use a *bench* name.")
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


_SEED = """
import json, sys
import django
django.setup()
from accounts.services import Actor, api_key_create, merchant_create
from catalog.models import Product
merchant, _ = merchant_create(slug="events-bench", name="Events bench")
Product.objects.bulk_create(
    [Product(merchant=merchant, sku=f"SKU-{i}", title=f"Product {i}", price=10) for i in range(%d)]
)
_, key = api_key_create(merchant=merchant, name="bench", scopes=["read", "write"], actor=Actor.system("bench"))
print(json.dumps({"key": key, "merchant_id": merchant.pk}))
"""


# Django's runserver server (django.core.servers.basehttp), threaded, with TCP_NODELAY on accepted sockets.
_SERVE = """
import socket, sys
import django
django.setup()
from django.core.servers.basehttp import WSGIServer, run
from django.core.wsgi import get_wsgi_application


class NoDelayServer(WSGIServer):
    def get_request(self):
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr


run("127.0.0.1", int(sys.argv[1]), get_wsgi_application(), threading=True, server_cls=NoDelayServer)
"""


def _seed(env: dict) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _SEED % PRODUCTS],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    seeded = json.loads(out.stdout.strip().splitlines()[-1])
    return seeded["key"], seeded["merchant_id"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Events:
    """Deterministic, plausible events with unique idempotency keys and increasing times."""

    def __init__(self, seed: int = 15):
        self.rnd = random.Random(seed)
        self.n = 0
        self.start = datetime.now(UTC) - timedelta(days=2)
        self.types = [name for name, weight in TYPES for _ in range(weight)]

    def one(self) -> dict:
        rnd, self.n = self.rnd, self.n + 1
        kind = rnd.choice(self.types)
        event = {
            "type": kind,
            "occurred_at": (self.start + timedelta(seconds=self.n)).isoformat(),
            "idempotency_key": f"bench-{self.n}",
        }
        if rnd.random() < 0.2:
            event["session_id"] = f"sess-{rnd.randrange(50_000)}"
        else:
            event["customer"] = f"cust-{rnd.randrange(CUSTOMERS)}"
        if kind == "search":
            event["query"] = rnd.choice(["red dress", "running shoes", "linen shirt", "gift for dad"])
        elif kind != "email_open":
            event["product"] = f"SKU-{rnd.randrange(SKUS)}"
        if kind in ("purchase", "refund"):
            event.update(quantity=rnd.randint(1, 3), value=f"{rnd.randint(5, 200)}.99", currency="GBP")
            event["order_id"] = f"o-{self.n // 3}"
        if kind == "view":
            event["properties"] = {"page": "/products", "position": rnd.randint(1, 24)}
        return event


def _post(conn: http.client.HTTPConnection, key: str, body: bytes) -> tuple[float, dict]:
    started = time.perf_counter()
    conn.request(
        "POST",
        "/api/v1/events/",
        body=body,
        headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    payload = json.loads(response.read())
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise SystemExit(f"POST failed: {response.status} {str(payload)[:500]}")
    return elapsed, payload


def _wait_for(port: int, key: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/events/", headers={"Authorization": f"Api-Key {key}"})
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("The server did not start.")


def _phase(conn, key: str, bodies: list[bytes], events_each: int, label: str) -> dict:
    _progress(f"{label}: {len(bodies):,} requests")
    latencies, inserted, duplicates = [], 0, 0
    started = time.perf_counter()
    for body in bodies:
        elapsed, report = _post(conn, key, body)
        latencies.append(elapsed)
        inserted += report["inserted"]
        duplicates += report["duplicates"]
        if report["rejected"]:
            raise SystemExit(f"Rejected events: {report['errors'][:3]}")
    seconds = time.perf_counter() - started
    events = len(bodies) * events_each
    latencies.sort()
    _progress(f"{label}: {events / seconds:,.0f} events/s")
    return {
        "requests": len(bodies),
        "events": events,
        "inserted": inserted,
        "duplicates": duplicates,
        "seconds": seconds,
        "rate": events / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "bytes": sum(len(b) for b in bodies),
    }


def run(port: int, key: str, args) -> dict:
    _wait_for(port, key)
    events = Events()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    warmup = [json.dumps([events.one() for _ in range(args.batch_size)]).encode() for _ in range(3)]
    batches = [
        json.dumps([events.one() for _ in range(args.batch_size)]).encode() for _ in range(args.batches)
    ]
    singles = [json.dumps(events.one()).encode() for _ in range(args.single)]
    _phase(conn, key, warmup, args.batch_size, "warm-up")
    batched = _phase(conn, key, batches, args.batch_size, "batched")
    single = _phase(conn, key, singles, 1, "one per POST")
    # The same retried batch: every event a duplicate (what a client's retry costs).
    retried = _phase(conn, key, batches[:10], args.batch_size, "retried batches")
    conn.close()
    return {
        "batched": batched,
        "single": single,
        "retried": retried,
        "sent": (len(warmup) + len(batches)) * args.batch_size + len(singles),
    }


_FACTS = """
import json, sys
import django
django.setup()
from django.db import connection
from profiles.models import Customer, Event
merchant_id = int(sys.argv[1])
with connection.cursor() as cursor:
    cursor.execute("SHOW server_version")
    version = cursor.fetchone()[0]
print(json.dumps({
    "rows": Event.objects.filter(merchant_id=merchant_id).count(),
    "unlinked": Event.objects.filter(merchant_id=merchant_id, product__isnull=True).exclude(product_sku="").count(),
    "customers": Customer.objects.filter(merchant_id=merchant_id).count(),
    "database": "PostgreSQL " + version,
}))
"""


def _database_facts(env: dict, merchant_id: int, redis_url: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _FACTS, str(merchant_id)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    import redis

    broker = redis.Redis.from_url(redis_url)
    facts["tasks_queued"] = broker.llen("default")
    broker.delete("default")
    return facts


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cores} cores (nproc) of {cpu}; {platform.system()} {platform.release()}; Python {platform.python_version()}"


_SERVERS = {
    "nodelay": "Django's own threaded server, as `runserver` starts it, with TCP_NODELAY on each connection",
    "runserver": "plain `manage.py runserver --noreload`",
}


def render(r: dict, args) -> str:
    b, s, t = r["batched"], r["single"], r["retried"]

    def row(label: str, p: dict) -> str:
        return (
            f"| {label} | {p['requests']:,} | {p['events']:,} | {p['seconds']:.1f} | {p['rate']:,.0f} | "
            f"{p['p50_ms']:.1f} | {p['p95_ms']:.1f} |"
        )

    return "\n".join(
        [
            SECTION,
            "",
            (
                f"`bench/events_ingest.py{'' if args.server == 'nodelay' else ' --server runserver'}` on "
                f"{datetime.now(UTC):%Y-%m-%d}: `POST /api/v1/events/` through a real HTTP server ({_SERVERS[args.server]}, "
                f"DEBUG off, one keep-alive client connection, one request at a time) into {r['database']} on the "
                f"same machine. Machine: {_machine()}; load average {r['load'][0]:.1f} before the run and "
                f"{os.getloadavg()[0]:.1f} at its end (the machine is shared with other work)."
            ),
            "",
            "| Path | Requests | Events | Seconds | Events/s | p50 ms/request | p95 ms/request |",
            "|---|---:|---:|---:|---:|---:|---:|",
            row(f"Batches of {args.batch_size:,} (JSON array)", b),
            row("One event per POST", s),
            row(f"Batches of {args.batch_size:,} sent again (all duplicates)", t),
            "",
            (
                f"Batched ingestion is **{b['rate'] / s['rate']:.0f}×** the rate of one POST per event. "
                f"After the run the database holds {r['rows']:,} events for the merchant, exactly the "
                f"{r['sent']:,} sent (3 warm-up batches, {args.batches} timed batches, {args.single:,} single "
                f"events; the re-sent batches inserted {t['inserted']:,} and counted {t['duplicates']:,} "
                f"duplicates), {r['customers']:,} customers created on first sight, {r['unlinked']:,} events "
                f"waiting for their SKU's product, and {r['tasks_queued']:,} profile-update tasks queued for the "
                "worker (no worker ran)."
            ),
            "",
            (
                "Each request authenticates the key, parses the JSON, validates every event by hand "
                "(profiles/event_fields.py), `COPY`s the valid ones as sent into a temporary table, then in SQL: "
                "creates the customers not seen before (one `INSERT ... SELECT DISTINCT ... ON CONFLICT DO "
                "NOTHING`), stores the events with customers and products resolved by joins (one `INSERT ... "
                "SELECT ... ON CONFLICT DO NOTHING RETURNING`), widens the customers' first/last seen (one "
                "`UPDATE` after locking them in id order), and after commit queues the profile updates. The "
                "event mix: 55% views, 15% add-to-cart, 10% searches, 10% purchases, 5% email opens, 5% "
                "refunds; a fifth anonymous."
            ),
            "",
            (
                "Reproduce: `.venv/bin/python bench/events_ingest.py` (PostgreSQL at 127.0.0.1:5432 and Redis at "
                "127.0.0.1:6379; it re-creates `storyfront_events_bench`)."
            ),
            "",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
