"""Writes the chat half of the grounding evaluation set: every question of bench/grounding/chat_questions.jsonl
asked of the live reply flow (chat.replies.reply_generate_run: retrieval, FAQ / direct answers, generation with
the real SmolLM2-135M-Instruct, the reply checks and the verifier) over the hand-written Harbour & Pine help
centre and catalog (bench/grounding/chat_kb.json), with MiniLM embeddings, on PostgreSQL.

Each question is asked twice, in fresh conversations:
1. **raw**: FAQ and direct answers switched off, so the model writes every answer; what it wrote (before any
   check) and what the verifier dropped are recorded -- the verifier is measured on these sentences;
2. **shown**: the product's defaults (FAQ answers, extractive / product-facts answers, generation + verification,
   hand-offs); what the shopper would read is recorded. A generation the raw pass already made for the same
   prompt is reused (the prompt is identical: retrieval is deterministic and there is no history).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/storyfront_chatbench .venv/bin/python bench/chat_grounding_data.py

The held-out set (questions no check was tuned on) is asked the same way:

    .venv/bin/python bench/chat_grounding_data.py --questions bench/grounding/chat_questions_heldout.jsonl \
        --out bench/grounding/chat_replies_heldout.jsonl

The database is created and migrated if needed, and only the bench merchant's rows are touched. Writes
bench/grounding/chat_replies.jsonl by default (generated text and references to our own knowledge base only)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/storyfront_chatbench")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GROUNDING = ROOT / "bench" / "grounding"
KB = GROUNDING / "chat_kb.json"
QUESTIONS = GROUNDING / "chat_questions.jsonl"
OUT = GROUNDING / "chat_replies.jsonl"
SLUG = "harbour-pine-bench"


def _ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


class CachingGenerator:
    """The real generator, remembering what it wrote for each prompt (and for each request id)."""

    def __init__(self, inner):
        self.inner = inner
        self.by_prompt: dict[str, str] = {}
        self.by_request: dict[str, str] = {}

    @staticmethod
    def _key(request) -> str:
        return json.dumps(request.messages, sort_keys=True)

    def generate(self, requests):
        from ml.engine.generation import GenerationResult

        todo = [r for r in requests if self._key(r) not in self.by_prompt]
        for request, result in zip(todo, self.inner.generate(todo) if todo else []):
            self.by_prompt[self._key(request)] = result.text
        out = []
        for r in requests:
            text = self.by_prompt[self._key(r)]
            self.by_request[r.request_id] = text
            out.append(
                GenerationResult(
                    text=text,
                    prompt_tokens=0,
                    completion_tokens=len(text.split()),
                    finish_reason="stop",
                    seconds=0.0,
                    request_id=r.request_id,
                )
            )
        return out

    def stream(self, request):
        yield from (r.text for r in self.generate([request]))


def _load_store(merchant, kb: dict, embedder) -> dict:
    from decimal import Decimal

    from catalog.models import Product
    from chat.knowledge.embeddings import embed_knowledge_run, embed_products_run
    from chat.models import ChatSettings, Conversation, KnowledgeItem

    Conversation.objects.filter(merchant=merchant).delete()
    KnowledgeItem.objects.filter(merchant=merchant).delete()
    Product.objects.filter(merchant=merchant).delete()
    ChatSettings.objects.get_or_create(merchant=merchant)
    keys = {}
    for row in kb["knowledge"]:
        item = KnowledgeItem.objects.create(
            merchant=merchant, kind=row["kind"], title=row["title"], body=row["body"]
        )
        keys[("knowledge", item.pk)] = row["key"]
    for row in kb["products"]:
        product = Product.objects.create(
            merchant=merchant,
            sku=row["sku"],
            title=row["title"],
            brand=row.get("brand", ""),
            price=Decimal(row["price"]),
            currency=row["currency"],
            description=row.get("description", ""),
            attributes=row.get("attributes") or {},
            stock=row.get("stock", 0),
            url=row.get("url", ""),
        )
        keys[("product", product.pk)] = row["sku"]
    embed_knowledge_run(merchant.pk, embedder=embedder)
    while embed_products_run(merchant.pk, embedder=embedder)[1]:
        pass
    return keys


def _ask(merchant, question: str, generator, embedder) -> dict:
    from chat.models import Conversation, Message
    from chat.replies.run import reply_generate_run

    conversation = Conversation.objects.create(merchant=merchant, source="api")
    Message.objects.create(conversation=conversation, merchant=merchant, role="shopper", text=question)
    reply = Message.objects.create(
        conversation=conversation, merchant=merchant, role="bot", status="pending", params={"stream": False}
    )
    started = time.perf_counter()
    status = reply_generate_run(reply.pk, generator=generator, embedder=embedder)
    seconds = time.perf_counter() - started
    reply.refresh_from_db()
    return {
        "status": status,
        "reply": reply,
        "seconds": seconds,
        "generated": generator.by_request.get(str(reply.pk)),
    }


def _source_texts(reply) -> list[str]:
    """What the reply was allowed to say: chat.replies._source_texts over the sources it retrieved."""
    from types import SimpleNamespace

    from catalog.models import Product
    from chat.models import KnowledgeItem
    from chat.replies.run import _source_texts as source_texts

    rows = reply.sources
    knowledge = {
        k.pk: k
        for k in KnowledgeItem.objects.filter(pk__in=[r["id"] for r in rows if r["type"] == "knowledge"])
    }
    products = {
        p.pk: p for p in Product.objects.filter(pk__in=[r["id"] for r in rows if r["type"] == "product"])
    }
    result = SimpleNamespace(
        knowledge=[(knowledge[r["id"]], r["score"]) for r in rows if r["type"] == "knowledge"],
        products=[(products[r["id"]], r["score"]) for r in rows if r["type"] == "product"],
    )
    return source_texts(result)


def _mode(status: str, reply) -> str:
    if reply.handoff or status.startswith("handoff"):
        return "handoff"
    return (
        reply.params.get("mode")
        if reply.params.get("mode") in ("faq_answer", "extractive", "product_facts")
        else "generated"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions (0: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="questions file (JSON lines)")
    parser.add_argument("--out", type=Path, default=OUT, help="replies file to write (JSON lines)")
    args = parser.parse_args()
    if not args.questions.is_file():
        parser.error(f"no such questions file: {args.questions}")
    out = args.out.resolve()

    _ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    import torch
    from django.conf import settings
    from django.core.management import call_command

    from accounts.models import Merchant
    from chat.replies.engine import default_embedder
    from ml.engine import LocalHFGenerator, provision_base_models

    torch.set_num_threads(args.threads)
    call_command("migrate", verbosity=0)
    kb = json.loads(KB.read_text())
    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    if args.limit:
        questions = questions[: args.limit]
    merchant, _ = Merchant.objects.get_or_create(slug=SLUG, defaults={"name": kb["merchant"]})
    embedder = default_embedder()
    keys = _load_store(merchant, kb, embedder)
    checkpoint = provision_base_models(ROOT / "var" / "models")["smollm2-135m-instruct"]
    generator = CachingGenerator(LocalHFGenerator(checkpoint, max_batch_size=1))
    defaults = (settings.CHAT_FAQ_ANSWER_MIN_COSINE, settings.CHAT_DIRECT_ANSWER_MIN_SCORE)

    rows = []
    started = time.perf_counter()
    for n, q in enumerate(questions, 1):
        settings.CHAT_FAQ_ANSWER_MIN_COSINE = settings.CHAT_DIRECT_ANSWER_MIN_SCORE = None
        raw = _ask(merchant, q["question"], generator, embedder)
        settings.CHAT_FAQ_ANSWER_MIN_COSINE, settings.CHAT_DIRECT_ANSWER_MIN_SCORE = defaults
        shown = _ask(merchant, q["question"], generator, embedder)
        raw_reply, shown_reply = raw["reply"], shown["reply"]
        rows.append(
            {
                "id": q["id"],
                "raw": {
                    "generated": raw["generated"] or "",
                    "after_checks": raw_reply.text,
                    "status": raw["status"],
                    "unverified": [row["sentence"] for row in raw_reply.safety.get("unverified", [])],
                    "check_findings": raw_reply.safety.get("findings", []),
                },
                "shown": {
                    "text": shown_reply.text,
                    "mode": _mode(shown["status"], shown_reply),
                    "status": shown["status"],
                    "handoff": shown_reply.handoff,
                    "generated": shown["generated"],
                    "unverified": [row["sentence"] for row in shown_reply.safety.get("unverified", [])],
                    "seconds": round(shown["seconds"], 3),
                },
                "sources": [keys.get((s["type"], s["id"]), "?") for s in raw_reply.sources],
                # The raw pass's retrieved sources as the verifier reads them (our own knowledge base's text).
                "source_texts": _source_texts(raw_reply),
                "shown_sources": [keys.get((s["type"], s["id"]), "?") for s in shown_reply.sources],
                "top_score": max((s["score"] for s in raw_reply.sources), default=0.0),
            }
        )
        print(
            f"[{n}/{len(questions)}] {time.perf_counter() - started:.0f}s {q['id']} {rows[-1]['shown']['mode']}",
            flush=True,
        )
    out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    print(f"wrote {out} ({len(rows)} questions)")


if __name__ == "__main__":
    main()
