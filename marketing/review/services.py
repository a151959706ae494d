"""Writes for the review workflow of content pieces: submit, approve, reject (one or in bulk), edit and
regenerate."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from marketing.campaigns.services import MAX_GENERATION_ATTEMPTS, generation_version
from marketing.models import (
    CHANNEL_FIELDS,
    CONTENT_FIELDS,
    EDITABLE_STATUSES,
    TRANSITIONS,
    Channel,
    ContentPiece,
    ContentRevision,
)
from marketing.review.recheck import CURRENT_REPORT, RECHECK_BLOCKED_REASON, verdict_refresh, verdict_stale
from marketing.workflow import (
    ContentConflict,
    GroundingOutcome,
    a_piece,
    approval_blockers,
    clean_fields,
    content_check,
    pieces_phrase,
    prompt_text,
    report_stamped,
    status_label,
    transition,
    voice_rules,
)
from ml.models import Job, ModelVersion


@transaction.atomic
def content_submit(*, piece: ContentPiece, actor: Actor) -> ContentPiece:
    """draft -> in_review."""
    return transition(piece, "submit", actor)


def content_approve(*, piece: ContentPiece, actor: Actor) -> ContentPiece:
    """in_review -> approved, only when the grounding report has no blocking problem; otherwise the piece must
    be edited first (the edit re-runs the check). A report an older checker wrote is rechecked first (and kept
    even when the approval is then refused); the UPDATE itself requires a current report."""
    piece.refresh_from_db()
    if piece.status in TRANSITIONS["approve"][0]:
        piece = verdict_refresh(piece, actor)
    with transaction.atomic():
        if piece.status in TRANSITIONS["approve"][0] and not piece.approvable:
            raise ContentConflict(
                f"Piece {piece.pk} cannot be approved until it is edited: "
                f"{', '.join(approval_blockers(piece))}.",
                code="grounding_failed",
                detail={"grounding": piece.grounding},
            )
        return transition(
            piece,
            "approve",
            actor,
            extra_filter={"approvable": True, **CURRENT_REPORT},
            reviewed_by_label=actor.label[:200],
            rejection_reason="",
        )


@transaction.atomic
def content_reject(*, piece: ContentPiece, actor: Actor, reason: str) -> ContentPiece:
    """draft or in_review -> rejected; a reason is required."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why the piece is rejected."]})
    if len(reason) > 1000:
        raise ValidationError({"reason": ["At most 1000 characters."]})
    return transition(piece, "reject", actor, rejection_reason=reason, reviewed_by_label=actor.label[:200])


@dataclass
class BulkApproval:
    """What a bulk action did: ``approved`` holds the pieces it acted on (approved, rejected or queued)."""

    approved: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


def content_bulk_approve(
    *, merchant: Merchant, actor: Actor, pieces: QuerySet[ContentPiece] | Iterable[ContentPiece]
) -> BulkApproval:
    """Approve every given piece that is in review and passes every check (not flagged, nothing blocking);
    the others are skipped with the reason. Each approval is its own guarded update and audit entry."""
    result = BulkApproval()
    for piece in pieces:
        if piece.merchant_id != merchant.pk:
            result.skipped[piece.pk] = "not found"
            continue
        if piece.status != ContentPiece.Status.IN_REVIEW:
            result.skipped[piece.pk] = f"is {status_label(piece.status)}"
            continue
        stale = verdict_stale(piece)
        if stale:
            piece = verdict_refresh(piece, actor)
        if piece.flagged or not piece.approvable:
            result.skipped[piece.pk] = RECHECK_BLOCKED_REASON if stale else "does not pass every check"
            continue
        try:
            with transaction.atomic():
                transition(
                    piece,
                    "approve",
                    actor,
                    extra_filter={"approvable": True, "flagged": False, **CURRENT_REPORT},
                    reviewed_by_label=actor.label[:200],
                    rejection_reason="",
                )
        except ContentConflict as exc:
            result.skipped[piece.pk] = exc.message
        else:
            result.approved.append(piece.pk)
    return result


