"""How a product's free-form attributes read to a person: keys humanised ("num_images" -> "Number of images"),
values as text, and the bookkeeping that catalog exports carry along kept apart from the product's facts.

Bookkeeping is a fixed, short list, so a merchant can tell why a row is not shown as a fact: image counts
(`IMAGE_COUNT_KEYS`, e.g. Myntra's `NumImages`) and identifiers (a key whose last word is "id" or "uuid",
e.g. `style_id`, `ProductID`). Everything else is a fact. The copy model's fact sheet has its own, broader
filter for listing data (`ml.engine.prompts`), which already leaves both kinds out.
"""

from __future__ import annotations

import re
from typing import Any

# Keys with letters and digits only, lower case (`attribute_words` joined).
IMAGE_COUNT_KEYS = frozenset(
    {
        "numimages",
        "numberofimages",
        "nimages",
        "imagecount",
        "imagescount",
        "numphotos",
        "numberofphotos",
        "photocount",
        "photoscount",
    }
)
_ID_WORDS = frozenset({"id", "ids", "uuid"})
_ACRONYMS = {
    "id": "ID",
    "ids": "IDs",
    "uuid": "UUID",
    "sku": "SKU",
    "url": "URL",
    "ean": "EAN",
    "upc": "UPC",
    "gtin": "GTIN",
    "isbn": "ISBN",
    "mpn": "MPN",
}
_ABBREVIATIONS = {"num": "number of", "nr": "number of", "qty": "quantity"}


def attribute_words(key: Any) -> list[str]:
    """The words of a key written in snake_case, camelCase, kebab-case or with spaces."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", str(key))
    return [word for word in re.split(r"[\s_.\-]+", spaced) if word]


def attribute_label(key: Any) -> str:
    """A key as a person would write it. Keys that already contain a space were typed by a person and are
    kept as they are (only the first letter is raised)."""
    text = str(key).strip()
    if " " not in text:
        words = []
        for word in attribute_words(text):
            lower = word.lower()
            if lower in _ACRONYMS:
                words.append(_ACRONYMS[lower])
            elif lower in _ABBREVIATIONS:
                words.append(_ABBREVIATIONS[lower])
            elif len(word) > 1 and word.isupper():
                words.append(word)  # an acronym the file spelled out: "USB", "EU"
            else:
                words.append(lower)
        text = " ".join(words) or text
    return text[:1].upper() + text[1:]


def is_bookkeeping(key: Any) -> bool:
    words = [word.lower() for word in attribute_words(key)]
    return bool(words) and (words[-1] in _ID_WORDS or "".join(words) in IMAGE_COUNT_KEYS)


def attribute_text(value: Any) -> str:
    """A stored value as one line of text (lists joined, yes/no for booleans)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(attribute_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {attribute_text(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def attribute_rows(attributes: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(facts, bookkeeping), each a list of (label, text) in the stored order."""
    if not isinstance(attributes, dict):
        attributes = {} if attributes in (None, "") else {"value": attributes}
    facts: list[tuple[str, str]] = []
    bookkeeping: list[tuple[str, str]] = []
    for key, value in attributes.items():
        (bookkeeping if is_bookkeeping(key) else facts).append((attribute_label(key), attribute_text(value)))
    return facts, bookkeeping
