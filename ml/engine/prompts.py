"""Chat prompts for marketing copy and parsing of the model's reply into the channel's fields.

Standard library only. Public API:

    CHANNELS, LENGTHS, PROMPT_CHAR_BUDGET
    build_copy_messages(product, *, channel, tone="", length="medium", language="en", brand_voice=None,
                        customer=None, goal="", examples=()) -> [system, (user, assistant) per example, user]
    with_feedback(messages, report, *, product=None) -> the messages for a retry, told what to do differently
                        after the verifier's findings on the last draft
    product_type(product), product_colour(product) -> what the fact sheet states the product is, and its colour
    parse_copy_output(text, channel) -> {field: text} with exactly the channel's fields (CHANNEL_FIELDS)

The prompts are written for a 135M-parameter instruct model (SmolLM2-135M-Instruct): short, facts as a flat list,
one labelled answer format per channel ("Subject: ..." then "Body: ..."), the hard limit stated in characters, and one
worked example as a previous chat turn: without it the model ignores the format (a trial on 4 Myntra products,
greedy decoding: no email had a subject line; with it, all 4 did). The example's product is fictional and
grounding flags copy that names it (EXAMPLE_PRODUCT_NAME).
Everything together stays within PROMPT_CHAR_BUDGET characters (about 360 SmolLM2 tokens, at most ~390): the
brand voice's examples and do/don't lists are cut first, then the description and the attributes.

The facts are a fact sheet: only what the product data says, with what the product is ("Type", a product-type
word of its own title or category, from the verifier's vocabulary) and its colour (its colour attribute, else
the colours its title names, read as the verifier reads them) on lines of their own, since a wrong product type
or colour is what a small model most often invents. When the merchant has approved pieces of the channel, up to
two of them (facts and final text, `examples`) replace the fictional example: they teach the merchant's own
voice and format. They take at most EXAMPLES_CHAR_BUDGET characters in place of the fictional example's ~330, so
the real product's facts are never cut to make room for them, and an example is only shown with enough of its
facts that every claim of its text is backed by what is shown (else the model would learn to add facts).
A retry adds what to do differently, from the verifier's findings on the last draft, to the system message
(`with_feedback`, at most FEEDBACK_CHAR_BUDGET more characters).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from .grounding import CHANNEL_FIELDS, CHANNEL_LIMITS, CHANNELS, EXAMPLE_PRODUCT_NAME, check_copy
from .verification import Evidence
from .verification.vocabulary import COLOURS, PRODUCT_TYPES

__all__ = [
    "CHANNELS",
    "EXAMPLES_CHAR_BUDGET",
    "FEEDBACK_CHAR_BUDGET",
    "LENGTHS",
    "PROMPT_CHAR_BUDGET",
    "build_copy_messages",
    "parse_copy_output",
    "product_colour",
    "product_type",
    "with_feedback",
]

LENGTHS = ("short", "medium", "long")
# 1200 before the fact sheet's Type line, which the example and the request each gain.
PROMPT_CHAR_BUDGET = 1240
# The merchant's approved examples may take this many characters where the fictional example takes ~330.
EXAMPLES_CHAR_BUDGET = 1000
MAX_EXAMPLES = 2
# A retry's lines on what to do differently, on top of the prompt it retries.
FEEDBACK_CHAR_BUDGET = 400
FEEDBACK_ITEMS = 5
GOAL_CHARS = 150

_CHANNEL_NAMES = {
    "product_description": "product description",
    "email": "marketing email",
    "sms": "SMS message",
    "social_post": "social media post",
    "ad_headline": "ad headline",
}
_FORMATS = {
    "product_description": "Title: <title>\nBody: <description>",
    "email": "Subject: <subject line>\nBody: <email text>",
    "sms": "SMS: <one message>",
    "social_post": "Post: <post>\nHashtags: <2 to 5 hashtags>",
    "ad_headline": "Headline: <headline>",
}
# The worked example: a fictional product (grounding flags copy that names it) and an answer that uses its facts
# and nothing else. Its price is shown in the real product's currency, so the model copies the right format;
# its facts go through the same fact sheet as the real product's, so the two look alike.
_EXAMPLE_PRODUCT = {
    "title": f"{EXAMPLE_PRODUCT_NAME} Canvas Tote",
    "attributes": {"colour": "navy"},
    "description": "Roomy tote, two inner pockets.",
}
_EXAMPLE_ANSWERS = {
    "product_description": f"Title: {EXAMPLE_PRODUCT_NAME} Canvas Tote in Navy\nBody: Meet the roomy navy "
    f"{EXAMPLE_PRODUCT_NAME} Canvas Tote. Two inner pockets keep your things in place. "
    "Yours for {price}.",
    "email": f"Subject: Meet the {EXAMPLE_PRODUCT_NAME} Canvas Tote\nBody: Hi there,\nOur roomy navy "
    f"{EXAMPLE_PRODUCT_NAME} Canvas Tote has two inner pockets for your things. Get yours for {{price}} "
    "today.",
    "sms": f"SMS: New: the roomy navy {EXAMPLE_PRODUCT_NAME} Canvas Tote with two inner pockets, just {{price}}. "
    "Shop now!",
    "social_post": f"Post: Roomy, navy and ready for anything: the {EXAMPLE_PRODUCT_NAME} Canvas Tote. Just "
    f"{{price}}.\nHashtags: #{EXAMPLE_PRODUCT_NAME} #CanvasTote #EverydayTote",
    "ad_headline": f"Headline: {EXAMPLE_PRODUCT_NAME} Canvas Tote, just {{price}}",
}
_EXAMPLE_AMOUNTS = {"INR": "1499", "JPY": "4500"}
_LENGTH_GUIDE = {
    "product_description": {"short": "2 sentences", "medium": "3 to 4 sentences", "long": "5 to 7 sentences"},
    "email": {"short": "2 to 3 sentences", "medium": "4 to 5 sentences", "long": "two short paragraphs"},
    "social_post": {"short": "1 sentence", "medium": "2 sentences", "long": "3 sentences"},
}
_LANGUAGES = {
    "en": "English",
    "hi": "Hindi",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "sv": "Swedish",
    "pl": "Polish",
    "tr": "Turkish",
    "ja": "Japanese",
    "zh": "Chinese",
    "ar": "Arabic",
    "bn": "Bengali",
    "ta": "Tamil",
    "te": "Telugu",
    "mr": "Marathi",
}
_CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£"}
# Attributes that describe the listing, not the product ("num_images", "image_url", "barcode").
_LISTING_WORDS = re.compile(
    r"(?i)^(?:(?:image|img|photo|picture)\w*|urls?|links?|handle|ids?|sku|barcode|gtin|ean|upc)$"
)
# How much of an example's facts is shown: (description chars, attributes, chars per attribute); for the
# merchant's examples the description is cut to fit EXAMPLES_CHAR_BUDGET, down to these lengths.
_EXAMPLE_FACT_LIMITS = (400, 8, 60)
_EXAMPLE_DESCRIPTION_STEPS = (400, 260, 160, 60, 0)
# (description chars, attributes, chars per attribute, brand examples, do/don't items), roomiest to tightest:
# the brand voice's extras go before the product's facts do.
_BUDGET_STEPS = (
    (400, 8, 60, 2, 3),
    (400, 8, 60, 1, 2),
    (260, 8, 60, 1, 2),
    (260, 6, 60, 0, 1),
    (160, 6, 50, 0, 1),
    (100, 5, 40, 0, 0),
    (60, 4, 40, 0, 0),
    (0, 3, 40, 0, 0),
    (0, 2, 30, 0, 0),
    (0, 0, 30, 0, 0),
)


def build_copy_messages(
    product: Mapping,
    *,
    channel: str,
    tone: str = "",
    length: str = "medium",
    language: str = "en",
    brand_voice: Mapping | None = None,
    customer: Mapping | None = None,
    goal: str = "",
    examples: Sequence[tuple[Mapping, Mapping]] = (),
) -> list[dict]:
    """Chat messages for one piece of copy about ``product`` (a plain dict): the rules and brand voice, worked
    examples as earlier turns, then the real request, last. ``examples`` are the merchant's approved pieces of
    this channel as (product facts, fields) pairs, best first; up to MAX_EXAMPLES that fit are shown, else one
    worked example about a fictional product. ``goal`` is the campaign's aim in the merchant's words; it steers
    the angle, not the facts (a number it mentions is not a product fact, so grounding still flags it)."""
    if channel not in CHANNEL_FIELDS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    if length not in LENGTHS:
        raise ValueError(f"unknown length {length!r}; expected one of {', '.join(LENGTHS)}")
    voice = brand_voice or {}
    currency = _text(product.get("currency")).upper()
    amount = _EXAMPLE_AMOUNTS.get(currency, "35")
    example_price = _price_text(amount, currency or "USD")
    # The example request is worded exactly like the real one and everything else (tone, length, limits, the
    # customer) is in the system message: with the same template the model answers in the format (Myntra
    # emails: 8 of 8 greedy, 6-8 of 8 sampled); with a differently worded example request, 0 of 8.
    task = _task_text(channel, tone, length)
    if customer:
        task += " " + _customer_text(customer, by_name=channel in ("email", "sms", "social_post"))
    example_product = {**_EXAMPLE_PRODUCT, "price": amount, "currency": currency or "USD"}
    fictional = [
        {
            "role": "user",
            "content": _request_text(channel, _facts_text(example_product, *_EXAMPLE_FACT_LIMITS)),
        },
        {"role": "assistant", "content": _EXAMPLE_ANSWERS[channel].format(price=example_price)},
    ]
    merchant_turns = _example_turns(_examples_key(examples), channel) if examples else ()
    example_turns = [
        message
        for request, answer in merchant_turns
        for message in ({"role": "user", "content": request}, {"role": "assistant", "content": answer})
    ] or fictional
    goal = _text(goal)
    # The goal is shortened only once everything else is at its tightest; the product's facts matter more.
    steps = [(*step, GOAL_CHARS) for step in _BUDGET_STEPS]
    steps += [(*_BUDGET_STEPS[-1], goal_chars) for goal_chars in (60, 0)] if goal else []
    # The budget is counted with the fictional example whichever examples are shown: the merchant's own have
    # a budget of their own (EXAMPLES_CHAR_BUDGET) and never cost the real product any of its facts.
    fictional_chars = sum(len(m["content"]) for m in fictional)
    for description_chars, attributes, value_chars, voice_examples, items, goal_chars in steps:
        goal_text = f"Campaign goal: {_clip(goal, goal_chars)}. " if goal and goal_chars else ""
        system = {
            "role": "system",
            "content": _system_text(channel, language, voice, voice_examples, items)
            + "\n"
            + goal_text
            + task,
        }
        request = {
            "role": "user",
            "content": _request_text(
                channel, _facts_text(product, description_chars, attributes, value_chars)
            ),
        }
        if len(system["content"]) + len(request["content"]) + fictional_chars <= PROMPT_CHAR_BUDGET:
            break
    return [system, *example_turns, request]


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


def _as_items(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else []


def product_type(product: Mapping) -> str:
    """What the product is, in its own words: the last product-type word (ml.engine.verification's
    PRODUCT_TYPES, the vocabulary the verifier names a wrong product type by) of its title before any "with"
    ("Kurta Set with Jacket" is a kurta), with the product-type words just before it ("trolley bag",
    "kurta & churidar"), else of its category; "" when neither names one."""
    title = re.split(r"(?i)\s+(?:with|without|\+)\s+", _text(product.get("title")))[0]
    for source in (title, _text(product.get("category"))):
        tokens = re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*|&", source)
        hits = [i for i, token in enumerate(tokens) if token.lower() in PRODUCT_TYPES]
        if not hits:
            continue
        start = end = hits[-1]
        while start > 0:
            before = tokens[start - 1].lower()
            if before in PRODUCT_TYPES and before not in COLOURS:
                start -= 1
            elif before in ("&", "and") and start > 1 and tokens[start - 2].lower() in PRODUCT_TYPES:
                start -= 2
            else:
                break
        return " ".join(tokens[start : end + 1]).lower()
    return ""


def product_colour(product: Mapping) -> str:
    """The product's colour: its colour attribute ("primary_color"), else the colours its title names, found
    as the verifier finds colours in the facts (so "Sand Cup" is not read as a colour, "Sand colour cup" is);
    "" when neither gives one."""
    key = _colour_key(product)
    if key:
        return _attribute_text(product["attributes"][key])
    title = _text(product.get("title"))
    named = set(Evidence([title]).named_colours)
    # Runs of token indices: adjacent colour words stay together ("Navy Blue", "Black & Grey").
    runs: list[list[int]] = []
    tokens = re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*|&", title)
    for index, token in enumerate(tokens):
        if token.lower() in named:
            if runs and runs[-1][-1] == index - 1:
                runs[-1].append(index)
            elif runs and runs[-1][-1] == index - 2 and tokens[index - 1].lower() in ("&", "and"):
                runs[-1] += [index - 1, index]
            else:
                runs.append([index])
    return ", ".join(" ".join(tokens[i] for i in run).lower() for run in runs[:3])


def _colour_key(product: Mapping) -> str | None:
    attributes = product.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        return None
    return next(
        (str(k) for k, v in attributes.items() if re.search(r"(?i)colou?r", str(k)) and _attribute_text(v)),
        None,
    )


def _system_text(channel: str, language: str, voice: Mapping, examples: int, items: int) -> str:
    lines = [
        (
            f"You write {_a(_CHANNEL_NAMES[channel])} in {_LANGUAGES.get(language, language)}. Use only the given "
            "product facts; never invent prices, numbers, sizes, materials, offers, ratings or guarantees."
        ),
    ]
    tone_words = list(dict.fromkeys(_as_list(voice.get("tone_words"))))
    if tone_words:
        lines.append("Brand voice: " + ", ".join(tone_words[:6]) + ".")
    if voice.get("audience"):
        lines.append(f"Audience: {_clip(str(voice['audience']), 100 if items else 50)}.")
    do = _as_list(voice.get("do") or voice.get("do_list"))[:items]
    if do:
        lines.append("Do: " + "; ".join(_clip(d, 60) for d in do) + ".")
    dont = _as_list(voice.get("dont") or voice.get("dont_list"))[:items]
    if dont:
        lines.append("Don't: " + "; ".join(_clip(d, 60) for d in dont) + ".")
    banned = _as_list(voice.get("banned_words"))
    if banned:
        lines.append("Never use these words: " + ", ".join(_clip(b, 30) for b in banned[:20]) + ".")
    for example in _as_list(voice.get("examples"))[:examples]:
        lines.append(f'Brand style example: "{_clip(example, 120)}"')
    return "\n".join(lines)


def _facts_text(product: Mapping, description_chars: int, attributes: int, value_chars: int) -> str:
    """Only what the data says, each fact on its own line; what the product is and its colour are stated
    outright (a small model otherwise guesses them from the name)."""
    shown = _shown_facts(product, description_chars, attributes, value_chars)
    facts = ["Product facts:"]  # the same layout as the worked example
    for label, key in (("Name", "title"), ("Brand", "brand"), ("Category", "category")):
        if shown[key]:
            facts.append(f"- {label}: {shown[key]}")
    kind = product_type(shown)
    if kind:
        facts.append(f"- Type: {kind}")
    colour_key = _colour_key(shown)
    colour = product_colour(shown)
    if colour:
        facts.append(f"- Colour: {colour}")
    price = _price_text(shown["price"], _text(shown["currency"]).upper())
    if price:
        facts.append(f"- Price: {price}")
    for key, value in shown["attributes"].items():
        if key != colour_key:
            facts.append(f"- {_label(key)[:30]}: {value}")
    if shown["description"]:
        facts.append(f"- Description: {shown['description']}")
    return "\n".join(facts)


def _shown_facts(product: Mapping, description_chars: int, attributes: int, value_chars: int) -> dict:
    """The part of ``product`` the fact sheet shows with these limits, itself product facts: what an example's
    text is checked against, since that is all the model sees of the example's product."""
    items = product.get("attributes") or {}
    items = {str(k): _attribute_text(v) for k, v in items.items()} if isinstance(items, Mapping) else {}
    colour_key = _colour_key({"attributes": items})
    shown, count = {}, 0
    for key, value in items.items():
        if key == colour_key:
            shown[key] = _clip(value, 60)
        elif value and not _is_listing_key(key) and count < attributes:
            shown[key] = _clip(value, value_chars)
            count += 1
    description = _readable(_text(product.get("description")), product)
    return {
        **{key: _clip(_text(product.get(key)), 100) for key in ("title", "brand", "category")},
        "price": product.get("price"),
        "currency": product.get("currency"),
        "url": product.get("url"),
        "attributes": shown,
        "description": _clip(description, description_chars) if description and description_chars else "",
    }