def content_bulk_reject(
    *, merchant: Merchant, actor: Actor, pieces: QuerySet[ContentPiece] | Iterable[ContentPiece], reason: str
) -> BulkApproval:
    """Reject every given piece that is in draft or review, with one reason; the others are skipped with
    why. An empty reason rejects nothing (ValidationError, as for one piece)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why the pieces are rejected."]})
    return _bulk_each(merchant, pieces, lambda piece: content_reject(piece=piece, actor=actor, reason=reason))


def content_bulk_regenerate(
    *, merchant: Merchant, actor: Actor, pieces: QuerySet[ContentPiece] | Iterable[ContentPiece]
) -> BulkApproval:
    """Queue a regeneration of every given piece that can be regenerated (draft, in review, rejected, and not
    already regenerating); the others are skipped with why. ``approved`` lists the pieces queued."""
    return _bulk_each(merchant, pieces, lambda piece: content_regenerate(piece=piece, actor=actor))


def _bulk_each(merchant: Merchant, pieces, action) -> BulkApproval:
    """``action`` on each of the merchant's pieces in its own transaction; a refusal skips that piece."""
    result = BulkApproval()
    for piece in pieces:
        if piece.merchant_id != merchant.pk:
            result.skipped[piece.pk] = "not found"
            continue
        try:
            with transaction.atomic():
                action(piece)
        except ContentConflict as exc:
            result.skipped[piece.pk] = exc.message
        else:
            result.approved.append(piece.pk)
    return result


