"""Runs a claimed fine-tuning job in an `ml` worker: gathers the data, calls ml/engine, and registers the
new version only once its adapter is fully written. Imported by the worker only (it pulls in torch)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction

from accounts.services import Actor, audit_record
from ml.engine import DatasetError, HyperparameterError, InvalidCheckpoint, TrainingCancelled
from ml.engine.finetune import FinetuneParams, FinetuneResult, TrainingProgress, finetune
from ml.jobs import ProgressReporter, job_finish, job_log
from ml.models import Job, ModelVersion, TrainingDataset

logger = logging.getLogger(__name__)


def job_workdir(job: Job) -> Path:
    return Path(settings.MODEL_STORE_DIR) / "merchants" / str(job.merchant_id) / "jobs" / str(job.pk)


def _base_and_adapter(version: ModelVersion) -> tuple[str, str | None]:
    """A LoRA version trains on top of its base checkpoint with its own adapter as the starting point."""
    if version.kind == ModelVersion.Kind.LORA:
        return version.base.path, version.path
    return version.path, None


def _history(pairs, key: str) -> list[dict]:
    return [{"step": int(step), key: round(float(value), 5)} for step, value in pairs]


def finetune_run(job: Job, *, evaluate: Callable[[FinetuneResult], dict] | None = None) -> str:
    """Train, then register the version. ``params["eval_dataset_id"]`` names a fixed held-out dataset (else
    part of the training data is held out); ``evaluate`` adds metrics (e.g. a regression set's loss) to the
    job and the version before the version exists, so it is never promotable without them."""
    params = job.params
    start_from = job.base_version
    dataset = TrainingDataset.objects.get(pk=params["dataset_id"], merchant=job.merchant)
    eval_records = None
    if params.get("eval_dataset_id"):
        eval_records = TrainingDataset.objects.get(
            pk=params["eval_dataset_id"], merchant=job.merchant
        ).records
    reporter = ProgressReporter(job.pk)
    metrics: dict = {"loss_history": [], "eval_history": []}

    def progress(event: TrainingProgress) -> None:
        metrics["loss_history"].append({"step": event.step, "loss": round(float(event.loss), 5)})
        if event.eval_loss is not None and (
            not metrics["eval_history"]
            or metrics["eval_history"][-1]["eval_loss"] != round(event.eval_loss, 5)
        ):
            metrics["eval_history"].append(
                {"step": event.step, "eval_loss": round(float(event.eval_loss), 5)}
            )
        reporter(current=event.step, total=event.total_steps, eta_seconds=event.eta_s, metrics=metrics)

    base_path, parent_adapter = _base_and_adapter(start_from)
    job_log(job.pk, f"Training from {start_from.name} on {dataset.record_count} records.")
    try:
        result = finetune(
            base_path,
            dataset.records,
            job_workdir(job),
            FinetuneParams(**params["hyperparameters"]),
            parent_adapter_path=parent_adapter,
            eval_examples=eval_records,
            progress=progress,
            should_cancel=reporter.should_cancel,
        )
        extra_metrics = evaluate(result) if evaluate is not None else {}
    except TrainingCancelled:
        job_log(job.pk, "Cancelled; the last checkpoint was kept.")
        job_finish(job.pk, status=Job.Status.CANCELLED, metrics=metrics)
        return "cancelled"
    except (DatasetError, HyperparameterError, InvalidCheckpoint) as exc:
        job_log(job.pk, f"Failed: {exc}")
        job_finish(job.pk, status=Job.Status.FAILED, error=str(exc), metrics=metrics)
        return "failed"
    except Exception as exc:  # a crash is recorded on the job rather than lost in a worker log
        logger.exception("Fine-tuning job %s crashed", job.pk)
        job_log(job.pk, f"Crashed: {type(exc).__name__}: {exc}")
        job_finish(job.pk, status=Job.Status.FAILED, error=f"{type(exc).__name__}: {exc}", metrics=metrics)
        return "failed"

    metrics = {
        "loss_history": _history(result.train_loss_history, "loss"),
        "eval_history": _history([(0, result.eval_loss_before), *result.eval_loss_history], "eval_loss"),
        "eval_loss_before": result.eval_loss_before,
        "eval_loss": result.eval_loss_after,
        "perplexity_before": result.perplexity_before,
        "perplexity": result.perplexity_after,
        "tokens_per_second": round(result.tokens_per_s, 1),
        "truncated": result.truncated_examples,
        "dropped": result.dropped_examples,
        "stopped_early": result.stopped_early,
        "resumed_from_step": result.resumed_from_step,
        "seconds": round(result.seconds, 1),
        **extra_metrics,
    }
    kind = ModelVersion.Kind.LORA if result.method == "lora" else ModelVersion.Kind.FULL
    with transaction.atomic():
        version = ModelVersion.objects.create(
            merchant=job.merchant,
            name=params["name"],
            purpose=params["purpose"],
            kind=kind,
            parent=start_from,
            path=result.output_path,
            status=ModelVersion.Status.READY,
            training_data_summary={
                "dataset_id": dataset.pk,
                "records": dataset.record_count,
                "source": dataset.source,
                "train_examples": result.train_examples,
                "eval_examples": result.eval_examples,
                "truncated": result.truncated_examples,
                "dropped": result.dropped_examples,
            },
            metrics={
                "eval_loss": result.eval_loss_after,
                "parent_eval_loss": result.eval_loss_before,
                "perplexity": result.perplexity_after,
                "parent_perplexity": result.perplexity_before,
                "tokens_per_second": round(result.tokens_per_s, 1),
                "steps": result.steps,
                **extra_metrics,
            },
        )
        job_finish(
            job.pk,
            status=Job.Status.SUCCEEDED,
            result_version=version,
            metrics=metrics,
            progress_current=result.steps,
            progress_total=result.total_steps,
        )
        audit_record(
            merchant=job.merchant,
            actor=Actor.system(f"job:{job.pk}"),
            action="model.trained",
            obj=version,
            changes=version.metrics,
        )
    job_log(
        job.pk,
        f"Registered version {version.name}: held-out loss {result.eval_loss_before:.4f} -> "
        f"{result.eval_loss_after:.4f}.",
    )
    return "succeeded"


def promotion_verdict(job: Job, version: ModelVersion, purpose: str) -> dict:
    """Promote through the registry's gate if the version it was trained from still serves the purpose;
    otherwise a person decides, since the comparison was made against another version."""
    from ml.selectors import serving_version
    from ml.services import PromotionRefused, version_promote

    current = serving_version(merchant=job.merchant, purpose=purpose)
    if current is not None and current.pk != job.base_version_id:
        return {
            "promoted": False,
            "reason": f"Not promoted: {current.name} started serving while this version trained "
            f"from {job.base_version.name}; compare and promote by hand.",
        }
    try:
        deployment = version_promote(
            merchant=job.merchant, version=version, purpose=purpose, actor=Actor.system(f"job:{job.pk}")
        )
    except PromotionRefused as exc:
        return {"promoted": False, "reason": f"Not promoted: {exc}", "gate": exc.gate}
    return {
        "promoted": True,
        "reason": f"Promoted: {deployment.gate_report['reason']}",
        "gate": deployment.gate_report,
    }


def record_promotion(job: Job, version: ModelVersion, verdict: dict) -> None:
    """The verdict goes on the job and the version, beside their other metrics."""
    job.refresh_from_db(fields=["metrics"])
    Job.objects.filter(pk=job.pk).update(metrics={**job.metrics, "promotion": verdict})
    version.refresh_from_db(fields=["metrics"])
    ModelVersion.objects.filter(pk=version.pk).update(metrics={**version.metrics, "promotion": verdict})


def promote_if_asked(job: Job, purpose: str) -> None:
    """After a successful run: promote the job's version through the gate when the job asked for it (the
    default), and record the verdict on the job and the version."""
    job.refresh_from_db()
    version = job.result_version
    verdict = (
        promotion_verdict(job, version, purpose)
        if job.params.get("auto_promote", True)
        else {
            "promoted": False,
            "reason": "Automatic promotion was not requested.",
        }
    )
    record_promotion(job, version, verdict)
    job_log(job.pk, verdict["reason"])
