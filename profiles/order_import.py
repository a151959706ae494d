"""Reading behaviour files into event dicts for `profiles.ingest.ingest_events`: order exports with the UCI
Online Retail header, and interaction sequences (one user per line). Nothing here touches the database;
`profiles.import_services` writes (customers, products, events) and records the ImportRun.

Order exports (`parse_orders`): one row per invoice line, columns InvoiceNo, StockCode, Description, Quantity,
InvoiceDate, UnitPrice, CustomerID, Country (the 2009-2011 release's Invoice, Price and Customer ID are
accepted too).
- A line is a `purchase` event (order_id = InvoiceNo, product = StockCode, quantity, value = quantity x unit
  price, occurred_at = InvoiceDate read in the given timezone, default UTC). An invoice starting with "C" is a
  cancellation: a `refund` event with positive quantity and value, order_id the C-invoice.
- CustomerID "17850.0" (pandas writes ids as floats) is customer "17850"; a line without one is anonymous, with
  session_id "invoice:<InvoiceNo>".
- Idempotency key "order:<InvoiceNo>:<n>", n = the line's position within its invoice in the file (bad lines
  count), so importing the same file again, or an overlapping export, inserts nothing twice.
- Rejected lines (reported with their spreadsheet line number): missing invoice or stock code, a quantity that
  is not a whole number or is 0, a negative quantity on a sale (the UCI file's stock adjustments: unpriced,
  anonymous, never sales), a negative or non-numeric price, a date that cannot be read.

Interaction sequences (`parse_sequences`): `user_id item_1 item_2 ...` per line, oldest first (the S3-Rec
Amazon Beauty file). Customer = prefix + user id, product SKU = item id, one event per item of the given type
(default `purchase`, no value), idempotency key "seq:<customer>:<position>" (1-based). The file has no times,
so they are synthesised preserving order: a user's last item happens at `end` (default: when the import
starts), each earlier one `step` (default one day) before the next. Recency-based scores on such data say
nothing about real time.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from catalog.importing import ImportFileError, ImportTooLarge, decode_text, normalize_header
from profiles.models import EventType
from storyfront import uploads

DEFAULT_CURRENCY = "GBP"
MAX_REPORTED_ERRORS = 10_000
PREVIEW_ROWS = 50
MAX_VALUE = Decimal("999999999999.99")  # Event.value: 14 digits, 2 decimals
# Columns of an order export, by normalised header in priority order; the first five are required.
ORDER_COLUMNS: dict[str, tuple[str, ...]] = {
    "invoice": ("invoiceno", "invoice", "invoicenumber"),
    "sku": ("stockcode",),
    "quantity": ("quantity",),
    "date": ("invoicedate",),
    "price": ("unitprice", "price"),
    "description": ("description",),
    "customer": ("customerid",),
    "country": ("country",),
}
REQUIRED_ORDER_COLUMNS = ("invoice", "sku", "quantity", "date", "price")
# UCI codes that are not merchandise (postage, carriage, discount, manual, fees, samples): their lines stay
# events (they are money paid or refunded), and their products are created inactive, so never recommended.
NON_PRODUCT_CODES = frozenset(
    {"POST", "DOT", "C2", "D", "M", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "S", "B"}
)
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d")
_WHOLE = re.compile(r"^[+-]?\d+(\.0*)?$")


@dataclass
class OrderLine:
    line: int
    invoice: str
    position: int
    sku: str
    description: str
    quantity: int  # as in the file: negative on cancellations
    unit_price: Decimal
    occurred_at: datetime
    customer: str
    country: str

    @property
    def is_refund(self) -> bool:
        return self.invoice.upper().startswith("C")

    @property
    def value(self) -> Decimal:
        return (abs(self.quantity) * self.unit_price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def event(self, *, currency: str) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": (EventType.REFUND if self.is_refund else EventType.PURCHASE).value,
            "product": self.sku,
            "quantity": abs(self.quantity),
            "value": str(self.value),
            "currency": currency,
            "order_id": self.invoice,
            "occurred_at": self.occurred_at.isoformat(),
            "idempotency_key": f"order:{self.invoice}:{self.position}",
            "properties": {"unit_price": plain(self.unit_price)},
        }
        if self.customer:
            event["customer"] = self.customer
        else:
            event["session_id"] = f"invoice:{self.invoice}"
        return event


@dataclass
class ParsedBehaviour:
    """Valid items (OrderLine or SequenceUser), bad lines reported, and the header mapping for the report."""

    file_format: str
    items: list = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    total_rows: int = 0
    columns: dict[str, str] = field(default_factory=dict)

    def reject(self, line: int, errors: dict[str, str], **context: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"line": line, **context, "errors": errors})


def plain(number: Decimal) -> str:
    """A decimal as a file would write it: 50, 2.55 (never 5E+1)."""
    return format(number.normalize(), "f")


def timezone_get(name: str | None) -> ZoneInfo:
    """The timezone order dates are read in; ValueError with a message for the user when unknown."""
    try:
        return ZoneInfo((name or "UTC").strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"Unknown timezone '{name}'. Use a name such as UTC or Europe/London.") from None


def read_text(data: bytes, *, max_bytes: int | None) -> str:
    """The upload's text, with the same file errors as every import (ImportFileError / ImportTooLarge)."""
    try:
        uploads.check_size(len(data), max_bytes)
        uploads.refuse_archive(data)
    except uploads.UploadTooLarge as exc:
        raise ImportTooLarge(exc.size, exc.limit) from None
    except uploads.UploadError as exc:
        raise ImportFileError(exc.message, code=exc.code) from None
    text = decode_text(data)
    if not text.strip():
        raise ImportFileError("The file is empty.", code="empty_file")
    return text


