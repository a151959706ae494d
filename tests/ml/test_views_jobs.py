"""The dashboard's fine-tuning jobs: the list, live progress over HTMX, cancelling, and the loss charts."""

import re

from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from ml.models import Job
from ml.views import MAX_DRAWN_POINTS, loss_chart
from tests.ml.views_data import HTMX, make_job, messages_of

# ---------- Jobs ----------


def test_job_list_paginates_and_polls_active_jobs_only(login, merchant, base_model):
    running = make_job(merchant, base_model, status=Job.Status.RUNNING, progress_current=5, progress_total=20)
    done = make_job(merchant, base_model, status=Job.Status.SUCCEEDED, progress_current=20, progress_total=20)
    html = login(Role.VIEWER).get(reverse("ml:job_list")).content.decode()
    assert f'hx-get="{reverse("ml:job_progress", args=[running.pk])}" hx-trigger="every 2s"' in html
    assert reverse("ml:job_progress", args=[done.pk]) not in html
    assert "25%" in html and "step 5 of 20" in html


def test_progress_partial_for_htmx_stops_polling_when_done(login, merchant, base_model):
    client = login(Role.VIEWER)
    job = make_job(
        merchant,
        base_model,
        status=Job.Status.RUNNING,
        progress_current=30,
        progress_total=120,
        eta_seconds=185,
    )
    url = reverse("ml:job_progress", args=[job.pk])
    response = client.get(url, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'hx-trigger="every 2s"' in html
    assert 'aria-valuenow="25"' in html and "step 30 of 120" in html and "about 3 min left" in html
    assert response["Vary"] and "HX-Request" in response["Vary"]

    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED, progress_current=120)
    html = client.get(url, **HTMX).content.decode()
    assert "hx-trigger" not in html
    assert 'aria-valuenow="100"' in html and "Succeeded" in html

    assert client.get(url).status_code == 302  # not a page on its own


def test_job_detail_full_page_and_htmx_partial(login, merchant, base_model):
    client = login(Role.VIEWER)
    job = make_job(merchant, base_model, status=Job.Status.RUNNING, progress_current=3, progress_total=10)
    url = reverse("ml:job_detail", args=[job.pk])
    page = client.get(url).content.decode()
    assert "<html" in page and 'id="job-live"' in page and "Run settings" in page
    partial = client.get(url, **HTMX).content.decode()
    assert "<html" not in partial and "Run settings" not in partial
    assert partial.lstrip().startswith('<div class="stack job-live" id="job-live"')
    assert f'hx-get="{url}" hx-trigger="every 2s" hx-swap="outerHTML"' in partial
    assert 'aria-valuenow="30"' in partial
    # Only the outer block polls; the progress bar inside it does not poll on its own.
    assert partial.count("hx-trigger") == 1

    assert (
        '<div id="job-finished-row" data-testid="job-finished" hx-swap-oob="true"><dt>Finished</dt><dd>—'
        in partial
    )

    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="CUDA out of memory")
    partial = client.get(url, **HTMX).content.decode()
    assert "hx-trigger" not in partial
    assert "The job failed." in partial and "CUDA out of memory" in partial


def test_polled_job_block_updates_the_result_and_end_time_rows(login, merchant, base_model, good_version):
    client = login(Role.VIEWER)
    job = make_job(merchant, base_model, status=Job.Status.RUNNING, progress_current=3, progress_total=10)
    url = reverse("ml:job_detail", args=[job.pk])
    page = client.get(url).content.decode()
    assert 'id="job-result-row" hidden>' in page and "hx-swap-oob" not in page
    finished = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.SUCCEEDED, progress_current=10, result_version=good_version, finished_at=finished
    )
    partial = client.get(url, **HTMX).content.decode()
    result_row = partial[partial.index('<div id="job-result-row"') :]
    assert result_row.startswith('<div id="job-result-row" hx-swap-oob="true"><dt>Result</dt>')
    assert f'#version-{good_version.pk}">copy-v1</a>' in result_row
    finished_text = timezone.localtime(finished).strftime("%-d %b %Y, %H:%M")
    assert f'hx-swap-oob="true"><dt>Finished</dt><dd>{finished_text}</dd>' in partial


