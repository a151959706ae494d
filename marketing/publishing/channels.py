"""Publishing channels: signed webhook deliveries and CSV/JSON exports.

A webhook is a POST of a JSON body with three headers:

    X-Storyfront-Timestamp:       Unix seconds when this attempt was signed
    X-Storyfront-Signature:       hex HMAC-SHA256 of f"{timestamp}.{body}" keyed with the endpoint's secret
    X-Storyfront-Idempotency-Key: the same for every retry of one event, so receivers can drop duplicates

A receiver recomputes the signature over the raw body and rejects stale timestamps (replays)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import http.client
import io
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketing.models import CONTENT_FIELDS, ContentPiece, WebhookDelivery
from storyfront.outbound import DestinationRefused, GuardedClient

SIGNATURE_HEADER = "X-Storyfront-Signature"
TIMESTAMP_HEADER = "X-Storyfront-Timestamp"
IDEMPOTENCY_HEADER = "X-Storyfront-Idempotency-Key"
EVENT_HEADER = "X-Storyfront-Event"
WEBHOOK_TIMEOUT_SECONDS = settings.WEBHOOK_TIMEOUT_SECONDS
WEBHOOK_MAX_ATTEMPTS = settings.WEBHOOK_MAX_ATTEMPTS
WEBHOOK_RETRY_BASE_SECONDS = settings.WEBHOOK_RETRY_BASE_SECONDS
WEBHOOK_RETRY_MAX_SECONDS = 3600
RESPONSE_EXCERPT_CHARS = 500
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# --- signing -----------------------------------------------------------------------------------------------


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_s: int = 300,
    now: float | None = None,
) -> bool:
    """What a receiver does: constant-time compare, and refuse timestamps outside the tolerance."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except (TypeError, ValueError):
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def idempotency_key(*, piece_id: int, event: str, happened_at: datetime) -> str:
    """Stable for one event of one piece (all its retries and every endpoint), new for the next event."""
    raw = f"content:{piece_id}:{event}:{happened_at.isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def webhook_payload(*, piece: ContentPiece, event: str, idempotency_key: str, happened_at: datetime) -> dict:
    return {
        "event": event,
        "idempotency_key": idempotency_key,
        "occurred_at": happened_at.isoformat(),
        "content": piece_as_dict(piece),
    }


def piece_as_dict(piece: ContentPiece) -> dict:
    """The published view of a piece: what channels receive and exports contain."""
    return {
        "id": piece.pk,
        "campaign": {"id": piece.campaign_id, "name": piece.campaign.name},
        "channel": piece.campaign.channel,
        "product": {"id": piece.product_id, "sku": piece.product.sku, "title": piece.product.title},
        "customer_external_id": piece.customer_external_id,
        "variant": piece.variant,
        **{name: getattr(piece, name) for name in CONTENT_FIELDS},
        "language": piece.campaign.language,
        "status": piece.status,
        "published_at": piece.published_at.isoformat() if piece.published_at else None,
    }


# --- delivery ----------------------------------------------------------------------------------------------


def retry_countdown(attempts: int) -> int:
    """Seconds before the next try after `attempts` failed ones: 30 s, 1 min, 2 min, ... capped at an hour."""
    return int(min(WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), WEBHOOK_RETRY_MAX_SECONDS))


