"""Reads for profiles, always filtered by merchant."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from accounts.models import Merchant
from profiles.models import Customer, Event


def customer_list(*, merchant: Merchant | None, search: str = "") -> QuerySet[Customer]:
    qs = Customer.objects.filter(merchant=merchant).select_related("profile")
    search = (search or "").strip()
    if search:
        qs = qs.filter(
            Q(external_id__icontains=search) | Q(email__icontains=search) | Q(name__icontains=search)
        )
    return qs


def customer_by_external_id(*, merchant: Merchant | None, external_id: str) -> Customer | None:
    return customer_list(merchant=merchant).filter(external_id=external_id).first()


def event_list(
    *,
    merchant: Merchant | None,
    customer: Customer | None = None,
    types: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Event]:
    qs = Event.objects.filter(merchant=merchant)
    if customer is not None:
        qs = qs.filter(customer=customer)
    if types:
        qs = qs.filter(type__in=types)
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    return qs.select_related("customer", "product")