def test_finished_job_links_its_new_version(login, merchant, base_model, good_version):
    job = make_job(merchant, base_model, status=Job.Status.SUCCEEDED, result_version=good_version)
    html = login().get(reverse("ml:job_detail", args=[job.pk])).content.decode()
    assert "New version “copy-v1” is ready." in html
    assert f'href="{reverse("ml:model_list")}#version-{good_version.pk}"' in html


def test_job_text_is_escaped(login, merchant, base_model):
    job = make_job(
        merchant,
        base_model,
        status=Job.Status.FAILED,
        params={"name": "<script>alert(1)</script>"},
        error="<img src=x onerror=alert(2)>",
        logs="<b>step 1</b>\n",
        metrics={"loss_history": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}]},
    )
    html = login().get(reverse("ml:job_detail", args=[job.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<b>step 1</b>" not in html
    html = login().get(reverse("ml:model_list")).content.decode()
    assert "<script>alert(1)</script>" not in html


def test_cancel_queued_running_and_finished_jobs(login, merchant, base_model):
    client = login(Role.EDITOR)
    queued = make_job(merchant, base_model)
    running = make_job(merchant, base_model, status=Job.Status.RUNNING)
    done = make_job(merchant, base_model, status=Job.Status.SUCCEEDED)

    response = client.post(reverse("ml:job_cancel", args=[queued.pk]), follow=True)
    assert messages_of(response) == [f"Job #{queued.pk} was cancelled before it started."]
    queued.refresh_from_db()
    assert queued.status == Job.Status.CANCELLED

    response = client.post(reverse("ml:job_cancel", args=[running.pk]), follow=True)
    assert messages_of(response) == [f"Cancelling job #{running.pk}: it stops after its current step."]
    running.refresh_from_db()
    assert running.status == Job.Status.RUNNING and running.cancel_requested
    assert "Cancellation requested" in response.content.decode()
    assert 'data-testid="cancel-job"' not in response.content.decode()

    response = client.post(reverse("ml:job_cancel", args=[done.pk]), follow=True)
    assert messages_of(response) == [f"Job #{done.pk} had already succeeded; nothing to cancel."]
    assert client.get(reverse("ml:job_cancel", args=[done.pk])).status_code == 405


# ---------- Loss chart ----------

METRICS = {
    "loss_history": [
        {"step": s, "loss": loss} for s, loss in [(1, 2.4), (2, 2.0), (3, 1.7), (4, 1.5), (5, 1.45)]
    ],
    "eval_history": [
        {"step": 2, "eval_loss": 2.2},
        {"step": 4, "eval_loss": 1.9},
        {"step": 5, "eval_loss": 1.85},
    ],
    "eval_loss_before": 2.5,
    "eval_loss": 1.85,
    "perplexity": 6.36,
    "tokens_per_second": 1234.4,
    "truncated": 2,
}


def polyline(html, series):
    match = re.search(
        rf'<polyline class="chart-line chart-line-{series}"[^>]*data-count="(\d+)" points="([^"]*)"', html
    )
    return int(match.group(1)), match.group(2).split()


def test_chart_draws_each_series_with_its_points(login, merchant, base_model):
    job = make_job(merchant, base_model, status=Job.Status.SUCCEEDED, metrics=METRICS)
    html = login().get(reverse("ml:job_detail", args=[job.pk])).content.decode()
    assert html.count("<svg viewBox=") == 1
    count, train = polyline(html, "train")
    assert count == 5 and len(train) == 5
    count, evals = polyline(html, "eval")
    assert count == 3 and len(evals) == 3
    # The x axis runs from the first step to the last; lower loss is drawn lower (larger y).
    assert train[0].startswith("0.0,") and train[-1].startswith("1000.0,")
    assert float(train[0].split(",")[1]) < float(train[-1].split(",")[1])
    assert re.search(r'<path class="chart-dots chart-dots-eval" d="(M[\d.]+ [\d.]+h0 ?){3}"', html)
    assert 'class="chart-baseline"' in html
    for label in ("Training loss", "Held-out loss", "Held-out loss before training (2.500)", "Training step"):
        assert label in html
    summary = re.search(r'data-testid="chart-summary">([^<]*)<', html).group(1)
    assert summary == (
        "Training loss went from 2.400 at step 1 to 1.450 at step 5 (5 points). "
        "Held-out loss went from 2.200 at step 2 to 1.850 at step 5 (3 points). "
        "Before training, held-out loss was 2.500."
    )
    assert 'role="img"' in html and f'aria-describedby="chart-summary-{job.pk}"' in html
    # The numbers beside the chart
    assert 'data-testid="stat-eval-loss">1.850<' in html
    assert "2.500 before" in html and "-26.0%" in html
    assert "1,234" in html


def test_chart_empty_state_when_metrics_are_missing(login, merchant, base_model):
    client = login()
    queued = make_job(merchant, base_model, metrics={})
    html = client.get(reverse("ml:job_detail", args=[queued.pk])).content.decode()
    assert 'data-testid="chart-empty"' in html and "<svg viewBox=" not in html
    assert "The curve appears once training starts." in html
    failed = make_job(
        merchant, base_model, status=Job.Status.FAILED, metrics={"loss_history": [], "eval_history": None}
    )
    html = client.get(reverse("ml:job_detail", args=[failed.pk])).content.decode()
    assert "This job recorded no loss history." in html


def test_chart_skips_malformed_entries():
    chart = loss_chart(
        {
            "loss_history": [
                {"step": 1, "loss": 2.0},
                "junk",
                {"step": 2},
                {"step": 3, "loss": float("nan")},
                {"step": "4", "loss": 1.0},
                {"step": 5, "loss": True},
                {"step": 6, "loss": 1.5},
            ],
            "eval_history": {"not": "a list"},
        }
    )
    assert [s["key"] for s in chart["series"]] == ["train"]
    assert chart["series"][0]["count"] == 2
    assert loss_chart({"loss_history": "nope"}) == {"has_data": False}


def test_chart_single_point_and_flat_line_have_a_visible_range():
    chart = loss_chart({"eval_history": [{"step": 10, "eval_loss": 1.0}]})
    assert chart["series"][0]["points"] == "500.0,200.0"
    assert chart["series"][0]["dots"] == "M500.0 200.0h0"
    assert chart["x_ticks"][0]["label"] == "9"


def test_long_histories_are_thinned_keeping_the_ends():
    history = [{"step": s, "loss": 3 - s / 2000} for s in range(1, 5001)]
    chart = loss_chart({"loss_history": history})
    series = chart["series"][0]
    assert series["count"] == MAX_DRAWN_POINTS and series["total"] == 5000
    assert series["dots"] == ""
    points = series["points"].split()
    assert len(points) == MAX_DRAWN_POINTS
    assert points[0].startswith("0.0,") and points[-1].startswith("1000.0,")
    assert [t["label"] for t in chart["x_ticks"]] == ["1,000", "2,000", "3,000", "4,000", "5,000"]


def test_running_job_shows_its_latest_evaluation(login, merchant, base_model):
    metrics = {key: METRICS[key] for key in ("loss_history", "eval_history", "eval_loss_before")}
    job = make_job(
        merchant,
        base_model,
        status=Job.Status.RUNNING,
        progress_current=5,
        progress_total=10,
        metrics=metrics,
    )
    html = login().get(reverse("ml:job_detail", args=[job.pk]), **HTMX).content.decode()
    assert "Held-out loss at step 5</span>" in html
    assert 'data-testid="stat-eval-loss">1.850<' in html