def _answer_text(fields: Mapping, channel: str) -> str:
    """Fields in the channel's answer format: the labels of _FORMATS, in CHANNEL_FIELDS order."""
    labels = [line.split(":", 1)[0] for line in _FORMATS[channel].splitlines()]
    lines = []
    for label, name in zip(labels, CHANNEL_FIELDS[channel]):
        value = str(fields.get(name) or "").strip()
        if value:
            lines.append(f"{label}: {value}")
    return "\n".join(lines)


def _examples_key(examples: Sequence[tuple[Mapping, Mapping]]) -> str:
    return json.dumps(
        [[dict(facts), dict(fields)] for facts, fields in list(examples)[: MAX_EXAMPLES * 3]],
        sort_keys=True,
        default=str,
    )


@lru_cache(maxsize=64)
def _example_turns(key: str, channel: str) -> tuple[tuple[str, str], ...]:
    """(request, answer) turns for the merchant's examples, within EXAMPLES_CHAR_BUDGET. Each example shows as
    much of its description as fits, but never less than its text needs: an example whose text claims what
    its shown facts do not say is left out. The same examples serve every product of a campaign (cached)."""
    turns: list[tuple[str, str]] = []
    left = EXAMPLES_CHAR_BUDGET
    for facts, fields in json.loads(key):
        if len(turns) >= MAX_EXAMPLES:
            break
        fields = {name: str(fields.get(name) or "") for name in CHANNEL_FIELDS[channel]}
        answer = _answer_text(fields, channel)
        if not answer:
            continue
        for description_chars in _EXAMPLE_DESCRIPTION_STEPS:
            request = _request_text(channel, _facts_text(facts, description_chars, *_EXAMPLE_FACT_LIMITS[1:]))
            if len(request) + len(answer) > left:
                continue
            if check_copy(
                fields, _shown_facts(facts, description_chars, *_EXAMPLE_FACT_LIMITS[1:]), channel=channel
            ).passed:
                turns.append((request, answer))
                left -= len(request) + len(answer)
            break  # a shorter description backs no more of the text than this one
    return tuple(turns)


