"""The segment rule language: what a condition may say, how it is checked, and how it becomes SQL.

A segment is a list of conditions joined by `all` (AND) or `any` (OR). Each condition is a JSON object with
`field` and `op`, a `value`, and a few extra keys for some fields:

    {"field": "r_score", "op": "gte", "value": 4}
    {"field": "rfm_segment", "op": "in", "value": ["champions", "loyal"]}
    {"field": "affinity", "kind": "category", "name": "Shirts", "op": "gte", "value": 0.3}
    {"field": "events", "event_type": "purchase", "within_days": 30, "op": "gte", "value": 2}
    {"field": "attribute", "key": "tier", "op": "eq", "value": "gold"}
    {"field": "country", "op": "in", "value": ["GB", "DE"]}

`RULE_FIELDS` is the vocabulary (docs/profiles.md lists it). `clean_rules` checks and normalises rules (numbers
given as text become numbers, yes/no words booleans, "GB, DE" a list) and reports problems per condition index;
profiles/segment_sql.py compiles clean rules into one `Q` on `Customer`, so a segment is a single query.

Consent: putting customers into segments is profiling, so a customer who refused profiling is in no segment,
whatever the rules (profiles.privacy drops their memberships at once; recomputes never add them back).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from profiles.models import EventType, RFMSegment
from storyfront.parsing import parse_bool

MAX_CONDITIONS = 20
MAX_LIST_ITEMS = 50
MAX_DAYS = 36_500
MAX_EVENT_COUNT = 1_000_000
MAX_AMOUNT = Decimal("999999999999")

OP_LABELS = {
    "eq": "is",
    "neq": "is not",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "in": "is any of",
    "not_in": "is none of",
    "contains": "contains",
    "exists": "is set",
    "startswith": "starts with",
}
MATCHES = ("all", "any")
AFFINITY_KINDS = ("category", "brand", "colour", "price_band")
ANY_EVENT = "any"
EVENT_TYPES = (ANY_EVENT, *EventType.values)
# Attribute keys: a letter or underscore first, so that a key is never read as a JSON array index.
_KEY_RE = re.compile(r"^[A-Za-z_][\w .:-]{0,99}$")
_NUMERIC_OPS = ("eq", "gt", "gte", "lt", "lte")


@dataclass(frozen=True)
class RuleField:
    """One thing a condition can test. `kind` says which value it takes (and which inputs the builder shows)."""

    name: str
    label: str
    group: str
    kind: (
        str  # score | segment_list | number | affinity | events | attribute | bool | text_list | text | days
    )
    ops: tuple[str, ...]
    help: str
    column: str = ""
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    op_labels: dict[str, str] = field(default_factory=dict)

    def op_label(self, op: str) -> str:
        return self.op_labels.get(op) or OP_LABELS.get(op, op)


def _score(name: str, label: str) -> RuleField:
    return RuleField(
        name=name,
        label=label,
        group="RFM",
        kind="score",
        ops=("eq", "gte", "lte"),
        help="Quintile score among your customers: 5 is the best fifth, 1 the lowest.",
        column=f"profile__{name}",
        minimum=1,
        maximum=5,
        integer=True,
    )


def _number(name: str, label: str, help_text: str, *, integer: bool, maximum=None) -> RuleField:
    return RuleField(
        name=name,
        label=label,
        group="Spending and risk",
        kind="number",
        ops=_NUMERIC_OPS,
        help=help_text,
        column=f"profile__{name}",
        minimum=0 if name != "monetary" else None,
        maximum=maximum,
        integer=integer,
    )


_DAYS_LABELS = {"lte": "within the last", "gte": "more than ... ago"}

RULE_FIELDS: dict[str, RuleField] = {
    f.name: f
    for f in (
        _score("r_score", "Recency score (R)"),
        _score("f_score", "Frequency score (F)"),
        _score("m_score", "Monetary score (M)"),
        RuleField(
            name="rfm_segment",
            label="RFM group",
            group="RFM",
            kind="segment_list",
            ops=("in", "not_in"),
            help="The RFM group the profile is in (champions, loyal, at risk...).",
            column="profile__rfm_segment",
        ),
        _number(
            "recency_days", "Days since last purchase", "Whole days since the latest order.", integer=True
        ),
        _number("frequency", "Number of orders", "Distinct orders, net of refunds.", integer=True),
        _number(
            "monetary", "Amount spent", "Total spent, net of refunds, in the shop's currency.", integer=False
        ),
        _number("lifetime_value", "Lifetime value", "Value to date, in the shop's currency.", integer=False),
        _number(
            "churn_risk",
            "Churn risk",
            "Chance (0 to 1) of no purchase in the next 90 days.",
            integer=False,
            maximum=1,
        ),
        RuleField(
            name="affinity",
            label="Interest in",
            group="Interests",
            kind="affinity",
            ops=("gte", "lte"),
            help="How much of the customer's recent interest goes to one category, brand, colour or price "
            "band, as a share from 0 to 1.",
            column="profile__affinities",
            minimum=0,
            maximum=1,
        ),
        RuleField(
            name="events",
            label="Did something",
            group="Behaviour",
            kind="events",
            ops=("gte", "lte", "eq"),
            help="How many events of a type the customer had in the last N days.",
            minimum=0,
            maximum=MAX_EVENT_COUNT,
            integer=True,
        ),
        RuleField(
            name="attribute",
            label="Attribute",
            group="Customer",
            kind="attribute",
            ops=("eq", "neq", "contains", "exists"),
            help="A custom attribute the shop sent (compared as text, ignoring case). 'is not' includes "
            "customers without it.",
            column="attributes",
        ),
        RuleField(
            name="consent_marketing",
            label="Accepts marketing",
            group="Consent",
            kind="bool",
            ops=("eq",),
            help="The customer opted in to marketing messages.",
            column="consent_marketing",
        ),
        RuleField(
            name="consent_profiling",
            label="Allows profiling",
            group="Consent",
            kind="bool",
            ops=("eq",),
            help="The customer allows profiling. Customers who refused it are never in a segment, so only "
            "'yes' matches anyone.",
            column="consent_profiling",
        ),
        RuleField(
            name="country",
            label="Country",
            group="Customer",
            kind="text_list",
            ops=("in", "not_in"),
            help="Country as the shop sent it (e.g. GB or United Kingdom); several separated by commas.",
            column="country",
        ),
        RuleField(
            name="locale",
            label="Locale",
            group="Customer",
            kind="text",
            ops=("eq", "startswith"),
            help="Language/locale code, e.g. en-GB ('starts with en' matches every English locale).",
            column="locale",
        ),
        RuleField(
            name="first_seen_days",
            label="First seen",
            group="Customer",
            kind="days",
            ops=("lte", "gte"),
            help="Days since the customer was first seen: 'within the last 30' finds new customers.",
            column="first_seen_at",
            minimum=0,
            maximum=MAX_DAYS,
            integer=True,
            op_labels=_DAYS_LABELS,
        ),
        RuleField(
            name="last_seen_days",
            label="Last seen",
            group="Customer",
            kind="days",
            ops=("lte", "gte"),
            help="Days since the customer was last seen (any event).",
            column="last_seen_at",
            minimum=0,
            maximum=MAX_DAYS,
            integer=True,
            op_labels=_DAYS_LABELS,
        ),
    )
}

_WITHIN_DAYS = RuleField(
    name="within_days",
    label="In the last",
    group="",
    kind="days",
    ops=(),
    help="",
    minimum=1,
    maximum=MAX_DAYS,
    integer=True,
)

# Extra keys each kind of condition takes besides field, op and value.
EXTRA_KEYS = {"affinity": ("kind", "name"), "events": ("event_type", "within_days"), "attribute": ("key",)}


class _Invalid(Exception):
    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key
        self.message = message


def _number_value(spec: RuleField, raw: Any, key: str = "value") -> int | float:
    if isinstance(raw, bool) or raw is None or (isinstance(raw, str) and not raw.strip()):
        raise _Invalid(key, "Enter a number.")
    try:
        number = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise _Invalid(key, "Enter a number.") from None
    if not number.is_finite() or abs(number) > MAX_AMOUNT:
        raise _Invalid(key, "Enter a smaller number.")
    if spec.integer and number != number.to_integral_value():
        raise _Invalid(key, "Enter a whole number.")
    low, high = spec.minimum, spec.maximum
    if (low is not None and number < Decimal(str(low))) or (high is not None and number > Decimal(str(high))):
        if low is not None and high is not None:
            raise _Invalid(key, f"Enter a number from {_plain(low)} to {_plain(high)}.")
        raise _Invalid(key, f"Enter a number of at least {_plain(low)}." if low is not None else "Too large.")
    # Rules are stored as JSON: whole numbers as ints, the rest as floats.
    return int(number) if spec.integer or number == number.to_integral_value() else float(number)


def _plain(number: float | None) -> str:
    return str(int(number)) if number is not None and float(number).is_integer() else str(number)


def _text(raw: Any, key: str, *, limit: int, required: bool = True) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise _Invalid(key, "Enter text.")
    text = str(raw).strip()
    if required and not text:
        raise _Invalid(key, "This is required.")
    if len(text) > limit:
        raise _Invalid(key, f"At most {limit} characters.")
    if any(ord(ch) < 32 for ch in text):
        raise _Invalid(key, "Control characters are not allowed.")
    return text


def _text_list(raw: Any, key: str = "value", *, limit: int = 64) -> list[str]:
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list | tuple):
        raise _Invalid(key, "Enter a list of values.")
    items = []
    for item in raw:
        text = _text(item, key, limit=limit, required=False)
        if text and text.upper() not in {i.upper() for i in items}:
            items.append(text)
    if not items:
        raise _Invalid(key, "Enter at least one value.")
    if len(items) > MAX_LIST_ITEMS:
        raise _Invalid(key, f"At most {MAX_LIST_ITEMS} values.")
    return items


def _choice(raw: Any, key: str, choices, message: str) -> str:
    if not isinstance(raw, str) or raw not in choices:
        raise _Invalid(key, message)
    return raw


def _clean_value(spec: RuleField, rule: dict, op: str) -> dict:
    """The condition's value (and extra keys) checked for its field; raises _Invalid naming the bad key."""
    raw = rule.get("value")
    kind = spec.kind
    if kind in ("score", "number", "days"):
        return {"value": _number_value(spec, raw)}
    if kind == "segment_list":
        values = _text_list(raw, limit=32)
        unknown = [v for v in values if v not in RFMSegment.values]
        if unknown:
            raise _Invalid(
                "value", f"Unknown RFM group(s): {', '.join(unknown)}. Use {', '.join(RFMSegment.values)}."
            )
        return {"value": values}
    if kind == "bool":
        try:
            return {"value": parse_bool(raw)}
        except ValueError:
            raise _Invalid("value", "Choose yes or no.") from None
    if kind == "text_list":
        return {"value": _text_list(raw)}
    if kind == "text":
        return {"value": _text(raw, "value", limit=16)}
    if kind == "affinity":
        extra = {
            "kind": _choice(
                rule.get("kind"), "kind", AFFINITY_KINDS, f"Choose one of {', '.join(AFFINITY_KINDS)}."
            ),
            "name": _text(rule.get("name"), "name", limit=200),
        }
        return {**extra, "value": _number_value(spec, raw)}
    if kind == "events":
        extra = {
            "event_type": _choice(
                rule.get("event_type") or ANY_EVENT,
                "event_type",
                EVENT_TYPES,
                f"Choose one of {', '.join(EVENT_TYPES)}.",
            ),
            "within_days": _number_value(_WITHIN_DAYS, rule.get("within_days"), "within_days"),
        }
        return {**extra, "value": _number_value(spec, raw)}
    # attribute
    key = _text(rule.get("key"), "key", limit=100)
    if not _KEY_RE.match(key):
        raise _Invalid("key", "Start with a letter or _; letters, digits, spaces and . : - _ only.")
    if op == "exists":
        return {"key": key}
    return {"key": key, "value": _text(raw, "value", limit=200, required=op != "eq")}


