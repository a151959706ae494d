"""Dashboard pages for the copy studio: campaigns (create, edit, generate with live progress, export), the brand
voice, and the review queue where each piece sits beside its product's facts and is edited, approved, rejected,
regenerated and published without a page reload.

Reads go through marketing.selectors scoped to `request.merchant` (another merchant's ids answer 404); writes
through marketing.services, which enforce what may happen (a piece with unsupported claims is never approved);
the decorators here enforce who may ask. A piece's card is one partial, `_content_card.html`: every action on
a piece answers an HTMX request with the fresh card, and a plain form post with a redirect back."""

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import merchant_required
from accounts.services import Actor
from catalog.selectors import product_list
from marketing.forms import (
    FIELD_LABELS,
    FILTER_FIELDS,
    LANGUAGES,
    BrandVoiceForm,
    CampaignForm,
    ContentEditForm,
    ReviewFilterForm,
    add_service_errors,
)
from marketing.models import EDITABLE_STATUSES, TRANSITIONS, Campaign, Channel, ContentPiece
from marketing.selectors import (
    brand_voice_get,
    campaign_get,
    campaign_list,
    campaign_products,
    content_export_list,
    content_get,
    content_list,
    content_regenerating_ids,
    product_facts,
    product_filter_apply,
)
from marketing.services import (
    ContentConflict,
    brand_voice_set,
    campaign_create,
    campaign_generate,
    campaign_update,
    content_approve,
    content_bulk_approve,
    content_bulk_regenerate,
    content_bulk_reject,
    content_export,
    content_publish,
    content_recheck,
    content_regenerate,
    content_reject,
    content_unpublish,
    content_update,
)
from marketing.tasks import recheck_copy_task
from ml.engine.grounding import CHANNEL_FIELDS, CHANNEL_LIMITS, CLAIM_KINDS, hashtag_list
from ml.models import Job
from ml.selectors import serving_version

CAMPAIGNS_PER_PAGE = 25
PICKER_RESULTS = 20
FILTER_PREVIEW_TITLES = 5
PRODUCTS_SHOWN = 8
BULK_MAX_IDS = 500
SKIPPED_SHOWN = 5
MESSAGE_LEVELS = {
    "success": messages.SUCCESS,
    "info": messages.INFO,
    "warning": messages.WARNING,
    "error": messages.ERROR,
}


def _wants_partial(request) -> bool:
    # A history-restore request (back button after a cache miss) needs the whole page, not the fragment.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _actor(request) -> Actor:
    return Actor.for_user(request.user)


def _roles(request) -> dict:
    membership = request.membership
    return {
        "can_edit": membership.can("edit"),
        "can_review": membership.can("review"),
        "can_publish": membership.can("publish"),
    }