def _task_text(channel: str, tone: str, length: str) -> str:
    task = [f"Tone: {_clip(tone, 60)}."] if tone else []
    guide = _LENGTH_GUIDE.get(channel, {}).get(length)
    if guide:
        task.append(f"Length: {guide}.")
    task.append(_limit_text(channel))
    return " ".join(task)


def _request_text(channel: str, facts: str) -> str:
    return f"Write {_a(_CHANNEL_NAMES[channel])} for this product.\n{facts}\nAnswer in this format:\n{_FORMATS[channel]}"


def _limit_text(channel: str) -> str:
    limits = CHANNEL_LIMITS[channel]
    if channel == "product_description":
        body = limits["body"]
        return f"Body: {body['min_chars']} to {body['max_chars']} characters."
    if channel == "email":
        return f"Subject: at most {limits['subject']['max_chars']} characters."
    if channel == "social_post":
        return (
            f"At most {limits['body']['max_chars']} characters and "
            f"{limits['hashtags']['max_items']} hashtags."
        )
    return f"Hard limit: {limits['body']['max_chars']} characters in total."


def _customer_text(customer: Mapping, *, by_name: bool) -> str:
    name = _text(customer.get("first_name") or customer.get("name")).split(" ")[0]
    details: list[str] = []
    for key, value in customer.items():
        value = _attribute_text(value)
        if (
            key not in ("first_name", "last_name", "name", "email", "phone", "id")
            and value
            and len(details) < 3
        ):
            details.append(f"{_label(str(key)).lower()}: {_clip(value, 60)}")
    text = f"Write to {name}, address them by first name." if name and by_name else "Write for one customer."
    return text + (f" About them: {'; '.join(details)}." if details else "")


