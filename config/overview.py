"""The Overview (dashboard home): the catalog at a glance and what a merchant checks every day — the review
queue, chat and jobs — and the customers (count, events per day, segment sizes). It reads from every app, so it
is assembled here beside the dashboard's routes rather than in accounts, which imports no feature app. Each area
costs one aggregate query or a few in its app's selectors, filtered by the current merchant."""

from django.shortcuts import render
from django.urls import reverse

from accounts.decorators import merchant_required
from accounts.selectors import audit_log_list
from catalog.selectors import brand_list, category_list, product_import_list, product_list
from chat.selectors import conversation_figures
from marketing.selectors import content_review_figures
from ml.selectors import job_figures
from profiles.charts import Bar, bar_chart, time_chart
from profiles.selectors import customer_figures


@merchant_required()
def home(request):
    merchant = request.merchant
    customers = customer_figures(merchant=merchant)
    products = product_list(merchant=merchant)
    context = {
        "section": "home",
        "can_edit": request.membership.can("edit"),
        "product_count": products.count(),
        "active_count": products.filter(is_active=True).count(),
        "category_count": category_list(merchant=merchant).count(),
        "brand_count": brand_list(merchant=merchant).count(),
        "top_categories": category_list(merchant=merchant).order_by("-product_count", "name")[:6],
        "recent_imports": product_import_list(merchant=merchant)[:5],
        "recent_activity": audit_log_list(merchant=merchant)[:8],
        "review_figures": content_review_figures(merchant=merchant),
        "chat_figures": conversation_figures(merchant=merchant),
        "job_figures": job_figures(merchant=merchant),
        "customer_figures": customers,
        **_customer_charts(customers),
    }
    return render(request, "dashboard/home.html", context)


def _customer_charts(customers) -> dict:
    list_url = reverse("profiles:customer_list")
    return {
        "events_chart": time_chart(
            customers.events_by_day,
            title="Events per day, last 30 days",
            description="Everything shoppers did (views, searches, carts, purchases and more), per day.",
            chart_id="overview-events",
        ),
        "segments_chart": bar_chart(
            [
                Bar(label=segment.name, value=segment.member_count, href=f"{list_url}?segment={segment.slug}")
                for segment in customers.top_segments
            ],
            title="Largest segments",
            description="Customers in each segment at its last computation.",
            chart_id="overview-segments",
            empty_text="No segment has members yet.",
        ),
    }
