"""Dashboard pages for segments, under /customers/segments/: the list (sizes as an SVG bar chart, built-in and
custom), a segment's page (its rules and paginated members) and the builder (create / edit).

The builder works without JavaScript: its buttons post the whole form (`action` = add, remove-<n>, preview,
save) and the page comes back with the change. With htmx, the same buttons swap only the condition list, a
changed field redraws only its row, and every change refreshes the live preview (count and sample customers)
through `segment_preview_view`, whose answer also fills in each row's error slot out of band.

Everyone on the merchant can view; creating, editing and deleting need the `edit` permission."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.decorators import merchant_required
from accounts.services import Actor
from catalog.selectors import brand_list, category_list
from marketing.models import Campaign
from profiles.charts import Bar, bar_chart
from profiles.forms import (
    AFFINITY_CHOICES,
    EVENT_CHOICES,
    PRICE_BANDS,
    ConditionRow,
    SegmentForm,
    check_rows,
    field_groups,
    next_index,
    rows_from_data,
    rows_from_rules,
)
from profiles.models import Customer, RFMSegment, Segment
from profiles.segment_rules import MAX_CONDITIONS
from profiles.segments import (
    SegmentInvalid,
    ensure_builtin_segments,
    segment_create,
    segment_delete,
    segment_get,
    segment_is_current,
    segment_list,
    segment_members,
    segment_queryset,
    segment_rule_lines,
    segment_update,
)

MEMBERS_PER_PAGE = 25
PREVIEW_SAMPLE = 5
RULES_CHANGED = "segment-rules-changed"  # htmx event: the form refreshes its preview


def _builder_context(request, rows: list[ConditionRow]) -> dict:
    merchant = request.merchant
    return {
        "rows": rows,
        "max_conditions": MAX_CONDITIONS,
        "field_groups": field_groups(),
        "score_choices": [1, 2, 3, 4, 5],
        "rfm_choices": RFMSegment.choices,
        "affinity_choices": AFFINITY_CHOICES,
        "event_choices": EVENT_CHOICES,
        "suggestions": {
            "category": [c.name for c in category_list(merchant=merchant)[:200]],
            "brand": list(brand_list(merchant=merchant)[:200]),
            "price_band": list(PRICE_BANDS),
        },
    }


# ---------- List and detail ----------


@merchant_required()
def segment_list_view(request):
    merchant = request.merchant
    ensure_builtin_segments(merchant=merchant)
    segments = list(segment_list(merchant=merchant))
    bars = [
        Bar(
            label=segment.name,
            value=segment.member_count,
            href=reverse("profiles:segment_detail", args=[segment.slug]),
        )
        for segment in segments
    ]
    context = {
        "section": "customers",
        "tab": "segments",
        "builtin": [s for s in segments if s.kind == Segment.Kind.BUILTIN],
        "custom": [s for s in segments if s.kind == Segment.Kind.CUSTOM],
        "customer_count": Customer.objects.filter(merchant=merchant).count(),
        "chart": bar_chart(
            bars,
            title="Segment sizes",
            description="Customers in each segment.",
            chart_id="segment-sizes",
            empty_text="No segment has members yet: they fill in as customers' profiles are computed.",
        ),
        "can_edit": request.membership.can("edit"),
    }
    return render(request, "profiles/segment_list.html", context)


@merchant_required()
def segment_detail_view(request, slug: str):
    segment = segment_get(merchant=request.merchant, slug=slug)
    page = Paginator(segment_members(segment=segment), MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    campaigns = Campaign.objects.filter(merchant=request.merchant, target_segment=segment).order_by("name")
    context = {
        "section": "customers",
        "tab": "segments",
        "segment": segment,
        "rule_lines": segment_rule_lines(segment),
        "is_current": segment_is_current(segment),
        "page": page,
        "campaigns": campaigns[:20],
        "can_edit": request.membership.can("edit"),
    }
    return render(request, "profiles/segment_detail.html", context)


# ---------- Builder ----------


@merchant_required("edit")
def segment_create_view(request):
    return _builder(request, segment=None)


@merchant_required("edit")
def segment_edit_view(request, slug: str):
    return _builder(request, segment=segment_get(merchant=request.merchant, slug=slug))


def _builder(request, *, segment: Segment | None):
    if request.method != "POST":
        form = SegmentForm(segment=segment)
        rows = rows_from_rules(segment.rules) if segment else [ConditionRow.default(0)]
        return _builder_page(request, form, rows, segment)
    form = SegmentForm(request.POST, segment=segment)
    rows, stale = rows_from_data(request.POST)
    action = request.POST.get("action", "save")
    if action == "add" and len(rows) < MAX_CONDITIONS:
        rows = _with_new_row(rows)
    elif action.startswith("remove-"):
        rows = _without_row(rows, action.removeprefix("remove-"))
    if action != "save" or stale:
        preview = _preview(request, rows, form.posted_match()) if action == "preview" else None
        notice = "A condition's field changed: check its new inputs, then save." if stale else ""
        return _builder_page(request, form, rows, segment, preview=preview, notice=notice)
    return _save(request, form, rows, segment)


def _save(request, form: SegmentForm, rows: list[ConditionRow], segment: Segment | None):
    actor = Actor.for_user(request.user)
    valid = form.is_valid()
    if not form.locked:
        _, list_errors = check_rows(rows, form.posted_match())
        for message in list_errors:
            form.add_error(None, message)
        valid = valid and not list_errors and not any(row.errors for row in rows)
    if valid:
        fields = {"name": form.cleaned_data["name"], "description": form.cleaned_data["description"]}
        if not form.locked:
            fields.update(match=form.cleaned_data["match"], rules=[row.rule() for row in rows])
        try:
            if segment is None:
                segment = segment_create(merchant=request.merchant, actor=actor, **fields)
            else:
                segment = segment_update(segment=segment, actor=actor, **fields)
        except SegmentInvalid as exc:
            form.add_service_errors(exc.errors)
            if isinstance(exc.errors.get("rules"), dict | list):
                check_rows(rows, form.posted_match())
        else:
            count = segment.member_count
            messages.success(
                request, f"Segment “{segment.name}” saved: {count:,} customer{'' if count == 1 else 's'}."
            )
            return redirect("profiles:segment_detail", slug=segment.slug)
    return _builder_page(request, form, rows, segment, status=400)


def _with_new_row(rows: list[ConditionRow]) -> list[ConditionRow]:
    row = ConditionRow.default(next_index(rows))
    row.autofocus = True
    row.position = len(rows)
    return [*rows, row]


def _without_row(rows: list[ConditionRow], index: str) -> list[ConditionRow]:
    kept = [row for row in rows if str(row.index) != index]
    removed_at = next((n for n, row in enumerate(rows) if str(row.index) == index), None)
    for position, row in enumerate(kept):
        row.position = position
        row.autofocus = removed_at is not None and position == min(removed_at, len(kept) - 1)
    return kept


def _builder_page(request, form, rows, segment, *, preview=None, notice="", status=200):
    context = {
        "notice": notice,
        "section": "customers",
        "tab": "segments",
        "form": form,
        "segment": segment,
        "locked": form.locked,
        "rule_lines": segment_rule_lines(segment) if segment else [],
        "preview": preview,
        "rows_invalid": any(row.errors for row in rows),
        **_builder_context(request, rows),
    }
    return render(request, "profiles/segment_form.html", context, status=status)


def _preview(request, rows: list[ConditionRow], match: str) -> dict:
    """Count and sample for the rows as they are; errors go on the rows and in `problems`."""
    cleaned, list_errors = check_rows(rows, match, allow_empty=True)
    result = {
        "rows": rows,
        "problems": list_errors,
        "invalid": bool(list_errors) or any(row.errors for row in rows),
        "total": Customer.objects.filter(merchant=request.merchant).count(),
    }
    if result["invalid"]:
        return result
    matching = segment_queryset(merchant=request.merchant, rules=cleaned, match=match)
    result["count"] = matching.count()
    result["sample"] = list(
        matching.select_related("profile").order_by("-last_seen_at", "-id")[:PREVIEW_SAMPLE]
    )
    result["percent"] = round(100 * result["count"] / result["total"]) if result["total"] else 0
    return result


@require_POST
@merchant_required("edit")
def segment_preview_view(request):
    """The live preview (htmx): count, a few customers, and each row's errors out of band. 204 while a row
    whose field just changed is being redrawn (its inputs are the old field's)."""
    rows, stale = rows_from_data(request.POST)
    if stale:
        return HttpResponse(status=204)
    form = SegmentForm(request.POST)
    context = {"preview": _preview(request, rows, form.posted_match()), "oob": True}
    return render(request, "profiles/partials/segment_preview.html", context)


@require_POST
@merchant_required("edit")
def segment_conditions_view(request):
    """Adds or removes a row (answers the whole condition list) or redraws one row for its new field."""
    rows, _ = rows_from_data(request.POST)
    action = request.POST.get("action", "")
    if action.startswith("refresh-"):
        row = next((r for r in rows if str(r.index) == action.removeprefix("refresh-")), None)
        if row is None:
            return HttpResponse("No such condition.", status=400)
        response = render(
            request, "profiles/partials/segment_condition.html", {"row": row, **_builder_context(request, [])}
        )
    else:
        if action == "add" and len(rows) < MAX_CONDITIONS:
            rows = _with_new_row(rows)
        elif action.startswith("remove-"):
            rows = _without_row(rows, action.removeprefix("remove-"))
        response = render(
            request, "profiles/partials/segment_conditions.html", _builder_context(request, rows)
        )
    # After settle: the preview must read the redrawn rows, not the ones being replaced.
    response["HX-Trigger-After-Settle"] = RULES_CHANGED
    return response


@require_POST
@merchant_required("edit")
def segment_delete_view(request, slug: str):
    segment = segment_get(merchant=request.merchant, slug=slug)
    try:
        segment_delete(segment=segment, actor=Actor.for_user(request.user))
    except SegmentInvalid:
        messages.error(request, "Built-in segments cannot be deleted.")
        return redirect("profiles:segment_detail", slug=segment.slug)
    messages.success(request, f"Segment “{segment.name}” deleted.")
    return redirect("profiles:segment_list")
