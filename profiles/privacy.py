"""Privacy: everything held about one customer (export), erasing it, profiling consent, and how long raw
events are kept.

Erasure deletes the customer, their events (and the anonymous events of the sessions they were seen in), their
profile and segment memberships. Their chat conversations are kept, anonymised, because the chat figures
(volumes, handoffs, reply times, ratings) and the model registry's lineage count them: the link to the customer
and the widget's session secret are cleared, what the shopper wrote becomes "[erased]", and the replies
(which quote the shopper), staff corrections, prompts and safety notes are emptied; a system notice says what
happened. Emptied replies also keep the conversation out of chat training (a dialogue needs an agent turn).
The dialogues made from those conversations are deleted and their examples removed from stored training sets;
the model versions that learned from them are recorded and, where one still serves, a retraining job is
queued (profiles.privacy_lineage). Storyfront is not the shop's accounting system (the shop platform keeps
orders), so purchase events are deleted like the rest. Audit entries that named the customer are scrubbed; the
erasure is audited with a hash of the customer's id only.

Consent: a customer who refuses profiling (`consent_profiling=False`, which also covers training on their
data) has no profile and no segment memberships; their conversations' dialogues are removed from the chat
training data and chat.training leaves their conversations out of new fine-tunes."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import AuditLog, Merchant
from accounts.services import Actor, audit_record
from chat.models import Conversation, Message, SupportDialogue
from profiles.models import (
    Customer,
    CustomerProfile,
    ErasureRecord,
    Event,
    ProfileSettings,
    Segment,
    SegmentMembership,
)
from profiles.privacy_lineage import queue_retraining, training_lineage

ERASED_TEXT = "[erased]"
ERASURE_NOTICE = "Personal data in this conversation was erased at the customer's request."
DEFAULT_RETENTION_DAYS = ProfileSettings._meta.get_field("event_retention_days").default
MIN_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 3650
RETENTION_BATCH = 10_000
_SESSION_CHUNK = 1000
_CUSTOMER_FIELDS = (
    "external_id",
    "email",
    "name",
    "locale",
    "country",
    "attributes",
    "first_seen_at",
    "last_seen_at",
    "created_at",
    "updated_at",
)
_EVENT_FIELDS = (
    "id",
    "type",
    "occurred_at",
    "received_at",
    "session_id",
    "product_id",
    "product_sku",
    "product__title",
    "quantity",
    "value",
    "currency",
    "query",
    "order_id",
    "source",
    "idempotency_key",
    "properties",
)
_MESSAGE_FIELDS = ("id", "role", "text", "status", "rating", "correction", "created_at", "completed_at")


def customer_ref(*, merchant_id: int, external_id: str) -> str:
    """How an erased customer is referred to afterwards: no personal data, but the same customer always gets
    the same reference (so a repeated request can be recognised)."""
    return hashlib.sha256(f"{merchant_id}:{external_id}".encode()).hexdigest()


def _jsonable(data):
    """Decimals as strings, datetimes as ISO 8601 (through a JSON round trip, so the result is plain JSON)."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _conversations(customer: Customer):
    if not customer.external_id:
        return Conversation.objects.none()
    return Conversation.objects.filter(
        merchant_id=customer.merchant_id, customer_external_id=customer.external_id
    )


def _session_ids(customer: Customer) -> list[str]:
    return list(
        Event.objects.filter(merchant_id=customer.merchant_id, customer=customer)
        .exclude(session_id="")
        .values_list("session_id", flat=True)
        .distinct()
    )


def _session_events(customer: Customer, sessions: list[str]):
    """Anonymous events of the sessions the customer was seen in (before logging in, say): theirs too."""
    for start in range(0, len(sessions), _SESSION_CHUNK):
        yield Event.objects.filter(
            merchant_id=customer.merchant_id,
            customer__isnull=True,
            session_id__in=sessions[start : start + _SESSION_CHUNK],
        )


# --- export ------------------------------------------------------------------------------------------------


def _profile_export(customer: Customer) -> dict | None:
    profile = CustomerProfile.objects.filter(customer=customer).first()
    if profile is None:
        return None
    skip = {"customer", "merchant"}
    return {
        f.name: getattr(profile, f.name) for f in CustomerProfile._meta.concrete_fields if f.name not in skip
    }


