"""Support-chat reply speed on the real SmolLM2-135M-Instruct, through the engine and the prompt the live bot
uses (ml.engine.chat.build_chat_messages with a merchant's knowledge items and products):

1. latency for one shopper: time to the first streamed text and to the full reply, over a conversation of
   ~20 questions (p50/p95);
2. aggregate throughput with 8 concurrent conversations (8 threads): requests go through
   ml.engine.RequestBatcher, which decodes whatever arrived together in one batch, vs the same 8 x N requests
   served one after another. The two sides run interleaved, round by round, so load from other processes on
   the machine falls on both.

Every request decodes at most --max-new-tokens tokens with the live bot's sampling settings
(chat.replies.engine.SAMPLING) and its own seed; the same seeds on both sides.

    .venv/bin/python bench/chat_bench.py [--questions 20] [--conversations 8] [--turns 2] [--rounds 2]

Writes bench/results/chat.json and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import django
import torch

django.setup()  # only to read the live bot's sampling settings; nothing here touches the database

from chat.replies.engine import SAMPLING
from ml.engine import GenerationRequest, LocalHFGenerator, RequestBatcher, provision_base_models
from ml.engine.chat import build_chat_messages

MERCHANT = "Northwind Outfitters"
# A small outdoor-clothing store's help centre, written for this benchmark.
KNOWLEDGE = [
    {
        "id": 1,
        "kind": "policy",
        "title": "Shipping",
        "body": "Orders ship within 2 business days from our warehouse in Leeds. Standard delivery takes 3-5 business "
        "days and is free over 50 GBP; express delivery takes 1-2 business days and costs 6.95 GBP.",
    },
    {
        "id": 2,
        "kind": "policy",
        "title": "Returns and refunds",
        "body": "Unworn items can be returned within 30 days of delivery with the prepaid label in the parcel. Refunds "
        "go back to the original payment method within 5 business days of the return arriving.",
    },
    {
        "id": 3,
        "kind": "faq",
        "title": "How do I find my size?",
        "body": "Every product page has a size guide in centimetres. Our jackets run true to size; if you are between "
        "sizes, take the larger one for layering.",
    },
    {
        "id": 4,
        "kind": "faq",
        "title": "Can I change or cancel my order?",
        "body": "Orders can be changed or cancelled within one hour of purchase from the order page in your account. "
        "After that, contact the team and we will help with a return instead.",
    },
    {
        "id": 5,
        "kind": "policy",
        "title": "Warranty",
        "body": "Jackets, boots and backpacks have a two-year warranty against manufacturing defects. Send photos "
        "of the defect to the team to start a claim.",
    },
]
PRODUCTS = [
    {
        "id": 11,
        "title": "Ridgeline waterproof jacket",
        "brand": "Northwind",
        "price": "129.00",
        "currency": "GBP",
        "description": "Three-layer waterproof shell with taped seams and a helmet-compatible hood.",
        "attributes": {"colour": "forest green", "sizes": "XS-XXL"},
        "stock": 14,
    },
    {
        "id": 12,
        "title": "Trailhead hiking boots",
        "brand": "Northwind",
        "price": "149.00",
        "currency": "GBP",
        "description": "Leather hiking boots with a waterproof membrane and a grippy rubber outsole.",
        "attributes": {"colour": "brown", "sizes": "36-47"},
        "stock": 6,
    },
]
QUESTIONS = [
    "Hi! How long does delivery take?",
    "Is shipping free?",
    "How much is express delivery?",
    "Can I return a jacket I haven't worn?",
    "How long do I have to send it back?",
    "When do I get my money back?",
    "Does the Ridgeline jacket run small?",
    "I'm between a medium and a large, which should I take?",
    "What colour is the Ridgeline jacket?",
    "Is the jacket waterproof?",
    "Do the Trailhead boots come in size 47?",
    "Are the boots in stock?",
    "How much are the hiking boots?",
    "Can I cancel the order I placed ten minutes ago?",
    "What if it's been a day already?",
    "My boots' sole came off after three months, what can I do?",
    "How long is the warranty on backpacks?",
    "Do you ship from the UK?",
    "Can I change the delivery address on my order?",
    "Thanks! Anything else I should know about returns?",
]


def messages_for(question: str, history: list[dict]) -> list[dict]:
    return build_chat_messages(
        question=question,
        history=history,
        knowledge=KNOWLEDGE,
        products=PRODUCTS,
        merchant_name=MERCHANT,
        bot_name="Nora",
        history_turns=6,
    )


def request_for(question: str, history: list[dict], seed: int, max_new_tokens: int) -> GenerationRequest:
    return GenerationRequest.chat(
        messages_for(question, history), seed=seed, max_new_tokens=max_new_tokens, **SAMPLING
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = (len(ordered) - 1) * q
    low, high = int(index), min(int(index) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (index - low)


def latency(generator: LocalHFGenerator, questions: list[str], max_new_tokens: int) -> dict:
    """One shopper asks the questions in turn; each reply is streamed as the widget would show it."""
    tokenizer = generator.loaded.tokenizer
    history: list[dict] = []
    ttft, total, tokens, prompt_tokens = [], [], [], []
    for number, question in enumerate(questions):
        request = request_for(question, history, 1000 + number, max_new_tokens)
        prompt = tokenizer.apply_chat_template(
            list(request.messages), add_generation_prompt=True, tokenize=False
        )
        prompt_tokens.append(len(tokenizer(prompt, add_special_tokens=False)["input_ids"]))
        started = time.perf_counter()
        first, text = None, ""
        for chunk in generator.stream(request):
            if first is None and chunk.strip():
                first = time.perf_counter() - started
            text += chunk
        total.append(time.perf_counter() - started)
        ttft.append(first if first is not None else total[-1])
        tokens.append(len(tokenizer(text, add_special_tokens=False)["input_ids"]))
        history += [{"role": "shopper", "text": question}, {"role": "bot", "text": text}]
    return {
        "questions": len(questions),
        "ttft_p50_s": round(percentile(ttft, 0.5), 3),
        "ttft_p95_s": round(percentile(ttft, 0.95), 3),
        "full_reply_p50_s": round(percentile(total, 0.5), 3),
        "full_reply_p95_s": round(percentile(total, 0.95), 3),
        "mean_reply_tokens": round(statistics.mean(tokens), 1),
        "mean_prompt_tokens": round(statistics.mean(prompt_tokens), 1),
        "tokens_per_s_single_stream": round(sum(tokens) / sum(total), 1),
    }


def conversations_for(count: int, turns: int, round_number: int) -> list[list[str]]:
    """Each conversation asks its own run of questions (offset so that they differ)."""
    start = round_number * turns
    return [[QUESTIONS[(c * 3 + start + t) % len(QUESTIONS)] for t in range(turns)] for c in range(count)]


def seed_of(round_number: int, conversation: int, turn: int) -> int:
    return round_number * 10_000 + conversation * 100 + turn


class BatchCounter:
    """The generator, recording how many requests each batched call decoded together."""

    def __init__(self, generator):
        self.generator, self.sizes = generator, []

    def generate(self, requests):
        self.sizes.append(len(requests))
        return self.generator.generate(requests)


def batched(generator, conversations, round_number: int, max_new_tokens: int) -> dict:
    """One thread per conversation; each waits for its reply before asking the next question."""
    counting = BatchCounter(generator)
    batcher = RequestBatcher(counting, max_batch_size=len(conversations), max_wait_s=0.05)
    results: list[list] = [[] for _ in conversations]

    def converse(c: int, questions: list[str]):
        history: list[dict] = []
        for t, question in enumerate(questions):
            result = batcher.generate(
                request_for(question, history, seed_of(round_number, c, t), max_new_tokens)
            )
            results[c].append(result)
            history += [{"role": "shopper", "text": question}, {"role": "bot", "text": result.text}]

    threads = [threading.Thread(target=converse, args=(c, q)) for c, q in enumerate(conversations)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    batcher.close()
    tokens = sum(r.completion_tokens for rs in results for r in rs)
    return {
        "requests": sum(map(len, results)),
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
        "mean_batch": round(statistics.mean(counting.sizes), 2),
    }


def sequential(generator, conversations, round_number: int, max_new_tokens: int) -> dict:
    """The same requests served one at a time (turn 1 of every conversation, then turn 2, ...)."""
    histories: list[list[dict]] = [[] for _ in conversations]
    tokens, requests = 0, 0
    started = time.perf_counter()
    for t in range(len(conversations[0])):
        for c, questions in enumerate(conversations):
            question = questions[t]
            result = generator.generate(
                [request_for(question, histories[c], seed_of(round_number, c, t), max_new_tokens)]
            )[0]
            tokens += result.completion_tokens
            requests += 1
            histories[c] += [{"role": "shopper", "text": question}, {"role": "bot", "text": result.text}]
    seconds = time.perf_counter() - started
    return {
        "requests": requests,
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=8)
    parser.add_argument("--turns", type=int, default=2, help="questions per conversation in each round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    checkpoint = provision_base_models(ROOT / "var" / "models")["smollm2-135m-instruct"]
    generator = LocalHFGenerator(checkpoint, max_batch_size=args.conversations)
    loaded = generator.loaded  # loading is not part of any figure, as in a warm worker
    generator.generate([request_for(QUESTIONS[0], [], 0, 4)])
    report = {
        "model": "smollm2-135m-instruct",
        "dtype": str(loaded.dtype),
        "threads": torch.get_num_threads(),
        "max_new_tokens": args.max_new_tokens,
        "sampling": SAMPLING,
        "cpu_count": os.cpu_count(),
        "load_average_before": os.getloadavg(),
    }
    if not args.skip_latency:
        report["latency"] = latency(generator, (QUESTIONS * 2)[: args.questions], args.max_new_tokens)
        print("latency", report["latency"], flush=True)

    rounds = []
    for number in range(args.rounds):
        conversations = conversations_for(args.conversations, args.turns, number)
        # Alternate which side goes first so neither always meets the same load.
        sides = [("batched", batched), ("sequential", sequential)]
        entry = {}
        for name, run in sides if number % 2 == 0 else sides[::-1]:
            entry[name] = run(generator, conversations, number, args.max_new_tokens)
            print(f"round {number} {name}", entry[name], flush=True)
        entry["load_average"] = os.getloadavg()
        rounds.append(entry)
    total = {
        side: {
            "requests": sum(r[side]["requests"] for r in rounds),
            "tokens": sum(r[side]["tokens"] for r in rounds),
            "seconds": round(sum(r[side]["seconds"] for r in rounds), 2),
        }
        for side in ("batched", "sequential")
    }
    for side in total.values():
        side["tokens_per_s"] = round(side["tokens"] / side["seconds"], 1)
    report["throughput"] = {
        "conversations": args.conversations,
        "turns_per_round": args.turns,
        "rounds": rounds,
        "total": total,
        "speedup": round(total["batched"]["tokens_per_s"] / total["sequential"]["tokens_per_s"], 2),
        "per_round_speedup": [
            round(r["batched"]["tokens_per_s"] / r["sequential"]["tokens_per_s"], 2) for r in rounds
        ],
    }
    report["load_average_after"] = os.getloadavg()
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "chat.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "throughput"}, indent=2))
    print(
        "throughput",
        json.dumps(total),
        "speed-up",
        report["throughput"]["speedup"],
        "per round",
        report["throughput"]["per_round_speedup"],
    )


if __name__ == "__main__":
    main()
