import pytest
from django.contrib.auth import get_user_model

from ml.models import Deployment, Job, ModelVersion, TrainingDataset

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["modelversion", "deployment", "job", "trainingdataset"])
def test_ml_admin_pages_load(client, merchant, model):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    base = ModelVersion.objects.create(name="base", kind="base", path="/m")
    Deployment.objects.create(merchant=merchant, purpose="copy", version=base)
    job = Job.objects.create(merchant=merchant, kind="finetune")
    dataset = TrainingDataset.objects.create(
        merchant=merchant, name="d", purpose="copy", records=[], record_count=0
    )
    objects = {
        "modelversion": base,
        "deployment": Deployment.objects.get(),
        "job": job,
        "trainingdataset": dataset,
    }
    assert (
        client.get(f"/admin/ml/{model}/", {"q": "north", "merchant__id__exact": merchant.id}).status_code
        == 200
    )
    assert client.get(f"/admin/ml/{model}/{objects[model].pk}/change/").status_code == 200


def test_admin_refuses_a_base_model_path_that_is_not_a_checkpoint(client, tmp_path):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    response = client.post(
        "/admin/ml/modelversion/add/",
        {
            "name": "mine",
            "kind": "base",
            "backend": "local_hf",
            "path": str(tmp_path),
            "status": "ready",
            "training_data_summary": "{}",
            "metrics": "{}",
        },
    )
    assert response.status_code == 200
    assert "not a Hugging Face checkpoint" in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_admin_refuses_an_endpoint_url_on_an_internal_address(client, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    form = {
        "name": "ep",
        "kind": "base",
        "backend": "openai",
        "endpoint_model": "m",
        "status": "ready",
        "training_data_summary": "{}",
        "metrics": "{}",
    }
    response = client.post("/admin/ml/modelversion/add/", {**form, "endpoint_url": "http://10.0.0.8:8000/v1"})
    assert response.status_code == 200
    assert "refused: 10.0.0.8 is a private address" in response.content.decode()
    assert not ModelVersion.objects.exists()
    response = client.post("/admin/ml/modelversion/add/", {**form, "endpoint_url": "https://8.8.8.8/v1"})
    assert response.status_code == 302
    assert ModelVersion.objects.get().endpoint_url == "https://8.8.8.8/v1"