def _conversations_export(customer: Customer) -> list[dict]:
    conversations = list(_conversations(customer).select_related("trained_in").order_by("created_at", "id"))
    messages: dict[int, list] = {c.pk: [] for c in conversations}
    for row in (
        Message.objects.filter(conversation_id__in=list(messages))
        .order_by("created_at", "id")
        .values("conversation_id", *_MESSAGE_FIELDS)
    ):
        messages[row.pop("conversation_id")].append(row)
    dialogues: dict[int, list] = {c.pk: [] for c in conversations}
    for d in SupportDialogue.objects.filter(conversation_id__in=list(dialogues)).order_by("id"):
        dialogues[d.conversation_id].append({"id": d.pk, "split": d.split, "turns": d.turns})
    return [
        {
            "id": c.pk,
            "source": c.source,
            "status": c.status,
            "origin": c.origin,
            "handoff_reason": c.handoff_reason,
            "created_at": c.created_at,
            "last_message_at": c.last_message_at,
            "resolved_at": c.resolved_at,
            "trained_in": c.trained_in.name if c.trained_in else None,
            "messages": messages[c.pk],
            "training_dialogues": dialogues[c.pk],
        }
        for c in conversations
    ]


def customer_export(*, customer: Customer) -> dict:
    """Everything Storyfront holds about one customer, as plain JSON."""
    sessions = _session_ids(customer)
    session_events = [row for qs in _session_events(customer, sessions) for row in qs.values(*_EVENT_FIELDS)]
    memberships = SegmentMembership.objects.filter(customer=customer).select_related("segment").order_by("id")
    data = {
        "exported_at": timezone.now(),
        "merchant": {"slug": customer.merchant.slug, "name": customer.merchant.name},
        "customer": {name: getattr(customer, name) for name in _CUSTOMER_FIELDS},
        "consent": {"marketing": customer.consent_marketing, "profiling": customer.consent_profiling},
        "attributes": customer.attributes,
        "profile": _profile_export(customer),
        "events": list(
            Event.objects.filter(merchant_id=customer.merchant_id, customer=customer)
            .order_by("occurred_at", "id")
            .values(*_EVENT_FIELDS)
        ),
        "session_events": sorted(session_events, key=lambda r: (r["occurred_at"], r["id"])),
        "segments": [
            {"name": m.segment.name, "slug": m.segment.slug, "added_at": m.added_at} for m in memberships
        ],
        "conversations": _conversations_export(customer),
    }
    for event in data["events"] + data["session_events"]:
        event["product_title"] = event.pop("product__title")
    return _jsonable(data)


# --- erasure -----------------------------------------------------------------------------------------------


def _drop_memberships(customer: Customer) -> int:
    segment_ids = list(
        SegmentMembership.objects.filter(customer=customer).values_list("segment_id", flat=True)
    )
    if not segment_ids:
        return 0
    SegmentMembership.objects.filter(customer=customer).delete()
    Segment.objects.filter(pk__in=segment_ids).update(member_count=Greatest(F("member_count") - 1, 0))
    return len(segment_ids)


def _delete_events(customer: Customer) -> tuple[int, int]:
    sessions = _session_ids(customer)
    own, _ = Event.objects.filter(merchant_id=customer.merchant_id, customer=customer).delete()
    anonymous = sum(qs.delete()[0] for qs in _session_events(customer, sessions))
    return own, anonymous


def _anonymise_conversations(conversations: list[Conversation]) -> int:
    ids = [c.pk for c in conversations]
    Conversation.objects.filter(pk__in=ids).update(customer_external_id="", session_secret="")
    messages = Message.objects.filter(conversation_id__in=ids).exclude(role=Message.Role.SYSTEM)
    count = messages.count()
    messages.filter(role=Message.Role.SHOPPER).update(text=ERASED_TEXT, prompt="", correction="", safety={})
    messages.exclude(role=Message.Role.SHOPPER).update(text="", prompt="", correction="", safety={})
    Message.objects.bulk_create(
        [
            Message(
                conversation_id=c.pk, merchant_id=c.merchant_id, role=Message.Role.SYSTEM, text=ERASURE_NOTICE
            )
            for c in conversations
        ]
    )
    return count


def _scrub_audit(customer: Customer) -> int:
    """Earlier audit entries about this customer may carry their name or email in the summary."""
    return AuditLog.objects.filter(
        merchant_id=customer.merchant_id,
        object_type="customer",
        object_id__in=[str(customer.pk), customer.external_id],
    ).update(summary=ERASED_TEXT, changes={})


