"""Is every statement backed? Word by word, sentence by sentence, against the evidence (product facts or
retrieved sources).

A content word of the text is backed when the evidence has it (in any inflection: "dresses" ~ "dress",
"printed" ~ "print"), when it is grammar (FUNCTION_WORDS) or when it is generic marketing language
(GENERIC_MARKETING, documented in vocabulary.py). Colours are backed by the same shade or, for a family name,
by any shade of the family ("navy" backs "blue"); audience words ("men's", "for her") by the audience the
evidence names. Everything else is *unverified*: adjacent unverified words form one finding, named by what
they are (a wrong colour, a product type, a retailer, a name, an audience, or a plain term).

Contradictions: a sentence that shares its subject with an evidence sentence (two or more content words in
common) but uses the opposite word of a polar pair ("hot" where the source says "cold", "free" where it says
"fee") or the opposite polarity (the source says "not"/"never"/"no" and the text does not, or the other way
round).

Tokens with digits, and spans the caller has already judged (prices, measurements, materials, claim phrases,
links), are skipped here. Standard library only; the web process runs this after every edit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ml.engine.verification.vocabulary import (
    AMBIGUOUS_COLOURS,
    AUDIENCE,
    AUDIENCE_BACKS,
    COLOUR_FAMILIES,
    COLOURS,
    FUNCTION_WORDS,
    GENERIC_MARKETING,
    NEGATIONS,
    NUMBER_WORDS,
    POLAR_PAIRS,
    PRODUCT_TYPES,
    RETAILERS,
)

_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*(?:-[A-Za-z]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n+")
_COLOUR_CONTEXT = frozenset(
    "colour color colours colors shade shades hue hues tone tones coloured colored".split()
)
# Most specific first: a group of unverified words is named by the first of these kinds it contains.
_KIND_ORDER = ("retailer", "product_type", "colour", "audience", "name", "number", "term")


@dataclass(frozen=True)
class Finding:
    """An unverified statement part: ``text`` is ``source[start:end]``."""

    kind: str
    start: int
    end: int
    text: str
    reason: str


def forms(word: str) -> set[str]:
    """The word and its likely stems ("dresses" -> dress, "printed" -> print/printe, "styling" -> styl/style);
    two words match when their forms overlap. Crude on purpose: the same function runs on both sides."""
    word = word.lower().replace("’", "'")
    word = re.sub(r"'s?$", "", word)
    out = {word}
    for suffix, repl in (
        ("ies", "y"),
        ("es", ""),
        ("s", ""),
        ("ing", ""),
        ("ing", "e"),
        ("ed", ""),
        ("ed", "e"),
        ("d", ""),
        ("ly", ""),
        ("er", ""),
        ("ers", ""),
        ("est", ""),
        ("ness", ""),
        ("ful", ""),
        ("able", ""),
        ("ible", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) + len(repl) >= 3:
            out.add(word[: len(word) - len(suffix)] + repl)
    return out


def _all_forms(words: Iterable[str]) -> frozenset[str]:
    return frozenset(f for w in words for f in forms(w))


_GENERIC_FORMS = _all_forms(GENERIC_MARKETING)
_FUNCTION_FORMS = frozenset(w.replace("’", "'") for w in FUNCTION_WORDS)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or line of ``text``."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if text[start : m.start()].strip():
            spans.append((start, m.start()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


class Evidence:
    """What a text may say: the words (with their forms), colours and audiences of the product facts or the
    retrieved sources, and their sentences (for contradictions)."""

    def __init__(self, texts: Sequence[str], *, extra_generic: frozenset[str] = frozenset()):
        """``extra_generic``: more words that need no evidence (chat's service language: "help", "order")."""
        self.extra_generic = _all_forms(extra_generic) if extra_generic else frozenset()
        joined = "\n".join(t for t in texts if t)
        # Scraped copy glues sentences together ("TSA lockOne handle"); split them so words are whole.
        joined = re.sub(r"(?<=[a-z]{2})(?=[A-Z][a-z])", " ", joined)
        self.text = joined
        words = [w.lower() for w in _WORD.findall(joined)]
        parts = [p for w in words for p in w.split("-") if p] + words
        self.forms = _all_forms(parts)
        # "t-shirt" in the facts backs "tshirt"; "off-white" backs "offwhite".
        self.forms |= _all_forms(w.replace("-", "") for w in words if "-" in w)
        self.numbers = {v for w in words if (v := NUMBER_WORDS.get(w)) is not None}
        self.numbers |= {int(n) for n in re.findall(r"(?<![\d.])\d{1,6}(?![\d.])", joined)}
        # Shades that are also ordinary words ("steel", "bottle", "sand") count only beside a colour word or
        # "colour:" ("sand" in "Colour: sand", "bottle green"), so a steel bottle does not back "blue".
        self.named_colours: list[str] = []
        for index, w in enumerate(words):
            if w not in COLOURS:
                continue
            if w in AMBIGUOUS_COLOURS:
                near = words[max(0, index - 2) : index] + words[index + 1 : index + 2]
                if not any(
                    n in _COLOUR_CONTEXT or (n in COLOURS and n not in AMBIGUOUS_COLOURS) for n in near
                ):
                    continue
            if w not in self.named_colours:
                self.named_colours.append(w)
        self.colours = set(self.named_colours)
        for family, shades in COLOUR_FAMILIES.items():
            if self.colours & set(shades):
                self.colours.add(family)
        self.audience: set[str] = set()
        for key, backed in AUDIENCE_BACKS.items():
            if key in self.forms or key.rstrip("s") in self.forms:
                self.audience.update(backed)
        self.sentences = [joined[a:b] for a, b in split_sentences(joined)]

    def backs(self, word: str) -> bool:
        lower = word.lower().replace("’", "'")
        if lower in _FUNCTION_FORMS:
            return True
        if lower in AUDIENCE or re.sub(r"'s?$", "", lower) in AUDIENCE:
            return bool(forms(lower) & self.audience) or bool(forms(lower) & self.forms)
        word_forms = forms(lower)
        if word_forms & self.forms:
            return True
        if "-" in lower:
            parts = [p for p in lower.split("-") if p]
            return all(self.backs(p) for p in parts) or bool(forms(lower.replace("-", "")) & self.forms)
        if lower in COLOURS and lower not in AMBIGUOUS_COLOURS:
            return lower in self.colours
        if lower in NUMBER_WORDS:
            return NUMBER_WORDS[lower] in self.numbers
        return bool(word_forms & _GENERIC_FORMS) or bool(word_forms & self.extra_generic)

    def audience_text(self) -> str:
        named = sorted(k for k in AUDIENCE_BACKS if k in self.audience)
        return ", ".join(named)


def unverified(
    text: str, evidence: Evidence, *, skip: Sequence[tuple[int, int]] = (), title_case: bool = False
) -> list[Finding]:
    """Findings for the words of ``text`` the evidence does not back. ``skip`` spans were judged by the caller;
    ``title_case`` (titles, subjects, headlines) stops capitals from naming a term a proper name."""
    sentence_starts = {a for a, _ in split_sentences(text)}
    words = []
    for m in _WORD.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in skip):
            continue
        if len(m.group().strip("'’")) < 2:
            continue
        # A word right after a digit is a unit or a code ("5G", "3XL"): the number checks judge it.
        if m.start() and text[m.start() - 1].isdigit():
            continue
        if m.group().startswith(("'", "’")):
            continue
        if m.start() and text[m.start() - 1] == "#":  # a hashtag: its words are checked one by one
            for start, end in _hashtag_words(m.group()):
                words.append((m.start() + start, m.start() + end, False))
            continue
        words.append((m.start(), m.end(), _is_sentence_start(text, m.start(), sentence_starts)))
    unbacked = []
    for index, (start, end, at_start) in enumerate(words):
        word = text[start:end]
        if _is_colour_use(text, words, index) and word.lower() in COLOURS:
            if word.lower() in evidence.colours or forms(word) & evidence.forms:
                continue
            unbacked.append((start, end, "colour"))
            continue
        if evidence.backs(word):
            continue
        parts = _camel_parts(word)
        if len(parts) > 1:  # glued words ("lockOne", "NorthWind"): each part on its own
            for part_start, part_end in parts:
                part = word[part_start:part_end]
                if not evidence.backs(part):
                    unbacked.append(
                        (
                            start + part_start,
                            start + part_end,
                            _kind(part, (at_start and part_start == 0) or title_case),
                        )
                    )
            continue
        unbacked.append((start, end, _kind(word, at_start or title_case)))
    return _group(text, unbacked, evidence)