def _price_text(value, currency: str) -> str:
    try:
        price = Decimal(str(value).replace(",", "")) if value not in (None, "") else None
    except InvalidOperation:
        return ""
    if price is None or not price.is_finite():
        return ""
    amount = format(price, "f")
    amount = amount.removesuffix(".00")
    if currency in _CURRENCY_SIGNS:
        return _CURRENCY_SIGNS[currency] + amount
    if currency == "INR":
        return f"Rs. {amount}"
    return f"{amount} {currency}".strip()


def _readable(description: str, product: Mapping) -> str:
    """Strip markup and split sentences that scraping glued together ("TSA lockOne handle"), except inside
    names from the title or brand ("PlayStation")."""
    text = re.sub(r"<[^>]+>", " ", description)
    protected = set(re.findall(r"\w+", f"{_text(product.get('title'))} {_text(product.get('brand'))}"))

    def split(m: re.Match) -> str:
        return m.group() if m.group() in protected else f"{m.group(1)}. {m.group(2)}"

    text = re.sub(r"\b(\w*[a-z]{2})([A-Z][a-z]\w*)", split, text)
    return re.sub(r"\s+", " ", text).strip()


def _is_listing_key(key: str) -> bool:
    return any(_LISTING_WORDS.match(word) for word in re.split(r"[^A-Za-z0-9]+", key))


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" or noun.startswith("SMS") else "a ") + noun


