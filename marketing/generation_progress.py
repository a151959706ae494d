"""Progress and counts of one campaign generation run (`marketing.generation.campaign_copy_run`): which
products are done as their drafts become final, the stored pieces and their outcomes, the ETA from the pace of
the products the model wrote, and the job metrics reported while the run goes and at its end. Writing the
copy stays in `marketing.generation` (`CopyWriter`), which this class drives batch by batch and whose
finished drafts it stores through `content_piece_record`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from catalog.models import Product
from marketing.campaigns.services import content_piece_record
from marketing.models import Campaign
from ml.jobs import ProgressReporter, job_log
from ml.models import Job

if TYPE_CHECKING:
    from marketing.generation import CopyWriter, Draft

COUNTS = (
    "pieces",
    "passed_first_try",
    "flagged",
    "approvable",
    "failed_products",
    "skipped_existing",
    "attempts",
)


class CampaignProgress:
    """One generation run's counts, and its progress as products finish. A product is done once the draft
    of each of its variants is final (stored, or given up on); the job row is then updated with the products
    done and an ETA from the pace of those the model wrote: at most one write per try of a batch (a batch's
    products finish together in one decode, those failing the check after their retries), never per token."""

    def __init__(self, job: Job, campaign: Campaign, writer: CopyWriter, *, total: int):
        self.job_id = job.pk
        self.campaign = campaign
        self.writer = writer
        self.total = total
        self.reporter = ProgressReporter(job.pk, total=total)
        metrics = job.metrics or {}
        self.counts = {key: int(metrics.get(key, 0)) for key in COUNTS}
        self.done = 0
        self.generated = 0  # products done that went through the model: their pace gives the ETA
        self.started = time.perf_counter()
        self._waiting: dict[int, int] = {}  # product id -> its drafts not final yet
        self._failed: set[int] = set()

    def write_batch(self, batch: list[Product], variants: range, existing: set) -> None:
        self._waiting, self._failed = {}, set()
        drafts = []
        for product in batch:
            for variant in variants:
                if (product.pk, variant) in existing:
                    self.counts["skipped_existing"] += 1
                    continue
                try:
                    drafts.append(self.writer.draft(product, variant))
                except Exception as exc:
                    self._failed.add(product.pk)
                    job_log(
                        self.job_id,
                        f"Product {product.sku}: could not build the prompt ({type(exc).__name__}: {exc}).",
                    )
                    continue
                self._waiting[product.pk] = self._waiting.get(product.pk, 0) + 1
        idle = [product.pk for product in batch if not self._waiting.get(product.pk)]
        for pk in idle:  # nothing to write: every piece exists, or no prompt could be built
            self._product_done(pk, generated=False)
        if idle:
            self.report()
        self.writer.write(drafts, on_done=self._store)

    def _store(self, drafts: list[Draft]) -> None:
        for draft in drafts:
            self._store_one(draft)
            pk = draft.product.pk
            self._waiting[pk] -= 1
            if not self._waiting[pk]:
                self._product_done(pk, generated=True)
        self.report()

    def _store_one(self, draft: Draft) -> None:
        if draft.outcome is None:
            if draft.product.pk not in self._failed:
                job_log(
                    self.job_id,
                    f"Product {draft.product.sku} v{draft.variant}: generation failed ({draft.error}).",
                )
            self._failed.add(draft.product.pk)
            return
        piece, created = content_piece_record(
            campaign=self.campaign,
            product=draft.product,
            variant=draft.variant,
            **self.writer.piece_values(draft),
        )
        if not created:
            self.counts["skipped_existing"] += 1
            return
        self.counts["pieces"] += 1
        self.counts["attempts"] += draft.attempts
        self.counts["passed_first_try"] += draft.first_try_passed
        self.counts["flagged"] += piece.flagged
        self.counts["approvable"] += piece.approvable

    def _product_done(self, pk: int, *, generated: bool) -> None:
        self.done += 1
        self.generated += generated
        self.counts["failed_products"] += pk in self._failed

    def eta_seconds(self) -> float | None:
        """None until the model has finished a product (the page then says it is estimating)."""
        if not self.generated:
            return None
        seconds_each = (time.perf_counter() - self.started) / self.generated
        return round(seconds_each * (self.total - self.done), 1)

    def metrics(self) -> dict:
        return _metrics(self.counts, self.done, self.started, self.writer)

    def report(self) -> None:
        # Forced: reports come once per try of a batch, and a skipped one would leave the page behind for a
        # whole decode.
        self.reporter(
            current=self.done,
            total=self.total,
            eta_seconds=self.eta_seconds(),
            metrics=self.metrics(),
            force=True,
        )


def _metrics(counts: dict, done: int, started: float, writer: CopyWriter) -> dict:
    seconds = time.perf_counter() - started
    pieces = counts["pieces"]
    return {
        **counts,
        "products_done": done,
        "seconds": round(seconds, 1),
        "products_per_minute": round(done / seconds * 60, 1) if seconds > 0 else None,
        "completion_tokens": writer.tokens,
        "passed_first_try_share": round(counts["passed_first_try"] / pieces, 3) if pieces else None,
        "flagged_share": round(counts["flagged"] / pieces, 3) if pieces else None,
    }
