"""The copy prompt: the system message (rules, brand voice, task), worked examples as earlier turns (the
merchant's approved pieces, else a fictional product) and the request, within PROMPT_CHAR_BUDGET."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache

from ..grounding import CHANNEL_FIELDS, CHANNEL_LIMITS, CHANNELS, EXAMPLE_PRODUCT_NAME, check_copy
from .facts import _facts_text, _shown_facts
from .wording import _a, _as_list, _attribute_text, _clip, _label, _price_text, _text

LENGTHS = ("short", "medium", "long")
# 1200 before the fact sheet's Type line, which the example and the request each gain.
PROMPT_CHAR_BUDGET = 1240
# The merchant's approved examples may take this many characters where the fictional example takes ~330.
EXAMPLES_CHAR_BUDGET = 1000
MAX_EXAMPLES = 2
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
