"""A merchant's day of work for the Overview tests (unit and browser): copy in every review state, chats of
today, this week and earlier, and jobs running, queued and failed, now and before the last seven days."""

from datetime import timedelta

from django.utils import timezone

from chat.models import Conversation
from marketing.models import Campaign, ContentPiece
from ml.models import Job
from tests.factories import ProductFactory

FAILED_JOB_ERROR = "Worker ran out of memory while loading the checkpoint"
OLD_FAILURE = "Failure from twelve days ago"
# What seed_daily_work makes count as.
EXPECTED = {
    "review": {"in_review": 3, "flagged": 1, "approved_unpublished": 2},
    "chat": {"today": 2, "last_7_days": 3, "handed_off": 2, "unassigned": 1},
    "jobs": {"running": 1, "queued": 1, "failed_recently": 1},
}


def _pieces(merchant):
    products = ProductFactory.create_batch(2, merchant=merchant)
    campaign = Campaign.objects.create(merchant=merchant, name="Daily copy", channel="product_description")
    statuses = [
        (ContentPiece.Status.IN_REVIEW, False),
        (ContentPiece.Status.IN_REVIEW, False),
        (ContentPiece.Status.IN_REVIEW, True),
        (ContentPiece.Status.APPROVED, False),
        (ContentPiece.Status.APPROVED, False),
        (ContentPiece.Status.PUBLISHED, False),
        (ContentPiece.Status.REJECTED, True),
        (ContentPiece.Status.DRAFT, True),
    ]
    for n, (status, flagged) in enumerate(statuses):
        ContentPiece.objects.create(
            merchant=merchant,
            campaign=campaign,
            product=products[n % 2],
            variant=n + 1,
            status=status,
            flagged=flagged,
            body="A stainless steel bottle.",
        )


def _conversation(merchant, *, age: timedelta, **fields):
    conversation = Conversation.objects.create(merchant=merchant, **fields)
    Conversation.objects.filter(pk=conversation.pk).update(created_at=timezone.now() - age)
    return conversation


def _job(merchant, status, *, age: timedelta = timedelta(0), **fields):
    job = Job.objects.create(merchant=merchant, kind=Job.Kind.GENERATE, status=status, **fields)
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - age)
    return job


def seed_daily_work(merchant, *, staff):
    """Returns the failed job that counts (failed two days ago)."""
    _pieces(merchant)
    handed_off = Conversation.Status.HANDED_OFF
    _conversation(merchant, age=timedelta(0), status=handed_off, handoff_reason="requested")
    _conversation(merchant, age=timedelta(0))
    _conversation(
        merchant, age=timedelta(days=3), status=handed_off, handoff_reason="staff", assigned_to=staff
    )
    _conversation(merchant, age=timedelta(days=10), status=Conversation.Status.RESOLVED)
    now = timezone.now()
    _job(merchant, Job.Status.RUNNING)
    _job(merchant, Job.Status.QUEUED)
    _job(merchant, Job.Status.SUCCEEDED, finished_at=now)
    recent_failure = _job(
        merchant,
        Job.Status.FAILED,
        age=timedelta(days=2),
        finished_at=now - timedelta(days=2),
        error=FAILED_JOB_ERROR,
    )
    _job(
        merchant,
        Job.Status.FAILED,
        age=timedelta(days=12),
        finished_at=now - timedelta(days=12),
        error=OLD_FAILURE,
    )
    return recent_failure
