"""A brand voice's "never" rules, checked. The merchant writes rules in their own words in the voice's
"don't" list; those this module understands become checks (the rest still go to the model in the prompt):

- punctuation and form: exclamation marks, question marks, emoji, hashtags, ALL CAPS, ellipses;
- "mention"/"use"/"say"/"name" followed by quoted words ('Never say "cheap"') bans those words;
- other shops or websites, competitors, retailers: any retailer name or link;
- prices, discounts/sales/offers, urgency ("hurry", "limited time").

A rule's "don't" list entry may start with or without "never"/"don't"/"no" ("Use exclamation marks" in a
don't list means: never use them). Banned words are matched as whole words (also plural or possessive).
Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ml.engine.verification.vocabulary import RETAILERS

_EMOJI = re.compile(r"[\U0001F000-\U0010FFFF\u2600-\u27BF]")
_CHECKS: tuple[tuple[re.Pattern, str, re.Pattern], ...] = (
    (re.compile(r"(?i)exclamation|\"!\"|'!'"), "exclamation marks", re.compile(r"!")),
    (re.compile(r"(?i)question mark"), "question marks", re.compile(r"\?")),
    (re.compile(r"(?i)emoji|emoticon|smiley"), "emoji", _EMOJI),
    (re.compile(r"(?i)hashtag"), "hashtags", re.compile(r"#\w+")),
    (
        re.compile(r"(?i)all caps|all-caps|capital letters|uppercase|shout"),
        "words in capitals",
        re.compile(r"\b[A-Z]{4,}\b"),
    ),
    (re.compile(r"(?i)ellips|\.\.\."), "ellipses", re.compile(r"\.\.\.|…")),
    (
        re.compile(
            r"(?i)\b(?:other (?:shops?|stores?|retailers?|websites?|sites?)|competitor|retailer|marketplace)"
        ),
        "other shops or websites",
        re.compile(
            r"(?i)\b(?:" + "|".join(re.escape(r) for r in sorted(RETAILERS)) + r")\b|https?://|www\.|\.com\b"
        ),
    ),
    (
        re.compile(r"(?i)\b(?:discount|sale|offer|deal|promotion|coupon)"),
        "discounts or offers",
        re.compile(r"(?i)\b(?:discount\w*|on sale|sale price|offers?|deals?|coupons?|promo\w*|% off|off\b)"),
    ),
    (
        re.compile(r"(?i)\burgen|pressure|hurry|limited time|scarcity"),
        "urgency",
        re.compile(
            r"(?i)\b(?:hurry|limited time|today only|last chance|ends soon|act now|before it'?s gone|"
            r"while stocks last|selling fast)\b"
        ),
    ),
)
# An opening quote never follows a letter: the apostrophe of "Don't" starts no quoted word.
_QUOTED = re.compile(r"(?<!\w)[\"“']([^\"”']{1,40})[\"”']")
_WORD_RULE = re.compile(r"(?i)\b(?:say|use|mention|write|call\w*|name)\b")


def voice_rules(dont_list: Iterable[str], banned_words: Iterable[str] = ()) -> list[tuple[str, re.Pattern]]:
    """(what the rule forbids, pattern) for every rule understood in the don't list, plus the banned words."""
    rules: list[tuple[str, re.Pattern]] = []
    for entry in dont_list:
        entry = str(entry or "")
        for trigger, label, pattern in _CHECKS:
            if trigger.search(entry):
                rules.append((label, pattern))
        if _WORD_RULE.search(entry):
            for quoted in _QUOTED.findall(entry):
                rules.append((f'"{quoted}"', _word_pattern(quoted)))
    for word in dict.fromkeys(w.strip() for w in banned_words if w and str(w).strip()):
        rules.append((word, _word_pattern(word)))
    return rules


def _word_pattern(word: str) -> re.Pattern:
    """Whole words or phrases, any case, also as plural or possessive ("deal" catches "deals" but "cheap"
    does not catch "cheapest": a brand that bans that spells it out)."""
    body = r"\s+".join(re.escape(part) for part in word.split())
    return re.compile(rf"(?<![\w]){body}(?:e?s|'s|’s)?(?!\w)", re.IGNORECASE)


def voice_violations(texts: Sequence[str], rules: Sequence[tuple[str, re.Pattern]]) -> list[str]:
    """What the texts do that the voice forbids, each once, in rule order."""
    joined = "\n".join(texts)
    found = []
    for label, pattern in rules:
        m = pattern.search(joined)
        if m and label not in found:
            found.append(label)
    return found
