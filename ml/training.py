"""Runs a claimed fine-tuning job in an `ml` worker: gathers the data, calls ml/engine, and registers the
new version only once its adapter is fully written. Imported by the worker only (it pulls in torch)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from django.conf import settings
from django.db import transaction

from accounts.services import Actor, audit_record
from ml.engine import DatasetError, HyperparameterError, InvalidCheckpoint, TrainingCancelled, finetune
from ml.engine.finetune import FinetuneParams
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


def finetune_run(job: Job) -> str:
    params = job.params
    start_from = job.base_version
    dataset = TrainingDataset.objects.get(pk=params["dataset_id"], merchant=job.merchant)
    workdir = job_workdir(job)
    reporter = ProgressReporter(job.pk)
    metrics: dict = {"loss_history": [], "eval_history": []}

    def progress(event) -> None:
        if event.get("loss") is not None:
            metrics["loss_history"].append({"step": event["step"], "loss": round(float(event["loss"]), 5)})
        if event.get("eval_loss") is not None:
            metrics["eval_history"].append({"step": event["step"], "eval_loss": round(float(event["eval_loss"]), 5)})
        reporter(current=event["step"], total=event["total_steps"], eta_seconds=event.get("eta_seconds"), metrics=metrics)

    base_path, adapter_path = _base_and_adapter(start_from)
    job_log(job.pk, f"Training from {start_from.name} on {dataset.record_count} records.")
    try:
        result = finetune(
            base_path,
            [(r["prompt"], r["response"]) for r in dataset.records],
            workdir,
            FinetuneParams(**params["hyperparameters"]),
            progress=progress,
            should_cancel=reporter.should_cancel,
            init_adapter_path=adapter_path,
        )
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

    summary = result.as_dict()
    metrics.update(
        {k: summary[k] for k in ("eval_loss_before", "eval_loss", "perplexity", "tokens_per_second", "truncated") if k in summary}
    )
    version_dir = Path(settings.MODEL_STORE_DIR) / "merchants" / str(job.merchant_id) / "versions" / f"job-{job.pk}"
    if version_dir.exists():
        shutil.rmtree(version_dir)
    shutil.copytree(result.adapter_dir, version_dir)
    kind = ModelVersion.Kind.LORA if params["hyperparameters"].get("method", "lora") == "lora" else ModelVersion.Kind.FULL
    with transaction.atomic():
        version = ModelVersion.objects.create(
            merchant=job.merchant,
            name=params["name"],
            purpose=params["purpose"],
            kind=kind,
            parent=start_from,
            path=str(version_dir),
            status=ModelVersion.Status.READY,
            training_data_summary={
                "dataset_id": dataset.pk, "records": dataset.record_count, "source": dataset.source,
                "train_records": summary.get("train_examples"), "eval_records": summary.get("eval_examples"),
                "truncated": summary.get("truncated"),
            },
            metrics={
                "eval_loss": summary.get("eval_loss"),
                "parent_eval_loss": summary.get("eval_loss_before"),
                "perplexity": summary.get("perplexity"),
                "parent_perplexity": summary.get("perplexity_before"),
                "tokens_per_second": summary.get("tokens_per_second"),
                "steps": summary.get("steps"),
            },
        )
        job_finish(job.pk, status=Job.Status.SUCCEEDED, result_version=version, metrics=metrics,
                   progress_current=reporter.total or job.progress_total)
        audit_record(merchant=job.merchant, actor=Actor.system(f"job:{job.pk}"), action="model.trained", obj=version,
                     changes=version.metrics)
    job_log(job.pk, f"Registered version {version.name} (eval loss {summary.get('eval_loss')}).")
    return "succeeded"
