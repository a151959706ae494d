"""Extraction: every fact-like span of a text (links, the worked example's name, digit claims, prices,
percentages, measurements, sizes, bare numbers, then materials, claim phrases, origins and compositions),
each normalised into a ``_Found``. Product data and copy go through the same extractor."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .phrases import (
    _CLAIMS,
    _IMITABLE,
    _IMITATION_WORDS,
    _MADE_IN,
    _MADE_OF,
    _MADE_OF_ENDS,
    _MADE_OF_FIGURATIVE,
    _MADE_OF_FILLERS,
    _MATERIALS,
)
from .units import (
    _AMOUNT,
    _BARE_NUMBER,
    _CURRENCY_MARKS,
    _MEASUREMENT,
    _NUM,
    _PERCENT,
    _SIZE,
    _group_numbers,
    _spaced,
    _to_decimal,
    _unit_of,
)

# The fictional product of the worked example in ml.engine.prompts. Copy that names it (when the real product's
# data does not) has copied the example instead of describing the product.
EXAMPLE_PRODUCT_NAME = "Nova"
_EXAMPLE_RE = re.compile(rf"(?<![A-Za-z0-9])(?i:{EXAMPLE_PRODUCT_NAME})(?![a-z0-9])")
_URL = re.compile(r"(?i:https?://|www\.)[^\s<>\"')\]]*[^\s<>\"')\].,;:!?]")

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_CAMEL_PART = re.compile(r"[A-Z]*[^A-Z]+|[A-Z]+")  # "lockOne" -> "lock", "One"; "BPA" stays whole
_GAP = re.compile(r"[\s-]*")


def _tokens(text: str) -> list[tuple[str, int, int]]:
    """Words with their spans; words glued by scraping ("cottonMachine") come apart."""
    tokens = []
    for m in _TOKEN.finditer(text):
        for part in _CAMEL_PART.finditer(m.group()):
            tokens.append((part.group(), m.start() + part.start(), m.start() + part.end()))
    return tokens


class _PhraseMatcher:
    """Finds the phrases of a {canonical: aliases} table as whole words, longest first. Words may be separated
    by spaces or hyphens ("water-resistant" == "water resistant"); one-word aliases in capitals (PVC, GOTS) are
    acronyms and match in capitals only, the rest in any case."""

    def __init__(self, table: Mapping[str, Sequence[str]]):
        self._by_first: dict[str, list[tuple[tuple[str, ...], str, bool]]] = {}
        for canonical, aliases in table.items():
            for alias in aliases:
                words = tuple(w.lower() for w in _TOKEN.findall(alias))
                acronym = len(words) == 1 and alias.isupper()
                self._by_first.setdefault(words[0], []).append((words, canonical, acronym))
        for candidates in self._by_first.values():
            candidates.sort(key=lambda c: len(c[0]), reverse=True)

    def finditer(self, text: str, tokens: list[tuple[str, int, int]]) -> list[tuple[int, int, str]]:
        found, i = [], 0
        while i < len(tokens):
            match = self._match_at(text, tokens, i)
            if match:
                length, canonical = match
                found.append((tokens[i][1], tokens[i + length - 1][2], canonical))
                i += length
            else:
                i += 1
        return found

    def _match_at(self, text, tokens, i) -> tuple[int, str] | None:
        for words, canonical, acronym in self._by_first.get(tokens[i][0].lower(), ()):
            window = tokens[i : i + len(words)]
            if len(window) < len(words) or [t[0].lower() for t in window] != list(words):
                continue
            if acronym and not window[0][0].isupper():
                continue
            if all(_GAP.fullmatch(text[a[2] : b[1]]) for a, b in itertools.pairwise(window)):
                return len(words), canonical
        return None


_MATERIAL_MATCHER = _PhraseMatcher(
    {
        **_MATERIALS,
        **{f"faux {m}": tuple(f"{q} {m}" for q in _IMITATION_WORDS) for m in _IMITABLE},
    }
)
_CLAIM_MATCHER = _PhraseMatcher(
    {k: tuple(a for a in v if not re.search(r"[\d#]", a)) for k, v in _CLAIMS.items()}
)
# Claims written with digits or "#" ("#1", "5-star", "buy 1 get 1") go before numbers are read.
_DIGIT_CLAIMS = sorted(
    ((alias, name) for name, aliases in _CLAIMS.items() for alias in aliases if re.search(r"[\d#]", alias)),
    key=lambda pair: len(pair[0]),
    reverse=True,
)
_DIGIT_CLAIM_RE = re.compile(
    "|".join(
        rf"(?P<c{i}>(?<![A-Za-z0-9]){_spaced(alias)}(?![A-Za-z0-9]))"
        for i, (alias, _) in enumerate(_DIGIT_CLAIMS)
    ),
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Found:
    kind: str
    start: int
    end: int
    # Normalised, its type set by ``kind`` (Any: mypy cannot narrow it by a string tag): price
    # (Decimal | None, currencies); percentage [Decimal | None]; measurement [(Decimal | None, dimension, unit
    # size)]; number Decimal | None; composition tuple[str, ...]; every other kind a str.
    value: Any
    extra: str = ""  # "discount" for "% off"


def _extract(text: str) -> list[_Found]:
    """Every fact-like span in ``text``; numeric spans never overlap (a price is not also a bare number)."""
    found: list[_Found] = []
    masked = text

    def take(pattern: re.Pattern, make) -> None:
        nonlocal masked
        for m in list(pattern.finditer(masked)):
            found.append(make(m))
            masked = masked[: m.start()] + " " * (m.end() - m.start()) + masked[m.end() :]

    take(_URL, lambda m: _Found("link", m.start(), m.end(), m.group().lower()))
    take(_EXAMPLE_RE, lambda m: _Found("example", m.start(), m.end(), m.group().lower()))
    take(
        _DIGIT_CLAIM_RE, lambda m: _Found("claim", m.start(), m.end(), _DIGIT_CLAIMS[int(m.lastgroup[1:])][1])
    )
    take(_AMOUNT, _amount)
    take(
        _PERCENT,
        lambda m: _Found(
            "percentage",
            m.start(),
            m.end(),
            [_to_decimal(n) for n in re.findall(_NUM, m.group())],
            "discount" if m.group("off") else "",
        ),
    )
    take(_MEASUREMENT, _measurement)
    take(_SIZE, lambda m: _Found("size", m.start(), m.end(), m.group()))
    take(_BARE_NUMBER, lambda m: _Found("number", m.start(), m.end(), _to_decimal(m.group())))
    words = masked
    tokens = _tokens(words)
    for start, end, name in _MATERIAL_MATCHER.finditer(words, tokens):
        if not re.match(r"[\s-]*(?i:free)(?![a-z])", words[end:]):  # "plastic-free" is a claim, not plastic
            found.append(_Found("material", start, end, name))
    for start, end, name in _CLAIM_MATCHER.finditer(words, tokens):
        found.append(_Found("claim", start, end, name))
    for m in _MADE_IN.finditer(words):
        found.append(_Found("origin", m.start(), m.end(), m.group("place").lower()))
    taken = [(f.start, f.end) for f in found if f.kind == "material"]
    for m in _MADE_OF.finditer(words):
        phrase = []
        for word in m.group("what").split():
            if word.lower() in _MADE_OF_ENDS:
                break
            phrase.append(word)
        content = tuple(w.lower().strip("'-") for w in phrase if w.lower() not in _MADE_OF_FILLERS)
        if content and content[0] in _MADE_OF_FIGURATIVE:
            continue
        start = m.start("what")
        end = start + len(" ".join(phrase)) if phrase else m.end()
        if content and not any(a < end and start < b for a, b in taken):  # a known material is checked as one
            found.append(_Found("composition", start, end, content))
    return sorted(found, key=lambda f: (f.start, f.end))


def _amount(m: re.Match) -> _Found:
    mark = (m.group("pcur") or m.group("scur")).strip()
    currencies = _CURRENCY_MARKS.get(mark.lower()) or frozenset({mark.upper()})
    value = _to_decimal(m.group("pnum") or m.group("snum"))
    return _Found("price", m.start(), m.end(), (value, currencies))


def _measurement(m: re.Match) -> _Found:
    if m.group("packof"):
        return _Found("measurement", m.start(), m.end(), [(_to_decimal(m.group("packof")), "pack", 1.0)])
    dimension, size = _unit_of(m.group("unit"))
    values = [(v, dimension, size) for v in _group_numbers(m.group("group"))]
    return _Found("measurement", m.start(), m.end(), values)