# --- orders ------------------------------------------------------------------------------------------------


def parse_orders(text: str, *, tz: tzinfo = UTC) -> ParsedBehaviour:
    parsed = ParsedBehaviour(file_format="uci")
    positions: Counter[str] = Counter()
    header: dict[str, int] | None = None
    try:
        for line, _, cells in uploads.iter_csv_rows(text):
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = _order_header(cells, parsed)
                continue
            parsed.total_rows += 1
            raw = {name: (cells[i].strip() if i < len(cells) else "") for name, i in header.items()}
            if raw["invoice"]:
                positions[raw["invoice"]] += 1
            order_line, errors = _order_line(line, raw, positions[raw["invoice"]], tz)
            if errors:
                parsed.reject(line, errors, invoice=raw["invoice"], sku=raw["sku"])
            else:
                parsed.items.append(order_line)
    except uploads.UploadError as exc:
        raise ImportFileError(exc.message, code=exc.code) from None
    if header is None or not parsed.total_rows:
        raise ImportFileError("The file has no order lines.", code="no_rows")
    return parsed


def _order_header(cells: list[str], parsed: ParsedBehaviour) -> dict[str, int]:
    by_norm: dict[str, int] = {}
    for index, cell in enumerate(cells):
        by_norm.setdefault(normalize_header(cell), index)
    header: dict[str, int] = {}
    for name, aliases in ORDER_COLUMNS.items():
        index = next((by_norm[a] for a in aliases if a in by_norm), None)
        if index is not None:
            header[name] = index
            parsed.columns[cells[index].strip()] = name
    missing = [ORDER_COLUMNS[name][0] for name in REQUIRED_ORDER_COLUMNS if name not in header]
    if missing:
        found = ", ".join(f"'{c.strip()}'" for c in cells if c.strip()) or "none"
        raise ImportFileError(
            "This is not an order export with the UCI Online Retail header (InvoiceNo, StockCode, Description, "
            f"Quantity, InvoiceDate, UnitPrice, CustomerID, Country): missing {', '.join(missing)}. "
            f"Found columns: {found}.",
            code="missing_columns",
        )
    for optional in ("description", "customer", "country"):
        header.setdefault(optional, len(cells) + 1000)  # reads as blank
    return header


def _order_line(
    line: int, raw: dict[str, str], position: int, tz: tzinfo
) -> tuple[OrderLine | None, dict[str, str]]:
    errors: dict[str, str] = {}
    invoice, sku = raw["invoice"], raw["sku"]
    for name, value, limit in (("invoice", invoice, 100), ("sku", sku, 100)):
        if not value:
            errors[name] = "This field is required."
        elif len(value) > limit:
            errors[name] = f"At most {limit} characters (this one has {len(value)})."
    quantity = _quantity(raw["quantity"], invoice, errors)
    unit_price = _unit_price(raw["price"], errors)
    occurred_at = _date(raw["date"], tz, errors)
    customer = _customer_id(raw["customer"], errors)
    if quantity and unit_price is not None and abs(quantity) * unit_price > MAX_VALUE:
        errors["quantity"] = "The line's value (quantity x unit price) is too large."
    if errors:
        return None, errors
    return (
        OrderLine(
            line=line,
            invoice=invoice,
            position=position,
            sku=sku,
            description=raw["description"][:500],
            quantity=quantity,
            unit_price=unit_price,
            occurred_at=occurred_at,
            customer=customer,
            country=raw["country"][:64],
        ),
        errors,
    )


def _quantity(text: str, invoice: str, errors: dict[str, str]) -> int:
    if not _WHOLE.match(text):
        errors["quantity"] = f"'{text[:30]}' is not a whole number." if text else "This field is required."
        return 0
    quantity = int(Decimal(text))
    if quantity == 0:
        errors["quantity"] = "The quantity is 0."
    elif abs(quantity) > 2_147_483_647:
        errors["quantity"] = "The quantity is too large."
    elif quantity < 0 and not invoice.upper().startswith("C"):
        errors["quantity"] = (
            f"A negative quantity ({quantity}) on a sale is a stock adjustment, not a purchase; "
            "cancellations are invoices starting with C."
        )
    return quantity


