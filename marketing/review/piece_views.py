"""One piece in the review queue: its card (claims highlighted, field limits, blockers) and the actions on it.

A piece's card is one partial, `_content_card.html`: every action on a piece answers an HTMX request with the
fresh card, and a plain form post with a redirect back. Reads go through marketing.selectors scoped to
`request.merchant` (another merchant's ids answer 404); writes through the services, which enforce what may
happen (a piece with unsupported claims is never approved); the decorators here enforce who may ask."""

import functools
import re
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.html import escape, format_html, format_html_join
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import merchant_required
from marketing.forms import FIELD_LABELS, ContentEditForm, add_service_errors
from marketing.models import EDITABLE_STATUSES, TRANSITIONS, Channel, ContentPiece
from marketing.publishing.services import content_publish, content_unpublish
from marketing.review.services import content_approve, content_regenerate, content_reject, content_update
from marketing.selectors import content_get, content_regenerating_ids, product_facts
from marketing.view_helpers import (
    MESSAGE_LEVELS,
    request_actor,
    request_roles,
    return_to,
    review_url,
    wants_partial,
)
from marketing.workflow import ContentConflict, approval_blockers
from ml.engine.grounding import CHANNEL_FIELDS, CHANNEL_LIMITS, CLAIM_KINDS, hashtag_list


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str
    reason: str


# What each kind of finding is called on a card (the reason says what fact it failed against).
CLAIM_KIND_LABELS = {
    "price": "Price",
    "number": "Number",
    "percentage": "Percentage",
    "measurement": "Measurement",
    "material": "Material",
    "claim": "Claim",
    "term": "Unverified",
    "colour": "Wrong colour",
    "product_type": "Product type",
    "audience": "Audience",
    "name": "Name",
    "retailer": "Shop or site",
    "contradiction": "Contradiction",
}


def _claims(grounding) -> list[dict]:
    """The report's unsupported claims with the fields a card needs, skipping malformed entries."""
    unsupported = grounding.get("unsupported") if isinstance(grounding, dict) else None
    claims = []
    for claim in unsupported if isinstance(unsupported, list) else []:
        if not isinstance(claim, dict):
            continue
        start, end = claim.get("start"), claim.get("end")
        kind = claim.get("kind") if claim.get("kind") in CLAIM_KINDS else "claim"
        claims.append(
            {
                "text": str(claim.get("text") or ""),
                "kind": kind,
                "kind_label": CLAIM_KIND_LABELS.get(kind, "Unsupported claim"),
                "field": str(claim.get("field") or ""),
                "start": start if isinstance(start, int) and not isinstance(start, bool) else None,
                "end": end if isinstance(end, int) and not isinstance(end, bool) else None,
                "reason": str(claim.get("reason") or ""),
            }
        )
    return claims


def _claim_spans(text: str, claims: list[dict]) -> list[Span]:
    """Where each claim sits in `text`: its report offsets when they still point at the claimed words, else
    the first occurrence of the words; overlapping spans are dropped so the marks never nest."""
    spans = []
    for claim in claims:
        start, end = claim["start"], claim["end"]
        if not (
            start is not None
            and end is not None
            and 0 <= start < end <= len(text)
            and (not claim["text"] or text[start:end] == claim["text"])
        ):
            found = text.find(claim["text"]) if claim["text"] else -1
            if found < 0:
                continue
            start, end = found, found + len(claim["text"])
        spans.append(Span(start, end, claim["kind"], claim["reason"]))
    spans.sort(key=lambda s: (s.start, -s.end))
    kept, last_end = [], 0
    for span in spans:
        if span.start >= last_end:
            kept.append(span)
            last_end = span.end
    return kept


def highlight_claims(text: str, claims: list[dict]):
    """`text` as HTML with each unsupported claim wrapped in <mark>. Every piece of model text goes through
    escape()/format_html(), and the parts are joined with format_html_join, so nothing the model wrote is ever
    marked safe as it stands."""
    parts, position = [], 0
    for span in _claim_spans(text, claims):
        parts.append(escape(text[position : span.start]))
        parts.append(
            format_html(
                '<mark class="claim claim-{}" data-claim title="Unsupported {}: {}">{}</mark>',
                span.kind,
                span.kind,
                span.reason,
                text[span.start : span.end],
            )
        )
        position = span.end
    parts.append(escape(text[position:]))
    return format_html_join("", "{}", ((part,) for part in parts))