@transaction.atomic
def content_update(*, piece: ContentPiece, actor: Actor, **fields: str) -> ContentPiece:
    """A person's edit of the channel fields: saved as a revision, grounding re-checked, and a rejected or
    approved piece goes back to review. Published pieces must be unpublished first."""
    unknown = set(fields) - set(CONTENT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown content field(s): {', '.join(sorted(unknown))}")
    piece = (
        ContentPiece.objects.select_for_update(of=("self",))
        .select_related("campaign", "product", "merchant")
        .get(pk=piece.pk)
    )
    if piece.status not in EDITABLE_STATUSES:
        raise ContentConflict(
            f"{a_piece(piece.status)} cannot be edited; unpublish it first.",
            detail={"status": piece.status},
        )
    channel = piece.campaign.channel
    not_for_channel = [
        name for name, value in fields.items() if value and name not in CHANNEL_FIELDS[channel]
    ]
    if not_for_channel:
        raise ValidationError(
            {name: [f"A {Channel(channel).label.lower()} has no {name}."] for name in not_for_channel}
        )
    before = piece.fields()
    after = clean_fields(channel, {**before, **fields})
    if after == before:
        return piece
    outcome = content_check(
        product=piece.product,
        channel=channel,
        fields=after,
        prompt=prompt_text(piece.prompt),
        **voice_rules(piece.merchant),
    )
    return _content_replace(
        piece, after, outcome, actor, kind="edit", target_status=_status_after_edit(piece.status)
    )


def _status_after_edit(status: str) -> str:
    if status in (ContentPiece.Status.REJECTED, ContentPiece.Status.APPROVED):
        return ContentPiece.Status.IN_REVIEW
    return status


def _content_replace(
    piece: ContentPiece,
    after: dict[str, str],
    outcome: GroundingOutcome,
    actor: Actor,
    *,
    kind: str,
    target_status: str,
    extra: dict | None = None,
) -> ContentPiece:
    """Write new fields and grounding for a locked piece, keep the revision and audit any status change."""
    before, status_before = piece.fields(), piece.status
    updated = ContentPiece.objects.filter(pk=piece.pk, status=status_before).update(
        **after,
        grounding=report_stamped(outcome.report),
        flagged=not outcome.passed,
        approvable=outcome.approvable,
        status=target_status,
        rejection_reason="" if target_status != ContentPiece.Status.REJECTED else piece.rejection_reason,
        updated_at=timezone.now(),
        **(extra or {}),
    )
    if not updated:
        raise ContentConflict(f"Piece {piece.pk} changed while it was being edited; reload it.", code="stale")
    ContentRevision.objects.create(
        merchant_id=piece.merchant_id,
        piece=piece,
        fields_before=before,
        fields_after=after,
        status_before=status_before,
        author=actor.user,
        author_label=actor.label[:200],
        kind=kind,
    )
    changed = sorted(name for name in after if after[name] != before[name])
    audit_record(
        merchant=piece.merchant,
        actor=actor,
        action=f"content.{kind}",
        obj=piece,
        changes={
            "fields": changed,
            "from": status_before,
            "to": target_status,
            "approvable": outcome.approvable,
        },
    )
    piece.refresh_from_db()
    return piece


@transaction.atomic
def content_regenerate(*, piece: ContentPiece, actor: Actor) -> Job:
    """Queue a fresh generation of one piece on the `ml` queue (draft, in review or rejected pieces only)."""
    from marketing.tasks import regenerate_content_task

    piece = ContentPiece.objects.select_for_update(of=("self",)).select_related("merchant").get(pk=piece.pk)
    if piece.status not in TRANSITIONS["regenerate"][0]:
        raise ContentConflict(
            f"{a_piece(piece.status)} cannot be regenerated; only "
            f"{pieces_phrase(TRANSITIONS['regenerate'][0])} can.",
            detail={"status": piece.status},
        )
    if Job.objects.filter(
        merchant_id=piece.merchant_id,
        kind=Job.Kind.GENERATE,
        status__in=Job.ACTIVE,
        params__piece_id=piece.pk,
    ).exists():
        raise ContentConflict("This piece is already being regenerated.", code="already_generating")
    version = generation_version(piece.merchant)
    job = Job.objects.create(
        merchant_id=piece.merchant_id,
        kind=Job.Kind.GENERATE,
        params={
            "piece_id": piece.pk,
            "campaign_id": piece.campaign_id,
            "max_attempts": MAX_GENERATION_ATTEMPTS,
        },
        progress_total=1,
        base_version=version,
        created_by=actor.user,
        created_by_label=actor.label[:200],
    )
    audit_record(
        merchant=piece.merchant,
        actor=actor,
        action="content.regenerate_requested",
        obj=piece,
        changes={"job": job.pk},
    )
    transaction.on_commit(
        lambda: Job.objects.filter(pk=job.pk).update(
            celery_task_id=regenerate_content_task.apply_async(args=[job.pk], queue="ml").id
        )
    )
    return job


@transaction.atomic
def content_apply_regeneration(
    *,
    piece_id: int,
    actor: Actor,
    fields: dict[str, str],
    outcome: GroundingOutcome,
    model_version: ModelVersion | None,
    prompt: str,
    params: dict,
    quality: dict,
    attempts: int,
) -> ContentPiece:
    """Worker side of a regeneration: replace the text (kept as a revision) and put the piece in review."""
    piece = (
        ContentPiece.objects.select_for_update(of=("self",))
        .select_related("campaign", "merchant")
        .get(pk=piece_id)
    )
    if piece.status not in TRANSITIONS["regenerate"][0]:
        raise ContentConflict(
            f"Piece {piece.pk} became {status_label(piece.status)} while it was regenerated."
        )
    after = clean_fields(piece.campaign.channel, fields, truncate=True)
    return _content_replace(
        piece,
        after,
        outcome,
        actor,
        kind="regenerate",
        target_status=ContentPiece.Status.IN_REVIEW,
        extra={
            "model_version": model_version,
            "prompt": prompt,
            "params": params,
            "quality": quality,
            "attempts": piece.attempts + attempts,
        },
    )
