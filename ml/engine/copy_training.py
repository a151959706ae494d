"""Training pairs for the copy model: what the merchant has written themselves, as the replies the copy studio
asks for.

- `catalog_example(product, brand_voice)`: the product's facts *without* its description -> the merchant's
  own description, as a product-description reply ("Title: ...\nBody: ..."). The description is left out
  of the prompt so that the model learns to write it, not to copy it; scraped descriptions with glued
  sentences ("TSA lockOne handle") are split back into sentences and cut at a sentence end.
- `piece_example(messages, fields, channel)`: an approved piece's prompt -> its final text (a person's edit
  is the target), in the channel's reply format.
- `format_copy_answer(fields, channel)`: the reply format `ml.engine.prompts.parse_copy_output` reads.

Records are ``{"prompt": [messages], "response": text}`` dicts, what `ml.engine.finetune` takes and a
TrainingDataset stores. Standard library only (the web process builds them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ml.engine.prompts import build_copy_messages

_LABELS = {
    "product_description": (("title", "Title"), ("body", "Body")),
    "email": (("subject", "Subject"), ("body", "Body")),
    "sms": (("body", "SMS"),),
    "social_post": (("body", "Post"), ("hashtags", "Hashtags")),
    "ad_headline": (("body", "Headline"),),
}
DESCRIPTION_TARGET_CHARS = 600


def format_copy_answer(fields: Mapping[str, str], channel: str) -> str:
    if channel not in _LABELS:
        raise ValueError(f"unknown channel {channel!r}")
    lines = []
    for name, label in _LABELS[channel]:
        value = str(fields.get(name) or "").strip()
        if value:
            lines.append(f"{label}: {value}")
    return "\n".join(lines)


def readable_description(text: str, limit: int = DESCRIPTION_TARGET_CHARS) -> str:
    """A scraped description as sentences: glued sentences split, whitespace tidied, cut at a sentence end."""
    text = re.sub(r"<[^>]+>", " ", str(text or ""))
    text = re.sub(r"(?<=[a-z0-9)])(?=[A-Z][a-z])", ". ", text)  # "lockOne handle" -> "lock. One handle"
    text = re.sub(r"(?<=[a-z)][.!?])(?=[A-Z])", " ", text)  # "hours.Colour" -> "hours. Colour"
    text = re.sub(r"\s+", " ", text).strip()
    if text and text[-1] not in ".!?":
        text += "."
    if len(text) <= limit:
        return text
    cut = max((m.end() for m in re.finditer(r"[.!?](?=\s)", text[: limit + 1])), default=0)
    return text[:cut].strip() if cut else ""


def catalog_example(
    product: Mapping, *, brand_voice: Mapping | None = None, tone: str = "warm", length: str = "medium"
) -> dict | None:
    """One (facts without the description -> the description) pair; None when the product has no usable one."""
    description = readable_description(product.get("description") or "")
    title = str(product.get("title") or "").strip()
    if len(description) < 40 or not title:
        return None
    facts = {**product, "description": ""}
    messages = build_copy_messages(
        facts, channel="product_description", tone=tone, length=length, brand_voice=brand_voice
    )
    answer = format_copy_answer({"title": title, "body": description}, "product_description")
    return {"prompt": messages, "response": answer}


def piece_example(
    messages: Sequence[Mapping[str, str]], fields: Mapping[str, str], channel: str
) -> dict | None:
    """An approved piece's prompt -> its final text; None when the prompt or the text is empty."""
    answer = format_copy_answer(fields, channel)
    if not messages or not answer:
        return None
    return {"prompt": [dict(m) for m in messages], "response": answer}