def _limit_meter(channel: str, name: str, fields: dict) -> dict | None:
    """Characters (or hashtags) used against the channel's limit for one field, as the grounding check counts."""
    limit = CHANNEL_LIMITS[channel].get(name)
    if not limit:
        return None
    text = (fields.get(name) or "").strip()
    if "max_items" in limit:
        used = len(hashtag_list(text)) + (
            len(re.findall(r"#\w+", fields.get("body", ""))) if channel == "social_post" else 0
        )
        return {
            "used": used,
            "max": limit["max_items"],
            "unit": "hashtags",
            "over": used > limit["max_items"],
            "under": False,
        }
    maximum, minimum = limit.get("max_chars"), limit.get("min_chars", 0)
    return {
        "used": len(text),
        "max": maximum,
        "min": minimum,
        "unit": "characters",
        "over": maximum is not None and len(text) > maximum,
        "under": bool(minimum) and len(text) < minimum,
    }


def piece_for_display(piece: ContentPiece, *, regenerating: bool = False) -> ContentPiece:
    """Attach what the card renders: highlighted fields with limit meters, the checks' findings, the product's
    facts and which actions the piece's state allows. Uses only rows the selector already joined."""
    channel = piece.campaign.channel
    grounding = piece.grounding if isinstance(piece.grounding, dict) else {}
    claims = _claims(grounding)
    fields = piece.fields()
    labels = FIELD_LABELS[channel]
    piece.display_fields = [
        {
            "name": name,
            "label": labels.get(name, name.capitalize()),
            "html": highlight_claims(fields[name], [c for c in claims if c["field"] == name]),
            "empty": not fields[name].strip(),
            "meter": _limit_meter(channel, name, fields),
        }
        for name in CHANNEL_FIELDS[channel]
    ]
    piece.claims = claims
    piece.channel_violations = [str(v) for v in grounding.get("channel_violations") or []]
    piece.banned = [str(v) for v in grounding.get("banned") or []]
    piece.degenerate = [str(v) for v in grounding.get("degenerate") or []]
    piece.passes = piece.approvable and not piece.flagged
    piece.blockers = approval_blockers(piece, short=True)
    piece.facts = product_facts(piece.product)
    piece.channel_label = Channel(channel).label if channel in Channel.values else channel
    piece.is_regenerating = regenerating
    status = piece.status
    piece.can_be_approved = status in TRANSITIONS["approve"][0] and piece.approvable and not regenerating
    piece.awaits_review = status in TRANSITIONS["approve"][0]
    piece.can_be_rejected = status in TRANSITIONS["reject"][0] and not regenerating
    piece.can_be_edited = status in EDITABLE_STATUSES and not regenerating
    piece.can_be_regenerated = status in TRANSITIONS["regenerate"][0] and not regenerating
    return piece


def _recheck_notice(piece: ContentPiece) -> dict:
    """What the grounding re-check after an edit found, in a sentence."""
    if piece.passes:
        return {"level": "success", "text": "Saved as a new revision. The re-check passed: ready to approve."}
    if piece.approvable:
        return {
            "level": "warning",
            "text": "Saved as a new revision. Nothing blocks approval, but read it once more: "
            + "; ".join(piece.degenerate)
            + ".",
        }
    return {
        "level": "warning",
        "text": "Saved as a new revision, but approval is still blocked by "
        + ", ".join(piece.blockers)
        + ". Edit the highlighted text.",
    }


def _card(
    request,
    piece_id: int,
    *,
    status: int = 200,
    notice: dict | None = None,
    editing: bool = False,
    form=None,
    reject_error: str = "",
    reject_reason: str = "",
):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    regenerating = bool(content_regenerating_ids(merchant=request.merchant, piece_ids=[piece.pk]))
    context = {
        "piece": piece_for_display(piece, regenerating=regenerating),
        "notice": notice,
        "editing": editing,
        "form": form if form is not None else (ContentEditForm(piece=piece) if editing else None),
        "reject_error": reject_error,
        "reject_reason": reject_reason,
        "return_to": return_to(request, review_url(campaign=piece.campaign_id, status="all")),
        **request_roles(request),
    }
    return render(request, "marketing/partials/_content_card.html", context, status=status)


