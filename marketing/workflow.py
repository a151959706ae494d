"""The piece workflow every copy-studio write shares: ContentConflict, the guarded status move
(`transition`), field cleaning, and the grounding check with the report as it is stored.

Every state change of a piece is a guarded UPDATE (`filter(pk=..., status=<status read just before>)
.update(...)`): an illegal move, or a piece someone else changed first, raises `ContentConflict`.
Roles and API scopes are checked by the views; the services trust their caller on *who* may act and
enforce *what* may happen."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from catalog.models import Product
from marketing.models import CHANNEL_FIELDS, CONTENT_FIELDS, TRANSITIONS, ContentPiece
from marketing.selectors import brand_voice_get, product_facts
from ml.engine.grounding import check_copy
from ml.engine.verification import VERIFIER_VERSION

MAX_FIELD_CHARS = {"title": 500, "subject": 500, "body": 5000, "hashtags": 500}


class ContentConflict(Exception):
    """The piece (or campaign) is not in a state that allows this action; the API answers 409."""

    def __init__(self, message: str, *, code: str = "illegal_transition", detail: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.detail = detail or {}


@dataclass(frozen=True)
class GroundingOutcome:
    report: dict
    passed: bool
    approvable: bool


def content_check(
    *,
    product: Product,
    channel: str,
    fields: dict[str, str],
    banned_words: Iterable[str] = (),
    prompt: str = "",
    brand_voice: dict | None = None,
) -> GroundingOutcome:
    """Run the engine's grounding check (standard library only, safe in the web process). ``brand_voice``
    (``BrandVoice.as_prompt_dict()``) adds the voice's "never" rules to the banned words."""
    report = check_copy(
        {k: v for k, v in fields.items() if v},
        product_facts(product),
        channel=channel,
        banned_words=tuple(banned_words),
        prompt=prompt,
        brand_voice=brand_voice,
    )
    return GroundingOutcome(
        report=report.to_dict(), passed=bool(report.passed), approvable=bool(report.approvable)
    )


def voice_rules(merchant: Merchant) -> dict:
    """content_check's banned_words and brand_voice arguments for the merchant's voice."""
    voice = brand_voice_get(merchant=merchant)
    if voice is None:
        return {"banned_words": [], "brand_voice": None}
    return {"banned_words": list(voice.banned_words), "brand_voice": voice.as_prompt_dict()}


def clean_fields(channel: str, fields: dict[str, str], *, truncate: bool = False) -> dict[str, str]:
    """The channel's fields, stripped; other fields empty. Generated text is cut to the column sizes, a
    person's edit that is too long is an error."""
    allowed = CHANNEL_FIELDS[channel]
    values = {}
    for name in CONTENT_FIELDS:
        value = (fields.get(name) or "").strip() if name in allowed else ""
        if len(value) > MAX_FIELD_CHARS[name]:
            if not truncate:
                raise ValidationError({name: [f"At most {MAX_FIELD_CHARS[name]} characters."]})
            value = value[: MAX_FIELD_CHARS[name]]
        values[name] = value
    return values


def transition(
    piece: ContentPiece, action: str, actor: Actor, *, extra_filter: dict | None = None, **updates: Any
) -> ContentPiece:
    """Move the piece as `action` says, as one guarded UPDATE on the status read just before it: if another
    request changed the piece in between, nothing is written and the caller gets a ContentConflict."""
    allowed, target = TRANSITIONS[action]
    current = ContentPiece.objects.filter(pk=piece.pk).values_list("status", flat=True).first()
    if current not in allowed:
        raise ContentConflict(
            f"{a_piece(current)} cannot be {_past(action)}; only {pieces_phrase(allowed)} can.",
            detail={"status": current},
        )
    updated = ContentPiece.objects.filter(pk=piece.pk, status=current, **(extra_filter or {})).update(
        status=target, updated_at=timezone.now(), **updates
    )
    if not updated:
        raise ContentConflict(
            f"Piece {piece.pk} changed meanwhile and cannot be {_past(action)} now; reload it.", code="stale"
        )
    piece.refresh_from_db()
    audit_record(
        merchant=piece.merchant,
        actor=actor,
        action=f"content.{action}",
        obj=piece,
        changes={"from": current, "to": target, **{k: v for k, v in updates.items() if isinstance(v, str)}},
    )
    return piece


def _past(action: str) -> str:
    return {
        "submit": "submitted for review",
        "approve": "approved",
        "reject": "rejected",
        "publish": "published",
        "unpublish": "unpublished",
        "regenerate": "regenerated",
        "recheck": "sent back to review by a recheck",
    }[action]


def status_label(status: str | None) -> str:
    return ContentPiece.Status(status).label.lower() if status else "deleted"


def a_piece(status: str | None) -> str:
    """The subject of a refusal: "A piece in review", "An approved piece", "A deleted piece"."""
    if status == ContentPiece.Status.IN_REVIEW:
        return "A piece in review"
    label = status_label(status)
    return f"{'An' if label[0] in 'aeiou' else 'A'} {label} piece"


def pieces_phrase(statuses) -> str:
    """Pieces in any of `statuses`, as a sentence says it: "draft or rejected pieces, or pieces in review"."""
    labels = [status_label(s) for s in statuses if s != ContentPiece.Status.IN_REVIEW]
    named = f"{' or '.join(labels)} pieces" if labels else ""
    if ContentPiece.Status.IN_REVIEW not in statuses:
        return named
    return f"{named}, or pieces in review," if named else "pieces in review"


def approval_blockers(piece: ContentPiece, *, short: bool = False) -> list[str]:
    """What stops ``piece`` from being approved, from its stored report: with the findings' text for refusal
    messages, or ``short`` counts for the review card ("2 unsupported claims, 1 text problem")."""
    report = piece.grounding if isinstance(piece.grounding, dict) else {}

    def listed(key: str) -> list[str]:
        value = report.get(key)
        return [str(v) for v in value] if isinstance(value, list) else []

    def counted(items: list, noun: str) -> str:
        return f"{len(items)} {noun}{'s' if len(items) != 1 else ''}"

    unsupported, violations = listed("unsupported"), listed("channel_violations")
    banned, degenerate = listed("banned"), listed("degenerate")
    blockers = []
    if unsupported:
        blockers.append(
            counted(unsupported, "unsupported claim") if short else f"{len(unsupported)} unsupported claim(s)"
        )
    if violations:
        blockers.append(
            counted(violations, "channel limit violation") if short else "channel limit violation(s)"
        )
    if banned:
        blockers.append(
            f"brand voice ({', '.join(banned)})" if short else "brand voice rule(s): " + ", ".join(banned)
        )
    if degenerate:
        blockers.append(
            counted(degenerate, "text problem") if short else "text problem(s): " + "; ".join(degenerate[:3])
        )
    if not blockers and not piece.approvable:
        blockers.append("failed checks" if short else "failed grounding checks")
    return blockers


def prompt_text(prompt: str) -> str:
    """The user turn of the stored prompt messages (what an echo of the prompt would repeat)."""
    try:
        messages = json.loads(prompt) if prompt else []
    except ValueError:
        return prompt
    if not isinstance(messages, list):
        return prompt
    return "\n".join(
        m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "user"
    )


def report_stamped(report: dict) -> dict:
    """A report as the studio stores it: with the version of the checker that wrote it."""
    return {**report, "verifier_version": VERIFIER_VERSION}
