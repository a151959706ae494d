"""The grounding evaluation set's inputs: where the pieces and labels live, the brand voices the pieces were
written under, and the products they describe, rebuilt from their references.

Product references are ``myntra:<ProductID>`` (a row of ../shared/datasets/myntra_fashion_catalog, read at
evaluation time through the catalog import's own parser, so the facts are exactly what a merchant importing
that file would have) or ``demo:<sku>`` (the project's demo catalog). Nothing from the dataset is stored in
the repository: the pieces file holds generated text and references, the labels hold spans of that text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GROUNDING_DIR = ROOT / "bench" / "grounding"
COPY_PIECES = GROUNDING_DIR / "copy_pieces.jsonl"
COPY_LABELS = GROUNDING_DIR / "copy_labels.jsonl"
DEFAULT_MYNTRA_CSV = (
    ROOT.parent / "shared" / "datasets" / "myntra_fashion_catalog" / "myntra_products_catalog.csv"
)

# The voices the pieces were written under (the copy benchmark's and the demo's, with one "never" rule each
# that a reader can check: punctuation for the demo, a word list for both).
BRAND_VOICES = {
    "myntra": {
        "tone_words": ["confident", "warm", "concise"],
        "audience": "Fashion shoppers in India browsing on their phones",
        "do": ["Name the colour and what the product is", "Use only the facts given"],
        "dont": ["Invent discounts, sizes or materials", "Mention other shops or websites"],
        "banned_words": ["cheap", "guaranteed"],
        "examples": [],
    },
    "demo": {
        "tone_words": ["warm", "confident", "plain-spoken"],
        "audience": "Outdoor and city shoppers who buy well-made things and keep them for years",
        "do": ["Say what the product is made of", "Name one concrete use"],
        "dont": ["Invent discounts, prices or sizes", "Never use exclamation marks"],
        "banned_words": ["cheap", "guaranteed", "best ever"],
        "examples": ["Built for long days on the trail, and for the commute after."],
    },
}


def _product_dict(sku: str, values: dict) -> dict:
    """The shape `marketing.selectors.product_facts` gives the prompt builder and the checker."""
    return {
        "sku": sku,
        "title": values.get("title") or "",
        "brand": values.get("brand") or "",
        "category": values.get("category") or "",
        "price": str(values["price"]) if values.get("price") is not None else "",
        "currency": values.get("currency") or "",
        "attributes": {
            str(k): "" if v is None else str(v) for k, v in (values.get("attributes") or {}).items()
        },
        "description": values.get("description") or "",
        "url": values.get("url") or "",
        "in_stock": True,
    }


def _myntra_rows(csv_path: Path) -> tuple[list[str], list[dict]]:
    with open(csv_path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [r for r in reader if (r.get("Description") or "").strip()]
        return list(reader.fieldnames or []), rows


def _parse(fields: list[str], rows: Iterable[dict]) -> list[dict]:
    from catalog.importing import parse_import

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    parsed = parse_import(out.getvalue().encode(), filename="myntra_products_catalog.csv")
    return [_product_dict(row.sku, row.values) for row in parsed.rows]


def myntra_products(csv_path: Path, count: int) -> list[dict]:
    """``count`` rows with a description, evenly spaced, offset by half a step from the copy benchmark's."""
    fields, rows = _myntra_rows(csv_path)
    step = max(1, len(rows) // count)
    return _parse(fields, rows[step // 2 :: step][:count])


def demo_products(count: int) -> list[dict]:
    """Every other demo product (both brands and all categories), ``count`` of them."""
    from catalog.demo_catalog import demo_catalog_rows

    rows = demo_catalog_rows()[::2][:count]
    return [_product_dict(r["sku"], {**r}) for r in rows]


def products_by_ref(refs: Iterable[str], csv_path: Path = DEFAULT_MYNTRA_CSV) -> dict[str, dict]:
    """Rebuild the product facts for references; Myntra rows are read from the dataset (which must exist)."""
    refs = set(refs)
    found: dict[str, dict] = {}
    myntra_ids = {r.split(":", 1)[1] for r in refs if r.startswith("myntra:")}
    if myntra_ids:
        fields, rows = _myntra_rows(csv_path)
        wanted = [r for r in rows if r.get("ProductID", "").strip() in myntra_ids]
        for product in _parse(fields, wanted):
            found[f"myntra:{product['sku']}"] = product
    if any(r.startswith("demo:") for r in refs):
        from catalog.demo_catalog import demo_catalog_rows

        for row in demo_catalog_rows():
            ref = f"demo:{row['sku']}"
            if ref in refs:
                found[ref] = _product_dict(row["sku"], {**row})
    return found
