"""Clean segment rules (profiles/segment_rules.py) compiled into one `Q` on Customer, portable to SQLite.

- Profile fields: a join on the one-to-one profile (indexed by merchant and RFM group/scores).
- Affinities: an EXISTS over the kind's JSON object (`jsonb_each` / `json_each`), so names match whatever their
  case and characters and a malformed profile never errors; "at most" counts a missing name as 0.
- Events: `id IN (SELECT customer_id ... GROUP BY customer_id HAVING count(*) >= n)` over the merchant's events
  in the window (the (merchant, type, time) index); "at most"/"exactly 0" are the complement.
- Attributes: the key's text (`->>`), compared ignoring case; missing counts as empty.

`segment_customers` applies them to the merchant's customers who allow profiling (nobody else is ever in a
segment: see the rules module's docstring).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import reduce
from operator import and_, or_

from django.db.models import BooleanField, Count, F, Func, Q, QuerySet, TextField, Value
from django.db.models.functions import Coalesce, Upper
from django.db.models.lookups import IContains, IExact, In, IsNull
from django.utils import timezone

from profiles.models import Customer, Event
from profiles.segment_rules import ANY_EVENT, RULE_FIELDS, RuleField

_SQL_OPS = {"gte": ">=", "lte": "<=", "gt": ">"}
_LOOKUP = {"eq": "exact", "gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte"}
_EVERYONE = Q(pk__isnull=False)


class JSONText(Func):
    """`column ->> key` as text: the key is always an object key (never an array index). NULL when missing."""

    output_field = TextField()

    def __init__(self, column: str, key: str):
        super().__init__(F(column))
        self.key = key

    def as_sql(self, compiler, connection, **extra):
        lhs, params = compiler.compile(self.source_expressions[0])
        path = "$." + json.dumps(self.key)
        # SQLite's JSON_EXTRACT gives 1/0 for true/false; PostgreSQL's ->> gives 'true'/'false'.
        sql = (
            f"CASE JSON_TYPE({lhs}, %s) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            f"ELSE JSON_EXTRACT({lhs}, %s) END"
        )
        return sql, (*params, path, *params, path)

    def as_postgresql(self, compiler, connection, **extra):
        lhs, params = compiler.compile(self.source_expressions[0])
        return f"(({lhs}) ->> %s)", (*params, self.key)


class AffinityShare(Func):
    """True when the share of `name` (any case) among the `kind` affinities compares `op` to `value`."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, column: str, kind: str, name: str, op: str, value: float):
        super().__init__(F(column))
        self.kind, self.name, self.op, self.value = kind, name, _SQL_OPS[op], float(value)

    def as_sql(self, compiler, connection, **extra):
        lhs, params = compiler.compile(self.source_expressions[0])
        sql = (
            f"EXISTS (SELECT 1 FROM json_each({lhs}, %s) AS e WHERE lower(e.key) = lower(%s) "
            f"AND e.type IN ('integer', 'real') AND e.value {self.op} %s)"
        )
        return sql, (*params, "$." + json.dumps(self.kind), self.name, self.value)

    def as_postgresql(self, compiler, connection, **extra):
        lhs, params = compiler.compile(self.source_expressions[0])
        kind = f"(({lhs}) -> %s)"
        sql = (
            f"EXISTS (SELECT 1 FROM jsonb_each(CASE WHEN jsonb_typeof({kind}) = 'object' THEN {kind} "
            f"ELSE '{{}}'::jsonb END) AS e WHERE lower(e.key) = lower(%s) "
            # CASE, not AND: PostgreSQL may evaluate the cast before the type test.
            f"AND CASE WHEN jsonb_typeof(e.value) = 'number' THEN (e.value)::float8 END {self.op} %s)"
        )
        return sql, (*params, self.kind, *params, self.kind, self.name, self.value)