def clean_rule(rule: Any) -> tuple[dict | None, dict[str, list[str]]]:
    """One condition checked: (the normalised condition, None) or (None, {key: [message]})."""
    if not isinstance(rule, dict):
        return None, {"field": ["Each condition must be an object with field, op and value."]}
    name = rule.get("field")
    spec = RULE_FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        return None, {"field": [f"Unknown field. Use one of: {', '.join(RULE_FIELDS)}."]}
    op = rule.get("op")
    if len(spec.ops) == 1 and op in (None, ""):
        op = spec.ops[0]
    if op not in spec.ops:
        return None, {"op": [f"For {name}, op must be one of: {', '.join(spec.ops)}."]}
    allowed = {"field", "op", "value", *EXTRA_KEYS.get(spec.kind, ())}
    unknown = sorted(str(k) for k in rule if k not in allowed)
    if unknown:
        return None, {"field": [f"Unknown key(s) for {name}: {', '.join(unknown)}."]}
    try:
        cleaned = {"field": name, "op": op, **_clean_value(spec, rule, op)}
    except _Invalid as exc:
        return None, {exc.key: [exc.message]}
    return cleaned, {}


def clean_rules(rules: Any, match: Any = "all", *, allow_empty: bool = False) -> tuple[list[dict], dict]:
    """(normalised rules, errors). Errors: {"match": [msg]} and {"rules": [msg]} for the whole list or
    {"rules": {index: {key: [msg]}}} per condition; empty when everything is valid."""
    errors: dict[str, Any] = {}
    if match not in MATCHES:
        errors["match"] = ["Choose all or any."]
    if not isinstance(rules, list):
        errors["rules"] = ["Send a list of conditions."]
        return [], errors
    if not rules and not allow_empty:
        errors["rules"] = ["Add at least one condition."]
    elif len(rules) > MAX_CONDITIONS:
        errors["rules"] = [f"At most {MAX_CONDITIONS} conditions."]
        return [], errors
    cleaned, per_rule = [], {}
    for index, rule in enumerate(rules):
        clean, problems = clean_rule(rule)
        if problems:
            per_rule[index] = problems
        else:
            cleaned.append(clean)
    if per_rule:
        errors["rules"] = per_rule
    return cleaned, errors


