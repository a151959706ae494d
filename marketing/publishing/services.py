"""Writes for publishing: publish/unpublish (now or scheduled), webhook endpoints and dispatch, exports."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from marketing.models import ContentPiece, WebhookDelivery, WebhookEndpoint, WebhookEvent
from marketing.review.recheck import CURRENT_REPORT, RECHECK_BLOCKED_REASON, verdict_refresh
from marketing.selectors import content_due_for_scheduled_publish
from marketing.workflow import ContentConflict, approval_blockers, transition


def _publish_guard(piece: ContentPiece, actor: Actor) -> ContentPiece:
    """Nothing goes out on an old verdict: an approved piece with a stale report, or one the check blocks (as
    after unpublishing a piece a recheck flagged), is checked now, and if blocked it is back in review and the
    publish is refused."""
    piece.refresh_from_db()
    if piece.status != ContentPiece.Status.APPROVED:
        return piece
    piece = verdict_refresh(piece, actor, force=not piece.approvable)
    if piece.status != ContentPiece.Status.APPROVED:
        raise ContentConflict(
            f"Piece {piece.pk} was not published: it is {RECHECK_BLOCKED_REASON} "
            f"({', '.join(approval_blockers(piece))}) and went back to review.",
            code="grounding_failed",
            detail={"grounding": piece.grounding, "status": piece.status},
        )
    return piece


def content_publish(*, piece: ContentPiece, actor: Actor) -> ContentPiece:
    """approved -> published, then signed webhooks go out to the merchant's endpoints (after commit). A piece
    approved on an older checker's report is rechecked first; if the check blocks it, it goes back to review
    and the publish is refused (_publish_guard)."""
    piece = _publish_guard(piece, actor)
    with transaction.atomic():
        piece = transition(
            piece,
            "publish",
            actor,
            extra_filter={"approvable": True, **CURRENT_REPORT},
            published_at=timezone.now(),
        )
        _webhooks_dispatch(piece, WebhookEvent.CONTENT_PUBLISHED, piece.published_at)
    return piece


@transaction.atomic
def content_unpublish(*, piece: ContentPiece, actor: Actor) -> ContentPiece:
    """published -> approved; endpoints get a `content.unpublished` event."""
    piece = transition(piece, "unpublish", actor, published_at=None)
    _webhooks_dispatch(piece, WebhookEvent.CONTENT_UNPUBLISHED, piece.updated_at)
    return piece


def content_publish_scheduled(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Publish approved pieces of campaigns whose publish time has passed (Celery beat, every minute)."""
    now = now or timezone.now()
    published = []
    for piece in content_due_for_scheduled_publish(now=now).select_related("merchant")[:limit]:
        try:
            content_publish(piece=piece, actor=Actor.system("schedule"))
        except ContentConflict:  # changed since the query (unpublished, edited); the next run looks again
            continue
        published.append(piece.pk)
    return published


def _webhooks_dispatch(piece: ContentPiece, event: str, happened_at: datetime) -> list[WebhookDelivery]:
    from marketing.publishing.channels import idempotency_key, webhook_payload
    from marketing.tasks import deliver_webhook_task

    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(merchant_id=piece.merchant_id, active=True).order_by("id")
        if e.wants(event)
    ]
    if not endpoints:
        return []
    piece = ContentPiece.objects.select_related("campaign", "product").get(pk=piece.pk)
    key = idempotency_key(piece_id=piece.pk, event=event, happened_at=happened_at)
    payload = webhook_payload(piece=piece, event=event, idempotency_key=key, happened_at=happened_at)
    deliveries = []
    for endpoint in endpoints:
        delivery, created = WebhookDelivery.objects.get_or_create(
            endpoint=endpoint,
            idempotency_key=key,
            defaults={"merchant_id": piece.merchant_id, "piece": piece, "event": event, "payload": payload},
        )
        if created:
            deliveries.append(delivery)
    ids = [d.pk for d in deliveries]
    transaction.on_commit(
        lambda: [deliver_webhook_task.apply_async(args=[pk], queue="default") for pk in ids]
    )
    return deliveries


@transaction.atomic
def webhook_endpoint_create(
    *,
    merchant: Merchant,
    actor: Actor,
    url: str,
    events: list[str] | None = None,
    description: str = "",
    active: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; its signing secret is returned here and shown only once."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        merchant=merchant,
        url=url,
        events=_events_validate(events),
        description=description,
        secret=secret,
        active=active,
    )
    _endpoint_validate(endpoint)
    endpoint.save()
    audit_record(
        merchant=merchant,
        actor=actor,
        action="webhook.create",
        obj=endpoint,
        changes={"url": url, "events": endpoint.events},
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, actor: Actor, **fields: Any) -> WebhookEndpoint:
    allowed = {"url", "events", "description", "active"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"Unknown webhook field(s): {', '.join(sorted(unknown))}")
    if "events" in fields:
        fields["events"] = _events_validate(fields["events"])
    changes = {k: v for k, v in fields.items() if getattr(endpoint, k) != v}
    for name, value in fields.items():
        setattr(endpoint, name, value)
    _endpoint_validate(endpoint)
    endpoint.save()
    if changes:
        audit_record(
            merchant=endpoint.merchant, actor=actor, action="webhook.update", obj=endpoint, changes=changes
        )
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor) -> None:
    audit_record(merchant=endpoint.merchant, actor=actor, action="webhook.delete", obj=endpoint)
    endpoint.delete()


def _events_validate(events: list[str] | None) -> list[str]:
    events = list(events or [])
    unknown = [e for e in events if e not in WebhookEvent.values]
    if unknown:
        raise ValidationError(
            {
                "events": [
                    f"Unknown event(s): {', '.join(map(str, unknown))}. "
                    f"Allowed: {', '.join(WebhookEvent.values)}."
                ]
            }
        )
    return sorted(set(events))


def _endpoint_validate(endpoint: WebhookEndpoint) -> None:
    endpoint.full_clean(exclude=["merchant"], validate_constraints=False)


def content_export(*, pieces: QuerySet[ContentPiece], export_format: str) -> tuple[bytes, str]:
    """Approved/published pieces as CSV or JSON: (body, content type). Text is exported as data; CSV cells
    that a spreadsheet would run as a formula are neutralised."""
    from marketing.publishing.channels import export_csv, export_json

    if export_format == "csv":
        return export_csv(pieces), "text/csv; charset=utf-8"
    if export_format == "json":
        return export_json(pieces), "application/json"
    raise ValidationError({"format": ["Use csv or json."]})
