"""ML queue tasks: thin, take ids, claim their job once, and call ml.training which drives ml/engine."""

from celery import shared_task

from ml.job_runners import UnknownRunner, runner_get
from ml.jobs import job_claim, job_finish, job_log, stale_jobs
from ml.models import Job


@shared_task(name="ml.tasks.finetune_task", acks_late=True)
def finetune_task(job_id: int) -> str:
    job = job_claim(job_id)
    if job is None:
        return "skipped: not claimable (already running, finished or cancelled)"
    if job.params.get("runner"):
        # An app with its own evaluation and promotion rules (chat, copy) names its registered runner
        # (ml.job_runners); the same task, and so the stale-job sweeper below, serves it.
        try:
            run = runner_get(job.params["runner"]).load()
        except UnknownRunner as exc:
            job_finish(job.pk, status=Job.Status.FAILED, error=str(exc))
            return f"failed: {exc}"
        return run(job)
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
