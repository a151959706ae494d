"""Validation of one incoming event (the API's event schema), by hand: a DRF serializer costs ~1 ms per event,
which would cap ingestion near 1,000 events/s; these checks cost a few microseconds.

`clean_event(raw, now, source)` returns `(CleanEvent, None)` or `(None, {field: [message, ...]})`.
The schema is documented in docs/profiles.md ("Events"); keep the two in step."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from profiles.models import EventType

EVENT_TYPES = frozenset(EventType.values)
# Events about one product: they must name it (by SKU).
PRODUCT_EVENTS = frozenset(
    {
        EventType.VIEW,
        EventType.ADD_TO_CART,
        EventType.PURCHASE,
        EventType.REFUND,
        EventType.REVIEW,
        EventType.RECOMMENDATION_CLICK,
    }
)
FIELDS = frozenset(
    {
        "type",
        "customer",
        "session_id",
        "product",
        "quantity",
        "value",
        "currency",
        "query",
        "order_id",
        "occurred_at",
        "source",
        "idempotency_key",
        "properties",
    }
)
MAX_FUTURE = timedelta(days=1)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
MAX_QUANTITY = 2_147_483_647  # Event.quantity is a 32-bit integer
MAX_VALUE = Decimal("1e12")  # Event.value is max_digits=14, decimal_places=2
CENT = Decimal("0.01")
PROPERTIES_MAX_BYTES = 16 * 1024
PROPERTIES_MAX_DEPTH = 8
_CURRENCY = re.compile(r"[A-Za-z]{3}")
# A NUL character, JSON-escaped and not itself preceded by an escaping backslash: PostgreSQL refuses it in text
# and jsonb alike.
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_NOT_STRING = "Must be a string."
_UNKNOWN_FIELD = "Unknown field; put custom data in `properties`."
_UNKNOWN_TYPE = f"Unknown type; one of: {', '.join(EventType.values)}."
_UNSTORABLE = "Contains characters that cannot be stored (NUL or a lone surrogate)."


@dataclass(slots=True)
class CleanEvent:
    index: int
    type: str
    customer: str
    session_id: str
    sku: str
    quantity: int
    value: Decimal | None
    currency: str
    query: str
    order_id: str
    occurred_at: datetime
    source: str
    idempotency_key: str
    properties: str  # JSON text, written as is into the jsonb column


def clean_event(
    raw: object, index: int, now: datetime, source: str
) -> tuple[CleanEvent | None, dict[str, list[str]] | None]:
    if not isinstance(raw, dict):
        return None, {"event": ["Each event must be a JSON object."]}
    errors: dict[str, list[str]] = {}
    if not FIELDS.issuperset(raw):
        for key in raw:
            if key not in FIELDS:
                errors[str(key)[:100]] = [_UNKNOWN_FIELD]
    kind = raw.get("type")
    if type(kind) is not str or kind not in EVENT_TYPES:
        errors["type"] = ["This field is required." if kind is None else _UNKNOWN_TYPE]
        kind = ""
    get = raw.get
    customer = _text(get("customer"), "customer", 200, errors, numbers=True)
    session_id = _text(get("session_id"), "session_id", 200, errors, numbers=True)
    if not customer and not session_id and "customer" not in errors and "session_id" not in errors:
        errors["customer"] = ["Give the customer (their external id) or an anonymous session_id."]
    sku = _text(get("product"), "product", 100, errors, numbers=True)
    if not sku and kind in PRODUCT_EVENTS and "product" not in errors:
        errors["product"] = [f"A {kind} event needs the product's SKU."]
    query = _text(get("query"), "query", 500, errors)
    if not query and kind == EventType.SEARCH and "query" not in errors:
        errors["query"] = ["A search event needs the query text."]
    refund = kind == EventType.REFUND
    quantity = _quantity(get("quantity"), refund, errors)
    value = _value(get("value"), refund, errors)
    currency = _currency(get("currency"), errors)
    order_id = _text(get("order_id"), "order_id", 100, errors, numbers=True)
    occurred_at = _occurred_at(get("occurred_at"), now, errors)
    event_source = _text(get("source"), "source", 50, errors) or source
    key = _text(get("idempotency_key"), "idempotency_key", 200, errors, numbers=True)
    properties = _properties(get("properties"), errors)
    if errors:
        return None, errors
    return CleanEvent(
        index,
        kind,
        customer,
        session_id,
        sku,
        quantity,
        value,
        currency,
        query,
        order_id,
        occurred_at,
        event_source,
        key,
        properties,
    ), None


def _text(value: object, field: str, limit: int, errors: dict, *, numbers: bool = False) -> str:
    """A stripped string (ids may also be sent as whole numbers); '' when absent."""
    if value is None:
        return ""
    if type(value) is str:
        value = value.strip()
    elif numbers and type(value) is int:
        return str(value)
    else:
        errors[field] = [_NOT_STRING]
        return ""
    if len(value) > limit:
        errors[field] = [f"At most {limit} characters."]
    elif "\x00" in value or not (value.isascii() or _utf8(value)):
        errors[field] = [_UNSTORABLE]
    return value


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _quantity(value: object, refund: bool, errors: dict) -> int:
    if value is None:
        return 1
    if type(value) is float and value.is_integer():
        value = int(value)
    elif type(value) is str and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if type(value) is not int:
        errors["quantity"] = ["Must be a whole number."]
        return 1
    if refund and value < 0:  # order exports write a cancelled line as a negative quantity
        value = -value
    if value < 1 or value > MAX_QUANTITY:
        errors["quantity"] = [f"Must be between 1 and {MAX_QUANTITY:,} (a return is a `refund` event)."]
    return value


def _value(value: object, refund: bool, errors: dict) -> Decimal | None:
    """The line's amount (quantity x unit price) in `currency`; optional."""
    if value is None or value == "":
        return None
    try:
        if type(value) is int or type(value) is Decimal:
            amount = Decimal(value)
        elif type(value) is float:
            amount = Decimal(repr(value)) if math.isfinite(value) else Decimal("nan")
        elif type(value) is str:
            amount = Decimal(value.strip())
        else:
            raise InvalidOperation
    except InvalidOperation:
        errors["value"] = ["Must be a number, e.g. 19.99."]
        return None
    if not amount.is_finite():
        errors["value"] = ["Must be a finite number."]
        return None
    if refund and amount < 0:
        amount = -amount
    if amount < 0:
        errors["value"] = ["Must not be negative (a return is a `refund` event with a positive value)."]
    elif amount >= MAX_VALUE:
        errors["value"] = ["Must be less than 1,000,000,000,000."]
    else:
        return amount.quantize(CENT)
    return None


