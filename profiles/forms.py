"""Dashboard forms for profiles: the segment builder.

A segment is a `SegmentForm` (name, description, all/any) plus condition rows. Rows are posted as
`c-<n>-field`, `c-<n>-op`, `c-<n>-value` (several values for RFM groups), and `c-<n>-kind`, `-name`,
`-event_type`, `-within_days`, `-key` for the fields that take them; `c-<n>-shown` is the field the row's inputs
were drawn for, so a row whose field was just changed is redrawn rather than read with another field's inputs.
`<n>` need not be contiguous (rows are added and removed in the page); rows keep the order of `<n>`.

Rows become rules for profiles.segments, which validates them: its errors (by condition position) are put back
on the rows. Churn risk and affinity shares are shown as percentages and stored as fractions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.http import QueryDict

from profiles.models import EventType, RFMSegment, Segment
from profiles.segment_rules import (
    AFFINITY_KINDS,
    ANY_EVENT,
    MAX_CONDITIONS,
    RULE_FIELDS,
    RuleField,
    clean_rules,
)

ROW_KEY = re.compile(r"^c-(\d{1,4})-field$")
PERCENT_FIELDS = frozenset({"churn_risk", "affinity"})
# The builder shows these as percentages, so its help says so (the vocabulary's help speaks of 0 to 1).
PERCENT_HELP = {
    "churn_risk": "Chance of no purchase in the next 90 days, in percent.",
    "affinity": "How much of the customer's recent interest goes to this category, brand, colour or price band, "
    "in percent (names match whatever their case).",
}
EXTRA_INPUTS = ("kind", "name", "event_type", "within_days", "key")
AFFINITY_LABELS = {"category": "Category", "brand": "Brand", "colour": "Colour", "price_band": "Price band"}
AFFINITY_CHOICES = [(kind, AFFINITY_LABELS[kind]) for kind in AFFINITY_KINDS]
PRICE_BANDS = ("budget", "mid", "upper", "premium")  # profiles.affinity.PRICE_BANDS, without numpy
EVENT_CHOICES = [(ANY_EVENT, "Any event"), *EventType.choices]

# What a row holds when its field is first chosen: a complete condition, so the preview counts at once.
DEFAULT_RULES: dict[str, dict] = {
    "r_score": {"op": "gte", "value": 4},
    "f_score": {"op": "gte", "value": 4},
    "m_score": {"op": "gte", "value": 4},
    "rfm_segment": {"op": "in", "value": [RFMSegment.CHAMPIONS.value]},
    "recency_days": {"op": "lte", "value": 30},
    "frequency": {"op": "gte", "value": 2},
    "monetary": {"op": "gte", "value": 100},
    "lifetime_value": {"op": "gte", "value": 100},
    "churn_risk": {"op": "gte", "value": 0.7},
    "affinity": {"kind": "category", "name": "", "op": "gte", "value": 0.3},
    "events": {"event_type": EventType.PURCHASE.value, "within_days": 30, "op": "gte", "value": 1},
    "attribute": {"key": "", "op": "eq", "value": ""},
    "consent_marketing": {"op": "eq", "value": True},
    "consent_profiling": {"op": "eq", "value": True},
    "country": {"op": "in", "value": []},
    "locale": {"op": "startswith", "value": ""},
    "first_seen_days": {"op": "lte", "value": 30},
    "last_seen_days": {"op": "lte", "value": 30},
}
FIRST_FIELD = "r_score"


def field_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The field select's options, grouped as the vocabulary groups them."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for spec in RULE_FIELDS.values():
        groups.setdefault(spec.group, []).append((spec.name, spec.label))
    return list(groups.items())


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _percent_text(value: Any) -> str:
    try:
        number = Decimal(str(value)) * 100
    except (InvalidOperation, ValueError):
        return _as_text(value)
    return str(int(number)) if number == number.to_integral_value() else f"{number:.1f}"


def _fraction(text: str) -> Any:
    try:
        number = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return text
    return str(number / 100) if number.is_finite() else text


@dataclass
class ConditionRow:
    """One condition row of the builder, holding what the page shows (text, percentages)."""

    index: int
    field: str
    shown: str
    op: str = ""
    value: Any = ""
    extra: dict[str, str] = dc_field(default_factory=dict)
    errors: dict[str, list[str]] = dc_field(default_factory=dict)
    autofocus: bool = False
    position: int = 0

    @property
    def spec(self) -> RuleField:
        return RULE_FIELDS[self.field]

    @property
    def prefix(self) -> str:
        return f"c-{self.index}"

    @property
    def number(self) -> int:
        return self.position + 1

    @property
    def stale(self) -> bool:
        """The field was changed in the page but the inputs are still the old field's."""
        return self.field != self.shown

    @property
    def ops(self) -> list[tuple[str, str]]:
        return [(op, self.spec.op_label(op)) for op in self.spec.ops]

    @property
    def values(self) -> list[str]:
        return list(self.value) if isinstance(self.value, list | tuple) else []

    @property
    def is_percent(self) -> bool:
        return self.field in PERCENT_FIELDS

    @property
    def help(self) -> str:
        return PERCENT_HELP.get(self.field, self.spec.help)

    @property
    def error_list(self) -> list[str]:
        return [message for messages in self.errors.values() for message in messages]

    def get(self, name: str) -> str:
        return self.extra.get(name, "")

    def rule(self) -> dict:
        """The row as a rule for profiles.segments (not yet validated)."""
        rule: dict[str, Any] = {"field": self.field, "op": self.op}
        kind = self.spec.kind
        if kind == "segment_list":
            rule["value"] = self.values
        elif kind == "attribute" and self.op == "exists":
            pass
        elif self.is_percent:
            rule["value"] = _fraction(_as_text(self.value))
        else:
            rule["value"] = self.value
        for name in {
            "affinity": ("kind", "name"),
            "events": ("event_type", "within_days"),
            "attribute": ("key",),
        }.get(kind, ()):
            rule[name] = self.get(name)
        return rule

    def set_errors(self, errors: dict[str, list[str]]) -> None:
        self.errors = {
            key: [
                "Enter a percentage from 0 to 100."
                if key == "value" and self.is_percent and "from 0 to 1" in m
                else m
                for m in messages
            ]
            for key, messages in errors.items()
        }

    @classmethod
    def from_rule(cls, index: int, rule: dict) -> ConditionRow:
        name = rule.get("field") if rule.get("field") in RULE_FIELDS else FIRST_FIELD
        value = rule.get("value", "")
        if name in PERCENT_FIELDS and value not in ("", None):
            value = _percent_text(value)
        elif RULE_FIELDS[name].kind == "segment_list":
            value = [str(v) for v in value] if isinstance(value, list) else []
        else:
            value = _as_text(value)
        extra = {key: _as_text(rule[key]) for key in EXTRA_INPUTS if key in rule}
        return cls(index=index, field=name, shown=name, op=str(rule.get("op", "")), value=value, extra=extra)

    @classmethod
    def default(cls, index: int, name: str = FIRST_FIELD) -> ConditionRow:
        return cls.from_rule(index, {"field": name, **DEFAULT_RULES[name]})

    @classmethod
    def from_data(cls, index: int, data: QueryDict) -> ConditionRow:
        prefix = f"c-{index}"
        name = data.get(f"{prefix}-field", "")
        name = name if name in RULE_FIELDS else FIRST_FIELD
        shown = data.get(f"{prefix}-shown", name)
        if shown != name:
            return cls.default(index, name)  # redrawn for the new field, with that field's defaults
        spec = RULE_FIELDS[name]
        if spec.kind == "segment_list":
            value: Any = [v for v in data.getlist(f"{prefix}-value") if v in RFMSegment.values]
        else:
            value = data.get(f"{prefix}-value", "")[:500]
        extra = {
            key: data.get(f"{prefix}-{key}", "")[:500] for key in EXTRA_INPUTS if f"{prefix}-{key}" in data
        }
        return cls(
            index=index, field=name, shown=shown, op=data.get(f"{prefix}-op", ""), value=value, extra=extra
        )


