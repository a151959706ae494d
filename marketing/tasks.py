"""Copy studio tasks. Thin: they take ids, claim their job or row once, and call one function.

Generation runs on the `ml` queue and imports marketing.generation (which pulls in torch) only inside the
task; webhooks, scheduled publishing and copy rechecks run on `default`."""

from celery import shared_task

from ml.jobs import job_claim, job_log, stale_jobs
from ml.models import Job


@shared_task(name="marketing.tasks.generate_campaign_copy_task", acks_late=True)
def generate_campaign_copy_task(job_id: int) -> str:
    job = job_claim(job_id)
    if job is None:
        return "skipped: not claimable (already running, finished or cancelled)"
    from marketing.generation import campaign_copy_run

    return campaign_copy_run(job)


@shared_task(name="marketing.tasks.regenerate_content_task", acks_late=True)
def regenerate_content_task(job_id: int) -> str:
    job = job_claim(job_id)
    if job is None:
        return "skipped: not claimable (already running, finished or cancelled)"
    from marketing.generation import piece_regenerate_run

    return piece_regenerate_run(job)


@shared_task(name="marketing.tasks.requeue_stale_generation_jobs", acks_late=True)
def requeue_stale_generation_jobs() -> list[int]:
    """Celery beat, every minute: a generation job whose worker died is queued again; it skips the pieces
    already written and carries on."""
    requeued = []
    for job in stale_jobs(kind=Job.Kind.GENERATE):
        task = regenerate_content_task if "piece_id" in job.params else generate_campaign_copy_task
        job_log(
            job.pk, "Worker stopped responding; queued again to carry on from the pieces already written."
        )
        task.apply_async(args=[job.pk], queue="ml")
        requeued.append(job.pk)
    return requeued


@shared_task(
    name="marketing.tasks.deliver_webhook_task",
    bind=True,
    acks_late=True,
    max_retries=None,
    ignore_result=True,
)
def deliver_webhook_task(self, delivery_id: int) -> str:
    """One attempt per run; a failed attempt schedules the next with exponential backoff (the delivery row
    counts attempts and decides when to give up)."""
    from marketing.publishing.channels import webhook_attempt

    outcome = webhook_attempt(delivery_id=delivery_id)
    if outcome.retry:
        raise self.retry(countdown=outcome.countdown)
    return "delivered" if outcome.delivered else f"not delivered: {outcome.error or outcome.status_code}"


@shared_task(name="marketing.tasks.publish_scheduled_content_task", acks_late=True)
def publish_scheduled_content_task() -> int:
    """Celery beat, every minute: publish approved pieces of campaigns whose publish time has passed."""
    from marketing.publishing.services import content_publish_scheduled

    return len(content_publish_scheduled())


@shared_task(name="marketing.tasks.copy_learning_sweep_task", acks_late=True)
def copy_learning_sweep_task() -> list[int]:
    """Beat (daily by default): a copy fine-tune for each merchant with enough newly approved pieces."""
    from marketing.copy_training import copy_learning_sweep

    return copy_learning_sweep()


RECHECK_TASK_PIECES = 1000  # pieces one run rechecks before it queues the next run


@shared_task(name="marketing.tasks.recheck_copy_task", acks_late=True)
def recheck_copy_task(merchant_id: int | None = None, campaign_id: int | None = None) -> dict:
    """Recheck stored copy whose report an older checker wrote (marketing.review.recheck.content_recheck). Without a
    merchant it queues one run per merchant that has such pieces; a run does RECHECK_TASK_PIECES pieces, then
    queues the next. Idempotent: pieces already rechecked are not touched again."""
    from accounts.models import Merchant
    from accounts.services import Actor
    from marketing.models import Campaign
    from marketing.review.recheck import content_recheck, merchants_with_stale_copy

    if merchant_id is None:
        ids = merchants_with_stale_copy()
        for pk in ids:
            recheck_copy_task.apply_async(args=[pk], queue="default")
        return {"queued_merchants": len(ids)}
    merchant = Merchant.objects.filter(pk=merchant_id).first()
    if merchant is None:
        return {"skipped": "merchant not found"}
    campaign = None
    if campaign_id is not None:
        campaign = Campaign.objects.filter(pk=campaign_id, merchant=merchant).first()
        if campaign is None:
            return {"skipped": "campaign not found"}
    report = content_recheck(
        merchant=merchant, actor=Actor.system("recheck"), campaign=campaign, limit=RECHECK_TASK_PIECES
    )
    if report.checked >= RECHECK_TASK_PIECES and report.remaining:
        recheck_copy_task.apply_async(args=[merchant_id, campaign_id], queue="default")
    return report.as_dict()
