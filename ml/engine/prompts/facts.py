"""The fact sheet: what the product data says, one fact a line, with what the product is and its colour stated
outright (a small model otherwise guesses them from the name)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..verification import Evidence
from ..verification.vocabulary import COLOURS, PRODUCT_TYPES
from .wording import _attribute_text, _clip, _label, _price_text, _text

# Attributes that describe the listing, not the product ("num_images", "image_url", "barcode").
_LISTING_WORDS = re.compile(
    r"(?i)^(?:(?:image|img|photo|picture)\w*|urls?|links?|handle|ids?|sku|barcode|gtin|ean|upc)$"
)


def product_type(product: Mapping) -> str:
    """What the product is, in its own words: the last product-type word (ml.engine.verification's
    PRODUCT_TYPES, the vocabulary the verifier names a wrong product type by) of its title before any "with"
    ("Kurta Set with Jacket" is a kurta), with the product-type words just before it ("trolley bag",
    "kurta & churidar"), else of its category; "" when neither names one."""
    title = re.split(r"(?i)\s+(?:with|without|\+)\s+", _text(product.get("title")))[0]
    for source in (title, _text(product.get("category"))):
        tokens = re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*|&", source)
        hits = [i for i, token in enumerate(tokens) if token.lower() in PRODUCT_TYPES]
        if not hits:
            continue
        start = end = hits[-1]
        while start > 0:
            before = tokens[start - 1].lower()
            if before in PRODUCT_TYPES and before not in COLOURS:
                start -= 1
            elif before in ("&", "and") and start > 1 and tokens[start - 2].lower() in PRODUCT_TYPES:
                start -= 2
            else:
                break
        return " ".join(tokens[start : end + 1]).lower()
    return ""


def product_colour(product: Mapping) -> str:
    """The product's colour: its colour attribute ("primary_color"), else the colours its title names, found
    as the verifier finds colours in the facts (so "Sand Cup" is not read as a colour, "Sand colour cup" is);
    "" when neither gives one."""
    key = _colour_key(product)
    if key:
        return _attribute_text(product["attributes"][key])
    title = _text(product.get("title"))
    named = set(Evidence([title]).named_colours)
    # Runs of token indices: adjacent colour words stay together ("Navy Blue", "Black & Grey").
    runs: list[list[int]] = []
    tokens = re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*|&", title)
    for index, token in enumerate(tokens):
        if token.lower() in named:
            if runs and runs[-1][-1] == index - 1:
                runs[-1].append(index)
            elif runs and runs[-1][-1] == index - 2 and tokens[index - 1].lower() in ("&", "and"):
                runs[-1] += [index - 1, index]
            else:
                runs.append([index])
    return ", ".join(" ".join(tokens[i] for i in run).lower() for run in runs[:3])


def _colour_key(product: Mapping) -> str | None:
    attributes = product.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        return None
    return next(
        (str(k) for k, v in attributes.items() if re.search(r"(?i)colou?r", str(k)) and _attribute_text(v)),
        None,
    )


def _facts_text(product: Mapping, description_chars: int, attributes: int, value_chars: int) -> str:
    """Only what the data says, each fact on its own line; what the product is and its colour are stated
    outright (a small model otherwise guesses them from the name)."""
    shown = _shown_facts(product, description_chars, attributes, value_chars)
    facts = ["Product facts:"]  # the same layout as the worked example
    for label, key in (("Name", "title"), ("Brand", "brand"), ("Category", "category")):
        if shown[key]:
            facts.append(f"- {label}: {shown[key]}")
    kind = product_type(shown)
    if kind:
        facts.append(f"- Type: {kind}")
    colour_key = _colour_key(shown)
    colour = product_colour(shown)
    if colour:
        facts.append(f"- Colour: {colour}")
    price = _price_text(shown["price"], _text(shown["currency"]).upper())
    if price:
        facts.append(f"- Price: {price}")
    for key, value in shown["attributes"].items():
        if key != colour_key:
            facts.append(f"- {_label(key)[:30]}: {value}")
    if shown["description"]:
        facts.append(f"- Description: {shown['description']}")
    return "\n".join(facts)


def _shown_facts(product: Mapping, description_chars: int, attributes: int, value_chars: int) -> dict:
    """The part of ``product`` the fact sheet shows with these limits, itself product facts: what an example's
    text is checked against, since that is all the model sees of the example's product."""
    items = product.get("attributes") or {}
    items = {str(k): _attribute_text(v) for k, v in items.items()} if isinstance(items, Mapping) else {}
    colour_key = _colour_key({"attributes": items})
    shown, count = {}, 0
    for key, value in items.items():
        if key == colour_key:
            shown[key] = _clip(value, 60)
        elif value and not _is_listing_key(key) and count < attributes:
            shown[key] = _clip(value, value_chars)
            count += 1
    description = _readable(_text(product.get("description")), product)
    return {
        **{key: _clip(_text(product.get(key)), 100) for key in ("title", "brand", "category")},
        "price": product.get("price"),
        "currency": product.get("currency"),
        "url": product.get("url"),
        "attributes": shown,
        "description": _clip(description, description_chars) if description and description_chars else "",
    }


def _readable(description: str, product: Mapping) -> str:
    """Strip markup and split sentences that scraping glued together ("TSA lockOne handle"), except inside
    names from the title or brand ("PlayStation")."""
    text = re.sub(r"<[^>]+>", " ", description)
    protected = set(re.findall(r"\w+", f"{_text(product.get('title'))} {_text(product.get('brand'))}"))

    def split(m: re.Match) -> str:
        return m.group() if m.group() in protected else f"{m.group(1)}. {m.group(2)}"

    text = re.sub(r"\b(\w*[a-z]{2})([A-Z][a-z]\w*)", split, text)
    return re.sub(r"\s+", " ", text).strip()


def _is_listing_key(key: str) -> bool:
    return any(_LISTING_WORDS.match(word) for word in re.split(r"[^A-Za-z0-9]+", key))
