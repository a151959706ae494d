"""Grounding checks for generated marketing copy: is every fact in the text backed by the product's data?

Standard library only (the web process re-checks a piece after every edit). Public API:

    check_copy(fields, product, *, channel, banned_words=(), prompt="") -> GroundingReport
    GroundingReport(unsupported, channel_violations, degenerate, banned) (+ .passed, .approvable,
        .to_dict(), .from_dict()); Claim(text, kind, field, start, end, reason)
    CHANNELS, CHANNEL_FIELDS, CHANNEL_LIMITS, CLAIM_KINDS, EXAMPLE_PRODUCT_NAME, hashtag_list(text)
    distinct_n(texts, n=2), duplicate_rate(texts) for the campaign quality benchmark

What counts as supported. The product's facts are its title, brand, category, description, attribute keys
and values, price and currency (not SKU, stock or URL: a model repeating a stock level or an id is making a
claim that goes stale). The text and the facts go through the same extractors, so a fact is supported when
the same normalised fact is found in the product data:
- price (a currency amount): equal to the product price (24.9 == 24.90; 25 == 25.00, but 25 != 24.90) in a
  compatible currency ($ is any dollar, Rs/INR/₹ are rupees), or equal to an amount the data itself states;
- percentage: the same percentage appears in the data ("100% cotton"); "20% off" is reported as a discount;
- measurement (a number with a unit; ranges and "30 x 20 cm" give every number the unit; "pack of 3",
  "3-pack"): the same quantity in the data, in any unit of the same dimension ("0.75 l" == "750 ml",
  "24h" == "24 hours" == "1 day", within 1.5% across units); an attribute like {"capacity_ml": "750"} counts;
- number (anything else with digits, including ordinals and digits inside codes like "A4"): the number
  appears anywhere in the data. Spelled-out numbers count only next to a unit ("two-year", "one litre");
- letter sizes (XS, XL, XXL, 3XL; not the ambiguous S/M/L) must appear in the data;
- material: the same material is named in the data; a general name is backed by a specific one ("steel" by
  "stainless steel", "wood" by "oak", "wool" by "merino") but not the other way, and "leather" is not backed
  by "faux/PU/vegan leather" ("art silk" is not silk); for "made from/of <phrase>" outside the known materials
  ("made from sea salt"), every content word of the phrase must be in the data;
- claim-like phrases (waterproof, organic, vegan, recycled, BPA-free, warranty, guarantee, free shipping,
  discounts and sales, best-selling, #1, award-winning, made in <country>, ...): the same claim, or a stronger
  one that implies it (waterproof backs water-resistant, a lifetime warranty backs warranty), is in the data;
- links: only the product's own URL or one the data states;
- the name of the prompts' worked example product (EXAMPLE_PRODUCT_NAME) is reported as copied from it.
Degenerate output and channel limits are listed separately; see check_copy.
"""

from __future__ import annotations

import html
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ml.engine.verification import (
    Evidence,
    contradictions,
    placeholders,
    repetitions,
    unfinished,
    unverified,
    voice_rules,
    voice_violations,
)
from ml.engine.verification.statements import _GENERIC_FORMS, forms
from ml.engine.verification.vocabulary import FUNCTION_WORDS

CHANNELS = ("product_description", "email", "sms", "social_post", "ad_headline")
# Kinds of the fact extractors below, then of the statement verifier (ml.engine.verification).
FACT_KINDS = ("price", "number", "percentage", "measurement", "material", "claim")
STATEMENT_KINDS = ("term", "colour", "product_type", "audience", "name", "retailer", "contradiction")
CLAIM_KINDS = FACT_KINDS + STATEMENT_KINDS

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

# The fictional product of the worked example in ml.engine.prompts. Copy that names it (when the real product's
# data does not) has copied the example instead of describing the product.
EXAMPLE_PRODUCT_NAME = "Nova"


@dataclass(frozen=True)
class Claim:
    """An unsupported fact: ``text`` is ``fields[field][start:end]``."""

    text: str
    kind: str
    field: str
    start: int
    end: int
    reason: str


