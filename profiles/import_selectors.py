"""Reads of profile imports (ImportRun), always filtered by merchant."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Merchant
from profiles.models import ImportRun


def import_run_list(*, merchant: Merchant | None, kind: str = "") -> QuerySet[ImportRun]:
    """Newest first, without the (possibly large) report; use import_run_get for one run's report."""
    runs = ImportRun.objects.filter(merchant=merchant).defer("report")
    return runs.filter(kind=kind) if kind else runs


def import_run_get(*, merchant: Merchant | None, import_id) -> ImportRun:
    try:
        run = ImportRun.objects.filter(merchant=merchant, pk=import_id).first()
    except (TypeError, ValueError):
        run = None
    if run is None:
        raise Http404("No such import.")
    return run
