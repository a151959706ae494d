"""Copy fine-tuning: the training data (catalog descriptions and approved pieces, edits as written, every tenth
product held out), the API and dashboard starts, the job in-process on a tiny random model with its held-out
copy evaluation, the promotion gate's copy checks, and the daily learning sweep."""

import json

import pytest
from django.urls import reverse

from accounts.models import Role
from accounts.services import Actor
from catalog.models import Product
from marketing.campaigns.services import content_piece_record
from marketing.copy_training import copy_finetune_start, copy_learning_sweep, copy_training_data
from marketing.review.services import content_approve, content_update
from marketing.workflow import content_check
from ml.models import Job, ModelVersion, TrainingDataset
from ml.services import promotion_gate
from ml.tasks import finetune_task
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

FINETUNE = "/api/v1/copy/finetune/"
FAST = {"max_steps": 4, "batch_size": 4, "learning_rate": 0.005, "max_seq_len": 256, "checkpoint_every": 0}
ACTOR = Actor.system("test")


@pytest.fixture
def catalog(merchant):
    """Thirty products with their own descriptions (three or so have an id divisible by ten: held out)."""
    return [
        ProductFactory(
            merchant=merchant,
            title=f"Trail bottle {n}",
            attributes={"colour": "green", "capacity": "750 ml"},
            description=f"Insulated bottle number {n} that keeps drinks cold for 24 hours.Colour green",
        )
        for n in range(30)
    ]


@pytest.fixture
def store(settings, tmp_path):
    settings.MODEL_STORE_DIR = tmp_path / "store"
    settings.COPY_FINETUNE_MIN_EXAMPLES = 5


def approved_piece(campaign, product, body, *, edited_to=None):
    prompt = [
        {"role": "system", "content": "You write product descriptions."},
        {"role": "user", "content": f"Product facts:\n- Name: {product.title}"},
    ]
    fields = {"title": product.title, "body": body}
    piece, _ = content_piece_record(
        campaign=campaign,
        product=product,
        variant=1,
        fields=fields,
        outcome=content_check(product=product, channel=campaign.channel, fields=fields),
        model_version=None,
        prompt=json.dumps(prompt),
        params={},
        quality={},
        attempts=1,
    )
    if edited_to:
        piece = content_update(piece=piece, actor=ACTOR, body=edited_to)
    return content_approve(piece=piece, actor=ACTOR)


def test_training_pairs_are_the_catalog_without_its_descriptions_and_approved_pieces_as_approved(
    merchant, catalog, campaign, store
):
    train_product = next(p for p in catalog if p.pk % 10)
    heldout_product = next(p for p in catalog if p.pk % 10 == 0)
    edited = approved_piece(
        campaign,
        train_product,
        "A stainless steel bottle.",
        edited_to="A trail bottle that keeps drinks cold for 24 hours.",
    )
    approved_piece(campaign, heldout_product, "A trail bottle that keeps drinks cold for 24 hours.")
    data = copy_training_data(merchant=merchant)

    # The campaign's bottle (a description) and jacket (too short a description to learn from) are products too.
    usable = [p for p in Product.objects.filter(merchant=merchant) if len(p.description) >= 40]
    heldout_ids = sorted(p.pk for p in usable if p.pk % 10 == 0)
    assert data["eval_product_ids"] == heldout_ids and len(data["eval_records"]) == len(heldout_ids)
    assert data["catalog_pairs"] == len(usable) - len(heldout_ids)
    first = data["records"][0]
    # The prompt has the facts but not the description; the reply is the description, its glued sentence split.
    assert "Insulated bottle number" not in json.dumps(first["prompt"])
    assert first["prompt"][-1]["role"] == "user" and "Trail bottle" in first["prompt"][-1]["content"]
    assert first["response"].startswith("Title: Trail bottle")
    assert "cold for 24 hours. Colour green." in first["response"]
    # The approved piece is learned as a person left it (the edit), the held-out product's piece not at all.
    assert (data["piece_pairs"], data["edited_pieces"], data["piece_ids"]) == (1, 1, [edited.pk])
    piece_record = data["records"][-1]
    assert (
        piece_record["response"]
        == f"Title: {train_product.title}\nBody: A trail bottle that keeps drinks cold for 24 hours."
    )
    assert piece_record["prompt"][0] == {"role": "system", "content": "You write product descriptions."}