@dataclass
class GroundingReport:
    unsupported: list[Claim] = field(default_factory=list)
    channel_violations: list[str] = field(default_factory=list)
    degenerate: list[str] = field(default_factory=list)
    banned: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (self.unsupported or self.channel_violations or self.degenerate or self.banned)

    @property
    def approvable(self) -> bool:
        """Only a piece with no finding at all: a placeholder, a cut-off sentence or a repeated word is
        something a shopper would see, as much as an invented fact. An edit re-runs the check."""
        return self.passed

    def to_dict(self) -> dict:
        """JSON-safe; ``passed`` and ``approvable`` are included for filtering and ignored by from_dict."""
        return {
            "unsupported": [asdict(c) for c in self.unsupported],
            "channel_violations": list(self.channel_violations),
            "degenerate": list(self.degenerate),
            "banned": list(self.banned),
            "passed": self.passed,
            "approvable": self.approvable,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> GroundingReport:
        return cls(
            unsupported=[
                Claim(**{k: c[k] for k in ("text", "kind", "field", "start", "end", "reason")})
                for c in data.get("unsupported", ())
            ],
            channel_violations=list(data.get("channel_violations", ())),
            degenerate=list(data.get("degenerate", ())),
            banned=list(data.get("banned", ())),
        )


def check_copy(
    fields: Mapping[str, str],
    product: Mapping,
    *,
    channel: str,
    banned_words: Sequence[str] = (),
    prompt: str = "",
    brand_voice: Mapping | None = None,
) -> GroundingReport:
    """Check one piece of copy. ``fields`` maps field names (title, subject, body, hashtags) to text;
    ``product`` is a plain dict (sku, title, brand, category, price, currency, attributes, description, ...).
    ``prompt`` (the text the model was given) enables the prompt-echo check; ``brand_voice`` (its "dont"
    list) adds the voice's "never" rules to ``banned_words``.

    Every sentence is checked two ways: the fact extractors below (prices, numbers, percentages, measurements,
    sizes, materials, claim phrases, links, origins) and, for every other content word, the statement verifier
    (ml.engine.verification): the word must be in the product facts or in the documented generic-marketing
    vocabulary, colours and audiences must be the product's, and no sentence may contradict a fact."""
    return CopyChecker(product, banned_words=banned_words, brand_voice=brand_voice).check(
        fields, channel=channel, prompt=prompt
    )


class CopyChecker:
    """check_copy for many texts about one product: the facts are read once."""

    def __init__(
        self, product: Mapping, *, banned_words: Sequence[str] = (), brand_voice: Mapping | None = None
    ):
        product_text = _product_text(product)
        name = f"{product.get('title') or ''} {product.get('category') or ''}"
        self.name_words = [
            w.lower()
            for w in re.findall(r"[A-Za-z]{3,}", name)
            if w.lower() not in FUNCTION_WORDS and not forms(w) & _GENERIC_FORMS
        ]
        self.facts = _Facts.of(product, product_text)
        self.evidence = Evidence([product_text])
        self.rules = voice_rules((brand_voice or {}).get("dont") or (), banned_words)

    def check(self, fields: Mapping[str, str], *, channel: str, prompt: str = "") -> GroundingReport:
        if channel not in CHANNEL_LIMITS:
            raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
        texts = {name: str(value) for name, value in fields.items() if value is not None}
        report = GroundingReport()
        for name, text in texts.items():
            report.unsupported.extend(self.claims(text, name, channel))
            report.degenerate.extend(_degenerate(text, name, prompt, channel))
        report.unsupported.sort(
            key=lambda c: (list(texts).index(c.field) if c.field in texts else 0, c.start)
        )
        report.channel_violations = _channel_violations(texts, channel)
        if not any(t.strip() for t in texts.values()):
            report.degenerate.insert(0, "the copy is empty")
        elif texts.get("body", "").strip() and not self.names_the_product(texts["body"]):
            report.degenerate.append("body never says what the product is (no word of its title or category)")
        report.banned = voice_violations(list(texts.values()), self.rules)
        return report

    def names_the_product(self, text: str) -> bool:
        """Copy that mentions no content word of the product's title or category is not about the product
        ("The way you look at it makes me feel totally fine."), however true each word of it is."""
        words = {f for w in re.findall(r"[A-Za-z]{3,}", text) for f in forms(w)}
        return not self.name_words or any(forms(w) & words for w in self.name_words)

    def claims(self, text: str, field_name: str, channel: str) -> list[Claim]:
        """Unsupported facts and unverified statements in one field's text."""
        found = _extract(text)
        return self.facts.unsupported_in(text, field_name, found) + _statement_claims(
            text, field_name, found, self.evidence, channel
        )

    def clean(self, text: str, field_name: str, channel: str) -> bool:
        """True when a fragment (a sentence, a title, a hashtag) has no finding of any kind on its own."""
        if not text.strip() or self.claims(text, field_name, channel):
            return False
        if _degenerate(text, field_name, "", channel):
            return False
        return not voice_violations([text], self.rules)


def _statement_claims(
    text: str, field_name: str, found: list, evidence: Evidence, channel: str
) -> list[Claim]:
    """Content words the facts do not back, and sentences that contradict them (see ml.engine.verification)."""
    skip = (
        [(f.start, f.end) for f in found] + placeholders(text) + [m.span() for m in _RESIDUE.finditer(text)]
    )
    title_case = field_name in ("title", "subject") or channel == "ad_headline"
    claims = [
        Claim(f.text, f.kind, field_name, f.start, f.end, f.reason)
        for f in unverified(text, evidence, skip=skip, title_case=title_case)
    ]
    for f in contradictions(text, evidence):
        claims.append(Claim(f.text, f.kind, field_name, f.start, f.end, f.reason))
    return claims


def hashtag_list(text: str) -> list[str]:
    """Hashtags in a hashtags field: "#a #b" or, when nobody wrote a #, "a, b" (the review page counts them
    the same way)."""
    tags = re.findall(r"#\w+", text)
    if tags or "#" in text:
        return tags
    return [t for t in re.split(r"[,\s]+", text) if t]


def distinct_n(texts: Iterable[str], n: int = 2) -> float:
    """Corpus-level distinct-n: unique word n-grams over all n-grams in ``texts`` (0.0 when there are none)."""
    grams = [g for t in texts for g in _ngrams(_words(t), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def duplicate_rate(texts: Iterable[str]) -> float:
    """Share of texts that repeat an earlier one, ignoring case, punctuation and spacing."""
    keys = [" ".join(_words(t)) for t in texts]
    return (len(keys) - len(set(keys))) / len(keys) if keys else 0.0


# --- numbers, currencies and units ------------------------------------------------------------------------

_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d{1,2}(?:,\d{2})+,\d{3}|\d+)(?:\.\d+)?"  # 1,299 / 1,29,999 (Indian) / 24.90
_EURO_NUM = r"\d{1,3}(?:\.\d{3})*,\d{2}(?![\d,])"  # 24,90 and 1.299,00, only next to a currency
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
}
_NUMW = rf"(?:{_NUM}|(?i:{'|'.join(sorted(_NUMBER_WORDS, key=len, reverse=True))})(?![a-z]))"
_GROUP = rf"{_NUMW}(?:\s*(?:-|–|—|x|×|\*)\s*{_NUMW}|\s+to\s+{_NUMW})*"
_R = r"(?![a-z0-9])"

_DOLLARS = frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"})
_CURRENCY_MARKS: dict[str, frozenset[str]] = {
    "us$": frozenset({"USD"}),
    "c$": frozenset({"CAD"}),
    "a$": frozenset({"AUD"}),
    "$": _DOLLARS,
    "dollar": _DOLLARS,
    "dollars": _DOLLARS,
    "€": frozenset({"EUR"}),
    "euro": frozenset({"EUR"}),
    "euros": frozenset({"EUR"}),
    "£": frozenset({"GBP"}),
    "₹": frozenset({"INR"}),
    "rs": frozenset({"INR"}),
    "rs.": frozenset({"INR"}),
    "rupee": frozenset({"INR"}),
    "rupees": frozenset({"INR"}),
    "/-": frozenset({"INR"}),
    "¥": frozenset({"JPY", "CNY"}),
}
_PREFIX = r"US\$|C\$|A\$|\$|€|£|₹|¥|(?<![A-Za-z])(?:Rs\.?|INR|USD|EUR|GBP|CAD|AUD|CHF|AED)(?![A-Za-z])"
_SUFFIX = r"(?:USD|EUR|GBP|INR|CAD|AUD|CHF|AED|(?i:dollars?|euros?|rupees?))(?![A-Za-z])|€|/-"
_AMOUNT = re.compile(
    rf"(?P<pcur>{_PREFIX})\s?(?P<pnum>{_EURO_NUM}|{_NUM})(?:\s?/-)?"
    rf"|(?<![\d.,])(?P<snum>{_EURO_NUM}|{_NUM})\s?(?P<scur>{_SUFFIX})"
)
_PERCENT = re.compile(
    rf"(?<![\d.,]){_NUM}(?:\s*(?:-|–|to)\s*{_NUM})?\s?(?:%|(?i:per\s?cent)(?![a-z]))"
    r"(?P<off>\s*(?i:off)(?![a-z]))?"
)

# (aliases, dimension, size of one unit in the dimension's base unit). One-letter units are case-sensitive
# ("5G" is not 5 grams, "V-neck" is not volts); the rest are not.
_UNIT_TABLE: tuple[tuple[tuple[str, ...], str, float], ...] = (
    (("ml", "millilitre", "millilitres", "milliliter", "milliliters"), "volume", 1),
    (("cl",), "volume", 10),
    (("l", "L", "ltr", "ltrs", "litre", "litres", "liter", "liters"), "volume", 1000),
    (("fl oz", "fl. oz", "fl.oz"), "volume", 29.5735),
    (("gallon", "gallons"), "volume", 3785.41),
    (("mm", "millimetre", "millimetres", "millimeter", "millimeters"), "length", 1),
    (("cm", "centimetre", "centimetres", "centimeter", "centimeters"), "length", 10),
    (("m", "metre", "metres", "meter", "meters"), "length", 1000),
    (("km", "kilometre", "kilometres", "kilometer", "kilometers"), "length", 1_000_000),
    (("inch", "inches", '"', "″"), "length", 25.4),
    (("ft", "feet", "foot"), "length", 304.8),
    (("mg", "milligram", "milligrams"), "mass", 0.001),
    (("g", "gm", "gms", "gram", "grams", "gramme", "grammes"), "mass", 1),
    (("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms"), "mass", 1000),
    (("oz", "ounce", "ounces"), "mass", 28.3495),
    (("lb", "lbs", "pound", "pounds"), "mass", 453.592),
    (("gsm",), "gsm", 1),
    (("carat", "carats", "ct"), "carat", 1),
    (("mAh",), "charge", 1),
    (("Ah",), "charge", 1000),
    (("W", "watt", "watts"), "power", 1),
    (("kW", "kilowatt", "kilowatts"), "power", 1000),
    (("V", "volt", "volts"), "voltage", 1),
    (("Hz",), "frequency", 1),
    (("kHz",), "frequency", 1e3),
    (("MHz",), "frequency", 1e6),
    (("GHz",), "frequency", 1e9),
    (("KB",), "data", 1e-3),
    (("MB",), "data", 1),
    (("GB",), "data", 1e3),
    (("TB",), "data", 1e6),
    (("MP", "megapixel", "megapixels"), "pixels", 1),
    (("sec", "secs", "second", "seconds"), "time", 1 / 3600),
    (("min", "mins", "minute", "minutes"), "time", 1 / 60),
    (("h", "hr", "hrs", "hour", "hours"), "time", 1),
    (("day", "days"), "time", 24),
    (("week", "weeks"), "time", 168),
    (("month", "months"), "time", 730),
    (("yr", "yrs", "year", "years"), "time", 8760),
    (("°C", "ºC", "° C"), "celsius", 1),
    (("°F", "ºF", "° F"), "fahrenheit", 1),
    (("degree", "degrees"), "degrees", 1),
    (("pack", "packs", "pk"), "pack", 1),
    (("pc", "pcs", "piece", "pieces"), "pieces", 1),
    (("pair", "pairs"), "pairs", 1),
    (("count",), "count", 1),
    (("sheet", "sheets"), "sheets", 1),
    (("serving", "servings"), "servings", 1),
    (("capsule", "capsules", "tablet", "tablets"), "capsules", 1),
)
_UNITS: dict[str, tuple[str, float]] = {}
for _aliases, _dimension, _size in _UNIT_TABLE:
    for _alias in _aliases:
        _UNITS[_alias if len(_alias) == 1 else _alias.lower().replace(" ", "")] = (_dimension, _size)


def _spaced(alias: str) -> str:
    """``alias`` as a pattern in which each space may be a space, a hyphen or nothing ("5-star", "5 star")."""
    return r"[\s-]?".join(re.escape(part) for part in alias.split(" "))


def _unit_pattern(alias: str) -> str:
    if alias in ('"', "″"):
        return rf"(?<=\d){alias}(?![A-Za-z0-9])"  # 15.6" but not 'size 32 "Slim"'
    if len(alias) == 1:
        # One-letter units are case-sensitive ("5G" is not 5 grams) and never start a word ("3 V-necks").
        return alias + r"(?![A-Za-z0-9-])"
    return f"(?i:{_spaced(alias)})" + (_R if alias[-1].isalpha() else "")


_UNIT_ALIASES = sorted({a for aliases, _, _ in _UNIT_TABLE for a in aliases}, key=len, reverse=True)
_UNIT_RE = "|".join(_unit_pattern(a) for a in _UNIT_ALIASES)
_MEASUREMENT = re.compile(
    rf"(?<![\w.,])(?P<group>{_GROUP})(?:\s?-\s?|\s)?(?P<unit>{_UNIT_RE})"
    rf"|(?<![A-Za-z])(?i:pack|set|box|bundle|case)\s+of\s+(?P<packof>{_NUMW})"
)
_SIZE = re.compile(r"(?<![A-Za-z0-9])(?:[2-6]XL|X{1,4}L|XX?S)(?![A-Za-z0-9])")
_BARE_NUMBER = re.compile(rf"(?<!\d)(?<!\d[.,]){_NUM}(?:st|nd|rd|th)?(?!\d)")
_EXAMPLE_RE = re.compile(rf"(?<![A-Za-z0-9])(?i:{EXAMPLE_PRODUCT_NAME})(?![a-z0-9])")
_URL = re.compile(r"(?i:https?://|www\.)[^\s<>\"')\]]*[^\s<>\"')\].,;:!?]")


def _to_decimal(text: str) -> Decimal | None:
    text = text.strip().lower()
    if text in _NUMBER_WORDS:
        return Decimal(_NUMBER_WORDS[text])
    text = re.sub(r"(st|nd|rd|th)$", "", text)
    if re.fullmatch(_EURO_NUM, text):
        text = text.replace(".", "").replace(",", ".")
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def _group_numbers(group: str) -> list[Decimal]:
    parts = re.findall(rf"{_NUM}|[A-Za-z]+", group)
    values = [_to_decimal(p) for p in parts if p.lower() not in ("x", "to")]
    return [v for v in values if v is not None]


def _unit_of(alias: str) -> tuple[str, float]:
    return _UNITS[alias] if alias in _UNITS else _UNITS[re.sub(r"\s+", "", alias.lower())]


# --- materials and claims ---------------------------------------------------------------------------------

# canonical name -> aliases (case-insensitive unless all capitals, which are acronyms).
_MATERIALS: dict[str, tuple[str, ...]] = {
    "cotton": ("cotton",),
    "wool": ("wool", "woollen", "woolen"),
    "merino": ("merino", "merino wool"),
    "cashmere": ("cashmere",),
    "alpaca": ("alpaca",),
    "mohair": ("mohair",),
    "angora": ("angora",),
    "silk": ("silk",),
    "linen": ("linen",),
    "hemp": ("hemp",),
    "jute": ("jute",),
    "bamboo": ("bamboo",),
    "polyester": ("polyester",),
    "nylon": ("nylon",),
    "elastane": ("elastane", "spandex", "lycra"),
    "acrylic": ("acrylic",),
    "viscose": ("viscose", "rayon"),
    "modal": ("modal",),
    "lyocell": ("lyocell", "tencel"),
    "microfiber": ("microfiber", "microfibre"),
    "denim": ("denim",),
    "canvas": ("canvas",),
    "velvet": ("velvet",),
    "corduroy": ("corduroy",),
    "fleece": ("fleece",),
    "satin": ("satin",),
    "chiffon": ("chiffon",),
    "georgette": ("georgette",),
    "crepe": ("crepe",),
    "organza": ("organza",),
    "tulle": ("tulle",),
    "khadi": ("khadi",),
    "jersey": ("jersey",),
    "neoprene": ("neoprene",),
    "suede": ("suede",),
    "leather": ("leather",),
    "fur": ("fur",),
    "down": ("goose down", "duck down", "down-filled", "down filled", "down fill"),
    "rubber": ("rubber",),
    "latex": ("latex",),
    "eva": ("EVA",),
    "foam": ("foam",),
    "memory foam": ("memory foam",),
    "cork": ("cork",),
    "polyurethane": ("polyurethane", "PU"),
    "gore-tex": ("gore-tex", "goretex"),
    "stainless steel": ("stainless steel", "stainless-steel"),
    "steel": ("steel",),
    "cast iron": ("cast iron", "cast-iron"),
    "wrought iron": ("wrought iron", "wrought-iron"),
    "aluminium": ("aluminium", "aluminum"),
    "copper": ("copper",),
    "brass": ("brass",),
    "bronze": ("bronze",),
    "titanium": ("titanium",),
    "zinc": ("zinc",),
    "gold": ("gold",),
    "sterling silver": ("sterling silver",),
    "silver": ("silver",),
    "platinum": ("platinum",),
    "pewter": ("pewter",),
    "carbon fibre": ("carbon fibre", "carbon fiber"),
    "wood": ("wood", "wooden", "solid wood", "hardwood"),
    "oak": ("oak",),
    "walnut": ("walnut",),
    "teak": ("teak",),
    "pine": ("pine",),
    "maple": ("maple",),
    "mahogany": ("mahogany",),
    "rosewood": ("rosewood",),
    "acacia": ("acacia",),
    "mango wood": ("mango wood",),
    "sheesham": ("sheesham",),
    "birch": ("birch",),
    "beech": ("beech",),
    "cedar": ("cedar",),
    "glass": ("glass", "tempered glass"),
    "crystal": ("crystal",),
    "ceramic": ("ceramic", "ceramics"),
    "porcelain": ("porcelain",),
    "stoneware": ("stoneware",),
    "earthenware": ("earthenware",),
    "terracotta": ("terracotta",),
    "marble": ("marble",),
    "granite": ("granite",),
    "concrete": ("concrete",),
    "plastic": ("plastic",),
    "silicone": ("silicone",),
    "polycarbonate": ("polycarbonate",),
    "polypropylene": ("polypropylene",),
    "pvc": ("PVC",),
    "resin": ("resin",),
    "vinyl": ("vinyl",),
    "diamond": ("diamond", "diamonds"),
    "pearl": ("pearl", "pearls"),
}
_IMITABLE = ("leather", "suede", "fur", "silk")  # "faux leather" is not leather, "art silk" is not silk
# A specific material backs the general name.
_MATERIAL_GENERALISES = {
    "stainless steel": "steel",
    "sterling silver": "silver",
    "merino": "wool",
    "memory foam": "foam",
    "oak": "wood",
    "walnut": "wood",
    "teak": "wood",
    "pine": "wood",
    "maple": "wood",
    "mahogany": "wood",
    "rosewood": "wood",
    "acacia": "wood",
    "mango wood": "wood",
    "sheesham": "wood",
    "birch": "wood",
    "beech": "wood",
    "cedar": "wood",
}

_CLAIMS: dict[str, tuple[str, ...]] = {
    "waterproof": ("waterproof", "water-proof", "water proof"),
    "water-resistant": (
        "water-resistant",
        "water resistant",
        "water-repellent",
        "water repellent",
        "splash-proof",
        "splashproof",
    ),
    "windproof": ("windproof", "wind-proof", "wind resistant", "wind-resistant"),
    "stain-resistant": ("stain-resistant", "stain resistant", "stain-proof", "stainproof"),
    "wrinkle-free": (
        "wrinkle-free",
        "wrinkle free",
        "wrinkle-resistant",
        "anti-wrinkle",
        "crease-resistant",
        "non-iron",
    ),
    "moisture-wicking": (
        "moisture-wicking",
        "moisture wicking",
        "sweat-wicking",
        "quick-dry",
        "quick dry",
        "quick-drying",
        "fast-drying",
    ),
    "dishwasher-safe": ("dishwasher-safe", "dishwasher safe"),
    "microwave-safe": ("microwave-safe", "microwave safe"),
    "oven-safe": ("oven-safe", "oven safe", "ovenproof", "oven-proof"),
    "machine washable": ("machine washable", "machine-washable", "machine wash"),
    "bpa-free": ("BPA-free", "BPA free"),
    "non-toxic": ("non-toxic", "nontoxic"),
    "hypoallergenic": ("hypoallergenic", "hypo-allergenic"),
    "organic": ("organic", "organically"),
    "vegan": ("vegan",),
    "cruelty-free": ("cruelty-free", "cruelty free"),
    "recycled": ("recycled", "upcycled"),
    "recyclable": ("recyclable",),
    "eco-friendly": ("eco-friendly", "eco friendly", "environmentally friendly", "planet-friendly"),
    "sustainable": ("sustainable", "sustainably"),
    "biodegradable": ("biodegradable",),
    "compostable": ("compostable",),
    "fair trade": ("fair trade", "fairtrade", "fair-trade"),
    "handmade": ("handmade", "hand-made", "handcrafted", "hand-crafted"),
    "handwoven": ("handwoven", "hand-woven", "handloom"),
    "certified": ("certified",),
    "gots": ("GOTS",),
    "oeko-tex": ("oeko-tex", "oekotex"),
    "fsc": ("FSC",),
    "dermatologically tested": (
        "dermatologically tested",
        "dermatologist tested",
        "dermatologist recommended",
        "dermatologist-recommended",
        "dermatologist approved",
    ),
    "clinically proven": ("clinically proven", "clinically tested", "scientifically proven"),
    "antibacterial": ("antibacterial", "anti-bacterial", "antimicrobial", "anti-microbial"),
    "uv protection": ("UV protection", "UV-protection", "UV protected", "UPF", "UV400", "UV 400"),
    "non-stick": ("non-stick", "nonstick"),
    "leak-proof": ("leak-proof", "leakproof", "leak proof", "spill-proof", "spillproof"),
    "shatterproof": ("shatterproof", "shatter-proof", "unbreakable"),
    "scratch-resistant": ("scratch-resistant", "scratch resistant", "scratch-proof", "scratchproof"),
    "rust-proof": ("rust-proof", "rustproof", "rust-resistant", "rust resistant", "corrosion-resistant"),
    "fire-resistant": ("fireproof", "fire-proof", "fire-resistant", "flame-retardant", "flame retardant"),
    "insulated": ("insulated", "double-wall", "double-walled", "double wall"),
    "warranty": ("warranty", "warranted"),
    "lifetime warranty": (
        "lifetime warranty",
        "lifetime guarantee",
        "lifelong warranty",
        "guaranteed for life",
    ),
    "guarantee": ("guarantee", "guaranteed", "money-back", "money back"),
    "free shipping": (
        "free shipping",
        "free delivery",
        "ships free",
        "free postage",
        "free standard shipping",
        "delivered free",
    ),
    "free returns": (
        "free returns",
        "free return",
        "easy returns",
        "hassle-free returns",
        "free exchange",
        "free exchanges",
        "easy exchange",
        "easy exchanges",
    ),
    "free gift": ("free gift", "free gifts", "bonus gift"),
    "discount": (
        "discount",
        "discounted",
        "discounts",
        "on sale",
        "sale price",
        "flash sale",
        "clearance",
        "half price",
        "half-price",
        "price drop",
        "special offer",
        "special price",
        "deal of the day",
        "best deal",
        "great deal",
        "coupon",
        "promo code",
        "voucher",
    ),
    "buy one get one": ("buy one get one", "buy 1 get 1", "BOGO"),
    "limited time": (
        "limited time",
        "limited-time",
        "today only",
        "ends soon",
        "ends tonight",
        "while stocks last",
        "while supplies last",
        "last chance",
        "selling fast",
        "few left",
        "almost gone",
    ),
    "limited edition": ("limited edition", "limited-edition"),
    "lowest price": ("lowest price", "lowest prices", "best price", "best prices", "cheapest"),
    "best-selling": (
        "best-selling",
        "best selling",
        "bestselling",
        "bestseller",
        "bestsellers",
        "best seller",
        "best sellers",
        "best-seller",
        "top seller",
        "top-selling",
        "top selling",
    ),
    "#1": ("#1", "# 1", "No. 1", "No.1", "number one", "number 1"),
    "award-winning": ("award-winning", "award winning", "prize-winning", "award-winner"),
    "top-rated": (
        "top-rated",
        "top rated",
        "highly rated",
        "highly-rated",
        "5-star",
        "five-star",
        "5 star",
        "five star",
        "5 stars",
        "five stars",
    ),
    "most popular": (
        "most popular",
        "customer favourite",
        "customer favorite",
        "fan favourite",
        "fan favorite",
        "crowd favourite",
        "crowd favorite",
        "most loved",
    ),
    "best-in-class": (
        "best-in-class",
        "best in class",
        "world's best",
        "worlds best",
        "best in the world",
        "industry-leading",
        "industry leading",
        "market-leading",
        "unbeatable",
        "unmatched",
    ),
    "patented": ("patented", "patent-pending", "patent pending"),
}
# A claim in the data backs these weaker ones too.
_CLAIM_IMPLIES = {
    "waterproof": {"water-resistant"},
    "lifetime warranty": {"warranty", "guarantee"},
    "gots": {"certified", "organic"},
    "oeko-tex": {"certified"},
    "fsc": {"certified"},
    "recycled": {"recyclable"},
    "handwoven": {"handmade"},
}
_MADE_IN = re.compile(
    r"(?i:made|manufactured|crafted|produced)\s+(?i:in)\s+(?:the\s+)?(?P<place>[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)"
)


# "made from fresh sea salt": what a product is made of, beyond the materials table above. Every content word of
# the phrase must appear in the product data; fillers are skipped and figurative phrases ("made of love") are
# not claims. "Made with" is left alone: it usually introduces features ("made with two pockets").
_MADE_OF = re.compile(
    r"(?i:made|crafted|built|constructed|woven|knitted|cut)\s+(?i:from|of|out of)\s+"
    r"(?P<what>[A-Za-z][A-Za-z'-]*(?:[ \t]+[A-Za-z][A-Za-z'-]*){0,3})"
)
_MADE_OF_ENDS = frozenset(  # words that end the phrase: "made of oak and ...", "made with care for ..."
    "and or its their our your this that these those which who to for in on at by as is are be so of with from "
    "into plus than then but while".split()
)
_MADE_OF_FILLERS = frozenset(  # skipped: articles, praise and generic words that name no material
    "a an the very fine finest high quality premium pure soft durable sturdy strong light lightweight fresh "
    "freshly best real genuine natural quality-tested top-quality superior luxurious rich great good blend mix "
    "mixture combination layer layers piece pieces one single hand hands responsibly ethically locally sourced "
    "material materials fabric fabrics yarn yarns fibre fibres fiber fibers".split()
)
_MADE_OF_FIGURATIVE = frozenset(
    "love care pride passion attention detail details precision comfort style you "
    "mind heart thought purpose".split()
)
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


_IMITATION_WORDS = ("faux", "vegan", "synthetic", "imitation", "artificial", "fake", "art", "pu")
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


# --- extraction ------------------------------------------------------------------------------------------


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


# --- product facts ---------------------------------------------------------------------------------------


class _Facts:
    def __init__(self, text: str, price: Decimal | None, currency: str, url: str):
        self.price = price
        self.currency = currency
        self.url = url.rstrip("/").lower()
        self.numbers: set[Decimal] = set()
        self.percentages: set[Decimal] = set()
        self.amounts: list[tuple[Decimal | None, frozenset[str]]] = []
        self.measurements: list[tuple[Decimal | None, str, float]] = []
        self.materials: set[str] = set()
        self.claims: set[str] = set()
        self.sizes: set[str] = set()
        self.links: set[str] = set()
        self.words = set(re.findall(r"[a-z]+", text.lower()))
        for item in _extract(text):
            self._add(item)
        self.numbers.update(v for v in (_to_decimal(n) for n in re.findall(_NUM, text)) if v is not None)
        if price is not None:
            self.numbers.add(price)

    def _add(self, item: _Found) -> None:
        if item.kind == "price":
            self.amounts.append(item.value)
        elif item.kind == "percentage":
            self.percentages.update(v for v in item.value if v is not None)
        elif item.kind == "measurement":
            self.measurements.extend(item.value)
        elif item.kind == "material":
            self.materials.add(item.value)
            if item.value in _MATERIAL_GENERALISES:
                self.materials.add(_MATERIAL_GENERALISES[item.value])
        elif item.kind == "claim":
            self.claims.add(item.value)
            self.claims.update(_CLAIM_IMPLIES.get(item.value, ()))
        elif item.kind == "size":
            self.sizes.add(item.value)
        elif item.kind == "origin":
            self.words.add(item.value)
        elif item.kind == "link":
            self.links.add(item.value.rstrip("/"))

    @classmethod
    def of(cls, product: Mapping, text: str | None = None) -> _Facts:
        text = _product_text(product) if text is None else text
        currency = str(product.get("currency") or "").strip().upper()
        return cls(text, _price(product.get("price")), currency, str(product.get("url") or ""))

    def unsupported_in(self, text: str, field_name: str, found: list | None = None) -> list[Claim]:
        claims = []
        for item in _extract(text) if found is None else found:
            reason = self._why_unsupported(item)
            if reason:
                kind = {
                    "size": "measurement",
                    "link": "claim",
                    "origin": "claim",
                    "example": "claim",
                    "composition": "material",
                }.get(item.kind, item.kind)
                claims.append(
                    Claim(text[item.start : item.end], kind, field_name, item.start, item.end, reason)
                )
        return claims

    def _why_unsupported(self, item: _Found) -> str:
        if item.kind == "price":
            return self._price_reason(*item.value)
        if item.kind == "number":
            return "" if item.value in self.numbers else "this number is not in the product data"
        if item.kind == "percentage":
            if all(v in self.percentages for v in item.value):
                return ""
            return (
                "no such discount in the product data"
                if item.extra
                else "this percentage is not in the product data"
            )
        if item.kind == "measurement":
            return (
                ""
                if all(self._has_measurement(*v) for v in item.value)
                else ("this quantity is not in the product data")
            )
        if item.kind == "size":
            return "" if item.value in self.sizes else "this size is not in the product data"
        if item.kind == "material":
            if item.value in self.materials:
                return ""
            listed = ", ".join(sorted(self.materials)[:4])
            return "the product data does not name this material" + (
                f" (it names {listed})" if listed else ""
            )
        if item.kind == "claim":
            return "" if item.value in self.claims else "the product data does not make this claim"
        if item.kind == "origin":
            return (
                "" if set(item.value.split()) <= self.words else "the product data does not give this origin"
            )
        if item.kind == "composition":
            missing = [w for w in item.value if w not in self.words and w.rstrip("s") not in self.words]
            return f"the product data does not say it is made of {' '.join(missing)}" if missing else ""
        if item.kind == "example":
            return "" if item.value in self.words else "names the prompt's example product, not this one"
        if item.kind == "link":
            link = item.value.rstrip("/")
            own = bool(self.url) and link.split("://")[-1] == self.url.split("://")[-1]
            return "" if own or link in self.links else "only the product's own link may be used"
        return ""

    def _price_reason(self, value: Decimal | None, currencies: frozenset[str]) -> str:
        if value is None:
            return "unreadable amount"
        if any(value == v and currencies & c for v, c in self.amounts):
            return ""
        if self.price is not None and value == self.price:
            if not self.currency or self.currency in currencies:
                return ""
            return f"the product is priced in {self.currency}"
        if self.price is None:
            return "the product has no price"
        return f"the product price is {_format_price(self.price)} {self.currency}".rstrip()

    def _has_measurement(self, value: Decimal | None, dimension: str, size: float) -> bool:
        if value is None:
            return False
        for known, known_dimension, known_size in self.measurements:
            if known is None or known_dimension != dimension:
                continue
            if known_size == size:
                if known == value:
                    return True
                continue
            a, b = float(value) * size, float(known) * known_size
            if abs(a - b) <= 0.015 * max(abs(a), abs(b)):
                return True
        return False


def _product_text(product: Mapping) -> str:
    """The product's facts as one text: title, brand, category, description and attribute lines."""
    parts = [_plain(product.get(key)) for key in ("title", "brand", "category", "description")]
    attributes = product.get("attributes") or {}
    if isinstance(attributes, Mapping):
        for key, value in attributes.items():
            parts.append(_attribute_line(str(key), value))
    text = "\n".join(p for p in parts if p)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    # Scraped copy glues sentences together ("TSA lockOne handle"); split them so words are whole.
    return re.sub(r"(?<=[a-z]{2})(?=[A-Z][a-z])", " ", text)


def _plain(value) -> str:
    return "" if value is None else str(value)


def _attribute_line(key: str, value) -> str:
    if isinstance(value, (list, tuple, set)):
        value = ", ".join(_plain(v) for v in value)
    elif isinstance(value, Mapping):
        value = "; ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    value = _plain(value)
    label = re.sub(r"[_\s]+", " ", key).strip()
    # {"capacity_ml": "750"} says "750 ml": give a bare number the unit its key names.
    if re.fullmatch(rf"\s*{_NUM}\s*", value):
        for token in re.findall(r"[A-Za-z]+", key.replace("_", " ")):
            if token in _UNITS or token.lower() in _UNITS:
                return f"{label}: {value.strip()} {token}"
    return f"{label}: {value}"


def _price(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        price = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        return None
    return price if price.is_finite() else None


def _format_price(price: Decimal) -> str:
    text = format(price, "f")
    return text.removesuffix(".00")


# --- channel limits, degenerate output, banned words -----------------------------------------------------


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


def _words(text: str) -> list[str]:
    return re.findall(r"[#\w]+(?:['’]\w+)?", text.lower())


def _ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
