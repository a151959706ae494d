"""Degenerate output: placeholders, template or markup residue, unfinished sentences, shouting, repeated
words and phrases, prompt echo and repeated hashtags; and the corpus diversity measures of the campaign
benchmark (``distinct_n``, ``duplicate_rate``), which count the same word n-grams."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from ml.engine.verification import placeholders, repetitions, unfinished

from .channels import hashtag_list

_RESIDUE = re.compile(
    r"<\|[^|>\n]{1,40}\|>|</?s>|\[/?INST\]|<</?SYS>>|(?im:^\s*(?:assistant|user|system)\s*:)"
    r"|(?i:###\s*(?:instruction|response|input))"
    r"|</?(?:p|div|span|br|b|i|em|strong|a|ul|li|h[1-6])(?:\s[^<>]{0,80})?/?>|```|\*\*"
)
# Long-form bodies must end a sentence; titles, subjects, headlines, SMS and social posts need only not stop
# on a word that cannot end one ("with", "the").
_FULL_STOP_FIELDS = {"body"}
_NO_FULL_STOP_CHANNELS = {"ad_headline", "sms", "social_post"}


def _degenerate(text: str, field_name: str, prompt: str, channel: str = "") -> list[str]:
    problems = []
    holes = list(dict.fromkeys(text[a:b] for a, b in placeholders(text)))
    if holes:
        problems.append(f"placeholder left in {field_name}: " + ", ".join(repr(h) for h in holes[:3]))
    residue = list(dict.fromkeys(m.group().strip() for m in _RESIDUE.finditer(text)))
    if residue:
        problems.append(
            f"template or markup left in {field_name}: " + ", ".join(repr(r) for r in residue[:3])
        )
    if field_name != "hashtags":
        needs_stop = field_name in _FULL_STOP_FIELDS and channel not in _NO_FULL_STOP_CHANNELS
        tail = unfinished(text, needs_full_stop=needs_stop)
        if tail:
            problems.append(f"{field_name} ends mid-sentence: {tail!r}")
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 20 and sum(c.isupper() for c in letters) > 0.6 * len(letters):
        problems.append(f"{field_name} is mostly in capital letters")
    words = _words(text)
    repeated = [text[a:b] for a, b in repetitions(text)]
    if repeated:
        problems.append(f"repeated words in {field_name}: " + ", ".join(repr(r) for r in repeated[:3]))
    counts = Counter(_ngrams(words, 4))
    if counts and not repeated:
        gram, count = counts.most_common(1)[0]
        if count >= 3:
            problems.append(f"repeated phrase in {field_name}: {' '.join(gram)!r} {count} times")
    if prompt and len(words) >= 8 and field_name not in ("title", "subject"):  # a title may repeat the name
        grams = _ngrams(words, 5)
        prompt_grams = set(_ngrams(_words(prompt), 5))
        share = sum(g in prompt_grams for g in grams) / len(grams)
        if share >= 0.6:
            problems.append(f"{field_name} echoes the prompt ({share:.0%} of its 5-word sequences)")
    if field_name == "hashtags":
        tags = [t.lower() for t in hashtag_list(text)]
        duplicates = sorted({t for t in tags if tags.count(t) > 1})
        if duplicates:
            problems.append("repeated hashtags: " + ", ".join(duplicates))
    return problems


def distinct_n(texts: Iterable[str], n: int = 2) -> float:
    """Corpus-level distinct-n: unique word n-grams over all n-grams in ``texts`` (0.0 when there are none)."""
    grams = [g for t in texts for g in _ngrams(_words(t), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def duplicate_rate(texts: Iterable[str]) -> float:
    """Share of texts that repeat an earlier one, ignoring case, punctuation and spacing."""
    keys = [" ".join(_words(t)) for t in texts]
    return (len(keys) - len(set(keys))) / len(keys) if keys else 0.0


def _words(text: str) -> list[str]:
    return re.findall(r"[#\w]+(?:['’]\w+)?", text.lower())


def _ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