def test_the_api_queues_a_copy_finetune_with_its_held_out_products(
    api_client, merchant, catalog, tiny_base, store, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_client.post(FINETUNE, {"name": "copy-v1", "hyperparameters": FAST}, format="json")
    assert response.status_code == 202, response.json()
    assert len(callbacks) == 1
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.params["purpose"], job.params["runner"], job.base_version) == (
        "copy",
        "copy.finetune",
        tiny_base,
    )
    assert set(job.params["eval_product_ids"]) >= {p.pk for p in catalog if p.pk % 10 == 0}
    assert (
        TrainingDataset.objects.get(pk=job.params["dataset_id"]).record_count == job.params["catalog_pairs"]
    )
    again = api_client.post(FINETUNE, {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_running"


def test_bad_input_and_too_little_data_answer_400(api_client, merchant, tiny_base, store):
    bad = api_client.post(FINETUNE, {"hyperparameters": {"learning_rate": -1}}, format="json")
    assert bad.status_code == 400 and "learning_rate" in bad.json()["field_errors"]["hyperparameters"]
    ProductFactory(merchant=merchant)
    empty = api_client.post(FINETUNE, {}, format="json")
    assert empty.status_code == 400 and empty.json()["code"] == "too_few_examples"
    assert not Job.objects.exists()


def test_starting_needs_the_write_scope_and_outsiders_see_nothing(
    make_api_client, api_client, outsider_api_client, merchant, catalog, tiny_base, store
):
    assert make_api_client(merchant, scopes=["read"]).post(FINETUNE, {}, format="json").status_code == 403
    job_id = api_client.post(FINETUNE, {}, format="json").json()["id"]
    assert outsider_api_client.get(f"/api/v1/jobs/{job_id}/").status_code == 404


def test_the_job_evaluates_held_out_copy_and_the_gate_decides(
    merchant, catalog, tiny_base, store, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        job = copy_finetune_start(merchant=merchant, actor=ACTOR, hyperparameters=FAST)
    assert finetune_task(job.pk) == "succeeded"
    job.refresh_from_db()
    m = job.metrics
    assert m["copy_eval_products"] == len(job.params["eval_product_ids"])
    for name in ("approvable", "unsupported", "fact_coverage", "rouge_l", "chrf"):
        assert 0 <= m[f"copy_{name}"] <= 1 and 0 <= m[f"parent_copy_{name}"] <= 1
    version = job.result_version
    assert (version.purpose, version.kind, version.parent) == ("copy", "lora", tiny_base)
    assert version.metrics["copy_approvable"] == m["copy_approvable"]
    gate = m["promotion"]["gate"] if "gate" in m["promotion"] else promotion_gate(version)
    assert set(gate["copy"]) == {"approvable", "unsupported", "fact_coverage", "rouge_l", "chrf"}
    assert "Held-out copy" in gate["reason"]
    assert m["promotion"]["promoted"] == gate["passed"]


@pytest.mark.parametrize(
    "copy_metrics, passed, says",
    [
        ({"approvable": (0.6, 0.2), "unsupported": (0.1, 0.5)}, True, "better on approvable share"),
        (
            {"approvable": (0.6, 0.2), "unsupported": (0.6, 0.5)},
            False,
            "worse on share with an unsupported claim",
        ),
        (
            {"approvable": (0.2, 0.2), "unsupported": (0.5, 0.5)},
            False,
            "no better than its parent on anything",
        ),
    ],
)
def test_the_gate_weighs_held_out_copy(merchant, tiny_base, copy_metrics, passed, says):
    metrics = {"eval_loss": 1.0, "parent_eval_loss": 2.0}
    for name, (new, old) in copy_metrics.items():
        metrics[f"copy_{name}"], metrics[f"parent_copy_{name}"] = new, old
    version = ModelVersion.objects.create(
        merchant=merchant,
        name="copy-x",
        purpose="copy",
        kind="lora",
        parent=tiny_base,
        path="/nowhere",
        metrics=metrics,
    )
    gate = promotion_gate(version)
    assert gate["passed"] is passed and says in gate["reason"]


def test_the_daily_sweep_learns_from_new_approvals_only(
    merchant, catalog, campaign, tiny_base, store, settings, django_capture_on_commit_callbacks
):
    settings.COPY_FINETUNE_MIN_NEW_PIECES = 2
    first, second = [p for p in catalog if p.pk % 10][:2]  # held-out products' pieces are not trained on
    approved_piece(campaign, first, "A trail bottle that keeps drinks cold for 24 hours.")
    with django_capture_on_commit_callbacks(execute=False):
        assert copy_learning_sweep() == []  # one approval is not enough
        approved_piece(campaign, second, "A trail bottle that keeps drinks cold for 24 hours.")
        started = copy_learning_sweep()
    assert len(started) == 1
    job = Job.objects.get(pk=started[0])
    assert (job.params["trigger"], job.params["piece_pairs"]) == ("schedule", 2)
    Job.objects.filter(pk=job.pk).update(status="succeeded")
    with django_capture_on_commit_callbacks(execute=False):
        assert copy_learning_sweep() == []  # nothing approved since


def test_the_beat_schedule_has_the_copy_learning_entry():
    from config.celery import app

    entry = app.conf.beat_schedule["copy-learning"]
    assert entry["task"] == "marketing.tasks.copy_learning_sweep_task"


def test_the_models_page_offers_one_click_learning_to_editors(
    client, owner, member_with_role, merchant, catalog, tiny_base, store, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    page = client.get(reverse("ml:model_list")).content.decode()
    assert 'data-testid="copy-learn"' in page
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("marketing:copy_finetune"))
    job = Job.objects.get(params__purpose="copy")
    assert response.status_code == 302 and response["Location"] == reverse("ml:job_detail", args=[job.pk])
    refused = client.post(reverse("marketing:copy_finetune"), follow=True)
    assert "was not fine-tuned: Copy fine-tuning job" in refused.content.decode()
    client.force_login(member_with_role(Role.VIEWER))
    assert 'data-testid="copy-learn"' not in client.get(reverse("ml:model_list")).content.decode()
    assert client.post(reverse("marketing:copy_finetune")).status_code == 403