def _hashtag_words(tag: str) -> list[tuple[int, int]]:
    """Spans of the words of a hashtag body: CamelCase and digits split ("SummerStyle" -> Summer, Style)."""
    return [
        (m.start(), m.end()) for m in re.finditer(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", tag) if len(m.group()) > 1
    ] or [(0, len(tag))]


def _camel_parts(word: str) -> list[tuple[int, int]]:
    """Spans of the parts of a glued word ("lockOne" -> lock, One); one span for an ordinary word."""
    if not re.search(r"[a-z][A-Z]", word):
        return [(0, len(word))]
    return [(m.start(), m.end()) for m in re.finditer(r"[A-Z]?[a-z'’]+|[A-Z]+(?![a-z])", word)]


def _is_sentence_start(text: str, position: int, starts: set[int]) -> bool:
    before = text[:position].rstrip(" \"'“‘(-–—*")
    return position in starts or not before or before[-1] in ".!?:\n…" or before.endswith(("\n", "|"))


def _is_colour_use(text: str, words: list[tuple[int, int, bool]], index: int) -> bool:
    start, end, _ = words[index]
    word = text[start:end].lower()
    if word not in COLOURS:
        return False
    if word not in AMBIGUOUS_COLOURS:
        return True
    neighbours = [
        text[a:b].lower() for a, b, _ in words[max(0, index - 1) : index + 2] if (a, b) != (start, end)
    ]
    return any(n in _COLOUR_CONTEXT or (n in COLOURS and n not in AMBIGUOUS_COLOURS) for n in neighbours)


def _kind(word: str, capital_expected: bool) -> str:
    lower = re.sub(r"['’]s?$", "", word.lower())
    if lower in RETAILERS:
        return "retailer"
    if lower in PRODUCT_TYPES or word.lower() in PRODUCT_TYPES:
        return "product_type"
    if lower in AUDIENCE or word.lower() in AUDIENCE:
        return "audience"
    if lower in COLOURS and lower not in AMBIGUOUS_COLOURS:
        return "colour"
    if lower in NUMBER_WORDS:
        return "number"
    if not capital_expected and word[:1].isupper():
        return "name"
    return "term"


_JOINERS = re.compile(r"^(?:[\s\-&']|['’]s)*$")
_ABBREVIATIONS = frozenset("dr mr mrs ms st prof sr jr".split())


def _group(text: str, unbacked: list[tuple[int, int, str]], evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    group: list[tuple[int, int, str]] = []

    def close():
        if not group:
            return
        start, end = group[0][0], group[-1][1]
        kinds = {k for _, _, k in group}
        kind = next(k for k in _KIND_ORDER if k in kinds)
        findings.append(Finding(kind, start, end, text[start:end], _reason(kind, evidence)))
        group.clear()

    for item in unbacked:
        if group:
            gap = text[group[-1][1] : item[0]]
            previous = text[group[-1][0] : group[-1][1]].lower()
            joined = bool(_JOINERS.match(gap)) and "\n" not in gap
            if gap.startswith(".") and previous in _ABBREVIATIONS and _JOINERS.match(gap[1:]):
                joined = True
            if not joined:
                close()
        group.append(item)
    close()
    return findings


def _reason(kind: str, evidence: Evidence) -> str:
    if kind == "colour":
        colours = evidence.named_colours
        return "not a colour of this product" + (f" (it is {', '.join(colours[:4])})" if colours else "")
    if kind == "audience":
        audience = evidence.audience_text()
        return "not who the product is for" + (f" (it is for {audience})" if audience else "")
    if kind == "product_type":
        return "the product data does not call it this"
    if kind == "retailer":
        return "names a shop or site the product data does not"
    if kind == "name":
        return "a name the product data does not give"
    if kind == "number":
        return "this number is not in the product data"
    return "not backed by the product data"


# --- contradictions ----------------------------------------------------------------------------------------


def _content(words: Iterable[str]) -> set[str]:
    return {w for w in words if w not in FUNCTION_WORDS and w not in NEGATIONS}


def _specific(words: Iterable[str]) -> set[str]:
    return {w for w in words if not (forms(w) & _GENERIC_FORMS)}


def contradictions(text: str, evidence: Evidence) -> list[Finding]:
    """Sentences of ``text`` that say the opposite of an evidence sentence about the same thing."""
    findings = []
    source_sentences = []
    for sentence in evidence.sentences:
        words = [w.lower() for w in _WORD.findall(sentence)]
        source_sentences.append((set(words), _content(words), _negated(sentence)))
    for start, end in split_sentences(text):
        sentence = text[start:end]
        words = [w.lower() for w in _WORD.findall(sentence)]
        content = _content(words)
        if len(content) < 2:
            continue
        negated = _negated(sentence)
        for source_words, source_content, source_negated in source_sentences:
            shared = content & source_content
            if len(shared) < 2 or not _specific(shared):  # about the same thing, not just both "great"
                continue
            reason = ""
            for a, b in POLAR_PAIRS:
                for x, y in ((a, b), (b, a)):
                    if x in words and x not in source_words and y in source_words:
                        reason = f'says "{x}" where the source says "{y}"'
                        break
                if reason:
                    break
            if not reason and negated != source_negated and len(shared) >= max(2, int(0.6 * len(content))):
                reason = "the source says the opposite" if source_negated else "the source does not say no"
            if reason:
                findings.append(Finding("contradiction", start, end, sentence, reason))
                break
    return findings


def _negated(sentence: str) -> bool:
    words = {w.lower().replace("’", "'") for w in re.findall(r"[A-Za-z'’]+", sentence)}
    return bool(words & NEGATIONS) or bool(re.search(r"(?i)\bnon-", sentence))