def _after_action(
    request, piece: ContentPiece, *, text: str, level: str = "success", status: int = 200, **card
):
    """HTMX: the piece's fresh card with a one-line notice. A plain post: a message and back where it came from."""
    if request.htmx:
        return _card(request, piece.pk, status=status, notice={"level": level, "text": text}, **card)
    messages.add_message(request, MESSAGE_LEVELS[level], text)
    return redirect(return_to(request, review_url(campaign=piece.campaign_id, status="all")))


@merchant_required()
@vary_on_headers("HX-Request")
def piece_card_view(request, piece_id: int):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    if not wants_partial(request):
        return redirect(review_url(campaign=piece.campaign_id, status="all") + f"#piece-{piece.pk}")
    return _card(request, piece.pk)


@merchant_required("edit")
def piece_edit_view(request, piece_id: int):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    if request.method != "POST":
        if wants_partial(request):
            return _card(request, piece.pk, editing=True)
        return _edit_page(request, piece, ContentEditForm(piece=piece))
    form = ContentEditForm(request.POST, piece=piece)
    if form.is_valid():
        before = piece.fields()
        try:
            updated = content_update(piece=piece, actor=request_actor(request), **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ContentConflict as exc:
            return _after_action(request, piece, text=exc.message, level="error", status=409)
        else:
            if updated.fields() == before:
                return _after_action(request, piece, text="No changes to save.", level="info")
            fresh = piece_for_display(content_get(merchant=request.merchant, piece_id=piece.pk))
            notice = _recheck_notice(fresh)
            return _after_action(request, piece, text=notice["text"], level=notice["level"])
    if request.htmx:
        return _card(request, piece.pk, status=422, editing=True, form=form)
    return _edit_page(request, piece, form, status=400)


def _edit_page(request, piece, form, status=200):
    """The no-JS way to edit: the card in edit mode on a page of its own."""
    context = {
        "section": "review",
        "piece": piece_for_display(
            piece,
            regenerating=bool(content_regenerating_ids(merchant=request.merchant, piece_ids=[piece.pk])),
        ),
        "form": form,
        "editing": True,
        "return_to": return_to(request, review_url(campaign=piece.campaign_id, status="all")),
        **request_roles(request),
    }
    return render(request, "marketing/piece_edit.html", context, status=status)


def _piece_action(request, piece: ContentPiece, act, *, done: str, level: str = "success"):
    """Run one service action on the piece and answer with its fresh card (or a redirect): the service's
    refusal (ContentConflict) is shown on the card with a 409, success with `done`."""
    try:
        act(piece=piece, actor=request_actor(request))
    except ContentConflict as exc:
        return _after_action(request, piece, text=exc.message, level="error", status=409)
    return _after_action(request, piece, text=done, level=level)


@merchant_required("review")
@require_POST
def piece_approve_view(request, piece_id: int):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    return _piece_action(request, piece, content_approve, done="Approved.")


@merchant_required("review")
@require_POST
def piece_reject_view(request, piece_id: int):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    reason = request.POST.get("reason", "")
    try:
        return _piece_action(
            request,
            piece,
            functools.partial(content_reject, reason=reason),
            done="Rejected. The reason is kept with the piece.",
        )
    except ValidationError as exc:
        message = " ".join(exc.message_dict.get("reason", exc.messages))
        if request.htmx:
            return _card(request, piece.pk, status=422, reject_error=message, reject_reason=reason[:1000])
        messages.error(request, f"The piece was not rejected: {message}")
        return redirect(return_to(request, review_url(campaign=piece.campaign_id, status="all")))


@merchant_required("edit")
@require_POST
def piece_regenerate_view(request, piece_id: int):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    return _piece_action(
        request,
        piece,
        content_regenerate,
        level="info",
        done="Regenerating: the new text replaces this one when it is ready (the current text is kept as a revision).",
    )


@merchant_required("publish")
@require_POST
def piece_publish_view(request, piece_id: int):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    return _piece_action(
        request, piece, content_publish, done="Published. Your webhook endpoints are being notified."
    )


@merchant_required("publish")
@require_POST
def piece_unpublish_view(request, piece_id: int):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    return _piece_action(
        request, piece, content_unpublish, done="Unpublished: the piece is approved again and can be edited."
    )
