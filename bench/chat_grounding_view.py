"""Shows chat evaluation replies for labelling (bench/grounding/CHAT_LABELLING.md): each question, the help
centre entries and products the bot retrieved, and the candidate answers with numbered sentences, plus a
label line to fill in. It never shows what the verifier or the reply flow decided.

    .venv/bin/python bench/chat_grounding_view.py --from 0 --to 40
    .venv/bin/python bench/chat_grounding_view.py --questions bench/grounding/chat_questions_heldout.jsonl \
        --replies bench/grounding/chat_replies_heldout.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ml.engine.verification import split_sentences

GROUNDING = ROOT / "bench" / "grounding"
DIRECT_MODES = ("faq_answer", "extractive", "product_facts")


def sentences(text: str) -> list[str]:
    return [" ".join(text[a:b].split()) for a, b in split_sentences(text or "") if text[a:b].strip()]


def candidates(row: dict) -> dict:
    """The answers a labeller judges: what the model wrote, and the answer taken from the knowledge base."""
    out = {"generated": sentences(row["raw"]["generated"])}
    if row["shown"]["mode"] in DIRECT_MODES:
        out["direct"] = sentences(row["shown"]["text"])
    return out


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="start", type=int, default=0)
    parser.add_argument("--to", dest="end", type=int, default=None)
    parser.add_argument("--questions", type=Path, default=GROUNDING / "chat_questions.jsonl")
    parser.add_argument("--replies", type=Path, default=GROUNDING / "chat_replies.jsonl")
    args = parser.parse_args()
    for path in (args.questions, args.replies):
        if not path.is_file():
            parser.error(f"no such file: {path}")
    questions = {q["id"]: q for q in load(args.questions)}
    replies = load(args.replies)[args.start : args.end]
    for row in replies:
        q = questions.get(row["id"])
        if q is None:
            parser.error(f"reply {row['id']} has no question in {args.questions}")
        print("=" * 100)
        print(f"{row['id']}  QUESTION: {q['question']}")
        print(f"retrieved: {', '.join(row['sources'])}")
        skeleton = {"id": row["id"], "answerable": None}
        for name, items in candidates(row).items():
            print(f"-- answer '{name}':")
            for n, sentence in enumerate(items, 1):
                print(f"   [{n}] {sentence}")
            skeleton[name] = {
                "sentences": [{"n": n, "label": None} for n in range(1, len(items) + 1)],
                "answers": None,
            }
        print("LABEL:", json.dumps(skeleton))


if __name__ == "__main__":
    main()