def _affinity_q(spec: RuleField, rule: dict) -> Q:
    if rule["op"] == "gte":
        return Q(AffinityShare(spec.column, rule["kind"], rule["name"], "gte", rule["value"]))
    # At most: every profiled customer whose share is not above the value (no share at all is 0).
    above = AffinityShare(spec.column, rule["kind"], rule["name"], "gt", rule["value"])
    return Q(profile__isnull=False) & ~Q(above)


def _events_q(rule: dict, merchant_id: int, now: datetime) -> Q:
    events = Event.objects.filter(
        merchant_id=merchant_id,
        customer__isnull=False,
        occurred_at__gte=now - timedelta(days=rule["within_days"]),
    )
    if rule["event_type"] != ANY_EVENT:
        events = events.filter(type=rule["event_type"])
    per_customer = events.order_by().values("customer").annotate(n=Count("id"))
    op, count = rule["op"], rule["value"]

    def having(**lookup) -> Q:
        return Q(pk__in=per_customer.filter(**lookup).values("customer"))

    if op == "gte":
        return _EVERYONE if count <= 0 else having(n__gte=count)
    if op == "lte":
        return ~having(n__gt=count)
    return ~having(n__gt=0) if count == 0 else having(n=count)


def _attribute_q(rule: dict) -> Q:
    if rule["op"] == "exists":
        return Q(IsNull(JSONText("attributes", rule["key"]), False))
    text = Coalesce(JSONText("attributes", rule["key"]), Value(""), output_field=TextField())
    if rule["op"] == "contains":
        return Q(IContains(text, rule["value"]))
    matches = Q(IExact(text, rule["value"]))
    return ~matches if rule["op"] == "neq" else matches


def _days_q(spec: RuleField, rule: dict, now: datetime) -> Q:
    since = now - timedelta(days=rule["value"])
    lookup = "gte" if rule["op"] == "lte" else "lte"  # seen within N days = seen since N days ago
    return Q(**{f"{spec.column}__{lookup}": since})


def rule_q(rule: dict, *, merchant_id: int, now: datetime | None = None) -> Q:
    """One clean condition as a Q on Customer."""
    now = now or timezone.now()
    spec = RULE_FIELDS[rule["field"]]
    op, value, kind = rule["op"], rule.get("value"), spec.kind
    if kind in ("score", "number"):
        q = Q(**{f"{spec.column}__{_LOOKUP[op]}": value})
    elif kind == "segment_list":
        q = Q(**{f"{spec.column}__in": value})
        q = Q(profile__isnull=False) & ~q if op == "not_in" else q
    elif kind == "affinity":
        q = _affinity_q(spec, rule)
    elif kind == "events":
        q = _events_q(rule, merchant_id, now)
    elif kind == "attribute":
        q = _attribute_q(rule)
    elif kind == "bool":
        q = Q(**{spec.column: value})
    elif kind == "text_list":
        q = Q(In(Upper(spec.column), [v.upper() for v in value]))
        q = ~q if op == "not_in" else q
    elif kind == "text":
        q = Q(**{f"{spec.column}__{'iexact' if op == 'eq' else 'istartswith'}": value})
    else:  # days
        q = _days_q(spec, rule, now)
    return q


def rules_q(rules: list[dict], match: str, *, merchant_id: int, now: datetime | None = None) -> Q:
    """Clean rules joined by AND (`all`) or OR (`any`); no rules match everyone."""
    now = now or timezone.now()
    parts = [rule_q(rule, merchant_id=merchant_id, now=now) for rule in rules]
    if not parts:
        return _EVERYONE
    return reduce(and_ if match == "all" else or_, parts)


def segment_customers(rules: list[dict], match: str, *, merchant_id: int) -> QuerySet[Customer]:
    """The merchant's customers who allow profiling and match the clean rules: one query."""
    return Customer.objects.filter(merchant_id=merchant_id, consent_profiling=True).filter(
        rules_q(rules, match, merchant_id=merchant_id)
    )
