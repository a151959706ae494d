"""Concurrent batches sharing customers, new customers and idempotency keys: no deadlock, no lost or doubled
event, each customer created once (real PostgreSQL transactions in two threads)."""

import threading

import pytest
from django.db import connection

from profiles.ingest import ingest_events
from profiles.models import Customer, Event


def batch(order, round_):
    # The same 200 customers and keys in opposite orders: the worst case for lock ordering.
    return [
        {
            "type": "email_open",
            "customer": f"c{i}",
            "idempotency_key": f"r{round_}-k{i}",
            "occurred_at": f"2025-01-{1 + i % 28:02d}T00:00:00Z",
        }
        for i in order
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_batches(merchant):
    results, errors = [], []
    forward, backward = list(range(200)), list(reversed(range(200)))

    def send(rows):
        try:
            results.append(ingest_events(merchant=merchant, rows=rows))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    for round_ in range(3):
        threads = [
            threading.Thread(target=send, args=(batch(order, round_),)) for order in (forward, backward)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    assert sum(r.inserted for r in results) == 600
    assert sum(r.duplicates for r in results) == 600
    assert Event.objects.filter(merchant=merchant).count() == 600
    assert Customer.objects.filter(merchant=merchant).count() == 200
    assert sum(r.customers_created for r in results) == 200
    first = Customer.objects.get(merchant=merchant, external_id="c0")
    assert (first.first_seen_at.day, first.last_seen_at.day) == (1, 1)
