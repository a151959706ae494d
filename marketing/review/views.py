"""The review queue (`dashboard:review`) and its bulk actions: approve, reject and regenerate the selected
pieces."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import merchant_required
from marketing.forms import ReviewFilterForm
from marketing.models import ContentPiece
from marketing.review.piece_views import piece_for_display
from marketing.review.services import content_bulk_approve, content_bulk_regenerate, content_bulk_reject
from marketing.selectors import campaign_list, content_list, content_regenerating_ids
from marketing.view_helpers import (
    MESSAGE_LEVELS,
    int_list,
    request_actor,
    request_roles,
    return_to,
    review_url,
    wants_partial,
)

BULK_MAX_IDS = 500
SKIPPED_SHOWN = 5


def _queue_context(request, params) -> dict:
    merchant = request.merchant
    campaigns = [
        {"id": pk, "name": name} for pk, name in campaign_list(merchant=merchant).values_list("id", "name")
    ]
    form = ReviewFilterForm(params, campaigns=campaigns)
    filters = form.filters()
    flagged = {"flagged": True, "passing": False}.get(filters["flag"])
    scoped = content_list(
        merchant=merchant, campaign=filters["campaign"], channel=filters["channel"] or None, flagged=flagged
    )
    counts = dict(scoped.order_by().values_list("status").annotate(n=Count("id")))
    pieces = scoped if filters["status"] == "all" else scoped.filter(status=filters["status"])
    page = Paginator(pieces, filters["per_page"]).get_page(params.get("page"))
    regenerating = content_regenerating_ids(
        merchant=merchant, piece_ids=[piece.pk for piece in page.object_list]
    )
    page.object_list = [
        piece_for_display(piece, regenerating=piece.pk in regenerating) for piece in page.object_list
    ]
    base = {key: filters[key] for key in ("campaign", "channel", "flag")}
    per_page = filters["per_page"] if filters["per_page"] != ReviewFilterForm.DEFAULT_PER_PAGE else None
    status_tabs = [
        {
            "value": value,
            "label": label,
            "count": sum(counts.values()) if value == "all" else counts.get(value, 0),
            "url": review_url(**base, status=value, per_page=per_page),
            "current": value == filters["status"],
        }
        for value, label in ReviewFilterForm.STATUS_CHOICES
        if value != "draft" or counts.get("draft")
    ]
    page_urls = {
        "previous": review_url(
            **base, status=filters["status"], per_page=per_page, page=page.previous_page_number()
        )
        if page.has_previous()
        else None,
        "next": review_url(**base, status=filters["status"], per_page=per_page, page=page.next_page_number())
        if page.has_next()
        else None,
    }
    selected_campaign = next((c for c in campaigns if c["id"] == filters["campaign"]), None)
    return {
        "filter_form": form,
        "filters": filters,
        "selected_campaign": selected_campaign,
        "page": page,
        "page_urls": page_urls,
        "pieces": page.object_list,
        "status_tabs": status_tabs,
        "filtered": any(base.values()),
        "passing_ids": [
            p.pk for p in page.object_list if p.passes and p.status == ContentPiece.Status.IN_REVIEW
        ],
        "return_to": request.get_full_path()
        if request.method == "GET"
        else review_url(
            **base, status=filters["status"], per_page=per_page, page=page.number if page.number > 1 else None
        ),
        **request_roles(request),
    }


@merchant_required()
@vary_on_headers("HX-Request")
def review_view(request):
    context = {"section": "review", **_queue_context(request, request.GET)}
    if wants_partial(request):
        return render(request, "marketing/partials/_review_queue.html", context)
    context["has_any_piece"] = content_list(merchant=request.merchant).exists()
    return render(request, "marketing/review.html", context)


@merchant_required("review")
@require_POST
def bulk_approve_view(request):
    """Approve the checked pieces, or every piece on the page that passes every check; the service skips any
    piece that is not in review or does not pass, and the answer says which and why."""
    use_page = request.POST.get("action") == "page"
    ids = int_list(request.POST.getlist("page_ids" if use_page else "ids"))[:BULK_MAX_IDS]
    if not ids:
        return _bulk_answer(
            request,
            messages.INFO,
            "Nothing was selected: tick the pieces to approve, or approve all passing ones.",
        )
    pieces = content_list(merchant=request.merchant).filter(pk__in=ids).order_by("id")
    result = content_bulk_approve(merchant=request.merchant, actor=request_actor(request), pieces=pieces)
    return _bulk_answer(request, *_bulk_summary(len(result.approved), _skipped(ids, result), verb="Approved"))


@merchant_required("review")
@require_POST
def bulk_reject_view(request):
    """Reject the checked pieces with one reason."""

    def reject(pieces):
        return content_bulk_reject(
            merchant=request.merchant,
            actor=request_actor(request),
            pieces=pieces,
            reason=request.POST.get("reason", ""),
        )

    try:
        return _bulk_selected(
            request, reject, verb="Rejected", nothing="Nothing was selected: tick the pieces to reject."
        )
    except ValidationError:
        return _bulk_answer(
            request,
            messages.ERROR,
            "Say why the selected pieces are rejected (the reason box beside Reject selected).",
        )


@merchant_required("edit")
@require_POST
def bulk_regenerate_view(request):
    """Write the checked pieces again (each keeps its current text as a revision)."""
    return _bulk_selected(
        request,
        lambda pieces: content_bulk_regenerate(
            merchant=request.merchant, actor=request_actor(request), pieces=pieces
        ),
        verb="Queued for regeneration",
        nothing="Nothing was selected: tick the pieces to regenerate.",
    )


def _bulk_selected(request, act, *, verb: str, nothing: str):
    ids = int_list(request.POST.getlist("ids"))[:BULK_MAX_IDS]
    if not ids:
        return _bulk_answer(request, messages.INFO, nothing)
    result = act(content_list(merchant=request.merchant).filter(pk__in=ids).order_by("id"))
    return _bulk_answer(request, *_bulk_summary(len(result.approved), _skipped(ids, result), verb=verb))


def _skipped(ids: list[int], result) -> dict:
    return {
        **{pk: "not found" for pk in set(ids) - set(result.approved) - set(result.skipped)},
        **result.skipped,
    }


def _bulk_answer(request, level: int, text: str):
    if wants_partial(request):
        level_name = {value: name for name, value in MESSAGE_LEVELS.items()}[level]
        context = {
            "section": "review",
            **_queue_context(request, request.POST),
            "queue_notice": {"level": level_name, "text": text},
        }
        return render(request, "marketing/partials/_review_queue.html", context)
    messages.add_message(request, level, text)
    return redirect(return_to(request, reverse("dashboard:review")))


def _bulk_summary(approved: int, skipped: dict, *, verb: str = "Approved") -> tuple[int, str]:
    text = f"{verb} {approved} piece{'s' if approved != 1 else ''}."
    if not skipped:
        return messages.SUCCESS, text
    reasons = "; ".join(f"#{pk} {reason}" for pk, reason in sorted(skipped.items())[:SKIPPED_SHOWN])
    more = f" and {len(skipped) - SKIPPED_SHOWN} more" if len(skipped) > SKIPPED_SHOWN else ""
    return messages.WARNING, f"{text} Skipped {len(skipped)}: {reasons}{more}."
