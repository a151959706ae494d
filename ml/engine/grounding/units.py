"""Numbers, currencies and units: the patterns that read amounts, percentages, measurements, letter sizes and
bare numbers, the unit table (every unit with its dimension and size, so "0.75 l" == "750 ml") and the
helpers that turn what they match into Decimals."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

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
