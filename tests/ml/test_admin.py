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
    dataset = TrainingDataset.objects.create(merchant=merchant, name="d", purpose="copy", records=[], record_count=0)
    objects = {"modelversion": base, "deployment": Deployment.objects.get(), "job": job, "trainingdataset": dataset}
    assert client.get(f"/admin/ml/{model}/", {"q": "north", "merchant__id__exact": merchant.id}).status_code == 200
    assert client.get(f"/admin/ml/{model}/{objects[model].pk}/change/").status_code == 200