def _attribute_text(value) -> str:
    if isinstance(value, (list, tuple, set)):
        return ", ".join(_text(v) for v in value if _text(v))
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return _text(value)


def _label(key: str) -> str:
    return re.sub(r"[_\s]+", " ", key).strip().capitalize()


def _text(value) -> str:
    return "" if value is None else re.sub(r"\s+", " ", str(value)).strip()


def _as_list(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = re.split(r"[,\n]", value)
    return [_text(v) for v in value if _text(v)]


def _clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary."""
    text = _text(text)
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[: limit + 1] else text[:limit]
    return cut.rstrip(" ,;:-–(")


# --- parsing --------------------------------------------------------------------------------------------

_LABELS = {
    "title": "title",
    "product title": "title",
    "name": "title",
    "product name": "title",
    "headline": "title",
    "ad headline": "title",
    "ad": "title",
    "subject": "subject",
    "subject line": "subject",
    "email subject": "subject",
    "hashtags": "hashtags",
    "hashtag": "hashtags",
    "tags": "hashtags",
    "body": "body",
    "email body": "body",
    "email": "body",
    "message": "body",
    "sms": "body",
    "text message": "body",
    "sms message": "body",
    "text": "body",
    "description": "body",
    "product description": "body",
    "copy": "body",
    "content": "body",
    "post": "body",
    "caption": "body",
    "social post": "body",
    "social media post": "body",
    "tweet": "body",
}
_LABEL_RE = re.compile(
    r"^[ \t]*(?:[#>*_•-]+[ \t]*)*(?P<label>"
    + "|".join(sorted(map(re.escape, _LABELS), key=len, reverse=True))
    + r")[ \t]*(?:\*\*|__|\*|_)?[ \t]*[:：](?:[ \t]*(?:\*\*|__))?[ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
_INLINE_LABEL = re.compile(r"(?<=\S)[ \t]+(?=(?:\*\*)?(?:Body|Hashtags|Tags|Message)(?:\*\*)?[ \t]*:)")
_END_OF_TURN = re.compile(
    r"<\|(?:im_end|endoftext|im_start|eot_id|end)\|>|</s>|\n\s*(?:user|human)\s*:", re.IGNORECASE
)
_CHATTER = re.compile(
    r"^\s*(?:sure|certainly|of course|absolutely|okay|ok|here is|here's|here are|below is|below are|i have|"
    r"i've|i hope|hope this|let me know|feel free|note:|please note|assistant\s*:)",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(r"(?i)^\s*(?:i hope|hope this|let me know|feel free|note:|please note|assistant\s*:)")
_META = re.compile(
    r"(?i)\b(?:description|e-?mail|post|sms|text message|headline|copy|version|message|subject|"
    r"caption|tweet|ad|options?)\b"
)
_GREETING = re.compile(r"(?i)^\s*(?:dear|hi|hello|hey)\b")
_QUOTES = [('"', '"'), ("“", "”"), ("'", "'"), ("‘", "’"), ("«", "»")]
_DANGLING = {"and", "or", "with", "for", "the", "a", "an", "to", "of", "in", "on", "at", "your", "our", "&"}


def parse_copy_output(text: str, channel: str) -> dict[str, str]:
    """The channel's fields from a raw reply, tolerating missing labels, chatter, markdown and quotes.
    Subjects, SMS and ad headlines a little over their limit (up to a quarter) are cut at a word boundary;
    anything else over a limit is left for the grounding check to report."""
    if channel not in CHANNEL_FIELDS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    sections = _sections(_clean(text))
    fields = _assign(sections, channel)
    result = {}
    for name in CHANNEL_FIELDS[channel]:
        value = _tidy(fields.get(name, ""), single_line=name != "body" or channel in ("sms", "ad_headline"))
        if name == "hashtags":
            value = " ".join(_dedupe_tags(_hashtags_from(value)))
        result[name] = value
    if channel == "social_post":
        result["body"], trailing = _split_trailing_hashtags(result["body"])
        result["hashtags"] = " ".join(_dedupe_tags(result["hashtags"].split() + trailing))
    for name in ("subject", "body"):
        if name in result and (name == "subject" or channel in ("sms", "ad_headline")):
            result[name] = _trim(result[name], CHANNEL_LIMITS[channel][name]["max_chars"])
    return result


def _clean(text: str) -> str:
    text = str(text or "")
    end = _END_OF_TURN.search(text)
    if end and text[: end.start()].strip():
        text = text[: end.start()]
    text = re.sub(r"<\|[^|>\n]{1,40}\|>", "", text)
    text = re.sub(r"(?m)^\s*```\w*\s*$", "", text)
    text = _INLINE_LABEL.sub("\n", text)
    # Talk about the copy goes at the start, at the end, and on lines introducing another version; a line in
    # the middle of the copy stays even if it sounds like talk, so that its claims are still checked.
    lines = text.splitlines()
    while lines and (not lines[0].strip() or _is_chatter(lines[0])):
        lines.pop(0)
    while lines and (not lines[-1].strip() or _is_chatter(lines[-1]) or _SIGN_OFF.match(lines[-1])):
        lines.pop()
    return "\n".join(line for line in lines if not (_is_chatter(line) and line.strip().endswith(":")))


def _is_chatter(line: str) -> bool:
    """ "Sure! Here is your email:" or "Let me know if ..." is talk about the copy; "Here's to summer!" is copy."""
    if _LABEL_RE.match(line) or not _CHATTER.match(line):
        return False
    stripped = line.strip()
    return (
        stripped.endswith(":")
        or bool(_SIGN_OFF.match(stripped) or _META.search(stripped))
        or bool(re.match(r"(?i)(?:sure|certainly|of course|absolutely|okay|ok)\b", stripped))
    )


def _sections(text: str) -> list[tuple[str | None, str]]:
    """(field or None, text) in order. A title or subject is one line; lines after it are unlabelled."""
    sections: list[tuple[str | None, list[str]]] = []
    for line in text.splitlines():
        m = _LABEL_RE.match(line)
        if m:
            sections.append((_LABELS[m.group("label").lower()], [line[m.end() :]]))
        elif sections and not (sections[-1][0] in ("title", "subject") and "".join(sections[-1][1]).strip()):
            sections[-1][1].append(line)
        elif line.strip() or sections:
            if sections and sections[-1][0] is None:
                sections[-1][1].append(line)
            else:
                sections.append((None, [line]))
    return [(label, "\n".join(lines).strip()) for label, lines in sections if "".join(lines).strip()]


def _assign(sections: list[tuple[str | None, str]], channel: str) -> dict[str, str]:
    labelled: dict[str, str] = {}
    for label, body in sections:
        if label is not None and label not in labelled:
            labelled[label] = body
    loose = "\n\n".join(body for label, body in sections if label is None)
    if channel in ("sms", "ad_headline"):
        order = ("body", "title", "subject") if channel == "sms" else ("title", "body", "subject")
        text = next((labelled[k] for k in order if labelled.get(k)), loose)
        if channel == "ad_headline":
            text = next((line for line in text.splitlines() if line.strip()), "")
        return {"body": text}
    wanted = CHANNEL_FIELDS[channel]
    heading = next((f for f in ("subject", "title") if f in wanted), None)
    fields = {"body": labelled.get("body", ""), "hashtags": labelled.get("hashtags", "")}
    if heading:
        fields[heading] = labelled.get(heading) or labelled.get(
            "title" if heading == "subject" else "subject", ""
        )
        if not fields[heading] and not fields["body"] and loose:
            # No labels at all: a short first line that is not a greeting (or, for a title, a sentence) heads it.
            first, _, rest = loose.partition("\n")
            limit = CHANNEL_LIMITS[channel][heading]["max_chars"]
            first_line = _tidy(first, single_line=True)
            if (
                rest.strip()
                and len(first_line) <= limit + 20
                and not _GREETING.match(first_line)
                and not (heading == "title" and first_line.endswith("."))
            ):
                fields[heading], loose = first, rest
    if not fields["body"]:
        fields["body"] = loose
    return fields


def _tidy(text: str, *, single_line: bool) -> str:
    text = re.sub(r"\[([^\]\n]+)\]\((?:https?://)?[^)\s]*\)", r"\1", text)  # markdown links
    text = re.sub(r"(?m)^[ \t]*#{1,6}[ \t]+", "", text)  # markdown headings (not #hashtags)
    text = re.sub(r"\*\*|__|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])", "", text)
    text = re.sub(r"(?m)^[ \t]*[*•][ \t]+", "- ", text)
    if single_line:
        text = re.sub(r"\s+", " ", text)
    else:
        text = re.sub(r"[ \t]+", " ", text)
        text = re.sub(r"\n\s*\n+", "\n\n", text)
        text = "\n".join(line.strip() for line in text.split("\n"))
    text = text.strip()
    for left, right in _QUOTES:
        if len(text) > 1 and text.startswith(left) and text.endswith(right) and left not in text[1:-1]:
            text = text[1:-1].strip()
    return text


def _hashtags_from(text: str) -> list[str]:
    """ "#a #b", or "a, b c" without any # (each comma-separated entry becomes one tag)."""
    if "#" in text:
        return re.findall(r"#\w+", text)
    entries = re.split(r"[,;\n]+", text) if re.search(r"[,;\n]", text) else text.split()
    return [f"#{word}" for word in (re.sub(r"[^\w]", "", e) for e in entries) if word]


def _split_trailing_hashtags(body: str) -> tuple[str, list[str]]:
    m = re.search(r"(?:\s*#\w+)+\s*$", body)
    if not m or not body[: m.start()].strip():
        return body, []
    return body[: m.start()].rstrip(), re.findall(r"#\w+", m.group())


def _dedupe_tags(tags) -> list[str]:
    seen, result = set(), []
    for tag in tags:
        if tag.lower() not in seen:
            seen.add(tag.lower())
            result.append(tag)
    return result


def _trim(text: str, limit: int) -> str:
    if len(text) <= limit or len(text) > limit * 1.25:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[: limit + 1] else text[:limit]
    words = cut.rstrip(" ,;:-–").split(" ")
    while len(words) > 1 and words[-1].lower() in _DANGLING:
        words.pop()
    return " ".join(words).rstrip(" ,;:-–")
