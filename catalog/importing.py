"""Reading catalog files: decoding, CSV/JSON parsing, column mapping and per-row validation.

Nothing here touches the database, so `catalog.services.product_import` (which does the writing) and the
benchmark's naive baseline work from the same parsed rows.

How a file is read:
- Reading the bytes is `storyfront.uploads` (shared with the other uploads); its errors become
  `ImportFileError`s with the same message and code.
- Size: over the limit raises `ImportTooLarge`. Encoding: UTF-8 (with or without BOM) first, then
  charset_normalizer; a file that cannot be decoded clearly raises `ImportFileError`.
- Format: `file_format` if given, else the file extension (.csv/.tsv/.txt, .json), else the content.
- Columns: headers are matched case- and punctuation-insensitively against `FIELD_ALIASES` (our own
  field names, Shopify, Myntra, UCI Online Retail and other common export names). When several columns
  match one field, the first in alias order is used and the others fill in only where it is blank (Shopify:
  `Variant SKU`, falling back to `Handle`). A file without a title column uses its description column as
  the title (UCI Online Retail). Myntra's `Gender` names who a product is for, not what it is, so it is an
  attribute like any other unknown column; a file without a category column leaves products uncategorised.
  A price header that names a currency (`Price (INR)`) sets that currency for rows without a currency.
- Cells are cleaned by `catalog.import_values` (one cleaner per field; its ValueError is the cell's error).
- Unknown columns become attributes (`PrimaryColor` -> `attributes["primary_color"]`, blank cells skipped;
  CSV values are strings, JSON values are kept as given). Columns that describe a sale rather than a
  product (invoice number and date, quantity sold, customer, country) and our own read-only fields (`id`,
  `created_at`, ...) are listed in the report's `ignored_columns`.
- Rows: line numbers are what a spreadsheet shows (header = line 1, first product = line 2, a quoted
  multi-line cell stays one line); for JSON, the 1-based position in the list. Blank rows are skipped.
  A SKU seen before in the same file is an error naming the first line, even when that line was invalid.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.utils.text import slugify

from catalog.import_values import FIELD_CLEANERS, is_blank
from storyfront import uploads

REQUIRED_FIELDS = ("sku", "title", "price")
DEFAULT_CURRENCY = "USD"  # Product.currency's default

# Normalised header names (lower case, letters and digits only) per field, in priority order.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "sku": (
        "sku",
        "variantsku",
        "productsku",
        "itemsku",
        "stockcode",
        "productid",
        "itemid",
        "productcode",
        "itemcode",
        "articlenumber",
        "partnumber",
        "handle",
    ),
    "title": ("title", "name", "productname", "producttitle", "itemname"),
    "brand": ("brand", "productbrand", "brandname", "vendor", "manufacturer"),
    "category": ("category", "categoryname", "productcategory", "type", "producttype", "department"),
    "price": ("price", "unitprice", "variantprice", "saleprice", "listprice", "regularprice"),
    "currency": ("currency", "currencycode", "pricecurrency"),
    "description": ("description", "bodyhtml", "body", "productdescription", "longdescription", "details"),
    "url": ("url", "link", "producturl", "productlink", "permalink"),
    "stock": (
        "stock",
        "inventory",
        "variantinventoryqty",
        "inventoryquantity",
        "stockquantity",
        "quantityinstock",
        "qtyonhand",
        "stocklevel",
    ),
    "is_active": ("isactive", "active", "published", "enabled"),
    "attributes": ("attributes",),
}
# Used only when the file has no column for the field itself.
COLUMN_FALLBACKS: dict[str, tuple[str, ...]] = {
    "title": ("description", "productdescription"),
}
IGNORED_HEADERS = frozenset(
    {
        "id",
        "createdat",
        "updatedat",
        "merchant",
        "instock",
        "categoryslug",
        "invoiceno",
        "invoicenumber",
        "invoicedate",
        "quantity",
        "customerid",
        "country",
    }
)

MAX_REPORTED_ERRORS = 10_000
PREVIEW_ROWS = 50

# The file types the importer takes; any other suffix is refused.
_SUFFIX_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json"}
_PRICE_HEADER_CURRENCY = re.compile(
    r"^\s*(?:unit|variant|sale|list|regular)?[\s_-]*price\s*(?:[\(\[]\s*([A-Za-z]{3})\s*[\)\]]|[\s_-]+([A-Z]{3}))\s*$",
    re.IGNORECASE,
)
# Markers put into a raw record for problems found while reading; a NUL cannot clash with a real header.
_EXTRA_CELLS = uploads.EXTRA_CELLS
_NOT_AN_OBJECT = uploads.NOT_AN_OBJECT


class ImportFileError(Exception):
    """The file as a whole cannot be imported (nothing is written). `code` is stable for clients."""

    def __init__(self, message: str, code: str = "invalid_file"):
        super().__init__(message)
        self.message = message
        self.code = code


class ImportTooLarge(ImportFileError):
    def __init__(self, size: int, limit: int):
        super().__init__(uploads.UploadTooLarge(size, limit).message, code="too_large")
        self.size = size
        self.limit = limit


@contextmanager
def _file_errors() -> Iterator[None]:
    """storyfront.uploads' errors as this module's, with the same message and code."""
    try:
        yield
    except uploads.UploadTooLarge as exc:
        raise ImportTooLarge(exc.size, exc.limit) from None
    except uploads.UploadError as exc:
        raise ImportFileError(exc.message, code=exc.code) from None


@dataclass
class ParsedRow:
    line: int
    sku: str
    values: dict[str, Any]  # model field name -> clean value; `category` is the category *name*
    category_slug: str = ""


@dataclass
class ParsedFile:
    file_format: str
    columns: dict[str, str]
    ignored_columns: list[str]
    fields: set[str]  # Product fields the file provides (and an upsert may overwrite)
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    total_rows: int = 0


# --- entry point -------------------------------------------------------------------------------------------


def parse_import(
    data: bytes, *, filename: str = "", file_format: str | None = None, max_bytes: int | None = None
) -> ParsedFile:
    with _file_errors():
        uploads.check_size(len(data), max_bytes)
    if not data.strip():
        raise ImportFileError("The file is empty.", code="empty_file")
    file_format = detect_format(filename=filename, file_format=file_format, data=data)
    text = decode_text(data)
    if not text.strip():
        raise ImportFileError("The file is empty.", code="empty_file")
    headers, records = _read_table(text, filename, file_format)
    if not records:
        raise ImportFileError("The file has a header but no product rows.", code="no_rows")
    mapping = map_columns(headers)
    parsed = ParsedFile(
        file_format=file_format,
        columns=mapping.columns,
        ignored_columns=mapping.ignored,
        fields=mapping.fields,
    )
    first_line_by_sku: dict[str, int] = {}
    for line, record in records:
        parsed.total_rows += 1
        row, errors = _clean_row(line, record, mapping)
        if row.sku:
            first = first_line_by_sku.setdefault(row.sku, line)
            if first != line:
                errors.setdefault("sku", f"Duplicate SKU: already on line {first} of this file.")
        if errors:
            parsed.error_count += 1
            if len(parsed.errors) < MAX_REPORTED_ERRORS:
                parsed.errors.append({"line": line, "sku": row.sku, "errors": errors})
        else:
            parsed.rows.append(row)
    return parsed


# --- file level --------------------------------------------------------------------------------------------


def detect_format(*, filename: str, file_format: str | None, data: bytes) -> str:
    with _file_errors():
        if not file_format:
            return uploads.detect_format(filename, data, suffixes=_SUFFIX_FORMATS)
        uploads.refuse_archive(data)
    fmt = file_format.strip().lower()
    if fmt not in ("csv", "json"):
        raise ImportFileError(f"Unknown format '{file_format}'. Use 'csv' or 'json'.", code="unknown_format")
    return fmt


def decode_text(data: bytes) -> str:
    """The file's text (storyfront.uploads.decode_upload), or ImportFileError."""
    with _file_errors():
        return uploads.decode_upload(data)


