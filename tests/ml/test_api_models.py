import pytest

from ml.models import Deployment, Job, ModelVersion, TrainingDataset

pytestmark = pytest.mark.django_db

RECORDS = [
    {"prompt": f"Describe product {i}", "response": f"Product {i} is great for hiking."} for i in range(12)
]


@pytest.fixture
def base(db):
    return ModelVersion.objects.create(name="smollm2-135m-instruct", kind="base", path="/models/smollm2")


def finetuned(merchant, base, *, eval_loss, parent_eval_loss, purpose="copy", status="ready"):
    return ModelVersion.objects.create(
        merchant=merchant,
        name=f"copy-{eval_loss}",
        purpose=purpose,
        kind="lora",
        parent=base,
        path="/a",
        status=status,
        metrics={"eval_loss": eval_loss, "parent_eval_loss": parent_eval_loss},
    )


def test_registry_lists_base_and_own_versions_only(api_client, merchant, other_merchant, base):
    mine = finetuned(merchant, base, eval_loss=1.0, parent_eval_loss=2.0)
    finetuned(other_merchant, base, eval_loss=1.1, parent_eval_loss=2.0)
    body = api_client.get("/api/v1/models/").json()
    assert {row["id"] for row in body["results"]} == {base.id, mine.id}
    assert "path" not in body["results"][0]


def test_outsider_gets_404_on_version_promote_and_job(outsider_api_client, merchant, base):
    mine = finetuned(merchant, base, eval_loss=1.0, parent_eval_loss=2.0)
    job = Job.objects.create(merchant=merchant, kind="finetune")
    assert outsider_api_client.get(f"/api/v1/models/{mine.id}/").status_code == 404
    assert (
        outsider_api_client.post(f"/api/v1/models/{mine.id}/promote/", {}, format="json").status_code == 404
    )
    assert outsider_api_client.get(f"/api/v1/jobs/{job.id}/").status_code == 404
    assert outsider_api_client.post(f"/api/v1/jobs/{job.id}/cancel/").status_code == 404
    assert not Deployment.objects.exists()


def test_finetune_starts_a_queued_job(api_client, merchant, base, django_capture_on_commit_callbacks):
    response = api_client.post(
        "/api/v1/models/finetune/",
        {"purpose": "copy", "records": RECORDS, "hyperparameters": {"epochs": 2, "learning_rate": 0.0005}},
        format="json",
    )
    assert response.status_code == 202, response.json()
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.QUEUED and job.merchant == merchant and job.base_version == base
    assert job.params["hyperparameters"]["epochs"] == 2
    assert job.params["hyperparameters"]["method"] == "lora"
    assert TrainingDataset.objects.get(pk=job.params["dataset_id"]).record_count == 12


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"purpose": "copy", "records": RECORDS[:3]}, "records"),
        ({"purpose": "copy"}, "records"),
        ({"purpose": "poems", "records": RECORDS}, "purpose"),
        ({"purpose": "copy", "records": [{"prompt": "x"}] * 12}, "records"),
        ({"purpose": "copy", "records": RECORDS, "hyperparameters": {"learning_rate": 5}}, "hyperparameters"),
        ({"purpose": "copy", "records": RECORDS, "hyperparameters": {"batch_size": 0}}, "hyperparameters"),
        ({"purpose": "copy", "records": RECORDS, "hyperparameters": {"method": "qlora"}}, "hyperparameters"),
        ({"purpose": "copy", "records": "not a list"}, "records"),
    ],
)
def test_finetune_bad_input_is_400_with_field_errors(api_client, base, payload, field):
    response = api_client.post("/api/v1/models/finetune/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["field_errors"]
    assert not Job.objects.exists()


def test_finetune_needs_write_scope(make_api_client, merchant, base):
    client = make_api_client(merchant, scopes=["read"])
    response = client.post("/api/v1/models/finetune/", {"purpose": "copy", "records": RECORDS}, format="json")
    assert response.status_code == 403


def test_finetune_from_another_merchants_version_is_404(api_client, other_merchant, base):
    theirs = finetuned(other_merchant, base, eval_loss=1.0, parent_eval_loss=2.0)
    response = api_client.post(
        "/api/v1/models/finetune/",
        {"purpose": "copy", "records": RECORDS, "start_from": theirs.id},
        format="json",
    )
    assert response.status_code == 404
    assert not Job.objects.exists()


def test_promotion_gate_refuses_a_version_that_does_not_beat_its_parent(api_client, merchant, base):
    worse = finetuned(merchant, base, eval_loss=2.5, parent_eval_loss=2.0)
    response = api_client.post(f"/api/v1/models/{worse.id}/promote/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["gate"]["passed"] is False
    assert "does not beat" in response.json()["message"]
    assert not Deployment.objects.exists()


def test_promote_then_rollback(api_client, merchant, base):
    first = finetuned(merchant, base, eval_loss=1.5, parent_eval_loss=2.0)
    second = finetuned(merchant, base, eval_loss=1.2, parent_eval_loss=1.5)
    assert api_client.post(f"/api/v1/models/{first.id}/promote/", {}, format="json").status_code == 200
    assert api_client.post(f"/api/v1/models/{second.id}/promote/", {}, format="json").status_code == 200
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, second.status) == ("ready", "promoted")

    response = api_client.post("/api/v1/models/rollback/", {"purpose": "copy"}, format="json")
    assert response.status_code == 200
    assert response.json()["version"]["id"] == first.id
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, second.status) == ("promoted", "ready")

    # Rolling back again falls back to the default base model; a third time there is nothing left.
    assert api_client.post("/api/v1/models/rollback/", {"purpose": "copy"}, format="json").status_code == 200
    assert not Deployment.objects.filter(is_active=True).exists()
    assert api_client.post("/api/v1/models/rollback/", {"purpose": "copy"}, format="json").status_code == 409


def test_promote_needs_publish_scope(make_api_client, merchant, base):
    version = finetuned(merchant, base, eval_loss=1.0, parent_eval_loss=2.0)
    client = make_api_client(merchant, scopes=["read", "write"])
    assert client.post(f"/api/v1/models/{version.id}/promote/", {}, format="json").status_code == 403


def test_cancel_a_queued_job(api_client, merchant):
    job = Job.objects.create(merchant=merchant, kind="finetune")
    response = api_client.post(f"/api/v1/jobs/{job.id}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert api_client.post(f"/api/v1/jobs/{job.id}/cancel/").status_code == 409