def _currency(value: object, errors: dict) -> str:
    if value is None or value == "":
        return ""
    if type(value) is not str or not _CURRENCY.fullmatch(value.strip()):
        errors["currency"] = ["Use a 3-letter currency code such as USD."]
        return ""
    return value.strip().upper()


def _occurred_at(value: object, now: datetime, errors: dict) -> datetime:
    if value is None or value == "":
        return now
    if type(value) is str:
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            errors["occurred_at"] = ["Use an ISO 8601 date-time such as 2025-03-01T12:30:00Z."]
            return now
    elif isinstance(value, datetime):
        when = value
    else:
        errors["occurred_at"] = ["Use an ISO 8601 date-time string such as 2025-03-01T12:30:00Z."]
        return now
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when > now + MAX_FUTURE:
        errors["occurred_at"] = ["Is more than a day in the future."]
    elif when < EARLIEST:
        errors["occurred_at"] = ["Is before 1970."]
    return when


def _properties(value: object, errors: dict) -> str:
    if value is None or value == {}:
        return "{}"
    if type(value) is not dict:
        errors["properties"] = ["Must be a JSON object."]
        return "{}"
    if _deeper_than(value, PROPERTIES_MAX_DEPTH):
        errors["properties"] = [f"Nested deeper than {PROPERTIES_MAX_DEPTH} levels."]
        return "{}"
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError, UnicodeEncodeError):
        errors["properties"] = ["Must be plain JSON (strings, numbers, booleans, lists, objects)."]
        return "{}"
    if size > PROPERTIES_MAX_BYTES:
        errors["properties"] = [f"At most {PROPERTIES_MAX_BYTES // 1024} KB of JSON."]
    elif _JSON_NUL.search(text):
        errors["properties"] = ["Contains a NUL character, which cannot be stored."]
    return text


def _deeper_than(value: object, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