def describe_rule(rule: dict) -> str:
    """A condition in words, for lists and the audit log: "Recency score (R) is at least 4"."""
    spec = RULE_FIELDS.get(rule.get("field"))
    if spec is None:
        return str(rule)
    value = rule.get("value")
    if isinstance(value, list):
        value = ", ".join(
            RFMSegment(v).label if spec.kind == "segment_list" and v in RFMSegment.values else str(v)
            for v in value
        )
    elif isinstance(value, bool):
        value = "yes" if value else "no"
    elif spec.name == "churn_risk" or spec.kind == "affinity":
        value = f"{_percent(value)} %"
    op = spec.op_label(rule.get("op", ""))
    if spec.kind == "affinity":
        return f"Interest in {rule['kind'].replace('_', ' ')} “{rule['name']}” {op} {value}"
    if spec.kind == "events":
        what = "events" if rule["event_type"] == ANY_EVENT else EventType(rule["event_type"]).label.lower()
        return f"{what.capitalize()}: {op} {value} time{'s' if value != 1 else ''} in the last {rule['within_days']} days"
    if spec.kind == "attribute":
        if rule["op"] == "exists":
            return f"Attribute “{rule['key']}” is set"
        return f"Attribute “{rule['key']}” {op} “{value}”"
    if spec.kind == "days":
        if rule["op"] == "lte":
            return f"{spec.label} within the last {value} days"
        return f"{spec.label} more than {value} days ago"
    return f"{spec.label} {op} {value}"


def _percent(value) -> str:
    number = float(value) * 100
    return str(int(round(number))) if math.isclose(number, round(number), abs_tol=1e-9) else f"{number:.1f}"