@transaction.atomic
def customer_erase(*, customer: Customer, actor: Actor) -> ErasureRecord:
    """Erase one customer (see the module docstring for what happens to each kind of data)."""
    merchant = customer.merchant
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    ref = customer_ref(merchant_id=merchant.pk, external_id=customer.external_id)
    conversations = list(_conversations(customer))
    lineage = training_lineage(merchant=merchant, conversations=conversations)
    events, session_events = _delete_events(customer)
    deleted = {
        "events": events,
        "session_events": session_events,
        "profile": CustomerProfile.objects.filter(customer=customer).delete()[0],
        "segment_memberships": _drop_memberships(customer),
        "conversations_anonymised": len(conversations),
        "messages_anonymised": _anonymise_conversations(conversations),
        "training_dialogues": SupportDialogue.objects.filter(
            merchant=merchant, conversation_id__in=[c.pk for c in conversations]
        ).delete()[0],
        "training_records": lineage.redacted_records,
        "audit_entries_scrubbed": _scrub_audit(customer),
    }
    Customer.objects.filter(pk=customer.pk).delete()
    deleted["customer"] = 1
    record = ErasureRecord.objects.create(
        merchant=merchant,
        customer_ref=ref,
        requested_by=actor.label[:200],
        deleted=deleted,
        model_versions=lineage.describe(),
        retrain_purposes=queue_retraining(merchant=merchant, actor=actor, lineage=lineage),
    )
    audit_record(
        merchant=merchant,
        actor=actor,
        action="customer.erase",
        obj=record,
        changes={
            "customer_ref": ref,
            "deleted": deleted,
            "model_versions": [v["id"] for v in record.model_versions],
            "retrain": [
                {"purpose": r["purpose"], "job_id": r.get("job_id")} for r in record.retrain_purposes
            ],
        },
    )
    return record


def erasure_list(*, merchant: Merchant):
    return ErasureRecord.objects.filter(merchant=merchant)


# --- consent -----------------------------------------------------------------------------------------------


@transaction.atomic
def consent_changed(*, customer: Customer, actor: Actor) -> None:
    """Called when a customer's consent flags change. Refusing profiling removes the profile, the segment
    memberships and the chat training dialogues made from their conversations; giving it back lets the next
    profile update or nightly rebuild compute a profile again."""
    if customer.consent_profiling:
        return
    removed = {
        "profile": CustomerProfile.objects.filter(customer=customer).delete()[0],
        "segment_memberships": _drop_memberships(customer),
        "training_dialogues": SupportDialogue.objects.filter(
            merchant_id=customer.merchant_id, conversation__in=_conversations(customer)
        ).delete()[0],
    }
    audit_record(
        merchant=customer.merchant,
        actor=actor,
        action="customer.consent_withdrawn",
        object_type="customer",
        object_id=str(customer.pk),
        summary="Profiling consent withdrawn",
        changes={"consent_profiling": False, "removed": removed},
    )


# --- retention ---------------------------------------------------------------------------------------------


def profile_settings_get(*, merchant: Merchant) -> ProfileSettings:
    """The merchant's settings, or the defaults (unsaved) when none were stored."""
    return ProfileSettings.objects.filter(merchant=merchant).first() or ProfileSettings(merchant=merchant)


@transaction.atomic
def profile_settings_update(
    *, merchant: Merchant, actor: Actor, event_retention_days: int
) -> ProfileSettings:
    if not MIN_RETENTION_DAYS <= event_retention_days <= MAX_RETENTION_DAYS:
        raise ValueError(f"Keep raw events between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS} days.")
    settings_row, _ = ProfileSettings.objects.select_for_update().get_or_create(merchant=merchant)
    before = settings_row.event_retention_days
    if before != event_retention_days:
        settings_row.event_retention_days = event_retention_days
        settings_row.save(update_fields=["event_retention_days"])
        audit_record(
            merchant=merchant,
            actor=actor,
            action="profiles.retention",
            obj=settings_row,
            changes={"event_retention_days": [before, event_retention_days]},
        )
    return settings_row


def retention_cutoff(days: int, now=None):
    return (now or timezone.now()) - timedelta(days=days)


def _delete_in_batches(queryset, batch_size: int) -> int:
    deleted = 0
    while True:
        ids = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += Event.objects.filter(pk__in=ids).delete()[0]


def apply_event_retention(*, batch_size: int = RETENTION_BATCH) -> int:
    """Delete raw events older than each merchant's retention (DEFAULT_RETENTION_DAYS without settings), in
    batches of `batch_size` (each its own transaction, so a long run never holds a big lock). Returns the
    number of events deleted."""
    now = timezone.now()
    custom = dict(ProfileSettings.objects.values_list("merchant_id", "event_retention_days"))
    total = 0
    for merchant in Merchant.objects.order_by("pk"):
        days = custom.get(merchant.pk, DEFAULT_RETENTION_DAYS)
        cutoff = retention_cutoff(days, now)
        deleted = _delete_in_batches(
            Event.objects.filter(merchant=merchant, occurred_at__lt=cutoff), batch_size
        )
        if deleted:
            audit_record(
                merchant=merchant,
                actor=Actor.system("event-retention"),
                action="events.retention",
                object_type="event",
                summary=f"Deleted {deleted} raw events older than {days} days",
                changes={"deleted": deleted, "retention_days": days, "cutoff": cutoff.isoformat()},
            )
        total += deleted
    return total
