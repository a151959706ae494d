"""Small text helpers the prompt sections share: whitespace, clipping at a word, articles, prices."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

_CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£"}


def _as_items(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else []


def _price_text(value, currency: str) -> str:
    try:
        price = Decimal(str(value).replace(",", "")) if value not in (None, "") else None
    except InvalidOperation:
        return ""
    if price is None or not price.is_finite():
        return ""
    amount = format(price, "f")
    amount = amount.removesuffix(".00")
    if currency in _CURRENCY_SIGNS:
        return _CURRENCY_SIGNS[currency] + amount
    if currency == "INR":
        return f"Rs. {amount}"
    return f"{amount} {currency}".strip()


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" or noun.startswith("SMS") else "a ") + noun


def _attribute_text(value) -> str:
    if isinstance(value, (list, tuple, set)):
        return ", ".join(_text(v) for v in value if _text(v))
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return _text(value)


def _label(key: str) -> str:
    return re.sub(r"[_\s]+", " ", key).strip().capitalize()


def _text(value) -> str:
    return "" if value is None else re.sub(r"\s+", " ", str(value)).strip()


def _as_list(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = re.split(r"[,\n]", value)
    return [_text(v) for v in value if _text(v)]


def _clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary."""
    text = _text(text)
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[: limit + 1] else text[:limit]
    return cut.rstrip(" ,;:-–(")