def _read_table(
    text: str, filename: str, file_format: str
) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    with _file_errors():
        if file_format == "json":
            return uploads.read_json_table(
                text, what="product", example='{"sku": ..., "title": ..., "price": ...}'
            )
        return uploads.read_csv_table(text, filename)


# --- columns -----------------------------------------------------------------------------------------------


def normalize_header(header: str) -> str:
    return re.sub(r"[^0-9a-z]", "", header.casefold())


def attribute_key(header: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", header.strip())
    return re.sub(r"[^0-9a-z]+", "_", snake.lower()).strip("_") or header.strip()


@dataclass
class ColumnMapping:
    sources: dict[str, list[str]]  # field -> headers, in priority order
    attributes: dict[str, str]  # header -> attribute key
    columns: dict[str, str]  # header -> "field" or "attributes.<key>", for the report
    ignored: list[str]
    fields: set[str]
    currency_from_header: str = ""


def map_columns(headers: list[str]) -> ColumnMapping:
    sources, currency_from_header = _field_sources(headers)
    _require_fields(sources, headers)
    columns, attributes, ignored = _classify_headers(headers, sources)
    fields = set(sources)
    if attributes:
        fields.add("attributes")
    if currency_from_header:
        fields.add("currency")
    return ColumnMapping(sources, attributes, columns, ignored, fields, currency_from_header)


def _field_sources(headers: list[str]) -> tuple[dict[str, list[str]], str]:
    """Field -> headers that feed it (in priority order), and the currency read from a "Price (EUR)" header."""
    by_norm = {normalize_header(h): h for h in headers if h}
    sources: dict[str, list[str]] = {}
    for fld, aliases in FIELD_ALIASES.items():
        found = [by_norm[a] for a in aliases if a in by_norm]
        if found:
            sources[fld] = found
    currency_from_header = ""
    if "price" not in sources:
        currency_from_header = _price_from_currency_header(headers, sources)
    _apply_fallbacks(by_norm, sources)
    return sources, currency_from_header


def _price_from_currency_header(headers: list[str], sources: dict[str, list[str]]) -> str:
    for header in headers:
        match = _PRICE_HEADER_CURRENCY.match(header)
        if match:
            sources["price"] = [header]
            return (match.group(1) or match.group(2)).upper()
    return ""


def _apply_fallbacks(by_norm: dict[str, str], sources: dict[str, list[str]]) -> None:
    for fld, aliases in COLUMN_FALLBACKS.items():
        if fld in sources:
            continue
        header = next((by_norm[a] for a in aliases if a in by_norm), None)
        if header is None:
            continue
        sources[fld] = [header]
        for other, their in list(sources.items()):
            if other != fld and header in their:
                their.remove(header)
                if not their:
                    del sources[other]


def _require_fields(sources: dict[str, list[str]], headers: list[str]) -> None:
    missing = [f for f in REQUIRED_FIELDS if f not in sources]
    if missing:
        found = ", ".join(f"'{h}'" for h in headers if h) or "none"
        accepted = "; ".join(f"{f}: {', '.join(FIELD_ALIASES[f][:5])}" for f in missing)
        raise ImportFileError(
            f"Missing required column(s): {', '.join(missing)}. Found columns: {found}. "
            f"Accepted names include {accepted}.",
            code="missing_columns",
        )


def _classify_headers(
    headers: list[str], sources: dict[str, list[str]]
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Each header becomes a mapped field, a free-form attribute, or an ignored column."""
    mapped = {h for hs in sources.values() for h in hs}
    columns: dict[str, str] = {}
    attributes: dict[str, str] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers, start=1):
        if header in mapped:
            columns[header] = next(f for f, hs in sources.items() if header in hs)
        elif not header:
            ignored.append(f"(column {index}, no header)")
        elif normalize_header(header) in IGNORED_HEADERS:
            ignored.append(header)
        else:
            attributes[header] = attribute_key(header)
            columns[header] = f"attributes.{attributes[header]}"
    return columns, attributes, ignored


# --- rows --------------------------------------------------------------------------------------------------


def _clean_row(line: int, record: dict[str, Any], mapping: ColumnMapping) -> tuple[ParsedRow, dict[str, str]]:
    errors: dict[str, str] = {}
    if _NOT_AN_OBJECT in record:
        errors["row"] = f"Expected a product object, got {record[_NOT_AN_OBJECT]}."
        return ParsedRow(line=line, sku="", values={}), errors
    if _EXTRA_CELLS in record:
        errors["row"] = record[_EXTRA_CELLS]

    raw: dict[str, Any] = {}
    for fld, headers in mapping.sources.items():
        value = None
        for header in headers:
            value = record.get(header)
            if not is_blank(value):
                break
        raw[fld] = value

    values: dict[str, Any] = {}
    for fld, value in raw.items():
        try:
            values[fld] = FIELD_CLEANERS[fld](value)
        except ValueError as exc:
            errors[fld] = str(exc)

    sku = values.get("sku") or (str(raw["sku"]).strip() if isinstance(raw.get("sku"), str | int) else "")
    if "currency" in mapping.fields and not values.get("currency") and "currency" not in errors:
        values["currency"] = mapping.currency_from_header or DEFAULT_CURRENCY

    category_slug = ""
    if values.get("category"):
        category_slug = category_slug_for(values["category"])
        if not category_slug:
            errors["category"] = "A category name must contain letters or digits."

    if mapping.attributes:
        extra = {}
        for header, key in mapping.attributes.items():
            value = record.get(header)
            if not is_blank(value):
                extra[key] = value.strip() if isinstance(value, str) else value
        values["attributes"] = {**extra, **(values.get("attributes") or {})}

    return ParsedRow(line=line, sku=sku, values=values, category_slug=category_slug), errors


@functools.lru_cache(maxsize=4096)
def category_slug_for(name: str) -> str:
    """Categories are matched by slug, so "Men", "men" and "MEN" are one category."""
    return slugify(name, allow_unicode=True)[:220]
