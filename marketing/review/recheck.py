"""Rechecking stored grounding reports with the current checker, without regenerating."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from marketing.models import TRANSITIONS, Campaign, ContentPiece
from marketing.workflow import approval_blockers, content_check, prompt_text, report_stamped, voice_rules
from ml.engine.verification import VERIFIER_VERSION

RECHECK_BATCH = 200
RECHECK_BLOCKED_REASON = "blocked by the current checker"
# Filter for pieces whose stored report this checker version wrote (jsonb containment: a report without a
# version is simply not matched, where a key lookup would compare NULL).
CURRENT_REPORT = {"grounding__contains": {"verifier_version": VERIFIER_VERSION}}


@dataclass
class RecheckReport:
    """What content_recheck did. ``moved_to_review`` counts approved pieces (also in ``newly_blocked``) sent
    back to review; ``skipped`` ones changed while they were rechecked and keep their stale report until the
    next run; ``remaining`` is how many stale reports are left in scope afterwards."""

    checked: int = 0
    unchanged: int = 0
    newly_blocked: int = 0
    newly_passing: int = 0
    moved_to_review: int = 0
    skipped: int = 0
    remaining: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def verdict_stale(piece: ContentPiece) -> bool:
    report = piece.grounding if isinstance(piece.grounding, dict) else {}
    return report.get("verifier_version") != VERIFIER_VERSION


def _stale_verdicts(pieces: QuerySet[ContentPiece]) -> QuerySet[ContentPiece]:
    """The pieces whose stored report was written by another checker version (or by none)."""
    return pieces.exclude(**CURRENT_REPORT)


def merchants_with_stale_copy() -> list[int]:
    """Ids of the merchants that have pieces whose report another checker version wrote."""
    return sorted(set(_stale_verdicts(ContentPiece.objects.all()).values_list("merchant_id", flat=True)))


def _piece_recheck(
    piece: ContentPiece, actor: Actor, voice: dict, report: RecheckReport, *, force: bool = False
) -> None:
    """Re-run the current check on the stored text and write the verdict, guarded on the status and text read
    just before and (unless ``force``) on the report still being stale, so an edit, a regeneration, a move or
    another recheck made meanwhile wins (the piece is skipped). An approved piece the check now blocks goes
    back to review; any other piece keeps its status (a published one shows the findings on its card)."""
    outcome = content_check(
        product=piece.product,
        channel=piece.campaign.channel,
        fields=piece.fields(),
        prompt=prompt_text(piece.prompt),
        **voice,
    )
    report.checked += 1
    was_approvable = piece.approvable
    blocked = not outcome.approvable
    target = piece.status
    if blocked and piece.status in TRANSITIONS["recheck"][0]:
        target = TRANSITIONS["recheck"][1]
    guarded = ContentPiece.objects.filter(pk=piece.pk, status=piece.status, **piece.fields())
    if not force:
        guarded = _stale_verdicts(guarded)
    with transaction.atomic():
        updated = guarded.update(
            grounding=report_stamped(outcome.report),
            flagged=not outcome.passed,
            approvable=outcome.approvable,
            status=target,
            updated_at=timezone.now(),
        )
        if not updated:
            report.skipped += 1
            return
        if target != piece.status:
            report.moved_to_review += 1
        if was_approvable == outcome.approvable and target == piece.status:
            report.unchanged += 1
            return
        if blocked:
            report.newly_blocked += 1
        else:
            report.newly_passing += 1
        piece.grounding, piece.approvable = outcome.report, outcome.approvable
        changes = {
            "from": piece.status,
            "to": target,
            "approvable": outcome.approvable,
            "verifier_version": VERIFIER_VERSION,
        }
        if blocked:
            changes.update(reason=RECHECK_BLOCKED_REASON, blockers=approval_blockers(piece))
        audit_record(
            merchant=piece.merchant, actor=actor, action="content.recheck", obj=piece, changes=changes
        )


def _pieces_recheck(
    pieces: QuerySet[ContentPiece],
    *,
    actor: Actor,
    report: RecheckReport,
    limit: int | None = None,
    force: bool = False,
) -> RecheckReport:
    """Recheck the given pieces (one merchant's) in batches of RECHECK_BATCH, in id order."""
    voices: dict[int, dict] = {}
    last_pk = 0
    done = 0
    while limit is None or done < limit:
        size = RECHECK_BATCH if limit is None else min(RECHECK_BATCH, limit - done)
        batch = list(
            pieces.filter(pk__gt=last_pk)
            .select_related("campaign", "product", "merchant")
            .order_by("pk")[:size]
        )
        if not batch:
            break
        for piece in batch:
            if piece.merchant_id not in voices:
                voices[piece.merchant_id] = voice_rules(piece.merchant)
            _piece_recheck(piece, actor, voices[piece.merchant_id], report, force=force)
        last_pk = batch[-1].pk
        done += len(batch)
    return report


def content_recheck(
    *, merchant: Merchant, actor: Actor, campaign: Campaign | None = None, limit: int | None = None
) -> RecheckReport:
    """Re-run the current checker, without regenerating, on every piece of the merchant (or of one of its
    campaigns) whose stored report another checker version wrote: drafts, pieces in review and rejected ones
    get the new report and flags; approved pieces it now blocks go back to review (audited with the reason
    RECHECK_BLOCKED_REASON); published pieces keep their status and get the report, so their card shows the
    findings. Pieces already checked by this version are left alone, so running it twice changes nothing.
    ``limit`` caps how many pieces one call rechecks (a task does a batch, then queues the next)."""
    scope = ContentPiece.objects.filter(merchant=merchant)
    if campaign is not None:
        scope = scope.filter(campaign=campaign)
    report = _pieces_recheck(_stale_verdicts(scope), actor=actor, report=RecheckReport(), limit=limit)
    report.remaining = _stale_verdicts(scope).count()
    if report.checked:
        audit_record(
            merchant=merchant,
            actor=actor,
            action="content.recheck_run",
            obj=campaign,
            object_type="" if campaign is not None else "merchant",
            object_id="" if campaign is not None else str(merchant.pk),
            summary="" if campaign is not None else str(merchant),
            changes={**report.as_dict(), "verifier_version": VERIFIER_VERSION},
        )
    return report


def verdict_refresh(piece: ContentPiece, actor: Actor, *, force: bool = False) -> ContentPiece:
    """The piece as stored, after rechecking it if its report came from another checker version (or, with
    ``force``, anyway). The recheck commits on its own, so a refusal that follows keeps the fresh report."""
    piece.refresh_from_db()
    if force or verdict_stale(piece):
        _pieces_recheck(
            ContentPiece.objects.filter(pk=piece.pk), actor=actor, report=RecheckReport(), force=force
        )
        piece.refresh_from_db()
    return piece
