"""The Models pages in a real browser: a running job's progress bar follows the job row and stops polling at
100 %, the loss chart draws and grows while the job runs, promotion shows the gate's verdict, rollback asks
first, and every page fits a 390 px phone. Screenshots land in /tmp/storyfront-shots/models-*.png."""

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from accounts.models import Role
from accounts.services import Actor
from ml.models import Deployment, Job, ModelVersion
from ml.services import version_promote
from tests.browser.conftest import DESKTOP, PASSWORD, PHONE, log_in, overflowing_js
from tests.factories import MembershipFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="Browser tests need the playwright package."
).expect

SHOTS_DIR = Path(os.environ.get("STORYFRONT_SHOTS_DIR", "/tmp/storyfront-shots"))
_OVERFLOWING_JS = overflowing_js(".table-wrap, details:not([open]) > :not(summary)")


def loss_metrics(steps: int, total: int = 200) -> dict:
    every = max(1, total // 40)
    return {
        "loss_history": [
            {"step": s, "loss": round(2.6 * (0.55 + 0.45 * 0.985**s), 4)} for s in range(1, steps + 1, every)
        ],
        "eval_history": [
            {"step": s, "eval_loss": round(2.5 * (0.6 + 0.4 * 0.99**s), 4)} for s in range(50, steps + 1, 50)
        ],
        "eval_loss_before": 2.5,
        "tokens_per_second": 1830.0,
        "truncated": 3,
    }


@pytest.fixture
def registry(transactional_db):
    owner = UserFactory(username="owner@example.com", password=PASSWORD)
    merchant = MerchantFactory(name="Northwind Outfitters", slug="northwind")
    MembershipFactory(user=owner, merchant=merchant, role=Role.OWNER)
    base = ModelVersion.objects.create(
        name="SmolLM2-135M-Instruct",
        kind=ModelVersion.Kind.BASE,
        path="/var/models/smollm2",
        status=ModelVersion.Status.READY,
    )
    first = ModelVersion.objects.create(
        merchant=merchant,
        name="copy-spring-v1",
        purpose="copy",
        kind=ModelVersion.Kind.LORA,
        parent=base,
        status=ModelVersion.Status.READY,
        metrics={"eval_loss": 1.62, "parent_eval_loss": 2.05, "perplexity": 5.05},
        training_data_summary={"records": 240},
    )
    version_promote(merchant=merchant, version=first, purpose="copy", actor=Actor.for_user(owner))
    better = ModelVersion.objects.create(
        merchant=merchant,
        name="copy-summer-v2",
        purpose="copy",
        kind=ModelVersion.Kind.LORA,
        parent=first,
        status=ModelVersion.Status.READY,
        metrics={"eval_loss": 1.41, "parent_eval_loss": 1.62, "perplexity": 4.1},
    )
    overfit = ModelVersion.objects.create(
        merchant=merchant,
        name="copy-summer-v2-overfit",
        purpose="copy",
        kind=ModelVersion.Kind.FULL,
        parent=first,
        status=ModelVersion.Status.READY,
        metrics={"eval_loss": 1.74, "parent_eval_loss": 1.62},
    )
    job = Job.objects.create(
        merchant=merchant,
        kind=Job.Kind.FINETUNE,
        status=Job.Status.RUNNING,
        base_version=first,
        params={
            "name": "copy-autumn-v3",
            "purpose": "copy",
            "hyperparameters": {"method": "lora", "epochs": 2},
        },
        progress_current=40,
        progress_total=200,
        eta_seconds=420,
        metrics=loss_metrics(40),
        logs="step 20/200 loss 2.31\nstep 40/200 loss 2.08\n",
        created_by_label="owner@example.com",
    )
    return SimpleNamespace(
        owner=owner, merchant=merchant, first=first, better=better, overfit=overfit, job=job
    )


def test_running_job_progress_follows_the_row_and_stops_at_100(page, registry):
    job = registry.job
    log_in(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Models").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Models")
    expect(page.get_by_test_id("serving-copy-name")).to_have_text("copy-spring-v1")

    progress = page.locator(f"#job-progress-{job.pk}")
    expect(progress.get_by_test_id("job-percent")).to_have_text("20%")
    expect(progress.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "20")
    expect(progress).to_contain_text("about 7 min left")

    Job.objects.filter(pk=job.pk).update(progress_current=110, eta_seconds=95)
    expect(progress.get_by_test_id("job-percent")).to_have_text("55%")
    expect(progress).to_contain_text("step 110 of 200")
    expect(progress).to_contain_text("about 2 min left")

    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.SUCCEEDED, progress_current=200, eta_seconds=0, result_version=registry.better
    )
    expect(progress.get_by_test_id("job-percent")).to_have_text("100%")
    expect(progress).to_have_attribute("data-status", "succeeded")
    expect(progress).to_contain_text("Succeeded")
    # Finished: the fragment came back without its trigger, so nothing polls any more.
    assert progress.get_attribute("hx-trigger") is None
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/progress/" in r.url else None)
    page.wait_for_timeout(2500)
    assert requests == []


