"""Reads for the model registry and jobs; a merchant sees global base models plus its own versions."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from accounts.models import Merchant
from ml.models import Deployment, Job, ModelVersion


def model_version_list(*, merchant: Merchant, purpose: str | None = None):
    qs = ModelVersion.objects.filter(Q(merchant=merchant) | Q(merchant__isnull=True)).select_related("parent")
    if purpose:
        qs = qs.filter(Q(purpose=purpose) | Q(kind=ModelVersion.Kind.BASE))
    return qs


def _id_or_404(value) -> int:
    """Ids come from URLs: one that is not a whole number names nothing (404), instead of failing the query."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("No such object.") from None


def model_version_get(*, merchant: Merchant, version_id) -> ModelVersion:
    version = model_version_list(merchant=merchant).filter(pk=_id_or_404(version_id)).first()
    if version is None:
        raise Http404("No such model version.")
    return version


def base_model_default() -> ModelVersion | None:
    return (
        ModelVersion.objects.filter(merchant__isnull=True, kind=ModelVersion.Kind.BASE)
        .exclude(status=ModelVersion.Status.ARCHIVED)
        .order_by("created_at", "id")
        .first()
    )


def deployment_active(*, merchant: Merchant, purpose: str) -> Deployment | None:
    return (
        Deployment.objects.filter(merchant=merchant, purpose=purpose, is_active=True)
        .select_related("version")
        .first()
    )


def serving_version(*, merchant: Merchant, purpose: str) -> ModelVersion | None:
    """The version that answers for this merchant and purpose: its promoted one, else the default base."""
    deployment = deployment_active(merchant=merchant, purpose=purpose)
    return deployment.version if deployment else base_model_default()


def deployment_history(*, merchant: Merchant, purpose: str | None = None):
    qs = Deployment.objects.filter(merchant=merchant).select_related("version")
    return qs.filter(purpose=purpose) if purpose else qs


def job_list(*, merchant: Merchant, kind: str | None = None):
    qs = Job.objects.filter(merchant=merchant).select_related("result_version", "base_version")
    return qs.filter(kind=kind) if kind else qs


def job_get(*, merchant: Merchant, job_id) -> Job:
    job = job_list(merchant=merchant).filter(pk=_id_or_404(job_id)).first()
    if job is None:
        raise Http404("No such job.")
    return job


@dataclass(frozen=True)
class JobFigures:
    """Jobs at a glance, for the Overview."""

    running: int
    queued: int
    failed_recently: int
    recent_failures: list[Job]

    @property
    def any(self) -> bool:
        return bool(self.running or self.queued or self.failed_recently)


def job_figures(
    *, merchant: Merchant, now: datetime | None = None, days: int = 7, failures_listed: int = 3
) -> JobFigures:
    """Jobs running or queued now, and those that failed in the last `days` (the newest few listed): one
    aggregate query, and one more for the list when something failed."""
    since = (now or timezone.now()) - timedelta(days=days)
    jobs = Job.objects.filter(merchant=merchant)
    # A failed job's time is when it ended; one that never started may have no finish time: its creation counts.
    failed_recently = Q(status=Job.Status.FAILED) & (
        Q(finished_at__gte=since) | Q(finished_at__isnull=True, created_at__gte=since)
    )
    row = jobs.aggregate(
        running=Count("id", filter=Q(status=Job.Status.RUNNING)),
        queued=Count("id", filter=Q(status=Job.Status.QUEUED)),
        failed_recently=Count("id", filter=failed_recently),
    )
    recent = []
    if row["failed_recently"]:
        recent = list(
            jobs.filter(failed_recently)
            .only("id", "kind", "status", "error", "created_at", "finished_at")
            .order_by(Coalesce("finished_at", "created_at").desc(), "-id")[:failures_listed]
        )
    return JobFigures(recent_failures=recent, **row)
