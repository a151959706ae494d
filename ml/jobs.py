"""Job bookkeeping for workers: claim a job exactly once, report progress cheaply, honour cancellation.

A task claims its job with a guarded UPDATE (queued -> running), so a duplicate delivery finds nothing to do.
A redelivery after a worker died (acks_late + reject_on_worker_lost) finds the job still `running` with a
stale heartbeat and takes it over, resuming from the last checkpoint."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import timedelta

from django.db import connection
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from ml.models import Job

STALE_AFTER = timedelta(minutes=2)
REPORT_EVERY_SECONDS = 1.0


def job_claim(job_id: int) -> Job | None:
    now = timezone.now()
    claimable = Q(status=Job.Status.QUEUED) | Q(status=Job.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    claimed = Job.objects.filter(claimable, pk=job_id, cancel_requested=False).update(
        status=Job.Status.RUNNING, started_at=now, heartbeat_at=now, error=""
    )
    return Job.objects.get(pk=job_id) if claimed else None


def job_log(job_id: int, line: str) -> None:
    stamp = timezone.now().strftime("%H:%M:%S")
    Job.objects.filter(pk=job_id).update(logs=Concat(F("logs"), Value(f"[{stamp}] {line}\n")))


def job_finish(job_id: int, *, status: str, error: str = "", **fields) -> None:
    Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(
        status=status,
        error=error[:10_000],
        finished_at=timezone.now(),
        eta_seconds=0 if not error else None,
        **fields,
    )


class ProgressReporter:
    """Writes progress to the job row at most once a second (plus the final step, and any step a caller marks
    `force` because it already reports rarely) and answers whether the merchant asked to cancel."""

    def __init__(self, job_id: int, *, total: int = 0):
        self.job_id = job_id
        self.total = total
        self._last_write = 0.0
        self._cancel = False

    def __call__(
        self,
        *,
        current: int,
        total: int | None = None,
        eta_seconds: float | None = None,
        metrics: dict | None = None,
        force: bool = False,
    ) -> None:
        now = time.monotonic()
        total = total if total is not None else self.total
        if not force and now - self._last_write < REPORT_EVERY_SECONDS and current < total:
            return
        self._last_write = now
        fields = {
            "progress_current": current,
            "progress_total": total,
            "eta_seconds": eta_seconds,
            "heartbeat_at": timezone.now(),
        }
        if metrics is not None:
            fields["metrics"] = metrics
        Job.objects.filter(pk=self.job_id).update(**fields)
        self._cancel = Job.objects.filter(pk=self.job_id, cancel_requested=True).exists()

    def should_cancel(self) -> bool:
        return self._cancel


def stale_jobs(kind: str | None = None):
    """Running jobs whose worker stopped sending heartbeats (killed, OOM, machine lost)."""
    qs = Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=timezone.now() - STALE_AFTER)
    return qs.filter(kind=kind) if kind else qs


@contextmanager
def job_heartbeat(job_id: int, every_s: float = 30.0):
    """Keeps the job's heartbeat fresh from a side thread while the model works without reporting progress
    (one generation batch or one evaluation pass can take minutes on a CPU, longer than STALE_AFTER, and a stale
    heartbeat would let the sweeper hand the job to a second worker). A worker that dies stops beating, which
    is the point."""
    stop = threading.Event()

    def beat():
        try:
            while not stop.wait(every_s):
                Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
