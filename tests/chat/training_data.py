"""Support dialogues the chat training tests import: made up here, in the two formats the import reads."""

import csv
import io
import json

ITEMS = [
    "shirt",
    "jeans",
    "sneakers",
    "wallet",
    "kurta",
    "backpack",
    "jacket",
    "dress",
    "belt",
    "scarf",
    "hoodie",
    "sandals",
    "watch",
    "cap",
    "socks",
]
INTENTS = {
    "return": (
        "How do I return my {item}?",
        "You can return the {item} within 30 days from the orders page.",
    ),
    "shipping": ("When will my {item} arrive?", "Your {item} ships in 2 days and arrives within a week."),
    "size": (
        "Does the {item} run small?",
        "The {item} fits true to size; the size guide has the measurements.",
    ),
    "cancel": (
        "Can I cancel the {item} I ordered?",
        "Yes, the {item} can be cancelled until it has shipped.",
    ),
}


def dialogues(count: int, *, offset: int = 0) -> list[dict]:
    """``count`` distinct two-turn dialogues, cycling through intents and items."""
    out = []
    combos = [(intent, item) for item in ITEMS for intent in INTENTS]
    for n in range(offset, offset + count):
        intent, item = combos[n % len(combos)]
        question, answer = INTENTS[intent]
        variant = f" (ref {n // len(combos)})" if n >= len(combos) else ""
        out.append(
            {
                "intent": intent,
                "turns": [
                    {"role": "customer", "text": question.format(item=item) + variant},
                    {"role": "agent", "text": answer.format(item=item)},
                ],
            }
        )
    return out


def jsonl(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def bitext_csv(rows: list[tuple[str, str, str]]) -> bytes:
    """(instruction, intent, response) rows in the Bitext customer-support CSV layout."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["flags", "instruction", "category", "intent", "response"])
    for instruction, intent, response in rows:
        writer.writerow(["B", instruction, "ORDER", intent, response])
    return out.getvalue().encode()
