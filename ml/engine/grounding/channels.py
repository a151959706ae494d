"""The channels copy is written for: the fields each one has, their hard length limits, how a hashtags field
is read (``hashtag_list``) and the check of a piece against its channel's limits."""

from __future__ import annotations

import re
from collections.abc import Mapping

# The one list of channels: the studio's Channel choices (marketing.models) are built from these labels.
CHANNEL_LABELS: dict[str, str] = {
    "product_description": "Product description",
    "email": "Email (subject + body)",
    "sms": "SMS",
    "social_post": "Social post",
    "ad_headline": "Ad headline",
}
CHANNELS = tuple(CHANNEL_LABELS)

# The fields each channel's copy has, in display order.
CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    "product_description": ("title", "body"),
    "email": ("subject", "body"),
    "sms": ("body",),
    "social_post": ("body", "hashtags"),
    "ad_headline": ("body",),
}

# Hard limits per channel and field. min_chars 1 means required. sms and ad_headline are a single text: their
# limit applies to all filled fields together, whatever they are called (a headline stored as "title" too).
CHANNEL_LIMITS: dict[str, dict[str, dict[str, int]]] = {
    "product_description": {
        "title": {"min_chars": 1, "max_chars": 120},
        "body": {"min_chars": 50, "max_chars": 1200},
    },
    "email": {"subject": {"min_chars": 1, "max_chars": 60}, "body": {"min_chars": 1, "max_chars": 2000}},
    "sms": {"body": {"min_chars": 1, "max_chars": 160}},
    "social_post": {"body": {"min_chars": 1, "max_chars": 280}, "hashtags": {"max_items": 5}},
    "ad_headline": {"body": {"min_chars": 1, "max_chars": 40}},
}
_SINGLE_TEXT_CHANNELS = ("sms", "ad_headline")


def hashtag_list(text: str) -> list[str]:
    """Hashtags in a hashtags field: "#a #b" or, when nobody wrote a #, "a, b" (the review page counts them
    the same way)."""
    tags = re.findall(r"#\w+", text)
    if tags or "#" in text:
        return tags
    return [t for t in re.split(r"[,\s]+", text) if t]


def _channel_violations(texts: Mapping[str, str], channel: str) -> list[str]:
    limits = CHANNEL_LIMITS[channel]
    if channel in _SINGLE_TEXT_CHANNELS:
        texts = {"body": " ".join(t.strip() for t in texts.values() if t.strip())}
    violations = []
    for name, limit in limits.items():
        text = texts.get(name, "").strip()
        if "max_items" in limit:
            tags = hashtag_list(text)
            if channel == "social_post":
                tags += re.findall(r"#\w+", texts.get("body", ""))
            if len(tags) > limit["max_items"]:
                violations.append(f"{len(tags)} hashtags; {channel} allows at most {limit['max_items']}")
            continue
        if not text and limit.get("min_chars"):
            violations.append(f"{name} is required for {channel}")
        elif len(text) < limit.get("min_chars", 0):
            violations.append(
                f"{name} is {len(text)} characters; {channel} needs at least {limit['min_chars']}"
            )
        elif len(text) > limit.get("max_chars", len(text)):
            violations.append(
                f"{name} is {len(text)} characters; {channel} allows at most {limit['max_chars']}"
            )
    return violations