def _unit_price(text: str, errors: dict[str, str]) -> Decimal | None:
    try:
        price = Decimal(text)
    except InvalidOperation:
        price = None
    if price is None or not price.is_finite():
        errors["price"] = f"'{text[:30]}' is not a price." if text else "This field is required."
        return None
    if price < 0:
        errors["price"] = f"A unit price cannot be negative (got {text})."
        return None
    return price.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _date(text: str, tz: tzinfo, errors: dict[str, str]) -> datetime | None:
    moment = None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _DATE_FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if moment is None:
        errors["date"] = (
            f"'{text[:40]}' is not a date and time; use YYYY-MM-DD HH:MM[:SS]."
            if text
            else "This field is required."
        )
        return None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _customer_id(text: str, errors: dict[str, str]) -> str:
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".", 1)[0]
    if len(text) > 200:
        errors["customer"] = f"At most 200 characters (this one has {len(text)})."
    return text


def order_products(lines: list[OrderLine]) -> dict[str, dict[str, Any]]:
    """One product per stock code: title = the first non-blank description (else the code), price = the unit
    price of the first sale line with a price (else of the first refund line with one, else 0), inactive for
    non-merchandise codes."""
    titles: dict[str, str] = {}
    prices: dict[tuple[str, bool], Decimal] = {}
    for line in lines:
        titles.setdefault(line.sku, "")
        if not titles[line.sku] and line.description not in ("", "?"):
            titles[line.sku] = line.description
        if line.unit_price > 0:
            prices.setdefault((line.sku, line.is_refund), line.unit_price)
    return {
        sku: {
            "sku": sku,
            "title": title or sku,
            "price": plain(prices.get((sku, False)) or prices.get((sku, True)) or Decimal("0")),
            "is_active": sku.upper() not in NON_PRODUCT_CODES,
        }
        for sku, title in titles.items()
    }


def order_customers(lines: list[OrderLine]) -> dict[str, str]:
    """Customer external id -> the first country given on their lines."""
    customers: dict[str, str] = {}
    for line in lines:
        if line.customer and not customers.get(line.customer):
            customers[line.customer] = line.country
    return customers


# --- interaction sequences ---------------------------------------------------------------------------------


@dataclass
class SequenceUser:
    line: int
    customer: str
    items: list[str]


def parse_sequences(text: str, *, customer_prefix: str = "", sku_prefix: str = "") -> ParsedBehaviour:
    parsed = ParsedBehaviour(file_format="sequences")
    first_line: dict[str, int] = {}
    for line, content in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        tokens = content.split()
        if not tokens:
            continue
        parsed.total_rows += 1
        customer = f"{customer_prefix}{tokens[0]}"
        items = [f"{sku_prefix}{token}" for token in tokens[1:]]
        errors: dict[str, str] = {}
        if len(customer) > 200:
            errors["user"] = f"A user id is at most 200 characters (this one has {len(customer)})."
        elif first_line.setdefault(customer, line) != line:
            errors["user"] = f"Duplicate user: already on line {first_line[customer]} of this file."
        if not items:
            errors["items"] = "No items after the user id."
        elif too_long := next((item for item in items if len(item) > 100), None):
            errors["items"] = f"An item id is at most 100 characters ('{too_long[:30]}...')."
        if errors:
            parsed.reject(line, errors, user=customer[:200])
        else:
            parsed.items.append(SequenceUser(line=line, customer=customer, items=items))
    if not parsed.total_rows:
        raise ImportFileError("The file has no sequences.", code="no_rows")
    return parsed


def sequence_events(
    user: SequenceUser, *, event_type: str, end: datetime, step: timedelta
) -> list[dict[str, Any]]:
    count = len(user.items)
    return [
        {
            "type": event_type,
            "customer": user.customer,
            "product": item,
            "quantity": 1,
            "occurred_at": (end - (count - position) * step).isoformat(),
            "idempotency_key": f"seq:{user.customer}:{position}",
        }
        for position, item in enumerate(user.items, start=1)
    ]


def check_currency(value: str | None) -> str:
    value = (value or DEFAULT_CURRENCY).strip().upper()
    if len(value) != 3 or not value.isalpha() or not value.isascii():
        raise ValueError(f"'{value[:10]}' is not a currency; use a 3-letter code such as GBP.")
    return value


def check_event_type(event_type: str | None) -> str:
    event_type = (event_type or EventType.PURCHASE).strip()
    if event_type not in EventType.values:
        raise ValueError(f"Unknown event type '{event_type}'. Use one of {', '.join(EventType.values)}.")
    return event_type
