"""Defects of the text itself, whatever the facts: placeholders left in, unfinished sentences, repeated words
and sentences. Standard library only.

- placeholders(text): "[insert picture image]", "[Your Name]", "{product}", "<brand>", "insert link here",
  "Your Name", "XXX", "TBD", "lorem ipsum".
- unfinished(text, needs_full_stop): a text that ends mid-sentence: on a word that cannot end one ("with",
  "and", "the", "your"), on a comma or dash, or (for running text) without closing punctuation.
- trim_unfinished(text): the text up to its last complete sentence ("" when there is none): generation cuts
  a reply that ran out of tokens there rather than publish half a sentence.
- repetitions(text): a word said twice in a row ("Men's Men's"), a short run repeated ("buy now buy now"),
  or the same sentence twice.
"""

from __future__ import annotations

import re

from ml.engine.verification.statements import split_sentences
from ml.engine.verification.vocabulary import FUNCTION_WORDS

_PLACEHOLDER = re.compile(
    r"\[[^\]\n]{0,60}\]"  # [anything in square brackets]
    r"|\{\{?[^{}\n]{0,40}\}?\}"  # {product}, {{ name }}
    r"|<(?!/?(?:br|b|i|em|strong)\b)[A-Za-z][A-Za-z _-]{0,30}>"  # <brand>, <insert link>
    r"|(?i:\b(?:insert|add|paste|enter|put)\s+(?:your\s+|the\s+|a\s+|an\s+)?"
    r"(?:link|url|name|e-?mail|image|picture|photo|address|phone|number|code|text|details?|logo|here)\b)"
    r"|(?i:\byour\s+(?:name|company|e-?mail(?:\s+address)?|phone(?:\s+number)?|address|website|signature)\b)"
    r"|(?i:\b(?:link|url|image|picture|photo)\s+here\b)"
    r"|\bX{3,}\b|\bTBD\b|(?i:lorem ipsum)|_{3,}|\.{4,}"
)
_DANGLING_END = frozenset(
    "a an the and or but with for of to in on at by from as your our my their its this that these those "
    "is are was were be will can has have had which who whose while when if than into onto &".split()
)
_CLOSERS = ".!?…)\"'”’»"


def placeholders(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _PLACEHOLDER.finditer(text)]


def _strip_trailing_tags(text: str) -> str:
    """Running text without the hashtags, emoji and links it may end with."""
    text = text.rstrip()
    while True:
        stripped = re.sub(
            r"(?:\s*(?:#\w+|https?://\S+|[\U0001F000-\U0010FFFF\u2600-\u27BF\uFE0F\u200d]+))+$", "", text
        ).rstrip()
        if stripped == text:
            return text
        text = stripped


def unfinished(text: str, *, needs_full_stop: bool) -> str:
    """The unfinished end of ``text`` (its last few words), or "" when it ends properly."""
    body = _strip_trailing_tags(text)
    if not body:
        return ""
    words = re.findall(r"[\w'’&-]+", body)
    last = words[-1].lower() if words else ""
    tail = " ".join(body.split()[-4:])
    if body[-1] in ",;:-–—(/" or (last in _DANGLING_END and body[-1] not in _CLOSERS):
        return tail
    if needs_full_stop and body[-1] not in _CLOSERS:
        return tail
    return ""


def trim_unfinished(text: str) -> str:
    """``text`` up to the end of its last complete sentence (paragraph breaks kept); "" when none is complete."""
    body = text.rstrip()
    if not unfinished(body, needs_full_stop=True):
        return body
    cut = max((m.end() for m in re.finditer(r"[.!?…][\"')”’»]*(?=\s|$)", body)), default=0)
    return body[:cut].rstrip()


def repetitions(text: str) -> list[tuple[int, int]]:
    found = []
    words = [(m.start(), m.end(), m.group().lower()) for m in re.finditer(r"[A-Za-z][\w'’-]*", text)]
    i = 0
    while i < len(words):
        matched = False
        for size in (1, 2, 3):
            unit = [w for _, _, w in words[i : i + size]]
            nxt = [w for _, _, w in words[i + size : i + 2 * size]]
            if len(unit) == size and unit == nxt and (size > 1 or len(unit[0]) > 1):
                thrice = [w for _, _, w in words[i + 2 * size : i + 3 * size]] == unit
                if size == 1 and unit[0] in FUNCTION_WORDS and not thrice:  # "so so good" is English
                    continue
                gap = text[words[i + size - 1][1] : words[i + size][0]]
                if "\n" in gap or re.search(r"[.!?]", gap):
                    continue
                end = i + 2 * size
                while [w for _, _, w in words[end : end + size]] == unit:
                    end += size
                found.append((words[i][0], words[end - 1][1]))
                i = end
                matched = True
                break
        if not matched:
            i += 1
    seen: dict[str, tuple[int, int]] = {}
    for start, end in split_sentences(text):
        key = " ".join(re.findall(r"\w+", text[start:end].lower()))
        if len(key.split()) >= 4:
            if key in seen:
                found.append((start, end))
            seen.setdefault(key, (start, end))
    return found