def rows_from_data(data: QueryDict) -> tuple[list[ConditionRow], bool]:
    """The posted rows in page order, and whether any was stale (its field changed, inputs not redrawn yet)."""
    indexes = sorted({int(m.group(1)) for key in data if (m := ROW_KEY.match(key))})
    stale = any(
        data.get(f"c-{i}-shown", data.get(f"c-{i}-field")) != data.get(f"c-{i}-field") for i in indexes
    )
    rows = [ConditionRow.from_data(i, data) for i in indexes[: MAX_CONDITIONS + 1]]
    return _numbered(rows), stale


def rows_from_rules(rules: list) -> list[ConditionRow]:
    return _numbered(
        [ConditionRow.from_rule(i, rule) for i, rule in enumerate(rules) if isinstance(rule, dict)]
    )


def _numbered(rows: list[ConditionRow]) -> list[ConditionRow]:
    for position, row in enumerate(rows):
        row.position = position
    return rows


def next_index(rows: list[ConditionRow]) -> int:
    return max((row.index for row in rows), default=-1) + 1


def rules_of(rows: list[ConditionRow]) -> list[dict]:
    return [row.rule() for row in rows]


def apply_rule_errors(rows: list[ConditionRow], errors: Any) -> list[str]:
    """Puts per-condition errors on their rows; returns the messages about the list as a whole."""
    for row in rows:
        row.errors = {}
    if isinstance(errors, dict):
        for position, problems in errors.items():
            if 0 <= position < len(rows):
                rows[position].set_errors(problems)
        return []
    return list(errors or [])


def check_rows(
    rows: list[ConditionRow], match: str, *, allow_empty: bool = False
) -> tuple[list[dict], list[str]]:
    """(clean rules, errors about the whole list); row errors are set on the rows."""
    cleaned, errors = clean_rules(
        rules_of(rows), match if match in ("all", "any") else "all", allow_empty=allow_empty
    )
    return cleaned, apply_rule_errors(rows, errors.get("rules"))


class SegmentForm(forms.Form):
    name = forms.CharField(max_length=120, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    description = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text="Optional: what the segment is for, e.g. “win-back emails”.",
    )
    match = forms.ChoiceField(
        label="Customers must match",
        choices=[(Segment.Match.ALL, "All conditions"), (Segment.Match.ANY, "Any condition")],
        widget=forms.RadioSelect,
        initial=Segment.Match.ALL,
    )

    def __init__(self, *args, segment: Segment | None = None, **kwargs):
        if segment is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": segment.name,
                "description": segment.description,
                "match": segment.match,
            }
        super().__init__(*args, **kwargs)
        self.segment = segment
        self.locked = segment is not None and segment.kind == Segment.Kind.BUILTIN
        if self.locked:
            self.fields["match"].disabled = True

    def posted_match(self) -> str:
        value = (
            self.data.get("match", Segment.Match.ALL) if self.is_bound else self.initial.get("match", "all")
        )
        return value if value in Segment.Match.values else Segment.Match.ALL

    def add_service_errors(self, errors: dict) -> None:
        for name in ("name", "description", "match", "slug"):
            if name in errors and isinstance(errors[name], list):
                self.add_error(name if name in self.fields else None, errors[name])
