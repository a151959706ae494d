"""Dashboard pages for campaigns: list, create, edit, detail, generate with live progress, recheck; the
product picker and catalog-filter preview of the campaign form; the brand voice.

Reads go through marketing.selectors scoped to `request.merchant` (another merchant's ids answer 404); writes
through the services, which enforce what may happen; the decorators here enforce who may ask."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import merchant_required
from catalog.selectors import product_list
from marketing.campaigns.services import brand_voice_set, campaign_create, campaign_generate, campaign_update
from marketing.forms import FILTER_FIELDS, LANGUAGES, BrandVoiceForm, CampaignForm, add_service_errors
from marketing.models import Campaign
from marketing.review.recheck import content_recheck
from marketing.selectors import (
    brand_voice_get,
    campaign_get,
    campaign_list,
    campaign_products,
    product_filter_apply,
)
from marketing.tasks import recheck_copy_task
from marketing.view_helpers import int_list, request_actor, request_roles, review_url, wants_partial
from marketing.workflow import ContentConflict
from ml.models import Job
from ml.selectors import serving_version

CAMPAIGNS_PER_PAGE = 25
PICKER_RESULTS = 20
FILTER_PREVIEW_TITLES = 5
PRODUCTS_SHOWN = 8


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
        **request_roles(request),
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
            campaign = campaign_create(
                merchant=merchant, actor=request_actor(request), **form.service_kwargs()
            )
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
            campaign_update(campaign=campaign, actor=request_actor(request), **form.service_kwargs())
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
        "review_url": review_url(campaign=campaign.pk, status="all"),
        **request_roles(request),
    }
    return render(request, "marketing/campaign_detail.html", context)


@merchant_required("edit")
@require_POST
def campaign_generate_view(request, campaign_id: int):
    campaign = campaign_get(merchant=request.merchant, campaign_id=campaign_id)
    try:
        job = campaign_generate(campaign=campaign, actor=request_actor(request))
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
        merchant=request.merchant,
        actor=request_actor(request),
        campaign=campaign,
        limit=RECHECK_INLINE_PIECES,
    )
    if report.remaining:
        recheck_copy_task.apply_async(args=[request.merchant.pk, campaign.pk], queue="default")
    messages.add_message(request, *_recheck_summary(report))
    if wants_partial(request):
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
    if not wants_partial(request):
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


def _picker_results(merchant, *, query: str, exclude) -> dict:
    matches = product_list(merchant=merchant, search=query).exclude(pk__in=exclude).order_by("title", "id")
    return {
        "picker_query": query,
        "picker_results": list(matches[:PICKER_RESULTS]),
        "picker_total": matches.count(),
    }


@merchant_required("edit")
def product_picker_view(request):
    """The chosen products (kept checked) and the catalog matches of the search box, unchecked."""
    selected_ids = int_list(request.GET.getlist("products"))
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
                brand_voice_set(merchant=merchant, actor=request_actor(request), **form.service_kwargs())
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
