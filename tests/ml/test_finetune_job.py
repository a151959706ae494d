"""A fine-tuning job end to end: API -> Redis -> a real Celery worker -> ml/engine -> registry -> promotion.
Uses a tiny randomly initialised checkpoint so it runs in seconds; the real SmolLM2 run is in
tests/ml/engine/test_integration_smollm2.py."""

import time

import pytest

from ml.models import Job, ModelVersion
from tests.ml.engine.conftest import build_tiny_checkpoint

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RECORDS = [
    {"prompt": f"Describe the {colour} bottle", "response": f"A {colour} bottle that keeps drinks cold."}
    for colour in [
        "red",
        "blue",
        "green",
        "black",
        "white",
        "grey",
        "navy",
        "sand",
        "rust",
        "ochre",
        "teal",
        "pink",
    ]
] * 2


def wait_for_job(client, job_id, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/jobs/{job_id}/").json()
        if body["status"] not in ("queued", "running"):
            return body
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {body['status']} after {timeout} s: {body}")


@pytest.fixture
def tiny_base(tmp_path):
    path = build_tiny_checkpoint(tmp_path / "tiny-base")
    return ModelVersion.objects.create(name="tiny-base", kind="base", path=str(path))


def test_finetune_job_runs_on_a_real_worker_and_its_version_passes_the_gate(
    celery_worker_process, api_client, merchant, tiny_base
):
    response = api_client.post(
        "/api/v1/models/finetune/",
        {
            "purpose": "copy",
            "name": "copy-v1",
            "records": RECORDS,
            "hyperparameters": {
                "max_steps": 8,
                "batch_size": 4,
                "learning_rate": 0.005,
                "eval_fraction": 0.25,
            },
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    body = wait_for_job(api_client, response.json()["id"])
    assert body["status"] == "succeeded", body
    assert body["percent"] == 100
    assert len(body["metrics"]["loss_history"]) == 8
    assert body["metrics"]["eval_loss"] < body["metrics"]["eval_loss_before"]

    version = ModelVersion.objects.get(pk=body["result_version"])
    assert (version.merchant, version.kind, version.status, version.parent) == (
        merchant,
        "lora",
        "ready",
        tiny_base,
    )
    promoted = api_client.post(f"/api/v1/models/{version.pk}/promote/", {}, format="json")
    assert promoted.status_code == 200, promoted.json()
    assert promoted.json()["gate_report"]["passed"] is True


def test_a_base_path_that_is_not_a_checkpoint_fails_the_job_clearly(
    celery_worker_process, api_client, merchant, tmp_path
):
    (tmp_path / "not-a-model").mkdir()
    broken = ModelVersion.objects.create(name="broken-base", kind="base", path=str(tmp_path / "not-a-model"))
    response = api_client.post(
        "/api/v1/models/finetune/",
        {"purpose": "copy", "records": RECORDS, "start_from": broken.pk, "hyperparameters": {"max_steps": 2}},
        format="json",
    )
    assert response.status_code == 202
    body = wait_for_job(api_client, response.json()["id"])
    assert body["status"] == "failed"
    assert "not a Hugging Face checkpoint" in body["error"]
    assert not ModelVersion.objects.filter(merchant=merchant).exists()
    assert Job.objects.get(pk=body["id"]).finished_at is not None


def test_a_worker_killed_mid_run_leaves_no_version_and_the_job_resumes_from_its_checkpoint(
    celery_worker_process, api_client, merchant, tiny_base
):
    from datetime import timedelta

    from django.utils import timezone

    from ml.tasks import requeue_stale_jobs

    response = api_client.post(
        "/api/v1/models/finetune/",
        {
            "purpose": "copy",
            "records": RECORDS,
            "hyperparameters": {"max_steps": 120, "batch_size": 2, "checkpoint_every": 10, "eval_every": 0},
        },
        format="json",
    )
    job_id = response.json()["id"]
    deadline = time.monotonic() + 120
    while Job.objects.get(pk=job_id).progress_current < 15:
        assert time.monotonic() < deadline, "the job never got past its first checkpoint"
        time.sleep(0.1)
    celery_worker_process.kill()

    job = Job.objects.get(pk=job_id)
    assert job.status == "running" and job.progress_current < 120
    assert not ModelVersion.objects.filter(merchant=merchant).exists()

    # Nothing is listening now; the sweeper (Celery beat in production) re-queues the stale job.
    Job.objects.filter(pk=job_id).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    assert requeue_stale_jobs() == [job_id]
    celery_worker_process.start()

    body = wait_for_job(api_client, job_id)
    assert body["status"] == "succeeded", body
    assert body["metrics"]["resumed_from_step"] >= 10
    assert ModelVersion.objects.filter(merchant=merchant, status="ready").count() == 1