@dataclass(frozen=True)
class AttemptOutcome:
    delivered: bool
    retry: bool
    status_code: int | None
    error: str = ""
    countdown: int | None = None  # seconds until the next try, when `retry`


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, str]:
    """(status, reply excerpt, error). Goes through the SSRF guard; a redirect is a failed delivery, never
    followed (the receiver is the registered URL, not wherever it points)."""
    client = GuardedClient(allow_private=settings.OUTBOUND_ALLOW_PRIVATE)
    with client.request("POST", url, body=body, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
        excerpt = response.read(RESPONSE_EXCERPT_CHARS * 4).decode("utf-8", "replace")
    error = ""
    if 300 <= response.status < 400:
        error = f"redirect to {response.getheader('Location') or 'nowhere'} not followed: webhooks go to the registered URL only"
    return response.status, excerpt, error[:300]


def webhook_attempt(*, delivery_id: int) -> AttemptOutcome:
    """One signed POST of a pending delivery, logged on the delivery row. A delivered (or given up) delivery
    is not sent again, so a redelivered task does no harm."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint")
            .filter(
                pk=delivery_id, status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING]
            )
            .first()
        )
        if delivery is None:
            return AttemptOutcome(delivered=False, retry=False, status_code=None, error="nothing to deliver")
        endpoint = delivery.endpoint
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Storyfront-Webhooks/1",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(endpoint.secret, timestamp, body),
            IDEMPOTENCY_HEADER: delivery.idempotency_key,
            EVENT_HEADER: delivery.event,
        }
        status_code, excerpt, error, refused = None, "", "", False
        if not endpoint.active:
            error = "endpoint deactivated"
        else:
            try:
                status_code, excerpt, error = _post(endpoint.url, body, headers)
            except DestinationRefused as exc:
                # Nothing was sent and nothing came back; the same URL would be refused again.
                error, refused = str(exc)[:300], True
            except (OSError, http.client.HTTPException) as exc:
                error = (str(exc) or type(exc).__name__)[:300]
        attempts = delivery.attempts + 1
        delivered = status_code is not None and 200 <= status_code < 300
        retry = not delivered and not refused and endpoint.active and attempts < WEBHOOK_MAX_ATTEMPTS
        now = timezone.now()
        countdown = retry_countdown(attempts) if retry else None
        delivery.attempt_log = [
            *delivery.attempt_log,
            {"at": now.isoformat(), "status_code": status_code, "error": error, "excerpt": excerpt[:200]},
        ]
        delivery.attempts = attempts
        delivery.status_code = status_code
        delivery.response_excerpt = (error or excerpt)[:RESPONSE_EXCERPT_CHARS]
        if delivered:
            delivery.status, delivery.delivered_at, delivery.next_retry_at = (
                WebhookDelivery.Status.DELIVERED,
                now,
                None,
            )
        elif retry:
            delivery.status = WebhookDelivery.Status.RETRYING
            delivery.next_retry_at = now + timedelta(seconds=countdown)
        else:
            delivery.status, delivery.next_retry_at = WebhookDelivery.Status.FAILED, None
        delivery.save(
            update_fields=[
                "attempt_log",
                "attempts",
                "status_code",
                "response_excerpt",
                "status",
                "delivered_at",
                "next_retry_at",
            ]
        )
    return AttemptOutcome(
        delivered=delivered, retry=retry, status_code=status_code, error=error, countdown=countdown
    )


# --- export ------------------------------------------------------------------------------------------------

EXPORT_COLUMNS = [
    "id",
    "campaign_id",
    "campaign",
    "channel",
    "product_id",
    "sku",
    "product_title",
    "customer_external_id",
    "variant",
    "title",
    "subject",
    "body",
    "hashtags",
    "language",
    "status",
    "published_at",
]


def _export_row(piece: ContentPiece) -> dict:
    data = piece_as_dict(piece)
    return {
        "id": data["id"],
        "campaign_id": piece.campaign_id,
        "campaign": piece.campaign.name,
        "channel": data["channel"],
        "product_id": piece.product_id,
        "sku": piece.product.sku,
        "product_title": piece.product.title,
        "customer_external_id": data["customer_external_id"],
        "variant": data["variant"],
        **{name: data[name] for name in CONTENT_FIELDS},
        "language": data["language"],
        "status": data["status"],
        "published_at": data["published_at"] or "",
    }


def csv_safe(value) -> str:
    """A cell a spreadsheet shows as text: values starting like a formula get a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def export_csv(pieces: Iterable[ContentPiece]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    for piece in pieces:
        writer.writerow({key: csv_safe(value) for key, value in _export_row(piece).items()})
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # the BOM makes Excel read UTF-8


def export_json(pieces: Iterable[ContentPiece]) -> bytes:
    return json.dumps({"results": [piece_as_dict(piece) for piece in pieces]}, ensure_ascii=False).encode(
        "utf-8"
    )
