"""A retry's prompt: what to do differently, from the verifier's findings on the last draft, added to the system
message within FEEDBACK_CHAR_BUDGET."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .facts import product_colour, product_type
from .wording import _a, _as_items, _clip, _price_text, _text

# A retry's lines on what to do differently, on top of the prompt it retries.
FEEDBACK_CHAR_BUDGET = 400
FEEDBACK_ITEMS = 5


def with_feedback(messages: Sequence[Mapping], report, *, product: Mapping | None = None) -> list[dict]:
    """``messages`` for a retry: what to do differently, from the verifier's findings on the last draft (a
    GroundingReport or its stored dict; at most FEEDBACK_ITEMS lines), added to the system message with the
    other instructions, so that the request stays worded exactly like the worked example's (see
    build_copy_messages). ``product`` (the facts) lets a wrong product type, colour or price be answered with
    the right one. Unchanged when the report has no findings."""
    items = _feedback_items(report, product)
    retry = [dict(m) for m in messages]
    if not items or not retry or retry[0].get("role") != "system":
        return retry
    head = "Your last draft for this product could not be used. This time:"
    room = FEEDBACK_CHAR_BUDGET - len(head) - 1
    lines = []
    for item in items[:FEEDBACK_ITEMS]:
        line = "- " + _clip(item, 120)
        if len(line) + 1 > room:
            break
        lines.append(line)
        room -= len(line) + 1
    if not lines:
        return retry
    retry[0]["content"] = "\n".join([str(retry[0].get("content") or ""), head, *lines])
    return retry


def _feedback_items(report, product: Mapping | None) -> list[str]:
    """What to do differently, one line per kind of problem, most useful first. The lines say what is true
    ("The product is a kurta.") rather than quote what was wrong: SmolLM2-135M copies words it is shown, and
    quoted findings ('"HomeShopnowhere" is not in the facts') were written again. Measured on 40 Myntra products
    (bench/campaign_bench.py; product descriptions / SMS approvable after two retries): no feedback 30% / 28%;
    quoted findings in the request 22% / 15%; these lines in the request 18% / 8% (the request no longer looked
    like the worked example's); these lines in the system message 35% / 28%."""
    data = report.to_dict() if hasattr(report, "to_dict") else report
    if not isinstance(data, Mapping):
        return []
    facts = product or {}
    kinds = [str(c.get("kind") or "") for c in _as_items(data.get("unsupported")) if isinstance(c, Mapping)]
    claims = sorted(
        set(kinds), key=lambda k: _CLAIM_ORDER.index(k) if k in _CLAIM_ORDER else len(_CLAIM_ORDER)
    )
    # What the product is, its colour and price first, then the form (length, placeholders, cut-off text),
    # the brand voice's rules, and the other kinds of invented detail.
    first = [_claim_advice(kind, facts) for kind in claims if kind in _CLAIM_ORDER[:3]]
    form = [
        _defect_advice(_text(problem), facts)
        for problem in _as_items(data.get("channel_violations")) + _as_items(data.get("degenerate"))
    ]
    voice = [f"Do not use {_text(label)}." for label in _as_items(data.get("banned")) if _text(label)]
    rest = [_claim_advice(kind, facts) for kind in claims if kind not in _CLAIM_ORDER[:3]]
    return [item for item in dict.fromkeys(first + form + voice + rest) if item]


_CLAIM_ORDER = (
    "product_type",
    "colour",
    "price",
    "retailer",
    "contradiction",
    "audience",
    "material",
    "claim",
    "name",
    "number",
    "percentage",
    "measurement",
    "term",
)
_CLAIM_ADVICE = {
    "retailer": "Name no shop, website or link.",
    "contradiction": "Say nothing that contradicts the facts.",
    "audience": "Say who it is for only as the facts do.",
    "material": "Name no material the facts do not name.",
    "claim": "Make no claim or offer the facts do not make: no discounts, guarantees, ratings or delivery promises.",
    "name": "Name no person, brand or place the facts do not name.",
    "number": "Use no number the facts do not give.",
    "percentage": "Use no number the facts do not give.",
    "measurement": "Use no size or measurement the facts do not give.",
}
_FIELD_WORDS = {"body": "text"}
_DEFECT_ADVICE = (
    (re.compile(r"placeholder|template or markup"), "Leave no placeholders, brackets or markup."),
    (re.compile(r"ends mid-sentence"), "End with a complete sentence."),
    (re.compile(r"capital letters"), "Do not write in capital letters."),
    (re.compile(r"repeated"), "Do not repeat words or phrases."),
    (re.compile(r"echoes the prompt"), "Write sentences of your own; do not copy the list of facts."),
    (re.compile(r"is empty|is required"), "Fill in every part of the answer format."),
)


def _claim_advice(kind: str, facts: Mapping) -> str:
    if kind == "product_type":
        kind_of = product_type(facts)
        return (
            f"The product is {_kind_phrase(kind_of)}; call it that."
            if kind_of
            else ("Call the product only what its name says.")
        )
    if kind == "colour":
        colour = product_colour(facts)
        return f"Its colour is {colour}; name no other colour." if colour else "Name no colour."
    if kind == "price":
        price = _price_text(facts.get("price"), _text(facts.get("currency")).upper())
        return f"The price is {price}; give no other price." if price else "Give no price."
    return _CLAIM_ADVICE.get(kind, "Use only words that say what the facts say; add no other details.")


def _defect_advice(problem: str, facts: Mapping) -> str:
    over = re.search(r"^(\w+) is \d+ characters; \w+ allows at most (\d+)", problem)
    if over:
        return f"Keep the {_FIELD_WORDS.get(over.group(1), over.group(1))} under {over.group(2)} characters."
    under = re.search(r"^(\w+) is \d+ characters; \w+ needs at least (\d+)", problem)
    if under:
        return f"Write at least {under.group(2)} characters of {_FIELD_WORDS.get(under.group(1), under.group(1))}."
    tags = re.search(r"hashtags; \w+ allows at most (\d+)", problem)
    if tags:
        return f"Use at most {tags.group(1)} hashtags."
    if "never says what the product is" in problem:
        kind_of = product_type(facts)
        return f"Say what the product is: {_kind_phrase(kind_of)}." if kind_of else "Say what the product is."
    return next((advice for pattern, advice in _DEFECT_ADVICE if pattern.search(problem)), "")


def _kind_phrase(kind_of: str) -> str:
    return kind_of if kind_of.endswith("s") else _a(kind_of)
