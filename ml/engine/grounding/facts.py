"""Product facts: a product's data read once into the sets a claim is checked against (numbers,
percentages, amounts, measurements, materials, claims, sizes, links, words), and why a claim is unsupported
when it is not there. ``_product_text`` is the product as one text (also used by ml.engine.copy_decoding)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from .extraction import _extract, _Found
from .phrases import _CLAIM_IMPLIES, _MATERIAL_GENERALISES
from .report import Claim
from .units import _NUM, _UNITS, _to_decimal


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
