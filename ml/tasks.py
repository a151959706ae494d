"""ML queue tasks: thin, take ids, claim their job once, and call ml.training which drives ml/engine."""

from celery import shared_task
from django.utils.module_loading import import_string

from ml.jobs import job_claim, job_log, stale_jobs
from ml.models import Job


@shared_task(name="ml.tasks.finetune_task", acks_late=True)
def finetune_task(job_id: int) -> str:
    job = job_claim(job_id)
    if job is None:
        return "skipped: not claimable (already running, finished or cancelled)"
    if job.params.get("runner"):
        # An app with its own evaluation and promotion rules (chat) names its worker-side runner; the same
        # task, and so the stale-job sweeper below, serves it.
        return import_string(job.params["runner"])(job)
    from ml.training import finetune_run

    return finetune_run(job)


@shared_task(name="ml.tasks.requeue_stale_jobs", acks_late=True)
def requeue_stale_jobs() -> list[int]:
    """Celery beat, every minute: a job whose worker died is queued again and resumes from its last
    checkpoint (the broker alone would redeliver it only after its visibility timeout)."""
    requeued = []
    for job in stale_jobs(kind=Job.Kind.FINETUNE):
        job_log(job.pk, "Worker stopped responding; queued again to resume from the last checkpoint.")
        finetune_task.apply_async(args=[job.pk], queue="ml")
        requeued.append(job.pk)
    return requeued
