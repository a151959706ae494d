"""The Overview's daily figures: the review queue, chat and jobs, counted for the current merchant only, each
linking to the rows it counts, with empty states that say where to start, at a fixed number of queries."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from chat.models import Conversation
from chat.selectors import conversation_figures
from marketing.selectors import content_review_figures
from ml.models import Job
from ml.selectors import job_figures
from tests.config.overview_data import EXPECTED, FAILED_JOB_ERROR, OLD_FAILURE, seed_daily_work
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(merchant, other_merchant, owner):
    failed = seed_daily_work(merchant, staff=owner)
    seed_daily_work(other_merchant, staff=owner)  # doubles nothing on the merchant's Overview
    return failed


def test_figures_count_the_merchants_own_rows(merchant, seeded):
    assert content_review_figures(merchant=merchant).__dict__ == EXPECTED["review"]
    assert conversation_figures(merchant=merchant).__dict__ == EXPECTED["chat"]
    jobs = job_figures(merchant=merchant)
    assert {k: getattr(jobs, k) for k in EXPECTED["jobs"]} == EXPECTED["jobs"]
    assert [job.pk for job in jobs.recent_failures] == [seeded.pk]


def test_today_starts_at_local_midnight(merchant, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 3, 10, 0, 30, tzinfo=berlin)
    for created in (datetime(2026, 3, 10, 0, 5, tzinfo=berlin), datetime(2026, 3, 9, 23, 55, tzinfo=berlin)):
        pk = Conversation.objects.create(merchant=merchant).pk
        Conversation.objects.filter(pk=pk).update(created_at=created)
    with timezone.override(berlin):
        figures = conversation_figures(merchant=merchant, now=now)
    assert (figures.today, figures.last_7_days) == (1, 2)


def test_a_job_that_failed_before_it_started_counts_by_its_creation(merchant):
    job = Job.objects.create(merchant=merchant, kind=Job.Kind.FINETUNE, status=Job.Status.FAILED)
    assert job.finished_at is None
    figures = job_figures(merchant=merchant)
    assert figures.failed_recently == 1 and figures.recent_failures == [job]
    later = timezone.now() + timedelta(days=8)
    assert job_figures(merchant=merchant, now=later).failed_recently == 0


def test_overview_shows_the_figures_with_links_to_what_they_count(client, owner, merchant, seeded):
    client.force_login(owner)
    html = client.get(reverse("dashboard:home")).content.decode()
    review, inbox = reverse("dashboard:review"), reverse("chat:inbox")
    for testid, href, value in (
        ("figure-in-review", f"{review}?status=in_review", 3),
        ("figure-flagged", f"{review}?status=in_review&amp;flag=flagged", 1),
        ("figure-approved", f"{review}?status=approved", 2),
        ("figure-handed-off", f"{inbox}?status=handed_off", 2),
        ("figure-chats-today", f"{inbox}?status=all", 2),
        ("figure-chats-week", f"{inbox}?status=all", 3),
        ("figure-jobs-running", reverse("ml:job_list"), 1),
        ("figure-jobs-failed", reverse("ml:job_list"), 1),
    ):
        assert f'<a href="{href}" data-testid="{testid}">' in html, testid
        start = html.index(f'data-testid="{testid}"')
        assert f'<strong class="figure-value">{value}</strong>' in html[start : start + 200], testid
    assert "1 not taken over yet" in html and "1 queued" in html
    assert reverse("ml:job_detail", args=[seeded.pk]) in html and FAILED_JOB_ERROR in html
    assert OLD_FAILURE not in html


def test_empty_areas_say_where_to_start(client, owner, merchant):
    ProductFactory(merchant=merchant)
    client.force_login(owner)
    html = client.get(reverse("dashboard:home")).content.decode()
    assert "Nothing waits for review." in html and reverse("dashboard:campaigns") in html
    assert "No conversations in the last 7 days." in html and reverse("chat:settings") in html
    assert "No job is running and none failed in the last 7 days." in html
    assert 'data-testid="figure-in-review"' not in html


def test_a_new_merchant_sees_only_the_catalog_invitation(client, owner):
    client.force_login(owner)
    html = client.get(reverse("dashboard:home")).content.decode()
    assert "Your catalog is empty" in html
    assert 'data-testid="overview-review"' not in html


def test_another_merchants_work_does_not_show(client, outsider, other_merchant, merchant, owner):
    seed_daily_work(merchant, staff=owner)
    ProductFactory(merchant=other_merchant)
    client.force_login(outsider)
    html = client.get(reverse("dashboard:home")).content.decode()
    assert 'data-testid="figure-in-review"' not in html and FAILED_JOB_ERROR not in html
    assert "Nothing waits for review." in html


def test_the_overview_costs_a_fixed_number_of_queries(client, owner, merchant, django_assert_max_num_queries):
    seed_daily_work(merchant, staff=owner)
    client.force_login(owner)
    client.get(reverse("dashboard:home"))
    with django_assert_max_num_queries(20) as captured:
        client.get(reverse("dashboard:home"))
    few = len(captured)
    seed_daily_work(merchant, staff=owner)  # twice the rows: the same queries
    with django_assert_max_num_queries(few):
        client.get(reverse("dashboard:home"))
