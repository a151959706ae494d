"""Writes for the model registry and jobs. The web process only records intent here; model work runs in
`ml` queue workers (ml/tasks.py) through ml/engine."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from ml.job_runners import params_errors
from ml.models import Deployment, Job, ModelVersion, TrainingDataset
from ml.selectors import deployment_active
from storyfront.validators import validate_outbound_url


class FinetuneRefused(ValueError):
    """A fine-tune asked to start from a version it cannot start from (ModelVersion.training_refusal). Every
    caller checks the version first and answers the user; this is the last guard."""


class PromotionRefused(Exception):
    """The evaluation gate said no (or the version is not in a promotable state)."""

    def __init__(self, message: str, gate: dict | None = None):
        super().__init__(message)
        self.gate = gate or {}


def model_store_dir():
    return settings.MODEL_STORE_DIR


@transaction.atomic
def base_model_register(
    *,
    name: str,
    path: str = "",
    backend: str = ModelVersion.Backend.LOCAL_HF,
    endpoint_url: str = "",
    endpoint_model: str = "",
) -> ModelVersion:
    """Register (or refresh) a global base model: a local checkpoint directory or an OpenAI-compatible endpoint."""
    from ml.engine.checkpoints import validate_checkpoint_dir  # raises InvalidCheckpoint with a clear message

    if backend == ModelVersion.Backend.LOCAL_HF:
        path = str(validate_checkpoint_dir(path).resolve())
    elif not (endpoint_url and endpoint_model):
        raise ValueError("An OpenAI-compatible base model needs an endpoint URL and a model name.")
    else:
        try:
            validate_outbound_url(endpoint_url)
        except ValidationError as exc:
            raise ValueError(exc.messages[0]) from exc
    version, _ = ModelVersion.objects.update_or_create(
        merchant=None,
        name=name,
        defaults={
            "kind": ModelVersion.Kind.BASE,
            "backend": backend,
            "path": path,
            "endpoint_url": endpoint_url,
            "endpoint_model": endpoint_model,
            "status": ModelVersion.Status.READY,
        },
    )
    return version


def training_dataset_create(*, merchant: Merchant, name: str, purpose: str, records: list[dict], source: str):
    return TrainingDataset.objects.create(
        merchant=merchant,
        name=name,
        purpose=purpose,
        records=records,
        record_count=len(records),
        source=source,
    )


@transaction.atomic
def finetune_start(
    *,
    merchant: Merchant,
    actor: Actor,
    purpose: str,
    start_from: ModelVersion,
    dataset: TrainingDataset,
    hyperparameters: dict,
    name: str = "",
    extra_params: dict | None = None,
) -> Job:
    """Record a fine-tuning job and queue it on the `ml` queue once the transaction commits.

    ``extra_params`` go into ``job.params`` for the worker (e.g. ``eval_dataset_id``, a ``runner``)."""
    from ml.tasks import finetune_task

    errors = params_errors(extra_params or {})
    if errors:
        raise ValueError("; ".join(errors))
    refusal = start_from.training_refusal()
    if refusal:
        raise FinetuneRefused(refusal)
    job = Job.objects.create(
        merchant=merchant,
        kind=Job.Kind.FINETUNE,
        params={
            **(extra_params or {}),
            "purpose": purpose,
            "dataset_id": dataset.pk,
            "hyperparameters": hyperparameters,
            "name": name or f"{purpose}-{timezone.now():%Y%m%d-%H%M}",
        },
        base_version=start_from,
        created_by=actor.user,
        created_by_label=actor.label,
    )
    audit_record(
        merchant=merchant,
        actor=actor,
        action="finetune.start",
        obj=job,
        changes={"from": start_from.name, "records": dataset.record_count, **hyperparameters},
    )
    transaction.on_commit(
        lambda: Job.objects.filter(pk=job.pk).update(
            celery_task_id=finetune_task.apply_async(args=[job.pk], queue="ml").id
        )
    )
    return job


def job_cancel(*, job: Job, actor: Actor) -> bool:
    """Ask a job to stop. Queued jobs stop at once; running ones stop at their next step."""
    now = timezone.now()
    if Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
        status=Job.Status.CANCELLED, cancel_requested=True, finished_at=now
    ):
        changed = True
    else:
        changed = bool(Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(cancel_requested=True))
    if changed:
        audit_record(merchant=job.merchant, actor=actor, action="job.cancel", obj=job)
    job.refresh_from_db()
    return changed


def promotion_gate(version: ModelVersion) -> dict:
    """The new version must beat its parent on the same held-out split (lower eval loss); where a fixed
    regression set was evaluated (chat), must not be worse than its parent on it; and where held-out copy was
    generated and verified (copy), must be no worse on any count and better on one."""
    metrics = version.metrics or {}
    after, before = metrics.get("eval_loss"), metrics.get("parent_eval_loss")
    if version.kind == ModelVersion.Kind.BASE:
        return {"passed": True, "reason": "Base models need no gate."}
    if version.status not in (ModelVersion.Status.READY, ModelVersion.Status.PROMOTED):
        return {"passed": False, "reason": f"Version is {version.get_status_display().lower()}, not ready."}
    if after is None or before is None:
        return {"passed": False, "reason": "No held-out evaluation recorded for this version."}
    passed = after < before
    verdict = "beats" if passed else "does not beat"
    gate = {
        "passed": passed,
        "eval_loss": after,
        "parent_eval_loss": before,
        "reason": f"Held-out loss {after:.4f} {verdict} its parent's {before:.4f}.",
    }
    copy_checks = [  # (metric, higher is better): the copy model's held-out generation (marketing)
        ("approvable", True),
        ("unsupported", False),
        ("fact_coverage", True),
        ("rouge_l", True),
        ("chrf", True),
    ]
    compared = [
        (name, better, metrics.get(f"copy_{name}"), metrics.get(f"parent_copy_{name}"))
        for name, better in copy_checks
    ]
    compared = [c for c in compared if c[2] is not None and c[3] is not None]
    if compared:
        worse = [n for n, better, new, old in compared if (new < old if better else new > old)]
        improved = [n for n, better, new, old in compared if (new > old if better else new < old)]
        gate["copy"] = {n: {"new": new, "parent": old} for n, _, new, old in compared}
        gate["passed"] = passed and not worse and bool(improved)
        labels = {
            "approvable": "approvable share",
            "unsupported": "share with an unsupported claim",
            "fact_coverage": "fact coverage",
            "rouge_l": "ROUGE-L",
            "chrf": "chrF",
        }
        gate["reason"] += (
            f" Held-out copy: worse on {', '.join(labels[n] for n in worse)}."
            if worse
            else f" Held-out copy: better on {', '.join(labels[n] for n in improved)}, worse on nothing."
            if improved
            else " Held-out copy: no better than its parent on anything."
        )
    regression, parent_regression = metrics.get("regression_loss"), metrics.get("parent_regression_loss")
    if regression is not None and parent_regression is not None:
        held = regression <= parent_regression
        gate.update(regression_loss=regression, parent_regression_loss=parent_regression)
        gate["passed"] = passed and held
        gate["reason"] += (
            f" Regression-set loss {regression:.4f} "
            f"{'is no worse than' if held else 'is worse than'} its parent's {parent_regression:.4f}."
        )
    return gate


@transaction.atomic
def version_promote(*, merchant: Merchant, version: ModelVersion, purpose: str, actor: Actor) -> Deployment:
    if version.merchant_id not in (None, merchant.pk):
        raise PromotionRefused("This version belongs to another merchant.")
    if version.purpose and version.purpose != purpose:
        raise PromotionRefused(f"This version was trained for {version.get_purpose_display().lower()}.")
    gate = promotion_gate(version)
    if not gate["passed"]:
        raise PromotionRefused(gate["reason"], gate)
    current = deployment_active(merchant=merchant, purpose=purpose)
    if current and current.version_id == version.pk:
        return current
    if current:
        Deployment.objects.filter(pk=current.pk).update(is_active=False)
        ModelVersion.objects.filter(pk=current.version_id, merchant=merchant).update(
            status=ModelVersion.Status.READY
        )
    deployment = Deployment.objects.create(
        merchant=merchant, purpose=purpose, version=version, gate_report=gate, promoted_by_label=actor.label
    )
    if version.merchant_id:
        ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.PROMOTED)
    audit_record(
        merchant=merchant,
        actor=actor,
        action="model.promote",
        obj=version,
        changes={"purpose": purpose, **gate},
    )
    return deployment


@transaction.atomic
def version_rollback(*, merchant: Merchant, purpose: str, actor: Actor) -> Deployment | None:
    """Re-activate the deployment before the current one (or fall back to the default base model)."""
    current = deployment_active(merchant=merchant, purpose=purpose)
    if current is None:
        raise PromotionRefused("Nothing is promoted for this purpose, so there is nothing to roll back.")
    previous = (
        Deployment.objects.filter(merchant=merchant, purpose=purpose, is_active=False, pk__lt=current.pk)
        .filter(rolled_back_at__isnull=True)
        .select_related("version")
        .order_by("-pk")
        .first()
    )
    # Rolling back walks down the promotion history: a rolled-back row is never re-activated by a rollback.
    Deployment.objects.filter(pk=current.pk).update(is_active=False, rolled_back_at=timezone.now())
    ModelVersion.objects.filter(pk=current.version_id, merchant=merchant).update(
        status=ModelVersion.Status.READY
    )
    if previous is not None:
        Deployment.objects.filter(pk=previous.pk).update(is_active=True)
        if previous.version.merchant_id:
            ModelVersion.objects.filter(pk=previous.version_id).update(status=ModelVersion.Status.PROMOTED)
    audit_record(
        merchant=merchant,
        actor=actor,
        action="model.rollback",
        obj=current.version,
        changes={"purpose": purpose, "restored": previous.version.name if previous else "default base model"},
    )
    return previous
