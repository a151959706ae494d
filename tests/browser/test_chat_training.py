"""The Chat training page in a real browser: from the inbox to the page, upload a generated JSON Lines file and
read its report (personal data masked, splits), start a full fine-tune on a tiny model registered as the base,
follow the link to its job page, run the job here as the ml worker would and see the new version's figures
back on the page; and the page fits a 390 px phone. Screenshots land in /tmp/storyfront-shots/chat-training-*.png."""

import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from accounts.models import Role
from chat.models import SupportDialogue
from ml.models import Job, ModelVersion
from tests.browser.conftest import DESKTOP, PASSWORD, PHONE, log_in, overflowing_js
from tests.chat.training_data import dialogues, jsonl
from tests.factories import MembershipFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="Browser tests need the playwright package."
).expect

SHOTS_DIR = Path(os.environ.get("STORYFRONT_SHOTS_DIR", "/tmp/storyfront-shots"))
_OVERFLOWING_JS = overflowing_js(".table-wrap, details:not([open]) > :not(summary)")


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    from tests.ml.engine.conftest import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-chat-base"))


@pytest.fixture
def shop(transactional_db, tiny_path, settings, tmp_path, monkeypatch):
    settings.MODEL_STORE_DIR = tmp_path / "store"
    owner = UserFactory(username="owner@example.com", password=PASSWORD)
    merchant = MerchantFactory(name="Northwind Outfitters", slug="northwind")
    MembershipFactory(user=owner, merchant=merchant, role=Role.OWNER)
    base = ModelVersion.objects.create(name="tiny-base", kind="base", path=str(tiny_path))
    # The ml worker is not running: record what would be queued, and run it in this process below.
    queued = []
    monkeypatch.setattr(
        "ml.tasks.finetune_task.apply_async",
        lambda args, queue: queued.append(args[0]) or SimpleNamespace(id=f"test-{args[0]}"),
    )
    return SimpleNamespace(owner=owner, merchant=merchant, base=base, queued=queued)


@pytest.fixture
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def support_file() -> bytes:
    rows = dialogues(60)
    rows[0]["turns"][0]["text"] = "I'm jane.doe@example.com and my order is late, help?"
    return jsonl(rows)


def test_upload_report_start_finetune_and_see_the_version(new_page, shop, one_thread):
    from ml.tasks import finetune_task

    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    page = new_page(DESKTOP)
    log_in(page)
    page.goto("/chat/")
    page.get_by_role("link", name="Training").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chat training")
    expect(page.get_by_test_id("training-empty")).to_be_visible()
    page.screenshot(path=str(SHOTS_DIR / "chat-training-empty.png"), full_page=True)

    # A file with nothing usable: the card says why (a 422 the page swaps in) and lists the rows.
    page.get_by_test_id("training-file").set_input_files(
        {"name": "broken.jsonl", "mimeType": "application/x-ndjson", "buffer": b'{"turns": []}\nnot json\n'}
    )
    page.get_by_test_id("training-import-submit").click()
    expect(page.get_by_test_id("import-failed")).to_contain_text("Nothing was imported.")
    expect(page.get_by_test_id("import-errors").locator("tbody tr")).to_have_count(2)
    page.locator("#training-import").screenshot(path=str(SHOTS_DIR / "chat-training-import-failed.png"))

    page.get_by_test_id("training-file").set_input_files(
        {"name": "support.jsonl", "mimeType": "application/x-ndjson", "buffer": support_file()}
    )
    page.get_by_test_id("training-import-submit").click()
    report = page.get_by_test_id("import-report")
    expect(report).to_be_visible()
    expect(report.get_by_test_id("report-imported")).to_have_text("60")
    expect(report.get_by_test_id("report-duplicates")).to_have_text("0")
    expect(report.get_by_test_id("report-masked")).to_contain_text("Email addresses [EMAIL]: 1")
    splits = {
        s: SupportDialogue.objects.filter(merchant=shop.merchant, split=s).count()
        for s in ("train", "heldout", "regression")
    }
    expect(report.get_by_test_id("report-splits")).to_have_text(
        re.compile(
            rf"Training: {splits['train']}\s*Held-out: {splits['heldout']}\s*Regression set: {splits['regression']}"
        )
    )
    # The import refreshed the data panel: the empty state gave way to the counts and the masked examples.
    expect(page.get_by_test_id("split-counts")).to_be_visible()
    expect(page.get_by_test_id("training-empty")).to_have_count(0)
    assert "jane.doe" not in page.get_by_test_id("training-data").inner_text()

    form = page.get_by_test_id("finetune-form")
    form.get_by_text("All training dialogues").click()
    form.get_by_label("Max steps").fill("6")
    form.get_by_label("Learning rate").fill("0.005")
    form.get_by_label("Version name").fill("chat-browser-v1")
    form.get_by_test_id("finetune-submit").click()
    link = page.get_by_test_id("started-job-link")
    expect(link).to_be_visible()
    job = Job.objects.get(merchant=shop.merchant)
    assert shop.queued == [job.pk]
    expect(link).to_have_attribute("href", f"/models/jobs/{job.pk}/")
    expect(page.get_by_test_id("training-running")).to_be_visible()
    expect(page.get_by_test_id(f"job-link-{job.pk}")).to_be_visible()
    page.screenshot(path=str(SHOTS_DIR / "chat-training-desktop.png"), full_page=True)

    # What the ml worker does with the queued task, here; then the job page and the page's versions table.
    assert finetune_task(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    link.click()
    expect(page.get_by_test_id("job-title")).to_have_text("chat-browser-v1")
    expect(page.get_by_test_id("job-percent").first).to_have_text("100%")
    page.go_back()
    page.reload()
    version = Job.objects.get(pk=job.pk).result_version
    row = page.get_by_test_id(f"version-{version.pk}")
    expect(row).to_contain_text("chat-browser-v1")
    expect(row.get_by_test_id("perplexity")).to_have_text(re.compile(r"^\d+\.\d\d → \d+\.\d\d$"))
    expect(row.get_by_test_id("regression")).to_have_text(re.compile(r"^\d+\.\d{3} → \d+\.\d{3}$"))
    expect(row.get_by_test_id("verdict")).to_contain_text(version.metrics["promotion"]["reason"])
    page.screenshot(path=str(SHOTS_DIR / "chat-training-version.png"), full_page=True)

    phone = new_page(PHONE)
    log_in(phone)
    phone.goto("/chat/training/")
    expect(phone.get_by_test_id("versions-table")).to_be_visible()
    assert phone.evaluate(_OVERFLOWING_JS) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot(path=str(SHOTS_DIR / "chat-training-phone.png"), full_page=True)
