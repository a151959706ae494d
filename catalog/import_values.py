"""Cleaning one cell of a catalog file into a Product field's value: text within the model's length limits,
prices in the formats shops export (`1,299.00`, `12,50 EUR`, `₹ 1.299,00`), currency codes, stock counts,
active flags, URLs and attribute objects. Each cleaner raises ValueError with the message the import report
shows for that cell; `FIELD_CLEANERS` maps every field `catalog.importing` reads to its cleaner. Nothing here
touches the database, and the product form reuses `parse_price` so both accept the same prices.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from storyfront.parsing import parse_bool
from storyfront.uploads import json_type

MAX_LENGTHS = {"sku": 100, "title": 500, "brand": 200, "category": 200, "url": 1000}
MAX_PRICE = Decimal("9999999999.99")  # Product.price: 12 digits, 2 decimals

# Status words shops export for "is the product live", beside the plain yes/no words (storyfront.parsing).
_ACTIVE_WORDS = ("active", "published")
_INACTIVE_WORDS = ("inactive", "draft", "archived", "unpublished")
_CURRENCY_SIGNS = "$€£¥₹₩₽₺"
_PRICE_VALUE = re.compile(
    rf"^(-)?\s*(?:[A-Z]{{3}}\s*|[{_CURRENCY_SIGNS}]\s*)?(-)?\s*([\d.,\s]*\d[\d.,\s]*|\.\d+)\s*"
    rf"(?:[A-Z]{{3}}|[{_CURRENCY_SIGNS}])?$"
)
_CURRENCY_CODE = re.compile(r"^[A-Za-z]{3}$")
_url_validator = URLValidator()


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any, *, fld: str, required: bool = False) -> str:
    if is_blank(value):
        if required:
            raise ValueError("This field is required.")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"Expected text, got {json_type(value)}.")
    text = value.strip() if isinstance(value, str) else str(value)
    limit = MAX_LENGTHS.get(fld)
    if limit and len(text) > limit:
        raise ValueError(f"At most {limit} characters (this one has {len(text)}).")
    return text


def parse_price(value: Any) -> Decimal:
    """A price from a cell: `12.5`, `1,299.00`, `$12`, `12,50 EUR`, `₹ 1.299,00`. Never negative."""
    if is_blank(value):
        raise ValueError("This field is required.")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"Expected a number, got {json_type(value)}.")
    if isinstance(value, str):
        match = _PRICE_VALUE.match(value.strip())
        if not match:
            raise ValueError(f"'{value.strip()[:50]}' is not a price.")
        negative = bool(match.group(1) or match.group(2))
        number = _normalize_number(re.sub(r"\s", "", match.group(3)))
        if number is None:
            raise ValueError(f"'{value.strip()[:50]}' is not a price.")
        text = f"-{number}" if negative else number
    else:
        text = str(value)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"'{str(value)[:50]}' is not a price.") from None
    if not amount.is_finite():
        raise ValueError(f"'{value}' is not a price.")
    if amount < 0:
        raise ValueError(f"A price cannot be negative (got {value}).")
    amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if amount > MAX_PRICE:
        raise ValueError(f"A price must be below {MAX_PRICE + Decimal('0.01'):,}.")
    return amount


def _normalize_number(number: str) -> str | None:
    if re.fullmatch(r"\d+(\.\d*)?|\.\d+", number):
        return number
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d*)?", number):  # 1,299.00
        return number.replace(",", "")
    if re.fullmatch(r"\d+,\d{1,2}", number):  # 12,50
        return number.replace(",", ".")
    if re.fullmatch(r"\d{1,3}(\.\d{3})+,\d*", number):  # 1.299,00
        return number.replace(".", "").replace(",", ".")
    return None


def parse_currency(value: Any) -> str:
    if is_blank(value):
        return ""
    if not isinstance(value, str) or not _CURRENCY_CODE.match(value.strip()):
        raise ValueError(f"'{str(value)[:20]}' is not a currency; use a 3-letter code such as USD.")
    return value.strip().upper()


def _parse_stock(value: Any) -> int | None:
    if is_blank(value):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"Expected a whole number, got {json_type(value)}.")
    text = value.strip().replace(",", "") if isinstance(value, str) else str(value)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"'{str(value)[:50]}' is not a whole number.") from None
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise ValueError(f"'{str(value)[:50]}' is not a whole number.")
    if amount < 0:
        raise ValueError(f"Stock cannot be negative (got {value}).")
    if amount > 2_147_483_647:
        raise ValueError("Stock is too large.")
    return int(amount)


def _parse_bool(value: Any) -> bool:
    if is_blank(value):
        return True
    return parse_bool(value, true_words=_ACTIVE_WORDS, false_words=_INACTIVE_WORDS)


def _parse_url(value: Any) -> str:
    url = _text(value, fld="url")
    if url:
        try:
            _url_validator(url)
        except ValidationError:
            raise ValueError(f"'{url[:80]}' is not a valid http(s) URL.") from None
    return url


def _parse_attributes(value: Any) -> dict:
    if is_blank(value):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError('Attributes must be a JSON object, e.g. {"color": "red"}.') from None
    if not isinstance(value, dict):
        raise ValueError(f"Attributes must be an object, got {json_type(value)}.")
    return value


FIELD_CLEANERS = {
    "sku": lambda v: _text(v, fld="sku", required=True),
    "title": lambda v: _text(v, fld="title", required=True),
    "brand": lambda v: _text(v, fld="brand"),
    "category": lambda v: _text(v, fld="category"),
    "price": parse_price,
    "currency": parse_currency,
    "description": lambda v: _text(v, fld="description"),
    "url": _parse_url,
    "stock": _parse_stock,
    "is_active": _parse_bool,
    "attributes": _parse_attributes,
}
