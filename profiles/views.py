"""Dashboard pages for customers: the list (HTMX search, segment/RFM/consent filters, sort, pagination) and the
customer page (identity and consent, RFM, value and predictions with their explanation, affinities as bar
charts, "nearest products" to the interest vector, segments, and the event timeline with "load more").
Reads go through `profiles.selectors`, scoped to `request.merchant`; every role can view."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import merchant_required
from profiles import charts, display
from profiles.forms_customers import CustomerFilterForm
from profiles.nearest import nearest_products
from profiles.selectors import (
    customer_events_by_week,
    customer_get,
    customer_list,
    customer_profile,
    customer_segment_list,
    event_list,
)

CUSTOMERS_PER_PAGE = 25
EVENTS_PER_PAGE = 30
NEAREST_PRODUCTS = 6
AFFINITY_BARS = 8


def _wants_partial(request) -> bool:
    # A history-restore request (back button after a cache miss) needs the whole page, not the fragment.
    return bool(request.htmx) and not request.htmx.history_restore_request


@merchant_required()
@vary_on_headers("HX-Request")
def customer_list_view(request):
    merchant = request.merchant
    form = CustomerFilterForm(request.GET, merchant=merchant)
    filters = form.selector_filters()
    page = Paginator(customer_list(merchant=merchant, **filters), CUSTOMERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    filtered = any(filters[key] for key in ("search", "segment", "rfm_segment", "consent"))
    context = {
        "section": "customers",
        "tab": "customers",
        "form": form,
        "page": page,
        "filtered": filtered,
        # With filters on, "12 of 480": the merchant's total is one more count.
        "total": customer_list(merchant=merchant).count() if filtered else page.paginator.count,
        "events_url": request.build_absolute_uri("/api/v1/events/"),
    }
    template = (
        "profiles/partials/_customer_results.html"
        if _wants_partial(request)
        else "profiles/customer_list.html"
    )
    return render(request, template, context)


def _timeline_page(request, customer):
    events = event_list(merchant=request.merchant, customer=customer).order_by("-occurred_at", "-id")
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("events_page"))
    previous_day = None
    if page.number > 1:
        # The day of the last event on the page before, so a day split across pages gets no second heading.
        before = page.paginator.object_list[page.start_index() - 2]
        previous_day = timezone.localdate(before.occurred_at)
    return page, _group_by_day(page.object_list, previous_day)


def _group_by_day(events, previous_day) -> list[dict]:
    """[{"day": date, "continued": bool, "events": [...]}], newest day first."""
    groups: list[dict] = []
    for event in events:
        day = timezone.localdate(event.occurred_at)
        if not groups or groups[-1]["day"] != day:
            groups.append({"day": day, "continued": day == previous_day and not groups, "events": []})
        groups[-1]["events"].append(event)
    return groups


def _affinity_charts(customer, profile) -> list[dict]:
    found = []
    for kind, label in display.AFFINITY_KINDS:
        rows = display.affinity_rows(profile.affinities, kind, limit=AFFINITY_BARS)
        bars = [charts.Bar(label=name, value=share, text=f"{share:.0%}") for name, share in rows]
        found.append(
            {
                "kind": kind,
                "label": label,
                "chart": charts.bar_chart(
                    bars,
                    title=f"{label} this customer favours",
                    description="Time-decayed share of their interactions, largest first.",
                    chart_id=f"affinity-{kind}-{customer.pk}",
                    empty_text=f"No {label.lower()} yet.",
                ),
                "count": len(bars),
            }
        )
    return found


def _attribute_rows(attributes) -> list[tuple[str, object]]:
    return sorted(attributes.items()) if isinstance(attributes, dict) else []


def _profile_context(request, customer, profile) -> dict:
    if profile is None:
        return {}
    affinity_charts = _affinity_charts(customer, profile)
    return {
        "affinity_charts": affinity_charts,
        "has_affinities": any(item["count"] for item in affinity_charts),
        "nearest": nearest_products(
            merchant=request.merchant, vector=profile.interest_vector, limit=NEAREST_PRODUCTS
        ),
        "churn": display.churn_level(profile.churn_risk),
        "explanation": display.explanation_sections(profile.explanation),
        "rfm_help": display.RFM_HELP.get(profile.rfm_segment, ""),
        "rfm_label": display.rfm_label(profile.rfm_segment),
        "rfm_tone": display.RFM_TONES.get(profile.rfm_segment, "muted"),
        "window_passed": bool(profile.next_purchase_to and profile.next_purchase_to < timezone.now()),
    }


@merchant_required()
@vary_on_headers("HX-Request")
def customer_detail_view(request, customer_id: int):
    customer = customer_get(merchant=request.merchant, customer_id=customer_id)
    page, groups = _timeline_page(request, customer)
    timeline = {"customer": customer, "page": page, "groups": groups}
    if _wants_partial(request) and request.GET.get("events_page"):
        return render(request, "profiles/partials/_customer_timeline_items.html", timeline)
    profile = customer_profile(customer=customer)
    weekly = customer_events_by_week(merchant=request.merchant, customer=customer, weeks=26)
    context = {
        "section": "customers",
        "customer": customer,
        "profile": profile,
        "can_manage": request.membership.can("manage"),
        "attributes": _attribute_rows(customer.attributes),
        "segments": customer_segment_list(merchant=request.merchant, customer=customer),
        "weekly_chart": charts.time_chart(
            weekly,
            title="Events per week",
            description="Everything this customer did, per week, over the last 26 weeks.",
            period="week",
            chart_id=f"weekly-{customer.pk}",
            height=120,
        ),
        "weekly_total": sum(n for _, n in weekly),
        **timeline,
        **_profile_context(request, customer, profile),
    }
    return render(request, "profiles/customer_detail.html", context)