def test_job_page_chart_grows_while_running(page, registry):
    job = registry.job
    log_in(page)
    page.goto(f"/models/jobs/{job.pk}/")
    chart = page.get_by_test_id("loss-chart")
    expect(chart).to_be_visible()
    train = chart.locator("polyline.chart-line-train")
    expect(train).to_have_attribute("data-count", "8")
    expect(chart.locator("polyline.chart-line-eval")).to_have_count(0)
    expect(page.get_by_test_id("chart-summary")).to_contain_text("Training loss went from")

    Job.objects.filter(pk=job.pk).update(progress_current=120, metrics=loss_metrics(120))
    expect(train).to_have_attribute("data-count", "24")
    expect(chart.locator("polyline.chart-line-eval")).to_have_attribute("data-count", "2")
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "60")
    expect(page.get_by_test_id("job-log")).to_contain_text("step 40/200 loss 2.08")

    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.FAILED, error="Worker lost: the job will not resume.", progress_current=120
    )
    expect(page.get_by_test_id("job-error")).to_contain_text("Worker lost: the job will not resume.")
    expect(page.get_by_test_id("job-live")).not_to_have_attribute("hx-trigger", re.compile(".*"))


def test_promote_shows_the_gate_verdict_and_rollback_asks_first(page, registry):
    log_in(page)
    page.goto("/models/")
    expect(page.get_by_test_id(f"gate-{registry.overfit.pk}")).to_contain_text("does not beat its parent")
    page.get_by_test_id(f"promote-{registry.overfit.pk}-copy").click()
    expect(page.get_by_role("status")).to_contain_text(
        "“copy-summer-v2-overfit” was not promoted: Held-out loss 1.7400 does not beat its parent's 1.6200."
    )
    expect(page.get_by_test_id("serving-copy-name")).to_have_text("copy-spring-v1")

    page.get_by_test_id(f"promote-{registry.better.pk}-copy").click()
    expect(page.get_by_role("status")).to_contain_text("“copy-summer-v2” now serves marketing copy.")
    expect(page.get_by_test_id("serving-copy-name")).to_have_text("copy-summer-v2")

    dialogs = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.get_by_test_id("rollback-copy").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Rolled back: “copy-spring-v1” serves marketing copy again."
    )
    assert dialogs == ["Roll back marketing copy to “copy-spring-v1”?"]
    assert (
        Deployment.objects.get(merchant=registry.merchant, purpose="copy", is_active=True).version
        == registry.first
    )


def test_start_a_run_from_the_form(page, registry, monkeypatch):
    # The live server runs in this process: keep the queued task off the shared Redis broker.
    from ml import tasks

    monkeypatch.setattr(tasks.finetune_task, "apply_async", lambda *a, **k: SimpleNamespace(id="test-task"))
    log_in(page)
    page.goto("/models/")
    page.get_by_test_id("start-finetune").click()
    form = page.get_by_test_id("finetune-form")
    form.get_by_label("Training file").set_input_files(
        {"name": "few.jsonl", "mimeType": "application/json", "buffer": b'{"prompt": "a"}\n'}
    )
    form.get_by_role("button", name="Start fine-tuning").click()
    expect(page.get_by_test_id("dataset-errors")).to_have_text("Line 1: no response.")

    records = "\n".join(
        json.dumps({"prompt": f"Describe item {i}", "response": f"Item {i}, made to last."})
        for i in range(12)
    )
    form.get_by_label("Training file").set_input_files(
        {"name": "voice.jsonl", "mimeType": "application/json", "buffer": records.encode()}
    )
    form.get_by_label("Run name").fill("copy-voice-v4")
    form.get_by_label("Epochs").fill("2")
    form.get_by_role("button", name="Start fine-tuning").click()
    expect(page.get_by_test_id("job-title")).to_have_text("copy-voice-v4")
    expect(page.get_by_role("status")).to_contain_text(
        "Fine-tuning queued: 12 records from “copy-spring-v1”."
    )
    expect(page.get_by_test_id("job-progress")).to_contain_text("waiting for a worker")
    expect(page.get_by_test_id("chart-empty")).to_be_visible()
    job = Job.objects.get(params__name="copy-voice-v4")
    assert job.status == Job.Status.QUEUED and job.params["hyperparameters"]["epochs"] == 2


def test_models_screenshots_fit_desktop_and_phone(new_page, registry):
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    job = registry.job
    Job.objects.filter(pk=job.pk).update(progress_current=130, eta_seconds=260, metrics=loss_metrics(130))
    pages = [
        ("models", "/models/"),
        ("job", f"/models/jobs/{job.pk}/"),
        ("jobs", "/models/jobs/"),
        ("finetune", "/models/finetune/"),
    ]
    for device, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = new_page(viewport)
        log_in(page)
        for name, url in pages:
            page.goto(url)
            page.screenshot(path=SHOTS_DIR / f"models-{device}-{name}.png", full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], (
                f"{device} {name}: page is {width}px wide: {page.evaluate(_OVERFLOWING_JS)}"
            )
        form = page.get_by_test_id("finetune-form")
        form.get_by_label("Epochs").fill("0")
        form.get_by_label("Training file").set_input_files(
            {
                "name": "bad.jsonl",
                "mimeType": "application/json",
                "buffer": b'{"prompt": "a", "response": }\n{"prompt": "b"}\n',
            }
        )
        page.get_by_text("Advanced settings").click()
        form.get_by_label("Max sequence length").fill("4")
        form.get_by_role("button", name="Start fine-tuning").click()
        expect(page.get_by_test_id("dataset-errors")).to_be_visible()
        page.screenshot(path=SHOTS_DIR / f"models-{device}-finetune-errors.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
