"""The chat fine-tune job on the real SmolLM2-135M-Instruct and 40 real Bitext support dialogues: a few LoRA
steps lower the held-out reply loss below the base model's. Skips when the model is not provisioned in
var/models or the data sets folder (../shared/datasets) is absent."""

import csv
import io
from pathlib import Path

import pytest

from accounts.services import Actor
from chat.models import SupportDialogue
from chat.training.dialogues import dialogue_import
from chat.training.services import chat_finetune_start
from ml.models import ModelVersion
from ml.tasks import finetune_task

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]
BITEXT = (
    ROOT.parent / "shared" / "datasets" / "bitext_customer_support" / "bitext_customer_support_training.csv"
)


def bitext_sample(count: int) -> bytes:
    """Every ~110th row of the Bitext CSV (spread over the intents), as an upload of the same layout."""
    with open(BITEXT, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    step = len(rows) // count
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
    writer.writeheader()
    writer.writerows(rows[::step][:count])
    return out.getvalue().encode()


@pytest.fixture
def smollm2(settings, tmp_path, smollm2_checkpoint):
    if not BITEXT.is_file():
        pytest.skip(f"the Bitext data set is not at {BITEXT}")
    import torch

    settings.MODEL_STORE_DIR = tmp_path / "store"
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared machine: see tests/ml/engine/conftest.py
    yield ModelVersion.objects.create(name="smollm2-135m-instruct", kind="base", path=str(smollm2_checkpoint))
    torch.set_num_threads(before)


def test_a_few_lora_steps_on_bitext_dialogues_beat_the_base_model_on_held_out_replies(merchant, smollm2):
    batch = dialogue_import(
        merchant=merchant, actor=Actor.system("test"), data=bitext_sample(40), filename="b.csv"
    )
    assert (batch.format, batch.rows_imported) == ("bitext", 40)
    assert SupportDialogue.objects.filter(merchant=merchant, split="heldout").exists()
    job = chat_finetune_start(
        merchant=merchant,
        actor=Actor.system("test"),
        hyperparameters={
            "max_steps": 3,
            "batch_size": 4,
            "learning_rate": 1e-3,
            "max_seq_len": 320,
            "eval_every": 0,
            "checkpoint_every": 0,
        },
    )
    assert finetune_task(job.pk) == "succeeded"
    job.refresh_from_db()
    m = job.metrics
    assert m["tuned_heldout_loss"] < m["base_heldout_loss"], m
    assert m["perplexity_reduction"] > 0
    assert m["regression_examples"] == 10
    assert job.result_version.kind == "lora"