def _return_to(request, default: str) -> str:
    """Where a plain (no-JS) form post goes back to: the page it came from, if it is one of ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# ---------- Jobs shown as progress bars ----------


def _job_for_display(job: Job | None, campaign: Campaign) -> Job | None:
    """The attributes marketing/partials/_campaign_progress.html reads besides the job's own fields. No ETA
    (empty `eta_text`) while running means the worker has not finished a product yet: the page says it is
    estimating."""
    if job is None:
        return None
    job.title = f"copy generation for {campaign.name}"
    seconds = job.eta_seconds if job.status == Job.Status.RUNNING else None
    if seconds is None or seconds < 0:
        job.eta_text = ""
    elif seconds < 60:
        job.eta_text = f"{max(1, round(seconds))} s"
    else:
        job.eta_text = f"{round(seconds / 60)} min"
    return job


# ---------- Campaigns ----------


@merchant_required()
def campaign_list_view(request):
    merchant = request.merchant
    # The counts' GROUP BY drops the model's default ordering, so it is given again for stable pages.
    campaigns = campaign_list(merchant=merchant).order_by("-created_at", "-id")
    page = Paginator(campaigns, CAMPAIGNS_PER_PAGE).get_page(request.GET.get("page"))
    for campaign in page.object_list:
        _job_for_display(campaign.last_job, campaign)
    context = {
        "section": "campaigns",
        "page": page,
        "generating": any(c.last_job is not None and c.last_job.is_active for c in page.object_list),
        "voice": brand_voice_get(merchant=merchant),
        "has_products": product_list(merchant=merchant).exists(),
        "has_model": serving_version(merchant=merchant, purpose="copy") is not None,
        **_roles(request),
    }
    return render(request, "marketing/campaign_list.html", context)


def _campaign_form_page(request, form, *, campaign=None, status=200):
    selected = form.selected_products()
    context = {
        "section": "campaigns",
        "form": form,
        "campaign": campaign,
        "selected_products": selected,
        **_picker_results(request.merchant, query="", exclude=[p.pk for p in selected]),
        **_filter_preview(request.merchant, form.data if form.is_bound else form.initial),
    }
    return render(request, "marketing/campaign_form.html", context, status=status)


@merchant_required("edit")
def campaign_create_view(request):
    merchant = request.merchant
    if request.method != "POST":
        return _campaign_form_page(request, CampaignForm(merchant=merchant))
    form = CampaignForm(request.POST, merchant=merchant)
    if form.is_valid():
        try:
            campaign = campaign_create(merchant=merchant, actor=_actor(request), **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, f"Campaign “{campaign.name}” created. Generate its copy when you are ready."
            )
            return redirect("marketing:campaign_detail", campaign_id=campaign.pk)
    return _campaign_form_page(request, form, status=400)


@merchant_required("edit")
def campaign_edit_view(request, campaign_id: int):
    merchant = request.merchant
    campaign = campaign_get(merchant=merchant, campaign_id=campaign_id)
    if request.method != "POST":
        return _campaign_form_page(
            request, CampaignForm(merchant=merchant, campaign=campaign), campaign=campaign
        )
    form = CampaignForm(request.POST, merchant=merchant, campaign=campaign)
    if form.is_valid():
        try:
            campaign_update(campaign=campaign, actor=_actor(request), **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Campaign “{form.cleaned_data['name']}” saved.")
            return redirect("marketing:campaign_detail", campaign_id=campaign.pk)
    return _campaign_form_page(request, form, campaign=campaign, status=400)


@merchant_required()
def campaign_detail_view(request, campaign_id: int):
    merchant = request.merchant
    campaign = campaign_get(merchant=merchant, campaign_id=campaign_id)
    job = _job_for_display(campaign.last_job, campaign)
    products = campaign_products(campaign=campaign)
    product_count = products.count()
    has_model = serving_version(merchant=merchant, purpose="copy") is not None
    generating = job is not None and job.is_active
    context = {
        "section": "campaigns",
        "campaign": campaign,
        "job": job,
        "product_count": product_count,
        "products_shown": list(products[:PRODUCTS_SHOWN]),
        "explicit_products": campaign.products.exists(),
        "product_filter": sorted((campaign.product_filter or {}).items()),
        "language_label": dict(LANGUAGES).get(campaign.language, campaign.language),
        "has_model": has_model,
        "generating": generating,
        "can_generate": has_model and product_count > 0 and not generating,
        "exportable_count": campaign.approved_count + campaign.published_count,
        "review_url": _review_url(campaign=campaign.pk, status="all"),
        **_roles(request),
    }
    return render(request, "marketing/campaign_detail.html", context)


@merchant_required("edit")
@require_POST
def campaign_generate_view(request, campaign_id: int):
    campaign = campaign_get(merchant=request.merchant, campaign_id=campaign_id)
    try:
        job = campaign_generate(campaign=campaign, actor=_actor(request))
    except ContentConflict as exc:
        messages.error(request, f"Copy generation did not start: {exc.message}")
    else:
        count = job.progress_total
        messages.success(
            request,
            f"Writing copy for {count} product{'s' if count != 1 else ''}. Pieces appear in Review as they are written.",
        )
    return redirect("marketing:campaign_detail", campaign_id=campaign.pk)


RECHECK_INLINE_PIECES = 300  # more stale pieces than this are rechecked by a `default` worker


@merchant_required("review")
@require_POST
def campaign_recheck_view(request, campaign_id: int):
    """Recheck the campaign's pieces whose report an older checker wrote (approved ones it now blocks go back
    to review) and say what changed; a large campaign's rest goes to a worker. HTMX swaps in the refreshed
    page body (the counts move); a plain post redirects to the campaign."""
    campaign = campaign_get(merchant=request.merchant, campaign_id=campaign_id)
    report = content_recheck(
        merchant=request.merchant, actor=_actor(request), campaign=campaign, limit=RECHECK_INLINE_PIECES
    )
    if report.remaining:
        recheck_copy_task.apply_async(args=[request.merchant.pk, campaign.pk], queue="default")
    messages.add_message(request, *_recheck_summary(report))
    if _wants_partial(request):
        return campaign_detail_view(request, campaign.pk)
    return redirect("marketing:campaign_detail", campaign_id=campaign.pk)


def _recheck_summary(report) -> tuple[int, str]:
    if not report.checked and not report.remaining:
        return messages.INFO, "Every piece was already checked by the current checker; nothing changed."
    pieces = f"{report.checked} piece{'s' if report.checked != 1 else ''}"
    parts = [
        f"Rechecked {pieces}: {report.unchanged} unchanged, {report.newly_blocked} newly blocked, "
        + f"{report.newly_passing} newly passing"
    ]
    if report.moved_to_review:
        moved = report.moved_to_review
        parts.append(f"{moved} approved piece{'s' if moved != 1 else ''} went back to review")
    if report.remaining:
        parts.append(
            f"{report.remaining} more {'is' if report.remaining == 1 else 'are'} being rechecked in the "
            "background"
        )
    text = "; ".join(parts) + "."
    return (messages.WARNING if report.newly_blocked else messages.SUCCESS), text


@merchant_required()
@vary_on_headers("HX-Request")
def campaign_progress_view(request, campaign_id: int):
    campaign = campaign_get(merchant=request.merchant, campaign_id=campaign_id)
    if not _wants_partial(request):
        return redirect("marketing:campaign_detail", campaign_id=campaign.pk)
    if campaign.last_job is None:  # never generated: nothing to show, and htmx leaves the page as it is
        return HttpResponse(status=204)
    job = _job_for_display(campaign.last_job, campaign)
    response = render(
        request, "marketing/partials/_campaign_progress.html", {"campaign": campaign, "job": job}
    )
    if not job.is_active:
        # The last poll: the page fetches its finished state (status, counts, buttons) on this event.
        response["HX-Trigger-After-Settle"] = "campaign-generation-ended"
    return response


@merchant_required()
def campaign_export_view(request, campaign_id: int):
    campaign = campaign_get(merchant=request.merchant, campaign_id=campaign_id)
    export_format = request.GET.get("format", "csv")
    if export_format not in ("csv", "json"):
        return HttpResponseBadRequest("Choose csv or json.")
    pieces = content_export_list(merchant=request.merchant, campaign=campaign)
    body, content_type = content_export(pieces=pieces, export_format=export_format)
    response = HttpResponse(body, content_type=content_type)
    name = slugify(campaign.name) or f"campaign-{campaign.pk}"
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{export_format}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---------- Product picker and catalog-filter preview (HTMX fragments of the campaign form) ----------


def _picker_results(merchant, *, query: str, exclude) -> dict:
    matches = product_list(merchant=merchant, search=query).exclude(pk__in=exclude).order_by("title", "id")
    return {
        "picker_query": query,
        "picker_results": list(matches[:PICKER_RESULTS]),
        "picker_total": matches.count(),
    }


def _int_list(values) -> list[int]:
    return [int(v) for v in values if str(v).isdigit()]


@merchant_required("edit")
def product_picker_view(request):
    """The chosen products (kept checked) and the catalog matches of the search box, unchecked."""
    selected_ids = _int_list(request.GET.getlist("products"))
    selected = list(
        product_list(merchant=request.merchant).filter(pk__in=selected_ids).order_by("title", "id")
    )
    query = request.GET.get("picker_q", "").strip()[:200]
    context = {
        "selected_products": selected,
        **_picker_results(request.merchant, query=query, exclude=selected_ids),
    }
    return render(request, "marketing/partials/_product_picker.html", context)


def _filter_preview(merchant, values) -> dict:
    """How many active products a catalog filter matches right now, with a few of their titles."""
    product_filter = {
        key: str(values.get(field) or "").strip()[:200]
        for field, key in FILTER_FIELDS.items()
        if str(values.get(field) or "").strip()
    }
    if not product_filter:
        return {"has_filter": False, "match_count": 0, "match_titles": []}
    matches = product_filter_apply(merchant=merchant, product_filter=product_filter)
    return {
        "has_filter": True,
        "match_count": matches.count(),
        "match_titles": list(
            matches.order_by("title").values_list("title", flat=True)[:FILTER_PREVIEW_TITLES]
        ),
    }


@merchant_required("edit")
def product_filter_preview_view(request):
    context = _filter_preview(request.merchant, request.GET)
    return render(request, "marketing/partials/_product_filter_preview.html", context)


# ---------- Brand voice ----------


@merchant_required()
def brand_voice_view(request):
    merchant = request.merchant
    voice = brand_voice_get(merchant=merchant)
    can_edit = request.membership.can("edit")
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Your role cannot edit the brand voice.")
        form = BrandVoiceForm(request.POST)
        if form.is_valid():
            try:
                brand_voice_set(merchant=merchant, actor=_actor(request), **form.service_kwargs())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Brand voice saved. New copy is written with it.")
                return redirect("marketing:brand_voice")
        status = 400
    else:
        form = BrandVoiceForm(initial=BrandVoiceForm.initial_for(voice))
    context = {"section": "campaigns", "form": form, "voice": voice, "can_edit": can_edit}
    return render(request, "marketing/brand_voice.html", context, status=status)


# ---------- Review queue ----------


def _review_url(**params) -> str:
    query = urlencode({key: value for key, value in params.items() if value not in (None, "")})
    return reverse("dashboard:review") + (f"?{query}" if query else "")


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
        _piece_for_display(piece, regenerating=piece.pk in regenerating) for piece in page.object_list
    ]
    base = {key: filters[key] for key in ("campaign", "channel", "flag")}
    per_page = filters["per_page"] if filters["per_page"] != ReviewFilterForm.DEFAULT_PER_PAGE else None
    status_tabs = [
        {
            "value": value,
            "label": label,
            "count": sum(counts.values()) if value == "all" else counts.get(value, 0),
            "url": _review_url(**base, status=value, per_page=per_page),
            "current": value == filters["status"],
        }
        for value, label in ReviewFilterForm.STATUS_CHOICES
        if value != "draft" or counts.get("draft")
    ]
    page_urls = {
        "previous": _review_url(
            **base, status=filters["status"], per_page=per_page, page=page.previous_page_number()
        )
        if page.has_previous()
        else None,
        "next": _review_url(**base, status=filters["status"], per_page=per_page, page=page.next_page_number())
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
        else _review_url(
            **base, status=filters["status"], per_page=per_page, page=page.number if page.number > 1 else None
        ),
        **_roles(request),
    }


@merchant_required()
@vary_on_headers("HX-Request")
def review_view(request):
    context = {"section": "review", **_queue_context(request, request.GET)}
    if _wants_partial(request):
        return render(request, "marketing/partials/_review_queue.html", context)
    context["has_any_piece"] = content_list(merchant=request.merchant).exists()
    return render(request, "marketing/review.html", context)


@merchant_required("review")
@require_POST
def bulk_approve_view(request):
    """Approve the checked pieces, or every piece on the page that passes every check; the service skips any
    piece that is not in review or does not pass, and the answer says which and why."""
    use_page = request.POST.get("action") == "page"
    ids = _int_list(request.POST.getlist("page_ids" if use_page else "ids"))[:BULK_MAX_IDS]
    if not ids:
        return _bulk_answer(
            request,
            messages.INFO,
            "Nothing was selected: tick the pieces to approve, or approve all passing ones.",
        )
    pieces = content_list(merchant=request.merchant).filter(pk__in=ids).order_by("id")
    result = content_bulk_approve(merchant=request.merchant, actor=_actor(request), pieces=pieces)
    return _bulk_answer(request, *_bulk_summary(len(result.approved), _skipped(ids, result), verb="Approved"))


@merchant_required("review")
@require_POST
def bulk_reject_view(request):
    """Reject the checked pieces with one reason."""

    def reject(pieces):
        return content_bulk_reject(
            merchant=request.merchant,
            actor=_actor(request),
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
            merchant=request.merchant, actor=_actor(request), pieces=pieces
        ),
        verb="Queued for regeneration",
        nothing="Nothing was selected: tick the pieces to regenerate.",
    )


def _bulk_selected(request, act, *, verb: str, nothing: str):
    ids = _int_list(request.POST.getlist("ids"))[:BULK_MAX_IDS]
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
    if _wants_partial(request):
        level_name = {value: name for name, value in MESSAGE_LEVELS.items()}[level]
        context = {
            "section": "review",
            **_queue_context(request, request.POST),
            "queue_notice": {"level": level_name, "text": text},
        }
        return render(request, "marketing/partials/_review_queue.html", context)
    messages.add_message(request, level, text)
    return redirect(_return_to(request, reverse("dashboard:review")))


def _bulk_summary(approved: int, skipped: dict, *, verb: str = "Approved") -> tuple[int, str]:
    text = f"{verb} {approved} piece{'s' if approved != 1 else ''}."
    if not skipped:
        return messages.SUCCESS, text
    reasons = "; ".join(f"#{pk} {reason}" for pk, reason in sorted(skipped.items())[:SKIPPED_SHOWN])
    more = f" and {len(skipped) - SKIPPED_SHOWN} more" if len(skipped) > SKIPPED_SHOWN else ""
    return messages.WARNING, f"{text} Skipped {len(skipped)}: {reasons}{more}."


# ---------- One piece: what the card shows ----------


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


def _piece_for_display(piece: ContentPiece, *, regenerating: bool = False) -> ContentPiece:
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
    piece.blockers = _blockers(piece)
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


def _blockers(piece: ContentPiece) -> list[str]:
    blockers = []
    if piece.claims:
        count = len(piece.claims)
        blockers.append(f"{count} unsupported claim{'s' if count != 1 else ''}")
    if piece.channel_violations:
        count = len(piece.channel_violations)
        blockers.append(f"{count} channel limit violation{'s' if count != 1 else ''}")
    if piece.banned:
        blockers.append(f"brand voice ({', '.join(piece.banned)})")
    if piece.degenerate:
        count = len(piece.degenerate)
        blockers.append(f"{count} text problem{'s' if count != 1 else ''}")
    if not blockers and not piece.approvable:
        blockers.append("failed checks")
    return blockers


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
        "piece": _piece_for_display(piece, regenerating=regenerating),
        "notice": notice,
        "editing": editing,
        "form": form if form is not None else (ContentEditForm(piece=piece) if editing else None),
        "reject_error": reject_error,
        "reject_reason": reject_reason,
        "return_to": _return_to(request, _review_url(campaign=piece.campaign_id, status="all")),
        **_roles(request),
    }
    return render(request, "marketing/partials/_content_card.html", context, status=status)


def _after_action(
    request, piece: ContentPiece, *, text: str, level: str = "success", status: int = 200, **card
):
    """HTMX: the piece's fresh card with a one-line notice. A plain post: a message and back where it came from."""
    if request.htmx:
        return _card(request, piece.pk, status=status, notice={"level": level, "text": text}, **card)
    messages.add_message(request, MESSAGE_LEVELS[level], text)
    return redirect(_return_to(request, _review_url(campaign=piece.campaign_id, status="all")))


