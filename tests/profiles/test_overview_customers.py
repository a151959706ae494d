"""The Overview's customers: the count and the new ones in 30 days, events per day over 30 days as SVG
columns, the largest segments as bars linking to the filtered list; empty states; only the current
merchant's rows are counted."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from profiles.selectors import customer_figures, event_counts_by_day
from tests.factories import CustomerFactory, EventFactory, ProductFactory
from tests.profiles.pages_helpers import make_segment

pytestmark = pytest.mark.django_db


def overview(client) -> str:
    response = client.get(reverse("dashboard:home"))
    assert response.status_code == 200
    return response.content.decode()


def stat(html: str, testid: str) -> str:
    return re.search(rf'data-testid="{testid}">([^<]+)<', html).group(1)


@pytest.fixture
def shoppers(merchant, other_merchant):
    now = timezone.now()
    old = CustomerFactory(merchant=merchant, first_seen_at=now - timedelta(days=90))
    new = CustomerFactory(merchant=merchant, first_seen_at=now - timedelta(days=3))
    never_seen = CustomerFactory(merchant=merchant)  # created now, no event yet: new too
    for days_ago, count in ((0, 3), (2, 1), (29, 2), (31, 5)):
        for _ in range(count):
            EventFactory(customer=old, occurred_at=now - timedelta(days=days_ago))
    EventFactory(customer=new, type="purchase", occurred_at=now - timedelta(days=2))
    # Another merchant's customers and events count nowhere here.
    theirs = CustomerFactory(merchant=other_merchant, first_seen_at=now - timedelta(days=1))
    for _ in range(7):
        EventFactory(customer=theirs, occurred_at=now)
    return {"old": old, "new": new, "never_seen": never_seen}


def test_figures_count_the_merchants_own_rows(merchant, shoppers):
    figures = customer_figures(merchant=merchant)
    assert (figures.total, figures.new_30_days) == (3, 2)
    assert len(figures.events_by_day) == 30
    today = timezone.localdate()
    counts = dict(figures.events_by_day)
    assert counts[today] == 3
    assert counts[today - timedelta(days=2)] == 2
    assert counts[today - timedelta(days=29)] == 2
    assert figures.events_30_days == 7  # the 5 events of 31 days ago are outside
    assert figures.events_by_day[0][0] == today - timedelta(days=29)
    assert figures.any


def test_days_are_local_calendar_days(merchant, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    berlin = ZoneInfo("Europe/Berlin")
    customer = CustomerFactory(merchant=merchant)
    now = datetime(2026, 3, 10, 0, 30, tzinfo=berlin)
    EventFactory(
        customer=customer, occurred_at=datetime(2026, 3, 10, 0, 5, tzinfo=berlin)
    )  # 23:05 UTC the 9th
    EventFactory(customer=customer, occurred_at=datetime(2026, 3, 9, 23, 55, tzinfo=berlin))
    with timezone.override(berlin):
        counts = dict(event_counts_by_day(merchant=merchant, days=2, now=now))
    assert counts == {datetime(2026, 3, 9).date(): 1, datetime(2026, 3, 10).date(): 1}


def test_overview_shows_customers_events_chart_and_segment_sizes(client, owner, merchant, shoppers):
    make_segment(merchant, "Champions", [shoppers["old"], shoppers["new"]], slug="champions")
    make_segment(merchant, "Window shoppers", [shoppers["never_seen"]], slug="window-shoppers")
    make_segment(merchant, "Empty", [], slug="empty")
    client.force_login(owner)
    html = overview(client)

    assert stat(html, "stat-customers") == "3"
    assert stat(html, "stat-new-customers") == "2"
    assert stat(html, "stat-events") == "7"

    events = html[html.index('data-testid="overview-events"') :]
    events = events[: events.index("</section>")]
    assert 'data-chart="columns"' in events and '<title id="overview-events-title">' in events
    values = [int(v) for v in re.findall(r'class="chart-column"[^>]*data-value="(\d+)"', events)]
    assert len(values) == 30 and values[-1] == 3 and values[-3] == 2 and values[0] == 2 and sum(values) == 7
    assert "7 events over 30 days" in events

    segments = html[html.index('data-testid="overview-segments"') :]
    segments = segments[: segments.index("</section>")]
    rows = re.findall(r'<a class="chart-link" href="([^"]+)" aria-label="([^"]+)">', segments)
    assert rows == [
        ("/customers/?segment=champions", "Champions: 2"),
        ("/customers/?segment=window-shoppers", "Window shoppers: 1"),
    ]
    assert "Empty" not in segments


def test_empty_states(client, owner, merchant):
    ProductFactory(merchant=merchant)
    client.force_login(owner)
    html = overview(client)
    assert 'data-testid="overview-customers-empty"' in html and "No customers yet." in html
    assert 'data-testid="stat-customers"' not in html

    CustomerFactory(merchant=merchant)
    html = overview(client)
    assert stat(html, "stat-customers") == "1"
    assert 'data-testid="overview-events-empty"' in html and "No events in the last 30 days." in html
    assert 'data-testid="overview-segments-empty"' in html and "No segment has members yet." in html


def test_a_new_merchant_sees_no_customer_section(client, owner):
    client.force_login(owner)
    html = overview(client)
    assert "Your catalog is empty" in html
    assert 'data-testid="overview-customers"' not in html


def test_another_merchants_customers_do_not_count(client, outsider, other_merchant, merchant, shoppers):
    make_segment(merchant, "Champions", [shoppers["old"]], slug="champions")
    client.force_login(outsider)
    html = overview(client)
    # The outsider's own merchant has one customer (from the fixture) with seven events today.
    assert stat(html, "stat-customers") == "1"
    assert stat(html, "stat-events") == "7"
    assert "segment=champions" not in html


def test_the_customer_section_costs_a_fixed_number_of_queries(
    client, owner, merchant, shoppers, django_assert_max_num_queries
):
    make_segment(merchant, "Champions", [shoppers["old"]], slug="champions")
    client.force_login(owner)
    overview(client)
    with django_assert_max_num_queries(25) as captured:
        overview(client)
    few = len(captured)
    for i in range(5):
        make_segment(merchant, f"Segment {i}", [shoppers["new"]], slug=f"segment-{i}")
        EventFactory(customer=shoppers["new"], occurred_at=timezone.now() - timedelta(days=i))
    with django_assert_max_num_queries(few):
        overview(client)
