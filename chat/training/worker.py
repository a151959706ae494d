"""Worker side of chat fine-tuning (imported by `ml` workers only: it pulls in torch).

The generic job path (ml.training.finetune_run) trains on the job's dataset with the merchant's held-out
dialogues as the fixed evaluation set; this runner adds the regression-set evaluation before the version is
registered, then marks the conversations it learned from and lets the promotion gate decide."""

from __future__ import annotations

import logging

from chat.models import Conversation
from ml.engine import evaluate_loss
from ml.engine.finetune import FinetuneResult
from ml.jobs import job_heartbeat, job_log
from ml.models import Job, ModelVersion, Purpose, TrainingDataset
from ml.training import _base_and_adapter, finetune_run, promote_if_asked

logger = logging.getLogger(__name__)


def chat_finetune_run(job: Job) -> str:
    params = job.params
    start_from = job.base_version
    regression = []
    if params.get("regression_dataset_id"):
        regression = TrainingDataset.objects.get(
            pk=params["regression_dataset_id"], merchant=job.merchant
        ).records
    max_seq_len = params["hyperparameters"].get("max_seq_len", 512)

    def evaluate(result: FinetuneResult) -> dict:
        metrics = heldout_comparison(result, start_from)
        metrics["heldout_source"] = (
            "held-out dialogues" if params.get("eval_dataset_id") else "a sample of the training dialogues"
        )
        if regression:
            job_log(
                job.pk,
                f"Regression set: evaluating {start_from.name} and the new version on "
                f"{len(regression)} examples.",
            )
            before = _loss_of(start_from, regression, max_seq_len)
            after = _loss_of_result(result, start_from, regression, max_seq_len)
            metrics.update(
                regression_examples=len(regression),
                parent_regression_loss=round(before, 5),
                regression_loss=round(after, 5),
            )
        return metrics

    # Held-out and regression evaluations run for minutes on a CPU with no training step to report progress.
    with job_heartbeat(job.pk):
        outcome = finetune_run(job, evaluate=evaluate)
    if outcome != "succeeded":
        return outcome
    job.refresh_from_db()
    version = job.result_version
    conversation_ids = params.get("conversation_ids") or []
    if conversation_ids:
        marked = Conversation.objects.filter(
            pk__in=conversation_ids, merchant=job.merchant, trained_in__isnull=True
        ).update(trained_in=version)
        job_log(job.pk, f"Marked {marked} conversation(s) as trained in {version.name}.")
    promote_if_asked(job, Purpose.CHAT)
    return outcome


def heldout_comparison(result: FinetuneResult, start_from: ModelVersion) -> dict:
    """The held-out reply loss/perplexity of the starting version and the tuned one, side by side."""
    return {
        "start_version": start_from.name,
        "heldout_examples": result.eval_examples,
        "base_heldout_loss": round(result.eval_loss_before, 5),
        "base_heldout_perplexity": round(result.perplexity_before, 4),
        "tuned_heldout_loss": round(result.eval_loss_after, 5),
        "tuned_heldout_perplexity": round(result.perplexity_after, 4),
        "perplexity_reduction": round(1 - result.perplexity_after / result.perplexity_before, 4),
    }


def _loss_of(version: ModelVersion, records: list[dict], max_seq_len: int) -> float:
    model_path, adapter = _base_and_adapter(version)
    loss, _ = evaluate_loss(model_path, records, adapter_path=adapter, max_seq_len=max_seq_len)
    return loss


def _loss_of_result(
    result: FinetuneResult, start_from: ModelVersion, records: list[dict], max_seq_len: int
) -> float:
    """A LoRA result is an adapter on the starting version's base checkpoint; a full one is a checkpoint."""
    if result.method == "lora":
        base_path, _ = _base_and_adapter(start_from)
        loss, _ = evaluate_loss(base_path, records, adapter_path=result.output_path, max_seq_len=max_seq_len)
    else:
        loss, _ = evaluate_loss(result.output_path, records, max_seq_len=max_seq_len)
    return loss