# ---------- One piece: actions ----------


@merchant_required()
@vary_on_headers("HX-Request")
def piece_card_view(request, piece_id: int):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    if not _wants_partial(request):
        return redirect(_review_url(campaign=piece.campaign_id, status="all") + f"#piece-{piece.pk}")
    return _card(request, piece.pk)


@merchant_required("edit")
def piece_edit_view(request, piece_id: int):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    if request.method != "POST":
        if _wants_partial(request):
            return _card(request, piece.pk, editing=True)
        return _edit_page(request, piece, ContentEditForm(piece=piece))
    form = ContentEditForm(request.POST, piece=piece)
    if form.is_valid():
        before = piece.fields()
        try:
            updated = content_update(piece=piece, actor=_actor(request), **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ContentConflict as exc:
            return _after_action(request, piece, text=exc.message, level="error", status=409)
        else:
            if updated.fields() == before:
                return _after_action(request, piece, text="No changes to save.", level="info")
            fresh = _piece_for_display(content_get(merchant=request.merchant, piece_id=piece.pk))
            notice = _recheck_notice(fresh)
            return _after_action(request, piece, text=notice["text"], level=notice["level"])
    if request.htmx:
        return _card(request, piece.pk, status=422, editing=True, form=form)
    return _edit_page(request, piece, form, status=400)


def _edit_page(request, piece, form, status=200):
    """The no-JS way to edit: the card in edit mode on a page of its own."""
    context = {
        "section": "review",
        "piece": _piece_for_display(
            piece,
            regenerating=bool(content_regenerating_ids(merchant=request.merchant, piece_ids=[piece.pk])),
        ),
        "form": form,
        "editing": True,
        "return_to": _return_to(request, _review_url(campaign=piece.campaign_id, status="all")),
        **_roles(request),
    }
    return render(request, "marketing/piece_edit.html", context, status=status)


@merchant_required("review")
@require_POST
def piece_approve_view(request, piece_id: int):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    try:
        content_approve(piece=piece, actor=_actor(request))
    except ContentConflict as exc:
        return _after_action(request, piece, text=exc.message, level="error", status=409)
    return _after_action(request, piece, text="Approved.")


@merchant_required("review")
@require_POST
def piece_reject_view(request, piece_id: int):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    reason = request.POST.get("reason", "")
    try:
        content_reject(piece=piece, actor=_actor(request), reason=reason)
    except ValidationError as exc:
        message = " ".join(exc.message_dict.get("reason", exc.messages))
        if request.htmx:
            return _card(request, piece.pk, status=422, reject_error=message, reject_reason=reason[:1000])
        messages.error(request, f"The piece was not rejected: {message}")
        return redirect(_return_to(request, _review_url(campaign=piece.campaign_id, status="all")))
    except ContentConflict as exc:
        return _after_action(request, piece, text=exc.message, level="error", status=409)
    return _after_action(request, piece, text="Rejected. The reason is kept with the piece.")


@merchant_required("edit")
@require_POST
def piece_regenerate_view(request, piece_id: int):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    try:
        content_regenerate(piece=piece, actor=_actor(request))
    except ContentConflict as exc:
        return _after_action(request, piece, text=exc.message, level="error", status=409)
    return _after_action(
        request,
        piece,
        level="info",
        text="Regenerating: the new text replaces this one when it is ready (the current text is kept as a revision).",
    )


@merchant_required("publish")
@require_POST
def piece_publish_view(request, piece_id: int):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    try:
        content_publish(piece=piece, actor=_actor(request))
    except ContentConflict as exc:
        return _after_action(request, piece, text=exc.message, level="error", status=409)
    return _after_action(request, piece, text="Published. Your webhook endpoints are being notified.")


@merchant_required("publish")
@require_POST
def piece_unpublish_view(request, piece_id: int):
    piece = content_get(merchant=request.merchant, piece_id=piece_id)
    try:
        content_unpublish(piece=piece, actor=_actor(request))
    except ContentConflict as exc:
        return _after_action(request, piece, text=exc.message, level="error", status=409)
    return _after_action(request, piece, text="Unpublished: the piece is approved again and can be edited.")
