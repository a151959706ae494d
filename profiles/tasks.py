"""Thin Celery tasks (ids only) for profiles; the work lives in the worker modules they import lazily.
None of them loads a model: they run on the `default` queue."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="profiles.tasks.update_profiles_task", acks_late=True)
def update_profiles_task(merchant_id: int, customer_ids: list[int]) -> int:
    """Incremental update of the profiles of customers who just had events."""
    from profiles.profile_worker import update_profiles

    return update_profiles(merchant_id, customer_ids)


@shared_task(name="profiles.tasks.rebuild_profiles_task", acks_late=True)
def rebuild_profiles_task(merchant_id: int | None = None) -> int:
    """Full rebuild (nightly from beat for every merchant; or one merchant's on demand)."""
    from profiles.profile_worker import rebuild_all_merchants, rebuild_profiles

    if merchant_id is None:
        return rebuild_all_merchants()
    return rebuild_profiles(merchant_id)


@shared_task(name="profiles.tasks.link_unknown_products_task", acks_late=True)
def link_unknown_products_task(merchant_id: int) -> int:
    """Links events recorded by SKU to products that now exist."""
    from profiles.ingest import link_unknown_products

    return link_unknown_products(merchant_id)


@shared_task(name="profiles.tasks.recompute_segments_task", acks_late=True)
def recompute_segments_task(merchant_id: int | None = None, segment_id: int | None = None) -> int:
    """Recomputes segment memberships: one segment, one merchant's, or (from beat) every merchant's."""
    from profiles.segments import recompute_segments

    return recompute_segments(merchant_id=merchant_id, segment_id=segment_id)


@shared_task(name="profiles.tasks.apply_event_retention_task", acks_late=True)
def apply_event_retention_task() -> int:
    """Deletes raw events older than each merchant's retention setting."""
    from profiles.privacy import apply_event_retention

    return apply_event_retention()
