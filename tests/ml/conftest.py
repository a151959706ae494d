"""Fixtures shared by the dashboard's Models page tests: a base model and fine-tuned versions, one of them
another merchant's."""

import pytest

from ml.models import ModelVersion


@pytest.fixture
def base_model(db):
    return ModelVersion.objects.create(
        name="SmolLM2-135M-Instruct",
        kind=ModelVersion.Kind.BASE,
        path="/var/models/smollm2",
        status=ModelVersion.Status.READY,
        metrics={"eval_loss": 2.1},
    )


@pytest.fixture
def good_version(merchant, base_model):
    return ModelVersion.objects.create(
        merchant=merchant,
        name="copy-v1",
        purpose="copy",
        kind=ModelVersion.Kind.LORA,
        parent=base_model,
        status=ModelVersion.Status.READY,
        metrics={"eval_loss": 1.2, "parent_eval_loss": 1.5, "perplexity": 3.32},
    )


@pytest.fixture
def worse_version(merchant, base_model):
    return ModelVersion.objects.create(
        merchant=merchant,
        name="copy-v2-overfit",
        purpose="copy",
        kind=ModelVersion.Kind.LORA,
        parent=base_model,
        status=ModelVersion.Status.READY,
        metrics={"eval_loss": 1.6, "parent_eval_loss": 1.5},
    )


@pytest.fixture
def foreign_version(other_merchant, base_model):
    return ModelVersion.objects.create(
        merchant=other_merchant,
        name="contoso-secret-v1",
        purpose="copy",
        kind=ModelVersion.Kind.LORA,
        parent=base_model,
        status=ModelVersion.Status.READY,
        metrics={"eval_loss": 1.0, "parent_eval_loss": 1.5},
    )
