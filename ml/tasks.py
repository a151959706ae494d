"""ML queue tasks: thin, take ids, claim their job once, and call ml.training which drives ml/engine."""

from celery import shared_task

from ml.jobs import job_claim


@shared_task(name="ml.tasks.finetune_task", acks_late=True)
def finetune_task(job_id: int) -> str:
    job = job_claim(job_id)
    if job is None:
        return "skipped: not claimable (already running, finished or cancelled)"
    from ml.training import finetune_run

    return finetune_run(job)
