"""Time to the first text a shopper can read, and to the full reply, through the live reply flow at 1 and 8
concurrent conversations: chat.replies.reply_generate_run with the registered SmolLM2-135M-Instruct served by
the worker's shared ReplyEngine (a lone streaming reply streams verified sentences; replies arriving together
are batched), MiniLM retrieval on PostgreSQL, FAQ / extractive / product-facts answers, verification and
hand-offs -- what the widget's shopper waits for.

`ttft_ms` is the reply row's own figure: from the worker picking the reply up to its first verified text
(the first streamed flush, else the final reply). Questions are bench/grounding/chat_questions.jsonl over the
Harbour & Pine store (bench/chat_grounding_data.py loads it), each in a fresh conversation.

    .venv/bin/python bench/chat_reply_latency.py [--questions 64] [--threads 2]

Writes bench/results/chat_latency.json and the section "Chat reply latency" of docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Importing the data script sets the same offline / settings / bench database environment.
from bench.chat_grounding_data import KB, QUESTIONS, SLUG, _ensure_database, _load_store

SECTION = "## Chat reply latency"


class LockedEmbedder:
    """MiniLM shared by the reply threads, one encode at a time (as a worker's threads share it)."""

    def __init__(self, inner):
        self.inner = inner
        self.name = getattr(inner, "name", "minilm")
        self._lock = threading.Lock()

    def embed(self, texts):
        with self._lock:
            return self.inner.embed(texts)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _one(merchant, question: str, embedder) -> dict:
    from django.db import connection

    from chat.models import Conversation, Message
    from chat.replies.run import reply_generate_run

    try:
        conversation = Conversation.objects.create(merchant=merchant, source="widget")
        Message.objects.create(conversation=conversation, merchant=merchant, role="shopper", text=question)
        reply = Message.objects.create(
            conversation=conversation,
            merchant=merchant,
            role="bot",
            status="pending",
            params={"stream": True},
        )
        status = reply_generate_run(reply.pk, embedder=embedder)
        reply.refresh_from_db()
        latency = reply.latency_ms if reply.latency_ms is not None else 0
        return {
            "status": status,
            "ttft_ms": reply.ttft_ms if reply.ttft_ms is not None else latency,
            "latency_ms": latency,
            "generated": reply.model_version_id is not None,
        }
    finally:
        connection.close()


def run(merchant, questions: list[str], embedder, concurrency: int) -> dict:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        rows = list(pool.map(lambda q: _one(merchant, q, embedder), questions))
    wall = time.perf_counter() - started

    def stats(subset):
        if not subset:
            return None
        ttft = [r["ttft_ms"] / 1000 for r in subset]
        full = [r["latency_ms"] / 1000 for r in subset]
        return {
            "n": len(subset),
            "ttft_p50": statistics.median(ttft),
            "ttft_p95": _percentile(ttft, 0.95),
            "full_p50": statistics.median(full),
            "full_p95": _percentile(full, 0.95),
            "within_2s": sum(t <= 2.0 for t in ttft) / len(ttft),
        }

    return {
        "concurrency": concurrency,
        "wall_s": wall,
        "all": stats(rows),
        "generated": stats([r for r in rows if r["generated"]]),
        "statuses": {s: sum(r["status"] == s for r in rows) for s in sorted({r["status"] for r in rows})},
    }


def render(results: list[dict], args) -> str:
    lines = [
        SECTION,
        "",
        f"{args.questions} questions of the chat grounding set, each in a fresh widget conversation (streaming asked "
        "for), through `reply_generate_run` with the registered SmolLM2-135M-Instruct on this 2-core CPU "
        f"(torch threads: {args.threads}); `bench/chat_reply_latency.py`. TTFT is what the shopper waits for: the "
        "first verified text (a FAQ, extractive or product-facts answer is whole at once; a generated reply shows "
        "its first verified sentence, or all of it when batched).",
        "",
        "| conversations at once | replies | TTFT p50 | TTFT p95 | full reply p50 | full reply p95 | TTFT ≤ 2 s | "
        "generated replies: TTFT p50 / p95 | wall |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        a, g = r["all"], r["generated"]
        gen = f"{g['ttft_p50']:.2f} s / {g['ttft_p95']:.2f} s (n={g['n']})" if g else "none"
        lines.append(
            f"| {r['concurrency']} | {a['n']} | {a['ttft_p50']:.2f} s | {a['ttft_p95']:.2f} s | {a['full_p50']:.2f} s | "
            f"{a['full_p95']:.2f} s | {100 * a['within_2s']:.0f}% | {gen} | {r['wall_s']:.0f} s |"
        )
    lines += [
        "",
        "Reply outcomes: "
        + "; ".join(
            f"{r['concurrency']} at once: " + ", ".join(f"{k} {v}" for k, v in r["statuses"].items())
            for r in results
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    _ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    import torch
    from django.core.management import call_command

    from accounts.models import Merchant
    from chat.replies.engine import default_embedder

    torch.set_num_threads(args.threads)
    call_command("migrate", verbosity=0)
    call_command("ml_provision", verbosity=0)
    kb = json.loads(KB.read_text())
    merchant, _ = Merchant.objects.get_or_create(slug=SLUG, defaults={"name": kb["merchant"]})
    embedder = LockedEmbedder(default_embedder())
    _load_store(merchant, kb, embedder)
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    # Spread over the whole set (answerable and not, every topic), same questions at both loads.
    step = max(1, len(questions) // args.questions)
    questions = questions[::step][: args.questions]
    _one(merchant, questions[0], embedder)  # load the model once, outside the timings
    results = [run(merchant, questions, embedder, c) for c in (1, 8)]
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "chat_latency.json").write_text(json.dumps(results, indent=2))
    section = render(results, args)
    print(section)
    if not args.no_write:
        from bench.benchmarks_md import write_section

        write_section(section, SECTION)


if __name__ == "__main__":
    main()
