"""One rule says which versions a fine-tune may start from (ModelVersion.training_refusal); the API, the
dashboard form, the chat and copy fine-tunes and ml.services.finetune_start all apply it."""

import pytest

from accounts.services import Actor
from ml.models import Job, ModelVersion, TrainingDataset
from ml.services import FinetuneRefused, finetune_start, training_dataset_create

pytestmark = pytest.mark.django_db

RECORDS = [{"prompt": f"Describe product {i}", "response": f"Product {i} is light."} for i in range(12)]


@pytest.fixture
def endpoint(db):
    return ModelVersion.objects.create(
        name="remote-base",
        kind="base",
        backend=ModelVersion.Backend.OPENAI,
        endpoint_url="https://models.example.com/v1",
        endpoint_model="m",
    )


@pytest.fixture
def local(db):
    return ModelVersion.objects.create(name="local-base", kind="base", path="/models/local")


def test_the_rule(local, endpoint, merchant):
    assert local.training_refusal() is None
    assert "HTTP endpoint" in endpoint.training_refusal()
    failed = ModelVersion.objects.create(
        merchant=merchant, name="v-failed", kind="lora", parent=local, path="/a", status="failed"
    )
    assert failed.training_refusal() == f"Version {failed.pk} is failed; train from a ready version."
    trainable = set(ModelVersion.objects.filter(ModelVersion.trainable_filter()))
    assert local in trainable and endpoint not in trainable and failed not in trainable


def test_finetune_start_refuses_an_endpoint_version(merchant, endpoint):
    dataset = training_dataset_create(
        merchant=merchant, name="d", purpose="copy", records=RECORDS, source="api"
    )
    with pytest.raises(FinetuneRefused, match="HTTP endpoint"):
        finetune_start(
            merchant=merchant,
            actor=Actor.system("test"),
            purpose="copy",
            start_from=endpoint,
            dataset=dataset,
            hyperparameters={},
        )
    assert not Job.objects.exists()


def test_the_api_answers_409_and_keeps_no_upload(api_client, merchant, endpoint):
    response = api_client.post(
        "/api/v1/models/finetune/",
        {"purpose": "copy", "records": RECORDS, "start_from": endpoint.pk},
        format="json",
    )
    assert response.status_code == 409, response.json()
    assert "HTTP endpoint" in response.json()["message"]
    assert not TrainingDataset.objects.exists()


def test_an_api_upload_and_its_job_are_written_together(api_client, merchant, local, monkeypatch):
    def fail(**kwargs):
        raise RuntimeError("queue down")

    monkeypatch.setattr("ml.api.views.finetune_start", fail)
    api_client.raise_request_exception = False
    response = api_client.post(
        "/api/v1/models/finetune/", {"purpose": "copy", "records": RECORDS}, format="json"
    )
    assert response.status_code == 500
    assert not TrainingDataset.objects.exists()  # the dataset went with the failed job
